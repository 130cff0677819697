"""Experiments without a rule (docs/design.md, "Experiments"): every state change, the guard on
mandatory rules, the figures during and after, observations and their access, the follow-up
session and where a suspension shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError
from audit.domain import decisions, events, experiments, figures, sessions
from audit.domain.figures import Scope
from audit.domain.history import HistoryLookup
from tests.conftest import Auth, make_rule, make_team, make_user, post

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _closed_session(db, actor, team_ids, rule_ids):
    session = sessions.create_session(
        db, actor, title="Voorjaar", team_ids=team_ids, rule_ids=rule_ids, mode="hands"
    )
    sessions.open_session(db, actor, session.id)
    sessions.close_session(db, actor, session.id)
    return sessions.get_session(db, session.id)


@pytest.fixture
def world(app, db):
    """Teams Vlinder and Zon share rule A (60 minutes a week); a closed session of both."""
    clock.set(START)
    vlinder = make_team(db, "Vlinder")
    zon = make_team(db, "Zon")
    people = {
        "fac": make_user(db, "fac", "quality", language="en"),
        "anna": make_user(db, "anna", "member", teams=[vlinder], language="en"),
        "zoe": make_user(db, "zoe", "member", teams=[zon], language="en"),
        "otto": make_user(db, "otto", "member", teams=[make_team(db, "Maan")], language="en"),
        "vera": make_user(db, "vera", "viewer", language="en"),
    }
    rule = make_rule(
        db,
        code="A",
        title="Taart",
        team_ids=[vlinder["id"], zon["id"]],
        minutes_per_week=60,
        verified_origin="team",
    )
    law = make_rule(
        db, code="L", title="Medicatie", team_ids=[vlinder["id"]], verified_origin="law"
    )
    session = _closed_session(db, people["fac"], [vlinder["id"], zon["id"]], [rule.id, law.id])
    return {**people, "rule": rule, "law": law, "session": session, "vlinder": vlinder, "zon": zon}


def _client(app, user):
    client = app.test_client()
    assert Auth(client).login(user.username).status_code == 302
    return client


def _try_without(db, world, weeks=None, teams=None, rule=None):
    rule = rule or world["rule"]
    decisions.record_decision(
        db,
        world["fac"],
        world["session"].id,
        rule.id,
        outcome="experiment",
        rationale="Eens proberen.",
        experiment_weeks=weeks,
        experiment_team_ids=teams,
    )
    decisions.apply_decision(db, world["fac"], world["session"].id, rule.id)
    return experiments.for_rule(db, rule.id)[0]


def test_experiment_defaults_to_eight_weeks_for_the_sessions_teams(db, world):
    found = _try_without(db, world)
    assert found["starts_on"] == "2026-03-02"
    assert found["ends_on"] == (date(2026, 3, 2) + timedelta(weeks=8)).isoformat()
    assert found["team_ids"] == sorted([world["vlinder"]["id"], world["zon"]["id"]])
    assert found["effective_state"] == "running"
    rule_events = [e for e in events.history(db, "rule", world["rule"].id)]
    assert any(e["action"] == "experiment_start" for e in rule_events)


def test_experiment_scope_and_period_are_checked(db, world):
    for weeks in (0, 27):
        with pytest.raises(ValidationError) as raised:
            decisions.record_decision(
                db,
                world["fac"],
                world["session"].id,
                world["rule"].id,
                outcome="experiment",
                rationale="x",
                experiment_weeks=weeks,
            )
        assert "experiment_weeks" in raised.value.errors
    other = make_team(db, "Elders")
    with pytest.raises(ValidationError) as raised:
        decisions.record_decision(
            db,
            world["fac"],
            world["session"].id,
            world["rule"].id,
            outcome="experiment",
            rationale="x",
            experiment_team_ids=[other["id"]],
        )
    assert "experiment_team_ids" in raised.value.errors
    found = _try_without(db, world, weeks=26, teams=[world["vlinder"]["id"]])
    assert found["team_ids"] == [world["vlinder"]["id"]]
    assert found["ends_on"] == (date(2026, 3, 2) + timedelta(weeks=26)).isoformat()


def test_experiment_on_a_mandatory_rule_is_refused_as_a_drop_is(db, world):
    with pytest.raises(ValidationError) as raised:
        decisions.record_decision(
            db,
            world["fac"],
            world["session"].id,
            world["law"].id,
            outcome="experiment",
            rationale="x",
        )
    assert "outcome" in raised.value.errors
    assert db["experiments"].count == 0


def test_mandatory_traced_after_recording_is_refused_when_applying(db, world):
    decisions.record_decision(
        db,
        world["fac"],
        world["session"].id,
        world["rule"].id,
        outcome="experiment",
        rationale="x",
    )
    db.execute("UPDATE rules SET verified_origin = 'law' WHERE id = ?", [world["rule"].id])
    db.conn.commit()
    with pytest.raises(ValidationError):
        decisions.apply_decision(db, world["fac"], world["session"].id, world["rule"].id)
    assert db["experiments"].count == 0


def test_ended_is_read_from_the_date_and_a_drop_closes_it_for_good(db, world):
    found = _try_without(db, world, weeks=2)
    clock.set(START + timedelta(weeks=2))
    assert experiments.get_experiment(db, found["id"])["effective_state"] == "ended"
    assert [e["id"] for e in experiments.waiting_for_decision(db)] == [found["id"]]
    follow = experiments.start_follow_up(db, world["fac"], found["id"])
    assert follow.state == "draft" and follow.rule_ids == [world["rule"].id]
    assert follow.team_ids == found["team_ids"]
    with pytest.raises(Conflict):
        experiments.start_follow_up(db, world["fac"], found["id"])
    sessions.open_session(db, world["fac"], follow.id)
    sessions.close_session(db, world["fac"], follow.id)
    decisions.record_decision(
        db, world["fac"], follow.id, world["rule"].id, outcome="drop", rationale="Ging goed."
    )
    decisions.apply_decision(db, world["fac"], follow.id, world["rule"].id)
    closed = experiments.get_experiment(db, found["id"])
    assert closed["state"] == "closed" and closed["effective_state"] == "closed"
    assert experiments.waiting_for_decision(db) == []
    with pytest.raises(Conflict):
        experiments.start_follow_up(db, world["fac"], found["id"])


def test_extend_once_to_at_most_26_weeks(db, world):
    found = _try_without(db, world, weeks=8)
    clock.set(START + timedelta(weeks=8))
    follow = experiments.start_follow_up(db, world["fac"], found["id"])
    sessions.open_session(db, world["fac"], follow.id)
    sessions.close_session(db, world["fac"], follow.id)
    decisions.record_decision(
        db,
        world["fac"],
        follow.id,
        world["rule"].id,
        outcome="experiment",
        rationale="Langer.",
        experiment_weeks=19,
    )
    with pytest.raises(ValidationError):
        decisions.apply_decision(db, world["fac"], follow.id, world["rule"].id)
    decisions.record_decision(
        db,
        world["fac"],
        follow.id,
        world["rule"].id,
        outcome="experiment",
        rationale="Langer.",
        experiment_weeks=18,
    )
    decisions.apply_decision(db, world["fac"], follow.id, world["rule"].id)
    extended = experiments.get_experiment(db, found["id"])
    assert extended["extended"] == 1 and extended["effective_state"] == "running"
    assert extended["ends_on"] == (date(2026, 3, 2) + timedelta(weeks=26)).isoformat()
    assert db["experiments"].count == 1
    with pytest.raises(ValidationError) as raised:
        decisions.record_decision(
            db,
            world["fac"],
            follow.id,
            world["rule"].id,
            outcome="experiment",
            rationale="Nog langer.",
            experiment_weeks=1,
        )
    assert "outcome" in raised.value.errors
    with pytest.raises(ValidationError):
        experiments.extend(
            db,
            world["fac"],
            {**decisions.get_decision(db, follow.id, world["rule"].id), "experiment_weeks": 1},
            found["id"],
        )


def test_a_closed_experiment_is_not_reopened_only_a_new_one_started(db, world):
    found = _try_without(db, world, weeks=1)
    clock.set(START + timedelta(weeks=1))
    follow = experiments.start_follow_up(db, world["fac"], found["id"])
    sessions.open_session(db, world["fac"], follow.id)
    sessions.close_session(db, world["fac"], follow.id)
    decisions.record_decision(
        db, world["fac"], follow.id, world["rule"].id, outcome="keep", rationale="Toch nodig."
    )
    decisions.apply_decision(db, world["fac"], follow.id, world["rule"].id)
    with pytest.raises(Conflict):
        experiments.extend(
            db,
            world["fac"],
            {"experiment_weeks": 2, "session_id": follow.id, "rationale": "x"},
            found["id"],
        )
    again = _closed_session(db, world["fac"], [world["vlinder"]["id"]], [world["rule"].id])
    decisions.record_decision(
        db, world["fac"], again.id, world["rule"].id, outcome="experiment", rationale="Nog eens."
    )
    decisions.apply_decision(db, world["fac"], again.id, world["rule"].id)
    assert [e["state"] for e in experiments.for_rule(db, world["rule"].id)] == ["running", "closed"]


def test_a_second_experiment_on_a_running_rule_is_refused(db, world):
    _try_without(db, world)
    again = _closed_session(db, world["fac"], [world["vlinder"]["id"]], [world["rule"].id])
    decisions.record_decision(
        db, world["fac"], again.id, world["rule"].id, outcome="experiment", rationale="x"
    )
    with pytest.raises(Conflict):
        decisions.apply_decision(db, world["fac"], again.id, world["rule"].id)


def test_figures_during_and_after_an_experiment(db, world):
    before = figures.headline(db)
    found = _try_without(db, world, weeks=4, teams=[world["vlinder"]["id"]])
    during = figures.headline(db)
    # In force and costing its minutes, giving back nothing yet; suspended for Vlinder only.
    assert during["total"] == before["total"]
    assert during["minutes_per_week_all"] == before["minutes_per_week_all"]
    assert during["minutes_per_week_given_back"] == 0
    assert (during["suspended"], during["minutes_per_week_suspended"]) == (1, 60)
    vlinder = figures.headline(db, Scope(team=world["vlinder"]["id"]))
    zon = figures.headline(db, Scope(team=world["zon"]["id"]))
    assert vlinder["suspended"] == 1
    # Suspended for Vlinder only: it still binds Zon, in force there like before.
    assert zon["suspended"] == 0
    assert zon["total"] == figures.headline(db, Scope(team=world["zon"]["id"]))["total"] == 1
    clock.set(START + timedelta(weeks=4))
    follow = experiments.start_follow_up(db, world["fac"], found["id"])
    sessions.open_session(db, world["fac"], follow.id)
    sessions.close_session(db, world["fac"], follow.id)
    decisions.record_decision(
        db, world["fac"], follow.id, world["rule"].id, outcome="drop", rationale="Weg ermee."
    )
    decisions.apply_decision(db, world["fac"], follow.id, world["rule"].id)
    after = figures.headline(db)
    assert after["minutes_per_week_given_back"] == 60
    assert after["suspended"] == 0
    assert after["total"] == before["total"] - 1


def test_observations_by_the_teams_and_quality_only(db, world):
    found = _try_without(db, world, teams=[world["vlinder"]["id"]])
    experiments.record_observation(
        db,
        world["anna"],
        found["id"],
        observed_on=None,
        what="Rustiger aan tafel",
        effect="supports",
        incident=False,
        incident_text="",
    )
    experiments.record_observation(
        db,
        world["fac"],
        found["id"],
        observed_on="2026-03-02",
        what="Niets bijzonders",
        effect="neutral",
        incident=True,
        incident_text="Val in de gang",
    )
    with pytest.raises(NotFound):
        experiments.record_observation(
            db,
            world["zoe"],
            found["id"],
            observed_on=None,
            what="x",
            effect="neutral",
            incident=False,
            incident_text="",
        )
    with pytest.raises(Conflict):
        experiments.record_observation(
            db,
            world["vera"],
            found["id"],
            observed_on=None,
            what="x",
            effect="neutral",
            incident=False,
            incident_text="",
        )
    with pytest.raises(ValidationError) as raised:
        experiments.record_observation(
            db,
            world["anna"],
            found["id"],
            observed_on="2030-01-01",
            what="",
            effect="bad",
            incident=True,
            incident_text="",
        )
    assert set(raised.value.errors) == {"observed_on", "what", "effect", "incident_text"}
    listed = experiments.observations(db, found["id"])
    assert [o["effect"] for o in listed] == ["neutral", "supports"]
    assert {o["incident_text"] for o in listed} == {"", "Val in de gang"}


# --- the pages ------------------------------------------------------------------------------


def test_decide_try_without_on_the_results_page(app, db, world):
    client = _client(app, world["fac"])
    url = f"/sessions/{world['session'].id}/rules/{world['rule'].id}/decision"
    prefix = f"d{world['rule'].id}-"
    page = client.get(f"/sessions/{world['session'].id}")
    assert b"Try without the rule" in page.data and b"experiment_team_ids" in page.data
    refused = post(
        client,
        url,
        {
            prefix + "outcome": "experiment",
            prefix + "rationale": "x",
            prefix + "experiment_weeks": "30",
        },
        token_from=f"/sessions/{world['session'].id}",
    )
    assert refused.status_code == 200 and b'id="d1-experiment_weeks-error"' in refused.data
    refused = post(
        client,
        url,
        {
            prefix + "outcome": "experiment",
            prefix + "rationale": "x",
            prefix + "experiment_weeks": "0",
        },
        token_from=f"/sessions/{world['session'].id}",
    )
    assert b"Choose from 1 to 26 weeks." in refused.data
    done = post(
        client,
        url,
        {
            prefix + "outcome": "experiment",
            prefix + "rationale": "Proberen",
            prefix + "experiment_weeks": "6",
            prefix + "experiment_team_ids": str(world["vlinder"]["id"]),
            "apply": "1",
        },
        token_from=f"/sessions/{world['session'].id}",
    )
    assert done.status_code == 302
    found = experiments.for_rule(db, world["rule"].id)[0]
    assert found["team_ids"] == [world["vlinder"]["id"]]
    assert found["ends_on"] == (date(2026, 3, 2) + timedelta(weeks=6)).isoformat()
    rule_page = client.get(f"/rules/{world['rule'].id}").get_data(as_text=True)
    assert "suspended for Vlinder until" in rule_page
    # The rule's history names the start, its period and its teams.
    assert "experiment started" in rule_page and "Without the rule until" in rule_page
    register = client.get("/rules").get_data(as_text=True)
    assert "suspended for Vlinder until" in register
    team_page = client.get(f"/teams/{world['vlinder']['id']}").get_data(as_text=True)
    assert "Rules this team tries without" in team_page and "suspended for Vlinder" in team_page
    # It still binds Zon: nothing on Zon's page.
    zon_page = client.get(f"/teams/{world['zon']['id']}").get_data(as_text=True)
    assert "Rules this team tries without" not in zon_page


def test_observation_page_for_the_team_and_404_for_another(app, db, world):
    found = _try_without(db, world, teams=[world["vlinder"]["id"]])
    url = f"/experiments/{found['id']}"
    client = _client(app, world["anna"])
    page = client.get(url)
    assert page.status_code == 200 and b"Record an observation" in page.data
    refused = post(client, url + "/observations", {"what": "", "effect": ""}, token_from=url)
    assert refused.status_code == 422 and b"Write down what happened." in refused.data
    saved = post(
        client,
        url + "/observations",
        {"observed_on": "2026-03-02", "what": "Rustig", "effect": "supports"},
        token_from=url,
    )
    assert saved.status_code == 302
    assert "Rustig" in client.get(url).get_data(as_text=True)
    other = _client(app, world["zoe"])
    assert other.get(url).status_code == 404
    assert other.post(url + "/observations", data={"what": "x"}).status_code in (400, 404)
    viewer = _client(app, world["vera"])
    seen = viewer.get(url)
    assert seen.status_code == 200 and b"Record an observation" not in seen.data


def test_report_shows_the_suspension_and_imports_again(app, db, world, imp, tmp_path):
    from io import BytesIO

    import openpyxl

    from audit.domain.register import RuleFilter
    from audit.xlsx import export as xlsx_export

    _try_without(db, world, teams=[world["vlinder"]["id"]])
    buffer = BytesIO()
    with app.test_request_context():
        xlsx_export.export_report(db, buffer, lang="en", rule_filter=RuleFilter())
    sheet = openpyxl.load_workbook(BytesIO(buffer.getvalue()))["Register"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "Suspended by an experiment"
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["A"][-1].startswith("suspended for Vlinder until")
    assert by_code["L"][-1] is None
    # The importer skips the derived column without a word: nothing changes.
    path = tmp_path / "report.xlsx"
    path.write_bytes(buffer.getvalue())
    plan = imp(path)
    assert plan.ignored_columns == []
    assert plan.summary()["unchanged"] == 2 and plan.summary()["update"] == 0


def test_ended_experiment_on_the_start_page_and_work_list_then_one_click(app, db, world):
    found = _try_without(db, world, weeks=2, teams=[world["vlinder"]["id"]])
    experiments.record_observation(
        db,
        world["anna"],
        found["id"],
        observed_on=None,
        what="Bewoners blij",
        effect="supports",
        incident=False,
        incident_text="",
    )
    client = _client(app, world["fac"])
    assert b"Experiments ended: decide" not in client.get("/").data
    clock.set(START + timedelta(weeks=2))
    # Reading the pages writes nothing: the end is read from the date.
    versions = db.execute("SELECT state, version FROM experiments").fetchall()
    start_page = client.get("/").get_data(as_text=True)
    assert "Experiments ended: decide" in start_page
    assert "experiment ended: decide" in client.get("/tracing").get_data(as_text=True)
    assert "experiment ended: decide" in client.get("/rules").get_data(as_text=True)
    assert db.execute("SELECT state, version FROM experiments").fetchall() == versions
    member = _client(app, world["anna"])
    assert b"Experiments ended: decide" not in member.get("/").data
    made = post(client, f"/experiments/{found['id']}/follow-up", token_from="/")
    assert made.status_code == 302
    follow = sessions.get_session(db, int(made.headers["Location"].rsplit("/", 1)[1]))
    assert follow.state == "draft" and follow.experiment_id == found["id"]
    assert follow.rule_ids == [world["rule"].id] and follow.team_ids == [world["vlinder"]["id"]]
    again = post(client, f"/experiments/{found['id']}/follow-up", token_from="/")
    assert again.status_code == 302 and len(sessions.all_sessions(db)) == 2
    sessions.update_session(
        db,
        world["fac"],
        follow.id,
        title=follow.title,
        team_ids=follow.team_ids,
        rule_ids=follow.rule_ids,
        mode="online",
        anonymous=False,
    )
    sessions.open_session(db, world["fac"], follow.id)
    ballot = member.get(f"/sessions/{follow.id}/vote").get_data(as_text=True)
    assert "What the teams saw without A" in ballot and "Bewoners blij" in ballot
    sessions.close_session(db, world["fac"], follow.id)
    results = client.get(f"/sessions/{follow.id}").get_data(as_text=True)
    assert "Bewoners blij" in results


def test_the_demo_has_a_running_and_an_ended_experiment(app, db):
    from audit import demo

    with app.app_context():
        demo.seed(db, app.config["SECRET_KEY"])
    rows = [experiments.get_experiment(db, r["id"]) for r in db.query("SELECT id FROM experiments")]
    assert sorted(r["effective_state"] for r in rows) == ["ended", "running"]
    assert [r["code"] for r in experiments.waiting_for_decision(db)] == [
        r["code"] for r in rows if r["effective_state"] == "ended"
    ]
    for row in rows:
        assert experiments.observations(db, row["id"])
    assert figures.headline(db)["suspended"] == 2


def test_observation_text_is_escaped(app, db, world):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    found = _try_without(db, world, teams=[world["vlinder"]["id"]])
    experiments.record_observation(
        db,
        world["anna"],
        found["id"],
        observed_on=None,
        what=payload,
        effect="hinders",
        incident=True,
        incident_text=payload,
    )
    html = _client(app, world["fac"]).get(f"/experiments/{found['id']}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(1)") == 2


def test_the_dashboard_and_team_page_count_the_suspension_per_team(app, db, world):
    _try_without(db, world, teams=[world["vlinder"]["id"]])
    client = _client(app, world["fac"])
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'id="fig-suspended"' in dashboard and "(60 minutes per week)" in dashboard
    vlinder = client.get(f"/teams/{world['vlinder']['id']}").get_data(as_text=True)
    zon = client.get(f"/teams/{world['zon']['id']}").get_data(as_text=True)
    assert 'id="fig-suspended"' in vlinder and 'id="fig-suspended"' not in zon


def test_the_decisions_history_names_the_teams_that_try_without_it(app, db, world):
    """The decision's event keeps the teams as ids; the session's history says their names."""
    decisions.record_decision(
        db,
        world["fac"],
        world["session"].id,
        world["rule"].id,
        outcome="experiment",
        rationale="Eens proberen",
        experiment_team_ids=[world["zon"]["id"]],
    )
    logged = events.history(db, "review_session", world["session"].id)[0]
    assert logged["changes"]["experiment_team_ids"] == [None, [world["zon"]["id"]]]
    with app.test_request_context():
        lookup = HistoryLookup(db)
        assert lookup.value("experiment_team_ids", [world["zon"]["id"]]) == "Zon"
