"""Hostile and odd workbooks, written byte by byte where need be, for the default suite (small)
(the sizes an attacker used). Each function writes ``path`` and returns it."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import openpyxl
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.workbook.defined_name import DefinedName

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MB = 1024 * 1024

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="{main}"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
    '<sheet name="Rules" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)


def _text(column: str, row: int, value: str) -> str:
    return f'<c r="{column}{row}" t="inlineStr"><is><t>{value}</t></is></c>'


def header_row() -> str:
    return f'<row r="1">{_text("A", 1, "Title")}{_text("B", 1, "Code")}</row>'


def rule_row(number: int, title: str | None = None) -> str:
    title = title or f"Regel {number}"
    return f'<row r="{number}">{_text("A", number, title)}{_text("B", number, f"H-{number}")}</row>'


def sheet(rows: Iterable[str], dimension: str | None = "A1:B2") -> Iterator[bytes]:
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
        + (f'<dimension ref="{dimension}"/>' if dimension else "")
        + "<sheetData>"
    ).encode()
    for row in rows:
        yield row.encode()
    yield b"</sheetData></worksheet>"


def raw_workbook(
    path: Path,
    sheet_parts: Iterable[bytes],
    *,
    strings: Iterable[bytes] = (),
    content_type: str = WORKBOOK_TYPE,
    extra: dict[str, str] | None = None,
) -> Path:
    """A minimal .xlsx written part by part, so a sheet can be as large as wanted."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES.format(main=content_type))
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as handle:
            for part in sheet_parts:
                handle.write(part)
        with archive.open("xl/sharedStrings.xml", "w") as handle:
            handle.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">'.encode())
            for part in strings:
                handle.write(part)
            handle.write(b"</sst>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


# --- odd but real workbooks ----------------------------------------------------------------


def features(path: Path) -> Path:
    """A workbook with what real ones have: a chart sheet first, a comment, a defined name,
    the 1904 date system."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Rules"
    wb.epoch = CALENDAR_MAC_1904
    ws.append(["Title", "Code", "Minutes per week", "Introduced on"])
    ws.append(["Geen taart", "A-1", 30, date(2019, 3, 12)])
    ws["A2"].comment = Comment("Uit het teamoverleg", "Ilse")
    chart_sheet = wb.create_chartsheet("Grafiek", 0)
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=2), titles_from_data=True)
    chart_sheet.add_chart(chart)
    wb.defined_names["Regels"] = DefinedName("Regels", attr_text="Rules!$A$1:$D$2")
    wb.save(path)
    return path


def number_cells(path: Path) -> Path:
    """Cells that say they hold a number and hold none."""
    rows = [
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Title</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>Minutes per week</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>Introduced on</t></is></c></row>',
        '<row r="2"><c r="A2" t="inlineStr"><is><t>Een</t></is></c><c r="B2"><v>NaN</v></c></row>',
        '<row r="3"><c r="A3" t="inlineStr"><is><t>Twee</t></is></c><c r="B3" t="n"><v>abc</v></c>'
        "</row>",
        '<row r="4"><c r="A4"><v>1e999</v></c><c r="C4" t="d"><v>gisteren</v></c></row>',
        '<row r="5"><c r="A5" t="b"><v>misschien</v></c><c r="B5"><v>30</v></c></row>',
    ]
    return raw_workbook(path, sheet(rows))


def full_register(path: Path, rows: int = 10_000) -> Path:
    """Not hostile: a register of the benchmark's size, ``rows`` rules of twelve columns of
    text, each cell a text of its own (120,000 shared strings), as a yardstick."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Rules")
    sheet.write_row(0, 0, ["Title", "Code", "Description", *(f"Note {n}" for n in range(1, 10))])
    for row in range(1, rows + 1):
        notes = [f"note {row}-{n} about the rule" for n in range(1, 10)]
        title = f"Rule {row} about care and what goes with it"
        sheet.write_row(row, 0, [title, f"B-{row}", f"Description {row} " * 4, *notes])
    workbook.close()
    return path


# --- the files of the attack ----------------------------------------------------------------


def shared_strings_bomb(path: Path, unpacked_mb: int = 199) -> Path:
    """A small upload whose shared-strings table unpacks to ``unpacked_mb`` MB (at full size
    509 KB to 199 MB, as in the attack): long strings that differ in a few characters."""
    filler = "x" * 3000

    def strings() -> Iterator[bytes]:
        written, number = 0, 0
        while written < unpacked_mb * MB:
            part = f"<si><t>{number:09d}{filler}</t></si>".encode()
            written += len(part)
            number += 1
            yield part

    rows = [header_row(), '<row r="2"><c r="A2" t="s"><v>0</v></c></row>']
    return raw_workbook(path, sheet(rows), strings=strings())


def wide_dimension(path: Path) -> Path:
    """Data in two rows, 1 and 50030, under a ``<dimension>`` of A1:XFD50030: openpyxl pads
    the 50,028 rows between to 16,384 cells each."""
    return raw_workbook(path, sheet([header_row(), rule_row(50_030)], dimension="A1:XFD50030"))


def short_dimension(path: Path, rows: int = 200) -> Path:
    """``rows`` rules under a ``<dimension>`` that says A1:C10."""
    body = [header_row()] + [rule_row(n) for n in range(2, rows + 2)]
    return raw_workbook(path, sheet(body, dimension="A1:C10"))


def long_sheet_small_dimension(path: Path, rows: int = 50_001) -> Path:
    """``rows`` rules under a ``<dimension>`` that says A1:C3."""
    body = (rule_row(n) if n > 1 else header_row() for n in range(1, rows + 2))
    return raw_workbook(path, sheet(body, dimension="A1:C3"))


def understated_directory(path: Path, padding_mb: int = 300, claimed: int = 1000) -> Path:
    """A sheet with ``padding_mb`` MB of comment between its header and its one rule, whose
    size the zip's headers (local and central) claim to be ``claimed`` bytes."""

    def rows() -> Iterator[str]:
        yield header_row()
        yield "<!--"
        block = "padding " * (MB // 8)
        for _ in range(padding_mb):
            yield block
        yield "-->"
        yield rule_row(2)

    def parts() -> Iterator[bytes]:
        yield from sheet(rows())

    raw_workbook(path, parts())
    return _understate(path, "xl/worksheets/sheet1.xml", claimed)


def _understate(path: Path, member: str, claimed: int) -> Path:
    """Rewrite the uncompressed size the zip declares for ``member``: the data stays."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    assert info.file_size < 0xFFFFFFFF and info.compress_size < 0xFFFFFFFF  # no zip64 fields
    assert data[info.header_offset : info.header_offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, info.header_offset + 22, claimed)
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack("<H", data[position + 28 : position + 30])[0]
        if bytes(data[position + 46 : position + 46 + name_length]).decode() == member:
            struct.pack_into("<I", data, position + 24, claimed)
            break
        position = data.find(b"PK\x01\x02", position + 46)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo(member).file_size == claimed
    return path
