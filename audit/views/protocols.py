"""Protocols: the documents rules stand in, with their rules and self-invented share."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Optional

from audit.access import EDITORS, READERS, allow
from audit.domain import protocols, register
from audit.store.db import get_db
from audit.views.helpers import MaxLength, attempt, get_or_404

bp = Blueprint("protocols", __name__, url_prefix="/protocols")


class ProtocolForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), MaxLength(protocols.NAME_MAX)])
    version = StringField(_l("Version"), validators=[MaxLength(protocols.VERSION_MAX)])
    url = StringField(
        _l("Link to the document"), validators=[Optional(), MaxLength(protocols.URL_MAX)]
    )


@bp.route("/")
@allow(*READERS)
def index():
    return render_template("protocols/index.html", protocols=protocols.list_protocols(get_db()))


@bp.route("/<int:protocol_id>")
@allow(*READERS)
def detail(protocol_id: int):
    protocol = get_or_404(protocols.get_protocol, protocol_id)
    page = register.search(
        get_db(), register.RuleFilter(protocol=protocol_id), sort="code", per_page=100
    )
    return render_template("protocols/detail.html", protocol=protocol, page=page)


@bp.route("/new", methods=["GET", "POST"], defaults={"protocol_id": None})
@bp.route("/<int:protocol_id>/edit", methods=["GET", "POST"])
@allow(*EDITORS)
def edit(protocol_id: int | None):
    protocol = get_or_404(protocols.get_protocol, protocol_id) if protocol_id else None
    form = ProtocolForm(data=protocol)
    if form.validate_on_submit():
        saved = attempt(
            form,
            lambda: protocols.save_protocol(
                get_db(),
                current_user,
                name=form.name.data,
                version=form.version.data,
                url=form.url.data,
                protocol_id=protocol_id,
            ),
        )
        if saved is not None:
            flash(_("Protocol %(name)s has been saved.", name=saved["name"]), "success")
            return redirect(url_for("protocols.detail", protocol_id=saved["id"]))
    return render_template("protocols/form.html", form=form, protocol=protocol)
