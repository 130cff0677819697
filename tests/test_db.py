import sqlite3

import pytest

from audit.domain import events
from audit.store.db import apply_migrations, connect, init_db, transaction
from audit.store.schema import MIGRATIONS


def test_migrations_applied_twice_are_a_no_op(tmp_path):
    path = tmp_path / "m.db"
    first = init_db(path)
    assert first == [m[0] for m in MIGRATIONS]
    assert init_db(path) == []
    db = connect(path)
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations")]
    assert versions == [m[0] for m in MIGRATIONS]
    assert apply_migrations(db) == []


def test_connection_settings(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_foundation_tables_exist(db):
    for table in ["organisation", "locations", "teams", "users", "team_members", "events"]:
        assert db[table].exists(), table


def test_event_log_refuses_update_and_delete(db):
    with transaction(db):
        event_id = events.record(db, None, "user", 1, "create", {"role": [None, "admin"]})
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE events SET action = 'forged' WHERE id = ?", [event_id])
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM events WHERE id = ?", [event_id])
    assert events.count(db) == 1
    assert events.history(db, "user", 1)[0]["action"] == "create"


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO team_members (team_id, user_id) VALUES (99, 99)")


def test_transaction_rolls_back_everything(db):
    with pytest.raises(RuntimeError), transaction(db):
        db.execute("INSERT INTO locations (name, created_at) VALUES ('A', 'now')")
        raise RuntimeError("boom")
    assert db.execute("SELECT count(*) FROM locations").fetchone()[0] == 0


def test_nested_transaction_is_a_savepoint(db):
    with transaction(db):
        db.execute("INSERT INTO locations (name, created_at) VALUES ('A', 'now')")
        with pytest.raises(RuntimeError), transaction(db):
            db.execute("INSERT INTO locations (name, created_at) VALUES ('B', 'now')")
            raise RuntimeError("inner")
    names = [r[0] for r in db.execute("SELECT name FROM locations")]
    assert names == ["A"]


def test_init_db_command(runner, app):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0
    assert "schema version" in result.output
