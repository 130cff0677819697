"""Who may call which route: one mechanism, declared on every view.

A view says ``@allow("admin", "quality")`` or ``@public``; a before-request hook enforces it.
A view without a declaration is refused for everybody, so a new route cannot be open by
accident (and a test walks the URL map to make sure every route has one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, request
from flask_login import current_user

PUBLIC = "public"
ALL_ROLES = frozenset({"admin", "quality", "member", "viewer"})
EDITORS = ("admin", "quality")
ADMINS = ("admin",)
READERS = tuple(sorted(ALL_ROLES))

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
