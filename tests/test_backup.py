"""Online backup while the server runs; restore refused while it runs, and compared after."""

import fcntl
import subprocess

import pytest

from audit.domain import rules
from audit.store import backup
from audit.store.db import connect
from tests.conftest import make_rule
from tests.servers import CLI, start_server


def _dump(path) -> list[str]:
    """Every statement that recreates the database, sorted: a backup is laid out afresh
    (VACUUM INTO), which lists the schema in another order but must hold the same."""
    database = connect(path)
    try:
        return sorted(database.conn.iterdump())
    finally:
        database.close()


def _server_holds_the_lock(database) -> bool:
    """Whether some process holds the lock `rule-audit serve` takes (restore refuses then)."""
    with open(backup.lock_path(database), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_backup_and_restore(runner, app, db, tmp_path):
    make_rule(db, code="A", title="Voor de backup")
    copy = tmp_path / "copy.sqlite3"
    result = runner.invoke(args=["backup", str(copy)])
    assert result.exit_code == 0, result.output
    before = _dump(app.config["DATABASE"])
    assert _dump(copy) == before
    rules.update_rule(db, None, rules.find_by_code(db, "A").id, title="Na de backup")
    make_rule(db, code="B")
    result = runner.invoke(args=["restore", str(copy), "--yes"])
    assert result.exit_code == 0, result.output
    after = connect(app.config["DATABASE"])
    assert [r[0] for r in after.execute("SELECT title FROM rules")] == ["Voor de backup"]
    assert _dump(app.config["DATABASE"]) == before
    assert after.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_refuses_to_overwrite_and_bad_paths(runner, db, tmp_path):
    existing = tmp_path / "there.sqlite3"
    existing.write_text("keep me")
    result = runner.invoke(args=["backup", str(existing)])
    assert result.exit_code == 1 and "exists already" in result.output
    assert existing.read_text() == "keep me"
    result = runner.invoke(args=["backup", str(tmp_path / "no" / "such" / "dir.sqlite3")])
    assert result.exit_code == 1 and "Cannot write" in result.output


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 50])
def test_restore_refuses_a_file_that_is_not_a_backup(runner, db, tmp_path, content):
    make_rule(db, code="A")
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_bytes(content)
    result = runner.invoke(args=["restore", str(bogus), "--yes"])
    assert result.exit_code == 1
    assert "not a Regelaudit database" in result.output
    assert rules.find_by_code(db, "A") is not None


def test_restore_asks_first(runner, app, db, tmp_path):
    make_rule(db, code="A", title="Voor de backup")
    copy = tmp_path / "copy.sqlite3"
    assert runner.invoke(args=["backup", str(copy)]).exit_code == 0
    make_rule(db, code="B", title="Na de backup")
    before = _dump(app.config["DATABASE"])
    result = runner.invoke(args=["restore", str(copy)], input="n\n")
    assert result.exit_code != 0
    assert "Everything since the backup is lost" in result.output  # it asked
    # Declined: the database is exactly as it was, the rule made after the backup included.
    assert _dump(app.config["DATABASE"]) == before
    assert rules.find_by_code(db, "B").title == "Na de backup"


def test_restore_is_refused_while_the_server_runs_and_backup_works(tmp_path):
    database = tmp_path / "audit.sqlite3"
    server = start_server(tmp_path, "--demo")
    copy = tmp_path / "online.sqlite3"
    try:
        assert _server_holds_the_lock(database)
        done = subprocess.run(
            [*CLI, "backup", str(copy)], env=server.env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        refused = subprocess.run(
            [*CLI, "restore", str(copy), "--yes"], env=server.env, capture_output=True, text=True
        )
        assert refused.returncode == 1
        assert "server is running" in refused.stderr
    finally:
        server.stop()
    assert not _server_holds_the_lock(database)  # released when the server stopped
    restored = subprocess.run(
        [*CLI, "restore", str(copy), "--yes"], env=server.env, capture_output=True, text=True
    )
    assert restored.returncode == 0, restored.stderr
    assert _dump(database) == _dump(copy)
