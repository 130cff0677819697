"""An import plan's memory does not grow with the values of its rows.

The plan keeps in memory what the preview shows of each row; the values wait in a temporary
SQLite database (audit/xlsx/rowstore.py) and are written a slice at a time (docs/design.md,
"Import plan"). Measured with tracemalloc, which counts Python's own allocations, so the
figure does not depend on the machine's load."""

from __future__ import annotations

import tracemalloc

import pytest

from audit.core.errors import ValidationError
from audit.domain import rules
from audit.xlsx import importer as xlsx_import
from audit.xlsx.rowstore import RowStore
from tests.test_xlsx_import import _row, workbook

ROWS = 3000
TEXT = "schoonmaak post familie maaltijd privacy medicatie koken kaarsen douchen " * 3


def test_a_plan_keeps_little_per_row_in_memory(app, db, tmp_path):
    rows = [
        _row(Code=f"M-{n}", Title=f"Regel {n} over koffie", Description=f"{TEXT} {n}")
        for n in range(ROWS)
    ]
    path = workbook(tmp_path / "big.xlsx", rows)
    with app.app_context():
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            plan = xlsx_import.read_plan(db, path, filename=path.name)
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert plan.summary()["create"] == ROWS
        # Each row's values (about 1.5 KB as Python objects with this text) are on disk;
        # what stays is the row's number, code, title and action.
        assert kept / ROWS < 800, f"{kept / ROWS:.0f} bytes a row"
        assert plan.rows[17].fields["description"].startswith("schoonmaak")
        counts = xlsx_import.apply_plan(db, None, plan)
    assert counts["create"] == ROWS
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == ROWS
    assert rules.find_by_code(db, "M-2999").description.endswith("2999")


def test_the_store_gives_values_back_in_the_order_asked():
    store = RowStore()
    try:
        numbers = [store.add({"n": n, "items": [n, str(n)]}) for n in range(1234)]
        assert len(store) == 1234
        wanted = list(reversed(numbers[::7]))
        assert [v["n"] for v in store.many(wanted)] == [n for n in wanted]
        assert store.get(1233) == {"n": 1233, "items": [1233, "1233"]}
    finally:
        store.close()


def test_cleaned_rules_still_have_their_references_checked(app, db):
    """The import's write skips cleaning the values a second time, not the check that the
    categories, teams and locations it names exist."""
    with app.app_context():
        values = dict(rules.rule_spec().defaults)
        values.update(title="Geen taart", code="", team_ids=[999])
        with pytest.raises(ValidationError) as error:
            rules.create_rules(db, None, [values], cleaned=True)
        assert "team_ids" in error.value.errors
        with pytest.raises(ValidationError):
            rules.create_rules(db, None, [{**values, "team_ids": [], "nonsense": 1}], cleaned=True)
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0
