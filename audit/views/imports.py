"""Importing an inventory: upload, a preview of everything that would happen, confirm."""

from __future__ import annotations

import tempfile
from contextlib import AbstractContextManager
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

from audit.access import EDITORS, allow
from audit.store.db import get_db
from audit.views.helpers import attempt, choices
from audit.views.reports import IN_MEMORY, XLSX
from audit.xlsx import importer as xlsx_import
from audit.xlsx import template as xlsx_template
from audit.xlsx import uploads
from audit.xlsx.reader import Limits

bp = Blueprint("imports", __name__, url_prefix="/import")


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
    return uploads.folder(current_app.instance_path)


def _stored(token: str) -> Path:
    """The server-side copy of this user's upload. Only our own random name reaches the file
    system: the user's file name is shown, never used as a path."""
    if not uploads.TOKEN.match(token or ""):
        abort(400)
    path = uploads.find(_upload_dir(), token, current_user.id)
    if path is None:
        abort(410)
    return path


def _reading() -> AbstractContextManager[None]:
    """One workbook read at a time per user, and a few per server (see audit/xlsx/uploads.py)."""
    readers = current_app.extensions.setdefault("import_readers", uploads.Readers())
    return readers.reading(current_user.id, current_app.config["IMPORT_MAX_WORKERS"])


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
        limits=Limits.from_config(current_app.config),
    )


def _preview(plan, form: ConfirmForm, status: int = 200):
    form.sheet.choices = choices((name, name) for name in plan.sheets)
    return render_template("imports/preview.html", plan=plan, form=form), status


@bp.route("/", methods=["GET", "POST"])
@allow(*EDITORS)
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        folder = _upload_dir()
        uploads.forget_old(folder)
        filename = Path(form.file.data.filename or "upload.xlsx").name
        quota = current_app.config["IMPORT_USER_QUOTA_BYTES"]

        def store_and_read():
            stream = form.file.data.stream
            with _reading(), uploads.receive(folder, stream, current_user.id, quota) as kept:
                return kept, _plan(kept.path, filename, None, form.create_teams.data)

        # A file that cannot be stored or read is a message at the file field (and not kept).
        read = attempt(form, store_and_read, {"": "file"})
        if read is not None:
            kept, plan = read
            confirm = ConfirmForm(
                data={
                    "token": kept.token,
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
    def read_again():
        with _reading(), uploads.removed_if_unreadable(_upload_dir(), form.token.data):
            return _plan(
                path,
                filename,
                form.sheet.data or None,
                form.create_teams.data,
                form.create_duplicates.data,
            )

    plan = attempt(None, read_again)
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
    uploads.discard(_upload_dir(), form.token.data)
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
