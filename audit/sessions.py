"""Review sessions (schrapsessies): a facilitator puts rules before one or more teams.

States: draft -> open -> closed, and a closed session may be reopened by its facilitator. A
session whose closing time has passed counts as closed from that moment: every check below
uses ``effective_state``, and the next write records the close.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit import events, rules
from audit.clock import now, now_iso, parse_iso
from audit.db import transaction
from audit.errors import Conflict, NotFound, check
from audit.text import blank
from audit.users import User

MODES = {"online": _l("Online ballots"), "hands": _l("Show of hands")}
STATES = {"draft": _l("Draft"), "open": _l("Open"), "closed": _l("Closed")}
TITLE_MAX = 200
INTRO_MAX = 5000
MAX_RULES = 100
# More people than any organisation has; a larger number is a typing error (or an attack).
QUORUM_MAX = 1_000_000
VOTER_ROLES = ("member", "quality", "admin")  # viewers read, they never vote


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

    @property
    def effective_state(self) -> str:
        if self.state == "open" and self.closes_at is not None and now() >= self.closes_at:
            return "closed"
        return self.state

    @property
    def not_yet_open(self) -> bool:
        return self.opens_at is not None and now() < self.opens_at

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
            "opens_at": parse_iso(row["opens_at"]),
            "closes_at": parse_iso(row["closes_at"]),
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


def list_sessions(db: Database, user: User | None = None) -> list[dict[str, Any]]:
    """Every session with participation and decisions (for the overview)."""
    return [
        {
            "session": session,
            "eligible": eligible_count(db, session),
            "voters": voter_count(db, session.id),
            "decided": _count(db, "decisions", session.id),
            "applied": _count(db, "decisions", session.id, "applied_at IS NOT NULL"),
        }
        for session in all_sessions(db, user)
    ]


def _count(db: Database, table: str, session_id: int, extra: str = "1") -> int:
    sql = f"SELECT count(*) FROM {table} WHERE session_id = ? AND {extra}"
    return db.execute(sql, [session_id]).fetchone()[0]


def eligible_voters(db: Database, team_ids: list[int]) -> list[int]:
    """Active members (not viewers) of any of the teams, each once."""
    if not team_ids:
        return []
    marks = ",".join("?" * len(team_ids))
    roles = ",".join(f"'{r}'" for r in VOTER_ROLES)
    return [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT u.id FROM users u JOIN team_members m ON m.user_id = u.id"
            f" WHERE m.team_id IN ({marks}) AND u.active AND u.role IN ({roles})",
            team_ids,
        )
    ]


def eligible_count(db: Database, session: ReviewSession) -> int:
    return len(eligible_voters(db, session.team_ids))


def voter_count(db: Database, session_id: int) -> int:
    """How many people have voted on at least one rule (never who)."""
    return db.execute(
        "SELECT count(DISTINCT voter_key) FROM ballots WHERE session_id = ?", [session_id]
    ).fetchone()[0]


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


# --- writing --------------------------------------------------------------------------------


def _parse_time(value: Any, field_name: str, errors: dict) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            errors[field_name] = _l("Enter a date and time.")
            return None
    if parsed.tzinfo is None:
        errors[field_name] = _l("Enter a date and time.")
        return None
    return parsed


def clean(db: Database, fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    out: dict[str, Any] = {}
    title = " ".join(str(fields.get("title") or "").split())
    if blank(title):
        errors["title"] = _l("Enter a title.")
    elif len(title) > TITLE_MAX:
        errors["title"] = _l("At most %(n)s characters.", n=TITLE_MAX)
    out["title"] = title
    out["introduction"] = str(fields.get("introduction") or "").strip()
    if len(out["introduction"]) > INTRO_MAX:
        errors["introduction"] = _l("At most %(n)s characters.", n=INTRO_MAX)
    mode = fields.get("mode") or "online"
    if mode not in MODES:
        errors["mode"] = _l("Unknown value %(value)s.", value=mode)
    out["mode"] = mode
    out["anonymous"] = bool(fields.get("anonymous", True))
    try:
        team_ids = sorted({int(t) for t in fields.get("team_ids") or []})
    except (TypeError, ValueError):
        team_ids = []
        errors["team_ids"] = _l("No such team.")
    if not team_ids and "team_ids" not in errors:
        errors["team_ids"] = _l("Choose at least one team.")
    elif team_ids:
        marks = ",".join("?" * len(team_ids))
        found = db.execute(
            f"SELECT count(*) FROM teams WHERE id IN ({marks})",
            team_ids,
        ).fetchone()[0]
        if found != len(team_ids):
            errors["team_ids"] = _l("No such team.")
    out["team_ids"] = team_ids
    try:
        rule_ids = list(dict.fromkeys(int(r) for r in fields.get("rule_ids") or []))
    except (TypeError, ValueError):
        rule_ids = []
        errors["rule_ids"] = _l("No such rule.")
    if not rule_ids and "rule_ids" not in errors:
        errors["rule_ids"] = _l("Choose at least one rule.")
    elif len(rule_ids) > MAX_RULES:
        errors["rule_ids"] = _l("At most %(n)s rules in one session.", n=MAX_RULES)
    elif rule_ids:
        live = {r.id for r in rules.get_rules(db, rule_ids) if not r.archived}
        if len(live) != len(rule_ids):
            errors["rule_ids"] = _l("No such rule.")
    out["rule_ids"] = rule_ids
    out["opens_at"] = _parse_time(fields.get("opens_at"), "opens_at", errors)
    out["closes_at"] = _parse_time(fields.get("closes_at"), "closes_at", errors)
    if out["opens_at"] and out["closes_at"] and out["closes_at"] <= out["opens_at"]:
        errors["closes_at"] = _l("The closing time must come after the opening time.")
    quorum = fields.get("quorum")
    if quorum in (None, ""):
        out["quorum"] = default_quorum(db, team_ids)
    else:
        try:
            out["quorum"] = int(quorum)
            if not 0 <= out["quorum"] <= QUORUM_MAX:
                raise ValueError
        except (TypeError, ValueError):
            errors["quorum"] = _l("Enter a whole number from 0 to %(n)s.", n=QUORUM_MAX)
    check(errors)
    return out


def _iso(value: datetime | None) -> str | None:
    """Stored in UTC, so that times compare correctly as text."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat() if value else None


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """The session's own columns, as both create and update write them."""
    return {
        "title": values["title"],
        "introduction": values["introduction"],
        "mode": values["mode"],
        "anonymous": int(values["anonymous"]),
        "opens_at": _iso(values["opens_at"]),
        "closes_at": _iso(values["closes_at"]),
        "quorum": values["quorum"],
        "updated_at": now_iso(),
    }


def _write_links(db: Database, session_id: int, team_ids: list[int], rule_ids: list[int]) -> None:
    db.execute("DELETE FROM session_teams WHERE session_id = ?", [session_id])
    db.execute("DELETE FROM session_rules WHERE session_id = ?", [session_id])
    for team_id in team_ids:
        db.execute("INSERT INTO session_teams VALUES (?, ?)", [session_id, team_id])
    for position, rule_id in enumerate(rule_ids, 1):
        db.execute("INSERT INTO session_rules VALUES (?, ?, ?)", [session_id, rule_id, position])


def _summary(values: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in values.items() if k not in ("opens_at", "closes_at")},
        "opens_at": _iso(values.get("opens_at")),
        "closes_at": _iso(values.get("closes_at")),
    }


def create_session(db: Database, actor: User, **fields: Any) -> ReviewSession:
    values = clean(db, fields)
    stamp = now_iso()
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
    db: Database, actor: User, session_id: int, *, expected_version: int | None = None, **fields
) -> ReviewSession:
    """Change a draft session: once it is open, the rules and teams before the team stay put."""
    values = clean(db, fields)
    with transaction(db):
        old = get_session(db, session_id)
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
        before = _summary(
            {
                "title": old.title,
                "introduction": old.introduction,
                "mode": old.mode,
                "anonymous": old.anonymous,
                "team_ids": old.team_ids,
                "rule_ids": old.rule_ids,
                "opens_at": old.opens_at,
                "closes_at": old.closes_at,
                "quorum": old.quorum,
            }
        )
        changes = events.diff(before, _summary(values), before)
        if changes:
            events.record(db, actor, "review_session", session_id, "update", changes)
    return get_session(db, session_id)


def _set_state(
    db: Database, actor: User | None, session: ReviewSession, state: str, action: str
) -> None:
    db.execute(
        "UPDATE review_sessions SET state = ?, closed_at = ?, updated_at = ?,"
        " version = version + 1 WHERE id = ?",
        [state, now_iso() if state == "closed" else None, now_iso(), session.id],
    )
    events.record(
        db, actor, "review_session", session.id, action, {"state": [session.state, state]}
    )


def open_session(db: Database, actor: User, session_id: int) -> ReviewSession:
    """Open a draft: its active rules go under review until a decision is applied."""
    with transaction(db):
        session = get_session(db, session_id)
        if session.state != "draft":
            raise Conflict(_l("Only a draft session can be opened."))
        _set_state(db, actor, session, "open", "open")
        for rule in rules.get_rules(db, session.rule_ids):
            if rule.status == "active":
                rules.update_rule(
                    db, actor, rule.id, status="under_review", ref=("review_session", session_id)
                )
    return get_session(db, session_id)


def close_session(db: Database, actor: User | None, session_id: int) -> ReviewSession:
    with transaction(db):
        session = get_session(db, session_id)
        if session.state != "open":
            raise Conflict(_l("Only an open session can be closed."))
        _set_state(db, actor, session, "closed", "close")
    return get_session(db, session_id)


def reopen_session(db: Database, actor: User, session_id: int) -> ReviewSession:
    """Only the facilitator may reopen, and only before any decision has been applied."""
    with transaction(db):
        session = get_session(db, session_id)
        if session.effective_state != "closed":
            raise Conflict(_l("Only a closed session can be reopened."))
        if actor.id != session.facilitator_id:
            raise Conflict(_l("Only the facilitator of this session can reopen it."))
        if _count(db, "decisions", session_id, "applied_at IS NOT NULL"):
            raise Conflict(_l("Decisions of this session have been applied; it stays closed."))
        if session.state == "open":  # past its closing time: record that close first
            _set_state(db, None, session, "closed", "close")
            session = get_session(db, session_id)
        _set_state(db, actor, session, "open", "reopen")
        if session.closes_at is not None and session.closes_at <= now():
            # Reopening means votes count again: the old closing time no longer applies.
            db.execute("UPDATE review_sessions SET closes_at = NULL WHERE id = ?", [session_id])
    return get_session(db, session_id)


def close_expired(db: Database) -> int:
    """Record the close of sessions whose closing time has passed; returns how many."""
    stamp = now_iso()
    expired = [
        r[0]
        for r in db.execute(
            "SELECT id FROM review_sessions WHERE state = 'open' AND closes_at IS NOT NULL"
            " AND closes_at <= ?",
            [stamp],
        )
    ]
    for session_id in expired:
        try:
            close_session(db, None, session_id)
        except (Conflict, sqlite3.OperationalError):
            continue  # closed meanwhile, or busy: the next read records it
    return len(expired)
