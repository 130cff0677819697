"""Regelaudit: a rule register for care organisations, from rules to relations."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from audit import access, config, i18n, ratelimit, web
from audit.config import ROOT
from audit.store import db

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(config.instance_path()),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    config.load(app, test_config)
    web.bound_url_integers(app)
    db.init_db(app.config["DATABASE"], app.config["BUSY_TIMEOUT_MS"])
    db.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    ratelimit.init_app(app)
    web.init_app(app)
    access.init_app(app)

    from audit import cli

    cli.init_app(app)
    return app
