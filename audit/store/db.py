"""The one place that opens SQLite connections.

A request gets one sqlite-utils ``Database`` cached on ``g``; the CLI and tests use ``connect``.
Writes go through ``transaction`` so that every multi-row change is atomic and takes the write
lock up front (``BEGIN IMMEDIATE``): in WAL mode a deferred transaction that reads first and writes
later can fail with "database is locked" without ever waiting for the busy timeout.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import click
from flask import Flask, current_app, g
from flask.cli import with_appcontext
from sqlite_utils import Database

from audit.core import clock
from audit.store.schema import MIGRATIONS

# SQLite stores integers in 8 bytes: a larger number (an id typed into a URL or a form)
# cannot even be compared with a column and would raise OverflowError instead of matching
# nothing.
SQLITE_INT_MAX = 2**63 - 1


def is_duplicate(error: BaseException, table: str, *columns: str) -> bool:
    """Whether ``error`` is SQLite refusing a second row with the same value in ``table.column``
    (any of ``columns``).

    Told by SQLite's extended error name, never by the wording of the message: a CHECK, a
    foreign key or a trigger's RAISE is an integrity error too, and must not be reported to the
    user as "already in use". Only for a uniqueness failure is the detail read, which SQLite
    gives after the colon as the constrained columns, "table.column, ...".
    """
    if getattr(error, "sqlite_errorname", None) != "SQLITE_CONSTRAINT_UNIQUE":
        return False
    failed = {name.strip() for name in str(error).rpartition(": ")[2].split(",")}
    return any(f"{table}.{column}" in failed for column in columns)


# SQLite's primary result codes (the low byte of an extended one) for what the 503 page says.
READ_ONLY_CODES = {sqlite3.SQLITE_READONLY}
FULL_CODES = {sqlite3.SQLITE_FULL}
BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
IO_CODES = {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}


def problem_kind(error: BaseException) -> str:
    """What went wrong: readonly, full, busy, io (a disk I/O error or a file that cannot be
    opened) or other, from SQLite's result code (``sqlite_errorcode``), not from the message:
    an error about a column named ``full`` is no full disk."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "other"
    primary = code & 0xFF
    for kind, codes in (
        ("readonly", READ_ONLY_CODES),
        ("full", FULL_CODES),
        ("busy", BUSY_CODES),
        ("io", IO_CODES),
    ):
        if primary in codes:
            return kind
    return "other"


def connect(path: str | Path, busy_timeout_ms: int = 10_000) -> Database:
    """Open the database with the settings every connection needs."""
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,  # we say BEGIN ourselves; no implicit transactions
        check_same_thread=False,
    )
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # WAL with synchronous=NORMAL is durable against application crashes and keeps
        # readers and the writer out of each other's way.
        conn.execute("PRAGMA synchronous = NORMAL")
        # Deleted and overwritten content is zeroed, not left in free space: a changed anonymous
        # vote leaves no old choice or reason in the file or in a backup of it.
        conn.execute("PRAGMA secure_delete = ON")
    except sqlite3.Error:  # e.g. a full disk: the shared-memory file cannot grow
        conn.close()
        raise
    return Database(conn, execute_plugins=False)


def open_app_db(app: Flask | None = None) -> Database:
    app = app or current_app
    return connect(app.config["DATABASE"], app.config["BUSY_TIMEOUT_MS"])


def get_db() -> Database:
    """The request's connection, opened on first use."""
    if "db" not in g:
        g.db = open_app_db()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


@contextlib.contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """All writes inside commit together or not at all. Nested use becomes a savepoint."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def compact(db: Database, wait_ms: int = 500) -> bool:
    """Write the database file afresh (VACUUM: every table in the order of its key, no free
    space) and empty the write-ahead log, so that neither keeps the order in which rows were
    written. Best effort, outside any transaction: False when busy or short of disk space,
    which leaves everything as it was."""
    busy_timeout = db.execute("PRAGMA busy_timeout").fetchone()[0]
    try:
        db.conn.execute("VACUUM")
        # Readers in the middle of a request hold the log; wait for them only briefly.
        db.conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        return db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    except sqlite3.Error:
        return False
    finally:
        db.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")


def applied_migrations(db: Database) -> set[int]:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """
    )
    return {row[0] for row in db.execute("SELECT version FROM schema_migrations").fetchall()}


def apply_migrations(db: Database) -> list[int]:
    """Apply every migration not yet recorded; return the numbers applied (empty: up to date).

    A migration and its record commit together, so a failed one leaves the schema as it was.
    A step may be a function of the database (``schema.rebuild_table`` and the like). Foreign
    key enforcement is off while migrating, as SQLite's table rebuild needs (the pragma cannot
    change inside a transaction); every foreign key is checked before each migration commits.
    """
    done = applied_migrations(db)
    applied = []
    pending = [m for m in MIGRATIONS if m[0] not in done]
    if not pending:
        return applied
    enforced = db.execute("PRAGMA foreign_keys").fetchone()[0]
    db.conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for version, name, statements in pending:
            with transaction(db):
                for statement in statements:
                    if callable(statement):
                        statement(db)
                    else:
                        db.execute(statement)
                broken = db.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise sqlite3.IntegrityError(
                        f"migration {version} breaks foreign keys: {broken[:5]}"
                    )
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [version, name, clock.now_iso()],
                )
            applied.append(version)
    finally:
        db.conn.execute(f"PRAGMA foreign_keys = {int(enforced)}")
    return applied


def init_db(path: str | Path, busy_timeout_ms: int = 10_000) -> list[int]:
    """Create the file if needed, switch it to WAL and apply pending migrations."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = connect(path, busy_timeout_ms)
    try:
        db.conn.execute("PRAGMA journal_mode = WAL")
        applied = apply_migrations(db)
        if applied:
            # A migration that rebuilds a table leaves its old pages free, laid out in the order
            # their rows were written; VACUUM writes the file afresh (docs/security.md,
            # "Anonymous ballots").
            db.conn.execute("VACUUM")
        return applied
    finally:
        db.close()


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the database and apply every pending migration."""
    path = current_app.config["DATABASE"]
    applied = init_db(path, current_app.config["BUSY_TIMEOUT_MS"])
    if applied:
        click.echo(f"Applied migrations {', '.join(map(str, applied))} to {path}")
    latest = MIGRATIONS[-1][0]
    click.echo(f"Database {path} is at schema version {latest}")


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
