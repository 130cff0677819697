"""Time in one place, so tests can move it and every stored timestamp has the same form.

Every module calls ``clock.now()``, ``clock.today()`` or ``clock.now_iso()`` through this module
at call time (never ``from audit.core.clock import now``), so that ``clock.set(moment)``
moves the time that every part of the app sees at once.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

# The time set by ``set``; None: the real time.
_fixed: datetime | None = None


def now() -> datetime:
    return _fixed if _fixed is not None else datetime.now(UTC)


def now_iso() -> str:
    """UTC, second precision, sortable as text: the form every timestamp column holds."""
    return now().replace(microsecond=0).isoformat()


def today() -> date:
    return now().date()


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class _Restore(contextlib.AbstractContextManager):
    """What ``set`` returns: on leaving a ``with`` block, the time before ``set`` comes back."""

    def __init__(self, previous: datetime | None) -> None:
        self.previous = previous

    def __exit__(self, *_exc: object) -> None:
        global _fixed
        _fixed = self.previous


def set(moment: datetime | None) -> _Restore:  # noqa: A001 - read as ``clock.set``
    """Stand the clock still at ``moment`` (aware; None: the real time again), for every module.

    Usable as a statement (tests reset it after each test, see tests/conftest.py) or as
    ``with clock.set(moment):`` to set it for a block only.
    """
    global _fixed
    if moment is not None and moment.tzinfo is None:
        raise ValueError("clock.set needs an aware datetime")
    previous, _fixed = _fixed, moment
    return _Restore(previous)


def advance(delta: timedelta | float) -> datetime:
    """Move a set clock on by ``delta`` (seconds or a timedelta); returns the new time."""
    if not isinstance(delta, timedelta):
        delta = timedelta(seconds=delta)
    set(now() + delta)
    return now()


def reset() -> None:
    """Back to the real time."""
    set(None)
