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
  document type declaration in any XML part (no entity is ever declared, let alone expanded);
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
        self.unpacked = 0

    def check(self) -> None:
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
            self._member(info)
        file.seek(0)

    def _too_much(self) -> Problem:
        return Problem("unpacks", n=self.max_unpacked // (1024 * 1024))

    def _member(self, info: zipfile.ZipInfo) -> None:
        xml = info.filename.lower().endswith((".xml", ".rels"))
        tail = b""
        try:
            for chunk in self._inflate(info):
                if xml:
                    # A DOCTYPE is never in a workbook: it is where entities (XXE, billion
                    # laughs) are declared. defusedxml refuses entities too; this is cheaper.
                    seam = tail + chunk[:OVERLAP]
                    if any(d in chunk or d in seam for d in DOCTYPES):
                        raise Problem("damaged")
                    tail = chunk[-OVERLAP:]
        except zlib.error:
            raise Problem("damaged") from None

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


class SheetRead:
    """One pass over a sheet's rows, handed out in batches."""

    def __init__(self, ws: Any, min_row: int, max_row: int | None, limits: dict) -> None:
        ws.reset_dimensions()  # what the sheet says about its size is never believed
        self.rows = self._rows(ws, min_row, max_row, limits["max_columns"], limits["max_cells"])
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
        ws: Any, min_row: int, max_row: int | None, max_columns: int, max_cells: int
    ) -> Iterator[tuple[int, list, int]]:
        """Each row holding a value: its number, its cells, the characters of its texts.
        openpyxl hands out every row up to the last one read, a gap as an empty one, and
        each as wide as its last cell with a value (see ``_install_cell_parser``)."""
        number, count = min_row - 1, 0
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
            Scan(file, limits).check()
            _import_openpyxl()
            book = Book(file, limits)
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
