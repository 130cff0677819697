"""Adapt strategies: the admin's list, the adapt decision that names one, and where it shows
(the rule's history, the session's results, the dashboard, the report)."""

from __future__ import annotations

import re
from io import BytesIO

import openpyxl
import pytest
from flask_babel import force_locale

from audit import demo
from audit.core.errors import Conflict, ValidationError
from audit.domain import decisions, events, figures, rules, sessions, strategies
from audit.domain.history import HistoryLookup
from audit.store import db as db_module
from audit.store import schema
from audit.store.db import apply_migrations, connect
from audit.xlsx import export as xlsx_export
from tests.conftest import Auth, csrf_token, make_rule, make_team, make_user, post

STARTER = {
    "time": ("Tijd oprekken", "Stretch the time"),
    "volume": ("Omvang verkleinen", "Reduce the volume"),
    "intent": ("Naar de bedoeling handelen", "Widen the intent"),
    "client_view": ("Vanuit de cliënt kijken", "Take the client's perspective"),
    "per_client": ("Per cliënt afspreken", "Tailor it per client"),
    "source_room": ("Ruimte van de bron benutten", "Stretch to the room of the source"),
    "experiment": ("Experimenteren", "Experiment"),
}


def _count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _id(db, key: str) -> int:
    return strategies.by_key(db, key)["id"]


@pytest.fixture
def world(app, db):
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality")
    make_user(db, "boss", "admin")
    make_user(db, "anna", "member", teams=[team])
    a = make_rule(db, code="A-1", title="Taart", minutes_per_week=60, team_ids=[team["id"]])
    b = make_rule(db, code="B-1", title="Rondes", minutes_per_week=30, team_ids=[team["id"]])
    session = sessions.create_session(
        db, fac, title="Voorjaar", team_ids=[team["id"]], rule_ids=[a.id, b.id], mode="hands"
    )
    sessions.open_session(db, fac, session.id)
    sessions.close_session(db, fac, session.id)

    def client(name):
        c = app.test_client()
        assert Auth(c).login(name).status_code == 302
        return c

    return {"fac": fac, "a": a, "b": b, "session": session, "team": team, "client": client}


def _adapt(db, w, rule=None, **fields):
    values = {"outcome": "adapt", "rationale": "Minder vaak", "new_minutes_per_week": 20}
    values.update(fields)
    rule = rule or w["a"]
    return decisions.record_decision(db, w["fac"], w["session"].id, rule.id, **values)


# --- the list -------------------------------------------------------------------------------


def test_a_fresh_database_has_the_starter_set_in_both_languages(app, db):
    listed = strategies.list_strategies(db)
    assert [s["key"] for s in listed] == list(STARTER)  # in the organisation's order
    for s in listed:
        assert (s["name_nl"], s["name_en"]) == STARTER[s["key"]]
        assert s["explanation_nl"] and s["explanation_en"] and s["active"]
    with app.test_request_context(), force_locale("en"):
        assert strategies.get_strategy(db, listed[0]["id"])["name"] == "Stretch the time"
    with app.test_request_context(), force_locale("nl"):
        assert strategies.get_strategy(db, listed[0]["id"])["name"] == "Tijd oprekken"


def test_the_migration_gives_an_existing_database_the_list_and_old_adaptations_none(
    tmp_path, monkeypatch
):
    path = tmp_path / "old.sqlite3"
    old = connect(path)
    ours = [m for m in schema.MIGRATIONS if m[2] is schema.ADAPT_STRATEGIES]
    assert len(ours) == 1
    monkeypatch.setattr(
        db_module,
        "MIGRATIONS",
        [m for m in schema.MIGRATIONS if m[2] is not schema.ADAPT_STRATEGIES],
    )
    apply_migrations(old)
    old.execute(
        "INSERT INTO users (id, username, password_hash, role, created_at)"
        " VALUES (1, 'fac', 'x', 'quality', 'x')"
    )
    old.execute("INSERT INTO teams (id, name, created_at) VALUES (1, 'T', 'x')")
    old.execute(
        "INSERT INTO rules (id, code, title, created_at, updated_at) VALUES (1, 'A', 'a', 'x', 'x')"
    )
    old.execute(
        "INSERT INTO review_sessions (id, title, mode, anonymous, state, quorum, facilitator_id,"
        " created_at, updated_at) VALUES (1, 's', 'hands', 0, 'closed', 1, 1, 'x', 'x')"
    )
    old.execute("INSERT INTO session_rules VALUES (1, 1, 1)")
    old.execute(
        "INSERT INTO decisions (session_id, rule_id, outcome, rationale, decided_by, decided_at)"
        " VALUES (1, 1, 'adapt', 'korter', 1, 'x')"
    )
    monkeypatch.setattr(db_module, "MIGRATIONS", schema.MIGRATIONS)
    assert apply_migrations(old) == [ours[0][0]]
    assert [s["key"] for s in strategies.list_strategies(old)] == list(STARTER)
    decided = decisions.list_decisions(old, 1)[1]
    assert decided["strategy_id"] is None and decided["strategy_name"] == "not recorded"
    old.close()


def test_the_database_refuses_a_strategy_on_a_keep(db, world):
    decisions.record_decision(
        db, world["fac"], world["session"].id, world["a"].id, outcome="keep", rationale="x"
    )
    with pytest.raises(Exception, match="CHECK"):
        db.execute("UPDATE decisions SET strategy_id = ?", [_id(db, "time")])


def test_saving_a_strategy_is_one_event_and_an_edit_another(db):
    before = events.count(db, strategies.ENTITY)
    made = strategies.save_strategy(
        db, None, name_nl="  Samen   doen ", name_en="", explanation_nl="Met de familie."
    )
    assert (made["name_nl"], made["name_en"]) == ("Samen doen", "Samen doen")
    assert made["position"] == 80  # after the last of the starter set
    assert events.count(db, strategies.ENTITY) == before + 1
    changed = strategies.save_strategy(
        db,
        None,
        name_nl="Samen doen",
        name_en="Do it together",
        position="5",
        strategy_id=made["id"],
        expected_version=made["version"],
    )
    assert (changed["name_en"], changed["position"], changed["version"]) == (
        "Do it together",
        5,
        made["version"] + 1,
    )
    last = events.history(db, strategies.ENTITY, made["id"])[0]
    assert last["action"] == "update"
    assert last["changes"]["name_en"] == ["Samen doen", "Do it together"]
    assert last["changes"]["explanation_nl"] == ["Met de familie.", ""]
    assert strategies.list_strategies(db)[0]["id"] == made["id"]  # order 5 comes first


@pytest.mark.parametrize(
    "given,field,words",
    [
        ({"name_nl": "   "}, "name_nl", "Enter a name"),
        ({"name_nl": "tijd OPREKKEN"}, "name_nl", "exists already"),
        ({"name_nl": "Nieuw", "name_en": "stretch the time"}, "name_en", "exists already"),
        ({"name_nl": "x" * 101}, "name_nl", "At most 100 characters"),
        ({"name_nl": "Nieuw", "explanation_en": "y" * 501}, "explanation_en", "At most 500"),
        ({"name_nl": "Nieuw", "position": "-1"}, "position", "whole number from 0 to 999"),
        ({"name_nl": "Nieuw", "position": "1000"}, "position", "whole number from 0 to 999"),
        ({"name_nl": "Nieuw", "position": "een"}, "position", "whole number from 0 to 999"),
        ({"name_nl": "Nieuw\x00"}, "name_nl", "cannot be shown"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(app, db, given, field, words):
    rows, logged = _count(db, "adapt_strategies"), events.count(db)
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        strategies.save_strategy(db, None, **given)
    assert list(refused.value.errors) == [field]
    assert words in str(refused.value.errors[field])
    assert (_count(db, "adapt_strategies"), events.count(db)) == (rows, logged)


def test_a_stale_edit_is_refused(db):
    first = strategies.by_key(db, "time")
    strategies.save_strategy(
        db,
        None,
        name_nl="Tijd rekken",
        strategy_id=first["id"],
        expected_version=first["version"],
    )
    with pytest.raises(Conflict, match="Someone else saved"):
        strategies.save_strategy(
            db,
            None,
            name_nl="Later doen",
            strategy_id=first["id"],
            expected_version=first["version"],
        )
    assert strategies.get_strategy(db, first["id"])["name_nl"] == "Tijd rekken"


# --- the adapt decision names one -----------------------------------------------------------


def test_an_adapt_decision_names_its_strategy_and_its_event_carries_it(db, world):
    time = _id(db, "time")
    decided = _adapt(db, world, strategy_id=str(time))
    assert decided["strategy_id"] == time
    logged = events.history(db, "review_session", world["session"].id)[0]
    assert logged["action"] == "decision" and logged["changes"]["strategy_id"] == [None, time]


@pytest.mark.parametrize(
    "fields,words",
    [
        ({}, "Choose how the rule was adapted"),
        ({"strategy_id": 999_999}, "No such adapt strategy"),
        ({"strategy_id": "tijd"}, "No such adapt strategy"),
        ({"strategy_id": 2**70}, "No such adapt strategy"),
    ],
)
def test_an_adapt_without_a_known_strategy_is_refused(app, db, world, fields, words):
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        _adapt(db, world, **fields)
    assert words in str(refused.value.errors["strategy_id"])
    assert _count(db, "decisions") == 0


@pytest.mark.parametrize("outcome", ["keep", "drop"])
def test_keep_and_drop_name_no_strategy(app, db, world, outcome):
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        decisions.record_decision(
            db,
            world["fac"],
            world["session"].id,
            world["a"].id,
            outcome=outcome,
            rationale="x",
            strategy_id=_id(db, "time"),
        )
    assert "Only an adapt decision names a strategy" in str(refused.value.errors["strategy_id"])
    assert _count(db, "decisions") == 0


def test_a_retired_strategy_stays_on_its_decision_but_cannot_be_chosen_anew(app, db, world):
    time = strategies.by_key(db, "time")
    _adapt(db, world, strategy_id=time["id"])
    strategies.save_strategy(
        db,
        None,
        name_nl=time["name_nl"],
        name_en=time["name_en"],
        active=False,
        strategy_id=time["id"],
    )
    assert time["id"] not in {s["id"] for s in strategies.list_strategies(db)}
    # The decision that names it may be changed and keep it ...
    again = _adapt(db, world, strategy_id=time["id"], rationale="Nog minder vaak")
    assert again["strategy_id"] == time["id"]
    assert dict(strategies.options(db, keep=time["id"]))[time["id"]] == "Tijd oprekken"
    assert time["id"] not in dict(strategies.options(db))
    # ... but another decision cannot choose it.
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        _adapt(db, world, rule=world["b"], strategy_id=time["id"])
    assert "no longer in use" in str(refused.value.errors["strategy_id"])
    with app.test_request_context():
        shown = decisions.list_decisions(db, world["session"].id)[world["a"].id]
    assert shown["strategy_name"] == "Tijd oprekken"


def test_applying_shows_the_strategy_in_the_rules_history_in_the_readers_language(app, db, world):
    _adapt(db, world, strategy_id=_id(db, "per_client"))
    decisions.apply_decision(db, world["fac"], world["session"].id, world["a"].id)
    applied = rules.history(db, world["a"].id)[0]
    assert applied["action"] == "decision"
    assert applied["changes"]["strategy_id"] == [None, _id(db, "per_client")]
    assert applied["changes"]["status"] == ["under_review", "adapted"]
    for lang, name, label in (
        ("en", "Tailor it per client", "Adapt strategy"),
        ("nl", "Per cliënt afspreken", "Aanpassingsstrategie"),
    ):
        with app.test_request_context(), force_locale(lang):
            lookup = HistoryLookup(db)
            assert lookup.value("strategy_id", applied["changes"]["strategy_id"][1]) == name
            assert f"{label}: – → {name}" in lookup.describe(applied["changes"])
    page = world["client"]("fac").get(f"/rules/{world['a'].id}").get_data(as_text=True)
    assert "Per cliënt afspreken" in page  # the default language is Dutch


def test_applying_is_one_transaction(db, world, monkeypatch):
    _adapt(db, world, strategy_id=_id(db, "volume"))
    real = events.record

    def fail_on_apply(db_, actor, entity, entity_id, action, *args, **kwargs):
        if action == "apply":
            raise RuntimeError("disk gone")
        return real(db_, actor, entity, entity_id, action, *args, **kwargs)

    monkeypatch.setattr(events, "record", fail_on_apply)
    with pytest.raises(RuntimeError):
        decisions.apply_decision(db, world["fac"], world["session"].id, world["a"].id)
    rule = rules.get_rule(db, world["a"].id)
    assert (rule.status, rule.minutes_per_week) == ("under_review", 60)
    assert all(e["action"] != "decision" for e in rules.history(db, rule.id))
    assert decisions.list_decisions(db, world["session"].id)[rule.id]["applied_at"] is None


# --- pages ----------------------------------------------------------------------------------


def test_the_admin_keeps_the_list_on_its_pages(db, world):
    boss = world["client"]("boss")
    index = boss.get("/admin/strategies/").get_data(as_text=True)
    assert "Tijd oprekken" in index and "Stretch the time" in index
    response = post(
        boss,
        "/admin/strategies/new",
        {
            "name_nl": "Samen doen",
            "name_en": "Do it together",
            "explanation_nl": "Met familie",
            "active": "y",
        },
    )
    assert response.status_code == 302
    made = [s for s in strategies.list_strategies(db) if s["name_nl"] == "Samen doen"][0]
    url = f"/admin/strategies/{made['id']}"
    form = boss.get(url).get_data(as_text=True)
    assert re.search(r'name="version"[^>]*value="1"', form)
    assert post(boss, url, {"name_nl": "Samen doen", "version": "1"}).status_code == 302
    assert strategies.get_strategy(db, made["id"])["active"] is False  # unticked: retired
    # A second tab still holding version 1 is refused, and keeps what it typed.
    stale = post(boss, url, {"name_nl": "Allemaal samen", "version": "1", "active": "y"})
    page = stale.get_data(as_text=True)
    assert stale.status_code == 200 and "Iemand anders heeft deze strategie opgeslagen" in page
    assert "Allemaal samen" in page
    assert strategies.get_strategy(db, made["id"])["name_nl"] == "Samen doen"


@pytest.mark.parametrize(
    "data,words",
    [
        ({"name_nl": ""}, "This field is required"),
        ({"name_nl": "Experimenteren"}, "A strategy with this name exists already."),
        ({"name_nl": "x" * 101}, "At most 100 characters"),
        ({"name_nl": "Nieuw", "position": "veel"}, "Enter a whole number from 0 to 999."),
    ],
)
def test_bad_input_on_the_form_gets_a_message_and_stores_nothing(db, world, data, words):
    rows = _count(db, "adapt_strategies")
    boss = world["client"]("boss")
    boss.post("/language", data={"lang": "en", "csrf_token": csrf_token(boss, "/")})
    response = post(boss, "/admin/strategies/new", data)
    assert response.status_code == 200
    assert words in response.get_data(as_text=True)
    assert _count(db, "adapt_strategies") == rows


def test_the_list_refuses_a_post_without_its_csrf_token(db, world):
    rows = _count(db, "adapt_strategies")
    response = world["client"]("boss").post("/admin/strategies/new", data={"name_nl": "Nieuw"})
    assert response.status_code == 400
    assert _count(db, "adapt_strategies") == rows


def test_quality_managers_use_the_list_but_do_not_keep_it(db, world):
    fac = world["client"]("fac")
    assert fac.get("/admin/strategies/").status_code == 403
    assert fac.get(f"/admin/strategies/{_id(db, 'time')}").status_code == 403


def _decision_post(world, rule, **fields):
    url = f"/sessions/{world['session'].id}"
    data = {
        f"d{rule.id}-outcome": "adapt",
        f"d{rule.id}-rationale": "Minder vaak",
        f"d{rule.id}-new_title": rule.title,
        f"d{rule.id}-new_minutes_per_week": "20",
    }
    data.update({f"d{rule.id}-{k}": v for k, v in fields.items()})
    return post(world["client"]("fac"), f"{url}/rules/{rule.id}/decision", data, token_from=url)


def test_the_decision_form_offers_the_strategies_in_use(db, world):
    retired = strategies.by_key(db, "experiment")
    strategies.save_strategy(
        db, None, name_nl=retired["name_nl"], active=False, strategy_id=retired["id"]
    )
    page = world["client"]("fac").get(f"/sessions/{world['session'].id}").get_data(as_text=True)
    select = re.search(
        rf'<select[^>]*name="d{world["a"].id}-strategy_id".*?</select>', page, re.S
    ).group(0)
    assert "Tijd oprekken" in select and "Experimenteren" not in select
    assert "Naar de bedoeling handelen" in page  # "What the strategies mean"


def test_a_decision_posted_with_a_strategy_is_recorded_and_shown(db, world):
    response = _decision_post(world, world["a"], strategy_id=str(_id(db, "intent")), apply="1")
    assert response.status_code == 302
    page = world["client"]("fac").get(f"/sessions/{world['session'].id}").get_data(as_text=True)
    card = page[page.index(f'id="rule-{world["a"].id}"') :]
    assert "Naar de bedoeling handelen" in card[: card.index("</article>")]


@pytest.mark.parametrize(
    "fields,words",
    [
        ({}, "Kies hoe de regel is aangepast."),
        ({"strategy_id": "987654"}, "Deze aanpassingsstrategie bestaat niet."),
        ({"strategy_id": "1 OR 1=1"}, "Deze aanpassingsstrategie bestaat niet."),
        ({"strategy_id": "9" * 30}, "Deze aanpassingsstrategie bestaat niet."),
        ({"strategy_id": "-3"}, "Deze aanpassingsstrategie bestaat niet."),
        (
            {"outcome": "keep", "strategy_id": "1"},
            "Alleen een besluit om aan te passen noemt een strategie.",
        ),
    ],
)
def test_a_bad_strategy_on_the_decision_form_gets_a_message_and_stores_nothing(
    db, world, fields, words
):
    response = _decision_post(world, world["a"], **fields)
    assert response.status_code == 200  # the session page again, the form with its message
    assert words in response.get_data(as_text=True)
    assert _count(db, "decisions") == 0


def test_an_adaptation_from_before_strategies_shows_not_recorded(db, world):
    _adapt(db, world, strategy_id=_id(db, "time"))
    # As a decision of before migration 10 was stored: adapt, with no strategy.
    db.execute("UPDATE decisions SET strategy_id = NULL")
    decisions.apply_decision(db, world["fac"], world["session"].id, world["a"].id)
    page = world["client"]("fac").get(f"/sessions/{world['session'].id}").get_data(as_text=True)
    assert "niet vastgelegd" in page
    assert figures.adapted_by_strategy(db)[-1] == {"id": None, "name": "not recorded", "rules": 1}


# --- figures, dashboard and report ----------------------------------------------------------


def test_adapted_rules_are_counted_per_strategy(app, db, world):
    _adapt(db, world, strategy_id=_id(db, "time"))
    _adapt(db, world, rule=world["b"], strategy_id=_id(db, "time"))
    decisions.apply_decision(db, world["fac"], world["session"].id, world["a"].id)
    counted = {row["id"]: row["rules"] for row in figures.adapted_by_strategy(db)}
    assert counted[_id(db, "time")] == 1  # the second decision is not applied yet
    decisions.apply_decision(db, world["fac"], world["session"].id, world["b"].id)
    rows = figures.adapted_by_strategy(db)
    assert [r["id"] for r in rows] == [s["id"] for s in strategies.list_strategies(db)]
    assert {r["id"]: r["rules"] for r in rows}[_id(db, "time")] == 2
    assert sum(r["rules"] for r in rows) == 2
    other = make_team(db, "Zon")
    assert (
        sum(r["rules"] for r in figures.adapted_by_strategy(db, figures.Scope(team=other["id"])))
        == 0
    )
    # A retired strategy still counts what it adapted.
    time = strategies.by_key(db, "time")
    strategies.save_strategy(
        db, None, name_nl=time["name_nl"], active=False, strategy_id=time["id"]
    )
    assert {r["id"]: r["rules"] for r in figures.adapted_by_strategy(db)}[time["id"]] == 2


def test_the_dashboard_shows_the_counts_in_a_chart_and_a_table(db, world):
    _adapt(db, world, strategy_id=_id(db, "source_room"))
    decisions.apply_decision(db, world["fac"], world["session"].id, world["a"].id)
    page = world["client"]("boss").get("/dashboard").get_data(as_text=True)
    table = re.search(r'<table class="data-table" id="strategies-table">.*?</table>', page, re.S)
    cells = re.findall(
        r"<th scope=\"row\">([^<]+)</th><td class=\"num\">(\d+)</td>", table.group(0)
    )
    assert ("Ruimte van de bron benutten", "1") in cells and ("Tijd oprekken", "0") in cells
    assert 'id="strategies-chart-title"' in page


def test_the_report_has_the_strategy_on_decisions_and_the_counts_on_the_summary(app, db, world):
    _adapt(db, world, strategy_id=_id(db, "client_view"))
    decisions.apply_decision(db, world["fac"], world["session"].id, world["a"].id)
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out, lang="en")
    wb = openpyxl.load_workbook(BytesIO(out.getvalue()))
    header = [c.value for c in wb["Decisions"][1]]
    # The 13th column; the client council's advice comes after it (docs/design.md).
    assert header[12] == "Adapt strategy"
    assert wb["Decisions"].cell(row=2, column=13).value == "Take the client's perspective"
    summary = list(wb["Summary"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(summary) if r[0] == "Adapt strategy")
    counts = {r[0]: r[1] for r in summary[start + 1 : start + 8]}
    assert counts["Take the client's perspective"] == 1 and counts["Stretch the time"] == 0
    history = [r[5] for r in wb["History"].iter_rows(min_row=2, values_only=True)]
    assert any("Adapt strategy: – → Take the client's perspective" in (h or "") for h in history)


def test_the_demos_adaptations_name_a_strategy(app, db):
    demo.seed(db, "test")
    adapted = db.execute(
        "SELECT count(*), count(strategy_id) FROM decisions WHERE outcome = 'adapt'"
    ).fetchone()
    assert adapted[0] >= 1 and adapted[0] == adapted[1]
    with app.test_request_context(), force_locale("nl"):
        counted = {r["name"]: r["rules"] for r in figures.adapted_by_strategy(db)}
    assert counted["Vanuit de cliënt kijken"] >= 1
