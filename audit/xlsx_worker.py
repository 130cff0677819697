"""Reads an untrusted .xlsx workbook in a process of its own, under hard limits.

``audit.xlsx_reader`` starts this file as ``python -I -S xlsx_worker.py LIMITS FD``. Only the
standard library is imported, so the interpreter stays small and its address-space limit can be
tight. Before it opens the file the process limits itself (address space, CPU seconds, no files
written, no core dumps) and lowers its priority: a hostile workbook can cost one slow core for a
bounded time, never the server's memory or the other users' requests.

Nothing in the file is trusted. The sizes the zip declares are not used: bytes are counted as
they are inflated, and a member that inflates far beyond its compressed size is refused as a
bomb. A sheet's ``<dimension>`` is ignored: rows, columns and cells are counted as they are
read, and empty cells are never materialised. The shared-strings table is bounded in entries
and kept compactly. A document type declaration is refused, so no entity is ever expanded.

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
import resource
import struct
import sys
import traceback
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from datetime import datetime, timedelta
from xml.parsers import expat

MAIN = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
DOCUMENT_RELS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)

CHUNK = 64 * 1024
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384
MAX_TEXT = 32_767  # Excel's own limit for the text of one cell
MAX_DEPTH = 100  # no spreadsheet part nests anywhere near this deep
MAX_MEMBERS = 10_000
MAX_ELEMENTS = 100_000  # sheets, relationships, styles: far more than any real workbook has
MAX_SHEETS = 1_000
MAX_SHEET_NAME = 255
RATIO_FLOOR = 8 * 1024 * 1024  # the inflate ratio is judged once a member gave this much
BATCH_ROWS = 500
BATCH_CHARS = 1_000_000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and .xlsx encrypted with a password
EPOCH_1900 = datetime(1899, 12, 30)
EPOCH_1904 = datetime(1904, 1, 1)

# Built-in number formats that show a date or time (ECMA-376 18.8.30).
BUILTIN_DATES = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47}
BUILTIN_DURATIONS = {46}


def _column_names() -> dict[str, int]:
    names = {}
    for number in range(1, EXCEL_COLUMNS + 1):
        letters, n = "", number
        while n:
            n, rest = divmod(n - 1, 26)
            letters = chr(65 + rest) + letters
        names[letters] = number
    return names


COLUMNS = _column_names()


class Problem(Exception):
    """The workbook breaks a limit or cannot be read; ``code`` names which (the parent words it)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.params = code, params


class _Stop(Exception):
    """Raised by a handler once it has read what was asked."""


def _local_names(namespaces: tuple[str, ...], names: tuple[str, ...]) -> dict[str, str]:
    return {f"{ns} {name}": name for ns in namespaces for name in names}


# --- the archive ----------------------------------------------------------------------------


class Archive:
    """The zip, read with our own inflating so that every byte that comes out is counted."""

    def __init__(self, fd: int, limits: dict) -> None:
        self.file = open(fd, "rb")  # noqa: SIM115 - lives as long as the worker
        self.max_unpacked = limits["max_unpacked"]
        self.max_ratio = limits["max_ratio"]
        self.unpacked = 0
        if self.file.read(8) == OLE_MAGIC:
            raise Problem("encrypted")
        self.file.seek(0)
        if not zipfile.is_zipfile(self.file):
            raise Problem("not_zip")
        try:
            infos = zipfile.ZipFile(self.file).infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise Problem("damaged_zip") from None
        if len(infos) > MAX_MEMBERS:
            raise Problem("damaged_zip")
        self.members = {info.filename: info for info in infos}

    def declared_size(self) -> int:
        return sum(info.file_size for info in self.members.values())

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def inflate(self, name: str) -> Iterator[bytes]:
        """The member's bytes, 64 KB at a time. The local header is read for where the data
        starts; the sizes in either header are not believed."""
        info = self.members.get(name)
        if info is None:
            raise Problem("damaged")
        try:
            yield from self._inflate(info)
        except zlib.error:
            raise Problem("damaged") from None

    def _read(self, position: int, size: int) -> bytes:
        self.file.seek(position)
        return self.file.read(size)

    def _inflate(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
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
            raise Problem("unpacks", n=self.max_unpacked // (1024 * 1024))


def _refuse(*args: object) -> None:
    raise Problem("damaged")  # a DOCTYPE or an entity: never in a workbook, the start of XXE


def parse(archive: Archive, name: str, handler: object) -> Iterator[None]:
    """Feed a member to expat with ``handler``'s callbacks, yielding after every chunk."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = CHUNK
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    try:
        for chunk in archive.inflate(name):
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
    except _Stop:
        pass
    except expat.ExpatError:
        raise Problem("damaged") from None
    yield


def parse_all(archive: Archive, name: str, handler: object) -> None:
    for _ in parse(archive, name, handler):
        pass


class _Elements:
    """Collects the attributes of a few kinds of element from a small part (workbook,
    relationships, content types, styles)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.found: list[tuple[str, dict]] = []
        self.depth = 0
        self.in_cell_formats = False

    def start(self, name: str, attrs: dict) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Problem("damaged")
        local = self.names.get(name)
        if local is None:
            return
        if local == "cellXfs":
            self.in_cell_formats = True
            return
        if local == "xf" and not self.in_cell_formats:
            return  # cellStyleXfs: named styles, not the formats cells point to
        self.found.append((local, attrs))
        if len(self.found) > MAX_ELEMENTS:
            raise Problem("damaged")

    def end(self, name: str) -> None:
        self.depth -= 1
        if self.names.get(name) == "cellXfs":
            self.in_cell_formats = False

    def text(self, data: str) -> None:
        pass


# --- the workbook ---------------------------------------------------------------------------


class Book:
    def __init__(self, fd: int, limits: dict) -> None:
        self.limits = limits
        self.archive = archive = Archive(fd, limits)
        if "word/document.xml" in archive:
            raise Problem("word")
        if "xl/workbook.xml" not in archive:
            raise Problem("not_workbook")
        if "xl/vbaProject.bin" in archive:
            raise Problem("macros")
        if archive.declared_size() > limits["max_unpacked"]:
            raise Problem("unpacks", n=limits["max_unpacked"] // (1024 * 1024))
        if "[Content_Types].xml" in archive:
            types = self._elements("[Content_Types].xml", (CONTENT_TYPES,), ("Override",))
            for _, attrs in types:
                if "macroenabled" in attrs.get("ContentType", "").lower():
                    raise Problem("macros")  # an .xlsm renamed
        relations = {}
        if "xl/_rels/workbook.xml.rels" in archive:
            for _, attrs in self._elements(
                "xl/_rels/workbook.xml.rels", (PACKAGE_RELS,), ("Relationship",)
            ):
                if attrs.get("TargetMode") == "External":
                    continue
                kind = attrs.get("Type", "").rsplit("/", 1)[-1]
                relations[attrs.get("Id")] = (kind, _member(attrs.get("Target", "")))
        self.date1904 = False
        self.sheets: list[tuple[str, str, str]] = []  # name, kind, member
        for local, attrs in self._elements("xl/workbook.xml", MAIN, ("workbookPr", "sheet")):
            if local == "workbookPr":
                self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")
                continue
            if len(attrs.get("name", "")) > MAX_SHEET_NAME or len(self.sheets) >= MAX_SHEETS:
                raise Problem("damaged")  # Excel allows 31 characters, and no such number
            ident = next(
                (v for k, v in attrs.items() if k.rpartition(" ")[0] in DOCUMENT_RELS), None
            )
            kind, member = relations.get(ident, ("", ""))
            if kind == "macrosheet":
                raise Problem("macros")  # Excel 4.0 macros
            if kind == "worksheet" and member in archive:
                self.sheets.append((attrs.get("name", ""), "sheet", member))
            elif kind in ("chartsheet", "dialogsheet"):
                self.sheets.append((attrs.get("name", ""), "chart", member))
            else:
                raise Problem("damaged")
        self.parts = {kind: member for kind, member in relations.values()}
        self._strings: Strings | None = None
        self._styles: tuple[set[str], set[str]] | None = None

    def _elements(self, member: str, namespaces: tuple, names: tuple) -> list:
        collector = _Elements(_local_names(namespaces, names))
        parse_all(self.archive, member, collector)
        return collector.found

    def strings(self) -> Strings:
        if self._strings is None:
            self._strings = Strings(self.limits["max_cells"])
            member = self.parts.get("sharedStrings")
            if member and member in self.archive:
                parse_all(self.archive, member, self._strings)
        return self._strings

    def styles(self) -> tuple[set[str], set[str]]:
        """The cell formats (as the ``s`` attribute spells them) that show dates, and those
        that show durations."""
        if self._styles is None:
            dates, durations = set(), set()
            member = self.parts.get("styles")
            if member and member in self.archive:
                found = self._elements(member, MAIN, ("numFmt", "cellXfs", "xf"))
                custom = {
                    a.get("numFmtId"): a.get("formatCode", "") for k, a in found if k == "numFmt"
                }
                formats = [a.get("numFmtId", "0") for k, a in found if k == "xf"]
                for index, ident in enumerate(formats):
                    if ident in custom:
                        is_date, is_duration = _date_format(custom[ident])
                    else:
                        number = int(ident) if ident.isascii() and ident.isdigit() else 0
                        is_date = number in BUILTIN_DATES
                        is_duration = number in BUILTIN_DURATIONS
                    if is_date:
                        dates.add(str(index))
                    if is_duration:
                        durations.add(str(index))
            self._styles = (dates, durations)
        return self._styles

    def read(self, name: str, min_row: int, max_row: int | None) -> SheetRead:
        for sheet_name, kind, member in self.sheets:
            if sheet_name == name and kind == "sheet":
                return SheetRead(self, member, min_row, max_row)
        raise Problem("no_sheet")


def _member(target: str) -> str:
    """A relationship target as a member name: relative to xl/, or absolute in the package."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join("xl", target))


def _date_format(code: str) -> tuple[bool, bool]:
    """Whether a number format shows a date or time, and whether it shows a duration
    (``[h]:mm``): its first section read, with quoted text, escaped characters and
    ``[Red]`` or ``[$-413]`` brackets left out."""
    plain, bracket = [], None
    quoted = escaped = duration = False
    for char in code.split(";")[0]:
        if escaped:
            escaped = False
        elif quoted:
            quoted = char != '"'
        elif bracket is not None:
            if char == "]":
                duration = duration or bracket.lower() in ("h", "hh", "m", "mm", "s", "ss")
                bracket = None
            else:
                bracket += char
        elif char == '"':
            quoted = True
        elif char == "[":
            bracket = ""
        elif char in "\\_":
            escaped = True
        else:
            plain.append(char)
    text = "".join(plain).lower()
    return duration or any(c in text for c in "dmyhs"), duration


# --- shared strings -------------------------------------------------------------------------


class Strings:
    """The shared-strings table, kept as one block of UTF-8 with offsets rather than a Python
    object per entry (a few bytes per entry instead of about sixty)."""

    NAMES = _local_names(MAIN, ("si", "t", "rPh"))

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.offsets = array("Q", [0])
        self.parts: list[str] | None = None
        self.capture = False
        self.size = 0
        self.phonetic = 0
        self.depth = 0
        self.cache: dict[int, str] = {}

    def __getitem__(self, index: int) -> str:
        found = self.cache.get(index)
        if found is None:
            found = self.data[self.offsets[index] : self.offsets[index + 1]].decode()
            if len(self.cache) < 65_536:
                self.cache[index] = found
        return found

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def start(self, name: str, attrs: dict) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Problem("damaged")
        local = self.NAMES.get(name)
        if local == "si":
            self.parts, self.size, self.phonetic = [], 0, 0
        elif local == "t":
            self.capture = self.parts is not None and not self.phonetic
        elif local == "rPh":
            self.phonetic += 1

    def text(self, data: str) -> None:
        if self.capture:
            self.size += len(data)
            if self.size > MAX_TEXT:
                raise Problem("cell_text", n=MAX_TEXT)
            self.parts.append(data)

    def end(self, name: str) -> None:
        self.depth -= 1
        local = self.NAMES.get(name)
        if local == "t":
            self.capture = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "si" and self.parts is not None:
            if len(self) >= self.limit:
                raise Problem("strings", n=self.limit)
            # openpyxl drops the escape of a literal "_x" the same way, so a round trip
            # through our own export reads back as it was written.
            self.data += "".join(self.parts).replace("x005F_", "").encode()
            self.offsets.append(len(self.data))
            self.parts = None


# --- a sheet --------------------------------------------------------------------------------


class SheetRead:
    """One pass over a sheet's rows, handed out in batches."""

    def __init__(self, book: Book, member: str, min_row: int, max_row: int | None) -> None:
        dates, durations = book.styles()
        self.handler = _Sheet(
            book.strings(),
            dates,
            durations,
            EPOCH_1904 if book.date1904 else EPOCH_1900,
            min_row,
            max_row,
            book.limits,
        )
        self.chunks = parse(book.archive, member, self.handler)
        self.done = False

    def batch(self) -> dict:
        handler = self.handler
        while not self.done and len(handler.ready) < BATCH_ROWS and handler.chars < BATCH_CHARS:
            try:
                next(self.chunks)
            except StopIteration:
                self.done = True
        rows, handler.ready, handler.chars = handler.ready, [], 0
        return {"rows": rows, "more": not self.done}


class _Sheet:
    """expat callbacks for a worksheet: one cell's parts at a time, never a tree."""

    NAMES = _local_names(MAIN, ("sheetData", "row", "c", "v", "f", "is", "t", "rPh"))

    def __init__(self, strings, dates, durations, epoch, min_row, max_row, limits) -> None:
        self.strings, self.dates, self.durations, self.epoch = strings, dates, durations, epoch
        self.min_row, self.max_row = min_row, max_row
        self.max_columns, self.max_cells = limits["max_columns"], limits["max_cells"]
        self.depth = 0
        self.in_data = False
        self.row = 0  # the row being read; 0 between rows
        self.last_row = 0
        self.column = 0  # the last column seen in this row
        self.cells: list = []
        self.cell: dict | None = None  # the attributes of the <c> being read
        self.value = self.formula = None
        self.has_formula = False
        self.inline: list[str] | None = None
        self.parts: list[str] | None = None
        self.target = ""
        self.size = 0
        self.phonetic = 0
        self.shared_formulas: dict[str, str] = {}
        self.formula_attrs: dict = {}
        self.count = 0
        self.ready: list = []
        self.chars = 0

    def start(self, name: str, attrs: dict) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Problem("damaged")
        local = self.NAMES.get(name)
        if local is None:
            return
        if self.cell is not None:
            if local == "v":
                self.parts, self.target = [], "v"
            elif local == "f":
                self.has_formula, self.formula_attrs = True, attrs
                self.parts, self.target = [], "f"
            elif local == "is":
                self.inline = []
            elif local == "t" and self.inline is not None and not self.phonetic:
                self.parts, self.target = [], "t"
            elif local == "rPh":
                self.phonetic += 1
        elif local == "c":
            if self.row:
                self.cell = attrs
                self.value = self.formula = self.inline = None
                self.has_formula, self.size = False, 0
        elif local == "row":
            if self.in_data:
                self._start_row(attrs)
        elif local == "sheetData":
            self.in_data = True

    def text(self, data: str) -> None:
        if self.parts is not None:
            self.size += len(data)
            if self.size > 2 * MAX_TEXT:
                raise Problem("cell_text", n=MAX_TEXT)
            self.parts.append(data)

    def end(self, name: str) -> None:
        self.depth -= 1
        local = self.NAMES.get(name)
        if local is None:
            return
        if local == self.target and self.parts is not None:
            text = "".join(self.parts)
            self.parts, self.target = None, ""
            if local == "v":
                self.value = text
            elif local == "f":
                self.formula = text
            else:
                self.inline.append(text)
        elif local == "c":
            if self.cell is not None:
                self._end_cell()
                self.cell = None
        elif local == "rPh":
            self.phonetic = max(0, self.phonetic - 1)
        elif local == "row":
            if self.row:
                if self.cells and self.row >= self.min_row:
                    self.ready.append([self.row, self.cells])
                self.row, self.cells = 0, []
        elif local == "sheetData":
            raise _Stop  # nothing after the rows matters

    def _start_row(self, attrs: dict) -> None:
        r = attrs.get("r")
        if r is None:
            number = self.last_row + 1
        elif r.isascii() and r.isdigit() and len(r) <= 7:
            number = int(r)
        else:
            raise Problem("damaged")
        if number <= self.last_row or number > EXCEL_ROWS:
            raise Problem("damaged")  # rows out of order, or beyond Excel's last
        if self.max_row is not None and number > self.max_row:
            raise _Stop
        self.row = self.last_row = number
        self.column = 0
        self.cells = []

    def _end_cell(self) -> None:
        attrs = self.cell
        r = attrs.get("r")
        column = self.column + 1 if r is None else COLUMNS.get(r.rstrip("0123456789"), 0)
        if column <= self.column or column > EXCEL_COLUMNS:
            raise Problem("damaged")  # out of order, repeated, or not a cell reference
        self.column = column
        kind, value = self._value(attrs)
        if kind is None:
            return  # an empty cell, perhaps only formatted: never counted, never sent
        if column > self.max_columns:
            raise Problem("columns", n=self.max_columns)
        self.count += 1
        if self.count > self.max_cells:
            raise Problem("cells", n=self.max_cells)
        if kind == "s":
            if len(value) > MAX_TEXT:
                raise Problem("cell_text", n=MAX_TEXT)
            self.chars += len(value)
        self.cells.append([column, kind, value])

    def _value(self, attrs: dict) -> tuple[str | None, object]:
        kind = attrs.get("t", "n")
        if self.has_formula:
            text = self.formula or ""
            shared = self.formula_attrs.get("si")
            if self.formula_attrs.get("t") == "shared" and shared is not None:
                if text:
                    self.shared_formulas.setdefault(shared, text)
                else:
                    text = self.shared_formulas.get(shared, "")
            return "f", "=" + text
        if kind == "inlineStr":
            if self.inline is None:
                return None, None
            return "s", "".join(self.inline)
        value = self.value
        if not value:
            return None, None
        if kind == "n":
            return self._number(value, attrs.get("s"))
        if kind == "s":
            if not (value.isascii() and value.isdigit()) or int(value) >= len(self.strings):
                raise Problem("damaged")
            return "s", self.strings[int(value)]
        if kind == "str":
            return "s", value
        if kind == "b":
            if value in ("0", "1", "true", "false"):
                return "b", value in ("1", "true")
            return "e", value[:40]
        if kind == "e":
            return "e", value[:40]
        if kind == "d":
            try:
                return "d", datetime.fromisoformat(value).isoformat()
            except ValueError:
                return "e", value[:40]
        raise Problem("damaged")

    def _number(self, text: str, style: str | None) -> tuple[str, object]:
        """A number, or an error cell when the cell says it is a number and is not one
        (``abc``, ``NaN``, ``1e999``): the importer reports it on its row."""
        if len(text) > 64 or not text.isascii() or "_" in text:
            return "e", text[:40]
        try:
            if "." in text or "e" in text or "E" in text:
                number = float(text)
                if not math.isfinite(number):
                    return "e", text[:40]
            else:
                number = int(text)
        except ValueError:
            return "e", text[:40]
        if style is not None and style in self.dates and style not in self.durations:
            return self._date(number)
        return "n", number

    def _date(self, number: float) -> tuple[str, object]:
        try:
            day, fraction = divmod(number, 1)
            diff = timedelta(milliseconds=round(fraction * 86_400_000))
            if 0 <= number < 1 and diff.days == 0:
                hours, rest = divmod(diff.seconds, 3600)
                minutes, seconds = divmod(rest, 60)
                return "t", f"{hours:02}:{minutes:02}:{seconds:02}.{diff.microseconds:06}"
            if 0 < number < 60 and self.epoch == EPOCH_1900:
                day += 1  # Excel's 1900 calendar has a 29 February 1900 that never was
            return "d", (self.epoch + timedelta(days=day) + diff).isoformat()
        except (OverflowError, ValueError):
            return "e", "#VALUE!"


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
    try:
        book = Book(int(sys.argv[2]), limits)
        send({"book": {"sheets": [[name, kind] for name, kind, _ in book.sheets]}})
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
