"""Dutch and English: which language a request gets, and formatting per language."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache

from babel.numbers import NumberPattern, parse_pattern
from flask import Flask, g, has_request_context, session
from flask_babel import Babel, format_date, format_datetime, get_locale
from flask_login import current_user

from audit.domain import organisation
from audit.store.db import get_db

LANGUAGES = {"nl": "Nederlands", "en": "English"}


def default_language() -> str:
    if "org_language" not in g:
        g.org_language = organisation.get_settings(get_db())["default_language"]
    return g.org_language


def select_locale() -> str:
    """The user's own choice, else the choice made on this browser, else the organisation's."""
    if not has_request_context():
        return "en"  # the CLI speaks English unless a command says otherwise
    if "force_locale" in g:
        return g.force_locale
    if current_user and current_user.is_authenticated and current_user.language:
        return current_user.language
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return default_language()


def _date(value: date | datetime | str | None, style: str = "medium") -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return format_datetime(value, style)
    return format_date(value, style)


@cache
def _pattern(digits: int, percent: bool) -> NumberPattern:
    """Babel's pattern for a number with ``digits`` decimals, parsed once: a dashboard shows
    hundreds of numbers, and parsing the pattern anew took most of each one's time."""
    return parse_pattern(
        ("#,##0." + "0" * digits if digits else "#,##0") + ("%" if percent else "")
    )


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return _pattern(digits, False).apply(value, get_locale())


def _percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return _pattern(digits, True).apply(value, get_locale())


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["date"] = _date
    app.jinja_env.filters["number"] = _number
    app.jinja_env.filters["percent"] = _percent
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
