"""The Excel audit report: Summary, Register, Sessions, Decisions and History.

Written with openpyxl in write-only mode, rules read in chunks through the domain functions, so
memory stays flat however large the register. Text that users typed never becomes a formula:
every such cell is written as a string cell, whatever it starts with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import IO, Any

from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlite_utils import Database

from audit.core import clock
from audit.domain import (
    ballots,
    decisions,
    events,
    fields,
    figures,
    organisation,
    origins,
    register,
    rules,
    sessions,
)
from audit.domain.history import ACTION_LABELS, ENTITY_LABELS, HistoryLookup, translated
from audit.domain.register import RuleFilter
from audit.xlsx.columns import headers

CHUNK = 500
SELF_INVENTED_FILL = PatternFill("solid", start_color="FFF1E8", end_color="FFF1E8")
HEADER_FILL = PatternFill("solid", start_color="DDE7E1", end_color="DDE7E1")
HEADER_FONT = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
LANGUAGES = ("en", "nl")

Progress = Callable[[int], None]


def sheet_names(lang: str) -> dict[str, str]:
    with force_locale(lang):
        return {
            "summary": _("Summary"),
            "register": _("Register"),
            "sessions": _("Sessions"),
            "decisions": _("Decisions"),
            "history": _("History"),
        }


# --- cells ----------------------------------------------------------------------------------


def _clean(text: str) -> str:
    # Excel cannot hold most control characters; they become a visible replacement mark.
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def _cell(
    ws,
    value: Any,
    *,
    fill: PatternFill | None = None,
    font: Font | None = None,
    number_format: str | None = None,
) -> Any:
    """A value for ``ws.append``. Plain values go as they are (fast); a styled value, or text
    openpyxl would otherwise take for a formula ("=...") or an error ("#N/A"), becomes a cell
    of its own, and typed text always stays a string."""
    if isinstance(value, str):
        value = _clean(value)
        risky = value.startswith("=") or value in ERROR_CODES
        if not (risky or fill or font or number_format):
            return value
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # "=HYPERLINK(...)", "+1", "@SUM(A1)" stay text
    elif fill is None and font is None and number_format is None:
        return value
    else:
        cell = WriteOnlyCell(ws, value=value)
    if fill is not None:
        cell.fill = fill
    if font is not None:
        cell.font = font
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _row(ws, values: list[Any], **style: Any) -> list[WriteOnlyCell]:
    return [_cell(ws, v, **style) for v in values]


def _header(ws, labels: list[str]) -> None:
    ws.append(_row(ws, labels, fill=HEADER_FILL, font=HEADER_FONT))


def _setup_table(ws, widths: list[int]) -> None:
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"


def _finish_table(ws, columns: int, rows: int) -> None:
    ws.auto_filter.ref = f"A1:{get_column_letter(columns)}{max(rows, 1) + 1}"


def _time(value: str | None) -> datetime | None:
    """Event and decision times as Excel date-times (naive UTC: Excel has no time zones)."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=None)


# --- register -------------------------------------------------------------------------------


@dataclass
class Labels:
    """Every label the report shows, rendered once in its language: a lazy label looked up
    per cell costs more than writing the cell."""

    choices: dict[str, dict[str, str]]  # choice field -> key -> label
    yes: str
    no: str
    _readers: dict[str, RegisterReader] = field(default_factory=dict)

    @classmethod
    def current(cls) -> Labels:
        return cls(
            choices={f.key: translated(f.choices) for f in fields.rule_fields() if f.choices},
            yes=_("yes"),
            no=_("no"),
        )

    def yes_no(self, value: bool) -> str:
        return self.yes if value else self.no

    def register_reader(self, lang: str) -> RegisterReader:
        """How to read the Register's cells off a rule, made once per report and language."""
        if lang not in self._readers:
            self._readers[lang] = RegisterReader(lang, self)
        return self._readers[lang]


def _converter(f: fields.Field, labels: Labels) -> Callable[[Any], Any] | None:
    """How a field's value becomes its Register cell, by kind; None: as it is (text, numbers,
    dates)."""
    if f.kind == fields.CHOICE:
        names = labels.choices[f.key]
        return lambda value: names.get(value, "")
    if f.kind == fields.CHOICES:
        names = labels.choices[f.key]
        return lambda value: ", ".join(names.get(key, key) for key in value)
    if f.kind == fields.REFERENCE:
        return lambda value: value or ""
    if f.kind == fields.REFERENCES:
        return ", ".join
    if f.kind == fields.FLAG:
        return labels.yes_no
    return None


class RegisterReader:
    """A rule's Register row: every column's attribute read in one ``attrgetter`` call, then
    only the columns that need it turned into labels; no per-cell lookup of the field table."""

    def __init__(self, lang: str, labels: Labels) -> None:
        columns = fields.rule_spec().columns
        self.keys = [f.column_key for f in columns]
        self.dates = {i for i, f in enumerate(columns) if f.kind == fields.DATE}
        names = [(f.shown or f.key).format(lang=lang) for f in columns]
        read = attrgetter(*names)
        self.read = read if len(names) > 1 else lambda rule: (read(rule),)
        self.convert = [(i, c) for i, f in enumerate(columns) if (c := _converter(f, labels))]

    def __call__(self, rule: rules.Rule) -> list[Any]:
        values = list(self.read(rule))
        for index, convert in self.convert:
            values[index] = convert(values[index])
        return values


def register_values(rule: rules.Rule, lang: str, labels: Labels | None = None) -> dict[str, Any]:
    """One rule as the Register sheet (and the import) reads it, by column key."""
    reader = (labels or Labels.current()).register_reader(lang)
    return dict(zip(reader.keys, reader(rule), strict=True))


def _rules_in_chunks(db: Database, rule_ids: list[int]) -> Iterator[list[rules.Rule]]:
    for start in range(0, len(rule_ids), CHUNK):
        yield rules.get_rules(db, rule_ids[start : start + CHUNK])


def write_register(
    wb: Workbook,
    db: Database,
    rule_filter: RuleFilter,
    title: str,
    lang: str,
    progress: Progress | None = None,
) -> int:
    ws = wb.create_sheet(title)
    columns = fields.rule_spec().columns
    _setup_table(ws, [f.width for f in columns])
    _header(ws, headers(lang))
    labels = Labels.current()
    reader = labels.register_reader(lang)
    keys, dates = reader.keys, reader.dates
    ids = _rule_ids(db, rule_filter)
    for chunk in _rules_in_chunks(db, ids):
        for rule in chunk:
            ws.append(
                [
                    _cell(
                        ws,
                        value,
                        number_format="yyyy-mm-dd" if index in dates and value else None,
                    )
                    for index, value in enumerate(reader(rule))
                ]
            )
        if progress:
            progress(len(chunk))
    last_row = max(len(ids), 1) + 1
    _finish_table(ws, len(columns), len(ids))
    # Self-invented rows get a fill: one rule for the sheet, not a style on 200,000 cells.
    flag = get_column_letter(keys.index("self_invented") + 1)
    ws.conditional_formatting.add(
        f"A2:{get_column_letter(len(columns))}{last_row}",
        FormulaRule(formula=[f'${flag}2="{labels.yes}"'], fill=SELF_INVENTED_FILL),
    )
    return len(ids)


def _rule_ids(db: Database, rule_filter: RuleFilter) -> list[int]:
    return register.rule_ids(db, rule_filter)


# --- summary --------------------------------------------------------------------------------


def write_summary(wb: Workbook, db: Database, rule_filter: RuleFilter, title: str) -> dict:
    ws = wb.create_sheet(title, 0)
    for column, width in zip("ABCDE", (44, 34, 14, 14, 14), strict=True):
        ws.column_dimensions[column].width = width
    scope = figures.Scope(
        team=rule_filter.team, location=rule_filter.location, category=rule_filter.category
    )
    head = figures.headline(db, scope)
    settings = organisation.get_settings(db)
    ws.append([_cell(ws, _("Audit report"), font=TITLE_FONT)])
    ws.append(_row(ws, [_("Organisation"), settings["name"]]))
    ws.append([_cell(ws, _("Date")), _cell(ws, clock.now().date(), number_format="yyyy-mm-dd")])
    ws.append(_row(ws, [_("Filter"), register.filter_in_words(db, rule_filter)]))
    ws.append([])
    _header(ws, [_("Figure"), _("Value")])
    percent, one_decimal = "0%", "0.0"
    rows = [
        (_("Rules in force"), head["total"], None),
        (_("Traced"), head["traced"], None),
        (_("Coverage (traced share)"), head["coverage"], percent),
        (_("Self-invented"), head["self_invented"], None),
        (_("Self-invented share of traced rules"), head["self_invented_share"], percent),
        (_("Myths"), head["myths"], None),
        (
            _("Minutes per week on self-invented rules"),
            head["minutes_per_week_self_invented"],
            None,
        ),
        (
            _("Hours per week on self-invented rules"),
            head["hours_per_week_self_invented"],
            one_decimal,
        ),
        (_("Hours per week given back"), head["hours_per_week_given_back"], one_decimal),
    ]
    if head["reference_share"] is not None:  # no reference set: none in the report either
        rows[5:5] = [
            (_("Reference share"), head["reference_share"], percent),
            (_("Source of the reference"), head["reference_label"] or _("source not given"), None),
        ]
    for label, value, number_format in rows:
        shown = value if value is not None else _("not yet known")
        ws.append(
            [
                _cell(ws, label),
                _cell(ws, shown, number_format=number_format if value is not None else None),
            ]
        )
    ws.append([])

    # Origin distribution, with a chart beside it.
    origin_start = 6 + len(rows) + 2
    _header(ws, [_("Origin"), _("Perceived"), _("Verified")])
    distribution = figures.origin_distribution(db, scope)
    for row in distribution:
        label = origins.label(row["key"]) if row["key"] else _("(not set)")
        ws.append([_cell(ws, label), _cell(ws, row["perceived"]), _cell(ws, row["verified"])])
    origin_end = origin_start + len(distribution)
    chart = BarChart()
    chart.type = "bar"
    chart.title = _("Where rules come from: believed and found")
    chart.y_axis.title = _("Rules")
    data = Reference(ws, min_col=2, max_col=3, min_row=origin_start, max_row=origin_end)
    labels = Reference(ws, min_col=1, min_row=origin_start + 1, max_row=origin_end)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(labels)
    chart.height, chart.width = 9, 16
    ws.add_chart(chart, f"D{origin_start}")
    ws.append([])

    # Self-invented share per category, with a chart beside it.
    category_start = origin_end + 2
    _header(ws, [_("Category"), _("Rules"), _("Traced"), _("Self-invented"), _("Share")])
    shares = figures.share_by_category(db, scope)
    for row in shares:
        share = row["self_invented_share"]
        ws.append(
            [
                _cell(ws, row["name"] or _("(no category)")),
                _cell(ws, row["total"]),
                _cell(ws, row["traced"]),
                _cell(ws, row["self_invented"]),
                _cell(ws, share, number_format=percent)
                if share is not None
                else _cell(ws, _("not yet known")),
            ]
        )
    category_end = category_start + len(shares)
    if shares:
        chart = BarChart()
        chart.type = "bar"
        chart.title = _("Self-invented share per category")
        data = Reference(ws, min_col=5, min_row=category_start, max_row=category_end)
        labels = Reference(ws, min_col=1, min_row=category_start + 1, max_row=category_end)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(labels)
        chart.y_axis.number_format = "0%"
        chart.height, chart.width = 9, 16
        ws.add_chart(chart, f"G{category_start}")
    return head


# --- sessions, decisions, history -----------------------------------------------------------


def _sessions_in_scope(db: Database, rule_filter: RuleFilter) -> list[sessions.ReviewSession]:
    """The sessions of the filter's team, or of the teams at its location, or all."""
    found = sessions.all_sessions(db)
    if rule_filter.team is not None:
        team_ids = {rule_filter.team}
    elif rule_filter.location is not None:
        team_ids = {
            t["id"] for t in organisation.list_teams(db) if t["location_id"] == rule_filter.location
        }
    else:
        return found
    return [s for s in found if team_ids & set(s.team_ids)]


def write_sessions(wb: Workbook, db: Database, rule_filter: RuleFilter, title: str) -> int:
    ws = wb.create_sheet(title)
    labels = [
        _("Session"),
        _("State"),
        _("Mode"),
        _("Teams"),
        _("Code"),
        _("Rule"),
        *[str(v) for v in ballots.CHOICES.values()],
        _("Total"),
        _("Quorum met"),
        _("Suggested outcome"),
        _("Decision"),
        _("Applied"),
    ]
    _setup_table(ws, [30, 10, 14, 18, 11, 40, 9, 9, 9, 9, 9, 12, 16, 14, 11])
    _header(ws, labels)
    text = Labels.current()
    states, modes = translated(sessions.STATES), translated(sessions.MODES)
    outcomes = translated(decisions.OUTCOMES)
    suggested_labels = {**outcomes, "discuss": _("Discuss")}
    count = 0
    for session in _sessions_in_scope(db, rule_filter):
        if session.effective_state != "closed":
            continue
        decided = decisions.list_decisions(db, session.id)
        for result in ballots.results(db, session):
            rule = result["rule"]
            decision = decided.get(rule.id)
            # An anonymous session with too few voters: its counts stay out of the report too.
            counted = (
                []
                if result["withheld"]
                else [
                    *[result["counts"][k] for k in ballots.CHOICES],
                    result["total"],
                    text.yes_no(result["quorum_met"]),
                    suggested_labels[result["suggested"]],
                ]
            )
            ws.append(
                [
                    _cell(ws, session.title),
                    _cell(ws, states[session.effective_state]),
                    _cell(ws, modes[session.mode]),
                    _cell(ws, ", ".join(session.team_names)),
                    _cell(ws, rule.code),
                    _cell(ws, rule.title),
                    *[_cell(ws, value) for value in counted or [None] * (len(ballots.CHOICES) + 3)],
                    _cell(ws, outcomes[decision["outcome"]] if decision else ""),
                    _cell(ws, text.yes_no(bool(decision["applied_at"])) if decision else ""),
                ]
            )
            count += 1
    _finish_table(ws, len(labels), count)
    return count


def write_decisions(wb: Workbook, db: Database, rule_filter: RuleFilter, title: str) -> int:
    ws = wb.create_sheet(title)
    labels = [
        _("Session"),
        _("Code"),
        _("Rule"),
        _("Decision"),
        _("Rationale"),
        _("New title"),
        _("New text"),
        _("New minutes per week"),
        _("Decided by"),
        _("Decided at"),
        _("Applied by"),
        _("Applied at"),
    ]
    _setup_table(ws, [30, 11, 36, 12, 50, 30, 40, 12, 18, 18, 18, 18])
    _header(ws, labels)
    outcomes = translated(decisions.OUTCOMES)
    in_scope = {session.id for session in _sessions_in_scope(db, rule_filter)}
    count = 0
    stamp = "yyyy-mm-dd hh:mm"
    for d in decisions.all_decisions(db):
        if d["session_id"] not in in_scope:
            continue
        ws.append(
            [
                _cell(ws, d["session_title"]),
                _cell(ws, d["code"]),
                _cell(ws, d["rule_title"]),
                _cell(ws, outcomes[d["outcome"]]),
                _cell(ws, d["rationale"]),
                _cell(ws, d["new_title"] or ""),
                _cell(ws, d["new_description"] or ""),
                _cell(ws, d["new_minutes_per_week"]),
                _cell(ws, d["decided_by_name"]),
                _cell(ws, _time(d["decided_at"]), number_format=stamp),
                _cell(ws, d["applied_by_name"] or ""),
                _cell(ws, _time(d["applied_at"]), number_format=stamp),
            ]
        )
        count += 1
    _finish_table(ws, len(labels), count)
    return count


def write_history(
    wb: Workbook,
    db: Database,
    rule_filter: RuleFilter,
    title: str,
    progress: Progress | None = None,
) -> int:
    """The event log (votes left out: the Sessions sheet counts them) in the filter's scope."""
    ws = wb.create_sheet(title)
    labels = [_("When (UTC)"), _("Who"), _("What"), _("Id"), _("Action"), _("Changes"), _("Note")]
    lookup = HistoryLookup(db)
    entities, actions = translated(ENTITY_LABELS), translated(ACTION_LABELS)
    _setup_table(ws, [18, 16, 14, 8, 12, 80, 30])
    _header(ws, labels)
    scoped_rules = set(_rule_ids(db, rule_filter)) if rule_filter.is_filtered() else None
    if scoped_rules is not None:
        archived = RuleFilter(**{**vars(rule_filter), "archived": True})
        scoped_rules |= set(_rule_ids(db, archived))
    count = 0
    for event in events.iterate(db, exclude_actions=("ballot",)):
        if scoped_rules is not None and not (
            event["entity"] == "rule" and event["entity_id"] in scoped_rules
        ):
            continue
        ws.append(
            [
                _cell(ws, _time(event["at"]), number_format="yyyy-mm-dd hh:mm:ss"),
                _cell(ws, event["actor_name"]),
                _cell(ws, entities.get(event["entity"], event["entity"])),
                _cell(ws, event["entity_id"]),
                _cell(ws, actions.get(event["action"], event["action"])),
                _cell(ws, lookup.describe(event["changes"])),
                _cell(ws, event["note"] or ""),
            ]
        )
        count += 1
        if progress and count % CHUNK == 0:
            progress(0)
    _finish_table(ws, len(labels), count)
    return count


# --- the whole report -----------------------------------------------------------------------


def export_report(
    db: Database,
    out: str | IO[bytes],
    *,
    lang: str = "en",
    rule_filter: RuleFilter | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the workbook to a path or binary file; return the headline figures it holds."""
    if lang not in LANGUAGES:
        raise ValueError(lang)
    rule_filter = rule_filter or RuleFilter()
    with force_locale(lang):
        names = sheet_names(lang)
        wb = Workbook(write_only=True)
        head = write_summary(wb, db, rule_filter, names["summary"])
        write_register(wb, db, rule_filter, names["register"], lang, progress)
        write_sessions(wb, db, rule_filter, names["sessions"])
        write_decisions(wb, db, rule_filter, names["decisions"])
        write_history(wb, db, rule_filter, names["history"], progress)
        wb.save(out)
    return head


def safe_filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "report"
