"""Reads an untrusted .xlsx workbook in a process of its own, under hard limits.

``audit.xlsx.reader`` starts this file as ``python -I worker.py LIMITS FD``. Before it
opens the file the process limits itself (address space, CPU seconds, no files written, no
core dumps) and lowers its priority: a hostile workbook can cost one slow core for a bounded
time, never the server's memory or the other users' requests.

openpyxl reads the workbook (read-only mode, formulas kept), with defusedxml guarding every XML
part it parses; lxml is switched off here, so no XML reaches a parser defusedxml does not
guard. What openpyxl does not defend against is done here, before and while it reads:

- before openpyxl opens the file, every member of the zip is inflated with the standard
  library and its bytes counted: a member that inflates beyond what the zip's directory
  declares, far beyond its compressed size, or past the total limit is refused, as is a
  document type declaration in any XML part (no entity is ever declared, let alone expanded).
  In a workbook python-calamine reads, a worksheet is inflated and checked so only when it is
  asked for, before calamine parses it: calamine opens no sheet it is not asked for, and a
  report's History and Votes sheets, never imported, were most of the check's time;
- a sheet's ``<dimension>`` is dropped (``reset_dimensions``), so openpyxl neither pads rows
  to the declared last column nor stops at the declared last row; rows, columns and cells
  holding a value are counted as they are read.

The conversation, one JSON object per line. The worker first writes
``{"book": {"sheets": [[name, kind], ...]}}`` (kind ``sheet`` or ``chart``) or an error. Then
it answers commands read from stdin, each with one line:

- ``{"read": NAME, "min_row": A, "max_row": B}`` starts reading a sheet (``max_row`` may be
  null) and answers its first batch: ``{"rows": [[row, [[column, kind, value], ...]], ...],
  "more": true|false}``;
- ``{"next": true}`` answers the following batch.

Only cells holding a value are sent. ``kind`` is ``s`` (text), ``n`` (number), ``b`` (true or
false), ``d`` (a date, ISO 8601), ``t`` (a time of day, ISO), ``f`` (a formula: its text) or
``e`` (an error value, or a number cell that holds no number). An error is
``{"error": CODE, ...parameters}``, after which the worker ends.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
import resource
import struct
import sys
import traceback
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import IO, Any

CHUNK = 64 * 1024
EXCEL_ROWS = 1_048_576
MAX_TEXT = 32_767  # Excel's own limit for the text of one cell
MAX_MEMBERS = 10_000
MAX_SHEETS = 1_000
MAX_SHEET_NAME = 255
RATIO_FLOOR = 8 * 1024 * 1024  # the inflate ratio is judged once a member gave this much
BATCH_ROWS = 500
BATCH_CHARS = 1_000_000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and .xlsx encrypted with a password
# The encodings an XML parser reads without being told; any other must be declared in one.
DOCTYPES = tuple("<!DOCTYPE".encode(codec) for codec in ("ascii", "utf-16-le", "utf-16-be"))
OVERLAP = max(len(d) for d in DOCTYPES) - 1
# What sends a workbook to openpyxl rather than python-calamine (see ``open_book``): in a
# worksheet a formula element (``<f>``, ``<x:f ...>``) or any attribute valued ``e`` (the type
# of an error cell, however spaced), below; in the package's lists a macro-enabled content type, a
# macro or dialog sheet. A false alarm only costs speed; a miss would let a formula's cached
# value or an error pass as a value, so the patterns are broad and searched across chunk seams.
FORMULA = re.compile(rb"<(?:[\w.-]+:)?f[\s/>]")
ERROR_TYPES = (b'"e"', b"'e'")
# An XML declaration stands first in its part: any encoding but UTF-8 goes to openpyxl (UTF-16
# is also caught by its zero bytes, which no UTF-8 part holds).
ENCODING = re.compile(rb"encoding\s*=\s*[\"'](?!utf-8[\"'])", re.IGNORECASE)
# openpyxl keeps ``_x0041_`` in a text as it stands, calamine decodes it: such texts go to
# openpyxl, so that a value never depends on which library read it.
ESCAPE = re.compile(rb"_x[0-9a-fA-F]{4}_")
CELL = re.compile(rb"<(?:[\w.-]+:)?c[\s/>]")
# Cell references in the form every writer uses; a cell whose reference is written otherwise
# counts as not placed, which sends the workbook to openpyxl.
REFERENCE = re.compile(rb' r="([A-Z]{1,3})([0-9]{1,9})"')
RANGE_CELLS = 500_000  # calamine holds about 90 bytes a cell (texts included) at its peak
PLAIN_PACKAGE = re.compile(rb"macroenabled|/macrosheet|/dialogsheet|vbaproject")
STRING_ITEM = re.compile(rb"<(?:[\w.-]+:)?si[\s/>]")
SEAM = 1024
SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")  # a worksheet (lower case), not its rels
RELATIONSHIP_ID = "}id"  # the r:id attribute of <sheet>, in either namespace of the standard


class Problem(Exception):
    """The workbook breaks a limit or cannot be read; ``code`` names which (the parent words it)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.params = code, params


# --- the archive, checked before openpyxl sees it ----------------------------------------------


class Scan:
    """Inflates every member once and counts what comes out. Python's zipfile (and openpyxl
    through it) stops at the size the directory declares and believes the declared sizes,
    so a member that lies about its size, or a bomb, is found here first."""

    def __init__(self, file: IO[bytes], limits: dict) -> None:
        self.file = file
        self.max_unpacked = limits["max_unpacked"]
        self.max_ratio = limits["max_ratio"]
        self.max_cells = limits["max_cells"]
        self.unpacked = 0
        # Set when a part holds what python-calamine cannot tell apart (a formula, an error
        # cell) or what only the openpyxl path words precisely (macros, dialog sheets): such a
        # workbook is read by openpyxl, see ``open_book``.
        self.plain = True
        self.strings = 0  # string items in the parts other than worksheets (shared strings)
        self.last_row = self.last_column = self.unreferenced = 0
        self.max_columns = limits["max_columns"]
        # Worksheets not inflated yet, by part name (lower case), and what the ones inflated
        # since said: whether calamine may read them.
        self.waiting: dict[str, zipfile.ZipInfo] = {}
        self.sheet_plain: dict[str, bool] = {}
        self._parts: dict[str, str] | None = None

    def check(self, defer_sheets: bool = False) -> None:
        """Inflate and search every member; with ``defer_sheets``, the worksheets of a
        workbook calamine may read wait until ``sheet`` or ``every_sheet`` asks for them."""
        file = self.file
        if file.read(8) == OLE_MAGIC:
            raise Problem("encrypted")
        file.seek(0)
        if not zipfile.is_zipfile(file):
            raise Problem("not_zip")
        try:
            infos = zipfile.ZipFile(file).infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise Problem("damaged_zip") from None
        if len(infos) > MAX_MEMBERS:
            raise Problem("damaged_zip")
        names = {info.filename for info in infos}
        if "word/document.xml" in names:
            raise Problem("word")
        if "xl/workbook.xml" not in names:
            raise Problem("not_workbook")
        if "xl/vbaProject.bin" in names:
            raise Problem("macros")
        if sum(info.file_size for info in infos) > self.max_unpacked:
            raise self._too_much()
        for info in infos:
            if SHEET_PART.fullmatch(info.filename.lower()):
                self.waiting[info.filename.lower()] = info
            else:
                self._member(info)
        if not (defer_sheets and self.plain):
            # openpyxl reads the start of every sheet when it opens a workbook.
            self.plain = self.every_sheet() and self.plain
        file.seek(0)

    def every_sheet(self) -> bool:
        """Inflate and search every worksheet still waiting; whether calamine may read all."""
        for part in list(self.waiting):
            self._sheet_part(part)
        return all(self.sheet_plain.values())

    def sheet(self, name: str) -> bool:
        """Inflate and search the worksheet called ``name`` (once); whether calamine may read
        it. A sheet whose part cannot be told, or that lies outside ``xl/worksheets/`` (where
        it was searched as any other part, not as a sheet), goes to openpyxl, which tells a
        formula from a value; every sheet is checked first, as for openpyxl."""
        part = self.parts().get(name)
        if part is None or (part not in self.waiting and part not in self.sheet_plain):
            self.every_sheet()
            return False
        if part in self.waiting:
            self._sheet_part(part)
        return self.sheet_plain[part]

    def _sheet_part(self, part: str) -> None:
        info = self.waiting.pop(part)
        # The calamine checks count per sheet (it holds one sheet at a time); the package's
        # own verdict stays as it was.
        package, position = self.plain, self.file.tell()
        self.plain, self.last_row, self.last_column, self.unreferenced = True, 0, 0, 0
        try:
            self._member(info)
            self.sheet_plain[part] = self.plain
        finally:
            self.plain = package
            self.file.seek(position)

    def parts(self) -> dict[str, str]:
        """Each sheet's name -> its part in the zip (lower case), from the workbook's list of
        sheets and its relationships, both checked already. Names that cannot be told are
        left out."""
        if self._parts is None:
            from defusedxml.ElementTree import fromstring

            position = self.file.tell()
            try:
                archive = zipfile.ZipFile(self.file)
                names = {info.filename.lower(): info.filename for info in archive.infolist()}
                book = fromstring(archive.read(names["xl/workbook.xml"]))
                rels_name = names.get("xl/_rels/workbook.xml.rels")
                rels = fromstring(archive.read(rels_name)) if rels_name else None
            finally:
                self.file.seek(position)
            targets = {}
            for element in rels.iter() if rels is not None else ():
                target = element.get("Target")
                if element.get("Id") and target:
                    path = target[1:] if target.startswith("/") else f"xl/{target}"
                    targets[element.get("Id")] = posixpath.normpath(path).lower()
            self._parts = {}
            for element in book.iter():
                if element.tag.rsplit("}", 1)[-1] != "sheet" or element.get("name") is None:
                    continue
                ids = [v for k, v in element.attrib.items() if k.endswith(RELATIONSHIP_ID)]
                if ids and ids[0] in targets:
                    self._parts[element.get("name")] = targets[ids[0]]
        return self._parts

    def _too_much(self) -> Problem:
        return Problem("unpacks", n=self.max_unpacked // (1024 * 1024))

    def _member(self, info: zipfile.ZipInfo) -> None:
        name = info.filename.lower()
        xml = name.endswith((".xml", ".rels"))
        if not xml:
            look = None
        elif name.startswith("xl/worksheets/"):
            look = self._sheet
        elif name in ("[content_types].xml", "xl/_rels/workbook.xml.rels"):
            look = self._package
        else:
            look = self._strings
        tail = seen = b""
        try:
            for chunk in self._inflate(info):
                if look is not None:
                    # The tail of the chunk before goes along, so that what the searches
                    # look for is found across the seam; only what ends in the new chunk
                    # is counted.
                    seen = seen[-SEAM:] + chunk
                    look(seen, len(seen) - len(chunk))
                if xml:
                    # A DOCTYPE is never in a workbook: it is where entities (XXE, billion
                    # laughs) are declared. defusedxml refuses entities too; this is cheaper.
                    seam = tail + chunk[:OVERLAP]
                    if any(d in chunk or d in seam for d in DOCTYPES):
                        raise Problem("damaged")
                    tail = chunk[-OVERLAP:]
        except zlib.error:
            raise Problem("damaged") from None
        if self.unreferenced:
            self.plain = False

    def _sheet(self, seen: bytes, start: int) -> None:
        if not self.plain:
            return
        if (
            FORMULA.search(seen)
            or any(error in seen for error in ERROR_TYPES)
            or b"\x00" in seen
            or (b"_x" in seen and ESCAPE.search(seen))
            or (start == 0 and ENCODING.search(seen[:512]))
        ):
            self.plain = False
            return
        # What lies wholly in the tail was counted with the chunk before.
        cells = len(CELL.findall(seen)) - len(CELL.findall(seen, 0, start))
        references = REFERENCE.findall(seen)
        old = len(REFERENCE.findall(seen, 0, start))
        references = references[old:]
        cells -= len(references)
        if references:
            rows = [row for _, row in references]
            self.last_row = max(self.last_row, max(map(int, rows)))
            for letters in set(letters for letters, _ in references):
                column = 0
                for letter in letters:
                    column = column * 26 + letter - 64
                self.last_column = max(self.last_column, column)
        self.unreferenced += cells
        # (A cell cut at the seam is counted here and its reference with the next chunk, so
        # whether every cell had one is asked once the part has been read: ``_member``.)
        # calamine holds a sheet as one rectangle from its first to its last cell: a sheet
        # whose cells are not all placed, or spread far, is read by openpyxl, row by row.
        if (
            self.last_column > self.max_columns
            or self.last_row > EXCEL_ROWS
            or self.last_row * self.last_column > RANGE_CELLS
        ):
            self.plain = False

    def _package(self, seen: bytes, start: int) -> None:
        if PLAIN_PACKAGE.search(seen.lower()):
            self.plain = False

    def _strings(self, seen: bytes, start: int) -> None:
        self.strings += sum(1 for m in STRING_ITEM.finditer(seen) if m.end() > start)
        if self.strings > self.max_cells:
            raise Problem("strings", n=self.max_cells)
        if b"_x" in seen and ESCAPE.search(seen):
            self.plain = False

    def _read(self, position: int, size: int) -> bytes:
        self.file.seek(position)
        return self.file.read(size)

    def _inflate(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """The member's bytes, 64 KB at a time. The local header is read for where the data
        starts; the sizes in either header are not believed."""
        local = self._read(info.header_offset, 30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise Problem("damaged")
        flags, method = struct.unpack("<HH", local[6:10])
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        if flags & 1:
            raise Problem("damaged")  # encrypted members do not occur in real workbooks
        position = info.header_offset + 30 + name_length + extra_length
        crc = produced = 0
        if method == zipfile.ZIP_STORED:
            left = info.compress_size
            while left > 0:
                data = self._read(position, min(CHUNK, left))
                if not data:
                    raise Problem("damaged")
                position += len(data)
                left -= len(data)
                produced += len(data)
                self._count(info, produced, len(data))
                crc = zlib.crc32(data, crc)
                yield data
        elif method == zipfile.ZIP_DEFLATED:
            inflater = zlib.decompressobj(-15)
            consumed = 0
            while not inflater.eof:
                raw = self._read(position, CHUNK)
                if not raw:
                    raise Problem("damaged")  # the stream ends before its end marker
                position += len(raw)
                consumed += len(raw)
                data = inflater.decompress(raw, CHUNK)
                while True:
                    if data:
                        produced += len(data)
                        self._count(info, produced, len(data))
                        used = consumed - len(inflater.unconsumed_tail)
                        if produced > RATIO_FLOOR and produced > self.max_ratio * used:
                            raise Problem("bomb")
                        crc = zlib.crc32(data, crc)
                        yield data
                    if inflater.eof or not inflater.unconsumed_tail:
                        break
                    data = inflater.decompress(inflater.unconsumed_tail, CHUNK)
        else:
            raise Problem("damaged")
        if crc != info.CRC or produced != info.file_size:
            raise Problem("damaged_zip")

    def _count(self, info: zipfile.ZipInfo, produced: int, size: int) -> None:
        if produced > info.file_size:
            # More than the directory declares: a damaged file, or one that understates its
            # size to slip past the check of the declared sizes. Refused at once.
            raise Problem("damaged_zip")
        self.unpacked += size
        if self.unpacked > self.max_unpacked:
            raise self._too_much()


# --- the workbook, read by openpyxl --------------------------------------------------------


def _import_openpyxl() -> None:
    """Import openpyxl without lxml, with defusedxml. With lxml, openpyxl parses a workbook's
    small parts (workbook, relationships, styles) with lxml, which defusedxml does not guard;
    reading needs no lxml (only writing is faster with it). Nor numpy, which openpyxl imports
    when it is installed only to know its number types: with its thread pools it would take
    most of the memory. A module set to None here cannot be imported."""
    sys.modules["lxml"] = sys.modules["numpy"] = None  # type: ignore[assignment]
    os.environ.pop("OPENPYXL_DEFUSEDXML", None)
    import openpyxl

    if not openpyxl.DEFUSEDXML or openpyxl.LXML:
        raise RuntimeError("openpyxl must read untrusted workbooks with defusedxml, without lxml")
    _install_cell_parser()


def _install_cell_parser() -> None:
    """Two changes to how openpyxl reads a sheet's cells, made in its sheet parser:

    - a cell whose value does not fit its type (``abc`` or ``NaN`` in a number cell, ``maybe``
      in a true/false cell) stops openpyxl reading the whole sheet; it becomes an error cell
      holding its text instead, so the importer reports it on its row and reads on;
    - a cell without a value (only formatted) is left out: openpyxl makes every row as wide
      as its last cell, so one formatted cell at XFD would cost 16,384 cells a row.

    The sheet parser is openpyxl's own (3.1); should it change, the hostile-workbook tests
    (NaN cells, far formatted cells) say so.
    """
    from openpyxl.utils.cell import coordinate_to_tuple
    from openpyxl.worksheet import _read_only
    from openpyxl.worksheet._reader import VALUE_TAG, WorkSheetParser

    class SheetParser(WorkSheetParser):
        def parse_row(self, row: Any) -> tuple[int, list]:
            number, cells = super().parse_row(row)
            return number, [cell for cell in cells if cell["value"] is not None]

        def parse_cell(self, element: Any) -> dict:
            try:
                cell = super().parse_cell(element)
            except (ValueError, OverflowError):
                cell = None
            if cell is not None:
                value = cell["value"]
                if not (isinstance(value, float) and not math.isfinite(value)):
                    return cell  # 1e999 is read as infinity: no number either
            reference = element.get("r")  # a reference that is no reference is still raised
            row, column = (
                coordinate_to_tuple(reference)
                if reference
                else (self.row_counter, self.col_counter)
            )
            text = element.findtext(VALUE_TAG) or ""
            return {"row": row, "column": column, "value": text[:40], "data_type": "e"}

    _read_only.WorkSheetParser = SheetParser


class Book:
    def __init__(self, file: IO[bytes], limits: dict) -> None:
        from openpyxl.chartsheet import Chartsheet
        from openpyxl.reader.excel import ExcelReader

        self.limits = limits
        reader = ExcelReader(
            file, read_only=True, keep_vba=False, data_only=False, keep_links=False
        )
        reader.read_manifest()
        types = [part.ContentType for part in (*reader.package.Override, *reader.package.Default)]
        if any("macroenabled" in (kind or "").lower() for kind in types):
            raise Problem("macros")  # an .xlsm renamed
        reader.read()
        if len(reader.shared_strings) > limits["max_cells"]:
            raise Problem("strings", n=limits["max_cells"])
        relations = {sheet.name: rel.Type for sheet, rel in reader.parser.find_sheets()}
        if any(kind.endswith("/macrosheet") for kind in relations.values()):
            raise Problem("macros")  # Excel 4.0 macros
        self.wb = wb = reader.wb
        self.sheets: list[tuple[str, str]] = []
        for name in wb.sheetnames:
            if len(self.sheets) >= MAX_SHEETS or len(name) > MAX_SHEET_NAME:
                raise Problem("damaged")  # Excel allows 31 characters, and no such number
            chart = isinstance(wb[name], Chartsheet)
            chart = chart or relations.get(name, "").endswith("/dialogsheet")
            self.sheets.append((name, "chart" if chart else "sheet"))

    def read(self, name: str, min_row: int, max_row: int | None) -> SheetRead:
        if (name, "sheet") not in self.sheets:
            raise Problem("no_sheet")
        return SheetRead(self.wb[name], min_row, max_row, self.limits)


class FastBook:
    """A plain workbook (see ``Scan.plain``) read by python-calamine: the whole sheet is
    parsed in Rust at once, about twenty times faster than openpyxl. Calamine gives a
    formula's cached value and an error cell's code as if they were values, which is why a
    workbook holding either never comes here. Anything else it cannot read the way openpyxl
    does (a number cell holding no number) hands the rest of the sheet to openpyxl."""

    def __init__(self, file: IO[bytes], limits: dict, scan: Scan) -> None:
        import python_calamine
        from python_calamine import SheetTypeEnum

        self.file, self.limits, self.scan = file, limits, scan
        self.slow: Book | None = None
        self.cached: tuple[str, Any] | None = None
        self.wb = python_calamine.CalamineWorkbook.from_filelike(file)
        self.sheets: list[tuple[str, str]] = []
        for meta in self.wb.sheets_metadata:
            name = meta.name
            if len(self.sheets) >= MAX_SHEETS or len(name) > MAX_SHEET_NAME:
                raise Problem("damaged")
            if meta.typ in (SheetTypeEnum.MacroSheet, SheetTypeEnum.Vba):
                raise Problem("macros")
            chart = meta.typ != SheetTypeEnum.WorkSheet
            self.sheets.append((name, "chart" if chart else "sheet"))

    def read(self, name: str, min_row: int, max_row: int | None) -> SheetRead:
        if (name, "sheet") not in self.sheets:
            raise Problem("no_sheet")
        import python_calamine

        if not self.scan.sheet(name):
            # A formula, an error cell or a sheet too large for one rectangle: openpyxl
            # reads this sheet, as it would read the whole of such a workbook.
            return SheetRead(
                None, min_row, max_row, self.limits, self._slow(name, min_row, max_row, 0)
            )
        # The importer reads the header rows first, then the rest: the sheet is parsed once.
        if self.cached is None or self.cached[0] != name:
            self.cached = None
            try:
                self.cached = (name, self.wb.get_sheet_by_name(name))
            except python_calamine.CalamineError:
                # A cell calamine cannot read (text in a number cell): openpyxl reads the
                # sheet and says which cell holds what.
                rows = self._slow(name, min_row, max_row, 0)
                return SheetRead(None, min_row, max_row, self.limits, rows)
        return SheetRead(None, min_row, max_row, self.limits, self._rows(name, min_row, max_row))

    def _rows(
        self, name: str, min_row: int, max_row: int | None
    ) -> Iterator[tuple[int, list, int]]:
        sheet = self.cached[1]
        max_columns, max_cells = self.limits["max_columns"], self.limits["max_cells"]
        first_row, first_column = sheet.start or (0, 0)
        count = 0
        for index, values in enumerate(sheet.iter_rows()):
            number = first_row + index + 1
            if number < min_row:
                continue
            if max_row is not None and number > max_row:
                return
            if number > EXCEL_ROWS:
                raise Problem("damaged")
            cells, chars = [], 0
            for offset, value in enumerate(values):
                if value == "" or value is None:
                    continue
                column = first_column + offset + 1
                if column > max_columns:
                    raise Problem("columns", n=max_columns)
                count += 1
                if count > max_cells:
                    raise Problem("cells", n=max_cells)
                kind, value = _fast_value(value)
                if kind is None:
                    # From this row on openpyxl reads the sheet, as it would have whole.
                    yield from self._slow(name, number, max_row, count - len(cells) - 1)
                    return
                if kind == "s":
                    if len(value) > MAX_TEXT:
                        raise Problem("cell_text", n=MAX_TEXT)
                    chars += len(value)
                cells.append([column, kind, value])
            if cells:
                yield number, cells, chars

    def _slow(
        self, name: str, min_row: int, max_row: int | None, count: int
    ) -> Iterator[tuple[int, list, int]]:
        self.cached = None  # calamine's copy of the sheet is not needed any more
        if self.slow is None:
            # openpyxl reads the start of every sheet as it opens the workbook: each is
            # checked first, as for a workbook openpyxl reads from the start.
            self.scan.every_sheet()
            _import_openpyxl()
            self.file.seek(0)
            self.slow = Book(self.file, self.limits)
        ws = self.slow.wb[name]
        ws.reset_dimensions()
        yield from SheetRead._rows(
            ws, min_row, max_row, self.limits["max_columns"], self.limits["max_cells"], count
        )


def _fast_value(value: Any) -> tuple[str | None, Any]:
    """A value python-calamine read, as the protocol sends it; ``None`` as the kind when
    only openpyxl reads it as the importer expects (infinity, NaN, a time of day)."""
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, None
        # calamine reads every number as a float; openpyxl reads ``30`` as an int, which is
        # what the importer has always been given for a whole number.
        return "n", int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return "n", value
    if isinstance(value, timedelta):
        return "n", value / timedelta(days=1)
    if isinstance(value, datetime | date):
        return "d", value.isoformat()
    if isinstance(value, time):
        # calamine makes a time of day of a serial below 0 too (a date before 1904 in the
        # 1904 date system), where openpyxl reads the date: openpyxl decides.
        return None, None
    return "s", str(value)


def open_book(file: IO[bytes], limits: dict, scan: Scan) -> Book | FastBook:
    """python-calamine for a plain workbook, openpyxl for any other (see ``Scan.plain``)."""
    if scan.plain:
        return FastBook(file, limits, scan)
    _import_openpyxl()
    return Book(file, limits)


class SheetRead:
    """One pass over a sheet's rows, handed out in batches."""

    def __init__(
        self,
        ws: Any,
        min_row: int,
        max_row: int | None,
        limits: dict,
        rows: Iterator[tuple[int, list, int]] | None = None,
    ) -> None:
        if rows is None:
            ws.reset_dimensions()  # what the sheet says about its size is never believed
            rows = self._rows(ws, min_row, max_row, limits["max_columns"], limits["max_cells"])
        self.rows = rows
        self.done = False

    def batch(self) -> dict:
        rows, chars = [], 0
        while not self.done and len(rows) < BATCH_ROWS and chars < BATCH_CHARS:
            found = next(self.rows, None)
            if found is None:
                self.done = True
            else:
                rows.append(found[:2])
                chars += found[2]
        return {"rows": rows, "more": not self.done}

    @staticmethod
    def _rows(
        ws: Any,
        min_row: int,
        max_row: int | None,
        max_columns: int,
        max_cells: int,
        count: int = 0,
    ) -> Iterator[tuple[int, list, int]]:
        """Each row holding a value: its number, its cells, the characters of its texts.
        openpyxl hands out every row up to the last one read, a gap as an empty one, and
        each as wide as its last cell with a value (see ``_install_cell_parser``)."""
        number = min_row - 1
        for row in ws.iter_rows(min_row=min_row, max_row=max_row, values_only=False):
            number += 1
            if number > EXCEL_ROWS:
                raise Problem("damaged")  # a row beyond Excel's last
            if len(row) > max_columns:
                raise Problem("columns", n=max_columns)
            cells, chars = [], 0
            for column, cell in enumerate(row, 1):
                if cell.value is None:
                    continue
                count += 1
                if count > max_cells:
                    raise Problem("cells", n=max_cells)
                kind, value = _value(cell.data_type, cell.value)
                if isinstance(value, str):
                    if len(value) > MAX_TEXT:
                        raise Problem("cell_text", n=MAX_TEXT)
                    chars += len(value)
                cells.append([column, kind, value])
            if cells:
                yield number, cells, chars


def _value(data_type: str, value: Any) -> tuple[str, Any]:
    """A cell's value as the protocol sends it."""
    if data_type == "f":
        return "f", value if isinstance(value, str) else getattr(value, "text", None) or "="
    if data_type == "e":
        return "e", str(value)[:40]
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, timedelta):
        return "n", value / timedelta(days=1)  # a duration ([h]:mm) stays a number of days
    if isinstance(value, datetime | date):
        return "d", value.isoformat()
    if isinstance(value, time):
        return "t", value.isoformat()
    if isinstance(value, int | float):
        return "n", value
    return "s", str(value)


# --- the process ----------------------------------------------------------------------------


def limit_self(limits: dict) -> None:
    """Hard limits on this process, set before the file is opened."""
    seconds = max(1, math.ceil(limits["seconds"]))
    _lower(resource.RLIMIT_AS, limits["memory_mb"] * 1024 * 1024)
    _lower(resource.RLIMIT_CPU, seconds, seconds + 1)  # SIGXCPU first, then SIGKILL
    _lower(resource.RLIMIT_FSIZE, 0)
    _lower(resource.RLIMIT_CORE, 0)
    os.nice(limits.get("nice", 10))


def _lower(which: int, soft: int, hard: int | None = None) -> None:
    """Set a limit, never above the one the process already has (a container's, say):
    asking for more would fail, and the stricter limit is the one that holds anyway."""
    hard = soft if hard is None else hard
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def send(message: dict) -> None:
    data = memoryview((json.dumps(message, ensure_ascii=False) + "\n").encode())
    while data:
        data = data[os.write(1, data) :]


def serve(book: Book) -> None:
    current: SheetRead | None = None
    prepared: dict | Problem | None = None
    for line in sys.stdin.buffer:
        command = json.loads(line)
        if "read" in command:
            first, last = command.get("min_row") or 1, command.get("max_row")
            current = book.read(command["read"], first, last)
            prepared = None
        if current is None:
            raise Problem("damaged")
        answer = prepared if prepared is not None else current.batch()
        if isinstance(answer, Problem):
            raise answer
        send(answer)
        prepared = None
        if answer["more"]:
            # Read ahead while the server checks this batch: the two run side by side.
            try:
                prepared = current.batch()
            except Problem as problem:
                prepared = problem


def main() -> None:
    limits = json.loads(sys.argv[1])
    # Written ahead: once memory has run out there may be none left to build it.
    out_of_memory = b'{"error": "memory"}\n'
    limit_self(limits)
    warnings.simplefilter("ignore")  # openpyxl's warnings about odd files are not for the log
    try:
        with open(int(sys.argv[2]), "rb") as file:
            scan = Scan(file, limits)
            scan.check(defer_sheets=True)
            book = open_book(file, limits, scan)
            send({"book": {"sheets": book.sheets}})
            serve(book)
    except Problem as problem:
        send({"error": problem.code, **problem.params})
    except MemoryError:
        os.write(1, out_of_memory)
    except BrokenPipeError:
        pass  # the server stopped listening: nothing left to do
    except Exception:  # noqa: BLE001 - any other failure is a file we cannot read
        traceback.print_exc()
        send({"error": "damaged"})


if __name__ == "__main__":
    main()
