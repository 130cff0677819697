"""Review sessions: create, open and close, vote, count hands, see results, decide."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from audit import ballots, decisions, figures, organisation, register, rules, sessions
from audit.access import EDITORS, READERS, allow
from audit.db import get_db
from audit.errors import Conflict, NotFound, ValidationError
from audit.views.helpers import attempt, choices, form_version, get_or_404, int_id, int_or_none
from audit.views.rules import filter_from_args, filter_options

bp = Blueprint("sessions", __name__, url_prefix="/sessions")

VOTERS = sessions.VOTER_ROLES
PICKER_LIMIT = 200


class SessionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=sessions.TITLE_MAX)])
    introduction = TextAreaField(_l("Introduction"), validators=[Length(max=sessions.INTRO_MAX)])
    team_ids = SelectMultipleField(
        _l("Teams"),
        coerce=int_id,
        validators=[DataRequired(message=_l("Choose at least one team."))],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    rule_ids = SelectMultipleField(
        _l("Rules to review"),
        coerce=int_id,
        validators=[DataRequired(message=_l("Choose at least one rule."))],
        validate_choice=False,  # the domain checks that each is a rule in the register
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    mode = RadioField(_l("How the team votes"), default="online")
    anonymous = BooleanField(_l("Anonymous ballots"), default=True)
    opens_at = DateTimeLocalField(_l("Opens at"), validators=[Optional()])
    closes_at = DateTimeLocalField(_l("Closes at"), validators=[Optional()])
    quorum = IntegerField(
        _l("Quorum"), validators=[Optional(), NumberRange(min=0, max=sessions.QUORUM_MAX)]
    )
    version = HiddenField()

    def values(self) -> dict:
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        return {
            "title": self.title.data,
            "introduction": self.introduction.data,
            "team_ids": self.team_ids.data,
            "rule_ids": self.rule_ids.data,
            "mode": self.mode.data,
            "anonymous": self.anonymous.data,
            "opens_at": self.opens_at.data.replace(tzinfo=zone) if self.opens_at.data else None,
            "closes_at": self.closes_at.data.replace(tzinfo=zone) if self.closes_at.data else None,
            "quorum": self.quorum.data,
        }


class DecisionForm(FlaskForm):
    outcome = RadioField(_l("Decision"))
    rationale = TextAreaField(
        _l("Rationale"), validators=[DataRequired(), Length(max=decisions.RATIONALE_MAX)]
    )
    new_title = StringField(_l("New title"), validators=[Length(max=rules.TITLE_MAX)])
    new_description = TextAreaField(_l("New text"), validators=[Length(max=rules.TEXT_MAX)])
    new_minutes_per_week = IntegerField(
        _l("New minutes per week"),
        validators=[Optional(), NumberRange(min=0, max=rules.MINUTES_MAX)],
    )


# --- helpers --------------------------------------------------------------------------------


def _visible_session(session_id: int) -> sessions.ReviewSession:
    """The session, if the current user may see it: members only those of their teams."""
    session = get_or_404(sessions.get_session, session_id)
    if current_user.role == "member" and not set(current_user.team_ids) & set(session.team_ids):
        abort(404)
    return session


def _picker(db, selected: list[int]) -> tuple[list[dict], register.RuleFilter]:
    """Rules to choose from: the register's filter in the URL, or the dashboard's candidates,
    plus whatever is chosen already."""
    rule_filter = filter_from_args(request.args)
    if request.args.get("candidates") == "1":
        ids = [r["id"] for r in figures.top_candidates(db)]
    else:
        ids = register.rule_ids(db, rule_filter, limit=PICKER_LIMIT)
    ids = list(dict.fromkeys([*selected, *ids]))
    return [r for r in rules.get_rules(db, ids) if not r.archived], rule_filter


def _prepare(form: SessionForm, db) -> tuple[list, register.RuleFilter]:
    form.team_ids.choices = choices((t["id"], t["name"]) for t in organisation.list_teams(db))
    form.mode.choices = choices(sessions.MODES.items())
    picked = form.rule_ids.data or []
    if request.method == "GET" and request.args.get("candidates") == "1" and not picked:
        picked = [r["id"] for r in figures.top_candidates(db)]
        form.rule_ids.data = picked
    candidates, rule_filter = _picker(db, picked)
    form.rule_ids.choices = choices((r.id, f"{r.code} {r.title}") for r in candidates)
    return candidates, rule_filter


def _form_page(form: SessionForm, session: sessions.ReviewSession | None):
    db = get_db()
    candidates, rule_filter = _prepare(form, db)
    if form.validate_on_submit():
        if session is None:
            saved = attempt(
                form, lambda: sessions.create_session(db, current_user, **form.values())
            )
        else:
            saved = attempt(
                form,
                lambda: sessions.update_session(
                    db,
                    current_user,
                    session.id,
                    expected_version=form_version(form.version.data),
                    **form.values(),
                ),
            )
        if saved is not None:
            flash(_("Session %(title)s has been saved.", title=saved.title), "success")
            return redirect(url_for("sessions.detail", session_id=saved.id))
    return render_template(
        "sessions/form.html",
        form=form,
        session=session,
        candidates=candidates,
        f=rule_filter,
        options=filter_options(db),
    )


# --- overview and editing -------------------------------------------------------------------


@bp.route("/")
@allow(*READERS)
def index():
    db = get_db()
    sessions.close_expired(db)
    member = current_user if current_user.role == "member" else None
    return render_template("sessions/index.html", items=sessions.list_sessions(db, member))


@bp.route("/new", methods=["GET", "POST"])
@allow(*EDITORS)
def new():
    return _form_page(SessionForm(), None)


@bp.route("/<int:session_id>/edit", methods=["GET", "POST"])
@allow(*EDITORS)
def edit(session_id: int):
    session = get_or_404(sessions.get_session, session_id)
    if session.state != "draft":
        flash(_("Only a draft session can be changed."), "warning")
        return redirect(url_for("sessions.detail", session_id=session_id))
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    data = {
        **{k: getattr(session, k) for k in ("title", "introduction", "mode", "anonymous")},
        "team_ids": session.team_ids,
        "rule_ids": session.rule_ids,
        "quorum": session.quorum,
        "version": session.version,
        "opens_at": session.opens_at.astimezone(zone).replace(tzinfo=None)
        if session.opens_at
        else None,
        "closes_at": session.closes_at.astimezone(zone).replace(tzinfo=None)
        if session.closes_at
        else None,
    }
    return _form_page(SessionForm(data=data), session)


def _state_change(action, session_id: int, message: str):
    get_or_404(sessions.get_session, session_id)
    try:
        action(get_db(), current_user, session_id)
    except Conflict as error:
        flash(str(error), "error")
    else:
        flash(message, "success")
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.route("/<int:session_id>/open", methods=["POST"])
@allow(*EDITORS)
def open_(session_id: int):
    return _state_change(sessions.open_session, session_id, _("The session is open."))


@bp.route("/<int:session_id>/close", methods=["POST"])
@allow(*EDITORS)
def close(session_id: int):
    return _state_change(sessions.close_session, session_id, _("The session is closed."))


@bp.route("/<int:session_id>/reopen", methods=["POST"])
@allow(*EDITORS)
def reopen(session_id: int):
    return _state_change(sessions.reopen_session, session_id, _("The session is open again."))


# --- one session ----------------------------------------------------------------------------


def _decision_form(session_id: int, rule_id: int, decided: dict | None, failed: dict):
    if rule_id in failed:
        return failed[rule_id]
    form = DecisionForm(
        formdata=None,
        prefix=f"d{rule_id}",
        data=decided or {},
        meta={"csrf": False},
    )
    return form


def _detail(session: sessions.ReviewSession, hands_form_errors=None, failed=None, status=200):
    db = get_db()
    closed = session.effective_state == "closed"
    decided = decisions.list_decisions(db, session.id) if closed else {}
    forms = {}
    for rule_id in session.rule_ids:
        form = _decision_form(session.id, rule_id, decided.get(rule_id), failed or {})
        form.outcome.choices = choices(decisions.OUTCOMES.items())
        forms[rule_id] = form
    return (
        render_template(
            "sessions/detail.html",
            session=session,
            eligible=sessions.eligible_count(db, session),
            voters=sessions.voter_count(db, session.id),
            can_vote=sessions.is_eligible(db, session, current_user),
            results=ballots.results(db, session) if closed else None,
            rules_in_session=rules.get_rules(db, session.rule_ids),
            hand_counts=ballots.hand_counts(db, session.id),
            hands_errors=hands_form_errors or {},
            decided=decided,
            any_applied=any(d["applied_at"] for d in decided.values()),
            decision_forms=forms,
            may_decide=closed
            and (current_user.id == session.facilitator_id or current_user.role == "admin"),
        ),
        status,
    )


@bp.route("/<int:session_id>")
@allow(*READERS)
def detail(session_id: int):
    sessions.close_expired(get_db())
    return _detail(_visible_session(session_id))


def _number(raw: str | None, empty: int | None = None) -> int | None:
    """A count as typed: empty is ``empty``, anything but digits is None (and refused)."""
    raw = (raw or "").strip()
    if not raw:
        return empty
    return int_or_none(raw) if raw.isdigit() else None


@bp.route("/<int:session_id>/hands", methods=["POST"])
@allow(*EDITORS)
def hands(session_id: int):
    session = get_or_404(sessions.get_session, session_id)
    form = request.form
    counts = {
        rule_id: {
            choice: _number(form.get(f"r{rule_id}-{choice}"), 0) for choice in ballots.CHOICES
        }
        for rule_id in session.rule_ids
    }
    try:
        ballots.enter_hands(
            get_db(), current_user, session_id, present=_number(form.get("present")), counts=counts
        )
    except ValidationError as error:
        return _detail(session, hands_form_errors=error.errors, status=200)
    except Conflict as error:
        flash(str(error), "error")
    else:
        flash(_("The counts have been saved."), "success")
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.route("/<int:session_id>/rules/<int:rule_id>/decision", methods=["POST"])
@allow(*EDITORS)
def decide(session_id: int, rule_id: int):
    session = get_or_404(sessions.get_session, session_id)
    form = DecisionForm(prefix=f"d{rule_id}")
    form.outcome.choices = choices(decisions.OUTCOMES.items())
    recorded = form.validate() and attempt(
        form,
        lambda: decisions.record_decision(
            get_db(),
            current_user,
            session_id,
            rule_id,
            outcome=form.outcome.data,
            rationale=form.rationale.data,
            new_title=form.new_title.data,
            new_description=form.new_description.data,
            new_minutes_per_week=form.new_minutes_per_week.data,
        ),
    )
    if recorded:
        if request.form.get("apply") == "1":
            return apply(session_id, rule_id)
        flash(_("The decision has been recorded."), "success")
        return redirect(
            url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}")
        )
    return _detail(session, failed={rule_id: form})


@bp.route("/<int:session_id>/rules/<int:rule_id>/apply", methods=["POST"])
@allow(*EDITORS)
def apply(session_id: int, rule_id: int):
    get_or_404(sessions.get_session, session_id)
    try:
        rule = decisions.apply_decision(get_db(), current_user, session_id, rule_id)
    except (ValidationError, Conflict, NotFound) as error:
        flash(str(error), "error")
    else:
        flash(_("The decision has been applied to %(code)s.", code=rule.code), "success")
    return redirect(url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}"))


# --- voting ---------------------------------------------------------------------------------


def _vote_page(session: sessions.ReviewSession, errors: dict | None = None, status: int = 200):
    db = get_db()
    secret = current_app.config["SECRET_KEY"]
    return (
        render_template(
            "sessions/vote.html",
            session=session,
            rules_in_session=rules.get_rules(db, session.rule_ids),
            mine=ballots.my_ballots(db, secret, session, current_user.id),
            allowed=ballots.allowed_choices,
            mandatory_message=ballots.mandatory_message,
            questions=ballots.REFLECTION_QUESTIONS,
            errors=errors or {},
        ),
        status,
    )


@bp.route("/<int:session_id>/vote", methods=["GET", "POST"])
@allow(*VOTERS)
def vote(session_id: int):
    db = get_db()
    session = _visible_session(session_id)
    if not sessions.is_eligible(db, session, current_user):
        abort(403)
    if request.method == "GET":
        return _vote_page(session)
    # The form is checked by the CSRF layer; the vote itself by the domain, in one transaction.
    rule_id = int_or_none(request.form.get("rule_id"))
    choice = request.form.get("choice", "")
    reason = request.form.get("reason", "")
    try:
        ballots.cast_vote(
            db,
            current_app.config["SECRET_KEY"],
            current_user,
            session_id,
            rule_id or -1,
            choice,
            reason,
        )
    except ValidationError as error:
        if rule_id not in session.rule_ids:  # no rule card to show the message at
            messages = [str(m) for msgs in error.errors.values() for m in msgs]
            return _vote_page(session, {"": messages}, 400)
        errors = {"rule": rule_id, "input": {"choice": choice, "reason": reason}, **error.errors}
        return _vote_page(session, errors, 400)
    except Conflict as error:
        return _vote_page(session, {"": [str(error)]}, 409)
    rule = rules.get_rule(db, rule_id)
    flash(_("Your vote on %(code)s has been saved.", code=rule.code), "success")
    later = session.rule_ids[session.rule_ids.index(rule_id) + 1 :]
    anchor = f"rule-{later[0]}" if later else "done"
    return redirect(url_for("sessions.vote", session_id=session_id, _anchor=anchor))
