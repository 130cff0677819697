"""An experiment's page (its observations, phone first), recording an observation, and the
one click that starts the follow-up session (docs/design.md, "Experiments")."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, TextAreaField
from wtforms.validators import Optional

from audit.access import EDITORS, READERS, VOTERS, allow
from audit.core import clock
from audit.domain import experiments
from audit.store.db import get_db
from audit.views.helpers import MaxLength, attempt, choices, get_or_404

bp = Blueprint("experiments", __name__, url_prefix="/experiments")


class ObservationForm(FlaskForm):
    observed_on = DateField(_l("Date"), validators=[Optional()])
    what = TextAreaField(_l("What happened"), validators=[MaxLength(experiments.TEXT_MAX)])
    effect = RadioField(
        _l("Effect on clients"),
        choices=lambda: choices(experiments.EFFECTS.items()),
        validate_choice=False,
    )
    incident = BooleanField(_l("There was an incident"))
    incident_text = TextAreaField(
        _l("What was the incident"), validators=[MaxLength(experiments.TEXT_MAX)]
    )


def _page(experiment: dict, form: ObservationForm | None = None, status: int = 200):
    db = get_db()
    if form is None:
        form = ObservationForm(data={"observed_on": clock.today()})
    return (
        render_template(
            "experiments/detail.html",
            experiment=experiment,
            observations=experiments.observations(db, experiment["id"]),
            may_observe=experiments.may_observe(db, experiment, current_user),
            may_decide=current_user.role in EDITORS,
            form=form,
        ),
        status,
    )


@bp.route("/<int:experiment_id>")
@allow(*READERS)
def detail(experiment_id: int):
    return _page(get_or_404(experiments.visible_experiment, experiment_id, current_user))


@bp.route("/<int:experiment_id>/observations", methods=["POST"])
@allow(*VOTERS)
def observe(experiment_id: int):
    experiment = get_or_404(experiments.visible_experiment, experiment_id, current_user)
    form = ObservationForm()
    saved = form.validate() and attempt(
        form,
        lambda: experiments.record_observation(
            get_db(),
            current_user,
            experiment_id,
            observed_on=form.observed_on.data,
            what=form.what.data,
            effect=form.effect.data,
            incident=form.incident.data,
            incident_text=form.incident_text.data,
        ),
    )
    if saved:
        flash(_("Your observation has been recorded."), "success")
        return redirect(url_for("experiments.detail", experiment_id=experiment_id))
    return _page(experiment, form, 422)


@bp.route("/<int:experiment_id>/follow-up", methods=["POST"])
@allow(*EDITORS)
def follow_up(experiment_id: int):
    session = attempt(
        None, lambda: experiments.start_follow_up(get_db(), current_user, experiment_id)
    )
    if session is None:
        return redirect(url_for("experiments.detail", experiment_id=experiment_id))
    flash(_("A draft follow-up session has been made. Check it and open it."), "success")
    return redirect(url_for("sessions.detail", session_id=session.id))
