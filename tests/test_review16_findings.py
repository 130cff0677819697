"""Findings of the review of issue 16 (reports of rules, the team page, the mirror check, rules
in and out): each test states behaviour that should hold and failed when it was written."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta

import openpyxl
import pytest

from audit.core import clock
from audit.core.errors import Conflict, ValidationError
from audit.domain import organisation, rule_reports, rules
from tests.conftest import make_rule, make_team, make_user, post

SECRET = "test"  # the app fixture's SECRET_KEY
ANSWERS = {"problem": "Bewoners kregen taart", "perceived_origin": "unknown"}


def _require_proposals(db) -> None:
    settings = organisation.get_settings(db)
    organisation.update_settings(
        db,
        None,
        name=settings["name"],
        default_language=settings["default_language"],
        reference_share=settings["reference_share"],
        new_rules_proposed=True,
    )


@pytest.mark.parametrize("field", ["minutes", "shifts_per_week"])
@pytest.mark.parametrize("typed", ["²", "9" * 5000])
def test_odd_digits_in_the_report_form_get_a_message_not_a_500(db, login_as, field, typed):
    """A superscript two (str.isdigit() says yes, int() says no) or a pasted run of digits
    longer than Python converts must be refused with the field's message, nothing stored."""
    team = make_team(db, "Vlinder")
    member = login_as("member", teams=[team])
    data = {"title": "Elke dag wegen", "team_id": str(team["id"]), "period": "shift"}
    data.update({"minutes": "5", "shifts_per_week": "4"})
    data[field] = typed
    response = post(member, "/reports/new", data)
    assert response.status_code == 200
    assert db.execute("SELECT count(*) FROM rule_reports").fetchone()[0] == 0


def _waiting(html: str) -> str | None:
    found = re.search(r'id="fig-waiting">\s*<p class="figure-value">([^<]*)<', html)
    return found and found.group(1)


def test_a_colleague_watching_the_team_page_sees_no_counter_tick_with_an_anonymous_report(
    db, login_as
):
    """docs/security.md promises an anonymous reporter what an anonymous voter gets; members
    see no counter that ticks per vote, so neither may "reports waiting" tick on the team page
    the moment a colleague sends (or withdraws) an anonymous report: watched on the ward, the
    tick names who was just on their phone."""
    team = make_team(db, "Vlinder")
    bart = make_user(db, "bart", "member", teams=[team])
    watcher = login_as("member", teams=[team])
    before = watcher.get(f"/teams/{team['id']}").get_data(as_text=True)
    report = rule_reports.submit(db, SECRET, bart, title="Elke dag wegen", team_id=team["id"])
    after = watcher.get(f"/teams/{team['id']}").get_data(as_text=True)
    rule_reports.withdraw(db, SECRET, bart, report.id)
    withdrawn = watcher.get(f"/teams/{team['id']}").get_data(as_text=True)
    assert _waiting(before) == _waiting(after) == _waiting(withdrawn)


def test_a_bulk_change_cannot_set_a_review_date_past_the_horizon(db, login_as):
    """The horizon holds for a review date a person changes by hand (docs/design.md, "The
    mirror check"); the bulk form is a person changing dates by hand, for many rules at once,
    so it must not move every rule's review ten years out."""
    make_rule(db, title="Taart", review_due=clock.today() + timedelta(days=30))
    quality = login_as("quality")
    far = (clock.today() + timedelta(days=3650)).isoformat()
    page = quality.get("/rules/bulk").get_data(as_text=True)
    selection = re.search(r'name="selection" type="hidden" value="([^"]*)"', page).group(1)
    form = {"status": "", "category_id": "", "owner": "", "review_due": far}
    post(quality, "/rules/bulk", {**form, "selection": selection})
    assert rules.find_by_code(db, "R-0001").review_due <= organisation.horizon_date(db)


def test_a_proposed_rule_does_not_come_into_force_by_a_round_trip_through_the_import(
    db, imp, apply, tmp_path
):
    """While the organisation requires new rules to start as proposed, a proposal comes into
    force only when a team session keeps it. The import is exempt because it records rules that
    exist outside the app; a rule proposed *in the app* does not exist as active anywhere, and
    exporting the register, typing "active" in its status cell and importing it back must not
    put it in force without a session."""
    _require_proposals(db)
    rule = rules.create_rule(
        db,
        None,
        by_hand=True,
        title="Taart",
        review_due=clock.today() + timedelta(days=30),
        **ANSWERS,
    )
    assert rule.status == "proposed"
    path = tmp_path / "back.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Code", "Title", "Status"])
    book.active.append([rule.code, "Taart", "active"])
    book.save(path)
    # Refusing the row is as good as keeping the status: either way the rule stays proposed.
    with contextlib.suppress(ValidationError, Conflict):
        apply(imp(path))
    assert rules.get_rule(db, rule.id).status == "proposed"


def test_a_decline_reason_that_starts_with_nul_is_refused_with_a_message(db, login_as):
    """SQLite's length() stops at a NUL, so the schema's CHECK on a declined report's answer
    saw "\\x00 too busy" as empty and the quality manager got the 503 database page, the reason
    lost. It must be refused as an empty reason is, at the field, the report still waiting."""
    team = make_team(db, "Vlinder")
    bart = make_user(db, "bart", "member", teams=[team])
    report = rule_reports.submit(db, SECRET, bart, title="Elke dag wegen", team_id=team["id"])
    quality = login_as("quality")
    page = f"/reports/inbox/{report.id}"
    response = post(quality, f"{page}/decline", {"reason": "\x00 te druk"}, token_from=page)
    assert response.status_code == 200
    assert "Geef de melder een reden" in response.get_data(as_text=True)  # Dutch by default
    assert rule_reports.get_report(db, report.id).state == "untriaged"


def test_a_second_tap_on_withdraw_does_not_say_the_report_was_triaged(db):
    """A double tap on Withdraw (a phone, a slow network) reaches a report the reporter has
    just withdrawn themselves; telling them the quality manager has triaged it is false."""
    team = make_team(db, "Vlinder")
    bart = make_user(db, "bart", "member", teams=[team])
    report = rule_reports.submit(db, SECRET, bart, title="Elke dag wegen", team_id=team["id"])
    rule_reports.withdraw(db, SECRET, bart, report.id)
    with pytest.raises(Conflict) as second:
        rule_reports.withdraw(db, SECRET, bart, report.id)
    assert "triaged" not in str(second.value)


def test_a_double_tap_on_send_stores_the_report_once(db, login_as):
    """On a phone a slow send is tapped twice. Two identical anonymous reports cannot be told
    apart by the quality manager (that is the promise), so once both are attached the rule says
    "reported by 2 colleagues" for one person. The reporter's own waiting reports are known to
    the server (their owner keys): the same report again is refused, or stored once."""
    team = make_team(db, "Vlinder")
    member = login_as("member", teams=[team])
    data = {"title": "Elke dag wegen", "team_id": str(team["id"]), "period": "week"}
    data["minutes"] = "30"
    token_page = "/reports/new"
    post(member, "/reports/new", data, token_from=token_page)
    post(member, "/reports/new", data, token_from=token_page)
    assert db.execute("SELECT count(*) FROM rule_reports").fetchone()[0] == 1


def test_a_member_does_not_read_one_anonymous_reporters_minutes_as_a_sum(db, login_as):
    """What a reporter wrote (why, minutes, effect) is for those who triage (docs/design.md,
    "Reports of rules"); every reader sees the count and the sum of the minutes. With a single
    report behind a rule that sum *is* what the one reporter wrote: the colleague who suspects
    who it was reads their exact minutes on the rule page and the team page. As with anonymous
    ballots, a figure of fewer reports than the minimum must not be shown to them."""
    team = make_team(db, "Vlinder")
    bart = make_user(db, "bart", "member", teams=[team])
    quality = make_user(db, "ilse", "quality")
    rule = make_rule(db, title="Wegen", team_ids=[team["id"]])
    report = rule_reports.submit(
        db, SECRET, bart, title="Wegen", team_id=team["id"], minutes="437", period="week"
    )
    rule_reports.attach(db, quality, report.id, rule.id)
    member = login_as("member", teams=[team])
    for url in (f"/rules/{rule.id}", f"/teams/{team['id']}"):
        text = re.sub(r"<[^>]+>", " ", member.get(url).get_data(as_text=True))  # no tokens
        assert not re.search(r"\b437\b|\b7[,.]3\b", text), url
