"""Defects found in an adversarial review of the anonymous sessions, the ballot form, the
session builder and the rule pages, each pinned by the test that failed before its fix."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from audit.core import clock
from audit.core.errors import Conflict
from audit.domain import ballots, rules, sessions
from tests.conftest import make_rule, make_user, post
from tests.test_sessions_ui import _mine, _session
from tests.test_sessions_ui import world as _world

world = _world  # the review-session fixture of test_sessions_ui, used here too


def days(n: int) -> str:
    return (clock.today() + timedelta(days=n)).isoformat()


# --- the ballot form ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["choice-²", "choice-①"])
def test_a_ballot_field_named_with_a_digit_like_character_is_refused_not_a_500(db, world, name):
    """``str.isdigit`` is true for "²" and "①", which ``int`` cannot read: a forged field name
    broke the whole ballot with a 500 instead of a message, and lost what was typed."""
    w = world
    session = _session(db, w)
    anna = w["client"]("anna")
    url = f"/sessions/{session.id}/vote"
    response = post(
        anna,
        url,
        {name: "keep", f"choice-{w['a'].id}": "drop", f"reason-{w['a'].id}": "Te streng"},
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Deze regel hoort niet bij deze sessie." in text
    assert "Te streng" in text  # what was typed is still there
    assert _mine(db, session, w["anna"]) == {}  # and nothing was saved


def test_a_reason_field_named_with_a_digit_like_character_does_not_break_the_ballot(db, world):
    w = world
    session = _session(db, w)
    anna = w["client"]("anna")
    response = post(
        anna, f"/sessions/{session.id}/vote", {"reason-¹": "x", f"choice-{w['a'].id}": "keep"}
    )
    # A reason without a choice for no rule of the session is ignored, as for any other id.
    assert response.status_code == 302
    assert _mine(db, session, w["anna"]) == {w["a"].id: ("keep", "")}


# --- the tracing work-list ------------------------------------------------------------------


@pytest.fixture
def quality(login_as):
    return login_as("quality", "ilse")


def test_a_rule_on_both_work_lists_has_unique_field_ids(quality, db):
    """A rule not yet traced and past its review date is on both lists. Its two quick forms
    carried the same element ids, so the second form's labels (and error links) pointed at the
    first form's fields: a click on "Verified origin" in the overdue list jumped to the other."""
    rule = make_rule(db, code="BOTH", title="Nog niet nagegaan en verlopen", review_due=days(-5))
    text = quality.get("/tracing").get_data(as_text=True)
    assert text.count(f'action="/rules/{rule.id}/trace"') == 2
    ids = Counter(re.findall(r'\bid="([^"]+)"', text))
    assert [i for i, n in ids.items() if n > 1] == []
    # Every label points at a field that exists, inside the label's own form.
    for form in re.findall(r"<form[^>]*trace-form.*?</form>", text, re.S):
        targets = re.findall(r'<label for="([^"]+)"', form)
        assert targets
        for target in targets:
            assert f'id="{target}"' in form


# --- anonymity: posing as a member after the session ----------------------------------------


def test_posing_as_a_member_after_the_close_does_not_tell_on_which_rules_they_voted(app, db):
    """An admin can set a member's password and log in as them. Once the session has closed,
    the ballot page still said on which rules the member had voted ("You have voted on 1 of 2
    rules", a "Saved" line at that rule). Three of five members all voting keep on the first
    rule: the results show "keep 3", and knowing that Lid 0 voted on it names her vote."""
    from tests.test_anonymity import _client, _open, _vote, _world

    w = _world(db)
    session = _open(db, w)
    first, second = session.rule_ids
    anna = w["members"][0]
    for member in w["members"][:3]:
        _vote(app, db, session, member, first, "keep")
    for member in w["members"][1:3]:
        _vote(app, db, session, member, second, "drop")
    session = sessions.close_session(db, w["fac"], session.id)
    assert sessions.results_final(db, session)
    shown = {r["rule"].id: r for r in ballots.results(db, session)}
    assert shown[first]["counts"]["keep"] == 3  # unanimous: whoever voted on it voted keep
    posing = _client(app, anna.username)  # as the admin would, after setting her password
    for path in (f"/sessions/{session.id}/vote", "/"):
        page = posing.get(path).get_data(as_text=True)
        assert "U hebt op 1 van de 2 regels gestemd" not in page, path
        assert 'class="saved"' not in page, path
    assert ballots.my_ballots(db, app.config["SECRET_KEY"], session, anna.id) == {}


def test_a_refused_trace_of_a_rule_no_longer_on_the_lists_still_shows_what_was_typed(quality, db):
    """The quick form re-renders the work-lists with the failed row's input and errors, but only
    a row still on the lists shows them. A colleague traced the rule meanwhile (it left the
    untraced list, and is not overdue): the refused input, and the reason, vanished without a
    word from a page that answered 200."""
    rule = make_rule(db, code="GONE", title="Al nagegaan")
    page = quality.get("/tracing").get_data(as_text=True)
    assert f'action="/rules/{rule.id}/trace"' in page
    rules.trace(db, None, rule.id, verified_origin="team")  # the colleague
    typed = "https://example.org/" + "s" * 600  # longer than a source reference may be
    response = post(
        quality,
        f"/rules/{rule.id}/trace",
        {
            f"r{rule.id}-verified_origin": "law",
            f"r{rule.id}-source_reference": typed,
            f"r{rule.id}-version": "1",
        },
        token_from="/tracing",
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert typed in text
    assert "Er is niets afgeknipt" in text or "er is niets afgeknipt" in text
    assert rules.get_rule(db, rule.id).verified_origin == "team"


# --- importing the same inventory twice at once ---------------------------------------------


def test_the_same_inventory_confirmed_twice_at_once_is_created_once(app, db, tmp_path):
    """The duplicate check ran when the plan was read, outside the write transaction: two
    confirms of the same upload (a double click on Import, or two colleagues) each planned
    "create" before either wrote, and the register got every uncoded rule twice."""
    from audit.xlsx import importer as xlsx_import
    from tests.test_import_duplicates import workbook

    path = workbook(tmp_path / "inventaris.xlsx", [["Geen taart van familie", "", 10]])
    with app.app_context():
        first = xlsx_import.read_plan(db, path, filename=path.name)
        second = xlsx_import.read_plan(db, path, filename=path.name)
        assert xlsx_import.apply_plan(db, None, first)["create"] == 1
        counts = xlsx_import.apply_plan(db, None, second)
    assert counts["create"] == 0 and counts["duplicate"] == 1
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 1


# --- the bulk form after a typing error -----------------------------------------------------


def test_a_bulk_form_sent_back_for_a_typing_error_says_when_its_rules_changed(quality, db):
    """The bulk form, sent back for a bad date, quietly took the fingerprint of the rules
    matching by then: a rule added meanwhile joined the selection without a word, and the
    corrected form changed it. The page must say that the rules changed."""
    from tests.test_rules_ui import hidden_fields

    make_rule(db, code="H1", title="Hygiëne handen")
    page = quality.get("/rules/bulk?q=hygiene").get_data(as_text=True)
    make_rule(db, code="H2", title="Hygiëne keuken")  # added meanwhile
    response = post(
        quality,
        "/rules/bulk?q=hygiene",
        {**hidden_fields(page), "status": "", "category_id": "", "review_due": "2026-13-45"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ongeldige datum" in text
    assert "De regels die bij dit filter horen zijn veranderd" in text


def test_the_quick_trace_form_does_not_change_an_archived_rule(quality, db):
    """The rule form refuses an archived rule ("restore it before changing it"); the tracing
    quick form, posted for one (an old page, a forged id), changed it anyway."""
    rule = make_rule(db, code="OLD", title="Gearchiveerd", review_due=days(-5))
    page = quality.get("/tracing").get_data(as_text=True)
    assert f'action="/rules/{rule.id}/trace"' in page
    rules.archive_rule(db, None, rule.id)
    response = post(
        quality,
        f"/rules/{rule.id}/trace",
        {
            f"r{rule.id}-verified_origin": "law",
            f"r{rule.id}-review_due": days(100),
            f"r{rule.id}-version": str(rules.get_rule(db, rule.id).version),
        },
        token_from="/tracing",
        follow_redirects=True,
    )
    after = rules.get_rule(db, rule.id)
    assert after.verified_origin is None and after.review_due.isoformat() == days(-5)
    assert "Deze regel is gearchiveerd" in response.get_data(as_text=True)


# --- anonymity: a raised minimum does not undo a close for good -----------------------------


def test_raising_the_minimum_afterwards_does_not_allow_a_reopen(app, db):
    """Whether an anonymous session was closed for good was worked out anew from the current
    minimum. Results out with 4 voters at the minimum of 3; the server's minimum is raised to 5
    (to protect more, say): the session counted as below the minimum again, so it could be
    reopened, one more member vote, and closed again at 5: the difference is that vote."""
    from tests import anonymity_attacks as attack
    from tests.test_anonymity import _choose, _open, _vote, _world

    w = _world(db)
    session = _open(db, w)
    for index, member in enumerate(w["members"][:4]):
        for rule_id in session.rule_ids:
            _vote(app, db, session, member, rule_id, _choose(index, rule_id))
    session = sessions.close_session(db, w["fac"], session.id)
    before = attack.tallies(ballots.results(db, session))
    assert before is not None  # four voted: the results are out
    app.config["ANONYMOUS_MIN_VOTERS"] = 5
    with app.app_context(), pytest.raises(Conflict, match="stays closed"):
        sessions.reopen_session(db, w["fac"], session.id)
    page = w_client(app, "fac").get(f"/sessions/{session.id}").get_data(as_text=True)
    assert f"/sessions/{session.id}/reopen" not in page


def w_client(app, username):
    from tests.test_anonymity import _client

    return _client(app, username)


def test_the_history_writes_yes_and_no_in_the_reports_language(app, db):
    """Flags in the log (a session's anonymous ballots, the close for good) came out as
    "True" in the Dutch report's History sheet."""
    from audit.domain.history import HistoryLookup

    with app.test_request_context("/"):
        text = HistoryLookup(db).describe(
            {"anonymous": [False, True], "results_shown": [None, True]}
        )
    assert "True" not in text and "False" not in text
    assert text == "Anoniem stemmen: nee → ja; Anonieme uitslag bekend, definitief gesloten: – → ja"


def test_a_ballot_not_open_yet_does_not_speak_of_a_close(app, db):
    from datetime import UTC, datetime

    from tests.test_anonymity import _client, _open, _world

    w = _world(db)
    later = datetime.now(UTC) + timedelta(days=2)
    session = _open(db, w, opens_at=later)
    page = _client(app, w["members"][0].username).get(f"/sessions/{session.id}/vote")
    text = page.get_data(as_text=True)
    assert "U hebt op 0 van de 2 regels gestemd." in text
    assert "na het sluiten van de sessie" not in text


# --- opening a session whose results could never be shown -----------------------------------


def test_the_confirm_page_warns_when_too_few_members_can_vote_anonymously(db, world):
    """The detail page says it only once the session is open; the page that asks to confirm
    the opening, where it can still be changed, said nothing."""
    w = world  # Vlinder has two members: fewer than the three anonymous results need
    draft = _session(db, w, open_=False)
    page = w["client"]("fac").get(f"/sessions/{draft.id}/open").get_data(as_text=True)
    assert "kunnen stemmen: de uitslag kan nooit getoond worden" in page
    named = _session(db, w, open_=False, anonymous=False, title="Op naam")
    page = w["client"]("fac").get(f"/sessions/{named.id}/open").get_data(as_text=True)
    assert "de uitslag kan nooit getoond worden" not in page


# --- anonymity: the participation band cannot be tuned -------------------------------------


def test_changing_the_team_does_not_tune_the_band_into_an_exact_count(app, db):
    """The band's step grew with the number of members who can vote, counted anew on every
    page. An admin adding (or deactivating) members could move the step (20 members: 5, 28: 7)
    and read the band at each: "at least 5", then "at least 7" of 28, is exactly 7, and every
    next vote is seen as it comes in. The step is now fixed when the session opens."""
    from tests.test_anonymity import _open, _vote, _world

    w = _world(db, 20)
    session = _open(db, w)
    for member in w["members"][:7]:
        _vote(app, db, session, member, session.rule_ids[0], "keep")
    band = sessions.participation(db, session, w["fac"])
    assert (band["kind"], band["n"]) == ("at_least", 5)
    for i in range(8):  # the admin tops the team up to 28
        make_user(db, f"extra{i}", "member", teams=[w["team"]])
    band = sessions.participation(db, session, w["fac"])
    assert (band["kind"], band["n"]) == ("at_least", 5)
    assert band["m"] == 28  # how many can vote is no secret; only the step stays
