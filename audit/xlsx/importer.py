"""Importing an existing rule inventory from Excel.

Three steps, each usable alone: ``inspect_file`` refuses what is not a plain, reasonably sized
.xlsx before any sheet is parsed; ``read_plan`` reads the whole sheet and says per row what would
be created, updated or left unchanged and what is wrong with it (nothing is written);
``apply_plan`` writes the plan in one transaction and records the import in the event log. The
workbook itself is only ever read by ``audit.xlsx.reader``, in a worker process with hard limits.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database
from xlsxwriter.utility import xl_col_to_name

from audit.core.errors import ValidationError
from audit.domain import categories, events, fields, organisation, protocols, rules
from audit.domain.fields import Field, rule_spec
from audit.domain.users import User
from audit.store.db import transaction
from audit.xlsx.columns import derived_headers, header_keys, normalise_header
from audit.xlsx.reader import ImportFileError, Limits, Workbook, open_workbook
from audit.xlsx.rowstore import RowStore

MAX_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ROWS = 50_000
HEADER_SEARCH_ROWS = 30
CREATE_SLICE = 1000


@dataclass(frozen=True)
class NewReference:
    """A category, protocol, team or location a row names that is not there yet: the import
    creates it (once, however many rows name it) when the plan is applied."""

    kind: str  # category, protocol, team or location (``Field.entity``)
    name: str


@dataclass(slots=True, eq=False)
class RowResult:
    """One row of the sheet: what happens to it and why. Its values wait in the plan's
    ``RowStore`` (``fields`` reads them back), so that a long sheet costs little memory."""

    row: int
    action: str  # create, update, unchanged, duplicate or invalid
    code: str
    title: str
    store: RowStore
    number: int  # of its values in the store
    # Title, teams and locations: what a row without a code is recognised by.
    scope: tuple[str | None, tuple, tuple]
    dated: bool  # whether the row gives a review date
    # Empty tuples rather than lists when there is nothing: one shared object, not one per row.
    changes: Sequence[str] = ()
    errors: Sequence[tuple[str, Any]] = ()  # (column, message)
    # A row without a code that would make a second copy of a rule: of this one in the
    # register, or of the rule an earlier row of the file creates.
    duplicate_of: rules.SameTitle | None = None
    same_as_row: int | None = None

    @property
    def fields(self) -> dict[str, Any]:
        return self.store.get(self.number)


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
    store: RowStore = field(default_factory=RowStore)
    create_duplicates: bool = False
    command_line: bool = False  # hints name the command's flags rather than the web form's
    headers: dict[int, str] = field(default_factory=dict)  # column number -> header as typed
    new_teams: list[str] = field(default_factory=list)
    new_locations: list[str] = field(default_factory=list)
    new_categories: list[str] = field(default_factory=list)
    new_protocols: list[str] = field(default_factory=list)
    # The review date a created rule without one gets: today plus the organisation's horizon
    # (docs/design.md, "The mirror check"), fixed when the plan is read so the preview and the
    # import say the same date.
    horizon_months: int = 12
    horizon_date: date | None = None

    @property
    def dated_by_horizon(self) -> int:
        """How many of the rules to create get the horizon's review date."""
        return sum(1 for r in self.rows if r.action == "create" and not r.dated)

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


# --- the cycle collector --------------------------------------------------------------------

_pause_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off while an import reads or writes its rows.

    Reading 10,000 rows makes a few million small objects that live until the import ends;
    each of them triggers collections that walk all those objects again (about a quarter of
    the import's time, measured with benchmarks/worker.py). None of them forms a cycle
    (reference counting frees them), so the collector finds nothing. It runs again, and
    catches up, as soon as the last import running in the process ends; imports running side
    by side (threads of the web server) share one pause."""
    global _pauses, _was_enabled
    with _pause_lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()


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


def _lookup(mapping: Mapping[str, Any], synonyms: Mapping[str, str]) -> dict[str, str]:
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
        # A date cell that lost its date format. Imported here, not at the top: the rest of
        # openpyxl is read in the worker, and loading it adds a tenth of a second to start-up.
        from openpyxl.utils.datetime import from_excel

        return from_excel(value).date()
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


def _integer(value: Any) -> int | None:
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
    known, derived = header_keys(), derived_headers()
    for index, row in enumerate(ws.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True), 1):
        columns, ignored, headers = {}, [], {}
        for number, value in enumerate(row, 1):
            if value in (None, ""):
                continue
            key = known.get(normalise_header(value))
            if key is None and normalise_header(value) in derived:
                continue  # the report's own figures (columns.DERIVED): not data to import
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


@_cycle_collector_paused()
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
        plan.horizon_months = organisation.rule_settings(db)["review_horizon_months"]
        plan.horizon_date = organisation.horizon_date(db)
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

    def resolve(self, kind: str, name: str) -> int | NewReference:
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
                self.cache[key] = NewReference(kind, " ".join(name.split()))
                target = {
                    "category": self.plan.new_categories,
                    "protocol": self.plan.new_protocols,
                    "team": self.plan.new_teams,
                    "location": self.plan.new_locations,
                }[kind]
                target.append(self.cache[key].name)
        return self.cache[key]


def _header_name(plan: ImportPlan, key: str) -> str:
    """The column as the user sees it in their workbook: its letter and its own header text."""
    f = rule_spec().by_column.get(key)
    for number, column in plan.columns.items():
        if column == key:
            if plan.headers.get(number):
                return f"{xl_col_to_name(number - 1)} ({plan.headers[number]})"
            with force_locale("en"):
                return f"{xl_col_to_name(number - 1)} ({f.label if f else key})"
    if f is not None:
        return str(f.label)  # in the reader's language
    return key


def _read_rows(db: Database, plan: ImportPlan, ws, max_rows: int) -> None:
    reader = _RowReader(db, plan)
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
        plan.rows.append(reader.row(number, raw, problems))
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
        for row, values in zip(chunk, plan.store.many(r.number for r in chunk), strict=True):
            rule = found[existing[_norm(row.code)]]
            if rule.archived:
                row.action = "invalid"
                row.errors = [
                    *row.errors,
                    (
                        _header_name(plan, "code"),
                        _l(
                            "Rule %(code)s is archived. Restore it before importing changes.",
                            code=row.code,
                        ),
                    ),
                ]
                continue
            if "status" in values and (
                refusal := rules.leaves_proposed(db, rule, values["status"], "import")
            ):
                row.action = "invalid"
                row.errors = [*row.errors, (_header_name(plan, "status"), refusal)]
                continue
            current = rule.values()
            row.changes = [
                key
                for key, value in values.items()
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
    title, team_ids, location_ids = row.scope
    return {"title": title, "team_ids": list(team_ids), "location_ids": list(location_ids)}


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


# A parser turns one cell's value into the field's value; what is wrong goes to ``problems``.
Parser = Callable[[Any, list], Any]


def _message_unknown(text: str, hint: Any) -> Any:
    return _l("%(value)s is not a known value. %(hint)s", value=text, hint=hint)


def _parse_text(value: Any, problems: list) -> str:
    return _text(value)


def _parse_long_text(value: Any, problems: list) -> str:
    return _multiline(value)


def _parse_date(value: Any, problems: list) -> date | None:
    try:
        return _date(value)
    except ValueError:
        problems.append(
            _l(
                "%(value)s is not a date. Use a date cell, 2019-03-12 or 12-03-2019.",
                value=_text(value),
            )
        )
        return None


class _RowReader:
    """Reads the rows of one sheet: a parser per column, taken from the field table once per
    import (docs/design.md, "Adding a field"), then the register's own ``rules.clean``."""

    def __init__(self, db: Database, plan: ImportPlan) -> None:
        self.db, self.plan = db, plan
        self.names = _Names(db, plan)
        self.seen_codes: dict[str, int] = {}
        spec = rule_spec()
        self.parsers: list[tuple[str, Field, Parser, str]] = []
        for column in dict.fromkeys(plan.columns.values()):
            f = spec.by_column.get(column)
            if f is not None and f.editable:
                self.parsers.append((column, f, self._parser(f), _header_name(plan, column)))
        self.column_of = {f.key: f.column_key for f in spec.columns}
        self.checked_by_clean = {
            f.key for f in spec.editable if f.kind not in (fields.REFERENCE, fields.REFERENCES)
        }

    def _parser(self, f: Field) -> Parser:
        """The parser of one field, by its kind."""
        if f.kind == fields.TEXT:
            return _parse_text
        if f.kind == fields.LONG_TEXT:
            return _parse_long_text
        if f.kind in (fields.CHOICE, fields.CHOICES):
            return self._choice_parser(f)
        if f.kind == fields.INTEGER:
            return self._integer_parser(f)
        if f.kind == fields.DATE:
            return _parse_date
        if f.kind == fields.REFERENCE:
            return self._reference_parser(f)
        if f.kind == fields.REFERENCES:
            return self._references_parser(f)
        raise ValueError(f"no import parser for kind {f.kind}")

    def _choice_parser(self, f: Field) -> Parser:
        table = _lookup(f.choices, f.spellings or {})
        hint, default = f.import_hint, f.default

        def choice(value: Any, problems: list) -> str | None:
            text = _text(value)
            found = table.get(_norm(text)) if text else None
            if text and found is None:
                problems.append(_message_unknown(text, hint))
            return found or default

        def several(value: Any, problems: list) -> list[str]:
            keys = []
            for item in _items(value):
                found = table.get(_norm(item))
                if found is None:
                    problems.append(_message_unknown(item, hint))
                else:
                    keys.append(found)
            return keys

        return several if f.kind == fields.CHOICES else choice

    def _integer_parser(self, f: Field) -> Parser:
        message = f.invalid or _l("Enter a whole number, 0 or more.")

        def integer(value: Any, problems: list) -> int | None:
            try:
                return _integer(value)
            except ValueError:
                problems.append(message)
                return None

        return integer

    def _reference_parser(self, f: Field) -> Parser:
        resolve, kind = self.names.resolve, f.entity

        def reference(value: Any, problems: list) -> int | NewReference | None:
            text = _text(value)
            return resolve(kind, text) if text else None

        return reference

    def _references_parser(self, f: Field) -> Parser:
        # Names in a list (teams, locations) that are not known yet are created only when the
        # user asks for it: a misspelt team would otherwise quietly become a new one.
        resolve, kind, plan = self.names.resolve, f.entity, self.plan

        def references(value: Any, problems: list) -> list[int | NewReference]:
            resolved = []
            for name in _items(value):
                found = resolve(kind, name)
                if isinstance(found, NewReference) and not plan.create_teams:
                    problems.append(_unknown(kind, name, plan.command_line))
                resolved.append(found)
            return resolved

        return references

    def row(self, number: int, raw: dict[str, Any], problems: list) -> RowResult:
        errors = list(problems)
        values: dict[str, Any] = {}
        for column, f, parse, header in self.parsers:
            found: list = []
            values[f.key] = parse(raw.get(column), found)
            if found:
                errors.extend((header, message) for message in found)
        code = values.pop("code", "")
        # The register's own validation of the values typed. Categories, protocols, teams and
        # locations were found by name above, so their ids need no second check.
        stand_in = {k: v for k, v in values.items() if k in self.checked_by_clean}
        if code:
            stand_in["code"] = code
        try:
            # Kept as the register cleans them, so the write need not clean them again.
            cleaned = rules.clean(self.db, stand_in)
        except ValidationError as error:
            for key, messages in error.errors.items():
                name = _header_name(self.plan, self.column_of.get(key, key))
                errors.extend((name, message) for message in messages)
        else:
            code = cleaned.pop("code", code)
            values.update(cleaned)
        if code:
            first = self.seen_codes.get(_norm(code))
            if first is not None:
                errors.append(
                    (
                        _header_name(self.plan, "code"),
                        _l("The code %(code)s is used in row %(row)s too.", code=code, row=first),
                    )
                )
            else:
                self.seen_codes[_norm(code)] = number
            values["code"] = code
        title = _text(raw.get("title"))
        if values.get("title") == title:
            title = values["title"]  # one string for both, not two
        # The action (create, update or unchanged) is settled once every row is read.
        return RowResult(
            row=number,
            action="invalid",
            code=code,
            title=title,
            store=self.plan.store,
            number=self.plan.store.add(values),
            dated=bool(values.get("review_due")),
            scope=(
                values.get("title"),
                tuple(values.get("team_ids") or ()),
                tuple(values.get("location_ids") or ()),
            ),
            errors=errors or (),
        )


def _has_new(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return any(isinstance(item, NewReference) for item in items)


def _comparable(key: str, value: Any) -> Any:
    kind = rule_spec().by_key[key].kind
    if kind == fields.REFERENCES:
        return sorted(value or [])
    if kind == fields.TEXT:
        return " ".join((value or "").split())
    if kind == fields.LONG_TEXT:
        return (value or "").strip()
    return value


# --- writing --------------------------------------------------------------------------------


@_cycle_collector_paused()
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
        makers = {
            "category": lambda name: categories.save_category(db, actor, name_nl=name),
            "protocol": lambda name: protocols.save_protocol(db, actor, name=name),
            "team": lambda name: organisation.save_team(db, actor, name, None),
            "location": lambda name: organisation.save_location(db, actor, name),
        }

        def make(value: Any) -> Any:
            if not isinstance(value, NewReference):
                return value
            key = (value.kind, _norm(value.name))
            if key not in created:
                created[key] = makers[value.kind](value.name)["id"]
            return created[key]

        ref = ("import", event_id)
        creates: list[dict[str, Any]] = []

        def create_waiting() -> None:
            # Rows were cleaned as the file was read (``_RowReader.row``); the references
            # made just now are checked again by create_rules.
            rules.create_rules(
                db, actor, creates, action="import", ref=ref, note=plan.filename, cleaned=True
            )
            if progress:
                progress(len(creates))
            creates.clear()

        # Values come back from the plan's store a slice at a time and leave with their
        # slice, so memory stays flat however long the sheet; all in the one transaction.
        written = [row for row in plan.rows if row.action in ("create", "update")]
        for row, stored in zip(written, plan.store.many(r.number for r in written), strict=True):
            values = {
                key: [make(v) for v in value] if isinstance(value, list) else make(value)
                for key, value in stored.items()
            }
            if row.action == "create":
                if not values.get("review_due"):
                    values["review_due"] = plan.horizon_date
                creates.append(values)
                if len(creates) >= CREATE_SLICE:
                    create_waiting()
                continue
            rule = rules.find_by_code(db, row.code)
            values.pop("code", None)
            rules.update_rule(
                db, actor, rule.id, action="import", ref=ref, note=plan.filename, **values
            )
            if progress:
                progress(1)
        if creates:
            create_waiting()
    return counts
