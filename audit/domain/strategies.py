"""Adapt strategies: the organisation's own list of how an adapted rule was stretched, named in
Dutch and English and kept by the admin like the categories (docs/design.md, "Adapt
strategies"). A strategy in use is retired rather than deleted: old decisions keep showing it,
new ones cannot choose it."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError, check
from audit.core.text import has_control_characters, too_long
from audit.domain import events
from audit.store.db import SQLITE_INT_MAX, is_duplicate, transaction

NAME_MAX = 100
EXPLANATION_MAX = 500
POSITION_MAX = 999
# The event log's name for one strategy (history.ENTITY_LABELS).
ENTITY = "adapt_strategy"
# What an adapt decision made before strategies were recorded shows in their place.
NOT_RECORDED = _l("not recorded")

_COLUMNS = "id, key, name_nl, name_en, explanation_nl, explanation_en, position, active, version"
# What an edit changes, in the event log's order.
_EDITABLE = ("name_nl", "name_en", "explanation_nl", "explanation_en", "position", "active")


def _english() -> bool:
    return str(get_locale() or "nl") == "en"


def display_name(strategy: dict | None) -> str:
    """The name in the reader's language."""
    if not strategy:
        return ""
    return strategy["name_en"] if _english() else strategy["name_nl"]


def _shown(row: dict) -> dict:
    return {
        **row,
        "active": bool(row["active"]),
        "name": row["name_en"] if _english() else row["name_nl"],
        "explanation": row["explanation_en"] if _english() else row["explanation_nl"],
    }


def list_strategies(db: Database, include_inactive: bool = False) -> list[dict]:
    """The strategies in the organisation's order, each with how many decisions name it."""
    rows = db.query(
        f"""
        SELECT {_COLUMNS},
               (SELECT count(*) FROM decisions d WHERE d.strategy_id = s.id) AS decision_count
        FROM adapt_strategies s WHERE s.active OR ?
        ORDER BY s.position, s.id
        """,
        [include_inactive],
    )
    return [_shown(r) for r in rows]


def get_strategy(db: Database, strategy_id: int) -> dict:
    rows = list(db.query(f"SELECT {_COLUMNS} FROM adapt_strategies WHERE id = ?", [strategy_id]))
    if not rows:
        raise NotFound(_l("No such adapt strategy."))
    return _shown(rows[0])


def by_key(db: Database, key: str) -> dict:
    """A strategy of the starter set by its fixed key (time, volume, intent, ...)."""
    rows = list(db.query(f"SELECT {_COLUMNS} FROM adapt_strategies WHERE key = ?", [key]))
    if not rows:
        raise NotFound(_l("No such adapt strategy."))
    return _shown(rows[0])


def names(db: Database) -> dict[int, str]:
    """Every strategy's id -> name in the reader's language, retired ones too (for history)."""
    column = "name_en" if _english() else "name_nl"
    return dict(db.execute(f"SELECT id, {column} FROM adapt_strategies"))


def choosable(db: Database, strategy_id: int | None, keep: int | None = None) -> Any:
    """Why ``strategy_id`` cannot be chosen for a decision, or None when it can: it must exist
    and be in use, unless it is ``keep``, the decision's own strategy from before it retired."""
    if strategy_id is None:
        return None
    if not 0 < strategy_id <= SQLITE_INT_MAX:  # SQLite could not even compare it
        return _l("No such adapt strategy.")
    row = db.execute("SELECT active FROM adapt_strategies WHERE id = ?", [strategy_id]).fetchone()
    if row is None:
        return _l("No such adapt strategy.")
    if not row[0] and strategy_id != keep:
        return _l("This strategy is no longer in use; choose another one.")
    return None


def options(db: Database, keep: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of the strategies a decision may choose: those in use, and ``keep`` (the
    decision's own strategy) even when it has retired since."""
    return [
        (s["id"], s["name"])
        for s in list_strategies(db, include_inactive=True)
        if s["active"] or s["id"] == keep
    ]


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    name_nl = " ".join(str(values.get("name_nl") or "").split())
    name_en = " ".join(str(values.get("name_en") or "").split())
    cleaned = {
        "name_nl": name_nl,
        "name_en": name_en,
        "explanation_nl": str(values.get("explanation_nl") or "").strip(),
        "explanation_en": str(values.get("explanation_en") or "").strip(),
        "active": bool(values.get("active", True)),
    }
    if not name_nl:
        errors["name_nl"] = _l("Enter a name.")
    for field, limit in (
        ("name_nl", NAME_MAX),
        ("name_en", NAME_MAX),
        ("explanation_nl", EXPLANATION_MAX),
        ("explanation_en", EXPLANATION_MAX),
    ):
        if field == "name_en" and not name_en:
            continue  # left empty: the Dutch name serves, and is checked as such
        if len(cleaned[field]) > limit:
            errors[field] = too_long(limit, len(cleaned[field]))
        elif has_control_characters(cleaned[field].replace("\n", "").replace("\r", "")):
            errors[field] = _l("This text holds characters that cannot be shown.")
    # Empty: at the end of the list (a new strategy) or where it was (an edit); see save.
    position = values.get("position")
    if isinstance(position, str):
        position = position.strip()
        position = int(position) if position.isascii() and position.isdigit() else position
    if position not in (None, "") and (
        isinstance(position, bool)
        or not isinstance(position, int)
        or not 0 <= position <= POSITION_MAX
    ):
        errors["position"] = _l("Enter a whole number from 0 to %(n)s.", n=POSITION_MAX)
    cleaned["position"] = None if position == "" else position
    check(errors)
    cleaned["name_en"] = name_en or name_nl
    return cleaned


def save_strategy(
    db: Database,
    actor: events.Actor | None,
    *,
    name_nl: str,
    name_en: str = "",
    explanation_nl: str = "",
    explanation_en: str = "",
    position: Any = None,
    active: bool = True,
    strategy_id: int | None = None,
    expected_version: int | None = None,
) -> dict:
    """Create or change a strategy. Without an English name the Dutch one serves both. With
    ``expected_version`` (the version the form was loaded at) an edit of a strategy someone
    saved meanwhile is refused rather than overwriting theirs."""
    new = _clean(
        {
            "name_nl": name_nl,
            "name_en": name_en,
            "explanation_nl": explanation_nl,
            "explanation_en": explanation_en,
            "position": position,
            "active": active,
        }
    )
    with transaction(db):
        if new["position"] is None and strategy_id is not None:
            new["position"] = get_strategy(db, strategy_id)["position"]
        elif new["position"] is None:
            last = db.execute("SELECT max(position) FROM adapt_strategies").fetchone()[0]
            new["position"] = min((last or 0) + 10, POSITION_MAX)
        row = {**new, "active": int(new["active"])}
        try:
            if strategy_id is None:
                strategy_id = db.execute(
                    "INSERT INTO adapt_strategies (name_nl, name_en, explanation_nl,"
                    " explanation_en, position, active, created_at)"
                    " VALUES (:name_nl, :name_en, :explanation_nl, :explanation_en, :position,"
                    " :active, :created_at)",
                    {**row, "created_at": clock.now_iso()},
                ).lastrowid
                events.record(db, actor, ENTITY, strategy_id, "create", events.diff({}, new, new))
            else:
                old = get_strategy(db, strategy_id)
                if expected_version is not None and old["version"] != expected_version:
                    raise Conflict(
                        _l(
                            "Someone else saved this strategy since you opened it. Your changes"
                            " were not saved; reload the page to see the current version."
                        )
                    )
                changes = events.diff(old, new, _EDITABLE)
                if not changes:
                    return old
                db.execute(
                    "UPDATE adapt_strategies SET name_nl = :name_nl, name_en = :name_en,"
                    " explanation_nl = :explanation_nl, explanation_en = :explanation_en,"
                    " position = :position, active = :active, version = version + 1"
                    " WHERE id = :id",
                    {**row, "id": strategy_id},
                )
                events.record(db, actor, ENTITY, strategy_id, "update", changes)
        except sqlite3.IntegrityError as error:
            if is_duplicate(error, "adapt_strategies", "name_nl"):
                raise ValidationError(
                    {"name_nl": _l("A strategy with this name exists already.")}
                ) from None
            if is_duplicate(error, "adapt_strategies", "name_en"):
                raise ValidationError(
                    {"name_en": _l("A strategy with this name exists already.")}
                ) from None
            raise
    return get_strategy(db, strategy_id)
