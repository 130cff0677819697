"""Reporting a rule (every role, phone first), "my reports", and the quality manager's inbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField

from audit.access import EDITORS, READERS, allow
from audit.domain import organisation, origins, register, rule_reports
from audit.domain.rule_reports import REPORT_FIELDS
from audit.domain.vocabulary import IMPACTS
from audit.store.db import get_db
from audit.views.helpers import MaxLength, attempt, choices, get_or_404, id_arg, int_or_none

bp = Blueprint("rule_reports", __name__)


def _label(key: str) -> Any:
    return REPORT_FIELDS[key].label


class ReportForm(FlaskForm):
    # Numbers are typed as text and checked by the domain, which says what is wrong in the
    # user's language (and refuses a negative or impossible number of minutes).
    title = StringField(_label("title"), validators=[MaxLength(REPORT_FIELDS["title"].max_length)])
    description = TextAreaField(
        _label("description"), validators=[MaxLength(REPORT_FIELDS["description"].max_length)]
    )
    team_id = SelectField(_label("team_id"), coerce=int_or_none, validate_choice=False)
    perceived_origin = SelectField(_label("perceived_origin"), validate_choice=False)
    minutes = StringField(_label("minutes"))
    period = RadioField(_l("The minutes are"), validate_choice=False, default="shift")
    shifts_per_week = StringField(
        _label("shifts_per_week"), default=str(rule_reports.SHIFTS_DEFAULT)
    )
    relation_impact = RadioField(_label("relation_impact"), validate_choice=False)
    why = TextAreaField(_label("why"), validators=[MaxLength(rule_reports.WHY_MAX)])
    named = BooleanField(_label("named"), default=False)

    def set_choices(self, db) -> None:
        teams = rule_reports.team_choices(db, current_user)
        self.team_id.choices = choices(
            ([] if len(teams) == 1 else [("", _("Choose a team"))]) + teams
        )
        self.perceived_origin.choices = choices([("", _("Don't know")), *origins.ORIGINS.items()])
        self.period.choices = choices(rule_reports.PERIODS.items())
        self.relation_impact.choices = choices(IMPACTS.items())

    def values(self) -> dict[str, Any]:
        return {name: self[name].data for name in REPORT_FIELDS}


class AttachForm(FlaskForm):
    rule_id = RadioField(_l("The rule this report is about"), validate_choice=False)
    note = TextAreaField(
        _l("A word to the reporter (optional)"), validators=[MaxLength(rule_reports.ANSWER_MAX)]
    )
    q = HiddenField()


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        _l("Why it is declined (the reporter reads this)"),
        validators=[MaxLength(rule_reports.ANSWER_MAX)],
    )


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


# --- reporting, and one's own reports -------------------------------------------------------


@bp.route("/reports/new", methods=["GET", "POST"])
@allow(*READERS)
def new():
    db = get_db()
    form = ReportForm()
    form.set_choices(db)
    if form.validate_on_submit():
        report = attempt(
            form, lambda: rule_reports.submit(db, _secret(), current_user, **form.values())
        )
        if report is not None:
            flash(_("Thank you. Your report has gone to the quality manager."), "success")
            return redirect(url_for("rule_reports.mine"))
    return render_template("rule_reports/new.html", form=form)


@bp.route("/reports/mine")
@allow(*READERS)
def mine():
    return render_template(
        "rule_reports/mine.html",
        reports=rule_reports.my_reports(get_db(), _secret(), current_user),
    )


@bp.route("/reports/<int:report_id>/withdraw", methods=["POST"])
@allow(*READERS)
def withdraw(report_id: int):
    # A withdrawal cannot be undone: one stray tap on a phone must not do it.
    if request.form.get("confirm") != "1":
        flash(_("Tick the box to withdraw the report."), "warning")
        return redirect(url_for("rule_reports.mine"))
    done = attempt(
        None, lambda: rule_reports.withdraw(get_db(), _secret(), current_user, report_id)
    )
    if done is not None:
        flash(_("Your report has been withdrawn."), "success")
    return redirect(url_for("rule_reports.mine"))


# --- the inbox ------------------------------------------------------------------------------


@bp.route("/reports/inbox")
@allow(*EDITORS)
def inbox():
    db = get_db()
    state = request.args.get("state")
    state = state if state in rule_reports.STATES else None
    team = id_arg(request.args, "team", organisation.get_team)
    page = rule_reports.inbox(
        db, state=state, team=team, page=int_or_none(request.args.get("page")) or 1
    )
    args = {k: v for k, v in {"state": state, "team": team}.items() if v is not None}
    return render_template(
        "rule_reports/inbox.html",
        page=page,
        args=args,
        state=state,
        team=team,
        teams=[(t["id"], t["name"]) for t in organisation.list_teams(db)],
        waiting=rule_reports.waiting(db),
        states=rule_reports.STATES,
    )


def _report_page(report_id: int, attach_form=None, decline_form=None):
    db = get_db()
    report = get_or_404(rule_reports.get_report, report_id)
    attach_form = attach_form or AttachForm(formdata=None)
    q = (request.args.get("q") if request.method == "GET" else attach_form.q.data) or ""
    q = q.strip()[:200]
    attach_form.q.data = q
    found = register.search(db, register.RuleFilter(q=q), sort="code", per_page=25) if q else None
    if found is not None:
        attach_form.rule_id.choices = choices(
            (str(row["id"]), f"{row['code']} {row['title']}") for row in found.rows
        )
    return render_template(
        "rule_reports/report.html",
        report=report,
        q=q,
        found=found,
        attach_form=attach_form,
        decline_form=decline_form or DeclineForm(formdata=None),
    )


@bp.route("/reports/inbox/<int:report_id>")
@allow(*EDITORS)
def inbox_report(report_id: int):
    return _report_page(report_id)


@bp.route("/reports/inbox/<int:report_id>/attach", methods=["POST"])
@allow(*EDITORS)
def inbox_attach(report_id: int):
    get_or_404(rule_reports.get_report, report_id)
    form = AttachForm()
    if form.validate_on_submit():
        done = attempt(
            form,
            lambda: rule_reports.attach(
                get_db(),
                current_user,
                report_id,
                int_or_none(form.rule_id.data),
                form.note.data,
            ),
            aliases={"answer": "note"},
        )
        if done is not None:
            flash(_("The report has been added to %(code)s.", code=done.rule_code), "success")
            return redirect(url_for("rule_reports.inbox"))
    return _report_page(report_id, attach_form=form)


@bp.route("/reports/inbox/<int:report_id>/decline", methods=["POST"])
@allow(*EDITORS)
def inbox_decline(report_id: int):
    get_or_404(rule_reports.get_report, report_id)
    form = DeclineForm()
    if form.validate_on_submit():
        done = attempt(
            form,
            lambda: rule_reports.decline(get_db(), current_user, report_id, form.reason.data),
            aliases={"answer": "reason"},
        )
        if done is not None:
            flash(_("The report has been declined."), "success")
            return redirect(url_for("rule_reports.inbox"))
    return _report_page(report_id, decline_form=form)
