"""Experiments: a team tries working without a rule for a period, records what it sees, and a
follow-up session decides (docs/design.md, "Experiments").

An experiment starts when an "experiment" decision is applied (decisions.apply_decision calls
``start`` or ``extend`` inside its transaction) and is closed by the next keep, adapt or drop
decision applied on its rule. Whether it has ended is read from the date (``clock.today()``),
so no page has to write to notice it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError, check
from audit.domain import events, origins, sessions
from audit.domain.roles import EDITORS
from audit.domain.users import User
from audit.store.db import transaction

DEFAULT_WEEKS = 8
MAX_WEEKS = 26
EFFECTS = {
    "hinders": _l("Hinders clients"),
    "neutral": _l("No effect on clients"),
    "supports": _l("Supports clients"),
}
TEXT_MAX = 2000
STATES = {
    "running": _l("Running"),
    "ended": _l("Ended: decide"),
    "closed": _l("Closed"),
}

# What the experiment's events change and do, named for the rule's history (history.py).
FIELD_LABELS = {
    "experiment_until": _l("Without the rule until"),
    "experiment_teams": _l("Teams without the rule"),
    "experiment_outcome": _l("Experiment closed by"),
}
EVENT_ACTIONS = {
    "experiment_start": _l("experiment started"),
    "experiment_extend": _l("experiment extended"),
    "experiment_close": _l("experiment closed"),
    "observation": _l("observation recorded"),
    "follow_up": _l("follow-up session started"),
}


# --- the decision's scope and period --------------------------------------------------------


def clean_scope(
    db: Database,
    session: sessions.ReviewSession,
    weeks: int | None,
    team_ids: list[int] | None,
    errors: dict,
) -> tuple[int, list[int]]:
    """The weeks (default 8, 1 to 26) and teams (default: the session's; each one of them) of an
    experiment decision."""
    weeks = DEFAULT_WEEKS if weeks is None else weeks
    if not 1 <= weeks <= MAX_WEEKS and "experiment_weeks" not in errors:
        errors["experiment_weeks"] = _l("Choose from 1 to %(n)s weeks.", n=MAX_WEEKS)
    teams = sorted(set(team_ids or [])) or list(session.team_ids)
    if set(teams) - set(session.team_ids):
        errors["experiment_team_ids"] = _l("Choose among the teams of this session.")
    return weeks, teams


def decided_teams(decision: dict[str, Any]) -> list[int]:
    return json.loads(decision.get("experiment_team_ids") or "[]")


# --- reading --------------------------------------------------------------------------------


def effective_state(row: dict[str, Any], today: date | None = None) -> str:
    """Running until its end date has passed, then "ended" until a decision closes it."""
    if row["state"] == "closed":
        return "closed"
    return "ended" if (today or clock.today()).isoformat() >= row["ends_on"] else "running"


# A rule traced as mandatory while a team tries without it binds everyone again at once: its
# experiment no longer suspends it anywhere (the follow-up session still closes it; a drop or
# another try is refused there). SQL on rules ``r``.
BINDING_AGAIN = "r.verified_origin IS NOT NULL AND r.verified_origin IN ({keys})".format(
    keys=", ".join(f"'{key}'" for key in sorted(origins.MANDATORY))
)

_SELECT = """
    SELECT e.*, r.code, r.title AS rule_title, d.session_id,
           (SELECT group_concat(t.name, ', ') FROM (
                SELECT t.name FROM experiment_teams et JOIN teams t ON t.id = et.team_id
                WHERE et.experiment_id = e.id ORDER BY t.name COLLATE NOCASE) t) AS team_names,
           (SELECT json_group_array(et.team_id) FROM experiment_teams et
                WHERE et.experiment_id = e.id) AS team_ids_json,
           (SELECT s.id FROM review_sessions s WHERE s.experiment_id = e.id
                ORDER BY s.id DESC LIMIT 1) AS follow_up_session_id
    FROM experiments e JOIN rules r ON r.id = e.rule_id JOIN decisions d ON d.id = e.decision_id
"""


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["team_ids"] = sorted(json.loads(row.pop("team_ids_json") or "[]"))
    row["effective_state"] = effective_state(row)
    return row


def get_experiment(db: Database, experiment_id: int) -> dict[str, Any]:
    rows = list(db.query(_SELECT + " WHERE e.id = ?", [experiment_id]))
    if not rows:
        raise NotFound(_l("No such experiment."))
    return _finish(rows[0])


def may_see(experiment: dict[str, Any], user: User) -> bool:
    """Members see the experiments of their own teams; quality managers, admins and viewers
    see every one, as they see every rule."""
    if user.role != "member":
        return True
    return bool(set(user.team_ids) & set(experiment["team_ids"]))


def visible_experiment(db: Database, experiment_id: int, user: User) -> dict[str, Any]:
    """The experiment, or NotFound for a member of other teams: a guessed number tells nothing."""
    found = get_experiment(db, experiment_id)
    if not may_see(found, user):
        raise NotFound(_l("No such experiment."))
    return found


def for_rule(db: Database, rule_id: int) -> list[dict[str, Any]]:
    """Every experiment on the rule, newest first."""
    return [
        _finish(r) for r in db.query(_SELECT + " WHERE e.rule_id = ? ORDER BY e.id DESC", [rule_id])
    ]


def open_for_rules(db: Database, rule_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The experiment not yet closed per rule (at most one each), for register rows."""
    if not rule_ids:
        return {}
    marks = ",".join("?" * len(rule_ids))
    rows = db.query(
        _SELECT
        + f" WHERE e.state = 'running' AND e.rule_id IN ({marks}) AND NOT ({BINDING_AGAIN})",
        list(rule_ids),
    )
    return {r["rule_id"]: _finish(r) for r in rows}


def waiting_for_decision(db: Database) -> list[dict[str, Any]]:
    """Experiments whose period has passed and that no decision has closed yet."""
    rows = db.query(
        _SELECT + " WHERE e.state = 'running' AND e.ends_on <= ? ORDER BY e.ends_on, e.id",
        [clock.today().isoformat()],
    )
    return [_finish(r) for r in rows]


def for_team(db: Database, team_id: int) -> list[dict[str, Any]]:
    """Experiments not yet closed that suspend a rule for the team."""
    rows = db.query(
        _SELECT + f" WHERE e.state = 'running' AND NOT ({BINDING_AGAIN}) AND e.id IN"
        " (SELECT experiment_id FROM experiment_teams WHERE team_id = ?) ORDER BY e.ends_on",
        [team_id],
    )
    return [_finish(r) for r in rows]


# --- starting, extending, closing (inside decisions.apply_decision's transaction) ----------


def _open_on_rule(db: Database, rule_id: int) -> dict[str, Any] | None:
    rows = list(
        db.query("SELECT * FROM experiments WHERE rule_id = ? AND state = 'running'", [rule_id])
    )
    return rows[0] if rows else None


def start(
    db: Database, actor: User, decision: dict[str, Any], session: sessions.ReviewSession
) -> int:
    """Start the experiment an applied decision asks for; an event on the rule records it."""
    if _open_on_rule(db, decision["rule_id"]) is not None:
        raise Conflict(_l("An experiment on this rule is already under way."))
    today = clock.today()
    ends = today + timedelta(weeks=decision["experiment_weeks"] or DEFAULT_WEEKS)
    teams = decided_teams(decision) or session.team_ids
    experiment_id = db.execute(
        "INSERT INTO experiments (rule_id, decision_id, starts_on, ends_on, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [decision["rule_id"], decision["id"], today.isoformat(), ends.isoformat(), clock.now_iso()],
    ).lastrowid
    db.conn.executemany(
        "INSERT INTO experiment_teams (experiment_id, team_id) VALUES (?, ?)",
        [(experiment_id, team) for team in teams],
    )
    events.record(
        db,
        actor,
        "rule",
        decision["rule_id"],
        "experiment_start",
        {"experiment_until": [None, ends.isoformat()], "experiment_teams": [None, teams]},
        ref=("review_session", session.id),
        note=decision["rationale"],
    )
    return experiment_id


def extend(db: Database, actor: User, decision: dict[str, Any], experiment_id: int) -> None:
    """Extend the experiment once, by the decision's weeks, to at most 26 weeks in all."""
    row = get_experiment(db, experiment_id)
    if row["state"] == "closed":
        raise Conflict(_l("This experiment is closed; start a new one instead."))
    if row["extended"]:
        raise ValidationError({"outcome": _l("This experiment has been extended once already.")})
    ends = date.fromisoformat(row["ends_on"]) + timedelta(
        weeks=decision["experiment_weeks"] or DEFAULT_WEEKS
    )
    if ends > date.fromisoformat(row["starts_on"]) + timedelta(weeks=MAX_WEEKS):
        raise ValidationError(
            {"experiment_weeks": _l("An experiment lasts at most %(n)s weeks in all.", n=MAX_WEEKS)}
        )
    db.execute(
        "UPDATE experiments SET ends_on = ?, extended = 1, version = version + 1 WHERE id = ?",
        [ends.isoformat(), experiment_id],
    )
    events.record(
        db,
        actor,
        "rule",
        row["rule_id"],
        "experiment_extend",
        {"experiment_until": [row["ends_on"], ends.isoformat()]},
        ref=("review_session", decision["session_id"]),
        note=decision["rationale"],
    )


def close_on_rule(db: Database, actor: User, decision: dict[str, Any]) -> None:
    """A keep, adapt or drop applied on the rule closes its experiment, for good."""
    row = _open_on_rule(db, decision["rule_id"])
    if row is None:
        return
    db.execute(
        "UPDATE experiments SET state = 'closed', closed_at = ?, closed_by_decision_id = ?,"
        " version = version + 1 WHERE id = ?",
        [clock.now_iso(), decision["id"], row["id"]],
    )
    events.record(
        db,
        actor,
        "rule",
        decision["rule_id"],
        "experiment_close",
        {"experiment_outcome": [None, decision["outcome"]]},
        ref=("review_session", decision["session_id"]),
    )


def check_extension(db: Database, session: sessions.ReviewSession, rule_id: int) -> int | None:
    """The experiment an experiment decision in this session would extend: the follow-up
    session's own, when it is about this rule; else None (a new experiment starts)."""
    experiment_id = session.experiment_id
    if experiment_id is None:
        return None
    row = get_experiment(db, experiment_id)
    return experiment_id if row["rule_id"] == rule_id else None


# --- observations ---------------------------------------------------------------------------


def may_observe(db: Database, experiment: dict[str, Any], user: User) -> bool:
    """Members of the experiment's teams and quality managers record observations."""
    if experiment["state"] == "closed" or user.role == "viewer":
        return False
    if user.role == "member":
        return bool(set(user.team_ids) & set(experiment["team_ids"]))
    return user.role in EDITORS


def observations(db: Database, experiment_id: int) -> list[dict[str, Any]]:
    return list(
        db.query(
            """
            SELECT o.*, coalesce(nullif(u.display_name, ''), u.username) AS recorded_by_name
            FROM experiment_observations o JOIN users u ON u.id = o.recorded_by
            WHERE o.experiment_id = ? ORDER BY o.observed_on DESC, o.id DESC
            """,
            [experiment_id],
        )
    )


def record_observation(
    db: Database,
    actor: User,
    experiment_id: int,
    *,
    observed_on: Any,
    what: str | None,
    effect: str | None,
    incident: bool,
    incident_text: str | None,
) -> int:
    """Record what a member saw while working without the rule."""
    errors: dict[str, Any] = {}
    what = (what or "").strip()
    incident_text = (incident_text or "").strip()
    if not what:
        errors["what"] = _l("Write down what happened.")
    elif len(what) > TEXT_MAX:
        errors["what"] = _l("At most %(n)s characters.", n=TEXT_MAX)
    if effect not in EFFECTS:
        errors["effect"] = _l("Choose the effect on clients.")
    if incident and not incident_text:
        errors["incident_text"] = _l("Describe the incident.")
    elif len(incident_text) > TEXT_MAX:
        errors["incident_text"] = _l("At most %(n)s characters.", n=TEXT_MAX)
    day = observed_on or clock.today()
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            day = None
            errors["observed_on"] = _l("Enter a date.")
    if day is not None and day > clock.today():
        errors["observed_on"] = _l("An observation cannot lie in the future.")
    check(errors)
    with transaction(db):
        experiment = get_experiment(db, experiment_id)
        if not may_see(experiment, actor):
            raise NotFound(_l("No such experiment."))
        if not may_observe(db, experiment, actor):
            raise Conflict(_l("Only the experiment's teams record observations while it is open."))
        if day.isoformat() < experiment["starts_on"]:
            raise ValidationError(
                {
                    "observed_on": _l(
                        "The experiment started on %(day)s.", day=experiment["starts_on"]
                    )
                }
            )
        # The same observation again from the same person (a double tap, a resend on a slow
        # phone network) is stored once.
        same = db.execute(
            "SELECT id FROM experiment_observations WHERE experiment_id = ? AND recorded_by = ?"
            " AND observed_on = ? AND what = ? AND effect = ? AND incident = ?"
            " AND incident_text = ?",
            [
                experiment_id,
                actor.id,
                day.isoformat(),
                what,
                effect,
                int(bool(incident)),
                incident_text if incident else "",
            ],
        ).fetchone()
        if same is not None:
            return same[0]
        observation_id = db.execute(
            "INSERT INTO experiment_observations (experiment_id, observed_on, what, effect,"
            " incident, incident_text, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                experiment_id,
                day.isoformat(),
                what,
                effect,
                int(bool(incident)),
                incident_text if incident else "",
                actor.id,
                clock.now_iso(),
            ],
        ).lastrowid
        events.record(
            db,
            actor,
            "experiment",
            experiment_id,
            "observation",
            {"effect": [None, effect], "incident": [None, bool(incident)]},
        )
    return observation_id


# --- the follow-up session ------------------------------------------------------------------


def start_follow_up(db: Database, actor: User, experiment_id: int) -> sessions.ReviewSession:
    """A draft review session on the experiment's rule for its teams, linked to it, so that its
    ballot shows the observations and its decision closes (or extends) the experiment."""
    with transaction(db):
        experiment = get_experiment(db, experiment_id)
        if experiment["state"] == "closed":
            raise Conflict(_l("This experiment is closed; start a new one instead."))
        # One follow-up at a time: a new one only once the last one's decision was applied
        # (it extended the experiment, which has now ended again).
        last = experiment["follow_up_session_id"]
        if last is not None:
            applied = db.execute(
                "SELECT applied_at FROM decisions WHERE session_id = ? AND rule_id = ?",
                [last, experiment["rule_id"]],
            ).fetchone()
            if applied is None or applied[0] is None:
                raise Conflict(_l("A follow-up session for this experiment exists already."))
        session = sessions.create_session(
            db,
            actor,
            title=str(_l("Experiment ended: %(code)s", code=experiment["code"])),
            team_ids=experiment["team_ids"],
            rule_ids=[experiment["rule_id"]],
        )
        db.execute(
            "UPDATE review_sessions SET experiment_id = ? WHERE id = ?",
            [experiment_id, session.id],
        )
        events.record(
            db,
            actor,
            "experiment",
            experiment_id,
            "follow_up",
            {"session_id": [None, session.id]},
        )
    return sessions.get_session(db, session.id)


def for_session(db: Database, session: sessions.ReviewSession) -> dict[str, Any] | None:
    """The experiment a follow-up session decides on, with its observations."""
    if session.experiment_id is None:
        return None
    found = get_experiment(db, session.experiment_id)
    return {**found, "observations": observations(db, found["id"])}
