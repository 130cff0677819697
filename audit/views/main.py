"""The start page (for team members, the review sessions waiting for their vote) and the help
page with the words and figures."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from audit.access import READERS, allow, may_open
from audit.domain import actions, ballots, experiments, figures, organisation, sessions
from audit.store.db import get_db

bp = Blueprint("main", __name__)


@bp.route("/")
@allow(*READERS)
def index():
    db = get_db()
    mine = []
    for session in sessions.sessions_for_voter(db, current_user):
        voted = ballots.my_ballots(db, current_app.config["SECRET_KEY"], session, current_user.id)
        mine.append({"session": session, "voted": len(voted)})
    # Proposed rules wait for a session: shown to whoever can put them before one.
    proposed = sessions.proposed_rules(db) if may_open("sessions.new") else None
    # Overdue follow-up actions for those who follow decisions up (the list of all actions).
    follow_up = figures.follow_up(db) if may_open("actions.index") else None
    return render_template(
        "main/index.html",
        org=organisation.get_settings(db),
        my_sessions=mine,
        proposed=proposed,
        follow_up=follow_up,
        my_open_actions=actions.mine_open_count(db, current_user),
        # Experiments past their end wait for a follow-up session (docs/design.md, "Experiments").
        ended=experiments.waiting_for_decision(db) if may_open("experiments.follow_up") else [],
    )


@bp.route("/help")
@allow(*READERS)
def help_page():
    """What the words mean and how every figure is counted, for every role: the same
    definitions the figures module counts by (see README, "How the figures are counted")."""
    settings = organisation.get_settings(get_db())
    return render_template(
        "main/help.html",
        reference_share=settings["reference_share"],
        reference_label=organisation.reference_label(settings),
    )
