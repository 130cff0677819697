"""Excel downloads: the audit report for the dashboard's scope or the register's filter."""

from __future__ import annotations

import tempfile

from flask import Blueprint, request, send_file
from flask_babel import get_locale

from audit.access import FIGURE_READERS, allow
from audit.core import clock
from audit.domain import organisation
from audit.domain.register import RuleFilter
from audit.store.db import get_db
from audit.views.dashboard import scope_from_args
from audit.views.rules import filter_from_args
from audit.xlsx import export as xlsx_export

bp = Blueprint("reports", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IN_MEMORY = 16 * 1024 * 1024  # larger reports spill to a temporary file


def _send(rule_filter: RuleFilter):
    db = get_db()
    lang = str(get_locale() or "nl")
    buffer = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - sent below
    xlsx_export.export_report(db, buffer, lang=lang, rule_filter=rule_filter)
    buffer.seek(0)
    name = xlsx_export.safe_filename(organisation.get_settings(db)["name"] or "regelaudit")
    return send_file(
        buffer,
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"{name}-{clock.today().isoformat()}.xlsx",
        max_age=0,
    )


@bp.route("/dashboard/report.xlsx")
@allow(*FIGURE_READERS)
def dashboard_report():
    scope = scope_from_args(request.args)
    return _send(RuleFilter(team=scope.team, location=scope.location, category=scope.category))


@bp.route("/rules/export.xlsx")
@allow(*FIGURE_READERS)
def register_report():
    return _send(filter_from_args(request.args))
