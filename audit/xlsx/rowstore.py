"""Where an import plan keeps the values of its rows until they are written.

A plan is checked whole before anything is written, so every row's values must wait somewhere
between reading and writing. In Python objects that costs about 1.5 KB a row (10,000 rows: 15
MB, 50,000 rows: 75 MB), in the web server's own process. Here they wait in a private temporary
SQLite database instead: SQLite keeps its last pages in memory (``CACHE_KIB``) and the rest in a
temporary file it deletes when the store is closed, so the plan's memory stays flat however
long the sheet (docs/design.md, "Import").
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

CACHE_KIB = 1024
BATCH = 500


class RowStore:
    """Values of rows, numbered in the order they were added. Pickle is safe here: the store
    only ever holds what this process put in it, in a file no one else opens."""

    def __init__(self) -> None:
        # An empty name opens a private database in a temporary file, deleted on close.
        self._conn = sqlite3.connect("", check_same_thread=False)
        self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._conn.execute("CREATE TABLE row_values (n INTEGER PRIMARY KEY, value BLOB NOT NULL)")
        self._pending: list[tuple[int, bytes]] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, values: dict[str, Any]) -> int:
        """Keep ``values``; the number to ask for them again."""
        number = self._count
        self._count += 1
        self._pending.append((number, pickle.dumps(values, pickle.HIGHEST_PROTOCOL)))
        if len(self._pending) >= BATCH:
            self._flush()
        return number

    def _flush(self) -> None:
        if self._pending:
            self._conn.executemany("INSERT INTO row_values (n, value) VALUES (?, ?)", self._pending)
            self._pending.clear()

    def get(self, number: int) -> dict[str, Any]:
        return next(self.many([number]))

    def many(self, numbers: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The values of ``numbers``, in that order, read ``BATCH`` at a time."""
        self._flush()
        wanted = list(numbers)
        for start in range(0, len(wanted), BATCH):
            part = wanted[start : start + BATCH]
            marks = ",".join("?" * len(part))
            found = dict(
                self._conn.execute(f"SELECT n, value FROM row_values WHERE n IN ({marks})", part)
            )
            for number in part:
                yield pickle.loads(found[number])  # noqa: S301 (only our own rows, see the class)

    def close(self) -> None:
        self._pending.clear()
        self._conn.close()
