"""Helpers every blueprint shares: form errors from the domain, ids from URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, flash
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, SelectChoice
from wtforms.validators import StopValidation

from audit.core.errors import AuditError, Conflict, NotFound, ValidationError
from audit.core.text import too_long
from audit.store.db import SQLITE_INT_MAX, get_db

T = TypeVar("T")


def show_errors(
    form: FlaskForm, error: ValidationError, aliases: dict[str, str] | None = None
) -> None:
    """Put a domain ValidationError's messages next to the matching fields of the form.

    Messages for fields the form does not have are shown at the top of the form, so nothing the
    domain says is lost.
    """
    aliases = aliases or {}
    for name, messages in error.errors.items():
        field = form._fields.get(aliases.get(name, name))
        target = list(field.errors) if field is not None else None
        if field is not None:
            field.errors = target + [str(m) for m in messages]
        else:
            form.form_errors.extend(str(m) for m in messages)


class MaxLength:
    """A form check that text has at most ``limit`` characters, with the domain's message.

    Unlike WTForms' ``Length`` it gives the field no ``maxlength`` attribute: with one, a
    browser cuts pasted text at the limit without a word, and the user never learns that the
    end of their text is gone. Here the text arrives whole and is refused with its length."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, form: FlaskForm, field: Field) -> None:
        length = len(field.data or "")
        if length > self.limit:
            raise StopValidation(str(too_long(self.limit, length)))


def int_or_none(value: str | None) -> int | None:
    """A number typed into a URL or form, or None when it is none, or larger than any id or
    count SQLite can hold (such a number would break the query instead of matching nothing)."""
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is None or abs(number) <= SQLITE_INT_MAX else None


def id_arg(args: Any, name: str, loader: Callable[..., Any]) -> int | None:
    """An id filter in the URL (``?team=3``): None when none is given, else the id of something
    ``loader(db, id)`` finds. Anything else (not a number, larger than any id, or naming nothing)
    is a 404: a tampered or stale link must not quietly show the figures of everything."""
    raw = args.get(name)
    if raw in (None, ""):
        return None
    number = int_or_none(raw)
    if number is None:
        abort(404)
    get_or_404(loader, number)
    return number


def int_id(value: Any) -> int:
    """WTForms ``coerce`` for ids: a value SQLite cannot hold is refused like any non-number."""
    number = int(value)
    if abs(number) > SQLITE_INT_MAX:
        raise ValueError(value)
    return number


def form_version(raw: str | None) -> int:
    """The version a form was loaded at (its hidden ``version`` field). Without one a stale
    edit could not be noticed, so a form that lost it is refused rather than saved blind."""
    version = int_or_none(raw)
    if version is None:
        raise Conflict(_l("This form is incomplete. Reload the page and make your change again."))
    return version


def get_or_404(loader: Callable[..., Any], *args: Any) -> Any:
    """``loader(db, *args)``, or a 404 page when the domain says there is no such thing."""
    try:
        return loader(get_db(), *args)
    except NotFound:
        abort(404)


def choices(pairs: Any) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select options."""
    return [SelectChoice(value, label) for value, label in pairs]


class Problems(dict[str, list[str]]):
    """What ``attempt()`` found wrong, for a page that shows messages without a WTForms form:
    messages by field (``""`` for the page as a whole) and the HTTP status that fits them.
    Empty (and false) when the action succeeded."""

    status: int = 200

    def flash(self) -> None:
        """Show the messages on the next page (the view redirects)."""
        for messages in self.values():
            for message in messages:
                flash(message, "error")


# The HTTP status of a page that shows a refused action again: what the user typed was wrong,
# the thing changed meanwhile, or it is gone.
_STATUS = {ValidationError: 400, Conflict: 409, NotFound: 404}


def attempt(
    target: FlaskForm | Problems | None,
    action: Callable[[], T],
    aliases: dict[str, str] | None = None,
) -> T | None:
    """Run a domain action; the one way a view turns what the user got wrong into messages.

    Field errors (``ValidationError``) go next to their fields and anything else the domain
    refuses (a stale or no longer fitting change, a thing that is gone, a failed login) above
    the form. ``target`` is the form, a ``Problems`` for a page without one, or None when the
    view redirects: then the messages are flashed. ``aliases`` maps the domain's field names
    to the form's (``""`` names the field for messages about the whole form). The result comes
    back only when the action succeeded; for an action that returns nothing, the target's
    errors tell.
    """
    try:
        return action()
    except ValidationError as error:
        errors = error.errors
        status = 400
    except AuditError as error:
        errors = {"": [error.message]}
        status = next((s for kind, s in _STATUS.items() if isinstance(error, kind)), 400)
    if isinstance(target, Problems):
        for name, messages in errors.items():
            target.setdefault(name, []).extend(str(m) for m in messages)
        target.status = max(target.status, status)
    elif target is None:
        for messages in errors.values():
            for message in messages:
                flash(str(message), "error")
    else:
        show_errors(target, ValidationError(errors), aliases)
    return None
