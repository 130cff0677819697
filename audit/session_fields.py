"""The fields of a review session and of a decision, each named once.

Each table says, per field, its key, its label (through Babel, so the form, the history and the
pages say the same words), its kind (how it is cleaned, stored and shown), its limit, whether it
is required and the messages for what the user can get wrong. ``sessions.clean`` and
``decisions.record_decision`` clean by it, the stored columns and the history's before/after
follow it, the forms in ``views/sessions.py`` are built from it and ``history.FIELD_LABELS``
takes its labels. What concerns more than one field, or the database (do these teams exist, do
these rules apply to them), stays in the domain module after the per-field cleaning.

Kinds: ``line`` (one line of text, inner whitespace folded), ``text`` (several lines),
``choice`` (one key of ``choices``), ``flag`` (yes or no), ``id_set`` (ids whose order does not
matter, kept sorted), ``id_list`` (ids in the order chosen), ``time`` (a moment with its time
zone) and ``count`` (a whole number from 0 to ``limit``; empty is None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from audit.rules import MINUTES_MAX, TEXT_MAX
from audit.rules import TITLE_MAX as RULE_TITLE_MAX
from audit.text import blank, too_long

KINDS = ("line", "text", "choice", "flag", "id_set", "id_list", "time", "count")


@dataclass(frozen=True)
class Field:
    key: str
    label: Any
    kind: str
    limit: int | None = None  # most characters (line, text), ids (id_*) or largest number
    required: Any = None  # the message when it is left empty; None when it may be empty
    invalid: Any = None  # the message for a value that is not one (else the kind's own)
    too_many: Any = None  # the message for more ids than ``limit``
    choices: Mapping[str, Any] | None = None  # choice: the allowed keys and their labels
    default: Any = None  # the value when the field is left out
    column: bool = True  # a column of the entity's own table (else a link table)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r} of field {self.key!r}")


def table(*fields: Field) -> dict[str, Field]:
    return {f.key: f for f in fields}


# --- review sessions ------------------------------------------------------------------------

MODES = {"online": _l("Online ballots"), "hands": _l("Show of hands")}
TITLE_MAX = 200
INTRO_MAX = 5000
MAX_RULES = 100
# More people than any organisation has; a larger number is a typing error (or an attack).
QUORUM_MAX = 1_000_000

SESSION_FIELDS = table(
    Field("title", _l("Title"), "line", TITLE_MAX, required=_l("Enter a title.")),
    Field("introduction", _l("Introduction"), "text", INTRO_MAX),
    Field(
        "team_ids",
        _l("Teams"),
        "id_set",
        required=_l("Choose at least one team."),
        invalid=_l("No such team."),
        column=False,
    ),
    Field(
        "rule_ids",
        _l("Rules to review"),
        "id_list",
        MAX_RULES,
        required=_l("Choose at least one rule."),
        invalid=_l("No such rule."),
        too_many=_l("At most %(n)s rules in one session.", n=MAX_RULES),
        column=False,
    ),
    Field("mode", _l("How the team votes"), "choice", choices=MODES, default="online"),
    Field("anonymous", _l("Anonymous ballots"), "flag", default=True),
    Field("opens_at", _l("Opens at"), "time"),
    Field("closes_at", _l("Closes at"), "time"),
    # Empty means the default: half of the teams' members (sessions.default_quorum).
    Field("quorum", _l("Quorum"), "count", QUORUM_MAX),
)

# --- decisions ------------------------------------------------------------------------------

OUTCOMES = {"keep": _l("Keep"), "adapt": _l("Adapt"), "drop": _l("Drop")}
RATIONALE_MAX = 5000

# The new_* fields are the adapted rule's own: their limits are the rule's, and the rule's own
# cleaning checks them (decisions.record_decision).
DECISION_FIELDS = table(
    Field(
        "outcome",
        _l("Decision"),
        "choice",
        choices=OUTCOMES,
        invalid=_l("Choose keep, adapt or drop."),
    ),
    Field(
        "rationale",
        _l("Rationale"),
        "text",
        RATIONALE_MAX,
        required=_l("Write down why: the team's reasons are part of the record."),
    ),
    Field("new_title", _l("New title"), "line", RULE_TITLE_MAX),
    Field("new_description", _l("New text"), "text", TEXT_MAX),
    Field("new_minutes_per_week", _l("New minutes per week"), "count", MINUTES_MAX),
)


def labels(*tables: Mapping[str, Field]) -> dict[str, Any]:
    """Field key to label, for the history."""
    return {key: f.label for spec in tables for key, f in spec.items()}


# --- cleaning -------------------------------------------------------------------------------


def _text(f: Field, raw: Any, errors: dict) -> str:
    text = str(raw or "")
    text = " ".join(text.split()) if f.kind == "line" else text.strip()
    if f.required is not None and blank(text):
        errors[f.key] = f.required
    elif f.limit is not None and len(text) > f.limit:
        errors[f.key] = too_long(f.limit, len(text))
    return text


def _choice(f: Field, raw: Any, errors: dict) -> str | None:
    value = raw or f.default
    if value not in (f.choices or {}):
        errors[f.key] = f.invalid or _l("Unknown value %(value)s.", value=value)
    return value


def _flag(f: Field, raw: Any, errors: dict) -> bool:
    return bool(raw)


def _ids(f: Field, raw: Any, errors: dict) -> list[int]:
    try:
        numbers = [int(value) for value in raw or []]
    except (TypeError, ValueError):
        errors[f.key] = f.invalid
        return []
    ids = sorted(set(numbers)) if f.kind == "id_set" else list(dict.fromkeys(numbers))
    if not ids and f.required is not None:
        errors[f.key] = f.required
    elif f.limit is not None and len(ids) > f.limit:
        errors[f.key] = f.too_many
    return ids


def _time(f: Field, raw: Any, errors: dict) -> datetime | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        parsed = raw
    else:
        try:
            parsed = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        errors[f.key] = f.invalid or _l("Enter a date and time.")
        return None
    return parsed


def _count(f: Field, raw: Any, errors: dict) -> int | None:
    if raw in (None, ""):
        return None
    try:
        number = int(raw)
        if not 0 <= number <= (f.limit if f.limit is not None else number):
            raise ValueError
    except (TypeError, ValueError):
        errors[f.key] = f.invalid or _l("Enter a whole number from 0 to %(n)s.", n=f.limit)
        return None
    return number


CLEANERS = {
    "line": _text,
    "text": _text,
    "choice": _choice,
    "flag": _flag,
    "id_set": _ids,
    "id_list": _ids,
    "time": _time,
    "count": _count,
}


def clean(spec: Mapping[str, Field], given: Mapping[str, Any], errors: dict) -> dict[str, Any]:
    """Every field of ``spec`` from ``given``, cleaned by its kind; what is wrong goes into
    ``errors`` (the caller adds its own checks and raises them together, see errors.check)."""
    return {key: CLEANERS[f.kind](f, given.get(key, f.default), errors) for key, f in spec.items()}


# --- storing and the history ----------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """A moment as stored: in UTC, so that times compare correctly as text."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat() if value else None


def stored(spec: Mapping[str, Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """The entity's own columns, as its table holds them."""
    return {key: _as_stored(f, values[key]) for key, f in spec.items() if f.column}


def summary(spec: Mapping[str, Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field as the event log keeps it (moments as text, links as their ids)."""
    return {key: iso(values[key]) if f.kind == "time" else values[key] for key, f in spec.items()}


def current(spec: Mapping[str, Field], entity: Any) -> dict[str, Any]:
    """The fields' values as an entity holds them now: the "before" of a change."""
    return {key: getattr(entity, key) for key in spec}


def _as_stored(f: Field, value: Any) -> Any:
    if f.kind == "flag":
        return int(value)
    if f.kind == "time":
        return iso(value)
    return value
