"""Reading an untrusted workbook without letting it near the server's memory or time.

The workbook is parsed by ``audit/xlsx/worker.py`` in a process of its own, which limits its
own address space and CPU seconds before it opens the file; this side starts it, keeps a
wall-clock deadline on every answer (and kills it when the deadline passes), and turns what it
streams back into rows shaped like openpyxl's read-only rows, so the importer reads them as it
always did. Every refusal comes back as an ``ImportFileError`` with a one-line message in the
user's language. See docs/security.md for the limits and the tests that hold them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from audit.core.errors import AuditError

WORKER = Path(__file__).with_name("worker.py")
MAX_LINE = 16 * 1024 * 1024  # far above the worker's answers (a batch holds about 1 MB of text)
log = logging.getLogger(__name__)


class ImportFileError(AuditError):
    """The file cannot be imported at all (the CLI exits with 2)."""


@dataclass(frozen=True)
class Limits:
    """What one workbook may cost. The defaults are the settings' defaults (README)."""

    max_columns: int = 200
    max_cells: int = 2_000_000
    max_unpacked: int = 200 * 1024 * 1024
    max_ratio: int = 100
    seconds: float = 60
    memory_mb: int = 256

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(
            max_columns=config["IMPORT_MAX_COLUMNS"],
            max_cells=config["IMPORT_MAX_CELLS"],
            max_unpacked=config["IMPORT_MAX_UNPACKED"],
            seconds=config["IMPORT_SECONDS"],
            memory_mb=config["IMPORT_WORKER_MEMORY_MB"],
        )

    def but(self, **changes: Any) -> Limits:
        return replace(self, **changes)


def _column_letter(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _message(code: str, params: dict, limits: Limits) -> Any:
    """The worker's error code in the user's language."""
    if code == "not_zip":
        return _l("This is not an Excel workbook (.xlsx): the file cannot be read as one.")
    if code == "damaged_zip":
        return _l("This is not an Excel workbook (.xlsx): the file is damaged.")
    if code == "encrypted":
        return _l(
            "This file is protected with a password, or is an old Excel file."
            " Save it as .xlsx without a password."
        )
    if code == "word":
        return _l("This is a Word document, not an Excel workbook.")
    if code == "not_workbook":
        return _l("This is not an Excel workbook (.xlsx).")
    if code == "macros":
        return _l("Workbooks with macros are not accepted. Save it as .xlsx without macros.")
    if code == "unpacks":
        return _l("The workbook unpacks to more than %(n)s MB.", n=params.get("n", 0))
    if code == "bomb":
        return _l(
            "The workbook unpacks to far more than its size: no real workbook is packed this"
            " tightly, so it is refused."
        )
    if code == "columns":
        n = params.get("n", limits.max_columns)
        return _l(
            "The sheet has values beyond column %(column)s; at most %(n)s columns are read.",
            column=_column_letter(n),
            n=n,
        )
    if code == "cells":
        return _l(
            "The sheet has more than %(n)s cells with a value.",
            n=params.get("n", limits.max_cells),
        )
    if code == "strings":
        return _l(
            "The workbook holds more than %(n)s different texts.",
            n=params.get("n", limits.max_cells),
        )
    if code == "cell_text":
        return _l(
            "A cell holds more than %(n)s characters, more than Excel itself allows.",
            n=params.get("n", 32767),
        )
    if code == "memory":
        return _l(
            "Reading the workbook needed more than %(n)s MB of memory, so it was stopped.",
            n=limits.memory_mb,
        )
    if code == "time":
        return _l(
            "Reading the workbook took longer than %(n)s seconds, so it was stopped.",
            n=format(limits.seconds, "g"),
        )
    return _l("The workbook cannot be read. Open it in Excel and save it again.")


class Cell:
    """A cell as the importer reads it (the two attributes of openpyxl's read-only cell)."""

    __slots__ = ("value", "data_type")

    def __init__(self, value: Any, data_type: str) -> None:
        self.value, self.data_type = value, data_type


EMPTY = Cell(None, "n")
_KINDS = {"s": "s", "n": "n", "b": "b", "d": "d", "t": "d", "f": "f", "e": "e"}


def _convert(kind: str, value: Any) -> Any:
    if kind == "d":
        return datetime.fromisoformat(value)
    if kind == "t":
        return time_of_day.fromisoformat(value)
    return value


class Sheet:
    def __init__(self, book: Workbook, title: str) -> None:
        self.book, self.title = book, title

    def iter_rows(
        self, min_row: int | None = None, max_row: int | None = None, values_only: bool = False
    ) -> Iterator[tuple]:
        """Rows from ``min_row`` on, numbered as in the sheet: a row without values comes as an
        empty tuple, and a row is as wide as its last value (not as the sheet claims)."""
        expected = min_row or 1
        for number, cells in self.book._rows(self.title, expected, max_row):
            while expected < number:
                yield ()
                expected += 1
            row: list[Any] = [None if values_only else EMPTY] * cells[-1][0]
            for column, kind, value in cells:
                value = _convert(kind, value)
                row[column - 1] = value if values_only else Cell(value, _KINDS[kind])
            yield tuple(row)
            expected = number + 1


class Workbook:
    """A workbook opened in a reading worker. Use it as a context manager (or ``close()``)."""

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        # The worker gets the open file, not its name: it needs no access to any folder.
        fd = os.open(path, os.O_RDONLY)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own worker, no shell
                [sys.executable, "-I", str(WORKER), json.dumps(asdict(self.limits)), str(fd)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(fd,),
                cwd="/",
                env={"LC_ALL": "C.UTF-8"},
            )
        finally:
            os.close(fd)
        self._finalizer = weakref.finalize(self, _end, self._process)
        self._deadline = time.monotonic() + self.limits.seconds
        self._buffer = bytearray()
        self._scanned = 0
        try:
            book = self._receive()["book"]
        except BaseException:
            self.close()
            raise
        self.sheetnames = [name for name, kind in book["sheets"] if kind == "sheet"]
        self.chartsheets = [name for name, kind in book["sheets"] if kind != "sheet"]

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getitem__(self, name: str) -> Sheet:
        if name not in self.sheetnames:
            raise KeyError(name)
        return Sheet(self, name)

    def close(self) -> None:
        self._finalizer()

    # --- talking to the worker --------------------------------------------------------------

    def _rows(self, name: str, min_row: int, max_row: int | None) -> Iterator[tuple[int, list]]:
        self._send({"read": name, "min_row": min_row, "max_row": max_row})
        while True:
            answer = self._receive()
            yield from answer["rows"]
            if not answer["more"]:
                return
            self._send({"next": True})

    def _send(self, command: dict) -> None:
        try:
            self._process.stdin.write(json.dumps(command).encode() + b"\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fail()

    def _receive(self) -> dict:
        """The next line from the worker, within the deadline."""
        stdout = self._process.stdout.fileno()
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                break
            self._scanned = len(self._buffer)
            left = self._deadline - time.monotonic()
            if left <= 0:
                self._fail("time")
            ready, _, _ = select.select([stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(stdout, 1 << 20)
            if not chunk:
                self._fail()
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE:
                self._fail("damaged")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        try:
            message = json.loads(line)
        except ValueError:
            self._fail("damaged")
        if "error" in message:
            code = message.pop("error")
            self.close()
            raise ImportFileError(_message(code, message, self.limits))
        return message

    def _fail(self, code: str | None = None) -> None:
        """End the worker and say why: the code given, or what its end tells."""
        process = self._process
        if code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
            code = "damaged"
            if process.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
                code = "time"  # the CPU limit, or killed at the deadline
            elif process.returncode is not None and process.returncode < 0:
                code = "memory"
        self.close()
        raise ImportFileError(_message(code, {}, self.limits))


def _end(process: subprocess.Popen) -> None:
    """Stop the worker. It holds nothing worth finishing, so it is killed, not asked."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream and not stream.closed:
            with contextlib.suppress(OSError):
                stream.close()
    if process.stderr and not process.stderr.closed:
        # The worker is gone, so this read ends; it says something only when the worker
        # failed in a way of its own (a traceback), which is worth a line in the log.
        text = process.stderr.read(1 << 16).decode(errors="replace").strip()
        process.stderr.close()
        if text:
            log.warning("the workbook reader said: %s", text[-2000:])


def open_workbook(path: str | Path, limits: Limits | None = None) -> Workbook:
    """Open ``path`` in a reading worker; refusals raise ``ImportFileError``."""
    return Workbook(path, limits)
