"""The report on paper: the Summary's grid (no chart over a table or another chart), the print
setup of every sheet, the report's language in dates, and bad input that must still open."""

import os
import re
import subprocess
import zipfile
from io import BytesIO

import openpyxl
import pytest
from defusedxml import ElementTree

from audit import demo
from audit.domain import categories, organisation
from audit.domain.register import RuleFilter
from audit.xlsx import export as xlsx_export
from tests.conftest import make_rule, make_team
from tests.test_xlsx_export import _soffice

XDR = "{http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing}"


def _export(app, db, **options) -> bytes:
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out, **options)
    return out.getvalue()


def _drawing(archive: zipfile.ZipFile, sheet: int) -> str | None:
    """The drawing of the sheet at ``sheet`` (zero-based), by the sheet's relationships."""
    rels = f"xl/worksheets/_rels/sheet{sheet + 1}.xml.rels"
    if rels not in archive.namelist():
        return None
    found = re.search(rb'Target="\.\./drawings/(drawing\d+\.xml)"', archive.read(rels))
    return f"xl/drawings/{found.group(1).decode()}" if found else None


# The sheets that draw: the Summary and "Rules in and out" (before "Actions"); no other.
# Sheets by place: Summary, Register, Sessions, Decisions, Concerns, History, Rules in and out,
# Actions.
HISTORY_SHEET = 5
FLOW_SHEET = 6
DRAWN = (0, FLOW_SHEET)


def _chart_boxes(data: bytes, sheet: int = 0) -> list[tuple[int, int, int, int]]:
    """Each chart of a sheet (the Summary unless told) as (first row, first column, last row,
    last column), zero-based, read from the drawing's anchors: a "to" corner at offset 0 ends
    before that row or column."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n)]
        drawn = [i for i in range(len(names) + 6) if _drawing(archive, i)]
        assert drawn == list(DRAWN), drawn  # only the Summary and the flow sheet draw
        root = ElementTree.fromstring(archive.read(_drawing(archive, sheet)))
    boxes = []
    assert not root.findall(f"{XDR}oneCellAnchor") and not root.findall(f"{XDR}absoluteAnchor")
    for anchor in root.findall(f"{XDR}twoCellAnchor"):
        corners = []
        for corner in ("from", "to"):
            node = anchor.find(f"{XDR}{corner}")
            corners.append(
                {k: int(node.find(f"{XDR}{k}").text) for k in ("col", "colOff", "row", "rowOff")}
            )
        start, end = corners
        last_row = end["row"] if end["rowOff"] else end["row"] - 1
        last_col = end["col"] if end["colOff"] else end["col"] - 1
        boxes.append((start["row"], start["col"], last_row, last_col))
    return boxes


def _table_cells(data: bytes, sheet: int = 0) -> set[tuple[int, int]]:
    ws = openpyxl.load_workbook(BytesIO(data)).worksheets[sheet]
    return {
        (cell.row - 1, cell.column - 1)
        for row in ws.iter_rows()
        for cell in row
        if cell.value is not None
    }


def _assert_nothing_overlaps(data: bytes, charts: int, sheet: int = 0) -> None:
    boxes = _chart_boxes(data, sheet)
    assert len(boxes) == charts
    cells = _table_cells(data, sheet)
    for top, left, bottom, right in boxes:
        inside = {(r, c) for r, c in cells if top <= r <= bottom and left <= c <= right}
        assert not inside, f"chart at row {top} covers cells {sorted(inside)[:5]}"
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]
            assert apart, (a, b)


@pytest.fixture
def seeded(db):
    demo.seed(db, "test")
    return db


def test_summary_charts_overlap_nothing_in_the_demo(app, seeded):
    _assert_nothing_overlaps(_export(app, seeded, lang="nl"), charts=2)
    team = organisation.list_teams(seeded)[0]["id"]
    _assert_nothing_overlaps(
        _export(app, seeded, lang="en", rule_filter=RuleFilter(team=team)), charts=2
    )


def test_the_demos_summary_prints_tables_then_charts_never_a_chart_cut_in_two(app, seeded):
    """Fit to two pages splits wherever the height runs out, through a chart if need be; where
    the tables and the charts each fit a page, a break before the charts keeps both whole."""
    data = _export(app, seeded, lang="nl")
    first_chart = min(top for top, _, _, _ in _chart_boxes(data))
    summary = openpyxl.load_workbook(BytesIO(data))["Samenvatting"]
    assert summary.page_setup.fitToHeight == 0  # the width only: a break counts
    assert [brk.id for brk in summary.row_breaks.brk] == [first_chart]


def test_summary_charts_overlap_nothing_with_many_categories(app, db, tmp_path):
    # The old layout anchored its charts at fixed cells beside tables that grow downwards.
    team = make_team(db, "Vlinder")
    for i in range(45):
        category = categories.save_category(db, None, name_nl=f"Categorie {i}", name_en=f"C {i}")
        make_rule(db, code=f"R{i}", team_ids=[team["id"]], category_id=category["id"])
    data = _export(app, db, lang="nl")
    _assert_nothing_overlaps(data, charts=2)
    boxes = _chart_boxes(data)
    # The category chart grows with its bars: at least 18 pixels (about a row) per category.
    assert max(bottom - top + 1 for top, _, bottom, _ in boxes) >= 45
    # And still at most two pages on paper (scaled to fit).
    pages = _pdf_pages(_soffice(), _summary_only(data), tmp_path / "many")
    assert 1 <= pages <= 2, pages


def test_the_flow_chart_stays_under_its_table_however_many_months(app, db, tmp_path):
    """The demo's year, and forty months of history: the chart starts below the table's last
    row and the sentence under it, and on paper it is not cut in two."""
    from datetime import UTC, datetime

    from audit.core import clock

    clock.set(datetime(2023, 1, 15, tzinfo=UTC))
    make_rule(db, code="OLD")
    clock.set(datetime(2026, 5, 15, tzinfo=UTC))
    make_rule(db, code="NEW")
    data = _export(app, db, lang="nl")
    _assert_nothing_overlaps(data, charts=1, sheet=FLOW_SHEET)
    ws = openpyxl.load_workbook(BytesIO(data)).worksheets[FLOW_SHEET]
    assert ws.max_row == 1 + 41 + 2  # header, 41 months, a blank row and the answer
    (top, _, _, _) = _chart_boxes(data, FLOW_SHEET)[0]
    assert top > ws.max_row - 1
    assert [brk.id for brk in ws.row_breaks.brk] == [top]  # the chart starts a page
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1"


def test_the_demos_flow_sheet_prints_with_dutch_month_names(app, seeded, tmp_path):
    data = _export(app, seeded, lang="nl")
    _assert_nothing_overlaps(data, charts=1, sheet=FLOW_SHEET)
    ws = openpyxl.load_workbook(BytesIO(data)).worksheets[FLOW_SHEET]
    assert ws.row_breaks.brk == []  # a year of months and the chart share a page
    only = _only_sheet(data, 5)
    folder = tmp_path / "flow"
    assert _pdf_pages(_soffice(), only, folder) == 1
    text = _pdf_text(folder / "report.pdf")
    assert re.search(
        r"(januari|februari|maart|april|mei|juni|juli|augustus|september"
        r"|oktober|november|december) 20\d\d",
        text,
    ), text[:500]


def test_every_sheet_is_set_up_for_a4(app, seeded):
    team = organisation.list_teams(seeded)[0]
    data = _export(
        app, seeded, lang="nl", rule_filter=RuleFilter(team=team["id"], self_invented=True)
    )
    wb = openpyxl.load_workbook(BytesIO(data))
    today = organisation.get_settings(seeded)  # the header names the organisation
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert setup.paperSize == 9, ws.title  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert setup.fitToWidth in (None, 1), ws.title  # one page wide (1 is the default)
        header = ws.oddHeader
        assert today["name"] in header.left.text
        assert header.center.text == f"Team: {team['name']}; alleen zelfbedachte regels"
        assert re.fullmatch(r"\d{1,2}-\d{1,2}-\d{4}", header.right.text)
        assert ws.oddFooter.right.text == "Pagina &P van &N"
        if ws.title == "Samenvatting":
            # Two clean pages (the second chart after a break) where they fit, else fit to two.
            assert setup.orientation == "portrait"
            assert setup.fitToHeight == 2 or (
                setup.fitToHeight == 0 and len(ws.row_breaks.brk) == 1
            )
        else:
            assert setup.orientation == "landscape" and setup.fitToHeight == 0
            assert ws.print_title_rows == "$1:$1"  # the header row on every page


@pytest.mark.parametrize(
    "lang,date_format,stamp",
    [("nl", "d-m-yyyy", "d-m-yyyy hh:mm:ss"), ("en", "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss")],
)
def test_dates_in_the_reports_language(app, seeded, lang, date_format, stamp):
    wb = openpyxl.load_workbook(BytesIO(_export(app, seeded, lang=lang)))
    assert wb.worksheets[0]["B3"].number_format == date_format
    assert wb.worksheets[HISTORY_SHEET]["A2"].number_format == stamp
    register = wb.worksheets[1]
    dated = [c for row in register.iter_rows(min_row=2) for c in row if c.is_date]
    assert dated and {c.number_format for c in dated} == {date_format}


def test_sheet_titles_excel_forbids_are_made_safe():
    taken = {"Register"}
    assert xlsx_export.sheet_title("a/b\\c[d]e:f*g?h", taken) == "a_b_c_d_e_f_g_h"
    assert xlsx_export.sheet_title("'quoted'") == "quoted"
    assert xlsx_export.sheet_title("x" * 40) == "x" * 31
    assert xlsx_export.sheet_title("register", taken) == "register (2)"
    assert xlsx_export.sheet_title("\x00", taken) == "Sheet"


def test_text_over_a_cells_limit_is_cut_with_a_marker(app, db):
    # The form allows 5,000 characters; an older register or a direct edit may hold more.
    make_rule(db, code="LONG", title="Long")
    with db.conn:
        db.execute("UPDATE rules SET description = ? WHERE code = 'LONG'", ["a" * 40_000])
    wb = openpyxl.load_workbook(BytesIO(_export(app, db, lang="nl")))
    shown = next(wb["Register"].iter_rows(min_row=2, values_only=True))[2]
    assert len(shown) <= 32_767
    kept, marker = shown.rsplit(" [", 1)
    assert set(kept) == {"a"}
    assert marker == f"afgekapt: nog {40_000 - len(kept)} tekens]"


# --- through LibreOffice ----------------------------------------------------------------------


def _summary_only(data: bytes) -> bytes:
    """The report with every sheet but the Summary hidden: LibreOffice prints no hidden sheet,
    so the PDF's pages are the Summary's."""
    return _only_sheet(data, 0)


def _only_sheet(data: bytes, keep: int) -> bytes:
    """The report with every sheet but the one at ``keep`` hidden (and that one active)."""
    source, out = zipfile.ZipFile(BytesIO(data)), BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                sheets = re.findall(rb"<sheet [^>]*/>", content)
                for index, sheet in enumerate(sheets):
                    if index != keep:
                        content = content.replace(sheet, sheet[:-2] + b' state="hidden"/>')
                if keep:  # a hidden sheet cannot be the active one
                    content = re.sub(
                        rb"<workbookView ", b'<workbookView activeTab="%d" ' % keep, content
                    )
            target.writestr(item, content)
    return out.getvalue()


def _pdf_pages(soffice: str, data: bytes, folder) -> int:
    folder.mkdir(exist_ok=True)
    source = folder / "report.xlsx"
    source.write_bytes(data)
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation=file://{folder}/lo-profile",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = (folder / "report.pdf").read_bytes()
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def _pdf_text(path) -> str:
    """The PDF's text as poppler's pdftotext reads it (a test needing it skips without it)."""
    import shutil

    tool = shutil.which("pdftotext")
    if not tool:
        if os.environ.get("CI"):
            pytest.fail("pdftotext is missing: .ci/run installs poppler-utils")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode()


def test_summary_prints_on_at_most_two_pages(app, seeded, tmp_path):
    soffice = _soffice()
    team = organisation.list_teams(seeded)[0]["id"]
    for name, options in (
        ("demo", {"lang": "nl"}),
        ("team", {"lang": "en", "rule_filter": RuleFilter(team=team)}),
    ):
        data = _export(app, seeded, **options)
        _assert_nothing_overlaps(data, charts=2)
        pages = _pdf_pages(soffice, _summary_only(data), tmp_path / name)
        assert 1 <= pages <= 2, (name, pages)


def test_libreoffice_opens_a_report_with_hostile_input(app, db, tmp_path):
    soffice = _soffice()
    organisation.update_settings(
        db, None, name="Zorg & Co\x07 [A/B]", default_language="nl", reference_share=None
    )
    team = make_team(db, "Team: *?/\\[]")
    make_rule(db, code="BIG", title="Nul\x00", team_ids=[team["id"]])
    with db.conn:
        db.execute("UPDATE rules SET description = ? WHERE code = 'BIG'", ["b\x01" * 20_000])
    data = _export(app, db, lang="nl", rule_filter=RuleFilter(team=team["id"]))
    assert _pdf_pages(soffice, data, tmp_path / "hostile") >= 5  # every sheet printed


@pytest.mark.load
def test_summary_of_the_benchmark_organisation_prints_on_two_pages(tmp_path):
    """The 10,000-rule organisation of the benchmarks (generated once, then cached)."""
    import shutil

    from audit import create_app
    from audit.store.db import connect
    from benchmarks.__main__ import database

    soffice = _soffice()
    cached, _info = database(1.0, fresh=False)
    shutil.copy(cached, tmp_path / "audit.sqlite3")
    app = create_app({"SECRET_KEY": "test", "DATABASE": str(tmp_path / "audit.sqlite3")})
    db = connect(tmp_path / "audit.sqlite3")
    team = organisation.list_teams(db)[0]["id"]
    for name, options in (
        ("all", {"lang": "nl"}),
        ("team", {"lang": "en", "rule_filter": RuleFilter(team=team)}),
    ):
        data = _export(app, db, **options)
        _assert_nothing_overlaps(data, charts=2)
        assert 1 <= _pdf_pages(soffice, _summary_only(data), tmp_path / name) <= 2, name
