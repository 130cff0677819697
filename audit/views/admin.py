"""Admin screens: users, locations and teams, organisation settings."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, NumberRange, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from audit.access import ADMINS, allow
from audit.domain import council, organisation, users
from audit.i18n import LANGUAGES
from audit.store.db import get_db
from audit.views.helpers import MaxLength, attempt, choices, get_or_404, int_id, int_or_none

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _role_choices():
    return choices(users.ROLE_LABELS.items())


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), MaxLength(64)])
    display_name = StringField(_l("Name"), validators=[MaxLength(100)])
    # The least privilege unless the admin chooses otherwise; an admin needs confirm_admin.
    role = SelectField(_l("Role"), choices=_role_choices, default="member")
    confirm_admin = BooleanField(
        _l("Yes, make this user an administrator, who may do everything, users included")
    )
    team_ids = SelectMultipleField(
        _l("Teams"),
        coerce=int_id,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional(), MaxLength(128)])
    confirm = PasswordField(
        _l("Password again"), validators=[EqualTo("password", message=_l("The passwords differ."))]
    )


class NameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), MaxLength(100)])


class TeamForm(NameForm):
    location_id = SelectField(_l("Location"), coerce=int_or_none, validate_choice=True)


def _months_given(form: FlaskForm, field: IntegerField) -> None:
    """The horizon sent empty is refused in words of our own; not sent at all (a form from
    before the setting) it keeps the value it has."""
    if not field.raw_data:
        raise StopValidation()
    if not field.raw_data[0].strip():
        field.errors[:] = []
        raise StopValidation(_("Enter a number of months."))


class SettingsForm(FlaskForm):
    name = StringField(_l("Organisation name"), validators=[MaxLength(200)])
    default_language = SelectField(_l("Default language"), choices=choices(LANGUAGES.items()))
    reference_share = DecimalField(
        _l("Reference share of self-invented rules (%)"),
        places=0,
        validators=[Optional(), NumberRange(min=0, max=100)],
    )
    reference_label_nl = StringField(
        _l("Source of the reference, in Dutch"),
        validators=[MaxLength(organisation.LABEL_MAX)],
    )
    reference_label_en = StringField(
        _l("Source of the reference, in English"),
        validators=[MaxLength(organisation.LABEL_MAX)],
    )
    review_horizon_months = IntegerField(
        _l("Review horizon (months)"),
        validators=[
            _months_given,
            NumberRange(
                min=organisation.HORIZON_MIN,
                max=organisation.HORIZON_MAX,
                message=_l(
                    "Enter a whole number of months from %(low)s to %(high)s.",
                    low=organisation.HORIZON_MIN,
                    high=organisation.HORIZON_MAX,
                ),
            ),
        ],
    )
    new_rules_proposed = BooleanField(_l("New rules start as proposed"))
    council_advice = SelectField(
        _l("Client council advice"), choices=choices(council.SETTING_LABELS.items())
    )


def _team_choices() -> list[tuple[int, str]]:
    return choices((t["id"], t["name"]) for t in organisation.list_teams(get_db()))


# --- users ----------------------------------------------------------------------------------


@bp.route("/users")
@allow(*ADMINS)
def user_list():
    return render_template("admin/users.html", users=users.list_users(get_db()))


def _admin_confirmed(form: UserForm, user: users.User | None) -> bool:
    """Making someone an administrator takes a ticked box, not only a changed drop-down."""
    if form.role.data != "admin" or (user is not None and user.role == "admin"):
        return True
    if form.confirm_admin.data:
        return True
    form.confirm_admin.errors = [
        _("Tick this box to confirm that this user becomes an administrator.")
    ]
    return False


@bp.route("/users/new", methods=["GET", "POST"])
@allow(*ADMINS)
def user_new():
    form = UserForm()
    form.team_ids.choices = _team_choices()
    form.password.validators = [DataRequired(), MaxLength(128)]
    if form.validate_on_submit() and _admin_confirmed(form, None):
        user = attempt(
            form,
            lambda: users.create_user(
                get_db(),
                current_user,
                username=form.username.data,
                password=form.password.data,
                role=form.role.data,
                display_name=form.display_name.data,
                team_ids=form.team_ids.data,
            ),
        )
        if user is not None:
            flash(_("User %(name)s has been created.", name=user.username), "success")
            return redirect(url_for("admin.user_list"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@allow(*ADMINS)
def user_edit(user_id: int):
    db = get_db()
    user = get_or_404(users.get_user, user_id)
    form = UserForm(obj=user)
    form.username.data = user.username  # the name is the login; it does not change here
    form.team_ids.choices = _team_choices()
    if form.validate_on_submit() and _admin_confirmed(form, user):
        # One call, one transaction: a refused password leaves the role unchanged too.
        saved = attempt(
            form,
            lambda: users.update_user(
                db,
                current_user,
                user_id,
                role=form.role.data,
                display_name=form.display_name.data,
                team_ids=form.team_ids.data,
                active=form.active.data,
                password=form.password.data or None,
            ),
        )
        if saved is not None:
            flash(_("User %(name)s has been saved.", name=user.username), "success")
            return redirect(url_for("admin.user_list"))
    return render_template("admin/user_form.html", form=form, user=user)


# --- locations and teams --------------------------------------------------------------------


def _location_choices() -> list[tuple[int | None, str]]:
    return choices(
        [("", _("(no location)"))]
        + [(loc["id"], loc["name"]) for loc in organisation.list_locations(get_db())]
    )


@bp.route("/teams")
@allow(*ADMINS)
def teams():
    db = get_db()
    return render_template(
        "admin/teams.html",
        locations=organisation.list_locations(db),
        teams=organisation.list_teams(db),
    )


@bp.route("/locations/new", methods=["GET", "POST"], defaults={"location_id": None})
@bp.route("/locations/<int:location_id>", methods=["GET", "POST"])
@allow(*ADMINS)
def location_edit(location_id: int | None):
    location = get_or_404(organisation.get_location, location_id) if location_id else None
    form = NameForm(data=location)
    if form.validate_on_submit():
        saved = attempt(
            form,
            lambda: organisation.save_location(get_db(), current_user, form.name.data, location_id),
        )
        if saved is not None:
            flash(_("Location %(name)s has been saved.", name=saved["name"]), "success")
            return redirect(url_for("admin.teams"))
    return render_template("admin/location_form.html", form=form, location=location)


@bp.route("/teams/new", methods=["GET", "POST"], defaults={"team_id": None})
@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@allow(*ADMINS)
def team_edit(team_id: int | None):
    db = get_db()
    team = get_or_404(organisation.get_team, team_id) if team_id else None
    form = TeamForm(data=team)
    form.location_id.choices = _location_choices()
    if form.validate_on_submit():
        saved = attempt(
            form,
            lambda: organisation.save_team(
                db, current_user, form.name.data, form.location_id.data, team_id
            ),
        )
        if saved is not None:
            flash(_("Team %(name)s has been saved.", name=saved["name"]), "success")
            return redirect(url_for("admin.teams"))
    members = users.team_members(db, team_id) if team_id else []
    return render_template("admin/team_form.html", form=form, team=team, members=members)


# --- settings -------------------------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@allow(*ADMINS)
def settings():
    db = get_db()
    current = {
        **organisation.get_settings(db),
        **organisation.rule_settings(db),
        "council_advice": council.setting(db),
    }
    share = current["reference_share"]
    form = SettingsForm(
        data={**current, "reference_share": None if share is None else round(share * 100)}
    )
    if form.validate_on_submit():
        saved = attempt(
            form,
            lambda: organisation.update_settings(
                db,
                current_user,
                name=form.name.data,
                default_language=form.default_language.data,
                reference_share=(
                    None
                    if form.reference_share.data is None
                    else float(form.reference_share.data) / 100
                ),
                reference_label_nl=form.reference_label_nl.data or "",
                reference_label_en=form.reference_label_en.data or "",
                review_horizon_months=form.review_horizon_months.data,
                new_rules_proposed=form.new_rules_proposed.data,
                # A form from before the setting sends none: it keeps the value it has.
                council_advice=form.council_advice.data if form.council_advice.raw_data else None,
            ),
        )
        if saved is not None:
            flash(_("The settings have been saved."), "success")
            return redirect(url_for("admin.settings"))
    return render_template("admin/settings.html", form=form)
