"""In a workbook python-calamine reads, each worksheet is inflated and searched when it is asked
for, just before anything parses it; a sheet never read is never inflated (audit/xlsx/worker.py,
``Scan.sheet``). Whatever reads a sheet, it has been checked first."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from flask_babel import force_locale

from audit.xlsx import importer as xlsx_import
from audit.xlsx.reader import ImportFileError
from tests import hostile_files as hostile
from tests.test_xlsx_calamine import LIMITS, worker

SECOND = "xl/worksheets/sheet2.xml"
BOMB = b"<worksheet>" + b" " * (40 << 20) + b"</worksheet>"  # 40 MB from about 40 KB
FORMULA = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1"><f>1+1</f><v>2</v></c></row></sheetData></worksheet>'
)


def two_sheets(path: Path, first: list[list], second: bytes) -> Path:
    """A workbook whose first sheet holds ``first`` and whose second sheet's part is
    ``second`` as it stands."""
    wb = openpyxl.Workbook()
    wb.active.title = "Regels"
    for row in first:
        wb.active.append(row)
    wb.create_sheet("Geschiedenis").append(["x"])
    plain = path.with_suffix(".plain.xlsx")
    wb.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info, second if info.filename == SECOND else source.read(info))
    return path


def test_a_sheet_not_read_is_not_inflated(tmp_path):
    path = two_sheets(tmp_path / "two.xlsx", [["Titel", "Code"], ["Geen taart", "A-1"]], FORMULA)
    with open(path, "rb") as file:
        scan = worker.Scan(file, LIMITS)
        scan.check(defer_sheets=True)
        book = worker.open_book(file, LIMITS, scan)
        assert isinstance(book, worker.FastBook)
        batch = book.read("Regels", 1, None).batch()
        assert [row[0] for row in batch["rows"]] == [1, 2] and not batch["more"]
        assert SECOND in scan.waiting  # the formula sheet was never opened
        assert scan.sheet("Regels") is True
        assert scan.sheet("Geschiedenis") is False  # asked for: inflated, and not for calamine
        assert SECOND not in scan.waiting


def test_every_sheet_is_checked_when_not_deferred(tmp_path):
    path = two_sheets(tmp_path / "two.xlsx", [["Titel", "Code"]], FORMULA)
    with open(path, "rb") as file:
        scan = worker.Scan(file, LIMITS)
        scan.check()
        assert not scan.waiting and scan.plain is False


@pytest.fixture
def read_plan(app, db):
    def run(path: Path):
        with app.test_request_context(), force_locale("en"):
            return xlsx_import.read_plan(db, path, filename=path.name, max_bytes=50 << 20)

    return run


def test_a_bomb_in_the_sheet_that_is_read_is_refused(read_plan, tmp_path):
    """The first sheet has no header, so the importer reads the second: a bomb."""
    path = two_sheets(tmp_path / "bomb.xlsx", [["Samenvatting"]], BOMB)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ImportFileError, match="unpacks to far more"):
        read_plan(path)


def test_a_sheet_read_is_found_without_the_bomb_next_to_it(read_plan, tmp_path):
    """A sheet nobody reads is never inflated, so a workbook with a rule sheet and a broken
    sheet beside it imports its rules."""
    path = two_sheets(tmp_path / "side.xlsx", [["Titel", "Code"], ["Geen taart", "A-1"]], BOMB)
    plan = read_plan(path)
    assert [row.title for row in plan.rows] == ["Geen taart"]


def test_before_openpyxl_takes_over_every_sheet_is_checked(read_plan, tmp_path):
    """A number cell holding no number hands the sheet to openpyxl, which reads the start of
    every sheet as it opens the workbook: the bomb beside it is found first."""
    rows = [hostile.header_row(), *(hostile.rule_row(n) for n in range(2, 20))]
    rows.append('<row r="20"><c r="A20"><v>NaN</v></c></row>')
    first = b"".join(hostile.sheet(rows))
    path = hostile.raw_workbook(tmp_path / "nan.xlsx", [first])
    # The same workbook with a second sheet: its part, its relationship, its name.
    with_bomb = tmp_path / "nan-bomb.xlsx"
    with (
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(with_bomb, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = data.replace(
                    b"</sheets>", b'<sheet name="Bom" sheetId="2" r:id="rId9"/></sheets>'
                )
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/>'
                    b"</Relationships>",
                )
            out.writestr(info, data)
        out.writestr(SECOND, BOMB)
    assert read_plan(path).rows  # without the bomb it reads, through openpyxl from row 20
    with pytest.raises(ImportFileError, match="unpacks to far more"):
        read_plan(with_bomb)


def test_a_sheet_kept_outside_the_worksheets_folder_goes_to_openpyxl(read_plan, tmp_path):
    """A sheet part elsewhere in the package (a relationship may point anywhere) was searched
    as any other part, not for formulas: calamine would have read a formula's cached value as
    typed. Such a sheet is read by openpyxl, which refuses the formula."""
    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Regels"
    wb.active.append(["Titel", "Code"])
    wb.active.append(["Geen taart", "A-1"])
    wb.active["B2"] = "=1+1"
    wb.save(plain)
    moved = tmp_path / "moved.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(moved, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            name = info.filename
            if name == "xl/worksheets/sheet1.xml":
                name = "xl/data/regels.xml"
            if name in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                data = data.replace(b"worksheets/sheet1.xml", b"data/regels.xml")
            out.writestr(name, data)
    plan = read_plan(moved)
    problems = [message for row in plan.rows for _, message in row.errors]
    assert any("formula" in str(m) for m in problems), problems
