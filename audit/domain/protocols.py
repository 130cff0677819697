"""Protocols: documents in the quality system that state rules."""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import NotFound, ValidationError, check
from audit.core.text import blank
from audit.domain import events
from audit.store.db import is_duplicate, transaction

NAME_MAX = 200
VERSION_MAX = 50
URL_MAX = 500
FIELDS = ("name", "version", "url")

# Per protocol: its live rules, how many are traced and self-invented. The share is of traced
# rules, as everywhere else.
_SUMMARY = """
    SELECT p.id, p.name, p.version, p.url,
           count(r.id) AS rule_count,
           coalesce(sum(r.traced), 0) AS traced,
           coalesce(sum(r.self_invented), 0) AS self_invented,
           coalesce(sum(r.myth), 0) AS myths
    FROM protocols p
    LEFT JOIN rules r ON r.protocol_id = p.id AND r.archived_at IS NULL
"""


def _with_share(row: dict) -> dict:
    row["self_invented_share"] = row["self_invented"] / row["traced"] if row["traced"] else None
    return row


def list_protocols(db: Database) -> list[dict]:
    rows = db.query(_SUMMARY + " GROUP BY p.id ORDER BY p.name COLLATE NOCASE")
    return [_with_share(r) for r in rows]


def get_protocol(db: Database, protocol_id: int) -> dict:
    rows = list(db.query(_SUMMARY + " WHERE p.id = ? GROUP BY p.id", [protocol_id]))
    if not rows:
        raise NotFound(_l("No such protocol."))
    return _with_share(rows[0])


def find_protocol(db: Database, name: str) -> dict | None:
    row = db.execute(
        "SELECT id FROM protocols WHERE name = ? COLLATE NOCASE", [(name or "").strip()]
    ).fetchone()
    return get_protocol(db, row[0]) if row else None


def _validate(name: str, version: str, url: str) -> None:
    errors: dict[str, Any] = {}
    if blank(name):
        errors["name"] = _l("Enter a name.")
    elif len(name) > NAME_MAX:
        errors["name"] = _l("At most %(n)s characters.", n=NAME_MAX)
    if len(version) > VERSION_MAX:
        errors["version"] = _l("At most %(n)s characters.", n=VERSION_MAX)
    if url:
        parts = urlsplit(url)
        if len(url) > URL_MAX:
            errors["url"] = _l("At most %(n)s characters.", n=URL_MAX)
        elif parts.scheme not in ("http", "https") or not parts.netloc:
            # Only web links: a javascript: or file: link must never become clickable.
            errors["url"] = _l("Enter a web address starting with http:// or https://.")
    check(errors)


def save_protocol(
    db: Database,
    actor: events.Actor | None,
    *,
    name: str,
    version: str = "",
    url: str = "",
    protocol_id: int | None = None,
) -> dict:
    name = " ".join((name or "").split())
    version, url = (version or "").strip(), (url or "").strip()
    _validate(name, version, url)
    new = {"name": name, "version": version, "url": url}
    with transaction(db):
        try:
            if protocol_id is None:
                protocol_id = db.execute(
                    "INSERT INTO protocols (name, version, url, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [name, version, url, clock.now_iso(), clock.now_iso()],
                ).lastrowid
                events.record(
                    db, actor, "protocol", protocol_id, "create", events.diff({}, new, FIELDS)
                )
            else:
                old = get_protocol(db, protocol_id)
                db.execute(
                    "UPDATE protocols SET name = ?, version = ?, url = ?, updated_at = ?"
                    " WHERE id = ?",
                    [name, version, url, clock.now_iso(), protocol_id],
                )
                changes = events.diff(old, new, FIELDS)
                if changes:
                    events.record(db, actor, "protocol", protocol_id, "update", changes)
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "protocols", "name"):
                raise
            raise ValidationError(
                {"name": _l("A protocol with this name exists already.")}
            ) from None
    return get_protocol(db, protocol_id)
