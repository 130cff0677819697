"""Online backups (VACUUM INTO), and restoring one while no server is running.

A running ``rule-audit serve`` holds a shared lock on a file next to the database; restore asks
for the exclusive lock, so it cannot replace the database under a server that may be writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from audit.core.errors import AuditError
from audit.store.db import apply_migrations, connect


class BackupError(AuditError):
    pass


def lock_path(database: str | Path) -> Path:
    return Path(f"{database}.server-lock")


@contextlib.contextmanager
def server_lock(database: str | Path) -> Iterator[None]:
    """Held by a serving process for as long as it runs; the OS drops it if the process dies."""
    path = lock_path(database)
    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the block
    try:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextlib.contextmanager
def _no_server(database: str | Path) -> Iterator[None]:
    """Held by restore while it replaces the database: the exclusive lock, refused while a
    server holds the shared one. Taken and held, not merely tested, so that no server can start
    on the database between the test and the copy."""
    with open(lock_path(database), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                "A server is running on this database; stop `rule-audit serve` first, then restore."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check(path: Path) -> None:
    """The file is a healthy SQLite database with our schema, or BackupError."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} is damaged (integrity check failed)")
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a Regelaudit database ({error})") from None
    if not {"schema_migrations", "rules", "events"} <= tables:
        raise BackupError(f"{path} is not a Regelaudit database")


def backup(database: str | Path, out: str | Path) -> None:
    """A consistent copy of the live database, taken while the server may be writing."""
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} exists already; choose a new file name")
    source = connect(database)
    try:
        # VACUUM INTO, not a page copy: the copy is laid out afresh, every table in the order of
        # its key, so it keeps no trace of the order in which rows were written (such as which
        # anonymous ballot came in when) and no free space with old content.
        source.conn.execute("VACUUM INTO ?", [str(out)])
    except (sqlite3.Error, OSError) as error:
        out.unlink(missing_ok=True)
        raise BackupError(f"Cannot write {out}: {error}") from None
    finally:
        source.close()
    _check(out)


def restore(backup_file: str | Path, database: str | Path) -> None:
    """Replace the database with a backup. Refused while a server is running on it."""
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise BackupError(f"{backup_file} does not exist")
    _check(backup_file)
    with _no_server(database):
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        target = connect(database)
        try:
            # Page by page into the live file, WAL included: readers never see half a copy.
            source.backup(target.conn)
            apply_migrations(target)  # a backup from an older version catches up
        finally:
            source.close()
            target.close()
    os.utime(database)
