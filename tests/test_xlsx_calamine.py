"""python-calamine reads plain uploads; openpyxl reads every workbook calamine cannot tell
apart (formulas, error cells, escaped text, cells without a place, far or huge sheets), and
what the importer gets is the same either way (audit/xlsx/worker.py, ``Scan.plain``)."""

from __future__ import annotations

import importlib.util
import zipfile
from datetime import date, datetime
from datetime import time as time_of_day
from pathlib import Path

import openpyxl
import pytest
from flask_babel import force_locale
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from audit.xlsx import importer as xlsx_import
from audit.xlsx.reader import Limits, open_workbook
from tests import hostile_files as hostile

LIMITS = {"max_unpacked": 200 << 20, "max_ratio": 100, "max_cells": 2_000_000, "max_columns": 200}


@pytest.fixture
def read_plan_nl(app, db):
    def run(path: Path):
        with app.test_request_context(), force_locale("nl"):
            return xlsx_import.read_plan(db, path, filename=path.name)

    return run


def _worker():
    spec = importlib.util.spec_from_file_location(
        "xlsx_worker", Path(xlsx_import.__file__).with_name("worker.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = _worker()


def plain(path: Path, **limits: int) -> bool:
    with open(path, "rb") as file:
        scan = worker.Scan(file, {**LIMITS, **limits})
        scan.check()
        return scan.plain


def _typed(rows: list) -> list:
    return [tuple((type(v).__name__, v) for v in row) for row in rows]


@pytest.mark.parametrize("epoch", ["1900", "1904"])
def test_a_plain_workbook_is_read_by_calamine_as_openpyxl_reads_it(tmp_path, epoch):
    """Dates in either date system, times, numbers typed as text, true/false, number formats
    that are no dates: the same values, of the same types, as openpyxl reads."""
    path = tmp_path / "values.xlsx"
    wb = openpyxl.Workbook()
    if epoch == "1904":
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.append(["tekst", "  spaties  ", "regel 1\nregel 2", "€ ü ✓ 😀", "", "007", "1,5"])
    ws.append([0, -7, 3.25, 1e-9, 12345678901234, True, False])
    ws.append([date(2019, 3, 12), datetime(2024, 2, 29, 13, 45, 30), date(2024, 2, 29)])
    ws.append([date(1900, 1, 1), date(1900, 3, 1), date(9999, 12, 31), date(1904, 1, 2)])
    formats = ["d-mmm-yy", 'yyyy"-"mm', "[$-413]d mmmm yyyy", '"Week "0', "0.00%", "[Red]0", "@"]
    for column, number_format in enumerate(formats, 1):
        cell = ws.cell(row=5, column=column, value=45000.5)
        cell.number_format = number_format
    ws.cell(row=6, column=2, value=CellRichText([TextBlock(InlineFont(b=True), "vet"), " en niet"]))
    ws.cell(row=8, column=30, value="ver weg")
    # A time of day comes last: calamine hands the rest of the sheet to openpyxl there.
    ws.cell(row=9, column=2, value=time_of_day(8, 30))
    wb.save(path)
    assert plain(path)

    expected = [
        tuple(row) for row in openpyxl.load_workbook(path).active.iter_rows(values_only=True)
    ]
    with open_workbook(path) as book:
        got = list(book["Sheet"].iter_rows(values_only=True))
    width = max(len(row) for row in expected)
    got = [tuple(row) + (None,) * (width - len(row)) for row in got]
    # openpyxl reads the empty text as None; no importer tells the two apart.
    expected[0] = tuple(None if v == "" else v for v in expected[0])
    assert _typed(got) == _typed(expected)


def _raw(path: Path, cells: str, *, strings: str = "", row: int = 2) -> Path:
    rows = [hostile.header_row(), f'<row r="{row}">{cells}</row>']
    return hostile.raw_workbook(path, hostile.sheet(rows), strings=[strings.encode()])


@pytest.mark.parametrize(
    "cells, strings",
    [
        ('<c r="A2"><f>1+1</f><v>2</v></c>', ""),
        ('<c r="A2"><x:f xmlns:x="urn:x">1+1</x:f><v>2</v></c>', ""),
        ('<c r="A2"><f t="shared" si="0"/><v>2</v></c>', ""),
        ('<c r="A2" t="e"><v>#DIV/0!</v></c>', ""),
        ("<c r='A2' t = 'e'><v>#N/A</v></c>", ""),
        ('<c r="A2" t="s"><v>0</v></c>', "<si><t>_x0041_</t></si>"),
        ('<c r="A2" t="inlineStr"><is><t>_x0041_</t></is></c>', ""),
        ('<c t="inlineStr"><is><t>zonder plaats</t></is></c>', ""),
        ('<c r="GS2" t="inlineStr"><is><t>te ver</t></is></c>', ""),
    ],
    ids=[
        "formula",
        "prefixed-formula",
        "shared-formula",
        "error",
        "spaced-error",
        "escaped-shared-text",
        "escaped-inline-text",
        "cell-without-place",
        "beyond-the-columns",
    ],
)
def test_what_calamine_cannot_tell_apart_goes_to_openpyxl(tmp_path, cells, strings):
    path = _raw(tmp_path / "odd.xlsx", cells, strings=strings)
    assert not plain(path)
    assert plain(_raw(tmp_path / "plain.xlsx", '<c r="A2" t="inlineStr"><is><t>x</t></is></c>'))


def test_iso_date_cells_read_as_openpyxl_reads_them(tmp_path):
    """Cells of type ``d`` (an ISO 8601 date, as LibreOffice may write) are dates in both."""
    cells = '<c r="A2" t="d"><v>2019-03-12T00:00:00</v></c><c r="B2" t="d"><v>2024-02-29</v></c>'
    path = _raw(tmp_path / "iso.xlsx", cells)
    assert plain(path)
    expected = list(openpyxl.load_workbook(path).active.iter_rows(min_row=2, values_only=True))
    # The reader hands every date out as a datetime, whichever library read it.
    expected = [tuple(datetime(v.year, v.month, v.day) for v in row) for row in expected]
    with open_workbook(path) as book:
        got = list(book["Rules"].iter_rows(min_row=2, values_only=True))
    assert _typed(got) == _typed(expected)


def test_a_sheet_too_large_for_one_rectangle_goes_to_openpyxl(tmp_path):
    """calamine holds a sheet as the rectangle from A1 to its last cell: two cells far apart
    would cost gigabytes there, and cost nothing to openpyxl's rows."""
    cell = '<c r="B900000" t="inlineStr"><is><t>x</t></is></c>'
    far = _raw(tmp_path / "far.xlsx", cell, row=900_000)
    assert not plain(far)
    with open_workbook(far) as book:
        rows = list(book["Rules"].iter_rows(min_row=899_999, values_only=True))
    assert rows == [(), (None, "x")]


def test_a_formula_cut_by_a_chunk_seam_is_found(tmp_path):
    """The scan reads 64 KB at a time; a formula whose tag is cut in two is still seen."""
    pad = '<c r="A2" t="inlineStr"><is><t>' + "x" * 70_000 + "</t></is></c>"
    head = b"".join(hostile.sheet([hostile.header_row()]))[: -len(b"</sheetData></worksheet>")]
    for shift in range(-3, 4):
        prefix = head + f'<row r="2">{pad}'.encode()
        filler = worker.CHUNK * 2 - len(prefix) + shift
        body = prefix[: -len("</t></is></c>")] + b"y" * filler + b"</t></is></c>"
        body += b'<c r="B2"><f>1+1</f><v>2</v></c></row></sheetData></worksheet>'
        path = tmp_path / f"seam{shift}.xlsx"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(
                "[Content_Types].xml", hostile.CONTENT_TYPES.format(main=hostile.WORKBOOK_TYPE)
            )
            archive.writestr("_rels/.rels", hostile.ROOT_RELS)
            archive.writestr("xl/workbook.xml", hostile.WORKBOOK)
            archive.writestr("xl/_rels/workbook.xml.rels", hostile.WORKBOOK_RELS)
            archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{hostile.MAIN}"/>')
            archive.writestr("xl/worksheets/sheet1.xml", body)
        assert not plain(path), shift


def test_formulas_and_errors_are_still_refused_in_a_register(read_plan_nl, tmp_path):
    """The importer still names the formula and the error value on their rows, in a
    register whose other rows are plain."""
    rows = [hostile.header_row(), *(hostile.rule_row(n) for n in range(2, 50))]
    rows.append('<row r="50"><c r="A50"><f>"Regel"&amp;50</f><v>Regel50</v></c></row>')
    rows.append('<row r="51"><c r="A51" t="e"><v>#REF!</v></c></row>')
    path = hostile.raw_workbook(tmp_path / "mixed.xlsx", hostile.sheet(rows))
    plan = read_plan_nl(path)
    invalid = [row for row in plan.rows if row.action == "invalid"]
    assert len(invalid) == 2
    messages = [" ".join(str(m) for _, m in row.errors) for row in invalid]
    assert "Regel" in messages[0] and "#REF!" in messages[1]


def test_a_number_cell_holding_no_number_hands_the_rest_to_openpyxl(tmp_path):
    """calamine reads NaN as a number; from that row on openpyxl reads the sheet, which
    makes it an error cell holding its text, as in a workbook read by openpyxl alone."""
    rows = [hostile.header_row(), *(hostile.rule_row(n) for n in range(2, 700))]
    rows.append('<row r="700"><c r="A700"><v>NaN</v></c></row>')
    rows.append(hostile.rule_row(701))
    path = hostile.raw_workbook(tmp_path / "nan.xlsx", hostile.sheet(rows))
    assert plain(path)
    with open_workbook(path, Limits()) as book:
        got = list(book["Rules"].iter_rows())
    assert len(got) == 701
    assert [c.value for c in got[1]] == ["Regel 2", "H-2"]
    assert (got[699][0].data_type, got[699][0].value) == ("e", "NaN")
    assert [c.value for c in got[700]] == ["Regel 701", "H-701"]
