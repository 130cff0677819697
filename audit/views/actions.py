"""Follow-up actions: added and changed by the session's facilitator on the results page,
marked done by their owners under "My actions" (phone first), and the list of them all."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from audit.access import ACTION_OWNERS, EDITORS, FIGURE_READERS, allow
from audit.domain import actions, decisions, sessions
from audit.domain.actions import ACTION_FIELDS
from audit.store.db import get_db
from audit.views.helpers import MaxLength, attempt, choices, form_version, get_or_404, int_or_none

bp = Blueprint("actions", __name__)


def _label(key: str) -> Any:
    return ACTION_FIELDS[key].label


class ActionForm(FlaskForm):
    what = StringField(_label("what"), validators=[MaxLength(actions.WHAT_MAX)])
    owner_id = SelectField(_label("owner_id"), coerce=int_or_none, validate_choice=False)
    due_on = DateField(_label("due_on"), validators=[Optional()])
    note = TextAreaField(_label("note"), validators=[MaxLength(actions.NOTE_MAX)])
    version = HiddenField()

    def set_choices(self, db, keep: int | None = None) -> None:
        self.owner_id.choices = choices(
            [("", _("Choose who does it")), *actions.owner_choices(db, keep)]
        )

    def values(self) -> dict[str, Any]:
        return {name: self[name].data for name in ACTION_FIELDS}


class DeleteForm(FlaskForm):
    confirm = BooleanField(_l("Yes, delete this action"))
    version = HiddenField()


def new_action_form(rule_id: int) -> ActionForm:
    """The empty "add an action" form under one decision of the results page: its fields'
    ids carry the rule, so that every decision's form is labelled on its own."""
    form = ActionForm(formdata=None, prefix=f"a{rule_id}", meta={"csrf": False})
    # The people to choose from are the same under every decision: read once per page.
    if "action_owners" not in g:
        g.action_owners = actions.owner_choices(get_db())
    form.owner_id.choices = choices([("", _("Choose who does it")), *g.action_owners])
    return form


# Where a done or reopen button returns to: a fixed page, never an address from the form.
_BACK = {"mine": "actions.mine", "all": "actions.index"}


def _back(action: actions.Action | None = None):
    target = request.form.get("back")
    if target == "session" and action is not None:
        return redirect(
            url_for(
                "sessions.detail", session_id=action.session_id, _anchor=f"rule-{action.rule_id}"
            )
        )
    return redirect(url_for(_BACK.get(target, "actions.mine")))


# --- my actions, and all of them -------------------------------------------------------------


@bp.route("/actions/mine")
@allow(*ACTION_OWNERS)
def mine():
    return render_template("actions/mine.html", items=actions.mine(get_db(), current_user))


@bp.route("/actions")
@allow(*FIGURE_READERS)
def index():
    state = request.args.get("state", "open")
    state = state if state in actions.STATES else "open"
    return render_template(
        "actions/index.html",
        items=actions.listing(get_db(), state),
        state=state,
        states=actions.STATES,
        limit=actions.LIST_LIMIT,
    )


@bp.route("/actions/<int:action_id>/done", methods=["POST"])
@allow(*ACTION_OWNERS)
def done(action_id: int):
    db = get_db()
    action = get_or_404(actions.visible_action, action_id, current_user)
    note = request.form.get("note", "")
    marked = attempt(
        None,
        lambda: actions.mark_done(
            db,
            current_user,
            action_id,
            expected_version=form_version(request.form.get("version")),
            note=note,
        ),
    )
    if marked is not None:
        flash(_("Done: %(what)s", what=marked.what), "success")
    return _back(action)


@bp.route("/actions/<int:action_id>/reopen", methods=["POST"])
@allow(*ACTION_OWNERS)
def reopen(action_id: int):
    db = get_db()
    action = get_or_404(actions.visible_action, action_id, current_user)
    reopened = attempt(
        None,
        lambda: actions.reopen_action(
            db, current_user, action_id, expected_version=form_version(request.form.get("version"))
        ),
    )
    if reopened is not None:
        flash(_("Open again: %(what)s", what=reopened.what), "success")
    return _back(action)


# --- the facilitator's forms -----------------------------------------------------------------


@bp.route("/sessions/<int:session_id>/rules/<int:rule_id>/actions", methods=["POST"])
@allow(*EDITORS)
def add(session_id: int, rule_id: int):
    """Add an action from the results page; a refused one comes back on a page of its own,
    with everything typed and the messages at its fields."""
    db = get_db()
    session = get_or_404(sessions.get_session, session_id)
    decision = get_or_404(decisions.get_decision, session_id, rule_id)
    # The page's own csrf_token field is checked for every POST (CSRFProtect), as on the
    # results page's decision forms; the prefixed form needs none of its own.
    form = ActionForm(prefix=f"a{rule_id}", meta={"csrf": False})
    form.set_choices(db)
    if form.validate_on_submit():
        saved = attempt(
            form,
            lambda: actions.create_action(db, current_user, session_id, rule_id, **form.values()),
        )
        if saved is not None:
            flash(_("The action has been added: %(what)s", what=saved.what), "success")
            return redirect(
                url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}")
            )
    return render_template(
        "actions/form.html", form=form, session=session, decision=decision, action=None
    ), 400


@bp.route("/actions/<int:action_id>/edit", methods=["GET", "POST"])
@allow(*EDITORS)
def edit(action_id: int):
    db = get_db()
    action = get_or_404(actions.get_action, action_id)
    session = get_or_404(sessions.get_session, action.session_id)
    if not sessions.may_run(session, current_user):
        flash(
            _("Only the facilitator of this session or an admin can change its actions."), "warning"
        )
        return redirect(url_for("sessions.detail", session_id=session.id))
    if request.method == "POST":
        form = ActionForm()
    else:
        form = ActionForm(
            formdata=None,
            data={
                **{key: getattr(action, key) for key in ACTION_FIELDS},
                "version": action.version,
            },
        )
    form.set_choices(db, keep=action.owner_id)
    if request.method == "POST" and form.validate():
        saved = attempt(
            form,
            lambda: actions.update_action(
                db,
                current_user,
                action_id,
                expected_version=form_version(form.version.data),
                **form.values(),
            ),
        )
        if saved is not None:
            flash(_("The action has been saved."), "success")
            return redirect(
                url_for(
                    "sessions.detail",
                    session_id=action.session_id,
                    _anchor=f"rule-{action.rule_id}",
                )
            )
    delete_form = DeleteForm(formdata=None, data={"version": action.version})
    return render_template(
        "actions/form.html",
        form=form,
        session=session,
        decision=get_or_404(decisions.get_decision, action.session_id, action.rule_id),
        action=action,
        delete_form=delete_form,
    )


@bp.route("/actions/<int:action_id>/delete", methods=["POST"])
@allow(*EDITORS)
def delete(action_id: int):
    db = get_db()
    action = get_or_404(actions.get_action, action_id)
    form = DeleteForm()
    if not form.validate_on_submit() or not form.confirm.data:
        flash(_("Tick the box to confirm that the action may be deleted."), "error")
        return redirect(url_for("actions.edit", action_id=action_id))
    gone = attempt(
        None,
        lambda: (
            actions.delete_action(
                db, current_user, action_id, expected_version=form_version(form.version.data)
            )
            or True
        ),
    )
    if gone is None:
        return redirect(url_for("actions.edit", action_id=action_id))
    flash(_("The action has been deleted: %(what)s", what=action.what), "success")
    return redirect(
        url_for("sessions.detail", session_id=action.session_id, _anchor=f"rule-{action.rule_id}")
    )


def init_app(app) -> None:
    """The results page's add form is made per decision from the template."""
    app.jinja_env.globals["new_action_form"] = new_action_form
