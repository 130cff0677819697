"""The insight dashboard: the 70% view, myths and hours given back."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from audit import categories, figures, organisation
from audit.access import FIGURE_READERS, allow
from audit.db import get_db
from audit.views.helpers import int_or_none

bp = Blueprint("dashboard", __name__)


def scope_from_args(args) -> figures.Scope:
    return figures.Scope(
        team=int_or_none(args.get("team")),
        location=int_or_none(args.get("location")),
        category=int_or_none(args.get("category")),
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
