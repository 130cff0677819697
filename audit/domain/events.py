"""The append-only event log: who changed what, when, from which value to which."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from sqlite_utils import Database

from audit.core import clock

SYSTEM = "system"


class Actor(Protocol):
    id: int
    username: str


def diff(old: Mapping[str, Any], new: Mapping[str, Any], fields: Iterable[str]) -> dict:
    """{field: [old, new]} for the fields whose value differs."""
    return {f: [old.get(f), new.get(f)] for f in fields if old.get(f) != new.get(f)}


def record(
    db: Database,
    actor: Actor | None,
    entity: str,
    entity_id: int | None,
    action: str,
    changes: Mapping[str, Any] | None = None,
    *,
    ref: tuple[str, int] | None = None,
    note: str | None = None,
) -> int:
    """Append one event. Call inside the transaction that makes the change it describes."""
    cursor = db.execute(
        """
        INSERT INTO events (at, actor_id, actor_name, entity, entity_id, action, changes,
                            ref_entity, ref_id, note)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            clock.now_iso(),
            actor.id if actor else None,
            actor.username if actor else SYSTEM,
            entity,
            entity_id,
            action,
            json.dumps(dict(changes or {}), ensure_ascii=False, default=str),
            ref[0] if ref else None,
            ref[1] if ref else None,
            note,
        ],
    )
    return cursor.lastrowid


def record_many(
    db: Database,
    actor: Actor | None,
    entity: str,
    action: str,
    items: list[tuple[int, Mapping[str, Any]]],
    *,
    ref: tuple[str, int] | None = None,
    note: str | None = None,
) -> None:
    """Append one event per (entity id, changes), in one statement: for bulk writes."""
    at = clock.now_iso()
    db.conn.executemany(
        """
        INSERT INTO events (at, actor_id, actor_name, entity, entity_id, action, changes,
                            ref_entity, ref_id, note)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            (
                at,
                actor.id if actor else None,
                actor.username if actor else SYSTEM,
                entity,
                entity_id,
                action,
                json.dumps(dict(changes), ensure_ascii=False, default=str),
                ref[0] if ref else None,
                ref[1] if ref else None,
                note,
            )
            for entity_id, changes in items
        ],
    )


def _decode(row: dict) -> dict:
    row["changes"] = json.loads(row["changes"])
    return row


def history(db: Database, entity: str, entity_id: int) -> list[dict]:
    """Every event of one thing, newest first."""
    rows = db.query(
        "SELECT * FROM events WHERE entity = ? AND entity_id = ? ORDER BY id DESC",
        [entity, entity_id],
    )
    return [_decode(r) for r in rows]


def count(db: Database, entity: str | None = None) -> int:
    if entity is None:
        return db.execute("SELECT count(*) FROM events").fetchone()[0]
    return db.execute("SELECT count(*) FROM events WHERE entity = ?", [entity]).fetchone()[0]


def iterate(db: Database, exclude_actions: tuple[str, ...] = ()) -> Iterator[dict]:
    """Every event, oldest first, streamed from the database (for exports)."""
    marks = ",".join("?" * len(exclude_actions)) or "''"
    cursor = db.execute(
        f"SELECT * FROM events WHERE action NOT IN ({marks}) ORDER BY id", list(exclude_actions)
    )
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield _decode(dict(zip(names, row, strict=True)))
