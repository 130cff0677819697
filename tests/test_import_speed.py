"""The import keeps Python's cycle collector out of its way, and gives it back afterwards.

Reading and writing 10,000 rows makes millions of objects that live until the import ends;
every collection walks them all again. The collector is paused while an import reads its rows
and while it writes them (audit/xlsx/importer.py, ``_cycle_collector_paused``)."""

from __future__ import annotations

import gc
import threading

import pytest

from audit.domain import rules
from audit.xlsx import importer as xlsx_import
from tests.test_xlsx_import import _row, workbook


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_collector_is_paused_while_rows_are_read_and_written(
    app, db, tmp_path, monkeypatch, collector_on
):
    seen = []
    read_row = xlsx_import._RowReader.row

    def row(self, *args):
        seen.append(("read", gc.isenabled()))
        return read_row(self, *args)

    create_rules = rules.create_rules

    def create(*args, **kwargs):
        seen.append(("write", gc.isenabled()))
        return create_rules(*args, **kwargs)

    monkeypatch.setattr(xlsx_import._RowReader, "row", row)
    monkeypatch.setattr(rules, "create_rules", create)
    path = workbook(tmp_path / "a.xlsx", [_row(Title="Een"), _row(Title="Twee")])
    with app.app_context():
        plan = xlsx_import.read_plan(db, path, filename="a.xlsx")
        assert gc.isenabled()  # back on between reading and writing
        counts = xlsx_import.apply_plan(db, None, plan)
    assert counts["create"] == 2
    assert seen == [("read", False), ("read", False), ("write", False)]
    assert gc.isenabled()


def test_collector_is_back_after_a_refused_file(app, db, tmp_path, collector_on):
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    with app.app_context(), pytest.raises(xlsx_import.ImportFileError):
        xlsx_import.read_plan(db, path, filename="empty.xlsx")
    assert gc.isenabled()


def test_collector_left_off_when_it_was_off(app, db, tmp_path):
    was = gc.isenabled()
    gc.disable()
    try:
        path = workbook(tmp_path / "a.xlsx", [_row(Title="Een")])
        with app.app_context():
            xlsx_import.read_plan(db, path, filename="a.xlsx")
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_imports_side_by_side_share_one_pause(collector_on):
    """The first import to end must not switch the collector on under one still running."""
    inside, release = threading.Event(), threading.Event()
    states = []

    def long_import():
        with xlsx_import._cycle_collector_paused():
            inside.set()
            release.wait(5)
            states.append(gc.isenabled())

    other = threading.Thread(target=long_import)
    other.start()
    assert inside.wait(5)
    with xlsx_import._cycle_collector_paused():
        pass  # a short import ends while the long one still runs
    states.append(gc.isenabled())
    release.set()
    other.join(5)
    assert states == [False, False]
    assert gc.isenabled()
