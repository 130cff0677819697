"""Fields, each named once: what it is called (one Babel label for the form, the history, the
register download, the template and the importer), what kind of value it holds and its limits,
whether it is required, where the form shows it, and its column in a workbook.

One ``Field`` and one vocabulary of kinds serve every entity: ``RULE_FIELDS`` here, the review
session's and the decision's tables in ``session_fields``. How a kind is cleaned is here too
(``CLEANERS``, ``clean``); the messages that differ per entity are the field's own attributes.

Every reader of a rule's fields (``rules.clean`` and the database row, the rule form, the
history, the Register sheet, the import template and the importer) walks ``RULE_FIELDS`` at call
time, so one more line here puts a plain field everywhere (docs/design.md, "Adding a field").
What else a *kind* means (how a date is shown, exported, parsed) lives with each reader, in a
table per kind: a new field of a known kind needs nothing but its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from audit.core.text import blank, has_control_characters, too_long
from audit.domain import origins
from audit.domain.vocabulary import IMPACTS, STATUSES, VALUES

# The kinds of value a field can hold.
TEXT = "text"  # one line; runs of whitespace fold to one space
LONG_TEXT = "long_text"  # several lines; only the ends are trimmed
INTEGER = "integer"  # a whole number from 0 up to ``maximum``, or none
DATE = "date"
MOMENT = "moment"  # a date and time with its time zone, stored in UTC
CHOICE = "choice"  # one key of ``choices``, or none
CHOICES = "choices"  # some keys of ``choices``, kept in the order of ``choices``
REFERENCE = "reference"  # the id of a row of ``table``, or none
REFERENCES = "references"  # ids of rows of ``table``, sorted (``ordered``: as chosen); link table
FLAG = "flag"  # yes or no
KINDS = (TEXT, LONG_TEXT, INTEGER, DATE, MOMENT, CHOICE, CHOICES, REFERENCE, REFERENCES, FLAG)

# The groups of the rule form, in their order.
FORM_GROUPS = {
    "rule": _l("The rule"),
    "why": _l("Why this rule"),
    "scope": _l("Scope"),
    "cost": _l("What it costs and touches"),
    "origin": _l("Origin"),
}

CODE_MAX = 30
TITLE_MAX = 200
TEXT_MAX = 5000
OWNER_MAX = 100
REFERENCE_MAX = 200
MINUTES_MAX = 1_000_000
# The largest number a code of the automatic form (R-0001) may be given by hand. Automatic
# numbers continue after the largest one in use, so one huge code would otherwise push every
# later number out of range for good.
CODE_NUMBER_MAX = 999_999_999
GENERATED_CODE = re.compile(r"^R-(\d+)$")

_DEFAULTS = {TEXT: "", LONG_TEXT: "", CHOICES: [], REFERENCES: []}


@dataclass(frozen=True, eq=False)
class Field:
    """One field. Only ``key``, ``label`` and ``kind`` are needed for a plain one."""

    key: str  # the attribute, the database column, the form field and the event log's name
    label: Any  # lazy Babel string: the one name people see, everywhere
    kind: str = TEXT
    max_length: int | None = None  # TEXT and LONG_TEXT: characters
    maximum: int | None = None  # INTEGER: the largest number; REFERENCES: the most ids
    required: bool = False
    missing: Any = None  # the message when a required field is left empty
    default: Any = None  # when left out (or an optional CHOICE empty); None: the kind's empty value
    choices: Mapping[str, Any] | None = None  # CHOICE and CHOICES: key -> lazy label
    table: str | None = None  # REFERENCE and REFERENCES: the table the ids point into
    ordered: bool = False  # REFERENCES: keep the ids in the order chosen (else sorted)
    entity: str | None = None  # ... and what one row is called ("team"): the importer makes it
    shown: str | None = None  # the Rule attribute with the name to show, e.g. "team_names"
    empty: Any = None  # how the form's drop-down names "none"
    invalid: Any = None  # the message for a value that is not of the kind (e.g. not a number)
    too_large: Any = None  # the message for more than ``maximum``
    check: Callable[[Any], Any] | None = None  # a further rule: a message when the value breaks it
    editable: bool = True  # False: set by the app, shown and exported, never typed or imported
    group: str | None = "rule"  # the form's group (FORM_GROUPS); None: not on the form
    hint: Any = None  # the form's help text under the field
    rows: int = 3  # LONG_TEXT: the height of the form's text box
    column: str | None = ""  # the workbook column's key: "" the field's key, None no column
    width: int = 18  # the workbook column's width
    headers: tuple[str, ...] = ()  # further headers the importer accepts (older exports)
    explanation: Any = None  # the import template's "Meaning"
    spellings: Mapping[str, str] | None = None  # CHOICE(S): more import spellings -> key
    import_hint: Any = None  # CHOICE(S): what to use instead of an unknown value

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r} of field {self.key!r}")

    @property
    def column_key(self) -> str | None:
        return self.key if self.column == "" else self.column

    @property
    def empty_value(self) -> Any:
        if self.default is not None:
            return self.default
        value = _DEFAULTS.get(self.kind)
        return list(value) if isinstance(value, list) else value


def _code_allowed(value: str) -> Any:
    if value and has_control_characters(value):
        return _l("A code cannot hold control characters.")
    found = GENERATED_CODE.match(value or "")
    if found and int(found.group(1)) > CODE_NUMBER_MAX:
        return _l(
            "Numbered codes go up to R-%(max)s. Leave the code empty for the next free number,"
            " or choose another code.",
            max=CODE_NUMBER_MAX,
        )
    return None


# Spellings people use besides the keys and the English and Dutch names (README lists them).
ORIGIN_SPELLINGS = {
    "wet": "law",
    "wettelijk": "law",
    "regelgeving": "law",
    "wet en regelgeving": "law",
    "igj": "inspectorate",
    "inspectie (igj)": "inspectorate",
    "zorgkantoor": "financier",
    "zorgverzekeraar": "financier",
    "financier": "financier",
    "contract": "financier",
    "richtlijn": "professional_standard",
    "beroepsnorm": "professional_standard",
    "keurmerk": "certification",
    "certificering": "certification",
    "interpretatie": "interpretation",
    "eigen interpretatie": "interpretation",
    "organisatie": "organisation",
    "organization": "organisation",
    "teamafspraak": "team",
    "gewoonte": "team",
    "?": "unknown",
    "weet niet": "unknown",
}
_ORIGIN_HINT = _l("Use an origin such as law, inspectorate or team habit.")
_DATE_EXPLANATION = _l("A date cell, or a date written as 2019-03-12 or 12-03-2019.")
_AUTOMATIC = _l("Filled in by Regelaudit; ignored on import.")

# In the order of the workbook's columns; the form groups them (``group``).
RULE_FIELDS: tuple[Field, ...] = (
    Field(
        "code",
        _l("Code"),
        max_length=CODE_MAX,
        check=_code_allowed,
        width=11,
        hint=_l("Leave empty to get the next free code (R-0001, R-0002, ...)."),
        explanation=_l(
            "Optional. An existing code updates that rule; a new one creates it; empty gets"
            " the next free code."
        ),
    ),
    Field(
        "title",
        _l("Title"),
        max_length=TITLE_MAX,
        required=True,
        missing=_l("Enter a title."),
        width=40,
        explanation=_l("Required. The rule in a few words."),
    ),
    Field(
        "description",
        _l("Description"),
        LONG_TEXT,
        max_length=TEXT_MAX,
        rows=4,
        width=50,
        explanation=_l("What the rule asks of staff."),
    ),
    Field(
        "category_id",
        _l("Category"),
        REFERENCE,
        table="categories",
        entity="category",
        shown="category_{lang}",
        empty=_l("(no category)"),
        column="category",
        width=24,
        explanation=_l(
            "A category of your organisation, in Dutch or English. A new name creates the category."
        ),
    ),
    Field(
        "protocol_id",
        _l("Protocol"),
        REFERENCE,
        table="protocols",
        entity="protocol",
        shown="protocol_name",
        empty=_l("(no protocol)"),
        column="protocol",
        width=24,
        hint=_l("The document in your quality system this rule stands in."),
        explanation=_l("The protocol the rule stands in. A new name creates the protocol."),
    ),
    Field(
        "team_ids",
        _l("Teams"),
        REFERENCES,
        table="teams",
        entity="team",
        shown="team_names",
        group="scope",
        column="teams",
        width=20,
        explanation=_l(
            "Team names, separated by commas or semicolons. Empty (with no locations): the"
            " whole organisation."
        ),
    ),
    Field(
        "location_ids",
        _l("Locations"),
        REFERENCES,
        table="locations",
        entity="location",
        shown="location_names",
        group="scope",
        column="locations",
        width=20,
        explanation=_l("Location names, separated by commas or semicolons."),
    ),
    Field(
        "perceived_origin",
        _l("Perceived origin"),
        CHOICE,
        choices=origins.ORIGINS,
        empty=_l("(not asked yet)"),
        group="origin",
        hint=_l("Where the team believes this rule comes from."),
        width=26,
        explanation=_l("Where the team believes the rule comes from."),
        spellings=ORIGIN_SPELLINGS,
        import_hint=_ORIGIN_HINT,
    ),
    Field(
        "verified_origin",
        _l("Verified origin"),
        CHOICE,
        choices=origins.ORIGINS,
        empty=_l("(not traced yet)"),
        group="origin",
        hint=_l(
            "Where tracing found it really comes from. Who verified it and when is recorded"
            " for you."
        ),
        width=26,
        explanation=_l("Where tracing found it comes from. Empty: not traced yet."),
        spellings=ORIGIN_SPELLINGS,
        import_hint=_ORIGIN_HINT,
    ),
    Field(
        "source_reference",
        _l("Source reference"),
        max_length=REFERENCE_MAX,
        group="origin",
        hint=_l("For example: Wkkgz art. 9, or the name of the team meeting."),
        width=26,
        explanation=_l("The source, such as Wkkgz art. 9."),
    ),
    Field(
        "evidence_note",
        _l("Evidence"),
        LONG_TEXT,
        max_length=TEXT_MAX,
        group="origin",
        width=30,
        explanation=_l("How the origin was verified."),
    ),
    Field(
        "minutes_per_week",
        _l("Minutes per week"),
        INTEGER,
        maximum=MINUTES_MAX,
        invalid=_l("Enter a whole number of minutes, 0 or more."),
        too_large=_l("At most %(n)s minutes.", n=MINUTES_MAX),
        group="cost",
        hint=_l("Staff time across its scope, in whole minutes per week."),
        width=12,
        explanation=_l("Staff time across its scope: a whole number, 0 or more. Empty: unknown."),
    ),
    Field(
        "relation_impact",
        _l("Effect on the client relation"),
        CHOICE,
        choices=IMPACTS,
        empty=_l("(not assessed)"),
        group="cost",
        width=16,
        headers=("Relation impact", "Effect op relatie"),  # the report's headers until 2026
        explanation=_l("The effect on the relation with the client."),
        spellings={"negatief": "hinders", "positief": "supports", "geen": "neutral"},
        import_hint=_l("Use hinders, neutral or supports."),
    ),
    Field(
        "values_touched",
        _l("Values touched"),
        CHOICES,
        choices=VALUES,
        group="cost",
        width=24,
        headers=("Waarden",),  # the report's Dutch header until 2026
        explanation=_l("Values the rule touches, separated by commas."),
        spellings={"autonomy": "autonomy", "zelfbeschikking": "autonomy", "waardigheid": "dignity"},
        import_hint=_l("Use autonomy, privacy, dignity, safety or independence."),
    ),
    Field(
        "status",
        _l("Status"),
        CHOICE,
        choices=STATUSES,
        required=True,
        default="active",
        width=16,
        explanation=_l("Empty: active."),
        spellings={
            "in review": "under_review",
            "herziening": "under_review",
            "vervallen": "dropped",
        },
        import_hint=_l("Use proposed, active, under review, adapted or dropped."),
    ),
    Field(
        "owner",
        _l("Owner"),
        max_length=OWNER_MAX,
        group="scope",
        hint=_l("Who answers for this rule: a name or a role."),
        explanation=_l("Who answers for the rule: a user name or free text."),
    ),
    Field(
        "introduced_on",
        _l("Introduced on"),
        DATE,
        group="cost",
        width=13,
        explanation=_DATE_EXPLANATION,
    ),
    Field(
        "review_due",
        _l("Review due"),
        DATE,
        group="cost",
        width=13,
        explanation=_DATE_EXPLANATION,
    ),
    # Set by the app: shown and exported, never typed.
    Field(
        "self_invented",
        _l("Self-invented"),
        FLAG,
        editable=False,
        group=None,
        width=12,
        explanation=_l("Filled in by Regelaudit from the verified origin; ignored on import."),
    ),
    Field("myth", _l("Myth"), FLAG, editable=False, group=None, width=10, explanation=_AUTOMATIC),
    Field(
        "verified_by",
        _l("Verified by"),
        REFERENCE,
        table="users",
        shown="verified_by_name",
        editable=False,
        group=None,
        explanation=_AUTOMATIC,
    ),
    Field(
        "verified_on",
        _l("Verified on"),
        DATE,
        editable=False,
        group=None,
        width=13,
        explanation=_AUTOMATIC,
    ),
    # The mirror questions (docs/design.md, "The mirror check"): asked of every rule added by
    # hand, optional for rules imported or edited.
    Field(
        "problem",
        _l("Problem it solves"),
        LONG_TEXT,
        max_length=TEXT_MAX,
        group="why",
        hint=_l("What goes wrong, or would go wrong, without this rule?"),
        width=40,
        explanation=_l(
            "What goes wrong without the rule. Asked for every rule added by hand; optional here."
        ),
    ),
    Field(
        "alternatives",
        _l("Alternatives considered"),
        LONG_TEXT,
        max_length=TEXT_MAX,
        group="why",
        hint=_l("What was tried or considered instead of a rule, and why it was not enough."),
        width=40,
        explanation=_l("What was tried or considered instead of a rule."),
    ),
)


class Spec:
    """Lookups derived from one field table, built once per table rather than per rule."""

    def __init__(self, table: tuple[Field, ...]) -> None:
        self.table = table
        self.by_key = {f.key: f for f in table}
        self.editable = tuple(f for f in table if f.editable)
        self.keys = tuple(f.key for f in self.editable)
        self.defaults = {f.key: f.empty_value for f in self.editable}
        self.columns = tuple(f for f in table if f.column_key is not None)
        self.by_column = {f.column_key: f for f in self.columns}
        # Columns of the rules table (FLAG ones SQLite computes); REFERENCES live in link tables.
        self.stored = tuple(f for f in table if f.kind != REFERENCES)
        self.labels = {f.key: f.label for f in table}


_spec: Spec | None = None


def rule_spec() -> Spec:
    """The lookups of ``RULE_FIELDS`` as it is now (a test may swap the table)."""
    global _spec
    if _spec is None or _spec.table is not RULE_FIELDS:
        _spec = Spec(RULE_FIELDS)
    return _spec


def rule_fields() -> tuple[Field, ...]:
    return RULE_FIELDS


def rule_field(key: str) -> Field:
    return rule_spec().by_key[key]


def table(*fields: Field) -> dict[str, Field]:
    """A table of fields by key (the session's and the decision's)."""
    return {f.key: f for f in fields}


def labels(*tables: Mapping[str, Field]) -> dict[str, Any]:
    """Field key to label, for the history."""
    return {key: f.label for spec in tables for key, f in spec.items()}


# --- cleaning: one function per kind; the field gives the limits and the messages -------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _clean_text(f: Field, value: Any, errors: dict) -> str:
    text = " ".join(_text(value).split()) if f.kind == TEXT else _text(value)
    if f.required and blank(text):
        errors[f.key] = f.missing or _l("Enter a value.")
    elif f.max_length is not None and len(text) > f.max_length:
        errors[f.key] = too_long(f.max_length, len(text))
    return text


def _clean_integer(f: Field, value: Any, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only ("²" is a digit to str.isdigit, not to int()), and few enough for
        # int() to read (it refuses more than 4,300): a longer number is too large anyway.
        if text.isascii() and text.isdigit():
            value = int(text) if len(text) <= 18 else 10**18
    if not isinstance(value, int) or value < 0:
        errors[f.key] = f.invalid or _l("Enter a whole number, 0 or more.")
        return None
    if f.maximum is not None and value > f.maximum:
        errors[f.key] = f.too_large or _l("At most %(n)s.", n=f.maximum)
        return None
    return value


def _clean_date(f: Field, value: Any, errors: dict) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[f.key] = f.invalid or _l("Enter a date as YYYY-MM-DD.")
        return None


def _clean_moment(f: Field, value: Any, errors: dict) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(_text(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors[f.key] = f.invalid or _l("Enter a date and time.")
        return None
    return moment


def _clean_choice(f: Field, value: Any, errors: dict) -> str | None:
    value = _text(value) or (None if f.required else f.default)
    if value is None:
        if f.required:
            errors[f.key] = f.missing or _l("Choose a value.")
        return None
    if value not in (f.choices or {}):
        errors[f.key] = f.invalid or _l("Unknown value %(value)s.", value=value)
        return None
    return value


def _clean_choices(f: Field, value: Any, errors: dict) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    keys = [_text(v) for v in items if _text(v)]
    bad = [k for k in keys if k not in f.choices]
    if bad:
        errors[f.key] = _l("Unknown value %(value)s.", value=", ".join(bad))
    return [k for k in f.choices if k in keys]  # fixed order, no duplicates


def _clean_references(f: Field, value: Any, errors: dict) -> list[int]:
    """The ids as numbers; whether their rows exist the entity's module checks (the database)."""
    if value in (None, ""):
        value = []
    try:
        numbers = [int(v) for v in value]
    except (TypeError, ValueError):
        errors[f.key] = f.invalid or _l("Unknown value %(value)s.", value=value)
        return []
    ids = list(dict.fromkeys(numbers)) if f.ordered else sorted(set(numbers))
    if not ids and f.required:
        errors[f.key] = f.missing or _l("Choose a value.")
    elif f.maximum is not None and len(ids) > f.maximum:
        errors[f.key] = f.too_large or _l("At most %(n)s.", n=f.maximum)
    return ids


def _clean_reference(f: Field, value: Any, errors: dict) -> int | None:
    ids = _clean_references(f, [] if value in (None, "") else [value], errors)
    return ids[0] if ids else None


def _clean_flag(f: Field, value: Any, errors: dict) -> bool:
    return bool(value)


CLEANERS: dict[str, Callable[[Field, Any, dict], Any]] = {
    TEXT: _clean_text,
    LONG_TEXT: _clean_text,
    INTEGER: _clean_integer,
    DATE: _clean_date,
    MOMENT: _clean_moment,
    CHOICE: _clean_choice,
    CHOICES: _clean_choices,
    REFERENCE: _clean_reference,
    REFERENCES: _clean_references,
    FLAG: _clean_flag,
}


def clean_value(f: Field, value: Any, errors: dict) -> Any:
    """One value cleaned by its field's kind, then by its ``check``; a problem goes into
    ``errors`` under the field's key."""
    out = CLEANERS[f.kind](f, value, errors)
    if f.check is not None and f.key not in errors and (problem := f.check(out)):
        errors[f.key] = problem
    return out


def clean(spec: Mapping[str, Field], given: Mapping[str, Any], errors: dict) -> dict[str, Any]:
    """Every field of ``spec`` from ``given`` (a field left out is its default), cleaned by its
    kind; what is wrong goes into ``errors`` (the caller adds its own checks and raises them
    together, see errors.check)."""
    return {key: clean_value(f, given.get(key, f.default), errors) for key, f in spec.items()}


# --- storing and the history ----------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """A moment as stored: in UTC, so that times compare correctly as text."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat() if value else None


def to_db(kind: str, value: Any) -> Any:
    """A cleaned value as its column holds it."""
    if kind == CHOICES:
        return ",".join(value)
    if kind == DATE and isinstance(value, date):
        return value.isoformat()
    if kind == MOMENT:
        return iso(value)
    if kind == FLAG:
        return int(value)
    return value


def stored(spec: Mapping[str, Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """The entity's own columns, as its table holds them (REFERENCES live in link tables)."""
    return {key: to_db(f.kind, values[key]) for key, f in spec.items() if f.kind != REFERENCES}


def summary(spec: Mapping[str, Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field as the event log keeps it (moments as text, links as their ids)."""
    return {key: iso(values[key]) if f.kind == MOMENT else values[key] for key, f in spec.items()}


def current(spec: Mapping[str, Field], entity: Any) -> dict[str, Any]:
    """The fields' values as an entity holds them now: the "before" of a change."""
    return {key: getattr(entity, key) for key in spec}
