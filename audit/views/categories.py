"""The organisation's categories, managed by quality managers and admins."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired

from audit.access import EDITORS, allow
from audit.domain import categories
from audit.store.db import get_db
from audit.views.helpers import MaxLength, attempt, get_or_404

bp = Blueprint("categories", __name__, url_prefix="/categories")


class CategoryForm(FlaskForm):
    name_nl = StringField(
        _l("Name in Dutch"), validators=[DataRequired(), MaxLength(categories.NAME_MAX)]
    )
    name_en = StringField(_l("Name in English"), validators=[MaxLength(categories.NAME_MAX)])
    active = BooleanField(_l("In use"), default=True)
    daily_life = BooleanField(_l("Part of residents' daily life"))


@bp.route("/")
@allow(*EDITORS)
def index():
    return render_template(
        "categories/index.html",
        categories=categories.list_categories(get_db(), include_inactive=True, with_counts=True),
    )


@bp.route("/new", methods=["GET", "POST"], defaults={"category_id": None})
@bp.route("/<int:category_id>", methods=["GET", "POST"])
@allow(*EDITORS)
def edit(category_id: int | None):
    category = get_or_404(categories.get_category, category_id) if category_id else None
    form = CategoryForm(data=category)
    if form.validate_on_submit():
        saved = attempt(
            form,
            lambda: categories.save_category(
                get_db(),
                current_user,
                name_nl=form.name_nl.data,
                name_en=form.name_en.data,
                active=form.active.data,
                category_id=category_id,
                daily_life=form.daily_life.data,
            ),
        )
        if saved is not None:
            flash(_("Category %(name)s has been saved.", name=saved["name"]), "success")
            return redirect(url_for("categories.index"))
    return render_template("categories/form.html", form=form, category=category)
