"""The rule register: create, change, archive and restore rules, each in one transaction with
its event. Every writer (forms, tracing, import, decisions) goes through these functions."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError, check
from audit.core.text import blank, fold
from audit.domain import events, fields, organisation, origins
from audit.domain.fields import GENERATED_CODE, rule_spec
from audit.store.db import is_duplicate, transaction

# The limits live with the fields (audit/domain/fields.py); these names stay for the forms
# and tests.
CODE_MAX = fields.CODE_MAX
TITLE_MAX = fields.TITLE_MAX
TEXT_MAX = fields.TEXT_MAX
OWNER_MAX = fields.OWNER_MAX
REFERENCE_MAX = fields.REFERENCE_MAX
MINUTES_MAX = fields.MINUTES_MAX
CODE_NUMBER_MAX = fields.CODE_NUMBER_MAX


def __getattr__(name: str) -> Any:
    # ``FIELDS`` (what a user can set, in the workbook's order) and ``DEFAULTS`` (a new rule's
    # values) are read from the field table when asked, so they never go stale.
    if name == "FIELDS":
        return rule_spec().keys
    if name == "DEFAULTS":
        return rule_spec().defaults
    raise AttributeError(name)


TRACING_FIELDS = ("verified_origin", "source_reference", "evidence_note")
# Recorded in the history besides FIELDS (set by the app, not typed by the user).
AUTOMATIC_FIELDS = ("verified_by", "verified_on")

# A rule is in force while it is neither archived, dropped, nor still proposed (waiting for a
# team session to keep it). Only a rule in force counts in the figures, can be overdue for review
# or is a candidate for a review session: this is the one definition, for Python and for SQL on
# rules aliased ``r``.
ENDED_STATUSES = ("dropped",)
NOT_YET_STATUSES = ("proposed",)
OUT_OF_FORCE_STATUSES = NOT_YET_STATUSES + ENDED_STATUSES
IN_FORCE_SQL = "(r.archived_at IS NULL AND r.status NOT IN ({}))".format(
    ", ".join(f"'{status}'" for status in OUT_OF_FORCE_STATUSES)
)


def in_force(status: str, archived: bool = False) -> bool:
    return not archived and status not in OUT_OF_FORCE_STATUSES


# The mirror questions a rule added by hand answers before it is saved, in the order the form
# asks them, and those that must be answered (docs/design.md, "The mirror check"). The perceived
# origin's own "Unknown" is the explicit "don't know"; only leaving it empty is refused.
MIRROR_QUESTIONS = (
    "problem",
    "perceived_origin",
    "verified_origin",
    "alternatives",
    "minutes_per_week",
    "relation_impact",
    "review_due",
)
MIRROR_REQUIRED = ("problem", "perceived_origin", "review_due")


@dataclass
class Rule:
    id: int
    code: str
    title: str
    description: str
    category_id: int | None
    protocol_id: int | None
    owner: str
    minutes_per_week: int | None
    relation_impact: str | None
    values_touched: list[str]
    status: str
    introduced_on: date | None
    review_due: date | None
    perceived_origin: str | None
    verified_origin: str | None
    source_reference: str
    evidence_note: str
    verified_by: int | None
    verified_on: date | None
    archived_at: str | None
    created_at: str
    updated_at: str
    version: int
    traced: bool
    self_invented: bool
    myth: bool
    problem: str = ""
    alternatives: str = ""
    category_nl: str | None = None
    category_en: str | None = None
    protocol_name: str | None = None
    protocol_version: str | None = None
    verified_by_name: str | None = None
    team_ids: list[int] = field(default_factory=list)
    location_ids: list[int] = field(default_factory=list)
    team_names: list[str] = field(default_factory=list)
    location_names: list[str] = field(default_factory=list)
    # Fields of the table (audit/domain/fields.py) that have no attribute above yet: a field added
    # there is read as ``rule.key`` through ``__getattr__`` without touching this class.
    more: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        more = self.__dict__.get("more")
        if more is not None and name in more:
            return more[name]
        raise AttributeError(name)

    @property
    def org_wide(self) -> bool:
        return not self.team_ids and not self.location_ids

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def mandatory(self) -> bool:
        return origins.is_mandatory(self.verified_origin)

    @property
    def in_force(self) -> bool:
        return in_force(self.status, self.archived)

    @property
    def review_overdue(self) -> bool:
        return self.in_force and self.review_due is not None and self.review_due < clock.today()

    def values(self) -> dict[str, Any]:
        """The user-settable fields, as ``clean`` returns them."""
        return {name: getattr(self, name) for name in rule_spec().keys}


# --- reading --------------------------------------------------------------------------------

_SELECT = """
    SELECT r.*, c.name_nl AS category_nl, c.name_en AS category_en,
           p.name AS protocol_name, p.version AS protocol_version,
           coalesce(nullif(u.display_name, ''), u.username) AS verified_by_name
    FROM rules r
    LEFT JOIN categories c ON c.id = r.category_id
    LEFT JOIN protocols p ON p.id = r.protocol_id
    LEFT JOIN users u ON u.id = r.verified_by
"""


def _to_date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


# How a stored column becomes a Rule's value, per kind of field (the rest is read as stored).
_FROM_DB = {fields.DATE: _to_date, fields.CHOICES: _split, fields.FLAG: bool}
_RULE_ATTRIBUTES = {f.name for f in dataclasses.fields(Rule)} - {"more"}


def _rule(row: dict, scope: dict[str, list]) -> Rule:
    known, more = {"traced": bool(row["traced"])}, {}
    for f in rule_spec().stored:
        value = row[f.key]
        convert = _FROM_DB.get(f.kind)
        value = convert(value) if convert else value
        if f.key in _RULE_ATTRIBUTES:
            known[f.key] = value
        else:
            more[f.key] = value
    for name in _RULE_ATTRIBUTES.difference(known, scope):
        known[name] = row[name]
    return Rule(**known, **scope, more=more)


def scopes(db: Database, rule_ids: list[int]) -> dict[int, dict[str, list]]:
    """Team and location ids and names per rule, in one query each."""
    result = {
        i: {"team_ids": [], "location_ids": [], "team_names": [], "location_names": []}
        for i in rule_ids
    }
    if not rule_ids:
        return result
    marks = ",".join("?" * len(rule_ids))
    for rule_id, team_id, name in db.execute(
        f"SELECT rt.rule_id, t.id, t.name FROM rule_teams rt JOIN teams t ON t.id = rt.team_id"
        f" WHERE rt.rule_id IN ({marks}) ORDER BY t.name COLLATE NOCASE",
        rule_ids,
    ):
        result[rule_id]["team_ids"].append(team_id)
        result[rule_id]["team_names"].append(name)
    for rule_id, location_id, name in db.execute(
        f"SELECT rl.rule_id, l.id, l.name FROM rule_locations rl"
        f" JOIN locations l ON l.id = rl.location_id"
        f" WHERE rl.rule_id IN ({marks}) ORDER BY l.name COLLATE NOCASE",
        rule_ids,
    ):
        result[rule_id]["location_ids"].append(location_id)
        result[rule_id]["location_names"].append(name)
    return result


def get_rule(db: Database, rule_id: int) -> Rule:
    rows = list(db.query(_SELECT + " WHERE r.id = ?", [rule_id]))
    if not rows:
        raise NotFound(_l("No such rule."))
    return _rule(rows[0], scopes(db, [rule_id])[rule_id])


def get_rules(db: Database, rule_ids: Iterable[int]) -> list[Rule]:
    """Several rules in the order asked, with their scopes, in three queries."""
    ids = list(rule_ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in db.query(_SELECT + f" WHERE r.id IN ({marks})", ids)}
    found = scopes(db, ids)
    return [_rule(rows[i], found[i]) for i in ids if i in rows]


def find_by_code(db: Database, code: str) -> Rule | None:
    row = db.execute(
        "SELECT id FROM rules WHERE code = ? COLLATE NOCASE", [code.strip()]
    ).fetchone()
    return get_rule(db, row[0]) if row else None


_NOT_LETTERS_OR_DIGITS = re.compile(r"[\W_]+")


def title_key(title: str | None) -> str:
    """A title as the duplicate check compares it: the search's folding (case, accents,
    whitespace), then everything but letters and digits left out, so "Tas-controle." and
    "tascontrole" are the same title."""
    return _NOT_LETTERS_OR_DIGITS.sub("", fold(title))


@dataclass(frozen=True)
class SameTitle:
    """A rule in the register (or its archive) with the title asked about."""

    id: int
    code: str
    title: str
    archived: bool
    same_scope: bool  # organisation-wide like the one asked about, or the same teams and locations
    team_names: tuple[str, ...] = ()
    location_names: tuple[str, ...] = ()


def find_same_title(db: Database, wanted: Iterable[Mapping[str, Any]]) -> list[list[SameTitle]]:
    """For each ``{"title", "team_ids", "location_ids"}`` asked about, the rules whose title is
    the same once folded (``title_key``): those with the same scope first, then by code.

    One reading of the register for any number of titles, so the import checks 10,000 rows at
    the cost of one. The rule form and the import both ask this, so they agree on what counts
    as the same rule."""
    asked = [
        (
            title_key(item.get("title")),
            frozenset(item.get("team_ids") or ()),
            frozenset(item.get("location_ids") or ()),
        )
        for item in wanted
    ]
    keys = {key for key, _, _ in asked if key}
    by_key: dict[str, list[tuple[int, str, str, bool]]] = {}
    if keys:
        for rule_id, code, title, archived_at in db.execute(
            "SELECT id, code, title, archived_at FROM rules ORDER BY code COLLATE NOCASE"
        ):
            key = title_key(title)
            if key in keys:
                by_key.setdefault(key, []).append((rule_id, code, title, archived_at is not None))
    ids = [found[0] for matches in by_key.values() for found in matches]
    scope: dict[int, dict[str, list]] = {}
    for start in range(0, len(ids), 500):
        scope.update(scopes(db, ids[start : start + 500]))
    result = []
    for key, teams, locations in asked:
        matches = [
            SameTitle(
                id=rule_id,
                code=code,
                title=title,
                archived=archived,
                same_scope=(
                    set(scope[rule_id]["team_ids"]) == teams
                    and set(scope[rule_id]["location_ids"]) == locations
                ),
                team_names=tuple(scope[rule_id]["team_names"]),
                location_names=tuple(scope[rule_id]["location_names"]),
            )
            for rule_id, code, title, archived in by_key.get(key, [])
        ]
        result.append(sorted(matches, key=lambda m: not m.same_scope))
    return result


def history(db: Database, rule_id: int) -> list[dict]:
    """The rule's events, newest first."""
    return events.history(db, "rule", rule_id)


# --- validation -----------------------------------------------------------------------------


class KnownIds:
    """Every id of the referenced tables, read once: validating 10,000 rules then checks
    membership in memory instead of asking the database four times per rule."""

    def __init__(self, db: Database) -> None:
        self.ids = {
            table: {row[0] for row in db.execute(f"SELECT id FROM {table}")}
            for table in ("categories", "protocols", "teams", "locations")
        }


def _check_exist(
    db: Database, f: fields.Field, value: Any, errors: dict, known: KnownIds | None
) -> None:
    """A REFERENCE(S) field's ids, cleaned by fields.clean_value, name rows that exist."""
    ids = value if isinstance(value, list) else [] if value is None else [value]
    if not ids:
        return
    if known is not None:
        found = sum(1 for i in ids if i in known.ids[f.table])
    else:
        marks = ",".join("?" * len(ids))
        found = db.execute(
            f"SELECT count(*) FROM {f.table} WHERE id IN ({marks})",
            ids,
        ).fetchone()[0]
    if found != len(ids):
        errors[f.key] = _l("Unknown value %(value)s.", value=", ".join(map(str, ids)))


def clean(db: Database, values: Mapping[str, Any], known: KnownIds | None = None) -> dict[str, Any]:
    """Validate and normalise the given fields (any subset of ``FIELDS``), each by its line in
    the field table (audit/domain/fields.py).

    Raises ValidationError naming every bad field at once; unknown field names are refused too.
    """
    errors: dict[str, Any] = {}
    out = _clean(db, values, known, errors)
    check(errors)
    return out


def _clean(
    db: Database, values: Mapping[str, Any], known: KnownIds | None, errors: dict[str, Any]
) -> dict[str, Any]:
    """``clean`` that gathers its messages into ``errors`` instead of raising them, so that a
    caller can add its own checks and refuse everything at once."""
    spec = rule_spec()
    unknown = set(values) - set(spec.keys)
    if unknown:
        errors[""] = _l("Unknown field: %(names)s", names=", ".join(sorted(unknown)))
    out: dict[str, Any] = {}
    for name, value in values.items():
        f = spec.by_key.get(name)
        if f is None or not f.editable:
            continue
        out[name] = fields.clean_value(f, value, errors)
        if f.kind in (fields.REFERENCE, fields.REFERENCES) and name not in errors:
            _check_exist(db, f, out[name], errors, known)
    return out


def _review_beyond_horizon(db: Database, review_due: date) -> Any:
    """The message when ``review_due`` lies past the organisation's horizon, else None."""
    latest = organisation.horizon_date(db)
    if review_due <= latest:
        return None
    months = organisation.rule_settings(db)["review_horizon_months"]
    return _l(
        "The review date can be at most %(n)s months away, on %(date)s at the latest (the"
        " organisation's horizon).",
        n=months,
        date=latest.isoformat(),
    )


def _mirror_problems(db: Database, values: Mapping[str, Any], errors: dict[str, Any]) -> None:
    """The mirror questions of a rule added by hand: what is required and the review date's
    bounds (today up to the horizon). Fields with a message already keep theirs."""
    missing = {
        "problem": _l("Say what problem this rule solves."),
        "perceived_origin": _l(
            "Choose where the rule is thought to come from; choose Unknown if nobody knows."
        ),
        "review_due": _l("Choose a date when the rule will be reviewed."),
    }
    for key in MIRROR_REQUIRED:
        value = values.get(key)
        if key not in errors and (value is None or (isinstance(value, str) and blank(value))):
            errors[key] = missing[key]
    review_due = values.get("review_due")
    if "review_due" in errors or not isinstance(review_due, date):
        return
    if review_due < clock.today():
        errors["review_due"] = _l("The review date cannot be in the past.")
    elif problem := _review_beyond_horizon(db, review_due):
        errors["review_due"] = problem


def leaves_proposed(db: Database, old: Rule, status: str, action: str) -> Any:
    """While the organisation requires new rules to start as proposed, a proposed rule leaves
    that status only by a session's decision: the message when another change tries (an edit,
    a bulk change, or an import of a workbook that says "active" for it), else None. An import
    may create a rule in any status: it records a rule that exists outside the app."""
    if old.status != "proposed" or status == "proposed" or action == "decision":
        return None
    if not organisation.rule_settings(db)["new_rules_proposed"]:
        return None
    return _l(
        "%(code)s is proposed: it becomes active when a team session keeps it. Put it before a"
        " review session, or archive it if it is not wanted.",
        code=old.code,
    )


# --- writing --------------------------------------------------------------------------------


def _last_code_number(db: Database) -> int:
    # Only numbers of at most 18 digits count: SQLite's CAST caps longer ones at 2**63-1, so
    # a code such as R-9223372036854775808 (from before CODE_NUMBER_MAX) would make the next
    # number a code that exists already, again and again.
    row = db.execute(
        "SELECT max(CAST(substr(code, 3) AS INTEGER)) FROM rules"
        " WHERE code GLOB 'R-[0-9]*' AND substr(code, 3) NOT GLOB '*[^0-9]*'"
        " AND length(code) <= 20"
    ).fetchone()
    return row[0] or 0


def next_code(db: Database) -> str:
    return f"R-{_last_code_number(db) + 1:04d}"


def _search_text(values: Mapping[str, Any]) -> str:
    parts = [values["code"], values["title"], values["description"], values["source_reference"]]
    return fold(" ".join(p for p in parts if p))


def _history_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """What the event log keeps: JSON-friendly values (dates as ISO text)."""
    out = {}
    for name, value in values.items():
        out[name] = value.isoformat() if isinstance(value, date) else value
    return out


def _columns(values: Mapping[str, Any]) -> dict[str, Any]:
    by_key = rule_spec().by_key
    row = {}
    for name, value in values.items():
        kind = by_key[name].kind if name in by_key else fields.TEXT
        if kind != fields.REFERENCES:  # kept in link tables (_write_scope)
            row[name] = fields.to_db(kind, value)
    row["org_wide"] = int(not values["team_ids"] and not values["location_ids"])
    row["search_text"] = _search_text(values)
    return row


def _write_scope(
    db: Database, rule_id: int, team_ids: list[int], location_ids: list[int], new: bool = False
) -> None:
    if not new:  # a rule just created has no scope rows to replace
        db.execute("DELETE FROM rule_teams WHERE rule_id = ?", [rule_id])
        db.execute("DELETE FROM rule_locations WHERE rule_id = ?", [rule_id])
    for team_id in team_ids:
        db.execute("INSERT INTO rule_teams (rule_id, team_id) VALUES (?, ?)", [rule_id, team_id])
    for location_id in location_ids:
        db.execute(
            "INSERT INTO rule_locations (rule_id, location_id) VALUES (?, ?)",
            [rule_id, location_id],
        )


def _stamp_verification(
    actor: events.Actor | None, old: Mapping[str, Any], new: dict[str, Any]
) -> None:
    """Who verified the origin, and when, follows the tracing fields; nobody types it."""
    if new["verified_origin"] is None:
        new["verified_by"], new["verified_on"] = None, None
    elif any(old.get(f) != new[f] for f in TRACING_FIELDS):
        new["verified_by"], new["verified_on"] = (actor.id if actor else None), clock.today()
    else:
        new["verified_by"], new["verified_on"] = old.get("verified_by"), old.get("verified_on")


def _duplicate_code(code: str) -> ValidationError:
    return ValidationError({"code": _l("Another rule has the code %(code)s.", code=code)})


def create_rule(
    db: Database,
    actor: events.Actor | None,
    *,
    action: str = "create",
    ref: tuple[str, int] | None = None,
    note: str | None = None,
    fetch: bool = True,
    by_hand: bool = False,
    **fields: Any,
) -> Rule | None:
    """Create a rule and return it; ``fetch=False`` skips reading it back, for an import of
    thousands that does not look at the result.

    ``by_hand``: a person adds this rule one at a time (the rule form), so it answers the mirror
    questions (``MIRROR_REQUIRED``, a review date within the horizon), and it starts as
    ``proposed`` when the organisation asks that. The import and the demo record rules that
    exist already and leave it off (docs/design.md, "The mirror check")."""
    errors: dict[str, Any] = {}
    values = {**rule_spec().defaults, **_clean(db, fields, None, errors)}
    if not values["title"] and "title" not in errors:
        errors["title"] = _l("Enter a title.")
    if by_hand:
        _mirror_problems(db, values, errors)
    check(errors)
    if by_hand and organisation.rule_settings(db)["new_rules_proposed"]:
        values["status"] = "proposed"
    now = clock.now_iso()
    with transaction(db):
        values["code"] = values["code"] or next_code(db)
        _stamp_verification(actor, {}, values)
        row = {**_columns(values), "created_at": now, "updated_at": now, "version": 1}
        marks = ",".join("?" * len(row))
        try:
            rule_id = db.execute(
                f"INSERT INTO rules ({', '.join(row)}) VALUES ({marks})",
                list(row.values()),
            ).lastrowid
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "rules", "code"):
                raise
            raise _duplicate_code(values["code"]) from None
        _write_scope(db, rule_id, values["team_ids"], values["location_ids"], new=True)
        recorded = _history_values(values)
        changes = {k: [None, v] for k, v in recorded.items() if v not in (None, "", [])}
        events.record(db, actor, "rule", rule_id, action, changes, ref=ref, note=note)
    return get_rule(db, rule_id) if fetch else None


def create_rules(
    db: Database,
    actor: events.Actor | None,
    many: list[Mapping[str, Any]],
    *,
    action: str = "create",
    ref: tuple[str, int] | None = None,
    note: str | None = None,
    cleaned: bool = False,
) -> int:
    """Create many rules in one transaction: the checks, codes, scopes and events of
    ``create_rule``, written with a few statements in all instead of a dozen per rule.

    ``cleaned``: every value but the references came out of ``clean`` already (the importer
    cleans each row as it reads the file, and cleaning 10,000 rows twice cost a tenth of the
    import); the references, which an import may have created since, are checked here."""
    known = KnownIds(db)
    spec = rule_spec()
    defaults = spec.defaults
    if cleaned:
        references = [f for f in spec.editable if f.kind in (fields.REFERENCE, fields.REFERENCES)]
        prepared = []
        for values in many:
            unknown = set(values) - set(spec.keys)
            errors: dict[str, Any] = {}
            if unknown:
                errors[""] = _l("Unknown field: %(names)s", names=", ".join(sorted(unknown)))
            for f in references:
                if f.key in values:
                    _check_exist(db, f, values[f.key], errors, known)
            check(errors)
            prepared.append({**defaults, **values})
    else:
        prepared = [{**defaults, **clean(db, fields, known)} for fields in many]
    for values in prepared:
        if blank(values["title"]):
            raise ValidationError({"title": _l("Enter a title.")})
    now = clock.now_iso()
    with transaction(db):
        # Numbers for rules without a code continue after every R-number in use, in the
        # database or among the codes given here.
        given = [
            int(m.group(1))
            for v in prepared
            if (m := GENERATED_CODE.match(v["code"] or "")) and len(m.group(1)) <= 18
        ]
        number = max([_last_code_number(db), *given])
        rule_id = db.execute("SELECT coalesce(max(id), 0) FROM rules").fetchone()[0]
        rows, scope_teams, scope_locations, logged = [], [], [], []
        for values in prepared:
            if not values["code"]:
                number += 1
                values["code"] = f"R-{number:04d}"
            rule_id += 1  # inside the write lock: nobody else can take this id
            _stamp_verification(actor, {}, values)
            rows.append(
                {
                    "id": rule_id,
                    **_columns(values),
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            scope_teams += [(rule_id, team_id) for team_id in values["team_ids"]]
            scope_locations += [(rule_id, location_id) for location_id in values["location_ids"]]
            recorded = _history_values(values)
            logged.append(
                (rule_id, {k: [None, v] for k, v in recorded.items() if v not in (None, "", [])})
            )
        if not rows:
            return 0
        columns = list(rows[0])
        try:
            db.conn.executemany(
                f"INSERT INTO rules ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
                [[row[c] for c in columns] for row in rows],
            )
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "rules", "code"):
                raise
            raise ValidationError(
                {"code": _l("Some of these codes are in use by other rules already.")}
            ) from None
        db.conn.executemany("INSERT INTO rule_teams (rule_id, team_id) VALUES (?, ?)", scope_teams)
        db.conn.executemany(
            "INSERT INTO rule_locations (rule_id, location_id) VALUES (?, ?)", scope_locations
        )
        events.record_many(db, actor, "rule", action, logged, ref=ref, note=note)
    return len(rows)


def update_rule(
    db: Database,
    actor: events.Actor | None,
    rule_id: int,
    *,
    expected_version: int | None = None,
    action: str = "update",
    ref: tuple[str, int] | None = None,
    note: str | None = None,
    by_hand: bool = False,
    also: Mapping[str, list] | None = None,
    **fields: Any,
) -> Rule:
    """Change the given fields. With ``expected_version`` (the version the user's form was
    loaded at) an edit on a stale form is refused instead of overwriting someone else's save.

    ``by_hand`` (the rule form, the tracing work-list): a review date that changes may not lie
    beyond the organisation's horizon; the mirror questions are not asked again of a rule that
    exists (docs/design.md, "The mirror check"). ``also``: further [before, after] pairs the
    change's event carries beside the rule's own (an applied decision's adapt strategy)."""
    cleaned = clean(db, fields)
    with transaction(db):
        old = get_rule(db, rule_id)
        if expected_version is not None and old.version != expected_version:
            raise Conflict(
                _l(
                    "Someone else saved this rule since you opened it. Your changes were not"
                    " saved; reload the rule to see the current version."
                )
            )
        before = {**old.values(), "verified_by": old.verified_by, "verified_on": old.verified_on}
        values = {**old.values(), **cleaned}
        if "title" in cleaned and not values["title"]:
            raise ValidationError({"title": _l("Enter a title.")})
        errors: dict[str, Any] = {}
        if problem := leaves_proposed(db, old, values["status"], action):
            errors["status"] = problem
        moved = values["review_due"] not in (None, old.review_due)
        if by_hand and moved and (problem := _review_beyond_horizon(db, values["review_due"])):
            errors["review_due"] = problem
        check(errors)
        values["code"] = values["code"] or old.code
        _stamp_verification(actor, before, values)
        changes = events.diff(
            _history_values(before), _history_values(values), rule_spec().keys + AUTOMATIC_FIELDS
        )
        if not changes:
            return old
        row = {**_columns(values), "updated_at": clock.now_iso(), "version": old.version + 1}
        assignments = ", ".join(f"{k} = ?" for k in row)
        try:
            db.execute(
                f"UPDATE rules SET {assignments} WHERE id = ?",
                [*row.values(), rule_id],
            )
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "rules", "code"):
                raise
            raise _duplicate_code(values["code"]) from None
        if "team_ids" in changes or "location_ids" in changes:
            _write_scope(db, rule_id, values["team_ids"], values["location_ids"])
        events.record(
            db, actor, "rule", rule_id, action, {**changes, **(also or {})}, ref=ref, note=note
        )
    return get_rule(db, rule_id)


# A keyword left out (``review_due`` in ``trace``) keeps the rule's value; None clears it.
UNCHANGED = object()


def trace(
    db: Database,
    actor: events.Actor | None,
    rule_id: int,
    *,
    verified_origin: str | None,
    source_reference: str = "",
    evidence_note: str | None = None,
    review_due: date | str | None | object = UNCHANGED,
    expected_version: int | None = None,
    by_hand: bool = False,
) -> Rule:
    """Set (or clear) the verified origin and its source, and the next review date if given:
    the tracing work-list's quick form, where a rule past its review date gets a new one."""
    fields: dict[str, Any] = {
        "verified_origin": verified_origin,
        "source_reference": source_reference,
    }
    if evidence_note is not None:
        fields["evidence_note"] = evidence_note
    if review_due is not UNCHANGED:
        fields["review_due"] = review_due
    return update_rule(
        db,
        actor,
        rule_id,
        expected_version=expected_version,
        action="trace",
        by_hand=by_hand,
        **fields,
    )


def _set_archived(db: Database, actor: events.Actor | None, rule_id: int, archived: bool) -> Rule:
    with transaction(db):
        rule = get_rule(db, rule_id)
        if rule.archived == archived:
            return rule
        stamp = clock.now_iso() if archived else None
        db.execute(
            "UPDATE rules SET archived_at = ?, updated_at = ?, version = version + 1 WHERE id = ?",
            [stamp, clock.now_iso(), rule_id],
        )
        events.record(
            db,
            actor,
            "rule",
            rule_id,
            "archive" if archived else "restore",
            {"archived_at": [rule.archived_at, stamp]},
        )
    return get_rule(db, rule_id)


def archive_rule(db: Database, actor: events.Actor | None, rule_id: int) -> Rule:
    """Take a rule out of the register and the figures; its history stays."""
    return _set_archived(db, actor, rule_id, True)


def restore_rule(db: Database, actor: events.Actor | None, rule_id: int) -> Rule:
    return _set_archived(db, actor, rule_id, False)


BULK_FIELDS = ("status", "category_id", "owner", "review_due")


def bulk_update(
    db: Database, actor: events.Actor | None, rule_ids: Iterable[int], **fields: Any
) -> int:
    """Give many rules the same status, category, owner or review date, all in one
    transaction: either every rule changes or none does. Returns how many changed."""
    unknown = set(fields) - set(BULK_FIELDS)
    if unknown:
        raise ValidationError(
            {"": _l("Unknown field: %(names)s", names=", ".join(sorted(unknown)))}
        )
    if not fields:
        raise ValidationError({"": _l("Choose at least one thing to change.")})
    cleaned = clean(db, fields)  # refuse bad values before touching any rule
    # A person sets these dates by hand, for many rules at once: the horizon holds as on the
    # rule form (docs/design.md, "The mirror check").
    if cleaned.get("review_due") and (problem := _review_beyond_horizon(db, cleaned["review_due"])):
        raise ValidationError({"review_due": problem})
    changed = 0
    with transaction(db):
        for rule_id in rule_ids:
            before = get_rule(db, rule_id).version
            after = update_rule(db, actor, rule_id, action="bulk", **fields).version
            changed += after != before
    return changed
