"""Reporting a rule, my reports, and the quality manager's triage (audit/domain/rule_reports.py
and its views)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import openpyxl
import pytest

from audit import demo
from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError
from audit.domain import events, figures, register, rule_reports, rules, users
from audit.xlsx import export as xlsx_export
from tests.conftest import Auth, make_rule, make_team, make_user, mirror_answers, post

SECRET = "test"  # the app fixture's SECRET_KEY


@pytest.fixture
def people(db):
    vlinder = make_team(db, "Vlinder", location="Noord")
    eiken = make_team(db, "Eikenhout", location="Zuid")
    return {
        "vlinder": vlinder,
        "eiken": eiken,
        "anna": make_user(db, "anna", "member", teams=[vlinder], display_name="Anna Bos"),
        "bart": make_user(db, "bart", "member", teams=[vlinder], display_name="Bart Kok"),
        "quality": make_user(db, "ilse", "quality", display_name="Ilse de Vries"),
        "viewer": make_user(db, "henk", "viewer", teams=[eiken]),
    }


def _report(db, user, team, **values):
    values.setdefault("title", "Elke dag wegen")
    return rule_reports.submit(db, SECRET, user, team_id=team["id"], **values)


def _count(db) -> int:
    return db.execute("SELECT count(*) FROM rule_reports").fetchone()[0]


# --- reporting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "period", "shifts", "stored"),
    [
        ("30", "week", None, 30),
        ("30", "shift", None, 120),  # four shifts a week unless told otherwise
        ("30", "shift", "5", 150),
        ("10080", "week", None, 10080),
        ("480", "shift", "21", 10080),
        ("", "shift", "5", None),
    ],
)
def test_minutes_are_stored_per_week(db, people, minutes, period, shifts, stored):
    report = _report(
        db,
        people["anna"],
        people["vlinder"],
        minutes=minutes,
        period=period,
        shifts_per_week=shifts,
    )
    assert report.minutes_per_week == stored


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"title": "  "}, "title", "few words"),
        ({"minutes": "10081"}, "minutes", "10080"),
        ({"minutes": "3000", "period": "shift"}, "minutes", "12000 minutes a week"),
        ({"minutes": "-5"}, "minutes", "whole number"),
        ({"minutes": "abc"}, "minutes", "whole number"),
        ({"minutes": "10", "period": "shift", "shifts_per_week": "22"}, "shifts_per_week", "21"),
        ({"minutes": "10", "period": "shift", "shifts_per_week": "0"}, "shifts_per_week", "1 to"),
        ({"period": "month"}, "period", "per shift or per week"),
        ({"perceived_origin": "hearsay"}, "perceived_origin", "don't know"),
        ({"relation_impact": "awful"}, "relation_impact", "hinders"),
        ({"title": "x" * 201}, "title", "201"),
        ({"why": "x" * 1001}, "why", "1001"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(app, db, people, values, field, words):
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        _report(db, people["anna"], people["vlinder"], **values)
    assert field in refused.value.errors
    assert words in str(refused.value.errors[field][0])
    assert _count(db) == 0


def test_a_team_must_exist_and_be_the_reporters_own(db, people):
    with pytest.raises(ValidationError) as unknown:
        rule_reports.submit(db, SECRET, people["anna"], title="x", team_id=999)
    assert str(unknown.value.errors["team_id"][0]) == "No such team."
    with pytest.raises(ValidationError) as other:
        _report(db, people["anna"], people["eiken"])
    assert "a team you are in" in str(other.value.errors["team_id"][0])
    with pytest.raises(ValidationError) as none:
        rule_reports.submit(db, SECRET, people["anna"], title="x")
    assert "team_id" in none.value.errors
    assert _count(db) == 0
    # A quality manager (in no team) may report for any team.
    assert _report(db, people["quality"], people["eiken"]).team_name == "Eikenhout"


def test_every_field_is_kept(db, people):
    report = _report(
        db,
        people["anna"],
        people["vlinder"],
        title="Elke dag wegen",
        description="Alle bewoners, elke ochtend",
        perceived_origin="inspectorate",
        minutes="20",
        period="shift",
        shifts_per_week="5",
        relation_impact="hinders",
        why="Het kost de tijd van het ontbijt",
        named=True,
    )
    assert (report.title, report.description, report.team_name) == (
        "Elke dag wegen",
        "Alle bewoners, elke ochtend",
        "Vlinder",
    )
    assert (report.perceived_origin, report.minutes_per_week, report.relation_impact) == (
        "inspectorate",
        100,
        "hinders",
    )
    assert report.why == "Het kost de tijd van het ontbijt"
    assert report.reporter_name == "Anna Bos" and report.state == "untriaged"
    # "don't know" is no origin at all
    assert _report(db, people["anna"], people["vlinder"]).perceived_origin is None


# --- my reports and withdrawing -------------------------------------------------------------


def test_my_reports_are_mine_named_or_not(db, people):
    mine = [
        _report(db, people["anna"], people["vlinder"], title="Anoniem"),
        _report(db, people["anna"], people["vlinder"], title="Met naam", named=True),
    ]
    _report(db, people["bart"], people["vlinder"], title="Van Bart")
    found = rule_reports.my_reports(db, SECRET, people["anna"])
    assert sorted(r.id for r in found) == sorted(r.id for r in mine)
    assert [r.title for r in rule_reports.my_reports(db, SECRET, people["bart"])] == ["Van Bart"]
    # Without the app's secret nobody finds them: not even the owner.
    assert rule_reports.my_reports(db, "another secret", people["anna"]) == []


def test_withdraw_only_ones_own_untriaged_report(app, db, people):
    report = _report(db, people["anna"], people["vlinder"])
    with app.test_request_context():
        with pytest.raises(NotFound):  # someone else's report is "no such report"
            rule_reports.withdraw(db, SECRET, people["bart"], report.id)
        with pytest.raises(NotFound):
            rule_reports.withdraw(db, SECRET, people["quality"], report.id)
        assert rule_reports.withdraw(db, SECRET, people["anna"], report.id).state == "withdrawn"
        declined = _report(db, people["anna"], people["vlinder"])
        rule_reports.decline(db, people["quality"], declined.id, "Bestaat al")
        with pytest.raises(Conflict):
            rule_reports.withdraw(db, SECRET, people["anna"], declined.id)
    assert rule_reports.get_report(db, declined.id).state == "declined"


def test_my_reports_stay_fast_with_thousands(db, people):
    """One HMAC per report: 5,000 reports of others cost milliseconds to look through."""
    anna, bart = people["anna"], people["bart"]
    for i in range(5000):
        db.execute(
            "INSERT INTO rule_reports (id, nonce, owner_key, title, team_id, reported_on)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                i + 1,
                f"n{i}",
                rule_reports.owner_key(SECRET, f"n{i}", bart.id),
                f"R{i}",
                people["vlinder"]["id"],
                "2026-01-01",
            ],
        )
    _report(db, anna, people["vlinder"])
    started = time.perf_counter()
    found = rule_reports.my_reports(db, SECRET, anna)
    took = time.perf_counter() - started
    assert len(found) == 1
    assert took < 0.25, f"my reports took {took * 1000:.0f} ms over 5,001 reports"


# --- triage ---------------------------------------------------------------------------------


def test_decline_needs_a_reason_and_is_an_event(app, db, people):
    report = _report(db, people["anna"], people["vlinder"])
    with app.test_request_context():
        with pytest.raises(ValidationError) as refused:
            rule_reports.decline(db, people["quality"], report.id, "  ")
        assert "answer" in refused.value.errors
        rule_reports.decline(db, people["quality"], report.id, "Staat al in het register")
    done = rule_reports.get_report(db, report.id)
    assert (done.state, done.answer) == ("declined", "Staat al in het register")
    [event] = events.history(db, "rule_report", report.id)
    assert event["action"] == "declined" and event["actor_name"] == "ilse"
    assert event["changes"]["state"] == ["untriaged", "declined"]


def test_a_member_cannot_triage(app, db, people):
    report = _report(db, people["bart"], people["vlinder"])
    rule = make_rule(db, title="Wegen")
    with app.test_request_context():
        for act in (
            lambda: rule_reports.decline(db, people["anna"], report.id, "nee"),
            lambda: rule_reports.attach(db, people["anna"], report.id, rule.id),
            lambda: rule_reports.accept_as_new_rule(db, people["anna"], report.id, title="x"),
        ):
            with pytest.raises(Conflict):
                act()
    assert rule_reports.get_report(db, report.id).state == "untriaged"
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 1


def test_attach_counts_on_the_rule(app, db, people):
    rule = make_rule(db, title="Wegen op maandag")
    other = make_rule(db, title="Iets anders")
    first = _report(db, people["anna"], people["vlinder"], minutes="20", why="Onzin")
    second = _report(db, people["bart"], people["vlinder"], minutes="30", named=True)
    third = _report(db, people["bart"], people["vlinder"], minutes="40")
    with app.test_request_context():
        rule_reports.attach(db, people["quality"], first.id, rule.id)
        rule_reports.attach(db, people["quality"], second.id, rule.id, "Dank je")
        rule_reports.decline(db, people["quality"], third.id, "Nee")
        with pytest.raises(Conflict):  # triaged once
            rule_reports.attach(db, people["quality"], third.id, rule.id)
        with pytest.raises(ValidationError):
            rule_reports.attach(
                db, people["quality"], _report(db, people["anna"], people["vlinder"]).id, 999
            )
    assert rule_reports.reported(db, rule.id) == rule_reports.Reported(2, 50)
    assert rule_reports.reported(db, other.id) == rule_reports.Reported(0, 0)
    whys = {r.why for r in rule_reports.reports_of_rule(db, rule.id)}
    assert whys == {"Onzin", ""}
    # the register's filter, in words too
    assert register.count(db, register.RuleFilter(reported=1)) == 1
    assert register.count(db, register.RuleFilter(reported=2)) == 1
    assert register.count(db, register.RuleFilter(reported=3)) == 0
    with app.test_request_context():
        words = register.filter_in_words(db, register.RuleFilter(reported=2))
    assert words == "gemeld door collega's: minstens 2"


def test_accept_makes_the_rule_and_accepts_the_report_together(app, db, people):
    report = _report(
        db,
        people["anna"],
        people["vlinder"],
        title="Elke dag wegen",
        perceived_origin="law",
        minutes="60",
        relation_impact="hinders",
    )
    values = rule_reports.rule_prefill(report)
    assert values["team_ids"] == [people["vlinder"]["id"]] and values["perceived_origin"] == "law"
    with app.test_request_context():
        rule = rule_reports.accept_as_new_rule(db, people["quality"], report.id, **values)
    assert (rule.title, rule.team_ids, rule.minutes_per_week) == (
        "Elke dag wegen",
        [people["vlinder"]["id"]],
        60,
    )
    done = rule_reports.get_report(db, report.id)
    assert (done.state, done.rule_id) == ("accepted", rule.id)
    assert rule_reports.reported(db, rule.id).count == 1
    created = rules.history(db, rule.id)[0]
    assert (created["ref_entity"], created["ref_id"]) == ("rule_report", report.id)


def test_accepting_a_withdrawn_report_makes_no_rule(app, db, people):
    report = _report(db, people["anna"], people["vlinder"])
    rule_reports.withdraw(db, SECRET, people["anna"], report.id)
    with app.test_request_context(), pytest.raises(Conflict) as refused:
        rule_reports.accept_as_new_rule(db, people["quality"], report.id, title="Wegen")
    assert "withdrawn" in str(refused.value)
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0


def test_a_refused_rule_leaves_the_report_waiting(app, db, people):
    report = _report(db, people["anna"], people["vlinder"])
    with app.test_request_context(), pytest.raises(ValidationError):
        rule_reports.accept_as_new_rule(
            db, people["quality"], report.id, title="Wegen", minutes_per_week=-1
        )
    assert rule_reports.get_report(db, report.id).state == "untriaged"
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0


def test_the_inbox_lists_waiting_reports_first_and_pages(db, people):
    with clock.set(datetime(2026, 3, 1, 10, tzinfo=UTC)):
        old = _report(db, people["anna"], people["vlinder"], title="Oud")
    for i in range(30):
        _report(db, people["quality"], people["eiken"], title=f"Nieuw {i:02}")
    rule_reports.decline(
        db, people["quality"], _report(db, people["anna"], people["vlinder"]).id, "x"
    )
    first = rule_reports.inbox(db, per_page=25)
    assert first.total == 32 and first.pages == 2 and len(first.rows) == 25
    assert all(r.untriaged for r in first.rows)
    last = rule_reports.inbox(db, page=2, per_page=25)
    assert [r.title for r in last.rows][-2:] == ["Oud", "Elke dag wegen"]
    assert last.rows[-1].state == "declined" and last.rows[-2].id == old.id
    assert rule_reports.inbox(db, state="declined").total == 1
    assert rule_reports.inbox(db, team=people["vlinder"]["id"]).total == 2


# --- figures --------------------------------------------------------------------------------


def test_figures_count_reports_and_candidates_weigh_them(app, db, people):
    hours = make_rule(
        db,
        code="A",
        title="Veel uren",
        verified_origin="team",
        relation_impact="hinders",
        minutes_per_week=600,
    )
    reported = make_rule(
        db,
        code="B",
        title="Gemeld",
        verified_origin="team",
        relation_impact="hinders",
        minutes_per_week=60,
        team_ids=[people["vlinder"]["id"]],
    )
    assert [r["code"] for r in figures.top_candidates(db)] == ["A", "B"]
    with app.test_request_context():
        for user in (people["anna"], people["bart"]):
            report = _report(db, user, people["vlinder"])
            rule_reports.attach(db, people["quality"], report.id, reported.id)
        _report(db, people["anna"], people["vlinder"])
        _report(db, people["quality"], people["eiken"])
    candidates = figures.top_candidates(db)
    assert [(r["code"], r["reported"]) for r in candidates] == [("B", 2), ("A", 0)]
    assert figures.reports(db) == {"waiting": 2, "rules_reported": 1, "reports_counted": 2}
    vlinder = figures.Scope(team=people["vlinder"]["id"])
    assert figures.reports(db, vlinder) == {"waiting": 1, "rules_reported": 1, "reports_counted": 2}
    eiken = figures.Scope(team=people["eiken"]["id"])
    assert figures.reports(db, eiken) == {"waiting": 1, "rules_reported": 0, "reports_counted": 0}
    assert hours.id  # the other candidate is still there, after the reported one


# --- the pages --------------------------------------------------------------------------------


def _form(client, url, data):
    return post(client, url, data)


def _rule_form(**values):
    """The rule form as a browser sends it: every field, most of them left empty."""
    data = {
        "code": "",
        "title": "",
        "description": "",
        "category_id": "",
        "protocol_id": "",
        "owner": "",
        "minutes_per_week": "",
        "relation_impact": "",
        "status": "active",
        "introduced_on": "",
        "review_due": "",
        "perceived_origin": "",
        "verified_origin": "",
        "source_reference": "",
        "evidence_note": "",
    }
    return {**data, **values}


def test_a_member_reports_on_the_form_and_sees_it_in_my_reports(login_as, db, people):
    client = login_as("member", "anna2", teams=[people["vlinder"]])
    page = client.get("/reports/new").get_data(as_text=True)
    assert 'name="named"' in page and "checked" not in page.split('name="named"')[1][:80]
    response = _form(
        client,
        "/reports/new",
        {
            "title": "Elke dag wegen",
            "team_id": people["vlinder"]["id"],
            "minutes": "15",
            "period": "shift",
            "shifts_per_week": "4",
            "relation_impact": "hinders",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/reports/mine")
    mine = client.get("/reports/mine").get_data(as_text=True)
    assert "Elke dag wegen" in mine and "Wacht op de kwaliteitsmedewerker" in mine
    [row] = db.query("SELECT reporter_id, minutes_per_week FROM rule_reports")
    assert row == {"reporter_id": None, "minutes_per_week": 60}


def test_the_form_says_what_is_wrong_and_keeps_what_was_typed(login_as, db, people):
    client = login_as("member", "anna2", teams=[people["vlinder"]])
    response = _form(
        client,
        "/reports/new",
        {
            "title": "Elke dag wegen",
            "team_id": people["eiken"]["id"],
            "minutes": "20000",
            "period": "week",
            "why": "Omdat het moet",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200  # the form again, with its messages
    assert "een team waar u in zit" in html and "10080" in html
    assert 'value="Elke dag wegen"' in html and "Omdat het moet" in html
    assert _count(db) == 0


def test_a_member_gets_no_inbox_and_no_triage(login_as, db, people):
    report = _report(db, people["bart"], people["vlinder"])
    client = login_as("member", "anna2", teams=[people["vlinder"]])
    assert client.get("/reports/inbox").status_code == 403
    assert client.get(f"/reports/inbox/{report.id}").status_code == 403
    token_page = "/reports/new"
    response = post(
        client, f"/reports/inbox/{report.id}/decline", {"reason": "nee"}, token_from=token_page
    )
    assert response.status_code == 403
    assert client.get(f"/rules/new?report={report.id}").status_code == 403
    # Nor does "my reports" show Bart's report.
    assert "Elke dag wegen" not in client.get("/reports/mine").get_data(as_text=True)


def test_withdrawing_someone_elses_report_by_a_forged_id(login_as, db, people):
    report = _report(db, people["bart"], people["vlinder"])
    client = login_as("member", "anna2", teams=[people["vlinder"]])
    response = post(
        client, f"/reports/{report.id}/withdraw", {"confirm": "1"}, token_from="/reports/mine"
    )
    assert response.status_code == 302
    assert "Deze melding bestaat niet" in client.get("/reports/mine").get_data(as_text=True)
    assert rule_reports.get_report(db, report.id).state == "untriaged"
    huge = post(
        client,
        "/reports/99999999999999999999999/withdraw",
        {"confirm": "1"},
        token_from="/reports/mine",
    )
    assert huge.status_code == 404


def test_the_quality_manager_accepts_through_the_rule_form(login_as, db, people):
    report = _report(
        db,
        people["anna"],
        people["vlinder"],
        title="Elke dag wegen",
        minutes="45",
        perceived_origin="inspectorate",
        relation_impact="hinders",
    )
    client = login_as("quality", "q2")
    inbox = client.get("/reports/inbox").get_data(as_text=True)
    assert "Elke dag wegen" in inbox and "anoniem" in inbox
    form = client.get(f"/rules/new?report={report.id}").get_data(as_text=True)
    assert f'name="report_id" value="{report.id}"' in form
    assert 'value="Elke dag wegen"' in form and 'value="45"' in form
    assert re.search(r'<option selected value="inspectorate">|value="inspectorate" selected', form)
    response = post(
        client,
        f"/rules/new?report={report.id}",
        _rule_form(
            report_id=report.id,
            title="Elke dag wegen",
            minutes_per_week="45",
            team_ids=[people["vlinder"]["id"]],
            # The mirror questions, asked of a rule from a report as of any new rule.
            **{**mirror_answers(), "perceived_origin": "inspectorate"},
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    done = rule_reports.get_report(db, report.id)
    assert done.state == "accepted" and done.rule_id
    rule_page = client.get(f"/rules/{done.rule_id}").get_data(as_text=True)
    assert "Gemeld door collega's: 1" in rule_page


def test_the_rule_form_refuses_a_report_withdrawn_meanwhile(login_as, db, people):
    report = _report(db, people["anna"], people["vlinder"])
    client = login_as("quality", "q2")
    token_page = f"/rules/new?report={report.id}"
    client.get(token_page)
    rule_reports.withdraw(db, SECRET, people["anna"], report.id)
    response = post(
        client,
        "/rules/new",
        _rule_form(report_id=report.id, title="Elke dag wegen"),
        token_from="/rules/new",
    )
    assert response.status_code == 200
    assert "De melder heeft deze melding ingetrokken" in response.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0
    # the link from the inbox, opened later, says so too
    again = client.get(token_page)
    assert again.status_code == 302


def test_attach_and_decline_through_the_inbox(app, login_as, db, people):
    rule = make_rule(db, code="R-0042", title="Wegen op maandag")
    first = _report(db, people["anna"], people["vlinder"], why="Kost ontbijttijd", named=True)
    second = _report(db, people["bart"], people["vlinder"])
    client = login_as("quality", "q2")
    found = client.get(f"/reports/inbox/{first.id}?q=R-0042").get_data(as_text=True)
    assert "Wegen op maandag" in found and "Anna Bos" in found
    response = post(
        client,
        f"/reports/inbox/{first.id}/attach",
        {"rule_id": rule.id, "q": "R-0042", "note": ""},
        token_from=f"/reports/inbox/{first.id}?q=R-0042",
    )
    assert response.status_code == 302
    refused = post(
        client,
        f"/reports/inbox/{second.id}/decline",
        {"reason": ""},
        token_from=f"/reports/inbox/{second.id}",
    )
    assert refused.status_code == 200 and "Geef de melder een reden" in refused.get_data(
        as_text=True
    )
    post(
        client,
        f"/reports/inbox/{second.id}/decline",
        {"reason": "Dit is geen regel"},
        token_from=f"/reports/inbox/{second.id}",
    )
    assert rule_reports.get_report(db, second.id).state == "declined"
    page = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert "Gemeld door collega's: 1" in page and "Kost ontbijttijd" in page
    # A member sees the count on the rule, not what colleagues wrote nor who they are.
    member = login_as("member", "anna2", teams=[people["vlinder"]])
    seen = member.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert "Gemeld door collega's: 1" in seen
    assert "Kost ontbijttijd" not in seen and "Anna Bos" not in seen
    # Bart reads the reason in his reports; Anna, whose report was added, reads where it went.
    bart = app.test_client()
    Auth(bart).login("bart")
    assert "Dit is geen regel" in bart.get("/reports/mine").get_data(as_text=True)
    anna = app.test_client()
    Auth(anna).login("anna")
    mine = anna.get("/reports/mine").get_data(as_text=True)
    assert "R-0042" in mine and "Dit is geen regel" not in mine


def test_the_register_filter_and_the_dashboard(login_as, db, people):
    rule = make_rule(db, title="Wegen op maandag")
    make_rule(db, title="Niet gemeld")
    with login_as("quality", "q2").application.test_request_context():
        rule_reports.attach(
            db, people["quality"], _report(db, people["anna"], people["vlinder"]).id, rule.id
        )
    _report(db, people["anna"], people["vlinder"])
    client = login_as("quality", "q2")
    listed = client.get("/rules?reported=1").get_data(as_text=True)
    assert "Wegen op maandag" in listed and "Niet gemeld" not in listed
    assert "Niet gemeld" in client.get("/rules?reported=abc").get_data(as_text=True)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert re.search(r'id="fig-waiting">\s*<p class="figure-value">1</p>', dashboard)
    assert re.search(r'id="fig-reported">\s*<p class="figure-value">1</p>', dashboard)


def test_the_demo_has_reports_in_every_state_named_and_anonymous(db):
    demo.seed(db, SECRET)
    rows = list(db.query("SELECT state, reporter_id IS NULL AS anonymous FROM rule_reports"))
    assert {r["state"] for r in rows} == set(rule_reports.STATES)
    assert {r["anonymous"] for r in rows} == {0, 1}
    # An anonymous reporter finds their report back with the app's secret.
    lotte = users.find_user(db, "lotte")
    assert [r.state for r in rule_reports.my_reports(db, SECRET, lotte)] == ["withdrawn"]
    assert len(demo.RULES) == db.execute("SELECT count(*) FROM rules").fetchone()[0]


def test_the_excel_report_counts_the_reports(app, db, tmp_path):
    demo.seed(db, SECRET)
    path = tmp_path / "report.xlsx"
    with app.app_context():
        xlsx_export.export_report(db, str(path), lang="en")
    workbook = openpyxl.load_workbook(path)
    register_sheet = workbook["Register"]
    header = [c.value for c in register_sheet[1]]
    column = header.index("Reported by colleagues")
    assert column == len(header) - 2  # the derived columns come last
    counts = {
        row[header.index("Title")]: row[column]
        for row in register_sheet.iter_rows(min_row=2, values_only=True)
    }
    assert counts["Dagelijks koelkastcontrole op de kamer"] == 2
    assert counts["Douchen twee keer per week op vaste dagen"] == 1  # accepted as a new rule
    assert counts["Maandelijks wegen"] is None  # nobody reported it: the cell stays empty
    summary = {
        row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True) if row and row[0]
    }
    assert summary["Rules reported by colleagues"] == 3
    assert summary["Reports by colleagues behind them"] == 4
    assert summary["Reports waiting to be triaged"] == 3


def test_withdrawing_asks_for_a_ticked_box(login_as, db, people):
    """One stray tap must not take back a report for good."""
    client = login_as("member", "bart2", teams=[people["vlinder"]])
    report = rule_reports.submit(
        db,
        "test",
        users.find_user(db, "bart2"),
        title="Elke dag wegen",
        team_id=people["vlinder"]["id"],
    )
    page = client.get("/reports/mine").get_data(as_text=True)
    assert 'name="confirm" value="1" required' in page
    post(client, f"/reports/{report.id}/withdraw", token_from="/reports/mine")
    assert rule_reports.get_report(db, report.id).state == "untriaged"
    post(client, f"/reports/{report.id}/withdraw", {"confirm": "1"}, token_from="/reports/mine")
    assert rule_reports.get_report(db, report.id).state == "withdrawn"
