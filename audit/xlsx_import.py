"""Importing an existing rule inventory from Excel.

Three steps, each usable alone: ``inspect_file`` refuses what is not a plain, reasonably sized
.xlsx before any sheet is parsed; ``read_plan`` reads the whole sheet and says per row what would
be created, updated or left unchanged and what is wrong with it (nothing is written);
``apply_plan`` writes the plan in one transaction and records the import in the event log. The
workbook itself is only ever read by ``audit.xlsx_reader``, in a worker process with hard limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from sqlite_utils import Database

from audit import categories, events, organisation, origins, protocols, rules
from audit.db import transaction
from audit.errors import ValidationError
from audit.users import User
from audit.vocabulary import IMPACTS, STATUSES, VALUES
from audit.xlsx_columns import BY_KEY, HEADER_KEYS, normalise_header
from audit.xlsx_reader import ImportFileError, Limits, Workbook, open_workbook

MAX_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ROWS = 50_000
HEADER_SEARCH_ROWS = 30
CREATE_SLICE = 1000
NEW = "new"  # marks a category, protocol, team or location the import would create

# Spellings people use besides the keys and the English and Dutch names (README lists them).
SYNONYMS = {
    "origin": {
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
    },
    "impact": {"negatief": "hinders", "positief": "supports", "geen": "neutral"},
    "status": {"in review": "under_review", "herziening": "under_review", "vervallen": "dropped"},
    "value": {"autonomy": "autonomy", "zelfbeschikking": "autonomy", "waardigheid": "dignity"},
}


@dataclass
class RowResult:
    row: int
    action: str  # create, update, unchanged, duplicate or invalid
    code: str
    title: str
    fields: dict[str, Any] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    errors: list[tuple[str, Any]] = field(default_factory=list)  # (column, message)
    # A row without a code that would make a second copy of a rule: of this one in the
    # register, or of the rule an earlier row of the file creates.
    duplicate_of: rules.SameTitle | None = None
    same_as_row: int | None = None


@dataclass
class ImportPlan:
    filename: str
    sheet: str
    sheets: list[str]
    header_row: int
    columns: dict[int, str]  # sheet column number -> column key
    ignored_columns: list[str]
    rows: list[RowResult]
    create_teams: bool
    create_duplicates: bool = False
    command_line: bool = False  # hints name the command's flags rather than the web form's
    headers: dict[int, str] = field(default_factory=dict)  # column number -> header as typed
    new_teams: list[str] = field(default_factory=list)
    new_locations: list[str] = field(default_factory=list)
    new_categories: list[str] = field(default_factory=list)
    new_protocols: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def invalid(self) -> list[RowResult]:
        return [r for r in self.rows if r.action == "invalid"]

    @property
    def repeated(self) -> list[RowResult]:
        """Rows that repeat a rule already there or an earlier row, created only when asked."""
        return [r for r in self.rows if r.duplicate_of or r.same_as_row]

    def summary(self) -> dict[str, int]:
        return {a: self.count(a) for a in ("create", "update", "unchanged", "duplicate", "invalid")}


# --- the file itself ------------------------------------------------------------------------


def inspect_file(
    path: str | Path,
    filename: str,
    *,
    max_bytes: int = MAX_BYTES,
    max_uncompressed: int = MAX_UNCOMPRESSED,
    limits: Limits | None = None,
) -> None:
    """Refuse anything but a plain .xlsx of reasonable size, before parsing any sheet of it:
    the name and size here, the archive in the reading worker."""
    _check_name_and_size(Path(path), filename, max_bytes)
    with _open(Path(path), (limits or Limits()).but(max_unpacked=max_uncompressed)):
        pass


def _check_name_and_size(path: Path, filename: str, max_bytes: int) -> None:
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsm":
        raise ImportFileError(
            _l("Workbooks with macros (.xlsm) are not accepted. Save it as .xlsx.")
        )
    if suffix == ".xls":
        raise ImportFileError(_l("The old .xls format is not accepted. Save the file as .xlsx."))
    if suffix != ".xlsx":
        raise ImportFileError(_l("Only Excel workbooks (.xlsx) can be imported."))
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(_l("The file is empty."))
    if size > max_bytes:
        raise ImportFileError(
            _l("The file is larger than %(n)s MB.", n=max(1, max_bytes // (1024 * 1024)))
        )


def _open(path: Path, limits: Limits | None) -> Workbook:
    """The workbook, opened in a reading worker that checks the archive first (a zip, not a
    Word file, no macros, not a bomb); its refusals are ImportFileErrors already."""
    return open_workbook(path, limits)


# --- recognising values ---------------------------------------------------------------------


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def _lookup(mapping: dict[str, Any], synonyms: dict[str, str]) -> dict[str, str]:
    """Every accepted spelling -> key: the key itself, its English and Dutch name, synonyms."""
    table = {}
    for key, label in mapping.items():
        table[_norm(key)] = key
        table[_norm(key.replace("_", " "))] = key
        for lang in ("en", "nl"):
            with force_locale(lang):
                table[_norm(str(label))] = key
    for spelling, key in synonyms.items():
        table.setdefault(_norm(spelling), key)
    return table


class _Vocabulary:
    def __init__(self) -> None:
        self.origin = _lookup(origins.ORIGINS, SYNONYMS["origin"])
        self.impact = _lookup(IMPACTS, SYNONYMS["impact"])
        self.status = _lookup(STATUSES, SYNONYMS["status"])
        self.value = _lookup(VALUES, SYNONYMS["value"])


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _items(value: Any) -> list[str]:
    return [part.strip() for part in re.split(r"[;,\n]", _text(value)) if part.strip()]


_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and 1 <= value < 2958466:
        return from_excel(value).date()  # a date cell that lost its date format
    text = _text(value)
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    raise ValueError(text)


def _multiline(value: Any) -> str:
    """Longer text keeps its line breaks; only the ends are trimmed."""
    return value.strip() if isinstance(value, str) else _text(value)


def _minutes(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    if text.isdigit():
        return int(text)
    raise ValueError(text)


# --- reading the sheet ----------------------------------------------------------------------


def _find_header(ws) -> tuple[int, dict[int, str], list[str], dict[int, str]] | None:
    """The first row (of the first 30) that names the Title column and at least one other:
    its row number, the known columns, the ignored headers and each column's header text."""
    for index, row in enumerate(ws.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True), 1):
        columns, ignored, headers = {}, [], {}
        for number, value in enumerate(row, 1):
            if value in (None, ""):
                continue
            key = HEADER_KEYS.get(normalise_header(value))
            if key is None:
                ignored.append(_text(value))
            elif key not in columns.values():
                columns[number] = key
                # Spacing folded: the header matched a known name, so this stays short however
                # much whitespace a crafted file pads it with, and every problem repeats it.
                headers[number] = " ".join(_text(value).split())
        if "title" in columns.values() and len(columns) >= 2:
            return index, columns, ignored, headers
    return None


def _rows(ws, header_row: int, max_rows: int) -> Iterator[tuple[int, tuple]]:
    """The rows below the header. The limit counts rows that hold a value, as they are read:
    a blank stretch costs nothing, and what the sheet says about its size is not asked."""
    counted = 0
    for number, row in enumerate(ws.iter_rows(min_row=header_row + 1), header_row + 1):
        counted += bool(row)
        if counted > max_rows:
            raise ImportFileError(_l("The sheet has more than %(n)s rows.", n=max_rows))
        yield number, row


def _cell_problem(cell) -> Any:
    if cell.data_type == "f":
        return _l(
            "This cell holds a formula (%(formula)s). Paste it as a value.",
            formula=str(cell.value)[:40],
        )
    if cell.data_type == "e":
        return _l("This cell holds an error value (%(value)s).", value=cell.value)
    return None


def read_plan(
    db: Database,
    path: str | Path,
    *,
    filename: str,
    sheet: str | None = None,
    create_teams: bool = False,
    create_duplicates: bool = False,
    command_line: bool = False,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
    limits: Limits | None = None,
) -> ImportPlan:
    """Read and check the whole file; write nothing. The sheet's rows are counted as they
    are read: its declared size (``<dimension>``) is never believed.

    Rows without a code that repeat a rule (``rules.find_same_title``, same scope) or an earlier
    row are ``duplicate`` and create nothing, unless ``create_duplicates``."""
    path = Path(path)
    _check_name_and_size(path, filename, max_bytes)
    wb = _open(path, limits)
    try:
        names = list(wb.sheetnames)
        if sheet is not None and sheet in wb.chartsheets:
            raise ImportFileError(
                _l("Sheet %(name)s is a chart, not a table of rules.", name=sheet)
            )
        if not names:
            raise ImportFileError(_l("The workbook has no sheets."))
        if sheet is not None and sheet not in names:
            raise ImportFileError(_l("The workbook has no sheet called %(name)s.", name=sheet))
        candidates = [sheet] if sheet is not None else names
        found = None
        for name in candidates:
            ws = wb[name]
            header = _find_header(ws)
            if header is not None:
                found = (name, ws, header)
                break
        if found is None:
            if sheet is not None:
                raise ImportFileError(
                    _l(
                        "No header row found in sheet %(name)s: it needs at least a Title"
                        " (Titel) column.",
                        name=sheet,
                    )
                )
            raise ImportFileError(
                _l(
                    "No sheet with a header row found: one row needs at least a Title (Titel)"
                    " column and one other known column."
                )
            )
        name, ws, (header_row, columns, ignored, headers) = found
        plan = ImportPlan(
            filename=Path(filename).name,
            sheet=name,
            sheets=names,
            header_row=header_row,
            columns=columns,
            ignored_columns=ignored,
            rows=[],
            create_teams=create_teams,
            create_duplicates=create_duplicates,
            command_line=command_line,
            headers=headers,
        )
        _read_rows(db, plan, ws, max_rows)
    finally:
        wb.close()
    if not plan.rows:
        raise ImportFileError(_l("The sheet has a header row but no rules below it."))
    return plan


class _Names:
    """Resolves names of categories, protocols, teams and locations once per import."""

    def __init__(self, db: Database, plan: ImportPlan) -> None:
        self.db, self.plan = db, plan
        self.cache: dict[tuple[str, str], Any] = {}

    def resolve(self, kind: str, name: str) -> Any:
        key = (kind, _norm(name))
        if key not in self.cache:
            finder = {
                "category": categories.find_category,
                "protocol": protocols.find_protocol,
                "team": organisation.find_team,
                "location": organisation.find_location,
            }[kind]
            found = finder(self.db, name)
            if found is not None:
                self.cache[key] = found["id"]
            else:
                self.cache[key] = (NEW, " ".join(name.split()))
                target = {
                    "category": self.plan.new_categories,
                    "protocol": self.plan.new_protocols,
                    "team": self.plan.new_teams,
                    "location": self.plan.new_locations,
                }[kind]
                target.append(self.cache[key][1])
        return self.cache[key]


def _header_name(plan: ImportPlan, key: str) -> str:
    """The column as the user sees it in their workbook: its letter and its own header text."""
    for number, column in plan.columns.items():
        if column == key:
            return f"{get_column_letter(number)} ({plan.headers.get(number) or BY_KEY[key].en})"
    if key in BY_KEY:
        locale = get_locale()
        return BY_KEY[key].header(locale.language if locale else "en")
    return key


def _read_rows(db: Database, plan: ImportPlan, ws, max_rows: int) -> None:
    vocabulary = _Vocabulary()
    names = _Names(db, plan)
    seen_codes: dict[str, int] = {}
    for number, cells in _rows(ws, plan.header_row, max_rows):
        raw = {}
        problems: list[tuple[str, Any]] = []
        for index, cell in enumerate(cells, 1):
            key = plan.columns.get(index)
            if key is None or getattr(cell, "value", None) is None:
                continue
            problem = _cell_problem(cell)
            if problem is not None:
                problems.append((_header_name(plan, key), problem))
                continue
            raw[key] = cell.value
        if all(_text(v) == "" for v in raw.values()) and not problems:
            continue  # blank rows in between are left out
        plan.rows.append(_row(db, plan, number, raw, problems, vocabulary, seen_codes, names))
    _compare_with_register(db, plan)
    _find_duplicates(db, plan)


def _compare_with_register(db: Database, plan: ImportPlan) -> None:
    """Create, update or unchanged, for every valid row: existing rules are fetched 500 at a
    time rather than one query (or four) per row."""
    existing = {_norm(code): rule_id for code, rule_id in db.execute("SELECT code, id FROM rules")}
    valid = [row for row in plan.rows if not row.errors]
    for row in valid:
        row.action = "create" if _norm(row.code) not in existing or not row.code else "update"
    updates = [row for row in valid if row.action == "update"]
    for start in range(0, len(updates), 500):
        chunk = updates[start : start + 500]
        found = {r.id: r for r in rules.get_rules(db, [existing[_norm(row.code)] for row in chunk])}
        for row in chunk:
            rule = found[existing[_norm(row.code)]]
            if rule.archived:
                row.action = "invalid"
                row.errors.append(
                    (
                        _header_name(plan, "code"),
                        _l(
                            "Rule %(code)s is archived. Restore it before importing changes.",
                            code=row.code,
                        ),
                    )
                )
                continue
            current = rule.values()
            row.changes = [
                key
                for key, value in row.fields.items()
                if key != "code"
                and (
                    _has_new(value) or _comparable(key, value) != _comparable(key, current.get(key))
                )
            ]
            row.action = "update" if row.changes else "unchanged"


def _unknown(kind: str, name: str, command_line: bool) -> Any:
    """An unknown team or location; the hint names the option where the user is: the web
    form's checkbox, or the command's flag."""
    if command_line:
        if kind == "team":
            return _l("Unknown team: %(name)s. Use --create-teams to create it.", name=name)
        return _l("Unknown location: %(name)s. Use --create-teams to create it.", name=name)
    if kind == "team":
        return _l("Unknown team: %(name)s. Tick “create teams” to create it.", name=name)
    return _l("Unknown location: %(name)s. Tick “create teams” to create it.", name=name)


def _scope_of(row: RowResult) -> dict[str, Any]:
    return {
        "title": row.fields.get("title"),
        "team_ids": row.fields.get("team_ids"),
        "location_ids": row.fields.get("location_ids"),
    }


def _find_duplicates(db: Database, plan: ImportPlan) -> None:
    """Rows without a code have nothing else to recognise them by: without this, uploading
    the same inventory twice doubles the register. Such a row that matches a rule on title and
    scope (the register's own matching, ``rules.find_same_title``), or a row above it that
    creates one, is a duplicate: left out unless the user asks for it."""
    creates = [row for row in plan.rows if row.action == "create"]
    uncoded = [row for row in creates if not row.code]
    found = rules.find_same_title(db, map(_scope_of, uncoded))
    for row, matches in zip(uncoded, found, strict=True):
        row.duplicate_of = next((m for m in matches if m.same_scope), None)
    first_row: dict[tuple, int] = {}
    for row in creates:
        wanted = _scope_of(row)
        key = (
            rules.title_key(wanted["title"]),
            frozenset(wanted["team_ids"] or ()),
            frozenset(wanted["location_ids"] or ()),
        )
        if not key[0]:
            continue
        if key in first_row and not row.code:
            row.same_as_row = first_row[key]
        else:
            first_row.setdefault(key, row.row)
        if (row.duplicate_of or row.same_as_row) and not plan.create_duplicates:
            row.action = "duplicate"


def _row(db, plan, number, raw, problems, vocabulary, seen_codes, names) -> RowResult:
    errors = list(problems)
    fields: dict[str, Any] = {}
    present = set(plan.columns.values())

    def err(key: str, message: Any) -> None:
        errors.append((_header_name(plan, key), message))

    def choose(key: str, table: dict[str, str], message: Any) -> str | None:
        text = _text(raw.get(key))
        if not text:
            return None
        found = table.get(_norm(text))
        if found is None:
            err(key, _l("%(value)s is not a known value. %(hint)s", value=text, hint=message))
        return found

    code = _text(raw.get("code"))
    for key in ("title", "owner", "source_reference"):
        if key in present:
            fields[key] = _text(raw.get(key))
    for key in ("description", "evidence_note"):
        if key in present:
            fields[key] = _multiline(raw.get(key))
    origin_hint = _l("Use an origin such as law, inspectorate or team habit.")
    for key in ("perceived_origin", "verified_origin"):
        if key in present:
            fields[key] = choose(key, vocabulary.origin, origin_hint)
    if "relation_impact" in present:
        fields["relation_impact"] = choose(
            "relation_impact", vocabulary.impact, _l("Use hinders, neutral or supports.")
        )
    if "status" in present:
        fields["status"] = (
            choose("status", vocabulary.status, _l("Use active, under review, adapted or dropped."))
            or "active"
        )
    if "values_touched" in present:
        keys = []
        for item in _items(raw.get("values_touched")):
            found = vocabulary.value.get(_norm(item))
            if found is None:
                err(
                    "values_touched",
                    _l(
                        "%(value)s is not a known value. %(hint)s",
                        value=item,
                        hint=_l("Use autonomy, privacy, dignity, safety or independence."),
                    ),
                )
            else:
                keys.append(found)
        fields["values_touched"] = keys
    if "minutes_per_week" in present:
        try:
            fields["minutes_per_week"] = _minutes(raw.get("minutes_per_week"))
        except ValueError:
            err("minutes_per_week", _l("Enter a whole number of minutes, 0 or more."))
    for key in ("introduced_on", "review_due"):
        if key in present:
            try:
                fields[key] = _date(raw.get(key))
            except ValueError:
                err(
                    key,
                    _l(
                        "%(value)s is not a date. Use a date cell, 2019-03-12 or 12-03-2019.",
                        value=_text(raw.get(key)),
                    ),
                )
    for key, kind in (("category", "category"), ("protocol", "protocol")):
        if key in present:
            text = _text(raw.get(key))
            fields[f"{key}_id"] = names.resolve(kind, text) if text else None
    for key, kind in (("teams", "team"), ("locations", "location")):
        if key in present:
            resolved = []
            for name in _items(raw.get(key)):
                found = names.resolve(kind, name)
                if isinstance(found, tuple) and not plan.create_teams:
                    err(key, _unknown(kind, name, plan.command_line))
                resolved.append(found)
            fields[f"{key[:-1]}_ids"] = resolved

    # The register's own validation of the values typed. Categories, protocols, teams and
    # locations were found by name above, so their ids need no second check.
    references = ("category_id", "protocol_id", "team_ids", "location_ids")
    stand_in = {k: v for k, v in fields.items() if k not in references}
    if code:
        stand_in["code"] = code
    try:
        rules.clean(db, stand_in)
    except ValidationError as error:
        for key, messages in error.errors.items():
            column = {
                "team_ids": "teams",
                "location_ids": "locations",
                "category_id": "category",
                "protocol_id": "protocol",
            }.get(key, key)
            for message in messages:
                err(column, message)
    if code:
        first = seen_codes.get(_norm(code))
        if first is not None:
            err("code", _l("The code %(code)s is used in row %(row)s too.", code=code, row=first))
        else:
            seen_codes[_norm(code)] = number
        fields["code"] = code
    # The action (create, update or unchanged) is settled once every row is read.
    return RowResult(
        row=number,
        action="invalid",
        code=code,
        title=_text(raw.get("title")),
        fields=fields,
        errors=errors,
    )


def _has_new(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return any(isinstance(item, tuple) for item in items)


def _comparable(key: str, value: Any) -> Any:
    if key in ("team_ids", "location_ids"):
        return sorted(value or [])
    if key in ("title", "owner", "source_reference"):
        return " ".join((value or "").split())
    if key in ("description", "evidence_note"):
        return (value or "").strip()
    return value


# --- writing --------------------------------------------------------------------------------


def apply_plan(
    db: Database,
    actor: User | None,
    plan: ImportPlan,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the plan in one transaction. With invalid rows and no ``skip_invalid``, nothing."""
    invalid = plan.invalid
    if invalid and not skip_invalid:
        raise ValidationError(_l("%(n)s rows have problems; nothing was imported.", n=len(invalid)))
    with transaction(db):
        # Check again inside the write transaction: the same file confirmed a moment earlier
        # (a double click on Import, a colleague) has its rules in the register by now.
        _find_duplicates(db, plan)
        counts = {**plan.summary(), "skipped": len(invalid)}
        event_id = events.record(
            db,
            actor,
            "import",
            None,
            "import",
            {
                "file": [None, plan.filename],
                "sheet": [None, plan.sheet],
                **{k: [None, v] for k, v in counts.items()},
            },
        )
        created: dict[tuple[str, str], int] = {}

        def make(kind: str, name: str) -> int:
            key = (kind, _norm(name))
            if key not in created:
                if kind == "category":
                    created[key] = categories.save_category(db, actor, name_nl=name)["id"]
                elif kind == "protocol":
                    created[key] = protocols.save_protocol(db, actor, name=name)["id"]
                elif kind == "team":
                    created[key] = organisation.save_team(db, actor, name, None)["id"]
                else:
                    created[key] = organisation.save_location(db, actor, name)["id"]
            return created[key]

        kinds = {
            "category_id": "category",
            "protocol_id": "protocol",
            "team_ids": "team",
            "location_ids": "location",
        }
        ref = ("import", event_id)
        creates = []
        for row in plan.rows:
            if row.action not in ("create", "update"):
                continue
            fields = {}
            for key, value in row.fields.items():
                kind = kinds.get(key)
                if isinstance(value, tuple):
                    value = make(kind, value[1])
                elif isinstance(value, list) and kind:
                    value = [make(kind, v[1]) if isinstance(v, tuple) else v for v in value]
                fields[key] = value
            if row.action == "create":
                creates.append(fields)
                continue
            rule = rules.find_by_code(db, row.code)
            fields.pop("code", None)
            rules.update_rule(
                db, actor, rule.id, action="import", ref=ref, note=plan.filename, **fields
            )
            if progress:
                progress(1)
        # In slices, so memory stays flat however long the sheet; all in the one transaction.
        for start in range(0, len(creates), CREATE_SLICE):
            part = creates[start : start + CREATE_SLICE]
            rules.create_rules(db, actor, part, action="import", ref=ref, note=plan.filename)
            if progress:
                progress(len(part))
    return counts
