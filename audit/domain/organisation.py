"""The organisation itself: its settings, locations and teams."""

from __future__ import annotations

import calendar
import sqlite3
from datetime import date
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import NotFound, ValidationError, check
from audit.core.text import blank
from audit.domain import events
from audit.store.db import is_duplicate, transaction

LANGUAGES = ("nl", "en")
NAME_MAX = 100
ORG_NAME_MAX = 200
LABEL_MAX = 200
# How far ahead a rule added by hand may put its review, in months (docs/design.md, "The mirror
# check"); the schema holds the same bounds.
HORIZON_MIN = 1
HORIZON_MAX = 60
HORIZON_DEFAULT = 12
# Whether the client council's advice is off, asked or required before a decision on a rule
# that touches residents' daily lives is applied (docs/design.md, "Client council advice").
COUNCIL_SETTINGS = ("off", "ask", "required")


# --- settings -------------------------------------------------------------------------------


def get_settings(db: Database) -> dict:
    return next(
        db.query(
            "SELECT name, default_language, reference_share, reference_label_nl,"
            " reference_label_en FROM organisation"
        )
    )


def rule_settings(db: Database) -> dict[str, Any]:
    """What the organisation asks of new rules: the review horizon in months, and whether a rule
    added by hand starts as ``proposed`` (docs/design.md, "The mirror check")."""
    row = db.execute(
        "SELECT review_horizon_months, new_rules_proposed FROM organisation"
    ).fetchone()
    return {"review_horizon_months": row[0], "new_rules_proposed": bool(row[1])}


def add_months(day: date, months: int) -> date:
    """``day`` so many calendar months later; the 31st becomes the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def horizon_date(db: Database) -> date:
    """The latest review date a rule added by hand may have today, and the date an imported rule
    without one gets: today plus the organisation's horizon."""
    return add_months(clock.today(), rule_settings(db)["review_horizon_months"])


def reference_label(settings: dict, lang: str | None = None) -> str | None:
    """Where the reference share comes from, in ``lang`` (default: the reader's language), else
    in the other language; None when there is no reference or it has no source."""
    if settings["reference_share"] is None:
        return None
    lang = lang or str(get_locale() or "nl")
    first, second = ("en", "nl") if lang == "en" else ("nl", "en")
    for label in (settings[f"reference_label_{first}"], settings[f"reference_label_{second}"]):
        if not blank(label):
            return label
    return None


def update_settings(
    db: Database,
    actor: events.Actor | None,
    *,
    name: str,
    default_language: str,
    reference_share: float | None,
    reference_label_nl: str | None = None,
    reference_label_en: str | None = None,
    review_horizon_months: Any = None,
    new_rules_proposed: bool | None = None,
    council_advice: str | None = None,
) -> dict:
    """reference_share is a fraction (0.7 for 70%), or None for no reference at all. A reference
    needs its source in at least one language; a label left out (None) stays as it is, and so
    do the review horizon (whole months, HORIZON_MIN to HORIZON_MAX) and whether new rules
    start as proposed."""
    name = (name or "").strip()
    errors: dict[str, Any] = {}
    horizon = _horizon(review_horizon_months, errors)
    if len(name) > ORG_NAME_MAX:
        errors["name"] = _l("At most %(n)s characters.", n=ORG_NAME_MAX)
    if default_language not in LANGUAGES:
        errors["default_language"] = _l("Choose Dutch or English.")
    if council_advice is not None and council_advice not in COUNCIL_SETTINGS:
        errors["council_advice"] = _l("Choose off, ask or required.")
    if reference_share is not None and not 0 <= reference_share <= 1:
        errors["reference_share"] = _l("Enter a percentage between 0 and 100.")
    with transaction(db):
        old = get_settings(db)
        labels = {}
        for lang, given in (("nl", reference_label_nl), ("en", reference_label_en)):
            key = f"reference_label_{lang}"
            labels[key] = old[key] if given is None else " ".join(given.split())
            if len(labels[key]) > LABEL_MAX:
                errors[key] = _l("At most %(n)s characters.", n=LABEL_MAX)
        if reference_share is not None and all(blank(v) for v in labels.values()):
            errors["reference_label_nl"] = _l(
                "Name the source of the reference, or leave the reference empty."
            )
        check(errors)
        old_rules = rule_settings(db)
        for_rules = {
            "review_horizon_months": (
                old_rules["review_horizon_months"] if horizon is None else horizon
            ),
            "new_rules_proposed": (
                old_rules["new_rules_proposed"]
                if new_rules_proposed is None
                else bool(new_rules_proposed)
            ),
        }
        new = {
            "name": name,
            "default_language": default_language,
            "reference_share": reference_share,
            **labels,
        }
        db.execute(
            "UPDATE organisation SET name = ?, default_language = ?, reference_share = ?,"
            " reference_label_nl = ?, reference_label_en = ?, review_horizon_months = ?,"
            " new_rules_proposed = ?, updated_at = ? WHERE id = 1",
            [
                name,
                default_language,
                reference_share,
                labels["reference_label_nl"],
                labels["reference_label_en"],
                for_rules["review_horizon_months"],
                int(for_rules["new_rules_proposed"]),
                clock.now_iso(),
            ],
        )
        old_council = db.execute("SELECT council_advice FROM organisation").fetchone()[0]
        council = {"council_advice": council_advice or old_council}
        db.execute(
            "UPDATE organisation SET council_advice = ? WHERE id = 1",
            [council_advice or old_council],
        )
        changes = events.diff(
            {**old, **old_rules, "council_advice": old_council},
            {**new, **for_rules, **council},
            {**new, **for_rules, **council},
        )
        if changes:
            events.record(db, actor, "organisation", 1, "update", changes)
    return new


def _horizon(value: Any, errors: dict[str, Any]) -> int | None:
    """The review horizon as whole months, or None when not given (keep it)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (HORIZON_MIN <= value <= HORIZON_MAX)
    ):
        errors["review_horizon_months"] = _l(
            "Enter a whole number of months from %(low)s to %(high)s.",
            low=HORIZON_MIN,
            high=HORIZON_MAX,
        )
        return None
    return value


# --- locations ------------------------------------------------------------------------------


def _clean_name(value: str | None, field: str = "name") -> str:
    name = " ".join((value or "").split())
    if blank(name):
        raise ValidationError({field: _l("Enter a name.")})
    if len(name) > NAME_MAX:
        raise ValidationError({field: _l("At most %(n)s characters.", n=NAME_MAX)})
    return name


def list_locations(db: Database) -> list[dict]:
    return list(
        db.query(
            """
            SELECT l.id, l.name, count(t.id) AS team_count
            FROM locations l LEFT JOIN teams t ON t.location_id = l.id
            GROUP BY l.id ORDER BY l.name COLLATE NOCASE
            """
        )
    )


def get_location(db: Database, location_id: int) -> dict:
    row = db.execute("SELECT id, name FROM locations WHERE id = ?", [location_id]).fetchone()
    if row is None:
        raise NotFound(_l("No such location."))
    return {"id": row[0], "name": row[1]}


def find_location(db: Database, name: str) -> dict | None:
    row = db.execute(
        "SELECT id, name FROM locations WHERE name = ? COLLATE NOCASE", [name.strip()]
    ).fetchone()
    return {"id": row[0], "name": row[1]} if row else None


def save_location(
    db: Database, actor: events.Actor | None, name: str, location_id: int | None = None
) -> dict:
    """Create a location, or rename one when location_id is given."""
    name = _clean_name(name)
    with transaction(db):
        try:
            if location_id is None:
                location_id = db.execute(
                    "INSERT INTO locations (name, created_at) VALUES (?, ?)",
                    [name, clock.now_iso()],
                ).lastrowid
                events.record(db, actor, "location", location_id, "create", {"name": [None, name]})
            else:
                old = get_location(db, location_id)
                db.execute("UPDATE locations SET name = ? WHERE id = ?", [name, location_id])
                changes = events.diff(old, {"name": name}, ["name"])
                if changes:
                    events.record(db, actor, "location", location_id, "update", changes)
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "locations", "name"):
                raise
            raise ValidationError(
                {"name": _l("A location with this name exists already.")}
            ) from None
    return get_location(db, location_id)


# --- teams ----------------------------------------------------------------------------------


def list_teams(db: Database) -> list[dict]:
    return list(
        db.query(
            """
            SELECT t.id, t.name, t.location_id, l.name AS location_name,
                   (SELECT count(*) FROM team_members m JOIN users u ON u.id = m.user_id
                    WHERE m.team_id = t.id AND u.active) AS member_count
            FROM teams t LEFT JOIN locations l ON l.id = t.location_id
            ORDER BY t.name COLLATE NOCASE
            """
        )
    )


def get_team(db: Database, team_id: int) -> dict:
    rows = list(db.query("SELECT id, name, location_id FROM teams WHERE id = ?", [team_id]))
    if not rows:
        raise NotFound(_l("No such team."))
    return rows[0]


def find_team(db: Database, name: str) -> dict | None:
    rows = list(
        db.query(
            "SELECT id, name, location_id FROM teams WHERE name = ? COLLATE NOCASE",
            [name.strip()],
        )
    )
    return rows[0] if rows else None


def save_team(
    db: Database,
    actor: events.Actor | None,
    name: str,
    location_id: int | None,
    team_id: int | None = None,
) -> dict:
    """Create a team, or change its name or location when team_id is given."""
    name = _clean_name(name)
    with transaction(db):
        if location_id is not None:
            try:
                get_location(db, location_id)
            except NotFound:
                raise ValidationError({"location_id": _l("No such location.")}) from None
        new = {"name": name, "location_id": location_id}
        try:
            if team_id is None:
                team_id = db.execute(
                    "INSERT INTO teams (name, location_id, created_at) VALUES (?, ?, ?)",
                    [name, location_id, clock.now_iso()],
                ).lastrowid
                events.record(db, actor, "team", team_id, "create", events.diff({}, new, new))
            else:
                old = get_team(db, team_id)
                db.execute(
                    "UPDATE teams SET name = ?, location_id = ? WHERE id = ?",
                    [name, location_id, team_id],
                )
                changes = events.diff(old, new, new)
                if changes:
                    events.record(db, actor, "team", team_id, "update", changes)
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "teams", "name"):
                raise
            raise ValidationError({"name": _l("A team with this name exists already.")}) from None
    return get_team(db, team_id)


def resolve_team_names(db: Database, names: list[str]) -> list[int]:
    """Team ids for names (case-insensitive); unknown names are a validation error."""
    ids, unknown = [], []
    for name in names:
        team = find_team(db, name)
        if team is None:
            unknown.append(name)
        else:
            ids.append(team["id"])
    if unknown:
        raise ValidationError({"teams": _l("Unknown team: %(names)s", names=", ".join(unknown))})
    return ids
