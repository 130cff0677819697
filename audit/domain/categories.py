"""The organisation's own list of rule categories, named in Dutch and English."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import NotFound, ValidationError, check
from audit.core.text import blank
from audit.domain import events
from audit.store.db import is_duplicate, transaction

NAME_MAX = 100


def display_name(category: dict | None) -> str:
    """The name in the reader's language."""
    if not category:
        return ""
    locale = str(get_locale() or "nl")
    return category["name_en"] if locale == "en" else category["name_nl"]


def name_sql(alias: str = "c") -> str:
    """SQL for the category name in the reader's language (for sorting and listing)."""
    column = "name_en" if str(get_locale() or "nl") == "en" else "name_nl"
    return f"{alias}.{column}"


def list_categories(
    db: Database, include_inactive: bool = False, with_counts: bool = False
) -> list[dict]:
    """By name in the reader's language. ``with_counts`` adds each category's rules in the
    register (``rule_count``), for the admin's list only: counting visits every rule, which
    the choice lists of the register and the dashboard do not need."""
    count = (
        "(SELECT count(*) FROM rules r WHERE r.category_id = c.id AND r.archived_at IS NULL)"
        if with_counts
        else "NULL"
    )
    rows = db.query(
        f"""
        SELECT c.id, c.name_nl, c.name_en, c.active, c.daily_life, {count} AS rule_count
        FROM categories c WHERE c.active OR ?
        """,
        [include_inactive],
    )
    result = [{**r, "name": display_name(r)} for r in rows]
    return sorted(result, key=lambda r: r["name"].casefold())


def get_category(db: Database, category_id: int) -> dict:
    rows = list(
        db.query(
            "SELECT id, name_nl, name_en, active, daily_life FROM categories WHERE id = ?",
            [category_id],
        )
    )
    if not rows:
        raise NotFound(_l("No such category."))
    return {**rows[0], "name": display_name(rows[0])}


def find_category(db: Database, name: str) -> dict | None:
    """By its Dutch or English name, case-insensitive."""
    rows = list(
        db.query(
            "SELECT id, name_nl, name_en, active FROM categories"
            " WHERE name_nl = ?1 COLLATE NOCASE OR name_en = ?1 COLLATE NOCASE",
            [(name or "").strip()],
        )
    )
    return rows[0] if rows else None


def save_category(
    db: Database,
    actor: events.Actor | None,
    *,
    name_nl: str,
    name_en: str = "",
    active: bool = True,
    category_id: int | None = None,
    daily_life: bool | None = None,
) -> dict:
    """Create or change a category. Without an English name the Dutch one serves both.
    ``daily_life`` marks it as part of residents' daily life, so that the client council is
    heard on its rules (docs/design.md, "Client council advice"); None keeps it as it is."""
    name_nl = " ".join((name_nl or "").split())
    name_en = " ".join((name_en or "").split()) or name_nl
    errors: dict[str, Any] = {}
    if blank(name_nl):
        errors["name_nl"] = _l("Enter a name.")
    if blank(name_en):
        name_en = name_nl
    for field, value in (("name_nl", name_nl), ("name_en", name_en)):
        if len(value) > NAME_MAX:
            errors[field] = _l("At most %(n)s characters.", n=NAME_MAX)
    check(errors)
    new = {"name_nl": name_nl, "name_en": name_en, "active": bool(active)}
    with transaction(db):
        try:
            if category_id is None:
                new["daily_life"] = bool(daily_life)
                category_id = db.execute(
                    "INSERT INTO categories (name_nl, name_en, active, daily_life, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [name_nl, name_en, int(active), int(new["daily_life"]), clock.now_iso()],
                ).lastrowid
                events.record(
                    db, actor, "category", category_id, "create", events.diff({}, new, new)
                )
            else:
                old = get_category(db, category_id)
                old["active"] = bool(old["active"])
                old["daily_life"] = bool(old["daily_life"])
                new["daily_life"] = old["daily_life"] if daily_life is None else bool(daily_life)
                db.execute(
                    "UPDATE categories SET name_nl = ?, name_en = ?, active = ?, daily_life = ?"
                    " WHERE id = ?",
                    [name_nl, name_en, int(active), int(new["daily_life"]), category_id],
                )
                changes = events.diff(old, new, new)
                if changes:
                    events.record(db, actor, "category", category_id, "update", changes)
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "categories", "name_nl", "name_en"):
                raise
            raise ValidationError(
                {"name_nl": _l("A category with this name exists already.")}
            ) from None
    return get_category(db, category_id)
