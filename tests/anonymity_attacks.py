"""The de-anonymisation attacks on anonymous review sessions, written as an attacker would run
them, shared by the default suite (small) and the load suite (full size).

The attacker holds the database file (or a backup), an admin account or the facilitator role,
but not the app's secret key. Only the tests, which hold the secret, can tell who cast a ballot,
and so whether an attack named anyone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.core import clock
from audit.domain import ballots, sessions
from audit.domain.users import User
from audit.store.db import connect
from tests.conftest import Auth

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?")
PERSON_COLUMNS = ("user_id", "actor_id", "voter_id", "entered_by", "decided_by", "applied_by")
START = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


class Clock:
    """audit.core.clock moved by the test: every timestamp the app writes comes from it."""

    def __init__(self, start: datetime = START) -> None:
        clock.set(start)  # tests/conftest.py puts the real time back after the test

    @property
    def at(self) -> datetime:
        return clock.now()

    @at.setter
    def at(self, moment: datetime) -> None:
        clock.set(moment)

    def advance(self, seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))


# --- what the database holds ------------------------------------------------------------------


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def every_time(db) -> Iterator[tuple[str, str, datetime, dict]]:
    """(table, column, time, row) for every value anywhere in the database that reads as a date
    or a time: what a timing join can work with."""
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for row in db.query(f"SELECT * FROM [{table}]"):
            for column, value in row.items():
                if isinstance(value, str) and TIME.match(value):
                    try:
                        yield table, column, _parse(value), row
                    except ValueError:
                        continue


def _person(table: str, row: dict) -> int | None:
    if table == "users":
        return row["id"]
    for column in PERSON_COLUMNS:
        if row.get(column) is not None:
            return row[column]
    return None


def timing_join(db, session_id: int) -> dict[tuple[int, str], int]:
    """The attack from the issue: every time the database holds that belongs to a person (a
    login, an event they caused) is joined with every time attached to a ballot of the session;
    each ballot goes to the person active last before it. Returns {(rule, ballot key): user}."""
    people = sorted(
        (when, person)
        for table, _, when, row in every_time(db)
        if (person := _person(table, row)) is not None
    )
    guesses = {}
    for table, _, when, row in every_time(db):
        if table != "ballots" or row["session_id"] != session_id:
            continue
        before = [person for at, person in people if at <= when]
        if before:
            guesses[(row["rule_id"], row["voter_key"])] = before[-1]
    return guesses


def times_within(db, first: datetime, last: datetime) -> list[tuple[str, str, datetime]]:
    """Every time the database holds from the first vote to the last."""
    return [(t, c, when) for t, c, when, _ in every_time(db) if first <= when <= last]


def linked_ballots(db, session_id: int) -> list[tuple]:
    """The attack across rules: ballots on different rules that share a value in any column
    but the session, the rule, the choice and the reason, so would be the same member's."""
    rows = list(db.query("SELECT * FROM ballots WHERE session_id = ?", [session_id]))
    skip = {"session_id", "rule_id", "choice", "reason"}
    links = []
    for column in rows[0] if rows else ():
        if column in skip:
            continue
        by_value: dict = {}
        for row in rows:
            if row[column] is not None:
                by_value.setdefault(row[column], set()).add(row["rule_id"])
        links += [(column, value) for value, rule_ids in by_value.items() if len(rule_ids) > 1]
    return links


def storage_order(db, session_id: int) -> list[tuple]:
    """The ballots as SQLite hands them out without an ORDER BY: the order of their rows."""
    return [
        tuple(r) for r in db.execute("SELECT * FROM ballots WHERE session_id = ?", [session_id])
    ]


def ballot_pages(path: Path) -> list[bytes]:
    """The bytes of the pages that hold ballots and participation, as they lie in the file."""
    database = connect(path)
    # As whoever copies the file and its write-ahead log would see it: merged.
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = database.execute("PRAGMA page_size").fetchone()[0]
    numbers = [
        r[0]
        for r in database.execute(
            "SELECT pageno FROM dbstat WHERE name IN ('ballots', 'session_voters') ORDER BY pageno"
        )
    ]
    database.close()
    raw = path.read_bytes()
    return [raw[(n - 1) * size : n * size] for n in numbers]


# --- the truth, known only with the secret key --------------------------------------------------


def owner(secret: str, session, members: list[User], rule_id: int, key: str) -> int | None:
    for member in members:
        if ballots.voter_key(secret, session, rule_id, member.id) == key:
            return member.id
    return None


def identified(secret: str, session, members: list[User], guesses: dict) -> list:
    """The guesses that name the member who really cast the ballot."""
    return [
        (rule_id, person)
        for (rule_id, key), person in guesses.items()
        if owner(secret, session, members, rule_id, key) == person
    ]


# --- the scenario ---------------------------------------------------------------------------


@dataclass
class Voting:
    first_vote: datetime
    last_vote: datetime


def log_in_and_vote(
    app,
    db,
    time: Clock,
    session,
    members: list[User],
    choose: Callable[[int, int], str],
    *,
    gap: float = 2.5,
    order: list[int] | None = None,
) -> Voting:
    """Each member in turn logs in over HTTP and votes on every rule of the session, ``gap``
    seconds after the one before: the pattern that named 10 of 10 voters before."""
    first = None
    for index in order if order is not None else range(len(members)):
        member = members[index]
        time.advance(gap)
        client = app.test_client()
        assert Auth(client).login(member.username).status_code == 302
        for rule_id in session.rule_ids:
            time.advance(0.4)
            first = first or clock.now()
            ballots.cast_vote(
                db,
                app.config["SECRET_KEY"],
                member,
                session.id,
                rule_id,
                choose(index, rule_id),
                f"reason {index} {rule_id}",
            )
    return Voting(first, clock.now())


def tallies(results: list[dict]) -> dict[int, Counter] | None:
    """What a reader of the results sees counted, per rule (None: nothing counted)."""
    if all(r["withheld"] for r in results):
        return None
    return {r["rule"].id: None if r["withheld"] else Counter(r["counts"]) for r in results}


def difference_attack(before: dict | None, after: dict | None) -> dict[int, str]:
    """The facilitator's attack: results read before and after one more vote. A rule whose
    count moved by exactly one vote tells that vote's choice: {rule: choice}."""
    if before is None or after is None:
        return {}
    found = {}
    for rule_id, counts in after.items():
        if counts is None or before[rule_id] is None:
            continue
        moved = counts - before[rule_id]
        if sum(moved.values()) == 1:
            found[rule_id] = next(iter(moved))
    return found


def close_read_reopen(db, actor, session_id: int) -> tuple[dict | None, bool]:
    """Close, read the results, try to reopen: (what was read, whether the reopen worked)."""
    from audit.core.errors import Conflict

    sessions.close_session(db, actor, session_id)
    read = tallies(ballots.results(db, sessions.get_session(db, session_id)))
    try:
        sessions.reopen_session(db, actor, session_id)
    except Conflict:
        return read, False
    return read, True
