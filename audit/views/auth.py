"""Login, logout, first-run setup, the language switch and the user's own account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from audit.access import READERS, allow, public
from audit.domain import organisation, users
from audit.i18n import LANGUAGES
from audit.ratelimit import login_attempts
from audit.store.db import get_db, transaction
from audit.views.helpers import MaxLength, attempt, choices

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), MaxLength(64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), MaxLength(128)])
    next = HiddenField()


class SetupForm(FlaskForm):
    organisation = StringField(_l("Organisation name"), validators=[DataRequired(), MaxLength(200)])
    default_language = SelectField(_l("Default language"), choices=choices(LANGUAGES.items()))
    username = StringField(_l("Your user name"), validators=[DataRequired(), MaxLength(64)])
    display_name = StringField(_l("Your name"), validators=[MaxLength(100)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=users.PASSWORD_MIN), MaxLength(128)]
    )
    confirm = PasswordField(
        _l("Password again"), validators=[EqualTo("password", message=_l("The passwords differ."))]
    )


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=users.PASSWORD_MIN), MaxLength(128)],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[EqualTo("password", message=_l("The passwords differ."))],
    )


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None.

    Browsers read ``//host``, ``/\\host`` and ``\\\\host`` as another site, and drop tabs and
    newlines before they do, so only a single leading slash followed by something that is not
    a slash or backslash passes, with no control character anywhere.
    """
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return None
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _safe_next(target: str | None) -> str:
    """Where to go after logging in or switching language: a link must not send people to
    another site."""
    return local_path(target) or url_for("main.index")


def _login(user: users.User) -> None:
    users.start_session(get_db(), user)
    session.clear()
    login_user(user)
    if user.language:
        # Kept in the cookie too, so that a page made while the database cannot be read (a
        # full disk) still speaks the user's language.
        session["lang"] = user.language


@bp.route("/login", methods=["GET", "POST"])
@public
@login_attempts
def login():
    if users.count_users(get_db()) == 0:
        return redirect(url_for("auth.setup"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        config = current_app.config
        user = attempt(
            form,
            lambda: users.authenticate(
                get_db(),
                form.username.data,
                form.password.data,
                max_failures=config["LOGIN_MAX_FAILURES"],
                lockout_minutes=config["LOGIN_LOCKOUT_MINUTES"],
            ),
        )
        if user is not None:
            lang = session.get("lang")
            _login(user)
            if lang in LANGUAGES and not user.language:
                # Chosen on the login page by someone without a preference yet: keep it.
                users.set_language(get_db(), user.id, lang)
                session["lang"] = lang
            return redirect(_safe_next(form.next.data))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@allow(*READERS)
def logout():
    users.end_session(get_db(), current_user.session_token)
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def _set_up(db, form: SetupForm) -> users.User:
    """The organisation and its first admin, together or not at all."""
    with transaction(db):
        # Checked again inside the write lock: two people racing through setup must not both
        # become admin.
        if users.count_users(db) > 0:
            abort(404)
        organisation.update_settings(
            db,
            None,
            name=form.organisation.data,
            default_language=form.default_language.data,
            reference_share=organisation.get_settings(db)["reference_share"],
        )
        return users.create_user(
            db,
            None,
            username=form.username.data,
            password=form.password.data,
            role="admin",
            display_name=form.display_name.data,
            language=form.default_language.data,
        )


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    """First run only: the first person creates the organisation and the admin account."""
    db = get_db()
    if users.count_users(db) > 0:
        abort(404)
    form = SetupForm(default_language=session.get("lang") or "nl")
    if form.validate_on_submit():
        user = attempt(form, lambda: _set_up(db, form), aliases={"name": "organisation"})
        if user is not None:
            _login(user)
            flash(
                _("Welcome. Your organisation is ready; add locations, teams and users."), "success"
            )
            return redirect(url_for("admin.settings"))
    return render_template("auth/setup.html", form=form)


@bp.route("/language", methods=["POST"])
@public
def language():
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated:
        users.set_language(get_db(), current_user.id, lang)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/account", methods=["GET", "POST"])
@allow(*READERS)
def account():
    form = PasswordForm()
    if form.validate_on_submit():
        changed = attempt(
            form,
            lambda: users.change_own_password(
                get_db(),
                current_user,
                form.current.data,
                form.password.data,
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"],
                keep_session=current_user.session_token,
            ),
        )
        if changed is not None:
            flash(
                _("Your password has been changed. Other sessions have been logged out."),
                "success",
            )
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form)
