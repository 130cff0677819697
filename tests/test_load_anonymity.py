"""The de-anonymisation attacks of tests/test_anonymity.py at full size: 30 members, 10 rules.
Run with `pytest -m load`."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit import create_app
from audit.core.errors import Conflict
from audit.domain import ballots, sessions
from audit.store.db import connect
from tests import anonymity_attacks as attack
from tests.conftest import make_rule, make_team, make_user

pytestmark = pytest.mark.load

MEMBERS = 30
RULES = 10


def _world(db) -> dict:
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality")
    admin = make_user(db, "boss", "admin")
    members = [make_user(db, f"m{i:02d}", "member", teams=[team]) for i in range(MEMBERS)]
    rule_ids = [make_rule(db, code=f"R{i:02d}", verified_origin="team").id for i in range(RULES)]
    session = sessions.create_session(
        db, fac, title="Groot", team_ids=[team["id"]], rule_ids=rule_ids, anonymous=True
    )
    return {
        "fac": fac,
        "admin": admin,
        "members": members,
        "session": sessions.open_session(db, fac, session.id),
    }


def _choose(index: int, rule_id: int) -> str:
    return ("keep", "adapt", "drop", "abstain")[(index * 7 + rule_id) % 4]


def test_timing_join_and_links_at_full_size(app, db):
    time = attack.Clock()
    w = _world(db)
    session = w["session"]
    voting = attack.log_in_and_vote(app, db, time, session, w["members"], _choose)
    guesses = attack.timing_join(db, session.id)
    assert attack.identified(app.config["SECRET_KEY"], session, w["members"], guesses) == []
    assert attack.times_within(db, voting.first_vote, voting.last_vote) == []
    assert attack.linked_ballots(db, session.id) == []
    assert db.execute("SELECT count(*) FROM ballots").fetchone()[0] == MEMBERS * RULES
    assert sessions.voter_count(db, session.id) == MEMBERS


def test_row_order_at_full_size(tmp_path):
    orders = {"forward": list(range(MEMBERS)), "shuffled": [(i * 11) % MEMBERS for i in range(30)]}
    seen, pages = [], []
    for name, order in orders.items():
        app = create_app(
            {"TESTING": True, "SECRET_KEY": "same", "DATABASE": str(tmp_path / f"{name}.sqlite3")}
        )
        time = attack.Clock()
        db = connect(app.config["DATABASE"])
        w = _world(db)
        attack.log_in_and_vote(app, db, time, w["session"], w["members"], _choose, order=order)
        seen.append(attack.storage_order(db, w["session"].id))
        sessions.close_session(db, w["fac"], w["session"].id)
        pages.append(attack.ballot_pages(Path(app.config["DATABASE"])))
        db.close()
    assert len(seen[0]) == MEMBERS * RULES
    assert seen[0] == seen[1]
    assert len(pages[0]) > 1 and pages[0] == pages[1]  # the file itself, once closed


def test_close_reopen_difference_at_full_size(app, db):
    w = _world(db)
    session, members = w["session"], w["members"]
    secret = app.config["SECRET_KEY"]
    for index, member in enumerate(members[:-1]):
        for rule_id in session.rule_ids:
            ballots.cast_vote(db, secret, member, session.id, rule_id, _choose(index, rule_id))
    before, reopened = attack.close_read_reopen(db, w["fac"], session.id)
    assert before is not None and not reopened
    assert not _reopen(db, w["admin"], session.id)
    last = members[-1]
    for rule_id in session.rule_ids:
        with pytest.raises(Conflict, match="closed"):
            ballots.cast_vote(db, secret, last, session.id, rule_id, "drop")
    after = attack.tallies(ballots.results(db, sessions.get_session(db, session.id)))
    assert attack.difference_attack(before, after) == {}


def _reopen(db, actor, session_id) -> bool:
    try:
        sessions.reopen_session(db, actor, session_id)
    except Conflict:
        return False
    return True
