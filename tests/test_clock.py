"""One clock: a test sets the time once, with clock.set, and every module sees it."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import audit
from audit.core import clock
from audit.domain import events, register, rules, sessions, users
from tests.conftest import PASSWORD, make_rule, make_team, make_user

MOMENT = datetime(2031, 5, 6, 10, 0, 0, tzinfo=UTC)
PACKAGE = Path(audit.__file__).parent


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "clock.py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_keeps_its_own_copy_of_the_clock(path):
    """``from audit.core.clock import now`` binds the function at import time, so setting the clock
    would pass that module by; every module looks the clock up when it calls it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    copied = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "audit.core.clock"
        for alias in node.names
    ]
    assert copied == [], f"{path.name}: call clock.{copied[0]}() instead"


def test_setting_the_clock_once_moves_every_module(db):
    clock.set(MOMENT)
    stamp = MOMENT.isoformat()
    # users: the account's creation time and the lockout that follows repeated failures.
    quality = make_user(db, "quality", "quality")
    team = make_team(db, "Vlinder")
    member = make_user(db, "anna", "member", teams=[team])
    assert db.execute("SELECT created_at FROM users WHERE id = ?", [quality.id]).fetchone()[0] == (
        stamp
    )
    # rules: stamps and the verification date; events: the time of each entry.
    rule = make_rule(db, title="Geen taart", review_due=date(2031, 5, 7))
    traced = rules.trace(db, quality, rule.id, verified_origin="team", source_reference="Overleg")
    assert traced.verified_on == MOMENT.date()
    assert events.history(db, "rule", rule.id)[0]["at"] == stamp
    assert db.execute("SELECT updated_at FROM rules WHERE id = ?", [rule.id]).fetchone()[0] == (
        stamp
    )
    # sessions: whether the closing time has passed.
    session = sessions.create_session(
        db,
        quality,
        title="S",
        team_ids=[team["id"]],
        rule_ids=[rule.id],
        closes_at=MOMENT + timedelta(hours=1),
    )
    session = sessions.open_session(db, quality, session.id)
    assert session.effective_state == "open"
    assert not traced.review_overdue
    assert register.count(db, register.RuleFilter(overdue=True)) == 0

    # One call moves them all: two days on, the session has closed, the review date passed.
    clock.set(MOMENT + timedelta(days=2))
    assert sessions.get_session(db, session.id).effective_state == "closed"
    assert rules.get_rule(db, rule.id).review_overdue
    assert register.count(db, register.RuleFilter(overdue=True)) == 1
    # users: the lockout set from repeated failures ends when the clock says so.
    for _ in range(3):
        with pytest.raises(users.LoginFailed):
            users.authenticate(db, "anna", "wrong password", max_failures=3)
    with pytest.raises(users.LoginFailed):
        users.authenticate(db, "anna", PASSWORD, max_failures=3, lockout_minutes=15)
    clock.advance(timedelta(minutes=16))
    assert users.authenticate(db, "anna", PASSWORD, max_failures=3).id == member.id


def test_set_as_a_block_puts_the_time_back():
    with clock.set(MOMENT):
        assert clock.now() == MOMENT and clock.now_iso() == MOMENT.isoformat()
        with clock.set(MOMENT + timedelta(days=1)):
            assert clock.today() == date(2031, 5, 7)
        assert clock.today() == date(2031, 5, 6)
    assert clock.now() != MOMENT and abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
