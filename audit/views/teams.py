"""The team page ("Our team"): one team's rules, figures, decisions and open sessions, for its
members on their phones and for everyone who reads the whole organisation."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from audit.access import READERS, allow
from audit.domain import teams
from audit.store.db import get_db
from audit.views.helpers import get_or_404, int_or_none

bp = Blueprint("teams", __name__, url_prefix="/teams")


@bp.route("/")
@allow(*READERS)
def index():
    """The teams the user may open. A member in exactly one team goes straight to its page."""
    found = teams.visible_teams(get_db(), current_user)
    own_only = not teams.sees_every_team(current_user)
    if own_only and len(found) == 1:
        return redirect(url_for("teams.detail", team_id=found[0]["id"]))
    return render_template("teams/index.html", teams=found, own_only=own_only)


@bp.route("/<int:team_id>")
@allow(*READERS)
def detail(team_id: int):
    data = get_or_404(
        teams.team_page, team_id, current_user, int_or_none(request.args.get("page")) or 1
    )
    return render_template("teams/detail.html", **data)
