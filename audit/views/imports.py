"""Importing an inventory: upload, a preview of everything that would happen, confirm."""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField

from audit import xlsx_import, xlsx_template
from audit.access import EDITORS, allow
from audit.db import get_db
from audit.views.helpers import attempt, choices
from audit.views.reports import IN_MEMORY, XLSX

bp = Blueprint("imports", __name__, url_prefix="/import")

TOKEN = re.compile(r"^[0-9a-f]{32}$")
KEEP_UPLOADS_SECONDS = 24 * 3600


class UploadForm(FlaskForm):
    file = FileField(_l("Excel workbook (.xlsx)"), validators=[FileRequired(_l("Choose a file."))])
    create_teams = BooleanField(_l("Create teams and locations that do not exist yet"))


class ConfirmForm(FlaskForm):
    token = HiddenField()
    filename = HiddenField()
    sheet = SelectField(_l("Sheet"), validate_choice=False)
    create_teams = BooleanField(_l("Create teams and locations that do not exist yet"))
    skip_invalid = BooleanField(_l("Import only the valid rows"))
    create_duplicates = BooleanField(_l("Create these rows anyway, as new rules"))


def _upload_dir() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(exist_ok=True)
    return folder


def _stored(token: str) -> Path:
    """The server-side copy of an upload. Only our own random name reaches the file system:
    the user's file name is shown, never used as a path."""
    if not TOKEN.match(token or ""):
        abort(400)
    path = _upload_dir() / f"{token}.xlsx"
    if not path.is_file():
        abort(410)
    return path


def _forget_old_uploads() -> None:
    cutoff = time.time() - KEEP_UPLOADS_SECONDS
    for path in _upload_dir().glob("*.xlsx"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _plan(
    path: Path,
    filename: str,
    sheet: str | None,
    create_teams: bool,
    create_duplicates: bool = False,
):
    return xlsx_import.read_plan(
        get_db(),
        path,
        filename=filename,
        sheet=sheet,
        create_teams=create_teams,
        create_duplicates=create_duplicates,
        max_bytes=current_app.config["IMPORT_MAX_BYTES"],
        max_rows=current_app.config["IMPORT_MAX_ROWS"],
    )


def _preview(plan, form: ConfirmForm, status: int = 200):
    form.sheet.choices = choices((name, name) for name in plan.sheets)
    return render_template("imports/preview.html", plan=plan, form=form), status


@bp.route("/", methods=["GET", "POST"])
@allow(*EDITORS)
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        _forget_old_uploads()
        token = secrets.token_hex(16)
        path = _upload_dir() / f"{token}.xlsx"
        form.file.data.save(path)
        filename = Path(form.file.data.filename or "upload.xlsx").name
        # A file that cannot be read at all is a message at the file field.
        plan = attempt(
            form, lambda: _plan(path, filename, None, form.create_teams.data), {"": "file"}
        )
        if plan is None:
            path.unlink(missing_ok=True)
        else:
            confirm = ConfirmForm(
                data={
                    "token": token,
                    "filename": filename,
                    "sheet": plan.sheet,
                    "create_teams": form.create_teams.data,
                }
            )
            return _preview(plan, confirm)
    return render_template("imports/upload.html", form=form)


@bp.route("/confirm", methods=["POST"])
@allow(*EDITORS)
def confirm():
    form = ConfirmForm()
    form.sheet.choices = []
    if not form.validate_on_submit():
        abort(400)
    path = _stored(form.token.data)
    filename = Path(form.filename.data or "upload.xlsx").name
    # Read again: the register may have changed since the preview was shown.
    plan = attempt(
        None,
        lambda: _plan(
            path,
            filename,
            form.sheet.data or None,
            form.create_teams.data,
            form.create_duplicates.data,
        ),
    )
    if plan is None:
        return redirect(url_for("imports.upload"))
    if request.form.get("action") != "import":
        return _preview(plan, form)  # another sheet or option: show the new preview
    counts = attempt(
        form,
        lambda: xlsx_import.apply_plan(
            get_db(), current_user, plan, skip_invalid=form.skip_invalid.data
        ),
    )
    if counts is None:
        return _preview(plan, form, 400)
    path.unlink(missing_ok=True)
    flash(
        _(
            "Imported %(file)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged,"
            " %(duplicates)s already in the register or the file, %(skipped)s skipped.",
            file=filename,
            created=counts["create"],
            updated=counts["update"],
            unchanged=counts["unchanged"],
            duplicates=counts["duplicate"],
            skipped=counts["skipped"],
        ),
        "success",
    )
    return redirect(url_for("rules.register_page"))


@bp.route("/template.xlsx")
@allow(*EDITORS)
def template():
    lang = request.args.get("lang") or str(get_locale() or "nl")
    if lang not in ("en", "nl"):
        abort(404)
    buffer = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - sent below
    xlsx_template.write_template(get_db(), buffer, lang)
    buffer.seek(0)
    name = "regelaudit-importsjabloon.xlsx" if lang == "nl" else "regelaudit-import-template.xlsx"
    return send_file(buffer, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)
