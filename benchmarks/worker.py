"""One measured operation in a fresh process, so its peak memory is its own.

python -m benchmarks.worker KIND ARGS... prints one JSON object: seconds and peak_mb.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_mb(status: Path = STATUS) -> float:
    """This process's peak resident memory in MB: the VmHWM line of /proc/self/status.

    Not getrusage's ru_maxrss: on Linux that keeps the peak of the process that forked and
    exec'd the worker, so a worker started by the benchmark (holding the large organisation in
    memory) would report the parent's peak instead of its own. VmHWM belongs to the memory of
    the program now running, which exec starts afresh.
    """
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            assert unit == "kB", line
            return int(value) / 1024
    raise RuntimeError(f"no VmHWM line in {status}: peak memory is measured on Linux only")


class ChildrenPeak:
    """The highest VmHWM of this process's children while the block runs, in MB.

    An import reads the workbook in a worker process of its own (audit/xlsx/worker.py), whose
    memory VmHWM of this process leaves out: its children are polled from /proc instead. VmHWM
    only grows, so a poll shortly before a child ends sees its peak. A child that has not yet
    exec'd its program still runs ours, in a copy of our memory that VmHWM counts: it is
    skipped until its command line is its own.
    """

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._ours = Path("/proc/self/cmdline").read_bytes()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def _children(self) -> set[int]:
        pids: set[int] = set()
        for task in Path("/proc/self/task").iterdir():
            try:
                pids.update(int(pid) for pid in (task / "children").read_text().split())
            except OSError:
                continue  # the thread ended meanwhile
        return pids

    def _poll(self) -> None:
        while not self._stop.is_set():
            for pid in self._children():
                try:
                    if Path(f"/proc/{pid}/cmdline").read_bytes() == self._ours:
                        continue  # forked, not yet exec'd: its memory is ours
                    self.peak_kb = max(
                        self.peak_kb, int(peak_mb(Path(f"/proc/{pid}/status")) * 1024)
                    )
                except (OSError, RuntimeError):
                    continue  # the child ended between the listing and the read
            self._stop.wait(self.every)

    def __enter__(self) -> ChildrenPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _app(database: str):
    from audit import create_app

    return create_app({"SECRET_KEY": "benchmark", "DATABASE": database})


def _register_rows(database: str) -> tuple[list[str], list[list]]:
    """The Register sheet's header and rows, as plain values (for the reference writers)."""
    from audit.domain import register, rules
    from audit.domain.register import RuleFilter
    from audit.store.db import connect
    from audit.xlsx import export as xlsx_export
    from audit.xlsx.columns import COLUMNS

    app = _app(database)
    db = connect(database)
    with app.app_context():
        ids = register.rule_ids(db, RuleFilter())
        rows = []
        for start in range(0, len(ids), 500):
            for rule in rules.get_rules(db, ids[start : start + 500]):
                values = xlsx_export.register_values(rule, "en")
                rows.append([values[c.key] for c in COLUMNS])
    return [c.en for c in COLUMNS], rows


def baseline() -> dict:
    import openpyxl  # noqa: F401

    import audit  # noqa: F401 - what every worker loads

    return {"seconds": 0.0}


def export(database: str, out: str) -> dict:
    from audit.store.db import connect
    from audit.xlsx import export as xlsx_export

    app = _app(database)
    db = connect(database)
    with app.app_context():
        started = time.perf_counter()
        xlsx_export.export_report(db, out, lang="en")
        return {"seconds": time.perf_counter() - started}


def export_register_only(database: str, out: str) -> dict:
    """Only the Register sheet, as the report writes it: the like-for-like comparison with
    pandas writing the same rows."""
    from flask_babel import force_locale
    from xlsxwriter.workbook import Workbook

    from audit.domain.register import RuleFilter
    from audit.store.db import connect
    from audit.xlsx import export as xlsx_export

    app = _app(database)
    db = connect(database)
    with app.app_context(), force_locale("en"):
        started = time.perf_counter()
        wb = Workbook(out, {"constant_memory": True, "strings_to_formulas": False})
        report = xlsx_export.Report(wb, "en", "Benchmark", "")
        xlsx_export.write_register(report, db, RuleFilter(), "Register", "en")
        wb.close()
        return {"seconds": time.perf_counter() - started}


def _report_frames(report: str, only: str | None = None) -> dict:
    """Every sheet of a report we wrote, as DataFrames of its cells (the first row the
    header; the Summary, which is no table, without one): pandas then writes exactly the cells
    the report holds."""
    import openpyxl
    import pandas

    wb = openpyxl.load_workbook(report, read_only=True)
    frames = {}
    for index, ws in enumerate(wb.worksheets):
        if only is not None and ws.title != only:
            continue
        rows = list(ws.iter_rows(values_only=True))
        if index == 0:
            frames[ws.title] = (pandas.DataFrame(rows), False)
        else:
            frames[ws.title] = (pandas.DataFrame(rows[1:], columns=list(rows[0])), True)
    wb.close()
    return frames


def _pandas_write(frames: dict, out: str) -> dict:
    import pandas

    started = time.perf_counter()
    with pandas.ExcelWriter(out, engine="xlsxwriter") as writer:
        for title, (frame, header) in frames.items():
            frame.to_excel(writer, sheet_name=title, index=False, header=header)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cells": sum(f.size + (f.shape[1] if h else 0) for f, h in frames.values()),
    }


def pandas_to_excel(report: str, out: str) -> dict:
    """pandas.to_excel (xlsxwriter engine) writing every sheet of our report, cell for cell;
    the frames are built before the clock starts."""
    return _pandas_write(_report_frames(report), out)


def pandas_register_sheet(report: str, out: str) -> dict:
    """pandas.to_excel writing the Register sheet of our report, the same rows."""
    return _pandas_write(_report_frames(report, only="Register"), out)


def xlsxwriter_constant_memory(database: str, out: str) -> dict:
    import xlsxwriter

    header, rows = _register_rows(database)
    started = time.perf_counter()
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = workbook.add_worksheet("Register")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, header)
    for index, row in enumerate(rows, 1):
        for column, value in enumerate(row):
            if hasattr(value, "isoformat") and not isinstance(value, str):
                sheet.write_datetime(index, column, value, date_format)
            elif isinstance(value, str):
                sheet.write_string(index, column, value)
            elif value is not None:
                sheet.write_number(index, column, value)
    workbook.close()
    return {"seconds": time.perf_counter() - started, "rows": len(rows)}


def import_workbook(database: str, workbook: str) -> dict:
    """Check and import a whole Register sheet into an empty database. The time includes
    loading the application and Flask's start-up, as ``pandas_read_excel`` includes loading
    pandas: each side is timed as the process it takes."""
    started = time.perf_counter()
    from audit.store.db import connect
    from audit.xlsx import importer as xlsx_import

    app = _app(database)
    db = connect(database)
    with app.app_context():
        startup = time.perf_counter() - started
        with ChildrenPeak() as reader:
            plan = xlsx_import.read_plan(
                db,
                Path(workbook),
                filename="register.xlsx",
                create_teams=True,
                max_bytes=200 * 1024 * 1024,
            )
        read = time.perf_counter() - started - startup
        counts = xlsx_import.apply_plan(db, None, plan)
        return {
            "seconds": time.perf_counter() - started,
            "startup_seconds": startup,
            "read_seconds": read,
            "reader_peak_mb": round(reader.peak_mb, 1),
            "created": counts["create"],
            "invalid": counts["invalid"],
        }


def pandas_read_excel(workbook: str) -> dict:
    started = time.perf_counter()
    import pandas

    frame = pandas.read_excel(workbook, sheet_name="Register", engine="openpyxl")
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


KINDS = {
    "baseline": baseline,
    "export": export,
    "export_register": export_register_only,
    "pandas_to_excel": pandas_to_excel,
    "pandas_register": pandas_register_sheet,
    "xlsxwriter": xlsxwriter_constant_memory,
    "import": import_workbook,
    "pandas_read_excel": pandas_read_excel,
}


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    result = KINDS[kind](*args)
    result["peak_mb"] = round(peak_mb(), 1)
    print(json.dumps(result))
