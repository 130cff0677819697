"""How domain values read on a page: labels in the reader's language, history entries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit import ballots, decisions, origins, sessions
from audit.vocabulary import IMPACTS, STATUSES, VALUES

FIELD_LABELS = {
    "code": _l("Code"),
    "title": _l("Title"),
    "description": _l("Description"),
    "category_id": _l("Category"),
    "protocol_id": _l("Protocol"),
    "team_ids": _l("Teams"),
    "location_ids": _l("Locations"),
    "owner": _l("Owner"),
    "minutes_per_week": _l("Minutes per week"),
    "relation_impact": _l("Effect on the client relation"),
    "values_touched": _l("Values touched"),
    "status": _l("Status"),
    "introduced_on": _l("Introduced on"),
    "review_due": _l("Review due"),
    "perceived_origin": _l("Perceived origin"),
    "verified_origin": _l("Verified origin"),
    "source_reference": _l("Source reference"),
    "evidence_note": _l("Evidence"),
    "verified_by": _l("Verified by"),
    "verified_on": _l("Verified on"),
    "archived_at": _l("Archived"),
}

DATE_FIELDS = ("introduced_on", "review_due", "verified_on")

ACTION_LABELS = {
    "create": _l("created"),
    "update": _l("changed"),
    "trace": _l("traced"),
    "archive": _l("archived"),
    "restore": _l("restored"),
    "import": _l("imported"),
    "decision": _l("decision applied"),
}


def category_name(row: Any) -> str:
    """A row or Rule with category_nl / category_en, named in the reader's language."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k, None)
    if str(get_locale() or "nl") == "en":
        return get("category_en") or ""
    return get("category_nl") or ""


def _label(mapping: dict, key: Any) -> str:
    return str(mapping[key]) if key in mapping else ""


class HistoryLookup:
    """Names for the ids an event stores, loaded once per page."""

    def __init__(self, db: Database) -> None:
        locale_column = "name_en" if str(get_locale() or "nl") == "en" else "name_nl"
        self.names = {
            "category_id": dict(db.execute(f"SELECT id, {locale_column} FROM categories")),
            "protocol_id": dict(db.execute("SELECT id, name FROM protocols")),
            "team_ids": dict(db.execute("SELECT id, name FROM teams")),
            "location_ids": dict(db.execute("SELECT id, name FROM locations")),
            "verified_by": dict(
                db.execute("SELECT id, coalesce(nullif(display_name, ''), username) FROM users")
            ),
        }

    def value(self, field: str, value: Any) -> str:
        if value in (None, "", []):
            return "–"
        if field in ("team_ids", "location_ids"):
            return ", ".join(str(self.names[field].get(v, v)) for v in value)
        if field in self.names:
            return str(self.names[field].get(value, value))
        if field in ("perceived_origin", "verified_origin"):
            return origins.label(value) or str(value)
        if field == "status":
            return _label(STATUSES, value) or str(value)
        if field == "relation_impact":
            return _label(IMPACTS, value) or str(value)
        if field == "values_touched":
            return ", ".join(_label(VALUES, v) or v for v in value)
        if field in DATE_FIELDS:
            try:
                return format_date(date.fromisoformat(value))
            except (TypeError, ValueError):
                return str(value)
        if field == "archived_at":
            return format_datetime(datetime.fromisoformat(value))
        return str(value)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        ORIGINS=origins.ORIGINS,
        STATUSES=STATUSES,
        IMPACTS=IMPACTS,
        VALUES=VALUES,
        FIELD_LABELS=FIELD_LABELS,
        ACTION_LABELS=ACTION_LABELS,
        origin_label=origins.label,
        origin_group=lambda key: _label(origins.GROUPS, origins.GROUP_OF.get(key)),
        status_label=lambda key: _label(STATUSES, key),
        impact_label=lambda key: _label(IMPACTS, key),
        value_label=lambda key: _label(VALUES, key),
        category_name=category_name,
        STATES_LABELS=sessions.STATES,
        MODES_LABELS=sessions.MODES,
        CHOICE_LABELS=ballots.CHOICES,
        OUTCOME_LABELS=decisions.OUTCOMES,
        SUGGESTED_LABELS={**decisions.OUTCOMES, "discuss": _l("Discuss")},
        mandatory_note=ballots.mandatory_message,
    )
