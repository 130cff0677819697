"""SQLite's errors told apart by their names and codes, never by the wording of the message."""

from __future__ import annotations

import sqlite3

import pytest

from audit import web
from audit.core.errors import ValidationError
from audit.domain import categories, organisation, protocols, rules, sessions, users
from audit.store.db import connect, is_duplicate, problem_kind
from tests.conftest import make_rule, make_team, make_user

# A trigger whose refusal even reads like a duplicate: only its error name
# (SQLITE_CONSTRAINT_TRIGGER) tells that it is none.
LYING_TRIGGER = (
    "CREATE TRIGGER refuse BEFORE {event} ON {table}"
    " BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: {table}.{column}'); END"
)


def _refuse(db, table, column, event="INSERT"):
    db.execute(LYING_TRIGGER.format(event=event, table=table, column=column))


# (table, column, event, the write that is refused, the field a duplicate is reported at)
WRITES = {
    "rule created": (
        "rules",
        "code",
        "INSERT",
        lambda db: make_rule(db, code="X-1"),
        "code",
    ),
    "rule changed": (
        "rules",
        "code",
        "UPDATE",
        lambda db: rules.update_rule(db, None, 1, code="X-2"),
        "code",
    ),
    "rules imported": (
        "rules",
        "code",
        "INSERT",
        lambda db: rules.create_rules(db, None, [{"title": "Een", "code": "X-3"}]),
        "code",
    ),
    "user": ("users", "username", "INSERT", lambda db: make_user(db, "nieuw"), "username"),
    "category": (
        "categories",
        "name_nl",
        "INSERT",
        lambda db: categories.save_category(db, None, name_nl="Nieuw"),
        "name_nl",
    ),
    "location": (
        "locations",
        "name",
        "INSERT",
        lambda db: organisation.save_location(db, None, "Zuid"),
        "name",
    ),
    "team": ("teams", "name", "INSERT", lambda db: make_team(db, "Zon"), "name"),
    "protocol": (
        "protocols",
        "name",
        "INSERT",
        lambda db: protocols.save_protocol(db, None, name="P2"),
        "name",
    ),
}


@pytest.fixture
def filled(db):
    make_rule(db, code="A-1")
    return db


@pytest.mark.parametrize("case", WRITES)
def test_another_integrity_error_is_not_called_a_duplicate(filled, case):
    table, column, event, write, _field = WRITES[case]
    _refuse(filled, table, column, event)
    with pytest.raises(sqlite3.IntegrityError) as raised:
        write(filled)
    assert raised.value.sqlite_errorname == "SQLITE_CONSTRAINT_TRIGGER"


DUPLICATES = {
    "rule created": (lambda db: make_rule(db, code="a-1"), "code"),
    "rule changed": (
        lambda db: rules.update_rule(db, None, make_rule(db, code="B-1").id, code="A-1"),
        "code",
    ),
    "rules imported": (
        lambda db: rules.create_rules(db, None, [{"title": "Een", "code": "A-1"}]),
        "code",
    ),
    "user": (lambda db: [make_user(db, "anna"), make_user(db, "ANNA")], "username"),
    "location": (
        lambda db: [organisation.save_location(db, None, n) for n in ("Zuid", "zuid")],
        "name",
    ),
    "protocol": (
        lambda db: [protocols.save_protocol(db, None, name=n) for n in ("P2", "p2")],
        "name",
    ),
}


@pytest.mark.parametrize("case", DUPLICATES)
def test_a_duplicate_is_still_reported_at_its_field(filled, case):
    write, field = DUPLICATES[case]
    with pytest.raises(ValidationError) as raised:
        write(filled)
    assert field in raised.value.errors


def _error(db, sql):
    try:
        db.execute(sql)
    except sqlite3.Error as error:
        return error
    raise AssertionError(f"{sql} did not fail")


def test_is_duplicate_reads_the_error_name_and_the_column(db):
    db.execute("CREATE TABLE t (a UNIQUE, b UNIQUE, c CHECK (c > 0))")
    db.execute("INSERT INTO t VALUES (1, 1, 1)")
    a = _error(db, "INSERT INTO t VALUES (1, 2, 1)")
    assert is_duplicate(a, "t", "a") and is_duplicate(a, "t", "b", "a")
    assert not is_duplicate(a, "t", "b") and not is_duplicate(a, "u", "a")
    assert not is_duplicate(_error(db, "INSERT INTO t VALUES (2, 2, 0)"), "t", "c")
    # The same words without the name are not a duplicate.
    assert not is_duplicate(sqlite3.IntegrityError("UNIQUE constraint failed: t.a"), "t", "a")


def _read_only(path):
    conn = connect(path)
    conn.execute("PRAGMA query_only = ON")
    return _error(conn, "INSERT INTO locations (name, created_at) VALUES ('x', 'y')")


def _full(path):
    conn = connect(path)
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    return _error(conn, "INSERT INTO rules_fts_probe SELECT zeroblob(100000)")


def _busy(path):
    holder = connect(path)
    holder.execute("BEGIN IMMEDIATE")
    waiting = connect(path, busy_timeout_ms=0)
    error = _error(waiting, "BEGIN IMMEDIATE")
    holder.execute("ROLLBACK")
    return error


def _column_named_full(path):
    return _error(connect(path), "SELECT full FROM rules")


def _table_named_readonly(path):
    return _error(connect(path), "SELECT * FROM readonly_locked_busy")


def _closed(path):
    conn = connect(path)
    conn.close()
    return _error(conn, "SELECT 1")


def _io_error(_path):
    error = sqlite3.OperationalError("that went wrong")
    error.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE
    error.sqlite_errorname = "SQLITE_IOERR_WRITE"
    return error


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_read_only, "readonly"),
        (_full, "full"),
        (_busy, "busy"),
        (_column_named_full, "other"),
        (_table_named_readonly, "other"),
        (_closed, "other"),
        (_io_error, "io"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__[1:],
)
def test_the_503_page_is_chosen_by_the_error_code(app, db, make, kind):
    db.execute("CREATE TABLE rules_fts_probe (b BLOB)")
    error = make(app.config["DATABASE"])
    assert problem_kind(error) == kind
    with app.app_context():
        expected = "other" if kind == "io" else kind  # the test's disk has room
        assert web._database_problem(error) == expected


def test_voter_roles_are_parameters(db, monkeypatch):
    """The roles are bound as values, so any role name (a quote in it too) is just a value."""
    team = make_team(db, "Vlinder")
    anna = make_user(db, "anna", "member", teams=[team])
    make_user(db, "vera", "viewer", teams=[team])
    monkeypatch.setattr(sessions, "VOTER_ROLES", ("member", "it's"))
    assert sessions.eligible_voters(db, [team["id"]]) == [anna.id]
    assert users.get_user(db, anna.id).role == "member"
