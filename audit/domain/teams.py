"""One team's own page: the rules it works under, its figures, what its sessions decided and the
sessions its members can vote in (docs/design.md, "The team page").

The figures are the dashboard's, from ``figures`` with the dashboard's team scope, so the team
page and the dashboard filtered to that team can never disagree. Who may see which team is
decided here, as ``sessions.may_see`` decides it for sessions: a member sees their own teams,
everyone else the whole organisation; to anyone else a team does not exist.
"""

from __future__ import annotations

import math
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import NotFound
from audit.domain import experiments, figures, sessions
from audit.domain.register import Page
from audit.domain.users import User

RULES_PER_PAGE = 25
DECISIONS_SHOWN = 50


def sees_every_team(user: User) -> bool:
    """Quality managers, admins and viewers read the whole organisation; a member, as with
    sessions (``sessions.may_see``), only their own teams."""
    return user.role != "member"


def _teams(db: Database, team_ids: list[int] | None) -> list[dict[str, Any]]:
    """Teams with their location's name, by name; ``team_ids`` None for every team."""
    if team_ids == []:
        return []
    where, params = "", []
    if team_ids is not None:
        where = f"WHERE t.id IN ({','.join('?' * len(team_ids))})"
        params = list(team_ids)
    return list(
        db.query(
            f"""
            SELECT t.id, t.name, t.location_id, l.name AS location_name
            FROM teams t LEFT JOIN locations l ON l.id = t.location_id
            {where} ORDER BY t.name COLLATE NOCASE, t.id
            """,
            params,
        )
    )


def visible_teams(db: Database, user: User) -> list[dict[str, Any]]:
    """The teams ``user`` may open: their own for a member, every team for the others."""
    return _teams(db, None if sees_every_team(user) else list(user.team_ids))


def visible_team(db: Database, team_id: int, user: User) -> dict[str, Any]:
    """The team, if ``user`` may see it. Another team's id is NotFound, exactly as an id that
    does not exist, so that trying numbers tells a member nothing about other teams."""
    found = _teams(db, [team_id])
    if not found or not (sees_every_team(user) or team_id in user.team_ids):
        raise NotFound(_l("No such team."))
    return found[0]


def rules_in_force(
    db: Database,
    team_id: int,
    page: int = 1,
    per_page: int = RULES_PER_PAGE,
    total: int | None = None,
) -> Page:
    """One page of the rules in force for the team, by code: the rules the dashboard counts
    for it (``figures.Scope(team=...)``), each with how it applies (``applies``: to the whole
    organisation, to the team's location, or to the team itself). ``total`` is their number
    when the caller has it already (the headline's ``total``), which saves a scan."""
    where, params = figures.Scope(team=team_id).where()
    if total is None:
        total = db.execute(f"SELECT count(*) FROM rules r WHERE {where}", params).fetchone()[0]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = list(
        db.query(
            f"""
            SELECT r.id, r.code, r.title, r.status, r.verified_origin, r.minutes_per_week,
                   r.self_invented, r.myth,
                   CASE
                       WHEN r.org_wide = 1 THEN 'organisation'
                       WHEN EXISTS (SELECT 1 FROM rule_teams rt
                                    WHERE rt.rule_id = r.id AND rt.team_id = :team) THEN 'team'
                       ELSE 'location'
                   END AS applies
            FROM rules r WHERE {where}
            ORDER BY r.code COLLATE NOCASE, r.id
            LIMIT :limit OFFSET :offset
            """,
            {**params, "limit": per_page, "offset": (page - 1) * per_page},
        )
    )
    return Page(rows=rows, total=total, page=page, per_page=per_page)


# A session counts as closed from its closing time on (``ReviewSession.effective_state``); its
# decisions are shown from then, as the session's own page shows them.
_CLOSED_SQL = (
    "(s.state = 'closed' OR (s.state = 'open' AND s.closes_at IS NOT NULL AND s.closes_at <= :now))"
)


def session_decisions(db: Database, team_id: int, limit: int = DECISIONS_SHOWN) -> dict[str, Any]:
    """The decisions of the closed sessions held with the team, newest first: which rule, what
    was decided, when, and whether it has been applied. ``total`` counts them all, ``rows`` holds
    at most ``limit``. No vote, count or name of a voter: only what the session page shows to
    everyone who may see the session."""
    params = {"team": team_id, "now": clock.now_iso(), "limit": limit}
    base = f"""
        FROM decisions d
        JOIN session_teams st ON st.session_id = d.session_id AND st.team_id = :team
        JOIN review_sessions s ON s.id = d.session_id
        JOIN rules r ON r.id = d.rule_id
        WHERE {_CLOSED_SQL}
    """
    total = db.execute(f"SELECT count(*) {base}", params).fetchone()[0]
    rows = list(
        db.query(
            f"""
            SELECT d.session_id, s.title AS session_title, d.rule_id, r.code, r.title,
                   d.outcome, d.decided_at, d.applied_at
            {base}
            ORDER BY d.decided_at DESC, d.id DESC LIMIT :limit
            """,
            params,
        )
    )
    return {"rows": rows, "total": total}


def open_sessions(db: Database, team_id: int, user: User) -> list[dict[str, Any]]:
    """The team's open sessions, soonest closing first, with whether ``user`` can vote in each
    (and so gets a link to their ballot) and what they may know of its participation
    (``sessions.participation``: for an anonymous session no count that ticks per vote)."""
    ids = [
        row[0]
        for row in db.execute(
            f"""
            SELECT s.id FROM review_sessions s
            JOIN session_teams st ON st.session_id = s.id AND st.team_id = :team
            WHERE s.state = 'open' AND NOT {_CLOSED_SQL}
            ORDER BY s.closes_at IS NULL, s.closes_at, s.id
            """,
            {"team": team_id, "now": clock.now_iso()},
        )
    ]
    found = []
    for session_id in ids:
        session = sessions.get_session(db, session_id)
        found.append(
            {
                "session": session,
                "can_vote": session.accepting_votes and sessions.is_eligible(db, session, user),
                "participation": sessions.participation(db, session, user),
            }
        )
    return found


def team_page(db: Database, team_id: int, user: User, page: int = 1) -> dict[str, Any]:
    """Everything the team page shows ``user``; NotFound for a team they may not see."""
    team = visible_team(db, team_id, user)
    scope = figures.Scope(team=team_id)
    headline = figures.headline(db, scope)
    return {
        "team": team,
        "headline": headline,
        "myths": figures.myths(db, scope),
        "reports": figures.reports(db, scope),
        "reported": figures.reported_rules(db, scope),
        "rules": rules_in_force(db, team_id, page, total=headline["total"]),
        "decisions": session_decisions(db, team_id),
        "open_sessions": open_sessions(db, team_id, user),
        # Rules this team works without for now (docs/design.md, "Experiments").
        "experiments": experiments.for_team(db, team_id),
    }
