"""Review 17: defects found by attacking experiments, actions, council advice and concerns.
Each test names the behaviour that should hold and fails on the code as reviewed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.core import clock
from audit.core.errors import Conflict
from audit.domain import decisions, experiments, sessions
from tests.test_experiments import START, _try_without, world  # noqa: F401


def _decide(db, actor, session_id, rule_id, outcome, **kw):
    decisions.record_decision(db, actor, session_id, rule_id, outcome=outcome, rationale="r", **kw)
    return decisions.apply_decision(db, actor, session_id, rule_id)


def _run(db, actor, session_id):
    sessions.open_session(db, actor, session_id)
    sessions.close_session(db, actor, session_id)


def test_an_extended_experiment_that_ended_gets_its_follow_up_session(db, world):  # noqa: F811
    found = _try_without(db, world, weeks=4)
    clock.set(START + timedelta(weeks=4))
    follow = experiments.start_follow_up(db, world["fac"], found["id"])
    _run(db, world["fac"], follow.id)
    _decide(db, world["fac"], follow.id, world["rule"].id, "experiment", experiment_weeks=4)
    clock.set(START + timedelta(weeks=8))
    assert experiments.get_experiment(db, found["id"])["effective_state"] == "ended"
    # The extension ended: "experiment ended: decide", one click starts the session that decides.
    second = experiments.start_follow_up(db, world["fac"], found["id"])
    assert second.id != follow.id and second.experiment_id == found["id"]


def test_advice_given_on_one_decision_does_not_clear_another_under_required(app, db):
    from audit.domain import council
    from tests.conftest import make_rule, make_team, make_user
    from tests.test_council import _set

    clock.set(START)
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality", language="en")
    rule = make_rule(
        db, code="A", title="Taart", team_ids=[team["id"]], values_touched=["autonomy"]
    )
    session = sessions.create_session(
        db, fac, title="V", team_ids=[team["id"]], rule_ids=[rule.id], mode="hands"
    )
    _run(db, fac, session.id)
    _set(db, "required")
    decisions.record_decision(db, fac, session.id, rule.id, outcome="keep", rationale="Blijft.")
    council.record_advice(
        db,
        fac,
        session.id,
        rule.id,
        advised_on="2026-03-01",
        advice="Behouden.",
        followed="yes",
        reason="",
        expected_version=0,
    )
    # The council advised (and the decision "followed") a keep; the decision is now a drop.
    decisions.record_decision(db, fac, session.id, rule.id, outcome="drop", rationale="Weg.")
    with pytest.raises(Conflict):
        decisions.apply_decision(db, fac, session.id, rule.id)


def test_a_confirmed_drop_does_not_apply_a_decision_changed_since_the_confirm_page(
    app,
    db,
    world,  # noqa: F811
):
    from tests.conftest import post
    from tests.test_experiments import _client

    session_id, rule_id = world["session"].id, world["rule"].id
    decisions.record_decision(
        db, world["fac"], session_id, rule_id, outcome="drop", rationale="Weg ermee."
    )
    client = _client(app, world["fac"])
    url = f"/sessions/{session_id}/rules/{rule_id}/apply"
    page = client.get(url)
    assert page.status_code == 200  # the confirm page shows the drop
    # Meanwhile, in another tab, the decision becomes "try without" for both teams.
    decisions.record_decision(
        db, world["fac"], session_id, rule_id, outcome="experiment", rationale="Toch proberen."
    )
    post(client, url, data={"confirm": "1"}, token_from=f"/sessions/{session_id}")
    # What was confirmed was a drop; an experiment nobody confirmed must not start.
    assert decisions.get_decision(db, session_id, rule_id)["applied_at"] is None
    assert db["experiments"].count == 0


def test_an_observation_sent_twice_from_a_phone_is_recorded_once(app, db, world):  # noqa: F811
    from tests.conftest import post
    from tests.test_experiments import _client

    found = _try_without(db, world)
    client = _client(app, world["anna"])
    url = f"/experiments/{found['id']}"
    token_page = client.get(url)
    assert token_page.status_code == 200
    data = {"observed_on": "2026-03-02", "what": "Rustig ontbijt.", "effect": "supports"}
    # A double tap (or a resend after a slow network) posts the same form twice.
    first = post(client, f"{url}/observations", data=data, token_from=url)
    second = post(client, f"{url}/observations", data=data, token_from=url)
    assert first.status_code == 302 and second.status_code in (302, 409, 422)
    assert len(experiments.observations(db, found["id"])) == 1


def test_an_extension_does_not_record_teams_it_ignores(db, world):  # noqa: F811
    from audit.core.errors import ValidationError

    found = _try_without(db, world, weeks=4)
    assert len(found["team_ids"]) == 2
    clock.set(START + timedelta(weeks=4))
    follow = experiments.start_follow_up(db, world["fac"], found["id"])
    _run(db, world["fac"], follow.id)
    vlinder = world["vlinder"]["id"]
    try:
        _decide(
            db,
            world["fac"],
            follow.id,
            world["rule"].id,
            "experiment",
            experiment_weeks=4,
            experiment_team_ids=[vlinder],
        )
    except ValidationError:
        return  # refusing a scope the extension cannot honour is right too
    decided = decisions.get_decision(db, follow.id, world["rule"].id)
    # The decision says "only Vlinder goes on without the rule"; the experiment must agree.
    assert experiments.get_experiment(db, found["id"])["team_ids"] == experiments.decided_teams(
        decided
    )


def test_a_rule_traced_to_the_law_is_not_left_suspended_by_a_running_experiment(
    db,
    world,  # noqa: F811
):
    from audit.core.errors import ValidationError
    from audit.domain import figures, rules

    _try_without(db, world)
    try:
        rules.trace(db, world["fac"], world["rule"].id, verified_origin="law")
    except (Conflict, ValidationError):
        return  # refusing the trace while the team works without the rule is right too
    assert rules.get_rule(db, world["rule"].id).mandatory
    # A mandatory rule binds everyone: no team may go on working without it.
    assert figures.suspended(db)["suspended"] == 0
    assert experiments.open_for_rules(db, [world["rule"].id]) == {}
