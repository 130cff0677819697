"""Changing what SQLite cannot ALTER: a throw-away origin key added by rebuilding the rules
table (docs/design.md, "Changing the schema"), in one transaction, losing nothing."""

from __future__ import annotations

import sqlite3
from functools import partial

import pytest

from audit.domain import sessions
from audit.store import db as db_module
from audit.store import schema
from audit.store.db import apply_migrations
from tests.conftest import make_rule, make_team, make_user

KEY = "oral_tradition"  # exists only in this test
CHILDREN = ("rule_teams", "rule_locations", "session_rules", "decisions")
INSERT_RULE = (
    "INSERT INTO rules (code, title, perceived_origin, verified_origin, created_at, updated_at)"
    " VALUES (?, 'Zo doen we dat', ?, ?, 'x', 'x')"
)


@pytest.fixture
def filled(db):
    """Rules with every kind of link pointing at them, and a trigger of their own."""
    noord = make_team(db, "Vlinder", location="Noord")
    facilitator = make_user(db, "fac", "quality")
    make_user(db, "anna", "member", teams=[noord])
    myth = make_rule(db, code="M-1", perceived_origin="law", verified_origin="team")
    make_rule(db, code="L-1", verified_origin="law", team_ids=[noord["id"]])
    make_rule(db, code="O-1", location_ids=[noord["location_id"]])
    sessions.create_session(db, facilitator, title="S", team_ids=[noord["id"]], rule_ids=[myth.id])
    db.execute(
        "CREATE TRIGGER rules_no_secret BEFORE UPDATE OF owner ON rules"
        " WHEN NEW.owner = 'geheim' BEGIN SELECT RAISE(ABORT, 'no secret owners'); END"
    )
    return db


def _picture(db) -> dict:
    """Everything about the rules table that must survive a rebuild."""
    return {
        "rows": db.execute(
            "SELECT *, traced, self_invented, myth FROM rules ORDER BY id"
        ).fetchall(),
        "columns": db.execute(
            "SELECT name, type, hidden FROM pragma_table_xinfo('rules')"
        ).fetchall(),
        "indexes and triggers": db.execute(
            "SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = 'rules'"
            " AND type IN ('index', 'trigger') ORDER BY name"
        ).fetchall(),
        "foreign keys": {
            table: db.execute(f"SELECT * FROM pragma_foreign_key_list('{table}')").fetchall()
            for table in ("rules", *CHILDREN)
        },
        "children": {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in CHILDREN
        },
    }


def _dump(db) -> list[str]:
    return list(db.conn.iterdump())


def _with_migration(monkeypatch, *steps):
    monkeypatch.setattr(
        db_module, "MIGRATIONS", [*schema.MIGRATIONS, (99, "throw-away", list(steps))]
    )


def test_a_new_origin_key_keeps_rules_and_everything_around_them(filled, monkeypatch):
    db = filled
    before = _picture(db)
    statements = []
    db.conn.set_trace_callback(statements.append)
    _with_migration(monkeypatch, partial(schema.add_origin_key, key=KEY, group="self_invented"))
    assert apply_migrations(db) == [99]
    db.conn.set_trace_callback(None)
    # One transaction: one BEGIN, one COMMIT, the rebuild in between.
    assert [s for s in statements if s.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK")] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert any(s.startswith('DROP TABLE "rules"') for s in statements)

    after = _picture(db)
    for part in before:
        assert after[part] == before[part], part
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []

    # The key is allowed in both origin columns and counts in its group's generated columns.
    db.execute(INSERT_RULE, ["N-1", "law", KEY])
    db.execute(INSERT_RULE, ["N-2", KEY, "law"])
    flags = db.execute(
        "SELECT code, traced, self_invented, myth FROM rules WHERE code LIKE 'N-%' ORDER BY code"
    ).fetchall()
    assert flags == [("N-1", 1, 1, 1), ("N-2", 1, 0, 0)]
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute(INSERT_RULE, ["N-3", None, "folklore"])
    # The constraints still hold: unique codes, the trigger, foreign keys both ways.
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute(INSERT_RULE, ["m-1", None, None])
    with pytest.raises(sqlite3.IntegrityError, match="no secret owners"):
        db.execute("UPDATE rules SET owner = 'geheim' WHERE code = 'M-1'")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db.execute("INSERT INTO rule_teams (rule_id, team_id) VALUES (999, 1)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db.execute("DELETE FROM rules WHERE code = 'L-1'")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db.execute("UPDATE rules SET category_id = 999 WHERE code = 'L-1'")


def _narrow(sql: str) -> str:
    """Drops 'team' from the origin lists: the copy of the rule traced to a team fails."""
    return sql.replace("'organisation', 'team'", "'organisation'")


def _no_owner(sql: str) -> str:
    """Drops the owner column: the copy succeeds, the old table is gone, then re-creating an
    index on owner fails (the last steps of the rebuild)."""
    return sql.replace("owner TEXT NOT NULL DEFAULT '',", "")


def _raise_after(db):
    raise RuntimeError("the step after the rebuild fails")


@pytest.mark.parametrize(
    "steps",
    [
        [partial(schema.rebuild_table, table="rules", edit=_narrow)],
        [
            "CREATE INDEX rules_owner ON rules (owner)",
            partial(schema.rebuild_table, table="rules", edit=_no_owner),
        ],
        [partial(schema.add_origin_key, key=KEY, group="self_invented"), _raise_after],
    ],
    ids=["while copying", "after dropping the old table", "after the rebuild"],
)
def test_a_failure_half_way_leaves_the_database_as_it_was(filled, monkeypatch, steps):
    db = filled
    before = _dump(db)
    _with_migration(monkeypatch, *steps)
    with pytest.raises((sqlite3.Error, RuntimeError)):
        apply_migrations(db)
    assert _dump(db) == before
    assert 99 not in {r[0] for r in db.execute("SELECT version FROM schema_migrations")}
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_rebuild_refuses_to_run_with_foreign_keys_on_or_outside_a_transaction(filled):
    db = filled
    with pytest.raises(RuntimeError, match="transaction"):
        schema.rebuild_table(db, "rules", lambda sql: sql)
    with db_module.transaction(db), pytest.raises(RuntimeError, match="foreign_keys"):
        schema.rebuild_table(db, "rules", lambda sql: sql)


@pytest.mark.parametrize(
    ("sql", "column", "expected"),
    [
        (
            "CREATE TABLE t (s TEXT CHECK (s IN ('a', 'b')), u TEXT CHECK (u IN ('a')))",
            "s",
            "CREATE TABLE t (s TEXT CHECK (s IN ('a', 'b', 'c')), u TEXT CHECK (u IN ('a')))",
        ),
        (
            "CREATE TABLE t (s TEXT CHECK (s IN ('a','c')))",
            "s",
            "CREATE TABLE t (s TEXT CHECK (s IN ('a', 'c')))",
        ),
    ],
)
def test_add_check_values(sql, column, expected):
    assert schema.add_check_values(sql, column, "c") == expected


def test_add_to_lists_follows_the_sibling():
    sql = "x IN ('law', 'team', 'unknown') AND y IN ('team', 'organisation') AND z IN ('law')"
    assert schema.add_to_lists(sql, "team", "new") == (
        "x IN ('law', 'team', 'unknown', 'new') AND y IN ('team', 'organisation', 'new')"
        " AND z IN ('law')"
    )
    with pytest.raises(ValueError):
        schema.add_to_lists(sql, "nowhere", "new")
    with pytest.raises(ValueError):
        schema.add_check_values(sql, "status", "new")
