"""Review sessions (schrapsessies): a facilitator puts rules before one or more teams.

States: draft -> open -> closed, and a closed session may be reopened by its facilitator. A
session whose closing time has passed counts as closed from that moment: every check below
uses ``effective_state``, and the next write records the close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, check
from audit.domain import events, fields, figures, register, rules, session_fields
from audit.domain.roles import EDITORS, VOTERS
from audit.domain.users import User
from audit.store.db import compact, transaction

STATES = {"draft": _l("Draft"), "open": _l("Open"), "closed": _l("Closed")}
# The session's fields, their limits and their cleaning: see session_fields.
FIELDS = session_fields.SESSION_FIELDS
MODES = session_fields.MODES
TITLE_MAX = session_fields.TITLE_MAX
INTRO_MAX = session_fields.INTRO_MAX
MAX_RULES = session_fields.MAX_RULES
QUORUM_MAX = session_fields.QUORUM_MAX
VOTER_ROLES = VOTERS  # viewers read, they never vote
# The fewest members whose votes an anonymous session shows (config ANONYMOUS_MIN_VOTERS).
MIN_VOTERS = 3


@dataclass
class ReviewSession:
    id: int
    title: str
    introduction: str
    mode: str
    anonymous: bool
    state: str
    opens_at: datetime | None
    closes_at: datetime | None
    quorum: int
    present: int | None
    facilitator_id: int
    facilitator_name: str
    created_at: str
    closed_at: str | None
    version: int
    team_ids: list[int] = field(default_factory=list)
    team_names: list[str] = field(default_factory=list)
    rule_ids: list[int] = field(default_factory=list)
    # The experiment a follow-up session decides on (docs/design.md, "Experiments").
    experiment_id: int | None = None

    @property
    def effective_state(self) -> str:
        if self.state == "open" and self.closes_at is not None and clock.now() >= self.closes_at:
            return "closed"
        return self.state

    @property
    def not_yet_open(self) -> bool:
        return self.opens_at is not None and clock.now() < self.opens_at

    @property
    def accepting_votes(self) -> bool:
        return self.mode == "online" and self.effective_state == "open" and not self.not_yet_open


# --- reading --------------------------------------------------------------------------------


def _load(db: Database, row: dict) -> ReviewSession:
    teams = list(
        db.execute(
            "SELECT t.id, t.name FROM session_teams st JOIN teams t ON t.id = st.team_id"
            " WHERE st.session_id = ? ORDER BY t.name COLLATE NOCASE",
            [row["id"]],
        )
    )
    rule_ids = [
        r[0]
        for r in db.execute(
            "SELECT rule_id FROM session_rules WHERE session_id = ? ORDER BY position",
            [row["id"]],
        )
    ]
    row = dict(row)
    row.pop("updated_at", None)
    return ReviewSession(
        **{
            **row,
            "anonymous": bool(row["anonymous"]),
            "opens_at": clock.parse_iso(row["opens_at"]),
            "closes_at": clock.parse_iso(row["closes_at"]),
        },
        team_ids=[t[0] for t in teams],
        team_names=[t[1] for t in teams],
        rule_ids=rule_ids,
    )


_SELECT = """
    SELECT s.*, coalesce(nullif(u.display_name, ''), u.username) AS facilitator_name
    FROM review_sessions s JOIN users u ON u.id = s.facilitator_id
"""


def get_session(db: Database, session_id: int) -> ReviewSession:
    rows = list(db.query(_SELECT + " WHERE s.id = ?", [session_id]))
    if not rows:
        raise NotFound(_l("No such review session."))
    return _load(db, rows[0])


def all_sessions(db: Database, user: User | None = None) -> list[ReviewSession]:
    """Every session, newest first; for a member only their teams' ones."""
    rows = db.query(
        _SELECT
        + """
        WHERE :user_id IS NULL OR EXISTS (
            SELECT 1 FROM session_teams st JOIN team_members m ON m.team_id = st.team_id
            WHERE st.session_id = s.id AND m.user_id = :user_id)
        ORDER BY s.created_at DESC, s.id DESC
        """,
        {"user_id": user.id if user is not None else None},
    )
    return [_load(db, row) for row in rows]


def _own_teams_only(user: User) -> bool:
    """Team members see the sessions of their own teams; quality managers and admins run every
    session, and viewers read the whole organisation's record."""
    return user.role == "member"


def may_see(session: ReviewSession, user: User) -> bool:
    """Whether ``user`` may see ``session`` at all (its page, its ballot)."""
    return not _own_teams_only(user) or bool(set(user.team_ids) & set(session.team_ids))


def visible_session(db: Database, session_id: int, user: User) -> ReviewSession:
    """The session, if ``user`` may see it; to anyone else it does not exist (NotFound), so a
    guessed number tells nothing about another team's sessions."""
    session = get_session(db, session_id)
    if not may_see(session, user):
        raise NotFound(_l("No such review session."))
    return session


def visible_sessions(db: Database, user: User) -> list[dict[str, Any]]:
    """The overview ``user`` gets: the sessions they may see, with what they may know of each."""
    return list_sessions(db, user if _own_teams_only(user) else None, viewer=user)


def list_sessions(
    db: Database, user: User | None = None, *, viewer: User | None = None
) -> list[dict[str, Any]]:
    """Every session with participation and decisions (for the overview); ``participation`` is
    what ``viewer`` may see of it (see ``participation``)."""
    return [
        {
            "session": session,
            "eligible": eligible_count(db, session),
            "voters": voter_count(db, session.id),
            "participation": participation(db, session, viewer) if viewer is not None else None,
            "decided": _decisions(db, session.id),
            "applied": _decisions(db, session.id, applied=True),
        }
        for session in all_sessions(db, user)
    ]


def _decisions(db: Database, session_id: int, *, applied: bool = False) -> int:
    """How many decisions the session has (``applied``: only those applied)."""
    return db.execute(
        "SELECT count(*) FROM decisions WHERE session_id = ? AND (NOT ? OR applied_at IS NOT NULL)",
        [session_id, applied],
    ).fetchone()[0]


def eligible_voters(db: Database, team_ids: list[int]) -> list[int]:
    """Active members (not viewers) of any of the teams, each once."""
    if not team_ids:
        return []
    marks = ",".join("?" * len(team_ids))
    roles = ",".join("?" * len(VOTER_ROLES))
    return [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT u.id FROM users u JOIN team_members m ON m.user_id = u.id"
            f" WHERE m.team_id IN ({marks}) AND u.active AND u.role IN ({roles})",
            [*team_ids, *VOTER_ROLES],
        )
    ]


def eligible_count(db: Database, session: ReviewSession) -> int:
    return len(eligible_voters(db, session.team_ids))


def voter_count(db: Database, session_id: int) -> int:
    """How many people have voted on at least one rule (never who)."""
    return db.execute(
        "SELECT count(*) FROM session_voters WHERE session_id = ?", [session_id]
    ).fetchone()[0]


def min_voters(value: int | None = None) -> int:
    """The threshold for anonymous results: as given, else the app's setting, else 3. It is a
    setting of whoever runs the server (who holds the secret key anyway), not of the admin
    account, so nobody inside the app can lower it to single out a vote."""
    if value is None and has_app_context():
        value = current_app.config.get("ANONYMOUS_MIN_VOTERS")
    return max(1, int(value if value is not None else MIN_VOTERS))


def results_final(db: Database, session: ReviewSession, threshold: int | None = None) -> bool:
    """An anonymous session whose results are out: closed with at least the minimum number of
    voters. It is closed for good: after that, a reopen and one more vote would let anyone who
    compares the two results read that one vote."""
    return (
        session.mode == "online"
        and session.anonymous
        and session.effective_state == "closed"
        and voter_count(db, session.id) >= min_voters(threshold)
    )


def may_run(session: ReviewSession, user: User) -> bool:
    """Changing and opening a draft, closing, reopening and deciding are for the session's
    facilitator and for admins: another quality manager's draft is theirs to prepare."""
    return user.id == session.facilitator_id or user.role == "admin"


def participation(
    db: Database, session: ReviewSession, viewer: User, threshold: int | None = None
) -> dict[str, Any] | None:
    """What ``viewer`` may know of how many members voted, or None for nothing.

    Named sessions and anonymous ones whose results are out: the count. An open (or withheld)
    anonymous session: nothing for members and viewers, and for quality managers and admins a
    band (fewer than a step, or at least a multiple of it, the step being at least the minimum
    number of voters and a quarter of the members) that moves only once per several votes, so
    that watching it never tells when one person voted.
    """
    if session.mode != "online" or session.state == "draft":
        return None
    voters, eligible = voter_count(db, session.id), eligible_count(db, session)
    if not session.anonymous or results_final(db, session, threshold):
        return {"kind": "exact", "n": voters, "m": eligible}
    if viewer.role not in EDITORS:
        return None
    # The step is worked out from the members who could vote when the session opened: counted
    # anew, an admin adding or deactivating members could move it and read the exact count off
    # bands of several steps.
    at_open = eligible_at_open(db, session.id)
    base = at_open if at_open is not None else eligible
    step = min(max(min_voters(threshold), math.ceil(base / 4)), max(base, 1))
    if voters < step:
        return {"kind": "fewer", "n": step, "m": eligible}
    return {"kind": "at_least", "n": voters // step * step, "m": eligible}


def eligible_at_open(db: Database, session_id: int) -> int | None:
    """How many members could vote when the session first opened (recorded with the open), or
    None for a session opened before that was recorded."""
    row = db.execute(
        "SELECT json_extract(changes, '$.eligible[1]') FROM events WHERE entity = 'review_session'"
        " AND entity_id = ? AND action = 'open' ORDER BY id LIMIT 1",
        [session_id],
    ).fetchone()
    return row[0] if row and isinstance(row[0], int) else None


def default_quorum(db: Database, team_ids: list[int]) -> int:
    """Half of the teams' active members, rounded up."""
    return math.ceil(len(eligible_voters(db, team_ids)) / 2)


def is_eligible(db: Database, session: ReviewSession, user: User) -> bool:
    return user.active and user.id in eligible_voters(db, session.team_ids)


def sessions_for_voter(db: Database, user: User) -> list[ReviewSession]:
    """Open and recently closed sessions of the user's teams, for their start page."""
    if user.role not in VOTER_ROLES:
        return []
    found = all_sessions(db, user)
    return [s for s in found if s.state != "draft" and is_eligible(db, s, user)]


# --- the session's scope: which rules apply to its teams -----------------------------------


def team_scope(team_ids: list[int]) -> tuple[str, dict[str, Any]]:
    """SQL condition on rules ``r``: the rule applies to at least one of the teams, by the
    register's own team scope (organisation-wide, chosen for the team, or for its location).
    With no team chosen, only organisation-wide rules apply."""
    if not team_ids:
        return "r.org_wide = 1", {}
    clauses = [register.TEAM_SCOPE.format(team=f":scope_team{i}") for i in range(len(team_ids))]
    return "(" + " OR ".join(clauses) + ")", {
        f"scope_team{i}": team_id for i, team_id in enumerate(team_ids)
    }


def rule_ids_in_scope(
    db: Database,
    team_ids: list[int],
    rule_filter: register.RuleFilter | None = None,
    limit: int | None = None,
) -> list[int]:
    """Rules matching the register filter that apply to any of the teams, in code order."""
    where, params = (rule_filter or register.RuleFilter()).where()
    scope, scope_params = team_scope(team_ids)
    sql = f"SELECT r.id FROM rules r WHERE {where} AND {scope} ORDER BY r.code COLLATE NOCASE"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [row[0] for row in db.execute(sql, {**params, **scope_params})]


def outside_scope(db: Database, team_ids: list[int], rule_ids: list[int]) -> list[int]:
    """Those of the rules that apply to none of the teams."""
    if not rule_ids:
        return []
    scope, params = team_scope(team_ids)
    marks = ",".join(f":rule{i}" for i in range(len(rule_ids)))
    params.update({f"rule{i}": rule_id for i, rule_id in enumerate(rule_ids)})
    found = {
        row[0]
        for row in db.execute(
            f"SELECT r.id FROM rules r WHERE r.id IN ({marks}) AND NOT {scope}", params
        )
    }
    return [rule_id for rule_id in rule_ids if rule_id in found]


def candidate_rule_ids(db: Database, team_ids: list[int]) -> list[int]:
    """The dashboard's top candidates among the rules that apply to the teams.

    The best candidates of the union of the teams' scopes are among the best of each team's
    own, so each team's list is asked for and merged in the dashboard's order.
    """
    if team_ids:
        found = {
            row["id"]: row
            for team_id in team_ids
            for row in figures.top_candidates(db, figures.Scope(team=team_id))
        }
        ranked = sorted(
            found.values(),
            key=lambda r: (r["minutes_per_week"] is None, -(r["minutes_per_week"] or 0), r["code"]),
        )
        return [row["id"] for row in ranked[: figures.TOP_CANDIDATES]]
    ids = [row["id"] for row in figures.top_candidates(db)]
    outside = set(outside_scope(db, [], ids))
    return [rule_id for rule_id in ids if rule_id not in outside]


def in_other_open_sessions(
    db: Database, rule_ids: list[int], session_id: int | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Per rule, the open sessions (other than ``session_id``) that have it under review."""
    if not rule_ids:
        return {}
    marks = ",".join("?" * len(rule_ids))
    found: dict[int, list[dict[str, Any]]] = {}
    for row in db.query(
        f"""
        SELECT sr.rule_id, s.id, s.title FROM session_rules sr
        JOIN review_sessions s ON s.id = sr.session_id
        WHERE s.state = 'open' AND (s.closes_at IS NULL OR s.closes_at > ?) AND s.id IS NOT ?
          AND sr.rule_id IN ({marks})
        ORDER BY s.id
        """,
        [clock.now_iso(), session_id, *rule_ids],
    ):
        found.setdefault(row["rule_id"], []).append({"id": row["id"], "title": row["title"]})
    return found


def proposed_rules(db: Database, limit: int = 10) -> dict[str, Any]:
    """Rules that wait for a team session to keep them (status ``proposed``, not archived): how
    many, and the first ``limit`` by code, each with the titles of the sessions not yet closed
    that hold it (docs/design.md, "The mirror check")."""
    where = "r.status = 'proposed' AND r.archived_at IS NULL"
    total = db.execute(f"SELECT count(*) FROM rules r WHERE {where}").fetchone()[0]
    rows = list(
        db.query(
            f"SELECT r.id, r.code, r.title FROM rules r WHERE {where}"
            " ORDER BY r.code COLLATE NOCASE LIMIT :limit",
            {"limit": limit},
        )
    )
    pending: dict[int, list[str]] = {}
    if rows:
        marks = ",".join("?" * len(rows))
        for rule_id, title in db.execute(
            f"SELECT sr.rule_id, s.title FROM session_rules sr"
            f" JOIN review_sessions s ON s.id = sr.session_id"
            f" WHERE s.state <> 'closed' AND (s.closes_at IS NULL OR s.closes_at > ?)"
            f" AND sr.rule_id IN ({marks}) ORDER BY s.id",
            [clock.now_iso(), *(row["id"] for row in rows)],
        ):
            pending.setdefault(rule_id, []).append(title)
    for row in rows:
        row["sessions"] = pending.get(row["id"], [])
    return {"total": total, "rules": rows}


# --- writing --------------------------------------------------------------------------------


def clean(db: Database, given: dict[str, Any]) -> dict[str, Any]:
    """The session's fields cleaned one by one (fields.clean), then what concerns the
    database and more than one field: the teams and rules exist, the rules apply to the teams,
    the closing time comes after the opening, and an empty quorum is the teams' default."""
    errors: dict[str, Any] = {}
    out = fields.clean(FIELDS, given, errors)
    team_ids, rule_ids = out["team_ids"], out["rule_ids"]
    if team_ids and "team_ids" not in errors:
        marks = ",".join("?" * len(team_ids))
        found = db.execute(
            f"SELECT count(*) FROM teams WHERE id IN ({marks})",
            team_ids,
        ).fetchone()[0]
        if found != len(team_ids):
            errors["team_ids"] = FIELDS["team_ids"].invalid
    if rule_ids and "rule_ids" not in errors:
        found = {r.id: r for r in rules.get_rules(db, rule_ids) if not r.archived}
        if len(found) != len(rule_ids):
            errors["rule_ids"] = FIELDS["rule_ids"].invalid
        elif team_ids and "team_ids" not in errors:
            # A team is only asked about rules that apply to it (see team_scope).
            outside = outside_scope(db, team_ids, rule_ids)
            if outside:
                errors["rule_ids"] = _l(
                    "These rules do not apply to the chosen teams: %(codes)s. Leave them out or"
                    " choose their teams.",
                    codes=", ".join(found[rule_id].code for rule_id in outside),
                )
    if out["opens_at"] and out["closes_at"] and out["closes_at"] <= out["opens_at"]:
        errors["closes_at"] = _l("The closing time must come after the opening time.")
    if out["quorum"] is None and "quorum" not in errors:
        out["quorum"] = default_quorum(db, team_ids)
    check(errors)
    return out


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """The session's own columns, as both create and update write them."""
    return {**fields.stored(FIELDS, values), "updated_at": clock.now_iso()}


def _write_links(db: Database, session_id: int, team_ids: list[int], rule_ids: list[int]) -> None:
    db.execute("DELETE FROM session_teams WHERE session_id = ?", [session_id])
    db.execute("DELETE FROM session_rules WHERE session_id = ?", [session_id])
    for team_id in team_ids:
        db.execute("INSERT INTO session_teams VALUES (?, ?)", [session_id, team_id])
    for position, rule_id in enumerate(rule_ids, 1):
        db.execute("INSERT INTO session_rules VALUES (?, ?, ?)", [session_id, rule_id, position])


def _summary(values: dict[str, Any]) -> dict[str, Any]:
    return fields.summary(FIELDS, values)


def create_session(db: Database, actor: User, **given: Any) -> ReviewSession:
    values = clean(db, given)
    stamp = clock.now_iso()
    with transaction(db):
        row = {**_stored(values), "facilitator_id": actor.id, "created_at": stamp}
        session_id = db.execute(
            f"INSERT INTO review_sessions ({', '.join(row)}) VALUES ({','.join('?' * len(row))})",
            list(row.values()),
        ).lastrowid
        _write_links(db, session_id, values["team_ids"], values["rule_ids"])
        summary = _summary(values)
        events.record(
            db,
            actor,
            "review_session",
            session_id,
            "create",
            {k: [None, v] for k, v in summary.items()},
        )
    return get_session(db, session_id)


def update_session(
    db: Database, actor: User, session_id: int, *, expected_version: int | None = None, **given
) -> ReviewSession:
    """Change a draft session: once it is open, the rules and teams before the team stay put."""
    values = clean(db, given)
    with transaction(db):
        old = get_session(db, session_id)
        if not may_run(old, actor):
            raise Conflict(_l("Only the facilitator of this session or an admin can change it."))
        if old.state != "draft":
            raise Conflict(_l("Only a draft session can be changed."))
        if expected_version is not None and old.version != expected_version:
            raise Conflict(
                _l("Someone else saved this session since you opened it. Reload it and try again.")
            )
        row = _stored(values)
        db.execute(
            f"UPDATE review_sessions SET {', '.join(f'{k} = ?' for k in row)},"
            " version = version + 1 WHERE id = ?",
            [*row.values(), session_id],
        )
        _write_links(db, session_id, values["team_ids"], values["rule_ids"])
        before = _summary(fields.current(FIELDS, old))
        changes = events.diff(before, _summary(values), before)
        if changes:
            events.record(db, actor, "review_session", session_id, "update", changes)
    return get_session(db, session_id)


def _set_state(
    db: Database,
    actor: User | None,
    session: ReviewSession,
    state: str,
    action: str,
    extra: dict[str, Any] | None = None,
) -> None:
    db.execute(
        "UPDATE review_sessions SET state = ?, closed_at = ?, updated_at = ?,"
        " version = version + 1 WHERE id = ?",
        [state, clock.now_iso() if state == "closed" else None, clock.now_iso(), session.id],
    )
    events.record(
        db,
        actor,
        "review_session",
        session.id,
        action,
        {"state": [session.state, state], **(extra or {})},
    )


def results_released(db: Database, session_id: int) -> bool:
    """Whether the session was ever closed with its anonymous results out (recorded with the
    close, see ``close_session``). A minimum raised later withholds them from then on, but
    cannot make the session reopenable: they have been seen."""
    return (
        db.execute(
            "SELECT 1 FROM events WHERE entity = 'review_session' AND entity_id = ?"
            " AND action = 'close' AND json_extract(changes, '$.results_shown[1]') = 1",
            [session_id],
        ).fetchone()
        is not None
    )


def open_session(db: Database, actor: User, session_id: int) -> ReviewSession:
    """Open a draft: its active rules go under review until a decision is applied."""
    with transaction(db):
        session = get_session(db, session_id)
        if not may_run(session, actor):
            raise Conflict(_l("Only the facilitator of this session or an admin can open it."))
        if session.state != "draft":
            raise Conflict(_l("Only a draft session can be opened."))
        _set_state(
            db, actor, session, "open", "open", {"eligible": [None, eligible_count(db, session)]}
        )
        for rule in rules.get_rules(db, session.rule_ids):
            if rule.status == "active":
                rules.update_rule(
                    db, actor, rule.id, status="under_review", ref=("review_session", session_id)
                )
    return get_session(db, session_id)


def close_session(db: Database, actor: User | None, session_id: int) -> ReviewSession:
    """Close by hand (the facilitator or an admin), or at the closing time (``actor`` None).

    Closing an anonymous session by hand also writes the database file afresh: the place of
    each ballot in the file no longer shows the order the votes came in (docs/security.md).
    """
    if actor is not None:
        close_expired(db, session_id)
    with transaction(db):
        session = get_session(db, session_id)
        if actor is not None and not may_run(session, actor):
            raise Conflict(_l("Only the facilitator of this session or an admin can close it."))
        if session.state != "open":
            raise Conflict(_l("Only an open session can be closed."))
        # Recorded, not worked out anew later: a minimum raised afterwards must not make a
        # session whose results were out reopenable (see ``results_released``).
        shown = (
            session.mode == "online"
            and session.anonymous
            and voter_count(db, session.id) >= min_voters()
        )
        _set_state(
            db,
            actor,
            session,
            "closed",
            "close",
            {"results_shown": [None, True]} if shown else None,
        )
    if actor is not None and session.mode == "online" and session.anonymous:
        compact(db)
    return get_session(db, session_id)


def reopen_refusal(
    db: Database, session: ReviewSession, actor: User, threshold: int | None = None
) -> Any | None:
    """Why ``actor`` may not reopen the session, or None when they may."""
    if session.effective_state != "closed":
        return _l("Only a closed session can be reopened.")
    if not may_run(session, actor):
        return _l("Only the facilitator of this session or an admin can reopen it.")
    if _decisions(db, session.id, applied=True):
        return _l("Decisions of this session have been applied; it stays closed.")
    if results_final(db, session, threshold) or results_released(db, session.id):
        return _l(
            "The results of this anonymous session have been shown; it stays closed, so that no"
            " later vote can be read from the difference."
        )
    return None


def reopen_session(
    db: Database, actor: User, session_id: int, threshold: int | None = None
) -> ReviewSession:
    """The facilitator or an admin may reopen, before any decision has been applied and, for an
    anonymous session, before its results were shown (see ``results_final``)."""
    close_expired(db, session_id)
    with transaction(db):
        session = get_session(db, session_id)
        refusal = reopen_refusal(db, session, actor, threshold)
        if refusal is not None:
            raise Conflict(refusal)
        if session.state == "open":  # past its closing time: record that close first
            _set_state(db, None, session, "closed", "close")
            session = get_session(db, session_id)
        _set_state(db, actor, session, "open", "reopen")
        if session.closes_at is not None and session.closes_at <= clock.now():
            # Reopening means votes count again: the old closing time no longer applies.
            db.execute("UPDATE review_sessions SET closes_at = NULL WHERE id = ?", [session_id])
    return get_session(db, session_id)


def close_expired(db: Database, session_id: int | None = None) -> int:
    """Store the close of the sessions (or of ``session_id``) whose closing time has passed;
    returns how many.

    Every write to a session calls this before its own transaction, so that it finds the session
    closed and the close stays stored even when the write itself is refused. Pages never call
    it: they show ``effective_state``, and a GET never writes.
    """
    sql = (
        "SELECT id FROM review_sessions WHERE state = 'open' AND closes_at IS NOT NULL"
        " AND closes_at <= :now AND (:id IS NULL OR id = :id)"
    )
    # Read first, without the write lock: nearly always there is nothing to close.
    if db.execute(sql, {"now": clock.now_iso(), "id": session_id}).fetchone() is None:
        return 0
    with transaction(db):
        expired = [r[0] for r in db.execute(sql, {"now": clock.now_iso(), "id": session_id})]
        for expired_id in expired:
            _set_state(db, None, get_session(db, expired_id), "closed", "close")
    return len(expired)
