"""The insight dashboard: the 70% view, myths and hours given back."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from audit.access import FIGURE_READERS, allow
from audit.domain import categories, figures, organisation
from audit.store.db import get_db
from audit.views.helpers import id_arg

bp = Blueprint("dashboard", __name__)


def scope_from_args(args) -> figures.Scope:
    """The dashboard's scope in the URL; a team, location or category that does not exist is a
    404 rather than the figures of the whole organisation under its name."""
    return figures.Scope(
        team=id_arg(args, "team", organisation.get_team),
        location=id_arg(args, "location", organisation.get_location),
        category=id_arg(args, "category", categories.get_category),
    )


@bp.route("/dashboard")
@allow(*FIGURE_READERS)
def index():
    db = get_db()
    scope = scope_from_args(request.args)
    return render_template(
        "dashboard/index.html",
        scope=scope,
        args={k: v for k, v in vars(scope).items() if v is not None},
        data=figures.dashboard(db, scope),
        options={
            "teams": [(t["id"], t["name"]) for t in organisation.list_teams(db)],
            "locations": [(loc["id"], loc["name"]) for loc in organisation.list_locations(db)],
            "categories": [
                (c["id"], c["name"]) for c in categories.list_categories(db, include_inactive=True)
            ],
        },
    )
