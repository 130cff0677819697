"""Settings: defaults that work with nothing configured, then instance/config.py, then the
environment. The secret key is generated into instance/config.py on first start."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "DATABASE": None,  # set from the instance folder unless configured
    "BUSY_TIMEOUT_MS": 10_000,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_MINUTES": 15,
    # Failed login attempts per client address before the form answers 429 (a limits string).
    "LOGIN_RATE_LIMIT": "10 per minute",
    "RATELIMIT_HEADERS_ENABLED": True,  # a 429 says when to try again (Retry-After)
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto (0: none, trust none).
    "TRUSTED_PROXIES": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "rule_audit_session",
    "IMPORT_MAX_BYTES": 10 * 1024 * 1024,  # the largest workbook an import accepts
    "IMPORT_MAX_ROWS": 50_000,
    # What reading one workbook may cost; it is read in a worker process (audit/xlsx/reader.py).
    "IMPORT_MAX_COLUMNS": 200,
    "IMPORT_MAX_CELLS": 2_000_000,
    "IMPORT_MAX_UNPACKED": 200 * 1024 * 1024,  # bytes actually inflated, not those declared
    "IMPORT_SECONDS": 60,  # wall clock and CPU seconds for the worker
    "IMPORT_WORKER_MEMORY_MB": 256,  # the worker's address space
    "IMPORT_MAX_WORKERS": 4,  # workbooks read at once by one server; one per user
    "IMPORT_USER_QUOTA_BYTES": 30 * 1024 * 1024,  # uploads a user has waiting for confirmation
    # The largest request: an import upload plus the form around it.
    "MAX_CONTENT_LENGTH": 11 * 1024 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "BABEL_DEFAULT_LOCALE": "nl",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
    "PER_PAGE": 50,
    # An anonymous session shows its results only when at least this many members voted.
    "ANONYMOUS_MIN_VOTERS": 3,
}

ENV_OVERRIDES = {
    "RULE_AUDIT_DATABASE": "DATABASE",
    "RULE_AUDIT_SESSION_COOKIE_SECURE": "SESSION_COOKIE_SECURE",
    "RULE_AUDIT_TRUSTED_PROXIES": "TRUSTED_PROXIES",
    "RULE_AUDIT_LOGIN_RATE_LIMIT": "LOGIN_RATE_LIMIT",
}


def instance_path() -> Path:
    return Path(os.environ.get("RULE_AUDIT_INSTANCE", ROOT / "instance")).resolve()


def ensure_secret_key(app: Flask) -> None:
    """Write a random SECRET_KEY into instance/config.py the first time the app starts."""
    config_file = Path(app.instance_path) / "config.py"
    if app.config.get("SECRET_KEY"):
        return
    key = secrets.token_hex(32)
    with open(config_file, "a", encoding="utf-8") as handle:
        os.chmod(config_file, 0o600)
        handle.write(
            "# Generated on first start. Keep it secret; changing it logs everybody out.\n"
            f"SECRET_KEY = {key!r}\n"
        )
    app.config["SECRET_KEY"] = key


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


CONVERT = {"SESSION_COOKIE_SECURE": _truthy, "TRUSTED_PROXIES": int}


def load(app: Flask, test_config: dict | None) -> None:
    app.config.from_mapping(DEFAULTS)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if test_config is None:
        app.config.from_pyfile(str(Path(app.instance_path) / "config.py"), silent=True)
    else:
        app.config.from_mapping(test_config)
    for variable, key in ENV_OVERRIDES.items():
        if variable in os.environ and (test_config is None or key not in test_config):
            value = os.environ[variable]
            app.config[key] = CONVERT.get(key, str)(value)
    if not app.config["DATABASE"]:
        app.config["DATABASE"] = str(Path(app.instance_path) / "audit.sqlite3")
    if test_config is None:
        ensure_secret_key(app)
