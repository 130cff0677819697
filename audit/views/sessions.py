"""Review sessions: create, open and close, vote, count hands, see results, decide."""

from __future__ import annotations

from typing import Any
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
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from audit.access import COUNCIL_ADVISERS, EDITORS, READERS, VOTERS, allow
from audit.domain import (
    actions,
    ballots,
    concerns,
    council,
    decisions,
    experiments,
    fields,
    organisation,
    rules,
    sessions,
    strategies,
)
from audit.domain.fields import Field
from audit.store.db import get_db
from audit.views.helpers import (
    MaxLength,
    Problems,
    attempt,
    choices,
    form_version,
    get_or_404,
    int_id,
    int_or_none,
)
from audit.views.rules import filter_from_args, filter_options

bp = Blueprint("sessions", __name__, url_prefix="/sessions")

PICKER_LIMIT = 200


def _local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _reference_id(value: Any) -> int | str | None:
    """A posted id as a number; anything else is passed on as typed, so the domain refuses it
    with the field's own message rather than reading it as "none chosen"."""
    if value in (None, ""):
        return None
    number = int_or_none(value)
    return number if number is not None else str(value)


def _form_field(spec: Field, **options: Any):
    """The form field a session or decision field is shown with, by its kind: its label, limit
    and required message come from the table (session_fields), so form and domain agree."""
    checks: list = [DataRequired(message=spec.missing)] if spec.required else []
    if spec.kind in (fields.TEXT, fields.LONG_TEXT):
        field = StringField if spec.kind == fields.TEXT else TextAreaField
        # MaxLength, not Length: no maxlength attribute that cuts pasted text unsaid.
        limit = [MaxLength(spec.max_length)] if spec.max_length is not None else []
        return field(spec.label, validators=checks + limit, **options)
    if spec.kind == fields.CHOICE:
        return RadioField(
            spec.label,
            choices=lambda: choices((spec.choices or {}).items()),
            default=spec.default,
            **options,
        )
    if spec.kind == fields.FLAG:
        return BooleanField(spec.label, default=spec.default, **options)
    if spec.kind == fields.REFERENCE:
        # The rows offered are read per form (_set_references); whether the one posted exists
        # and may be chosen is the domain's to say, with its own message.
        return SelectField(
            spec.label, coerce=_reference_id, choices=[], validate_choice=False, **options
        )
    if spec.kind == fields.REFERENCES:
        return SelectMultipleField(
            spec.label,
            coerce=int_id,
            validators=checks,
            widget=ListWidget(prefix_label=False),
            option_widget=CheckboxInput(),
            **options,
        )
    if spec.kind == fields.MOMENT:
        return DateTimeLocalField(spec.label, validators=[Optional()], **options)
    if spec.kind == fields.INTEGER:
        return IntegerField(
            spec.label, validators=[Optional(), NumberRange(min=0, max=spec.maximum)], **options
        )
    raise ValueError(f"no form field for kind {spec.kind!r}")


def _form_class(name: str, base: type[FlaskForm], table: dict[str, Field], **options: Any):
    """``base`` with a form field for every field of the table (``options`` per key)."""
    members = {key: _form_field(spec, **options.get(key, {})) for key, spec in table.items()}
    return type(name, (base,), members)


class _SessionForm(FlaskForm):
    version = HiddenField()

    def values(self) -> dict:
        """The fields as the domain takes them: a time typed is in the organisation's zone."""
        zone = _local_zone()
        values = {key: self[key].data for key in sessions.FIELDS}
        for key, spec in sessions.FIELDS.items():
            if spec.kind == fields.MOMENT and values[key] is not None:
                values[key] = values[key].replace(tzinfo=zone)
        return values


def _session_form_data(session: sessions.ReviewSession) -> dict:
    """A session's fields as its form shows them: times in the organisation's zone."""
    zone = _local_zone()
    data = {**fields.current(sessions.FIELDS, session), "version": session.version}
    for key, spec in sessions.FIELDS.items():
        if spec.kind == fields.MOMENT and data[key] is not None:
            data[key] = data[key].astimezone(zone).replace(tzinfo=None)
    return data


# The rules offered are only those of the chosen teams; the domain checks each is a rule.
SessionForm = _form_class(
    "SessionForm", _SessionForm, sessions.FIELDS, rule_ids={"validate_choice": False}
)


# The teams offered are the session's (_set_teams); the domain checks the ones posted.
class _DecisionBase(FlaskForm):
    # The decision as the page showed it (decisions.version_token): a decision someone else
    # changed since is not overwritten.
    seen = HiddenField()


DecisionForm = _form_class(
    "DecisionForm",
    _DecisionBase,
    decisions.FIELDS,
    experiment_team_ids={"validate_choice": False},
)


def _set_teams(form: FlaskForm, session: sessions.ReviewSession) -> None:
    form.experiment_team_ids.choices = list(zip(session.team_ids, session.team_names, strict=True))


# What a reference field of a session's or decision's table offers, per table: (id, name) pairs
# of the rows that may be chosen, plus ``keep``, the row the record names already.
_REFERENCE_OPTIONS = {"adapt_strategies": strategies.options}


def _set_references(form: FlaskForm, table: dict[str, Field], kept: dict | None) -> None:
    """Fill the drop-down of every reference field of ``table`` in ``form``."""
    db = get_db()
    for key, spec in table.items():
        if spec.kind == fields.REFERENCE:
            pairs = _REFERENCE_OPTIONS[spec.table](db, (kept or {}).get(key))
            form[key].choices = choices([("", spec.empty), *pairs])


# --- helpers --------------------------------------------------------------------------------


def _visible_session(session_id: int) -> sessions.ReviewSession:
    """The session, if the current user may see it (the domain decides), else a 404."""
    return get_or_404(sessions.visible_session, session_id, current_user)


def _chosen_teams(session: sessions.ReviewSession | None) -> list[int]:
    """The teams rules are offered for: those posted with the form, else those chosen in the
    builder's first step (``teams`` in the URL), else the draft's own."""
    if request.method == "POST":
        raw = request.form.getlist("team_ids")
    elif "teams" in request.args or session is None:
        raw = request.args.getlist("teams")
    else:
        return list(session.team_ids)
    return list(dict.fromkeys(t for t in map(int_or_none, raw) if t is not None))


def _prepare(form: SessionForm, db, session: sessions.ReviewSession | None) -> dict:
    """Fill the form's choices and find the rules to offer: only rules that apply to the chosen
    teams, from the register's filter in the URL or the dashboard's candidates, plus whatever
    is chosen already (flagged when it does not apply or is under review elsewhere)."""
    teams = organisation.list_teams(db)
    form.team_ids.choices = choices((t["id"], t["name"]) for t in teams)
    team_ids = _chosen_teams(session)
    if request.method == "GET":
        form.team_ids.data = team_ids
    rule_filter = filter_from_args(request.args)
    wants_candidates = request.args.get("candidates") == "1"
    if wants_candidates:
        offered = sessions.candidate_rule_ids(db, team_ids)
    else:
        offered = sessions.rule_ids_in_scope(db, team_ids, rule_filter, limit=PICKER_LIMIT)
    picked = list(form.rule_ids.data or [])
    ids = list(dict.fromkeys([*picked, *offered]))
    elsewhere = sessions.in_other_open_sessions(db, ids, session.id if session else None)
    if request.method == "GET" and wants_candidates and not picked:
        # A rule already under review in another open session is shown, never taken unasked.
        form.rule_ids.data = [rule_id for rule_id in offered if rule_id not in elsewhere]
    candidates = [r for r in rules.get_rules(db, ids) if not r.archived]
    form.rule_ids.choices = choices((r.id, f"{r.code} {r.title}") for r in candidates)
    return {
        "candidates": candidates,
        "f": rule_filter,
        "teams": teams,
        "team_ids": team_ids,
        "elsewhere": elsewhere,
        "outside": set(sessions.outside_scope(db, team_ids, ids)),
        "options": filter_options(db),
    }


def _form_page(form: SessionForm, session: sessions.ReviewSession | None):
    db = get_db()
    picker = _prepare(form, db, session)
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
    return render_template("sessions/form.html", form=form, session=session, **picker)


# --- overview and editing -------------------------------------------------------------------


@bp.route("/")
@allow(*READERS)
def index():
    db = get_db()
    return render_template("sessions/index.html", items=sessions.visible_sessions(db, current_user))


@bp.route("/new", methods=["GET", "POST"])
@allow(*EDITORS)
def new():
    return _form_page(SessionForm(), None)


@bp.route("/<int:session_id>/edit", methods=["GET", "POST"])
@allow(*EDITORS)
def edit(session_id: int):
    session = get_or_404(sessions.get_session, session_id)
    if not sessions.may_run(session, current_user):
        flash(_("Only the facilitator of this session or an admin can change it."), "warning")
        return redirect(url_for("sessions.detail", session_id=session_id))
    if session.state != "draft":
        flash(_("Only a draft session can be changed."), "warning")
        return redirect(url_for("sessions.detail", session_id=session_id))
    return _form_page(SessionForm(data=_session_form_data(session)), session)


def _state_change(action, session_id: int, message: str):
    get_or_404(sessions.get_session, session_id)
    if attempt(None, lambda: action(get_db(), current_user, session_id)) is not None:
        flash(message, "success")
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.route("/<int:session_id>/open", methods=["GET", "POST"])
@allow(*EDITORS)
def open_(session_id: int):
    """Opening puts the rules under review and lets the teams vote: a page says what will
    happen and what deserves a second look, and only its confirmed form opens the session."""
    session = get_or_404(sessions.get_session, session_id)
    if request.method == "POST":
        if request.form.get("confirm") == "1":
            return _state_change(sessions.open_session, session_id, _("The session is open."))
        return redirect(url_for("sessions.open_", session_id=session_id))
    if not sessions.may_run(session, current_user):
        flash(_("Only the facilitator of this session or an admin can open it."), "warning")
        return redirect(url_for("sessions.detail", session_id=session_id))
    if session.state != "draft":
        flash(_("Only a draft session can be opened."), "warning")
        return redirect(url_for("sessions.detail", session_id=session_id))
    db = get_db()
    return render_template(
        "sessions/confirm_open.html",
        session=session,
        eligible=sessions.eligible_count(db, session),
        min_voters=sessions.min_voters(),
        rules_in_session=rules.get_rules(db, session.rule_ids),
        elsewhere=sessions.in_other_open_sessions(db, session.rule_ids, session.id),
        outside=set(sessions.outside_scope(db, session.team_ids, session.rule_ids)),
    )


@bp.route("/<int:session_id>/close", methods=["POST"])
@allow(*EDITORS)
def close(session_id: int):
    session = get_or_404(sessions.get_session, session_id)
    if session.mode == "online" and session.anonymous and request.form.get("final") != "1":
        # Closing may show the results, and then the session stays closed for good.
        flash(_("Tick the box to confirm that the session may stay closed for good."), "error")
        return redirect(url_for("sessions.detail", session_id=session_id))
    return _state_change(sessions.close_session, session_id, _("The session is closed."))


@bp.route("/<int:session_id>/reopen", methods=["POST"])
@allow(*EDITORS)
def reopen(session_id: int):
    return _state_change(sessions.reopen_session, session_id, _("The session is open again."))


# --- one session ----------------------------------------------------------------------------


def _decision_form(
    rule: rules.Rule, decided: dict | None, failed: dict, session: sessions.ReviewSession
):
    """The decision form of one rule. The adapt fields start from the rule as it is (or the
    adaptation recorded), so changing only its minutes means changing only that field."""
    if rule.id in failed:
        return failed[rule.id]
    data = dict(decided or {})
    adapted = data.get("outcome") == "adapt"
    for name, current in (
        ("title", rule.title),
        ("description", rule.description),
        ("minutes_per_week", rule.minutes_per_week),
    ):
        recorded = data.get(f"new_{name}") if adapted else None
        data[f"new_{name}"] = recorded if recorded is not None else current
    data["experiment_team_ids"] = experiments.decided_teams(data) or session.team_ids
    data["seen"] = decisions.version_token(decided)
    form = DecisionForm(formdata=None, prefix=f"d{rule.id}", data=data, meta={"csrf": False})
    _set_references(form, decisions.FIELDS, decided)
    _set_teams(form, session)
    return form


def _detail(
    session: sessions.ReviewSession,
    hands_form_errors=None,
    failed=None,
    status=200,
    concern_problems: dict | None = None,
    advice_problems: dict | None = None,
):
    """The session page. ``concern_problems`` holds what was typed into a refused concern form
    (an answer, or a concern from the room) and why it was refused, to show it again."""
    db = get_db()
    closed = session.effective_state == "closed"
    decided = decisions.list_decisions(db, session.id) if closed else {}
    rules_in_session = rules.get_rules(db, session.rule_ids)
    forms = {}
    for rule in rules_in_session:
        form = _decision_form(rule, decided.get(rule.id), failed or {}, session)
        forms[rule.id] = form
    return (
        render_template(
            "sessions/detail.html",
            session=session,
            eligible=sessions.eligible_count(db, session),
            participation=sessions.participation(db, session, current_user),
            min_voters=sessions.min_voters(),
            may_run=sessions.may_run(session, current_user),
            may_reopen=sessions.reopen_refusal(db, session, current_user) is None,
            can_vote=sessions.is_eligible(db, session, current_user),
            results=ballots.results(db, session) if closed else None,
            withheld=closed and ballots.results_withheld(db, session),
            rules_in_session=rules_in_session,
            hand_counts=ballots.hand_counts(db, session.id),
            hands_errors=hands_form_errors or {},
            decided=decided,
            any_applied=any(d["applied_at"] for d in decided.values()),
            decision_forms=forms,
            strategy_list=strategies.list_strategies(db) if closed else [],
            may_decide=closed and sessions.may_run(session, current_user),
            concern_kinds=concerns.KINDS,
            in_room=concerns.listed(db, session) if session.mode == "hands" and not closed else {},
            concern_problems=concern_problems or {},
            follow_up=actions.for_session(db, session.id) if closed else {},
            **_council_context(db, session, rules_in_session, closed, advice_problems or {}),
            experiment=experiments.for_session(db, session),
        ),
        status,
    )


def _council_context(
    db, session: sessions.ReviewSession, rules_in_session: list, closed: bool, problems: dict
) -> dict[str, Any]:
    """What the page shows of the client council's advice (docs/design.md, "Client council
    advice"): nothing when the organisation has it off."""
    setting = council.setting(db)
    daily_life = council.daily_life_categories(db)
    return {
        "council_setting": setting,
        "council_shared": council.is_shared(db, session.id),
        "may_advise": closed and setting != "off" and council.may_advise(db, session, current_user),
        "council_advice": council.for_session(db, session.id) if closed else {},
        "council_rules": {
            r.id for r in rules_in_session if council.touches_daily_life(r, daily_life)
        },
        "advice_problems": problems,
    }


@bp.route("/<int:session_id>")
@allow(*READERS)
def detail(session_id: int):
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
    problems = Problems()
    attempt(
        problems,
        lambda: ballots.enter_hands(
            get_db(), current_user, session_id, present=_number(form.get("present")), counts=counts
        ),
    )
    if not problems:
        flash(_("The counts have been saved."), "success")
    elif problems.status == 400:
        # Wrong counts are shown at their rows, with what was typed.
        return _detail(session, hands_form_errors=problems, status=200)
    else:
        problems.flash()  # the session no longer takes counts: the page shows why
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.route("/<int:session_id>/concerns", methods=["POST"])
@allow(*EDITORS)
def add_concern(session_id: int):
    """A concern raised in the room at a show of hands, entered by the facilitator (no name)."""
    session = get_or_404(sessions.get_session, session_id)
    form = request.form
    problems = Problems()
    attempt(
        problems,
        lambda: concerns.add_in_room(
            get_db(),
            current_user,
            session_id,
            int_or_none(form.get("rule_id")) or -1,
            form.get("concern_kind", ""),
            form.get("concern_text", ""),
        ),
    )
    if not problems:
        flash(_("The concern has been added."), "success")
    elif problems.status == 400:
        typed = {"room": {k: form.get(k, "") for k in ("rule_id", "concern_kind", "concern_text")}}
        return _detail(session, concern_problems={**typed, "room_errors": problems}, status=400)
    else:
        problems.flash()
    return redirect(url_for("sessions.detail", session_id=session_id, _anchor="room-concerns"))


@bp.route("/<int:session_id>/rules/<int:rule_id>/concerns/remove", methods=["POST"])
@allow(*EDITORS)
def remove_concern(session_id: int, rule_id: int):
    get_or_404(sessions.get_session, session_id)
    problems = Problems()
    attempt(
        problems,
        lambda: concerns.remove_in_room(
            get_db(), current_user, session_id, rule_id, request.form.get("key", "")
        ),
    )
    if problems.status == 404:
        abort(404)
    if problems:
        problems.flash()
    else:
        flash(_("The concern has been removed."), "success")
    return redirect(url_for("sessions.detail", session_id=session_id, _anchor="room-concerns"))


@bp.route("/<int:session_id>/rules/<int:rule_id>/concerns/answer", methods=["POST"])
@allow(*EDITORS)
def answer_concern(session_id: int, rule_id: int):
    """The facilitator's answer to one concern, after the close; a refused answer is shown
    again at its concern with what was typed."""
    session = get_or_404(sessions.get_session, session_id)
    form = request.form
    key = form.get("key", "")
    problems = Problems()
    attempt(
        problems,
        lambda: ballots.answer_concern(
            get_db(),
            current_user,
            session_id,
            rule_id,
            key,
            form.get("answer", ""),
            expected_answer_version=form_version(form.get("version")),
        ),
    )
    if not problems:
        flash(_("The answer has been saved."), "success")
    elif problems.status == 404:
        abort(404)
    elif session.effective_state == "closed" and sessions.may_run(session, current_user):
        # The answer form is on the page: shown again at its concern, with what was typed.
        typed = {"answer": form.get("answer", ""), "errors": problems}
        return _detail(
            session, concern_problems={f"{rule_id}:{key}": typed}, status=problems.status
        )
    else:
        problems.flash()  # no form to show it at: the page says why
    return redirect(url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}"))


@bp.route("/<int:session_id>/rules/<int:rule_id>/decision", methods=["POST"])
@allow(*EDITORS)
def decide(session_id: int, rule_id: int):
    session = get_or_404(sessions.get_session, session_id)
    form = DecisionForm(prefix=f"d{rule_id}")
    _set_references(
        form, decisions.FIELDS, decisions.list_decisions(get_db(), session_id).get(rule_id)
    )
    _set_teams(form, session)
    recorded = form.validate() and attempt(
        form,
        lambda: decisions.record_decision(
            get_db(),
            current_user,
            session_id,
            rule_id,
            expected_token=form.seen.data or "",
            **{key: form[key].data for key in decisions.FIELDS},
        ),
    )
    if recorded:
        if request.form.get("apply") == "1":
            if recorded["outcome"] == "drop":
                flash(_("The decision has been recorded. Confirm below to apply it."), "success")
                return redirect(url_for("sessions.apply", session_id=session_id, rule_id=rule_id))
            return _apply(session_id, rule_id)
        flash(_("The decision has been recorded."), "success")
        return redirect(
            url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}")
        )
    return _detail(session, failed={rule_id: form})


def _apply(session_id: int, rule_id: int, seen: str | None = None):
    rule = attempt(
        None,
        lambda: decisions.apply_decision(
            get_db(), current_user, session_id, rule_id, expected_token=seen
        ),
    )
    if rule is not None:
        flash(_("The decision has been applied to %(code)s.", code=rule.code), "success")
    return redirect(url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}"))


@bp.route("/<int:session_id>/rules/<int:rule_id>/apply", methods=["GET", "POST"])
@allow(*EDITORS)
def apply(session_id: int, rule_id: int):
    """Apply a recorded decision. Dropping takes a rule out of force, so a drop is applied only
    from its confirm page (the GET); keep and adapt are applied at once."""
    session = get_or_404(sessions.get_session, session_id)
    db = get_db()
    decision = decisions.list_decisions(db, session_id).get(rule_id)
    is_drop = decision is not None and decision["outcome"] == "drop"
    if request.method == "POST":
        if is_drop and request.form.get("confirm") != "1":
            return redirect(url_for("sessions.apply", session_id=session_id, rule_id=rule_id))
        # The decision as the page showed it: one changed since (in another tab, by someone
        # else) is not applied unseen.
        return _apply(session_id, rule_id, request.values.get("seen", ""))
    if is_drop and not decision["applied_at"]:
        return render_template(
            "sessions/confirm_apply.html",
            session=session,
            rule=get_or_404(rules.get_rule, rule_id),
            decision=decision,
        )
    return redirect(url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}"))


# --- client council -------------------------------------------------------------------------


@bp.route("/<int:session_id>/council", methods=["POST"])
@allow(*EDITORS)
def share_with_council(session_id: int):
    """Share the session with the client council, or stop sharing it."""
    get_or_404(sessions.get_session, session_id)
    shared = attempt(
        None,
        lambda: council.share(
            get_db(), current_user, session_id, request.form.get("shared") == "1"
        ),
    )
    if shared is not None:
        flash(
            _("The session is shared with the client council.")
            if shared
            else _("The session is no longer shared with the client council."),
            "success",
        )
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.route("/<int:session_id>/rules/<int:rule_id>/advice", methods=["POST"])
@allow(*COUNCIL_ADVISERS)
def advice(session_id: int, rule_id: int):
    """The client council's advice on the decision about one rule; a refused form is shown
    again at its decision with what was typed."""
    session = _visible_session(session_id)
    if rule_id not in session.rule_ids:
        abort(404)
    form = request.form
    typed = {k: form.get(k, "") for k in ("advised_on", "advice", "followed", "reason")}
    problems = Problems()
    attempt(
        problems,
        lambda: council.record_advice(
            get_db(),
            current_user,
            session_id,
            rule_id,
            **typed,
            expected_version=form_version(form.get("version")),
        ),
    )
    if not problems:
        flash(_("The advice of the client council has been saved."), "success")
    elif problems.status == 404:
        abort(404)
    elif problems.status == 400:
        # Shown again at its decision, as a refused decision form is (status 200).
        return _detail(session, advice_problems={rule_id: {**typed, "errors": problems}})
    else:
        problems.flash()  # refused as a whole (stale, not theirs): the page says why
    return redirect(url_for("sessions.detail", session_id=session_id, _anchor=f"rule-{rule_id}"))


# --- voting ---------------------------------------------------------------------------------


def _vote_page(
    session: sessions.ReviewSession,
    errors: dict | None = None,
    typed: dict[int, dict] | None = None,
    status: int = 200,
):
    """The ballot; after a refused save, with everything the member typed (``typed``)."""
    db = get_db()
    secret = current_app.config["SECRET_KEY"]
    mine = ballots.my_ballots(db, secret, session, current_user.id)
    return (
        render_template(
            "sessions/vote.html",
            session=session,
            rules_in_session=rules.get_rules(db, session.rule_ids),
            mine=mine,
            typed=typed,
            filled=typed or {rule_id: _as_typed(saved) for rule_id, saved in mine.items()},
            concern_kinds=concerns.KINDS,
            concern_max=concerns.TEXT_MAX,
            allowed=ballots.allowed_choices,
            mandatory_message=ballots.mandatory_message,
            questions=ballots.REFLECTION_QUESTIONS,
            errors=errors or {},
            experiment=experiments.for_session(db, session),
        ),
        status,
    )


_BALLOT_FIELDS = ("choice", "reason", "concern", "concern_kind", "concern_text")


def _as_typed(saved: dict) -> dict:
    """A saved vote as the ballot's fields show it."""
    kind, text = saved["concern"] or ("", "")
    return {
        "choice": saved["choice"],
        "reason": saved["reason"],
        "concern": "1" if saved["concern"] else "",
        "concern_kind": kind,
        "concern_text": text,
    }


def _typed_ballot(form) -> dict[int, dict]:
    """``choice-<rule id>``, ``reason-<rule id>`` and the concern's fields (``concern``, the
    box; ``concern_kind`` and ``concern_text``) per rule. A name whose id is not a number cannot
    be a rule of the session: it is kept under -1 so the domain refuses it."""
    typed: dict[int, dict] = {}
    for name, value in form.items():
        kind, _dash, raw_id = name.partition("-")
        if kind in _BALLOT_FIELDS and _dash:
            # isdigit() alone is true for "²" or "①", which int() cannot read.
            rule_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() else -1
            typed.setdefault(rule_id, dict.fromkeys(_BALLOT_FIELDS, ""))[kind] = value
    return typed


def _vote_of(typed: dict) -> tuple:
    """(choice, reason, concern) as the domain takes them: a concern only when its box is
    ticked, so unticking it withdraws the concern whatever its fields still hold."""
    concern = (typed["concern_kind"], typed["concern_text"]) if typed["concern"] else None
    return typed["choice"], typed["reason"], concern


@bp.route("/<int:session_id>/vote", methods=["GET", "POST"])
@allow(*VOTERS)
def vote(session_id: int):
    db = get_db()
    session = _visible_session(session_id)
    if not sessions.is_eligible(db, session, current_user):
        abort(403)
    if request.method == "GET":
        return _vote_page(session)
    # One form for the whole ballot: every rule's choice and reason are saved together, in one
    # transaction, so a choice picked on one rule is never lost by saving another.
    typed = _typed_ballot(request.form)
    problems = Problems()
    saved = attempt(
        problems,
        lambda: ballots.cast_ballot(
            db,
            current_app.config["SECRET_KEY"],
            current_user,
            session_id,
            {rule_id: _vote_of(v) for rule_id, v in typed.items()},
        ),
    )
    if problems:
        return _vote_page(session, problems, typed, problems.status)
    if saved:
        codes = {r.id: r.code for r in rules.get_rules(db, [rule_id for rule_id, _ in saved])}
        listed = ", ".join(
            f"{codes[rule_id]}: {ballots.CHOICES[choice]}" for rule_id, choice in saved
        )
        flash(_("Your votes have been saved. %(votes)s", votes=listed), "success")
    elif any(v["choice"] for v in typed.values()):
        flash(_("Nothing has changed: these votes had been saved already."), "info")
    else:
        flash(
            _("You have not chosen anything yet: pick keep, adapt, drop or abstain at a rule."),
            "warning",
        )
    return redirect(url_for("sessions.vote", session_id=session_id))
