"""The mirror check on new rules (docs/design.md, "The mirror check"): a rule added by hand
answers the mirror questions before it is saved, with a review date within the organisation's
horizon; an organisation may have new rules start as proposed, out of force until a team
session keeps them; an import is exempt but dates its new rules from the horizon."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta

import openpyxl
import pytest

from audit import demo
from audit.core import clock
from audit.core.errors import ValidationError
from audit.domain import (
    ballots,
    decisions,
    events,
    figures,
    organisation,
    register,
    rules,
    sessions,
)
from audit.store import db as db_module
from audit.store import schema
from audit.store.db import apply_migrations, connect
from audit.xlsx import export as xlsx_export
from tests.conftest import Auth, make_rule, make_team, make_user, mirror_answers, post

SECRET = "test"
ANSWERS = {
    "problem": "Bewoners kregen taart terwijl ze op dieet stonden",
    "perceived_origin": "unknown",
}


def _count(db) -> int:
    return db.execute("SELECT count(*) FROM rules").fetchone()[0]


def _in(days: int) -> date:
    return clock.today() + timedelta(days=days)


def _client(app, db, username: str, role: str = "quality", lang: str = "en", teams=()):
    make_user(db, username, role, language=lang, teams=teams)
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    return client


def _form(**overrides) -> dict:
    """The new-rule form as a browser sends it, mirror questions answered."""
    data = {
        "code": "",
        "title": "Geen taart van familie",
        "description": "Familie neemt geen taart mee.",
        "category_id": "",
        "protocol_id": "",
        "relation_impact": "",
        "status": "active",
        "perceived_origin": "",
        "verified_origin": "",
        **mirror_answers(),
    }
    data.update(overrides)
    return data


def _require_proposals(db, on: bool = True) -> None:
    settings = organisation.get_settings(db)
    organisation.update_settings(
        db,
        None,
        name=settings["name"],
        default_language=settings["default_language"],
        reference_share=settings["reference_share"],
        new_rules_proposed=on,
    )


# --- the questions, in the domain ----------------------------------------------------------


def test_a_rule_by_hand_without_answers_is_refused_with_every_message(db):
    with pytest.raises(ValidationError) as refused:
        rules.create_rule(db, None, by_hand=True, title="Geen taart", problem="  ")
    assert set(refused.value.errors) == {"problem", "perceived_origin", "review_due"}
    assert _count(db) == 0 and events.count(db, "rule") == 0


def test_other_field_errors_come_with_the_mirror_messages(db):
    with pytest.raises(ValidationError) as refused:
        rules.create_rule(db, None, by_hand=True, title="", minutes_per_week=-1)
    assert {"title", "minutes_per_week", "problem", "perceived_origin", "review_due"} <= set(
        refused.value.errors
    )


def test_unknown_is_an_answer_and_the_rest_may_stay_empty(db):
    rule = rules.create_rule(
        db, None, by_hand=True, title="Geen taart", review_due=_in(30), **ANSWERS
    )
    assert rule.perceived_origin == "unknown" and rule.problem == ANSWERS["problem"]
    assert rule.minutes_per_week is None and rule.relation_impact is None
    assert rule.alternatives == "" and rule.status == "active"
    changes = rules.history(db, rule.id)[0]["changes"]
    assert changes["problem"] == [None, ANSWERS["problem"]]


def test_callers_that_are_not_by_hand_are_not_asked(db):
    """The import, the demo and the tests' factories record rules that exist already."""
    rule = rules.create_rule(db, None, title="Bestaande regel")
    assert rule.problem == "" and rule.review_due is None


# --- the horizon -----------------------------------------------------------------------------


def test_the_review_date_lies_between_today_and_the_horizon(db):
    with clock.set(datetime(2026, 3, 10, 9, tzinfo=clock.UTC)):
        latest = organisation.horizon_date(db)
        assert latest == date(2027, 3, 10)  # the default horizon: 12 months
        for bad, words in ((latest + timedelta(days=1), "12 months"), (_in(-1), "past")):
            with pytest.raises(ValidationError) as refused:
                rules.create_rule(db, None, by_hand=True, title="X", review_due=bad, **ANSWERS)
            assert words in str(refused.value.errors["review_due"][0])
        assert _count(db) == 0
        assert rules.create_rule(
            db, None, by_hand=True, title="X", review_due=latest, **ANSWERS
        ).review_due == (latest)
        assert rules.create_rule(
            db, None, by_hand=True, title="Y", review_due=clock.today(), **ANSWERS
        ).review_due == (clock.today())


def test_a_horizon_counts_calendar_months_and_ends_a_short_month_on_its_last_day():
    assert organisation.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert organisation.add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)
    assert organisation.add_months(date(2026, 11, 15), 60) == date(2031, 11, 15)


def test_editing_by_hand_keeps_a_changed_review_date_within_the_horizon(db):
    far = _in(900)  # an imported rule may have a date past the horizon
    rule = make_rule(db, review_due=far)
    # The mirror questions are not asked again, and a date left alone stays.
    edited = rules.update_rule(db, None, rule.id, by_hand=True, title="Nieuwe titel")
    assert edited.title == "Nieuwe titel" and edited.review_due == far
    with pytest.raises(ValidationError) as refused:
        rules.update_rule(db, None, rule.id, by_hand=True, review_due=far + timedelta(days=1))
    assert "review_due" in refused.value.errors
    assert rules.get_rule(db, rule.id).review_due == far
    # A date in the past may be set on an edit (a review that was missed).
    assert rules.update_rule(db, None, rule.id, by_hand=True, review_due=_in(-5)).review_due
    # Tracing by hand asks the same, and so does the bulk edit (a person setting one date for
    # many rules).
    with pytest.raises(ValidationError):
        rules.trace(db, None, rule.id, verified_origin="team", review_due=_in(800), by_hand=True)
    with pytest.raises(ValidationError):
        rules.bulk_update(db, None, [rule.id], review_due=_in(800))
    assert rules.bulk_update(db, None, [rule.id], review_due=_in(300)) == 1


def test_the_horizon_follows_the_setting(db):
    settings = organisation.get_settings(db)
    organisation.update_settings(
        db,
        None,
        name=settings["name"],
        default_language="nl",
        reference_share=settings["reference_share"],
        review_horizon_months=3,
    )
    assert organisation.rule_settings(db)["review_horizon_months"] == 3
    with pytest.raises(ValidationError) as refused:
        rules.create_rule(db, None, by_hand=True, title="X", review_due=_in(120), **ANSWERS)
    assert "3 months" in str(refused.value.errors["review_due"][0])
    assert rules.create_rule(db, None, by_hand=True, title="X", review_due=_in(80), **ANSWERS)


@pytest.mark.parametrize("months", [0, 61, -1, "twelve", 2.5, True])
def test_the_domain_refuses_a_horizon_outside_1_to_60_months(db, months):
    settings = organisation.get_settings(db)
    with pytest.raises(ValidationError) as refused:
        organisation.update_settings(
            db,
            None,
            name=settings["name"],
            default_language="nl",
            reference_share=settings["reference_share"],
            review_horizon_months=months,
        )
    assert "review_horizon_months" in refused.value.errors
    assert organisation.rule_settings(db)["review_horizon_months"] == 12


# --- the form ---------------------------------------------------------------------------------


def test_the_new_rule_form_asks_the_mirror_questions_after_the_title(app, db):
    client = _client(app, db, "ilse")
    page = client.get("/rules/new").get_data(as_text=True)
    mirror = page.index("Before it is added: the mirror questions")
    assert page.index('id="title"') < mirror < page.index("<legend>Scope</legend>")
    for name in ("problem", "perceived_origin", "verified_origin", "alternatives", "review_due"):
        assert mirror < page.index(f'id="{name}"') < page.index("<legend>Scope</legend>"), name
    assert "(choose one)" in page and ">Unknown</option>" in page
    latest = organisation.horizon_date(db).isoformat()
    assert f'max="{latest}"' in page and "horizon of 12 months" in page
    # Editing a rule shows the questions in their usual places, with no demand.
    rule = make_rule(db)
    edit = client.get(f"/rules/{rule.id}/edit").get_data(as_text=True)
    assert "mirror questions" not in edit and "<legend>Why this rule</legend>" in edit


@pytest.mark.parametrize(
    "lang,words",
    [
        ("en", ("Say what problem this rule solves.", "choose Unknown if nobody knows")),
        ("nl", ("Beschrijf welk probleem deze regel oplost.", "kies Onbekend als niemand")),
    ],
)
def test_the_form_refuses_missing_answers_keeps_the_input_and_saves_nothing(app, db, lang, words):
    client = _client(app, db, f"ilse-{lang}", lang=lang)
    response = post(client, "/rules/new", _form(problem="", perceived_origin="", review_due=""))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in ("problem", "perceived_origin", "review_due"):
        assert f'id="{name}-error"' in text, name
    for message in words:
        assert message in text
    assert 'value="Geen taart van familie"' in text and "Familie neemt geen taart mee." in text
    assert _count(db) == 0 and events.count(db, "rule") == 0


def test_the_form_refuses_a_review_date_past_the_horizon(app, db):
    client = _client(app, db, "ilse")
    too_far = (organisation.horizon_date(db) + timedelta(days=1)).isoformat()
    response = post(client, "/rules/new", _form(perceived_origin="team", review_due=too_far))
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="review_due-error"' in text
    assert "at most 12 months away" in text and f'value="{too_far}"' in text
    assert _count(db) == 0


def test_the_form_saves_a_rule_that_answers(app, db):
    client = _client(app, db, "ilse")
    response = post(
        client,
        "/rules/new",
        _form(alternatives="Eerst gesprek met familie", **ANSWERS),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    rule = rules.find_by_code(db, "R-0001")
    assert rule.problem == ANSWERS["problem"] and rule.alternatives == "Eerst gesprek met familie"
    page = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert "Problem it solves" in page and ANSWERS["problem"] in page
    assert "Eerst gesprek met familie" in page


# --- the admin's settings -----------------------------------------------------------------


def _settings_form(**overrides) -> dict:
    data = {
        "name": "De Lindehof",
        "default_language": "nl",
        "reference_share": "70",
        "reference_label_nl": "Onderzoek",
        "reference_label_en": "Research",
        "review_horizon_months": "12",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("months", ["0", "61", "", "abc", "-3"])
def test_the_settings_form_refuses_a_bad_horizon(app, db, months):
    client = _client(app, db, "boss", "admin")
    response = post(client, "/admin/settings", _settings_form(review_horizon_months=months))
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="review_horizon_months-error"' in text
    assert f'value="{months}"' in text or months == ""
    assert organisation.rule_settings(db) == {
        "review_horizon_months": 12,
        "new_rules_proposed": False,
    }
    assert organisation.get_settings(db)["name"] != "De Lindehof"  # nothing saved


def test_the_admin_sets_the_horizon_and_proposals(app, db):
    client = _client(app, db, "boss", "admin")
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="review_horizon_months"' in page and 'value="12"' in page
    response = post(
        client,
        "/admin/settings",
        _settings_form(review_horizon_months="24", new_rules_proposed="y"),
    )
    assert response.status_code == 302
    assert organisation.rule_settings(db) == {
        "review_horizon_months": 24,
        "new_rules_proposed": True,
    }
    changes = events.history(db, "organisation", 1)[0]["changes"]
    assert changes["review_horizon_months"] == [12, 24]
    assert changes["new_rules_proposed"] == [False, True]
    history = client.get("/admin/settings").get_data(as_text=True)
    assert 'value="24"' in history and "checked" in history


# --- proposed ---------------------------------------------------------------------------------


@pytest.fixture
def team_world(db):
    vlinder = make_team(db, "Vlinder")
    people = {
        "fac": make_user(db, "fac", "quality"),
        "anna": make_user(db, "anna", "member", teams=[vlinder]),
        "bert": make_user(db, "bert", "member", teams=[vlinder]),
    }
    return {"vlinder": vlinder, **people}


def test_a_proposed_rule_is_out_of_force_until_a_session_keeps_it(app, db, team_world):
    _require_proposals(db)
    quality = _client(app, db, "ilse")
    page = quality.get("/rules/new").get_data(as_text=True)
    assert 'name="status"' not in page and "This rule starts as proposed" in page
    answers = {"perceived_origin": "law", "verified_origin": "team", "minutes_per_week": "90"}
    response = post(quality, "/rules/new", _form(relation_impact="hinders", **answers))
    assert response.status_code == 302, response.get_data(as_text=True)
    rule = rules.find_by_code(db, "R-0001")
    assert rule.status == "proposed" and not rule.in_force

    # Not in force: in no figure but the funnel, where it is a step of its own.
    headline = figures.headline(db)
    assert (headline["total"], headline["traced"], headline["myths"]) == (0, 0, 0)
    assert headline["minutes_per_week_self_invented"] == 0
    assert figures.top_candidates(db) == []
    funnel = {s["status"]: s["count"] for s in figures.status_funnel(db)}
    assert funnel["proposed"] == 1 and funnel["active"] == 0
    assert next(iter(funnel)) == "proposed"
    assert [r["total"] for r in figures.share_by_team(db)] == [0]

    # The rule page, the register filter and the start page say so.
    detail = quality.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert "Proposed: this rule becomes active when a team session keeps it." in detail
    listed = quality.get("/rules?status=proposed").get_data(as_text=True)
    assert rule.code in listed and '<option value="proposed" selected>' in listed
    start = quality.get("/").get_data(as_text=True)
    assert "Proposed rules waiting for a team session" in start and rule.code in start
    member = _client(app, db, "cor", "member", teams=[team_world["vlinder"]])
    assert "Proposed rules waiting" not in member.get("/").get_data(as_text=True)

    # The session builder offers it.
    builder = quality.get(
        f"/sessions/new?teams={team_world['vlinder']['id']}&status=proposed"
    ).get_data(as_text=True)
    assert f'value="{rule.id}"' in builder

    # A session keeps it: then it is active and counts.
    session = sessions.create_session(
        db,
        team_world["fac"],
        title="Nieuwe regels",
        team_ids=[team_world["vlinder"]["id"]],
        rule_ids=[rule.id],
        mode="online",
        anonymous=False,
    )
    sessions.open_session(db, team_world["fac"], session.id)
    assert rules.get_rule(db, rule.id).status == "proposed"  # not under review: not in force
    start = quality.get("/").get_data(as_text=True)
    assert "in session Nieuwe regels" in start
    for who in ("anna", "bert"):
        ballots.cast_vote(db, SECRET, team_world[who], session.id, rule.id, "keep", "")
    sessions.close_session(db, team_world["fac"], session.id)
    decisions.record_decision(
        db, team_world["fac"], session.id, rule.id, outcome="keep", rationale="Het team houdt hem"
    )
    kept = decisions.apply_decision(db, team_world["fac"], session.id, rule.id)
    assert kept.status == "active" and kept.in_force
    headline = figures.headline(db)
    assert (headline["total"], headline["self_invented"]) == (1, 1)
    assert headline["minutes_per_week_self_invented"] == 90
    assert rules.history(db, rule.id)[0]["changes"]["status"] == ["proposed", "active"]


def test_dropping_a_proposed_rule_gives_back_no_hours(db, team_world):
    rule = make_rule(db, status="proposed", minutes_per_week=120)
    session = sessions.create_session(
        db,
        team_world["fac"],
        title="Nieuwe regels",
        team_ids=[team_world["vlinder"]["id"]],
        rule_ids=[rule.id],
        mode="online",
        anonymous=False,
    )
    sessions.open_session(db, team_world["fac"], session.id)
    sessions.close_session(db, team_world["fac"], session.id)
    decisions.record_decision(
        db, team_world["fac"], session.id, rule.id, outcome="drop", rationale="Niet nodig"
    )
    assert decisions.apply_decision(db, team_world["fac"], session.id, rule.id).status == "dropped"
    assert figures.given_back_minutes(db) == 0


def test_while_proposals_are_required_a_proposed_rule_leaves_only_by_a_decision(db):
    _require_proposals(db)
    rule = rules.create_rule(
        db, None, by_hand=True, title="X", status="active", review_due=_in(9), **ANSWERS
    )
    assert rule.status == "proposed"  # whatever the form said
    with pytest.raises(ValidationError) as refused:
        rules.update_rule(db, None, rule.id, by_hand=True, status="active")
    assert "team session" in str(refused.value.errors["status"][0])
    with pytest.raises(ValidationError):
        rules.bulk_update(db, None, [rule.id], status="active")
    assert rules.get_rule(db, rule.id).status == "proposed"
    assert rules.update_rule(db, None, rule.id, owner="Ilse").owner == "Ilse"  # the rest changes
    _require_proposals(db, on=False)
    assert rules.update_rule(db, None, rule.id, by_hand=True, status="active").status == "active"


def test_without_the_setting_a_rule_by_hand_keeps_its_status(db):
    rule = rules.create_rule(db, None, by_hand=True, title="X", review_due=_in(9), **ANSWERS)
    assert rule.status == "active"


def test_the_register_and_the_overdue_list_treat_proposed_as_not_in_force(db):
    proposed = make_rule(db, status="proposed", review_due=_in(-10))
    assert register.count(db, register.RuleFilter(status="proposed")) == 1
    assert register.count(db, register.RuleFilter(overdue=True)) == 0
    assert not rules.get_rule(db, proposed.id).review_overdue


# --- the import -------------------------------------------------------------------------------


def _workbook(path, rows, header=("Code", "Title", "Review due")):
    wb = openpyxl.Workbook()
    wb.active.append(list(header))
    for row in rows:
        wb.active.append(list(row))
    wb.save(path)
    return path


def test_imported_rules_without_a_review_date_get_one_from_the_horizon(db, imp, apply, tmp_path):
    make_rule(db, code="OLD-1", title="Oud")
    path = _workbook(
        tmp_path / "in.xlsx",
        [
            ("", "Zonder datum", None),
            ("", "Met datum", "2030-01-15"),
            ("", "Ook zonder", None),
            ("OLD-1", "Oud, nieuwe titel", None),
        ],
    )
    plan = imp(path)
    assert plan.horizon_months == 12 and plan.horizon_date == organisation.horizon_date(db)
    assert plan.dated_by_horizon == 2  # created rules only; OLD-1 keeps what it has
    apply(plan)
    dates = {r.title: r.review_due for r in rules.get_rules(db, range(1, 10))}
    assert dates == {
        "Zonder datum": plan.horizon_date,
        "Met datum": date(2030, 1, 15),
        "Ook zonder": plan.horizon_date,
        "Oud, nieuwe titel": None,
    }
    made = rules.find_by_code(db, "R-0001")
    assert made.problem == "" and made.status == "active"  # exempt from the questions


def test_a_workbook_without_a_review_column_is_dated_too(db, imp, apply, tmp_path):
    path = _workbook(tmp_path / "bare.xlsx", [("Taart", "")], header=("Title", "Description"))
    plan = imp(path)
    assert plan.dated_by_horizon == 1
    apply(plan)
    assert rules.find_by_code(db, "R-0001").review_due == plan.horizon_date


def test_the_import_preview_says_which_date_the_horizon_gives(app, db, tmp_path):
    client = _client(app, db, "ilse")
    path = _workbook(tmp_path / "in.xlsx", [("", "Een", None), ("", "Twee", None)])
    data = {"file": (path.open("rb"), path.name)}
    data["csrf_token"] = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"',
        client.get("/import/").get_data(as_text=True),
    ).group(1)
    text = client.post("/import/", data=data, content_type="multipart/form-data").get_data(
        as_text=True
    )
    latest = organisation.horizon_date(db)
    assert 'id="horizon-note"' in text
    note = html.unescape(re.search(r'id="horizon-note">([^<]*)<', text).group(1))
    assert note.startswith("2 rules get review date ")
    assert note.endswith("from the organisation's horizon of 12 months.")
    assert str(latest.year) in note


def test_the_import_command_says_which_date_the_horizon_gives(runner, db, tmp_path):
    path = _workbook(tmp_path / "in.xlsx", [("", "Een", None), ("", "Twee", "2030-01-01")])
    result = runner.invoke(args=["import-rules", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    latest = organisation.horizon_date(db).isoformat()
    assert f"1 rules get review date {latest} from the organisation's horizon of 12 months" in (
        result.output
    )


def test_problem_and_alternatives_travel_through_the_workbooks(app, db, imp, apply, tmp_path):
    make_rule(db, title="Geen taart", problem="Dieet", alternatives="Gesprek")
    path = tmp_path / "export.xlsx"
    with app.app_context():
        xlsx_export.export_report(db, str(path), lang="nl")
    header = [c.value for c in openpyxl.load_workbook(path)["Register"][1]]
    assert "Probleem dat de regel oplost" in header and "Overwogen alternatieven" in header
    again = imp(path)
    assert again.summary()["unchanged"] == 1 and again.ignored_columns == []
    # Changed in the workbook, they import as any text field.
    wb = openpyxl.load_workbook(path)
    ws = wb["Register"]
    ws.cell(row=2, column=header.index("Overwogen alternatieven") + 1).value = "Overleg"
    wb.save(path)
    apply(imp(path))
    assert rules.find_by_code(db, "R-0001").alternatives == "Overleg"


# --- the schema -------------------------------------------------------------------------------


def test_migration_7_allows_proposed_and_keeps_the_rules(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite3"
    old = connect(path)
    monkeypatch.setattr(db_module, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] <= 5])
    apply_migrations(old)
    old.execute(
        "INSERT INTO rules (code, title, status, created_at, updated_at)"
        " VALUES ('R-0001', 'Oud', 'active', '2026-01-01', '2026-01-01')"
    )
    old.conn.commit()
    monkeypatch.setattr(db_module, "MIGRATIONS", schema.MIGRATIONS)
    assert 7 in apply_migrations(old)
    rule = rules.get_rule(old, 1)
    assert (rule.title, rule.problem, rule.alternatives, rule.status) == ("Oud", "", "", "active")
    assert organisation.rule_settings(old) == {
        "review_horizon_months": 12,
        "new_rules_proposed": False,
    }
    old.execute("UPDATE rules SET status = 'proposed' WHERE id = 1")
    with pytest.raises(Exception, match="CHECK"):
        old.execute("UPDATE rules SET status = 'paused' WHERE id = 1")
    with pytest.raises(Exception, match="CHECK"):
        old.execute("UPDATE organisation SET review_horizon_months = 61")


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_has_a_proposed_rule_and_its_horizon(db):
    demo.seed(db, "k")
    proposed = register.count(db, register.RuleFilter(status="proposed"))
    assert proposed >= 1
    waiting = sessions.proposed_rules(db)
    assert waiting["total"] == proposed and all(r["code"] for r in waiting["rules"])
    settings = organisation.rule_settings(db)
    assert settings["new_rules_proposed"] is True
    assert settings["review_horizon_months"] == demo.HORIZON_MONTHS
    # The proposed rules stay out of the figures the demo shows.
    assert figures.headline(db)["total"] == len(demo.RULES) - proposed - sum(
        1 for r in rules.get_rules(db, range(1, 100)) if r.status == "dropped" or r.archived
    )
