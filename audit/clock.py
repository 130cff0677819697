"""Time in one place, so tests can move it and every stored timestamp has the same form."""

from __future__ import annotations

from datetime import UTC, date, datetime


def now() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    """UTC, second precision, sortable as text: the form every timestamp column holds."""
    return now().replace(microsecond=0).isoformat()


def today() -> date:
    return now().date()


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
