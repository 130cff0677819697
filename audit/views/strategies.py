"""The organisation's adapt strategies, kept by the admin (docs/design.md, "Adapt strategies")."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired

from audit.access import ADMINS, allow
from audit.domain import strategies
from audit.store.db import get_db
from audit.views.helpers import MaxLength, attempt, form_version, get_or_404

bp = Blueprint("strategies", __name__, url_prefix="/admin/strategies")


class StrategyForm(FlaskForm):
    version = HiddenField()
    name_nl = StringField(
        _l("Name in Dutch"), validators=[DataRequired(), MaxLength(strategies.NAME_MAX)]
    )
    name_en = StringField(_l("Name in English"), validators=[MaxLength(strategies.NAME_MAX)])
    explanation_nl = TextAreaField(
        _l("Explanation in Dutch"), validators=[MaxLength(strategies.EXPLANATION_MAX)]
    )
    explanation_en = TextAreaField(
        _l("Explanation in English"), validators=[MaxLength(strategies.EXPLANATION_MAX)]
    )
    # Text, not IntegerField: the domain says what is wrong with what was typed, in one place.
    position = StringField(_l("Order"))
    active = BooleanField(_l("In use"), default=True)


@bp.route("/")
@allow(*ADMINS)
def index():
    return render_template(
        "strategies/index.html",
        strategies=strategies.list_strategies(get_db(), include_inactive=True),
    )


@bp.route("/new", methods=["GET", "POST"], defaults={"strategy_id": None})
@bp.route("/<int:strategy_id>", methods=["GET", "POST"])
@allow(*ADMINS)
def edit(strategy_id: int | None):
    strategy = get_or_404(strategies.get_strategy, strategy_id) if strategy_id else None
    form = StrategyForm(data=strategy)
    if form.validate_on_submit():
        saved = attempt(
            form,
            lambda: strategies.save_strategy(
                get_db(),
                current_user,
                name_nl=form.name_nl.data,
                name_en=form.name_en.data,
                explanation_nl=form.explanation_nl.data,
                explanation_en=form.explanation_en.data,
                position=form.position.data,
                active=form.active.data,
                strategy_id=strategy_id,
                expected_version=form_version(form.version.data) if strategy_id else None,
            ),
        )
        if saved is not None:
            flash(_("Strategy %(name)s has been saved.", name=saved["name"]), "success")
            return redirect(url_for("strategies.index"))
    return render_template("strategies/form.html", form=form, strategy=strategy)
