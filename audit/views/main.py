"""The start page."""

from __future__ import annotations

from flask import Blueprint, render_template

from audit import organisation
from audit.access import READERS, allow
from audit.db import get_db

bp = Blueprint("main", __name__)


@bp.route("/")
@allow(*READERS)
def index():
    return render_template("main/index.html", org=organisation.get_settings(get_db()))
