"""Review sessions: the state machine, ballots, anonymity, show of hands, results, decisions."""

import sqlite3
import threading
from datetime import timedelta

import pytest

from audit.core import clock
from audit.core.errors import Conflict, ValidationError
from audit.domain import ballots, decisions, events, figures, rules, sessions, strategies
from audit.store.db import connect
from tests.conftest import make_rule, make_team, make_user

SECRET = "test"


@pytest.fixture
def world(db):
    vlinder = make_team(db, "Vlinder")
    zon = make_team(db, "Zon")
    people = {
        "fac": make_user(db, "fac", "quality"),
        "other_q": make_user(db, "otherq", "quality"),
        "admin": make_user(db, "boss", "admin"),
        "anna": make_user(db, "anna", "member", teams=[vlinder], display_name="Anna de Wit"),
        "bert": make_user(db, "bert", "member", teams=[vlinder], display_name="Bert Bos"),
        "cor": make_user(db, "cor", "member", teams=[vlinder]),
        "zoe": make_user(db, "zoe", "member", teams=[zon]),
        "vera": make_user(db, "vera", "viewer", teams=[vlinder]),
    }
    rule_a = make_rule(db, code="A", verified_origin="team", minutes_per_week=120)
    rule_b = make_rule(db, code="B", verified_origin="law", source_reference="Wzd art. 2")
    rule_c = make_rule(db, code="C")
    return {"vlinder": vlinder, "zon": zon, **people, "a": rule_a, "b": rule_b, "c": rule_c}


def _session(db, w, **fields):
    values = {
        "title": "Schrapsessie",
        "team_ids": [w["vlinder"]["id"]],
        "rule_ids": [w["a"].id, w["b"].id, w["c"].id],
        "mode": "online",
        "anonymous": True,
    }
    values.update(fields)
    return sessions.create_session(db, w["fac"], **values)


def _open(db, w, **fields):
    session = _session(db, w, **fields)
    return sessions.open_session(db, w["fac"], session.id)


def _vote(db, w, session, who, rule, choice, reason=""):
    ballots.cast_vote(db, SECRET, w[who], session.id, w[rule].id, choice, reason)


# --- the state machine ----------------------------------------------------------------------


def test_create_with_defaults(db, world):
    session = _session(db, world)
    assert session.state == "draft"
    assert session.quorum == 2  # half of 3 members (viewer excluded), rounded up
    assert session.facilitator_id == world["fac"].id
    assert session.rule_ids == [world["a"].id, world["b"].id, world["c"].id]
    assert events.history(db, "review_session", session.id)[0]["action"] == "create"


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"title": ""}, "title"),
        ({"team_ids": []}, "team_ids"),
        ({"team_ids": [999]}, "team_ids"),
        ({"team_ids": ["x"]}, "team_ids"),
        ({"rule_ids": []}, "rule_ids"),
        ({"rule_ids": [999]}, "rule_ids"),
        ({"mode": "carrier pigeon"}, "mode"),
        ({"quorum": -1}, "quorum"),
        ({"opens_at": "tomorrow"}, "opens_at"),
        (
            {"opens_at": "2026-01-02T10:00:00+00:00", "closes_at": "2026-01-01T10:00:00+00:00"},
            "closes_at",
        ),
    ],
)
def test_bad_session_input(db, world, fields, field):
    with pytest.raises(ValidationError) as info:
        _session(db, world, **fields)
    assert field in info.value.errors
    assert db.execute("SELECT count(*) FROM review_sessions").fetchone()[0] == 0


def test_archived_rule_cannot_be_put_in_a_session(db, world):
    rules.archive_rule(db, None, world["c"].id)
    with pytest.raises(ValidationError):
        _session(db, world)


def test_state_machine(db, world):
    session = _session(db, world)
    with pytest.raises(Conflict):
        sessions.close_session(db, world["fac"], session.id)
    with pytest.raises(Conflict):
        sessions.reopen_session(db, world["fac"], session.id)
    opened = sessions.open_session(db, world["fac"], session.id)
    assert opened.state == "open"
    # Opening puts the active rules under review.
    assert rules.get_rule(db, world["a"].id).status == "under_review"
    with pytest.raises(Conflict):
        sessions.open_session(db, world["fac"], session.id)
    with pytest.raises(Conflict):
        sessions.update_session(db, world["fac"], session.id, title="x", team_ids=[1], rule_ids=[1])
    with pytest.raises(Conflict, match="facilitator"):
        sessions.close_session(db, world["other_q"], session.id)
    closed = sessions.close_session(db, world["admin"], session.id)
    assert closed.state == "closed" and closed.closed_at
    with pytest.raises(Conflict, match="facilitator"):
        sessions.reopen_session(db, world["other_q"], session.id)
    reopened = sessions.reopen_session(db, world["fac"], session.id)
    assert reopened.state == "open"
    actions = [e["action"] for e in events.history(db, "review_session", session.id)]
    assert actions[:3] == ["reopen", "close", "open"]
    reopen_event = events.history(db, "review_session", session.id)[0]
    assert reopen_event["actor_name"] == "fac"


def test_draft_can_be_edited(db, world):
    session = _session(db, world)
    updated = sessions.update_session(
        db,
        world["fac"],
        session.id,
        expected_version=1,
        title="Nieuw",
        team_ids=[world["zon"]["id"]],
        rule_ids=[world["c"].id],
        mode="hands",
        quorum=1,
    )
    assert (updated.title, updated.team_ids, updated.rule_ids, updated.mode) == (
        "Nieuw",
        [world["zon"]["id"]],
        [world["c"].id],
        "hands",
    )
    with pytest.raises(Conflict):
        sessions.update_session(
            db,
            world["fac"],
            session.id,
            expected_version=1,
            title="Oud",
            team_ids=[1],
            rule_ids=[1],
        )


def test_closing_time_closes_the_session(db, world):
    later = clock.now() + timedelta(hours=2)
    session = _open(db, world, closes_at=(clock.now() + timedelta(hours=1)).isoformat())
    _vote(db, world, session, "anna", "a", "drop")
    clock.set(later)
    assert sessions.get_session(db, session.id).effective_state == "closed"
    with pytest.raises(Conflict, match="closed"):
        _vote(db, world, session, "bert", "a", "keep")
    # The refused vote has stored the close (see tests/test_session_expiry.py).
    assert sessions.get_session(db, session.id).state == "closed"
    assert sessions.close_expired(db) == 0


def test_opening_time_is_respected(db, world):
    session = _open(db, world, opens_at=(clock.now() + timedelta(days=1)).isoformat())
    with pytest.raises(Conflict, match="not opened"):
        _vote(db, world, session, "anna", "a", "drop")


# --- ballots --------------------------------------------------------------------------------


def test_vote_and_change_it(db, world):
    session = _open(db, world)
    _vote(db, world, session, "anna", "a", "keep", "Nodig")
    _vote(db, world, session, "anna", "a", "drop", "Toch niet")
    assert db.execute("SELECT count(*) FROM ballots").fetchone()[0] == 1
    mine = ballots.my_ballots(db, SECRET, session, world["anna"].id)
    assert mine[world["a"].id]["choice"] == "drop"
    assert sessions.voter_count(db, session.id) == 1


@pytest.mark.parametrize(
    "who,rule,choice,error",
    [
        ("zoe", "a", "keep", Conflict),  # another team
        ("vera", "a", "keep", Conflict),  # a viewer, even in the team
        ("fac", "a", "keep", Conflict),  # not in the team
        ("anna", "a", "maybe", ValidationError),
        ("anna", "a", "", ValidationError),
        ("anna", "b", "drop", ValidationError),  # mandatory origin
    ],
)
def test_refused_ballots_write_nothing(db, world, who, rule, choice, error):
    session = _open(db, world)
    before = events.count(db)
    with pytest.raises(error):
        _vote(db, world, session, who, rule, choice)
    assert db.execute("SELECT count(*) FROM ballots").fetchone()[0] == 0
    assert events.count(db) == before


def test_ballot_for_a_rule_not_in_the_session(db, world):
    other = make_rule(db, code="X")
    session = _open(db, world)
    with pytest.raises(ValidationError, match="not part"):
        ballots.cast_vote(db, SECRET, world["anna"], session.id, other.id, "drop")
    assert db.execute("SELECT count(*) FROM ballots").fetchone()[0] == 0


def test_mandatory_rule_offers_keep_and_adapt_only(db, world):
    assert list(ballots.allowed_choices(world["b"])) == ["keep", "adapt", "abstain"]
    assert list(ballots.allowed_choices(world["a"])) == ["keep", "adapt", "drop", "abstain"]
    message = str(ballots.mandatory_message(world["b"]))
    assert "Wzd art. 2" in message


def test_reason_length(db, world):
    session = _open(db, world)
    with pytest.raises(ValidationError):
        _vote(db, world, session, "anna", "a", "keep", "x" * 1001)


def test_closed_session_refuses_ballots(db, world):
    session = _open(db, world)
    sessions.close_session(db, world["fac"], session.id)
    with pytest.raises(Conflict):
        _vote(db, world, session, "anna", "a", "keep")


def test_concurrent_votes_of_one_member_leave_one_ballot(app, db, world):
    session = _open(db, world)
    barrier = threading.Barrier(2)
    errors = []

    def vote(choice):
        own = connect(app.config["DATABASE"])
        try:
            barrier.wait()
            ballots.cast_vote(own, SECRET, world["anna"], session.id, world["a"].id, choice)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            own.close()

    for _ in range(5):
        threads = [threading.Thread(target=vote, args=(c,)) for c in ("keep", "drop")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert db.execute("SELECT count(*) FROM ballots").fetchone()[0] == 1


def test_unique_ballot_is_enforced_by_the_database(db, world):
    session = _open(db, world)
    _vote(db, world, session, "anna", "a", "keep")
    key = db.execute("SELECT voter_key FROM ballots").fetchone()[0]
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO ballots (session_id, rule_id, voter_key, choice) VALUES (?, ?, ?, 'drop')",
            [session.id, world["a"].id, key],
        )


# --- anonymity ------------------------------------------------------------------------------


def test_anonymous_ballots_hold_no_readable_link(db, world):
    session = _open(db, world)
    _vote(db, world, session, "anna", "a", "drop", "Kost te veel tijd")
    _vote(db, world, session, "bert", "a", "keep")
    _vote(db, world, session, "cor", "a", "keep")  # three voters: the results may be shown
    for row in db.query("SELECT * FROM ballots"):
        assert row["voter_id"] is None
        assert str(world["anna"].id) not in row["voter_key"].split(":")
        assert "anna" not in row["voter_key"]
    dump = "\n".join(db.conn.iterdump())
    ballot_lines = [line for line in dump.splitlines() if "ballot" in line.lower()]
    assert not any("anna" in line.lower() or "Anna de Wit" in line for line in ballot_lines)
    # Not even "a vote came in": its time could be lined up with a login.
    ballot_events = [
        e for e in events.history(db, "review_session", session.id) if e["action"] == "ballot"
    ]
    assert ballot_events == []
    sessions.close_session(db, world["fac"], session.id)
    result = ballots.results(db, session)[0]
    assert result["reasons"] == [
        {"rule_id": world["a"].id, "choice": "drop", "reason": "Kost te veel tijd", "name": None}
    ]


def test_named_ballots_show_names(db, world):
    session = _open(db, world, anonymous=False)
    _vote(db, world, session, "anna", "a", "drop", "Kost tijd")
    sessions.close_session(db, world["fac"], session.id)
    assert ballots.results(db, session)[0]["reasons"][0]["name"] == "Anna de Wit"
    assert db.execute("SELECT voter_id FROM ballots").fetchone()[0] == world["anna"].id


# --- results --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts,expected",
    [
        ({"keep": 3, "adapt": 1, "drop": 1, "abstain": 9}, "keep"),
        ({"keep": 1, "adapt": 1, "drop": 2, "abstain": 0}, "drop"),
        ({"keep": 2, "adapt": 0, "drop": 2, "abstain": 1}, "discuss"),
        ({"keep": 0, "adapt": 0, "drop": 0, "abstain": 4}, "discuss"),
        ({"keep": 0, "adapt": 0, "drop": 0, "abstain": 0}, "discuss"),
    ],
)
def test_suggested_outcome(counts, expected):
    assert ballots.suggested_outcome(counts) == expected


def test_results_with_quorum(db, world):
    # Named: rule C gets one vote, which an anonymous session would not count (test_anonymity).
    session = _open(db, world, anonymous=False)
    _vote(db, world, session, "anna", "a", "drop")
    _vote(db, world, session, "bert", "a", "drop")
    _vote(db, world, session, "cor", "a", "abstain")
    _vote(db, world, session, "anna", "c", "keep")
    sessions.close_session(db, world["fac"], session.id)
    by_code = {r["rule"].code: r for r in ballots.results(db, session)}
    a = by_code["A"]
    assert a["counts"] == {"keep": 0, "adapt": 0, "drop": 2, "abstain": 1}
    assert a["percent"]["drop"] == pytest.approx(2 / 3)
    assert a["quorum_met"] and a["suggested"] == "drop"
    assert not by_code["C"]["quorum_met"] and by_code["C"]["suggested"] == "keep"
    assert by_code["B"]["total"] == 0 and by_code["B"]["percent"]["keep"] is None


# --- show of hands --------------------------------------------------------------------------


def test_show_of_hands(db, world):
    session = _open(db, world, mode="hands")
    counts = {world["a"].id: {"keep": 1, "adapt": 2, "drop": 4, "abstain": 1}}
    ballots.enter_hands(db, world["fac"], session.id, present=8, counts=counts)
    with pytest.raises(Conflict):
        _vote(db, world, session, "anna", "a", "keep")  # no online ballot in this mode
    sessions.close_session(db, world["fac"], session.id)
    result = {r["rule"].code: r for r in ballots.results(db, session)}["A"]
    assert result["counts"] == {"keep": 1, "adapt": 2, "drop": 4, "abstain": 1}
    assert result["suggested"] == "drop"


@pytest.mark.parametrize(
    "present,counts,key",
    [
        (5, {"keep": 3, "adapt": 2, "drop": 1, "abstain": 0}, "rule"),  # 6 hands, 5 people
        (5, {"keep": -1}, "rule"),
        (5, {"keep": None}, "rule"),
        (None, {"keep": 1}, "present"),
        (-2, {"keep": 1}, "present"),
    ],
)
def test_show_of_hands_bounds(db, world, present, counts, key):
    session = _open(db, world, mode="hands")
    with pytest.raises(ValidationError) as info:
        ballots.enter_hands(
            db, world["fac"], session.id, present=present, counts={world["a"].id: counts}
        )
    assert any(k.startswith(key) for k in info.value.errors)
    assert db.execute("SELECT count(*) FROM hand_counts").fetchone()[0] == 0


def test_show_of_hands_refuses_drop_of_mandatory_rule(db, world):
    session = _open(db, world, mode="hands")
    with pytest.raises(ValidationError, match="mandatory"):
        ballots.enter_hands(
            db, world["fac"], session.id, present=5, counts={world["b"].id: {"drop": 1}}
        )


def test_show_of_hands_for_a_rule_not_in_the_session(db, world):
    other = make_rule(db, code="X")
    session = _open(db, world, mode="hands")
    with pytest.raises(ValidationError):
        ballots.enter_hands(db, world["fac"], session.id, present=5, counts={other.id: {"keep": 1}})


# --- decisions ------------------------------------------------------------------------------


def _closed(db, w, **fields):
    session = _open(db, w, **fields)
    return sessions.close_session(db, w["fac"], session.id)


def test_decisions_only_after_closing_and_by_the_facilitator(db, world):
    session = _open(db, world)
    with pytest.raises(Conflict):
        decisions.record_decision(
            db, world["fac"], session.id, world["a"].id, outcome="drop", rationale="r"
        )
    sessions.close_session(db, world["fac"], session.id)
    with pytest.raises(Conflict):
        decisions.record_decision(
            db, world["other_q"], session.id, world["a"].id, outcome="drop", rationale="r"
        )
    decisions.record_decision(
        db, world["admin"], session.id, world["a"].id, outcome="drop", rationale="r"
    )


def test_drop_applied_to_the_rule(db, world):
    session = _closed(db, world)
    decisions.record_decision(
        db,
        world["fac"],
        session.id,
        world["a"].id,
        outcome="drop",
        rationale="Kost twee uur per week en niemand weet waarom",
    )
    rule = decisions.apply_decision(db, world["fac"], session.id, world["a"].id)
    assert rule.status == "dropped"
    event = rules.history(db, rule.id)[0]
    assert event["action"] == "decision"
    assert (event["ref_entity"], event["ref_id"]) == ("review_session", session.id)
    assert event["changes"]["status"] == ["under_review", "dropped"]
    assert figures.headline(db)["hours_per_week_given_back"] == 2.0
    with pytest.raises(Conflict):
        decisions.apply_decision(db, world["fac"], session.id, world["a"].id)
    with pytest.raises(Conflict):
        decisions.record_decision(
            db, world["fac"], session.id, world["a"].id, outcome="keep", rationale="x"
        )
    with pytest.raises(Conflict, match="applied"):
        sessions.reopen_session(db, world["fac"], session.id)


def test_adapt_changes_the_text(db, world):
    session = _closed(db, world)
    decisions.record_decision(
        db,
        world["fac"],
        session.id,
        world["a"].id,
        outcome="adapt",
        rationale="Alleen nog bij nieuwe bewoners",
        new_title="Taart mag, met etiket",
        new_description="Zet er een datum op.",
        new_minutes_per_week="30",
        strategy_id=strategies.by_key(db, "volume")["id"],
    )
    rule = decisions.apply_decision(db, world["fac"], session.id, world["a"].id)
    assert (rule.status, rule.title, rule.description, rule.minutes_per_week) == (
        "adapted",
        "Taart mag, met etiket",
        "Zet er een datum op.",
        30,
    )
    assert figures.given_back_minutes(db) == 90


def test_keep_returns_the_rule_to_active(db, world):
    session = _closed(db, world)
    decisions.record_decision(
        db, world["fac"], session.id, world["c"].id, outcome="keep", rationale="Werkt"
    )
    assert decisions.apply_decision(db, world["fac"], session.id, world["c"].id).status == "active"


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"outcome": "burn", "rationale": "x"}, "outcome"),
        ({"outcome": "drop", "rationale": ""}, "rationale"),
        ({"outcome": "adapt", "rationale": "x"}, "new_description"),
        ({"outcome": "adapt", "rationale": "x", "new_title": "t" * 201}, "new_title"),
        (
            {"outcome": "adapt", "rationale": "x", "new_title": "t", "new_minutes_per_week": -4},
            "new_minutes_per_week",
        ),
    ],
)
def test_bad_decisions(db, world, fields, field):
    session = _closed(db, world)
    with pytest.raises(ValidationError) as info:
        decisions.record_decision(db, world["fac"], session.id, world["a"].id, **fields)
    assert field in info.value.errors
    assert db.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0


def test_dropping_a_mandatory_rule_is_refused(db, world):
    session = _closed(db, world)
    with pytest.raises(ValidationError, match="mandatory"):
        decisions.record_decision(
            db, world["fac"], session.id, world["b"].id, outcome="drop", rationale="x"
        )
    # Recorded before tracing found it mandatory: applying still refuses.
    decisions.record_decision(
        db, world["fac"], session.id, world["c"].id, outcome="drop", rationale="x"
    )
    rules.trace(db, world["fac"], world["c"].id, verified_origin="inspectorate")
    with pytest.raises(ValidationError, match="mandatory"):
        decisions.apply_decision(db, world["fac"], session.id, world["c"].id)
    assert rules.get_rule(db, world["c"].id).status == "under_review"


def test_apply_is_one_transaction(db, world, monkeypatch):
    session = _closed(db, world)
    decisions.record_decision(
        db, world["fac"], session.id, world["a"].id, outcome="drop", rationale="x"
    )

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(decisions.events, "record", boom)
    with pytest.raises(RuntimeError):
        decisions.apply_decision(db, world["fac"], session.id, world["a"].id)
    assert rules.get_rule(db, world["a"].id).status == "under_review"
    assert decisions.get_decision(db, session.id, world["a"].id)["applied_at"] is None


def test_session_overview_counts(db, world):
    session = _open(db, world)
    _vote(db, world, session, "anna", "a", "drop")
    _vote(db, world, session, "anna", "b", "keep")
    _vote(db, world, session, "bert", "a", "drop")
    item = sessions.list_sessions(db)[0]
    assert (item["voters"], item["eligible"], item["decided"], item["applied"]) == (2, 3, 0, 0)
    assert sessions.list_sessions(db, world["zoe"]) == []
    assert len(sessions.list_sessions(db, world["anna"])) == 1
