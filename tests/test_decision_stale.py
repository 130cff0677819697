"""Two people deciding on one rule from two open pages: the second save does not overwrite the
first (docs/design.md, "Decisions"); it says so and keeps what was typed."""

from __future__ import annotations

import re

import pytest

from audit.core.errors import Conflict
from audit.domain import decisions, sessions
from tests.conftest import Auth, make_rule, make_team, make_user, post


@pytest.fixture
def world(app, db):
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality")
    make_user(db, "boss", "admin")
    rule = make_rule(db, code="A-1", title="Taart", minutes_per_week=60, team_ids=[team["id"]])
    session = sessions.create_session(
        db, fac, title="Voorjaar", team_ids=[team["id"]], rule_ids=[rule.id], mode="hands"
    )
    sessions.open_session(db, fac, session.id)
    sessions.close_session(db, fac, session.id)

    def client(name):
        c = app.test_client()
        assert Auth(c).login(name).status_code == 302
        return c

    return {"fac": fac, "rule": rule, "session": session, "client": client}


def _seen(page: str, rule_id: int) -> str:
    return re.search(rf'name="d{rule_id}-seen" type="hidden" value="([^"]*)"', page).group(1)


def test_a_decision_changed_since_the_page_was_opened_is_not_overwritten(db, world):
    rule, session = world["rule"], world["session"]
    url = f"/sessions/{session.id}"
    fac, boss = world["client"]("fac"), world["client"]("boss")
    fac_seen = _seen(fac.get(url).get_data(as_text=True), rule.id)
    boss_seen = _seen(boss.get(url).get_data(as_text=True), rule.id)
    assert fac_seen == boss_seen == ""  # nothing decided yet
    decide = f"{url}/rules/{rule.id}/decision"
    keep = {f"d{rule.id}-outcome": "keep", f"d{rule.id}-rationale": "Het team wil hem houden"}
    assert (
        post(boss, decide, {**keep, f"d{rule.id}-seen": boss_seen}, token_from=url).status_code
        == 302
    )
    drop = {f"d{rule.id}-outcome": "drop", f"d{rule.id}-rationale": "Niemand mist hem"}
    response = post(fac, decide, {**drop, f"d{rule.id}-seen": fac_seen}, token_from=url)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Niemand mist hem" in text  # kept as typed
    assert "sinds u de pagina opende" in text
    assert decisions.list_decisions(db, session.id)[rule.id]["outcome"] == "keep"
    # Reloaded, the page carries the new decision's token, and a save goes through.
    fresh = _seen(fac.get(url).get_data(as_text=True), rule.id)
    assert fresh and fresh != fac_seen
    post(fac, decide, {**drop, f"d{rule.id}-seen": fresh}, token_from=url)
    assert decisions.list_decisions(db, session.id)[rule.id]["outcome"] == "drop"


def test_the_domain_compares_the_token(db, world):
    rule, session, fac = world["rule"], world["session"], world["fac"]
    first = decisions.record_decision(
        db, fac, session.id, rule.id, outcome="keep", rationale="Houden", expected_token=""
    )
    with pytest.raises(Conflict):
        decisions.record_decision(
            db, fac, session.id, rule.id, outcome="drop", rationale="Weg", expected_token=""
        )
    decisions.record_decision(
        db,
        fac,
        session.id,
        rule.id,
        outcome="drop",
        rationale="Weg",
        expected_token=decisions.version_token(decisions.list_decisions(db, session.id)[rule.id]),
    )
    assert first["outcome"] == "keep"
    assert decisions.list_decisions(db, session.id)[rule.id]["outcome"] == "drop"
