"""Who may call which route: one mechanism, declared on every view.

A view says ``@allow(*EDITORS)`` or ``@public``; a before-request hook enforces it.
A view without a declaration is refused for everybody, so a new route cannot be open by
accident (and a test walks the URL map to make sure every route has one).

The groups of roles are named once, in ``audit/domain/roles.py`` (the domain needs them too:
who votes, who runs a session); views and templates use these names, and a link or menu item
asks ``may_open(endpoint)`` (the route's own declaration) instead of repeating who may follow
it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, request
from flask_login import current_user

# The groups of roles are the domain's (audit/domain/roles.py); the web layer names them from
# there, so views and templates say ``EDITORS`` and never list roles themselves.
from audit.domain.roles import (  # noqa: F401 - the names views import from here
    ACTION_OWNERS,
    ADMINS,
    ALL_ROLES,
    COUNCIL_ADVISERS,
    EDITORS,
    FIGURE_READERS,
    READERS,
    ROLES,
    VOTERS,
)

PUBLIC = "public"

F = TypeVar("F", bound=Callable)


def allow(*roles: str) -> Callable[[F], F]:
    unknown = set(roles) - ALL_ROLES
    if unknown or not roles:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view: F) -> F:
        view.access = frozenset(roles)
        return view

    return decorate


def public(view: F) -> F:
    view.access = PUBLIC
    return view


def access_of(app: Flask, endpoint: str) -> frozenset[str] | str | None:
    view = app.view_functions.get(endpoint)
    return getattr(view, "access", None)


def may_open(endpoint: str, app: Flask | None = None) -> bool:
    """Whether the current user gets past the access rule of ``endpoint``: what a link or menu
    item to it asks, so that it shows exactly when following it would not be refused."""
    access = access_of(app or current_app, endpoint)
    if access is None:
        return False
    if access == PUBLIC:
        return True
    return current_user.is_authenticated and current_user.role in access


def enforce() -> None:
    if request.endpoint is None:  # no route matched: let Flask answer 404/405
        return
    access = access_of(current_app, request.endpoint)
    if access is None:
        abort(403)
    if access == PUBLIC:
        return
    if not current_user.is_authenticated:
        abort(current_app.login_manager.unauthorized())
    if current_user.role not in access:
        abort(403)


def init_app(app: Flask) -> None:
    app.before_request(enforce)
    public(app.view_functions["static"])
    app.jinja_env.globals["may_open"] = may_open
