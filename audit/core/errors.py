"""Errors a user can cause. The edges (views, CLI) turn them into form errors or messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AuditError(Exception):
    """Base for errors with a message meant for the user (lazy strings translate on display)."""

    def __init__(self, message: Any = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class ValidationError(AuditError):
    """Input that cannot be saved. ``errors`` maps a field name (or ``""``) to its messages."""

    def __init__(self, errors: Mapping[str, Any] | Any) -> None:
        if isinstance(errors, Mapping):
            self.errors = {k: v if isinstance(v, list) else [v] for k, v in errors.items()}
        else:
            self.errors = {"": [errors]}
        super().__init__("; ".join(str(m) for msgs in self.errors.values() for m in msgs))


class NotFound(AuditError):
    pass


class Conflict(AuditError):
    """The thing changed since the user loaded it (a stale edit) or the action no longer fits."""


class LoginFailed(AuditError):
    pass


def check(errors: dict[str, Any]) -> None:
    """Raise the collected field errors, if any: validators gather all of them, not the first."""
    if errors:
        raise ValidationError(errors)
