"""The Excel audit report: Summary, Register, Sessions, Decisions and History.

Written with xlsxwriter in its ``constant_memory`` mode: every row goes to disk as soon as the
next one starts, and rules are read in chunks through the domain functions, so memory stays flat
however large the register. Text that users typed never becomes a formula: every such cell is
written with ``write_string``, whatever it starts with.

Every sheet is set up for print: A4, one page wide, the
header row repeated, a header with the organisation, the filter in words and the date, and a
footer "page x of y". The Summary lays its tables and charts out on a grid of rows computed from
the tables' sizes, so nothing overlaps however many origins or categories there are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from typing import IO, Any

import xlsxwriter
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlite_utils import Database
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from audit.core import clock
from audit.domain import (
    actions,
    ballots,
    council,
    decisions,
    events,
    experiments,
    fields,
    figures,
    organisation,
    origins,
    register,
    rule_reports,
    rules,
    sessions,
    vocabulary,
)
from audit.domain.history import ACTION_LABELS, ENTITY_LABELS, HistoryLookup, translated
from audit.domain.register import RuleFilter
from audit.xlsx.columns import REPORTED, SUSPENDED, headers

CHUNK = 500
SELF_INVENTED_FILL = "#FFF1E8"
HEADER_FILL = "#DDE7E1"
LANGUAGES = ("en", "nl")
MAX_TEXT = 32_767  # the most characters a cell holds in Excel
MAX_HEADER = 255  # the most characters of a page header, its codes included
A4 = 9  # xlsxwriter's paper code
# Dates as the report's language writes them; numbers follow the reader's own separators.
DATE_FORMATS = {"en": "yyyy-mm-dd", "nl": "d-m-yyyy"}
MOMENT_FORMATS = {"en": "yyyy-mm-dd hh:mm", "nl": "d-m-yyyy hh:mm"}
EVENT_FORMATS = {"en": "yyyy-mm-dd hh:mm:ss", "nl": "d-m-yyyy hh:mm:ss"}
# Summary grid: xlsxwriter's default row is 20 pixels high; a column of width w is 7w+5 wide.
ROW_PX = 20
SUMMARY_WIDTHS = (44, 34, 14, 14, 14)
REPORTED_WIDTH = 14
SUSPENDED_WIDTH = 30


def _suspension(experiment: dict[str, Any]) -> str:
    """ "Vlinder, Zon until 27 Apr 2026", or that it ended and waits for a decision."""
    if experiment["effective_state"] == "ended":
        return text(_("experiment ended: decide"))
    return text(
        _(
            "suspended for %(teams)s until %(day)s",
            teams=experiment["team_names"],
            day=format_date(date.fromisoformat(experiment["ends_on"])),
        )
    )


Progress = Callable[[int], None]
# Characters XML 1.0 (and so Excel) cannot hold: tab, newline and carriage return are allowed.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_names(lang: str) -> dict[str, str]:
    with force_locale(lang):
        return {
            "summary": _("Summary"),
            "register": _("Register"),
            "sessions": _("Sessions"),
            "decisions": _("Decisions"),
            "concerns": _("Concerns"),
            "history": _("History"),
            "flow": _("Rules in and out"),
            "actions": _("Actions"),
        }


def sheet_title(name: str, taken: set[str] | None = None) -> str:
    """A name Excel accepts as a sheet title: none of []:*?/\\, no apostrophe at either end, at
    most 31 characters, not empty, and unique (case-insensitive) among ``taken``."""
    title = _SHEET_FORBIDDEN.sub("_", _ILLEGAL.sub("", name)).strip().strip("'")[:31].strip()
    title = title or "Sheet"
    used = {t.lower() for t in taken or ()}
    base, n = title, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    return title


# --- cells ----------------------------------------------------------------------------------


def text(value: str) -> str:
    """User text as a cell can hold it: characters Excel cannot store become a visible
    replacement mark, and text beyond a cell's 32,767 characters is cut with a marker that says
    how much was left out, never silently."""
    if _ILLEGAL.search(value):
        value = _ILLEGAL.sub("\ufffd", value)
    if len(value) > MAX_TEXT:
        marker = " " + _("[cut off: %(count)s more characters]", count="{count}")
        keep = MAX_TEXT - len(marker) - 10
        value = value[:keep] + marker.format(count=len(value) - keep)
    return value


class Sheet:
    """One worksheet written row after row, as constant_memory requires."""

    def __init__(self, wb: Workbook, title: str, report: Report) -> None:
        self.ws: Worksheet = wb.add_worksheet(title)
        self.report = report
        self.next_row = 0

    def row(self, values: list[Any], fmt: Any = None) -> int:
        """Write a row of values, each by its type; return its index."""
        r = self.next_row
        ws = self.ws
        dates = self.report.formats
        for c, value in enumerate(values):
            if value is None or value == "":
                if fmt is not None:
                    ws.write_blank(r, c, None, fmt)
            elif isinstance(value, str):
                ws.write_string(r, c, text(value), fmt)
            elif isinstance(value, bool):
                ws.write_boolean(r, c, value, fmt)
            elif isinstance(value, int | float):
                ws.write_number(r, c, value, fmt)
            elif isinstance(value, datetime):
                ws.write_datetime(r, c, value, fmt or dates["moment"])
            elif isinstance(value, date):
                ws.write_datetime(r, c, value, fmt or dates["date"])
            else:
                ws.write_string(r, c, text(str(value)), fmt)
        self.next_row = r + 1
        return r

    def cell(self, c: int, value: Any, fmt: Any) -> None:
        """A formatted value in the current row (before ``row`` writes the rest)."""
        if value is None:
            self.ws.write_blank(self.next_row, c, None, fmt)
        elif isinstance(value, str):
            self.ws.write_string(self.next_row, c, text(value), fmt)
        elif isinstance(value, date):
            self.ws.write_datetime(self.next_row, c, value, fmt)
        else:
            self.ws.write_number(self.next_row, c, value, fmt)

    def skip(self) -> None:
        self.next_row += 1

    def table(self, labels: list[str], widths: list[int]) -> None:
        """A table sheet: column widths, the header row, frozen and repeated on every page."""
        for index, width in enumerate(widths):
            self.ws.set_column(index, index, width)
        self.row(labels, self.report.formats["header"])
        self.ws.freeze_panes(1, 0)
        self.ws.repeat_rows(0)
        self.report.print_setup(self.ws, landscape=True)

    def finish(self, columns: int) -> int:
        """The filter buttons over the table; the number of data rows."""
        rows = self.next_row - 1
        self.ws.autofilter(0, 0, max(rows, 1), columns - 1)
        return rows


def _time(value: str | None) -> datetime | None:
    """Event and decision times as Excel date-times (naive UTC: Excel has no time zones)."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=None)


def _header_text(text_value: str) -> str:
    # "&" starts a code in a page header; typed text shows it as itself.
    return _ILLEGAL.sub("", text_value).replace("&", "&&")


class Report:
    """The workbook being written: its formats and its page header and footer."""

    def __init__(self, wb: Workbook, lang: str, organisation_name: str, filter_words: str) -> None:
        self.wb = wb
        self.lang = lang
        add = wb.add_format
        self.formats = {
            "header": add(
                {"bold": True, "bg_color": HEADER_FILL, "text_wrap": True, "valign": "top"}
            ),
            "title": add({"bold": True, "font_size": 14}),
            "date": add({"num_format": DATE_FORMATS[lang]}),
            "moment": add({"num_format": MOMENT_FORMATS[lang]}),
            "event": add({"num_format": EVENT_FORMATS[lang]}),
            "percent": add({"num_format": "0%"}),
            "decimal": add({"num_format": "0.0"}),
            "self_invented": add({"bg_color": SELF_INVENTED_FILL}),
            "wrap": add({"text_wrap": True, "valign": "top"}),
        }
        today = clock.today()
        shown_date = (
            f"{today.day}-{today.month}-{today.year}" if lang == "nl" else today.isoformat()
        )
        left = "&L" + _header_text(organisation_name)[:80]
        right = "&R" + _header_text(shown_date)
        room = MAX_HEADER - len(left) - len(right) - len("&C")
        centre = _header_text(filter_words or _("All rules"))
        if len(centre) > room:
            centre = centre[: room - 1].rstrip("&") + "…"
        self.header = left + "&C" + centre + right
        page = _("Page %(page)s of %(pages)s", page="\0P", pages="\0N")
        self.footer = "&L&A&R" + page.replace("&", "&&").replace("\0", "&")

    def print_setup(self, ws: Worksheet, *, landscape: bool, pages_high: int = 0) -> None:
        ws.set_paper(A4)
        if landscape:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.fit_to_pages(1, pages_high)
        ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.75)
        ws.set_header(self.header, {"margin": 0.3})
        ws.set_footer(self.footer, {"margin": 0.3})


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
    report: Report,
    db: Database,
    rule_filter: RuleFilter,
    title: str,
    lang: str,
    progress: Progress | None = None,
) -> int:
    sheet = Sheet(report.wb, title, report)
    columns = fields.rule_spec().columns
    # After the field table's columns, the derived one (skipped on import): colleagues' reports.
    reported_column = len(columns)
    suspended_column = reported_column + 1
    sheet.table(
        [*headers(lang), str(REPORTED), str(SUSPENDED)],
        [*(f.width for f in columns), REPORTED_WIDTH, SUSPENDED_WIDTH],
    )
    labels = Labels.current()
    reader = labels.register_reader(lang)
    ids = _rule_ids(db, rule_filter)
    ws = sheet.ws
    # The hot loop: one typed write per cell, without Sheet.row's per-value dispatch on None.
    write_string, write_number, write_datetime = ws.write_string, ws.write_number, ws.write_datetime
    date_format = report.formats["date"]
    illegal = _ILLEGAL.search
    r = 1
    for chunk in _rules_in_chunks(db, ids):
        reported = rule_reports.counts_for(db, [rule.id for rule in chunk])
        suspended = experiments.open_for_rules(db, [rule.id for rule in chunk])
        for rule in chunk:
            for c, value in enumerate(reader(rule)):
                if value is None or value == "":
                    continue
                kind = type(value)
                if kind is str:
                    if len(value) > MAX_TEXT or illegal(value):
                        value = text(value)
                    write_string(r, c, value)
                elif kind is int or kind is float:
                    write_number(r, c, value)
                elif kind is date or kind is datetime:
                    write_datetime(r, c, value, date_format)
                elif kind is bool:
                    ws.write_boolean(r, c, value)
                else:
                    write_string(r, c, text(str(value)))
            if rule.id in reported:
                write_number(r, reported_column, reported[rule.id].count)
            if rule.id in suspended:
                write_string(r, suspended_column, _suspension(suspended[rule.id]))
            r += 1
        if progress:
            progress(len(chunk))
    sheet.next_row = r
    sheet.finish(len(columns) + 2)
    # Self-invented rows get a fill: one rule for the sheet, not a style on 200,000 cells.
    flag = xlsxwriter.utility.xl_col_to_name(reader.keys.index("self_invented"))
    ws.conditional_format(
        1,
        0,
        max(len(ids), 1),
        len(columns),
        {
            "type": "formula",
            "criteria": f'=${flag}2="{labels.yes}"',
            "format": report.formats["self_invented"],
        },
    )
    return len(ids)


def _rule_ids(db: Database, rule_filter: RuleFilter) -> list[int]:
    return register.rule_ids(db, rule_filter)


# --- summary --------------------------------------------------------------------------------


def _column_px(width: float) -> int:
    return int(width * 7 + 5)


# The Summary's five columns (and so its charts) in pixels; A4 portrait inside the margins of
# print_setup, in pixels at 96 dpi; and the scale at which the columns fit the page's width.
SUMMARY_PX = sum(_column_px(w) for w in SUMMARY_WIDTHS)
A4_PRINTABLE_PX = (697, 979)
SUMMARY_SCALE = min(1.0, A4_PRINTABLE_PX[0] / SUMMARY_PX)


def _fits_a_page(rows: int) -> bool:
    """Whether ``rows`` Summary rows print on one A4 page at the width's scale (with a tenth to
    spare for what a printer adds)."""
    return rows * ROW_PX * SUMMARY_SCALE <= 0.9 * A4_PRINTABLE_PX[1]


def _chart_rows(bars: int, series: int) -> int:
    """Rows a bar chart needs to show every bar readably: a title, an axis and a legend, then
    about 18 pixels per bar; never smaller than a readable 14 rows."""
    pixels = 110 + 18 * max(bars, 1) * series
    return max(14, math.ceil(pixels / ROW_PX))


def write_summary(
    report: Report,
    db: Database,
    rule_filter: RuleFilter,
    title: str,
    organisation_name: str,
    filter_words: str,
) -> dict:
    """The Summary: three tables, one under the other in columns A to E, then the two charts
    under them, each as wide as the tables and as high as its number of bars needs, then the
    rules adapted per strategy. Every block has its own rows, computed from the tables' sizes,
    so nothing overlaps."""
    sheet = Sheet(report.wb, title, report)
    ws, f = sheet.ws, report.formats
    for column, width in enumerate(SUMMARY_WIDTHS):
        ws.set_column(column, column, width)
    # At most two pages; below, two clean pages where the tables and charts allow them.
    report.print_setup(ws, landscape=False, pages_high=2)
    scope = figures.Scope(
        team=rule_filter.team, location=rule_filter.location, category=rule_filter.category
    )
    head = figures.headline(db, scope)
    reported = figures.reports(db, scope)

    sheet.cell(0, _("Audit report"), f["title"])
    sheet.skip()
    sheet.row([_("Organisation"), organisation_name])
    sheet.cell(1, clock.now().date(), f["date"])
    sheet.row([_("Date")])
    sheet.row([_("Filter"), filter_words])
    sheet.skip()

    rows = [
        (_("Rules in force"), head["total"], None),
        (_("Traced"), head["traced"], None),
        (_("Coverage (traced share)"), head["coverage"], "percent"),
        (_("Self-invented"), head["self_invented"], None),
        (_("Self-invented share of traced rules"), head["self_invented_share"], "percent"),
        (_("Myths"), head["myths"], None),
        (
            _("Minutes per week on self-invented rules"),
            head["minutes_per_week_self_invented"],
            None,
        ),
        (
            _("Hours per week on self-invented rules"),
            head["hours_per_week_self_invented"],
            "decimal",
        ),
        (_("Hours per week given back"), head["hours_per_week_given_back"], "decimal"),
        (_("Rules reported by colleagues"), reported["rules_reported"], None),
        (_("Reports by colleagues behind them"), reported["reports_counted"], None),
        (_("Reports waiting to be triaged"), reported["waiting"], None),
    ]
    if head["reference_share"] is not None:  # no reference set: none in the report either
        rows[5:5] = [
            (_("Reference share"), head["reference_share"], "percent"),
            (_("Source of the reference"), head["reference_label"] or _("source not given"), None),
        ]
    sheet.row([_("Figure"), _("Value")], f["header"])
    for label, value, number_format in rows:
        if value is None:
            sheet.row([label, _("not yet known")])
        else:
            if number_format:
                sheet.cell(1, value, f[number_format])
                sheet.row([label])
            else:
                sheet.row([label, value])
    sheet.skip()

    # Origin distribution: believed and found.
    origin_header = sheet.row([_("Origin"), _("Perceived"), _("Verified")], f["header"])
    distribution = figures.origin_distribution(db, scope)
    for row in distribution:
        label = origins.label(row["key"]) if row["key"] else _("(not set)")
        sheet.row([label, row["perceived"], row["verified"]])
    origin_end = sheet.next_row - 1
    sheet.skip()

    # Self-invented share per category.
    category_header = sheet.row(
        [_("Category"), _("Rules"), _("Traced"), _("Self-invented"), _("Share")], f["header"]
    )
    shares = figures.share_by_category(db, scope)
    for row in shares:
        share = row["self_invented_share"]
        if share is not None:
            sheet.cell(4, share, f["percent"])
        sheet.row(
            [
                row["name"] or _("(no category)"),
                row["total"],
                row["traced"],
                row["self_invented"],
                *([] if share is not None else [_("not yet known")]),
            ]
        )
    category_end = sheet.next_row - 1

    # The charts: under the tables, a blank row apart, as wide as the five table columns.
    width = SUMMARY_PX
    row = category_end + 2
    if distribution:
        chart = report.wb.add_chart({"type": "bar"})
        for column in (1, 2):
            chart.add_series(
                {
                    "name": [title, origin_header, column],
                    "categories": [title, origin_header + 1, 0, origin_end, 0],
                    "values": [title, origin_header + 1, column, origin_end, column],
                }
            )
        chart.set_title({"name": _("Where rules come from: believed and found")})
        chart.set_y_axis({"name": _("Rules")})
        chart.set_legend({"position": "bottom"})
        height = _chart_rows(len(distribution), 2)
        chart.set_size({"width": width, "height": height * ROW_PX})
        ws.insert_chart(row, 0, chart, {"object_position": 3})
        row += height + 1
    if shares:
        chart = report.wb.add_chart({"type": "bar"})
        chart.add_series(
            {
                "name": [title, category_header, 4],
                "categories": [title, category_header + 1, 0, category_end, 0],
                "values": [title, category_header + 1, 4, category_end, 4],
            }
        )
        chart.set_title({"name": _("Self-invented share per category")})
        chart.set_y_axis({"num_format": "0%"})
        chart.set_legend({"none": True})
        height = _chart_rows(len(shares), 1)
        chart.set_size({"width": width, "height": height * ROW_PX})
        ws.insert_chart(row, 0, chart, {"object_position": 3})
        row += height + 1
    # Rules adapted per adapt strategy (docs/design.md, "Adapt strategies"): a short table
    # under the charts, on their page, so the tables above still fit the first one.
    sheet.next_row = row
    sheet.row([_("Adapt strategy"), _("Rules adapted")], f["header"])
    for adapted in figures.adapted_by_strategy(db, scope):
        sheet.row([adapted["name"], adapted["rules"]])
    charts_start = category_end + 2
    if _fits_a_page(charts_start) and _fits_a_page(sheet.next_row - charts_start):
        # Two clean pages, the tables and then the charts, rather than a page that cuts a
        # chart in two. ("Fit to two pages" ignores page breaks, so this fits the width only
        # and breaks before the charts; where they would not fit, fit to two pages stays.)
        ws.fit_to_pages(1, 0)
        ws.set_h_pagebreaks([charts_start])
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


def write_sessions(report: Report, db: Database, rule_filter: RuleFilter, title: str) -> int:
    sheet = Sheet(report.wb, title, report)
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
    sheet.table(labels, [30, 10, 14, 18, 11, 40, 9, 9, 9, 9, 9, 12, 16, 14, 11])
    text_labels = Labels.current()
    states, modes = translated(sessions.STATES), translated(sessions.MODES)
    outcomes = translated(decisions.OUTCOMES)
    suggested_labels = {**outcomes, "discuss": _("Discuss")}
    for session in _sessions_in_scope(db, rule_filter):
        if session.effective_state != "closed":
            continue
        decided = decisions.list_decisions(db, session.id)
        for result in ballots.results(db, session):
            rule = result["rule"]
            decision = decided.get(rule.id)
            # An anonymous session with too few voters: its counts stay out of the report too.
            counted = (
                [None] * (len(ballots.CHOICES) + 3)
                if result["withheld"]
                else [
                    *[result["counts"][k] for k in ballots.CHOICES],
                    result["total"],
                    text_labels.yes_no(result["quorum_met"]),
                    suggested_labels[result["suggested"]],
                ]
            )
            sheet.row(
                [
                    session.title,
                    states[session.effective_state],
                    modes[session.mode],
                    ", ".join(session.team_names),
                    rule.code,
                    rule.title,
                    *counted,
                    outcomes[decision["outcome"]] if decision else "",
                    text_labels.yes_no(bool(decision["applied_at"])) if decision else "",
                ]
            )
    return sheet.finish(len(labels))


def write_concerns(report: Report, db: Database, rule_filter: RuleFilter, title: str) -> int:
    """The concerns raised per rule, as the session's results page lists them: only from closed
    sessions and rules whose results are shown, by kind and text, a name only in a named
    session, and the facilitator's answer."""
    sheet = Sheet(report.wb, title, report)
    labels = [
        _("Session"),
        _("Code"),
        _("Rule"),
        _("Kind of concern"),
        _("Concern"),
        _("Raised by"),
        _("Answer"),
    ]
    sheet.table(labels, [30, 11, 36, 24, 50, 18, 50])
    kinds = translated(vocabulary.CONCERN_KINDS)
    for session in _sessions_in_scope(db, rule_filter):
        if session.effective_state != "closed":
            continue
        for result in ballots.results(db, session):
            rule = result["rule"]
            for concern in result["concerns"]:
                sheet.row(
                    [
                        session.title,
                        rule.code,
                        rule.title,
                        kinds[concern["kind"]],
                        concern["text"],
                        concern["name"] or "",
                        concern["answer"],
                    ]
                )
    return sheet.finish(len(labels))


def write_decisions(report: Report, db: Database, rule_filter: RuleFilter, title: str) -> int:
    sheet = Sheet(report.wb, title, report)
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
        # Last, so the columns before it keep their places in reports read by position.
        _("Adapt strategy"),
        # The client council's advice (docs/design.md, "Client council advice"), after it.
        _("Date of the council's advice"),
        _("Advice of the client council"),
        _("Advice followed"),
        _("Why not followed"),
    ]
    sheet.table(labels, [30, 11, 36, 12, 50, 30, 40, 12, 18, 18, 18, 18, 24, 14, 50, 10, 40])
    outcomes = translated(decisions.OUTCOMES)
    advice = council.all_advice(db)
    in_scope = {session.id for session in _sessions_in_scope(db, rule_filter)}
    for d in decisions.all_decisions(db):
        if d["session_id"] not in in_scope:
            continue
        sheet.row(
            [
                d["session_title"],
                d["code"],
                d["rule_title"],
                outcomes[d["outcome"]],
                d["rationale"],
                d["new_title"] or "",
                d["new_description"] or "",
                d["new_minutes_per_week"],
                d["decided_by_name"],
                _time(d["decided_at"]),
                d["applied_by_name"] or "",
                _time(d["applied_at"]),
                d["strategy_name"],
                *_advice_cells(advice.get(d["id"])),
            ]
        )
    return sheet.finish(len(labels))


def _advice_cells(advice: dict[str, Any] | None) -> list[Any]:
    if advice is None:
        return [None, "", "", ""]
    return [
        date.fromisoformat(advice["advised_on"]),
        advice["advice"],
        _("yes") if advice["followed"] else _("no"),
        advice["reason"],
    ]


def write_history(
    report: Report,
    db: Database,
    rule_filter: RuleFilter,
    title: str,
    progress: Progress | None = None,
) -> int:
    """The event log (votes left out: the Sessions sheet counts them) in the filter's scope."""
    sheet = Sheet(report.wb, title, report)
    labels = [_("When (UTC)"), _("Who"), _("What"), _("Id"), _("Action"), _("Changes"), _("Note")]
    lookup = HistoryLookup(db)
    entities, actions = translated(ENTITY_LABELS), translated(ACTION_LABELS)
    sheet.table(labels, [18, 16, 14, 8, 12, 80, 30])
    scoped_rules = set(_rule_ids(db, rule_filter)) if rule_filter.is_filtered() else None
    if scoped_rules is not None:
        archived = RuleFilter(**{**vars(rule_filter), "archived": True})
        scoped_rules |= set(_rule_ids(db, archived))
    count = 0
    stamp = report.formats["event"]
    for event in events.iterate(db, exclude_actions=("ballot",)):
        if scoped_rules is not None and not (
            event["entity"] == "rule" and event["entity_id"] in scoped_rules
        ):
            continue
        sheet.cell(0, _time(event["at"]), stamp)
        sheet.row(
            [
                None,
                event["actor_name"],
                entities.get(event["entity"], event["entity"]),
                event["entity_id"],
                actions.get(event["action"], event["action"]),
                lookup.describe(event["changes"]),
                event["note"] or "",
            ]
        )
        count += 1
        if progress and count % CHUNK == 0:
            progress(0)
    return sheet.finish(len(labels))


def write_actions(report: Report, db: Database, rule_filter: RuleFilter, title: str) -> int:
    """Follow-up actions of the decisions in the Decisions sheet: open first by due day, each
    with whether it is overdue today (a sheet at the end, so the sheets before keep their place)."""
    sheet = Sheet(report.wb, title, report)
    labels = [
        _("What has to be done"),
        _("Code"),
        _("Rule"),
        _("Session"),
        _("Owner"),
        _("Due"),
        _("Done on"),
        _("Done by"),
        _("Overdue"),
        _("Note"),
    ]
    sheet.table(labels, [44, 11, 34, 28, 20, 12, 12, 20, 10, 40])
    yes_no = Labels.current().yes_no
    in_scope = {session.id for session in _sessions_in_scope(db, rule_filter)}
    wrap = report.formats["wrap"]
    for action in actions.listing(db, "all", limit=None):
        if action.session_id not in in_scope:
            continue
        # The long texts wrap in their cells; everything typed is written as text.
        sheet.cell(0, action.what, wrap)
        sheet.cell(9, " ".join(t for t in (action.note, action.done_note) if t), wrap)
        sheet.row(
            [
                None,
                action.rule_code,
                action.rule_title,
                action.session_title,
                action.owner_name,
                action.due_on,
                action.done_on,
                action.done_by_name or "",
                yes_no(action.overdue),
            ]
        )
    return sheet.finish(len(labels))


# --- rules in and out ----------------------------------------------------------------------

# Month names in the report's language whatever the reader's Excel speaks: [$-413] is Dutch.
MONTH_FORMATS = {"en": "[$-809]mmmm yyyy", "nl": "[$-413]mmmm yyyy"}
# Wide enough for every heading on one line, in Dutch too ("Netto verandering", bold).
FLOW_WIDTHS = [18, 14, 14, 14, 14, 14, 14, 14, 19]
# The dashboard's colours: in green, out the hatch's rust, the net change dark.
FLOW_COLOURS = {6: "#2D6A4F", 7: "#9A3412", 8: "#1D2A33"}


def write_flow(report: Report, db: Database, rule_filter: RuleFilter, title: str) -> list:
    """Rules in and out per month (the dashboard's table, oldest month first), the answer
    for the last twelve months under it, and a column chart under that: the chart starts
    below the table's last row, so it covers nothing however many months there are."""
    sheet = Sheet(report.wb, title, report)
    labels = [
        _("Month"),
        _("Added"),
        _("Restored"),
        _("Adapted"),
        _("Dropped"),
        _("Archived"),
        _("Came in"),
        _("Went out"),
        _("Net change"),
    ]
    sheet.table(labels, FLOW_WIDTHS)
    scope = figures.Scope(
        team=rule_filter.team, location=rule_filter.location, category=rule_filter.category
    )
    data = figures.rule_flow(db, scope)
    month_format = report.wb.add_format({"num_format": MONTH_FORMATS[report.lang]})
    for m in data["months"]:
        sheet.cell(0, m.month, month_format)
        sheet.row(
            [
                None,
                m.added,
                m.restored,
                m.adapted,
                m.dropped,
                m.archived,
                m.came_in,
                m.went_out,
                m.net,
            ]
        )
    last = sheet.next_row - 1
    sheet.skip()
    sheet.row([data["verdict"]])
    sheet.skip()
    chart = report.wb.add_chart({"type": "column"})
    for column in (6, 7):
        chart.add_series(
            {
                "name": [title, 0, column],
                "categories": [title, 1, 0, last, 0],
                "values": [title, 1, column, last, column],
                "gap": 60,
                "fill": {"color": FLOW_COLOURS[column]},
            }
        )
    net = report.wb.add_chart({"type": "line"})
    net.add_series(
        {
            "name": [title, 0, 8],
            "categories": [title, 1, 0, last, 0],
            "values": [title, 1, 8, last, 8],
            "line": {"color": FLOW_COLOURS[8], "width": 2},
            "marker": {
                "type": "circle",
                "size": 5,
                "fill": {"color": FLOW_COLOURS[8]},
                "border": {"color": FLOW_COLOURS[8]},
            },
        }
    )
    chart.combine(net)
    chart.set_title({"name": _("Rules in and out")})
    chart.set_x_axis({"num_format": MONTH_FORMATS[report.lang], "label_position": "low"})
    chart.set_y_axis({"name": _("Rules")})
    chart.set_legend({"position": "bottom"})
    width = sum(_column_px(w) for w in FLOW_WIDTHS)
    chart.set_size({"width": width, "height": FLOW_CHART_ROWS * ROW_PX})
    chart_row = sheet.next_row
    sheet.ws.insert_chart(chart_row, 0, chart, {"object_position": 3})
    # The chart whole on a page of its own when it would not fit under the table (with a tenth
    # to spare, as on the Summary): a year of months and the chart share one page.
    if (chart_row + FLOW_CHART_ROWS) * ROW_PX > 0.9 * A4_LANDSCAPE_HEIGHT_PX:
        sheet.ws.set_h_pagebreaks([chart_row])
    return data["months"]


FLOW_CHART_ROWS = 13
# A4 landscape's height inside print_setup's margins (8.27 - 2 * 0.75 inches), at 96 dpi.
A4_LANDSCAPE_HEIGHT_PX = 650


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
        taken: set[str] = set()
        for key, name in names.items():
            names[key] = sheet_title(name, taken)
            taken.add(names[key])
        organisation_name = organisation.get_settings(db)["name"] or ""
        filter_words = register.filter_in_words(db, rule_filter)
        wb = Workbook(out, {"constant_memory": True, "strings_to_formulas": False})
        report = Report(wb, lang, organisation_name, filter_words)
        head = write_summary(
            report, db, rule_filter, names["summary"], organisation_name, filter_words
        )
        write_register(report, db, rule_filter, names["register"], lang, progress)
        write_sessions(report, db, rule_filter, names["sessions"])
        write_decisions(report, db, rule_filter, names["decisions"])
        write_concerns(report, db, rule_filter, names["concerns"])
        write_history(report, db, rule_filter, names["history"], progress)
        write_flow(report, db, rule_filter, names["flow"])
        write_actions(report, db, rule_filter, names["actions"])
        # Only a finished report is closed, which writes the file: a failure leaves no half one.
        wb.close()
    return head


def safe_filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "report"
