"""A session past its closing time: every page shows it closed without writing, and the next
write to it (a vote, a close, a decision, a reopen) treats it as closed and stores the close."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import url_for

from audit.core import clock
from audit.core.errors import Conflict
from audit.domain import ballots, decisions, events, protocols, sessions
from tests.conftest import Auth, make_rule, make_team, make_user

SECRET = "test"


@pytest.fixture
def expired(app, db):
    """An open online session whose closing time passed an hour ago, with one vote in it."""
    team = make_team(db, "Vlinder", location="Noord")
    people = {
        "fac": make_user(db, "fac", "quality"),
        "boss": make_user(db, "boss", "admin"),
        "anna": make_user(db, "anna", "member", teams=[team]),
        "vera": make_user(db, "vera", "viewer", teams=[team]),
    }
    protocols.save_protocol(db, None, name="P1")
    rule = make_rule(db, title="Geen taart", verified_origin="team", protocol_id=1)
    start = clock.now().replace(microsecond=0)
    clock.set(start)
    session = sessions.create_session(
        db,
        people["fac"],
        title="Schrapsessie",
        team_ids=[team["id"]],
        rule_ids=[rule.id],
        anonymous=False,
        closes_at=start + timedelta(hours=1),
    )
    session = sessions.open_session(db, people["fac"], session.id)
    ballots.cast_vote(db, SECRET, people["anna"], session.id, rule.id, "drop", "Kan weg")
    clock.set(start + timedelta(hours=2))
    return {**people, "team": team, "rule": rule, "session": session}


def _stored_state(db, session_id: int) -> str:
    return db.execute("SELECT state FROM review_sessions WHERE id = ?", [session_id]).fetchone()[0]


def _pages(app, session_id: int, rule_id: int) -> list[str]:
    """Every page (route with GET) of the app, its ids pointing at the expired session."""
    args = {
        "session_id": session_id,
        "rule_id": rule_id,
        "user_id": 1,
        "team_id": 1,
        "location_id": 1,
        "protocol_id": 1,
        "category_id": 1,
        "strategy_id": 1,
        "report_id": 1,
        "action_id": 1,
        "experiment_id": 1,
    }
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in ("static", "auth.logout"):
                continue
            urls.append(url_for(rule.endpoint, **{k: args[k] for k in rule.arguments}))
    return sorted(set(urls))


@pytest.mark.parametrize("username", ["boss", "fac", "anna", "vera"])
def test_no_page_records_the_close(app, db, expired, username):
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    session_id = expired["session"].id
    before = list(db.conn.iterdump())
    statuses = {url: client.get(url).status_code for url in _pages(app, session_id, 1)}
    assert set(statuses.values()) <= {200, 302, 403, 404}, statuses
    assert statuses[f"/sessions/{session_id}"] == 200
    assert list(db.conn.iterdump()) == before
    assert _stored_state(db, session_id) == "open"
    # ...while every page shows it closed.
    for url in ("/sessions/", f"/sessions/{session_id}"):
        html = client.get(url).get_data(as_text=True)
        assert "state-closed" in html and "state-open" not in html, url


def _close_event(db, session_id: int) -> list[dict]:
    return [
        e
        for e in events.history(db, "review_session", session_id)
        if e["action"] == "close" and e["actor_id"] is None
    ]


def _vote(db, w):
    with pytest.raises(Conflict, match="closed"):
        ballots.cast_ballot(db, SECRET, w["anna"], w["session"].id, {w["rule"].id: ("keep", "")})


def _vote_one(db, w):
    with pytest.raises(Conflict, match="closed"):
        ballots.cast_vote(db, SECRET, w["anna"], w["session"].id, w["rule"].id, "keep")


def _close(db, w):
    with pytest.raises(Conflict, match="Only an open session"):
        sessions.close_session(db, w["fac"], w["session"].id)


def _decide(db, w):
    decisions.record_decision(
        db, w["fac"], w["session"].id, w["rule"].id, outcome="drop", rationale="Kan weg"
    )


def _reopen(db, w):
    reopened = sessions.reopen_session(db, w["fac"], w["session"].id)
    assert reopened.state == "open" and reopened.closes_at is None


@pytest.mark.parametrize(
    "write", [_vote, _vote_one, _close, _decide, _reopen], ids=lambda f: f.__name__[1:]
)
def test_the_next_write_stores_the_close(db, expired, write):
    session_id = expired["session"].id
    assert _close_event(db, session_id) == []
    write(db, expired)
    assert len(_close_event(db, session_id)) == 1
    if write is not _reopen:
        assert _stored_state(db, session_id) == "closed"
    # The vote cast before the closing time is kept; the refused one is not there.
    assert db.execute("SELECT choice FROM ballots").fetchall() == [("drop",)]
