"""The start page: for team members, the review sessions waiting for their vote."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from audit import ballots, organisation, sessions
from audit.access import READERS, allow
from audit.db import get_db

bp = Blueprint("main", __name__)


@bp.route("/")
@allow(*READERS)
def index():
    db = get_db()
    sessions.close_expired(db)
    mine = []
    for session in sessions.sessions_for_voter(db, current_user):
        voted = ballots.my_ballots(db, current_app.config["SECRET_KEY"], session, current_user.id)
        mine.append({"session": session, "voted": len(voted)})
    return render_template("main/index.html", org=organisation.get_settings(db), my_sessions=mine)
