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
    decisions.record_decision(
        db, actor, session_id, rule_id, outcome=outcome, rationale="r", **kw
    )
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
