"""What every page shares: login wiring, blueprints, security headers, error pages."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, render_template, request, session
from flask_babel import LazyString, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, LoginManager, current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from audit.access import may_open
from audit.domain import users
from audit.domain.actions import owns_open
from audit.domain.teams import sees_every_team
from audit.i18n import LANGUAGES
from audit.store.db import SQLITE_INT_MAX, close_db, get_db, problem_kind

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

# Strict: nothing inline, so an injected <script> or style attribute does nothing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any
    prefix: str  # endpoints starting with this mark the item as the current page
    hint: Any = None
    # Shown only when this says so too (besides the page's access rule): "My actions" only
    # to someone who owns an open action.
    when: Callable[[], bool] | None = None


def _owns_open_actions() -> bool:
    return current_user.is_authenticated and owns_open(get_db(), current_user)


def _team_menu_label() -> str:
    """ "Our team" for a member, who sees only their own teams; "Teams" for the roles that may
    open every team."""
    if current_user.is_authenticated and sees_every_team(current_user):
        return _("Teams")
    return _("Our team")


NAV = [
    NavItem("main.index", _l("Start"), "main.index"),
    NavItem(
        "rules.register_page",
        _l("Register"),
        "rules.",
        _l("Every rule with its origin, scope, time and effect on the relation."),
    ),
    NavItem(
        "sessions.index",
        _l("Review sessions"),
        "sessions.",
        _l("Teams decide together which rules to keep, adapt or drop."),
    ),
    NavItem(
        "teams.index",
        LazyString(_team_menu_label),
        "teams.",
        _l("A team's rules, its figures, what it decided and the sessions to vote in."),
    ),
    NavItem(
        "dashboard.index",
        _l("Dashboard"),
        "dashboard.",
        _l("The self-invented share, myths and hours given back."),
    ),
    NavItem(
        "actions.mine",
        _l("My actions"),
        "actions.mine",
        _l("The follow-up actions of decisions that are yours to do."),
        when=_owns_open_actions,
    ),
    NavItem(
        "rule_reports.new",
        _l("Report a rule"),
        "rule_reports.",
        _l("Tell the quality manager which rule costs you time, and where you think it is from."),
    ),
    NavItem(
        "rule_reports.inbox",
        _l("Reports"),
        "rule_reports.inbox",
        _l("Rules colleagues reported: accept, add to a rule, or decline."),
    ),
    NavItem(
        "rules.tracing",
        _l("Tracing work-list"),
        "rules.trac",
        _l("Rules not yet traced, and rules past their review date."),
    ),
    NavItem(
        "admin.user_list",
        _l("Administration"),
        "admin.",
        _l("Users, locations and teams, settings."),
    ),
]


def nav_items() -> list[NavItem]:
    """The menu for the current user: exactly the items whose page's access rule lets them in
    (the menu does not keep a list of roles of its own)."""
    if not current_user.is_authenticated:
        return []
    return [item for item in NAV if may_open(item.endpoint) and (item.when is None or item.when())]


def current_nav_item() -> str | None:
    """The menu item the current page belongs to: the one with the longest matching prefix."""
    endpoint = request.endpoint or ""
    matches = [item for item in NAV if endpoint.startswith(item.prefix)]
    return max(matches, key=lambda item: len(item.prefix)).endpoint if matches else None


@login_manager.user_loader
def _load_user(token: str) -> users.User | None:
    return users.load_session_user(get_db(), token)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "static":
        # Pages and Excel downloads show names, votes and the register: no shared-PC browser
        # cache or proxy keeps them (send_file's "no-cache" would still store them).
        response.headers["Cache-Control"] = "no-store"
    return response


ERROR_MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have access to this page."),
    404: _l("This page does not exist."),
    405: _l("This action is not possible here."),
    413: _l("The file is too large."),
    429: _l(
        "Too many failed login attempts from your address. Please wait a few minutes and try again."
    ),
    500: _l("Something went wrong on our side. Nothing you entered was saved."),
}


def _error_page(error: HTTPException):
    if error.response is not None:  # e.g. the login redirect raised through abort()
        return error.response
    code = error.code or 500
    message = ERROR_MESSAGES.get(code, error.description)
    return _render_error(code, message)


def _csrf_error(_error: CSRFError):
    message = _l("This form has expired or was not sent from this site. Reload it and try again.")
    return _render_error(400, message)


def _server_error(error: Exception):
    original = getattr(error, "original_exception", None)
    if isinstance(original, sqlite3.Error):  # raised while an error page was being made
        return _database_error(original)
    return _render_error(500, ERROR_MESSAGES[500])


DATABASE_MESSAGES = {
    "readonly": _l(
        "The database can only be read at the moment, so nothing could be saved. Please tell"
        " your administrator."
    ),
    "full": _l(
        "The server's disk is full, so nothing could be saved. Please tell your administrator."
    ),
    "busy": _l("The database is busy. Nothing was saved; please try again in a moment."),
    "other": _l(
        "The database could not be used. Nothing was saved. Please tell your administrator."
    ),
}
# Below this much free space beside the database, a failed write is put down to a full disk:
# SQLite reports a disk that fills up while it grows its shared-memory file as an I/O error.
LOW_DISK_BYTES = 1024 * 1024


def _database_problem(error: sqlite3.Error) -> str:
    """The kind of DATABASE_MESSAGES, by SQLite's result code (see ``db.problem_kind``)."""
    kind = problem_kind(error)
    if kind == "io":
        try:
            free = shutil.disk_usage(Path(current_app.config["DATABASE"]).parent).free
        except OSError:
            return "other"
        return "full" if free < LOW_DISK_BYTES else "other"
    return kind


def _database_error(error: sqlite3.Error):
    """A database that cannot be written (read-only file, full disk, a long lock) is a
    situation, not a bug: say what happened, keep the stack trace for the log. The page is
    made without the database, which is what failed."""
    kind = _database_problem(error)
    current_app.logger.error("database error on %s: %s", request.path, error)
    return _page_without_database(503, DATABASE_MESSAGES[kind])


def _render_error(code: int, message):
    try:
        return render_template("errors/error.html", code=code, message=message), code
    # The layout needs the database (the menu, the language): without it, the plain page.
    except Exception as error:  # noqa: BLE001
        current_app.logger.error("error page %s without the layout: %s", code, error)
        return _page_without_database(code, message)


def _language_without_database() -> str:
    """The language for a page made while the database cannot be read: the user's choice as
    kept in the session at login or on the language switch, else the browser's."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return (
        request.accept_languages.best_match(LANGUAGES) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def _page_without_database(code: int, message):
    close_db()
    # Flask-Login must not try to load the user and Flask-Babel must not ask the organisation's
    # language: both read the database.
    g._login_user = AnonymousUserMixin()
    g.force_locale = _language_without_database()  # used unless the language is known already
    try:
        return render_template("errors/unavailable.html", code=code, message=message), code
    except Exception:  # the last resort must not fail: no template, no translation  # noqa: BLE001
        current_app.logger.exception("the error page without a database failed")
        return f"<!doctype html><title>{code}</title><p>Error {code}</p>", code


def bound_url_integers(app: Flask) -> None:
    """Numbers in URLs (``/rules/<int:rule_id>``) larger than SQLite can hold are no page:
    404, rather than an OverflowError when the id reaches the database. Done before the
    blueprints register, since a rule takes its converter when it is added."""
    app.url_map.converters["int"] = BoundedIntegerConverter


class BoundedIntegerConverter(IntegerConverter):
    def __init__(self, url_map, fixed_digits: int = 0, min=None, max=SQLITE_INT_MAX):  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max)


def init_app(app: Flask) -> None:
    from audit.views import (
        actions,
        admin,
        auth,
        categories,
        dashboard,
        display,
        experiments,
        imports,
        main,
        protocols,
        reports,
        rule_reports,
        rules,
        sessions,
        strategies,
        teams,
    )

    login_manager.init_app(app)
    blueprints = (
        auth,
        main,
        admin,
        rules,
        protocols,
        categories,
        dashboard,
        sessions,
        teams,
        reports,
        imports,
        rule_reports,
        actions,
        strategies,
        experiments,
    )
    for blueprint in (module.bp for module in blueprints):
        app.register_blueprint(blueprint)
    display.init_app(app)
    actions.init_app(app)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(500, _server_error)
    app.register_error_handler(sqlite3.Error, _database_error)

    @app.context_processor
    def _globals():
        return {"endpoint": request.endpoint or ""}

    app.jinja_env.globals.update(
        nav_items=nav_items,
        current_nav_item=current_nav_item,
        current_language=lambda: str(get_locale() or "nl"),
        role_label=lambda role: users.ROLE_LABELS.get(role, role),
    )
