"""Follow-up actions on decisions: what has to happen after a decision (tell the families,
change the protocol document), who does it, by when, and when it was done (docs/design.md,
"Follow-up actions").

An action belongs to one decision of a review session (a session and a rule). The session's
facilitator and admins (``sessions.may_run``) add, change and delete actions; the owner marks
their own action done, with a note, and may undo that. A decision is applied whether or not its
actions are done: the actions follow the decision, they never hold it up.

Every change is one transaction with one event on the rule (entity ``rule``, referring to the
action), so the rule's history and the report's History sheet show the actions with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, check
from audit.domain import events, fields, sessions
from audit.domain.fields import DATE, LONG_TEXT, REFERENCE, TEXT, Field
from audit.domain.roles import ACTION_OWNERS
from audit.domain.users import User
from audit.store.db import transaction

WHAT_MAX = 300
NOTE_MAX = 1000
# A follow-up action is near-term work: a due day more than two years ahead is a typing error.
DUE_MAX_DAYS = 731
# How many done actions "my actions" lists below the open ones (the most recent first).
DONE_SHOWN = 20
LIST_LIMIT = 500

ACTION_FIELDS = fields.table(
    Field(
        "what",
        _l("What has to be done"),
        TEXT,
        WHAT_MAX,
        required=True,
        missing=_l("Say what has to be done."),
    ),
    Field(
        "owner_id",
        _l("Owner"),
        REFERENCE,
        table="users",
        required=True,
        missing=_l("Choose who does it."),
        invalid=_l("Choose one of the people listed."),
    ),
    Field(
        "due_on",
        _l("Due"),
        DATE,
        required=True,
        invalid=_l("Enter the due date as YYYY-MM-DD."),
    ),
    Field("note", _l("Note (optional)"), LONG_TEXT, NOTE_MAX),
)
# What the event log holds besides the fields above: the session of a new action's decision,
# and when and by whom an action was done.
DONE_FIELDS = fields.table(
    Field("session_id", _l("Review session"), REFERENCE, table="review_sessions"),
    Field("done_on", _l("Done on"), DATE),
    Field("done_by", _l("Done by"), REFERENCE, table="users"),
    Field("done_note", _l("Note when done"), LONG_TEXT, NOTE_MAX),
)
# The event actions, all on the rule the decision is about.
EVENT_ACTIONS = {
    "action_add": _l("follow-up action added"),
    "action_update": _l("follow-up action changed"),
    "action_done": _l("follow-up action done"),
    "action_reopen": _l("follow-up action reopened"),
    "action_delete": _l("follow-up action deleted"),
}


@dataclass
class Action:
    id: int
    decision_id: int
    session_id: int
    session_title: str
    rule_id: int
    rule_code: str
    rule_title: str
    outcome: str
    what: str
    owner_id: int
    owner_name: str
    due_on: date
    note: str
    done_on: date | None
    done_by: int | None
    done_by_name: str | None
    done_note: str
    version: int

    @property
    def done(self) -> bool:
        return self.done_on is not None

    @property
    def overdue(self) -> bool:
        """Not done, and due before today (per the one clock)."""
        return self.done_on is None and self.due_on < clock.today()


_SELECT = """
    SELECT a.id, a.decision_id, d.session_id, s.title AS session_title, d.rule_id,
           r.code AS rule_code, r.title AS rule_title, d.outcome, a.what, a.owner_id,
           coalesce(nullif(o.display_name, ''), o.username) AS owner_name, a.due_on, a.note,
           a.done_on, a.done_by,
           coalesce(nullif(b.display_name, ''), b.username) AS done_by_name, a.done_note,
           a.version
    FROM actions a
    JOIN decisions d ON d.id = a.decision_id
    JOIN review_sessions s ON s.id = d.session_id
    JOIN rules r ON r.id = d.rule_id
    JOIN users o ON o.id = a.owner_id
    LEFT JOIN users b ON b.id = a.done_by
"""
# Open first, the earliest due first; then done, the most recently done first.
_ORDER = " ORDER BY a.done_on IS NOT NULL, a.due_on, a.done_on DESC, a.id"


def _action(row: dict) -> Action:
    row = dict(row)
    row["due_on"] = date.fromisoformat(row["due_on"])
    row["done_on"] = date.fromisoformat(row["done_on"]) if row["done_on"] else None
    return Action(**row)


def _actions(db: Database, where: str, params: Any, order: str = _ORDER) -> list[Action]:
    return [_action(row) for row in db.query(f"{_SELECT} WHERE {where}{order}", params)]


def get_action(db: Database, action_id: int) -> Action:
    found = _actions(db, "a.id = ?", [action_id])
    if not found:
        raise NotFound(_l("No such action."))
    return found[0]


def for_session(db: Database, session_id: int) -> dict[int, list[Action]]:
    """The actions of a session's decisions, per rule."""
    by_rule: dict[int, list[Action]] = {}
    for action in _actions(db, "d.session_id = ?", [session_id]):
        by_rule.setdefault(action.rule_id, []).append(action)
    return by_rule


def open_for_rule(db: Database, rule_id: int) -> list[Action]:
    """The actions of every decision on a rule that are not done yet, the earliest due first."""
    return _actions(db, "d.rule_id = ? AND a.done_on IS NULL", [rule_id])


def mine(db: Database, user: Any) -> list[Action]:
    """The user's actions: the open ones by due day, then the last ``DONE_SHOWN`` done."""
    open_ = _actions(db, "a.owner_id = ? AND a.done_on IS NULL", [user.id])
    done = _actions(
        db,
        "a.owner_id = ? AND a.done_on IS NOT NULL",
        [user.id],
        f" ORDER BY a.done_on DESC, a.id DESC LIMIT {DONE_SHOWN}",
    )
    return open_ + done


def owns_open(db: Database, user: Any) -> bool:
    """Whether the user owns an action not done yet (the menu shows "My actions" then)."""
    return (
        db.execute(
            "SELECT 1 FROM actions WHERE owner_id = ? AND done_on IS NULL LIMIT 1", [user.id]
        ).fetchone()
        is not None
    )


def mine_open_count(db: Database, user: Any) -> dict[str, int]:
    """How many open actions the user owns, and how many of them are overdue."""
    total, overdue = db.execute(
        "SELECT count(*), coalesce(sum(due_on < ?), 0) FROM actions"
        " WHERE owner_id = ? AND done_on IS NULL",
        [clock.today().isoformat(), user.id],
    ).fetchone()
    return {"open": total, "overdue": overdue}


STATES = {
    "open": _l("Open"),
    "overdue": _l("Overdue"),
    "done": _l("Done"),
    "all": _l("All"),
}


def listing(db: Database, state: str = "open", limit: int | None = LIST_LIMIT) -> list[Action]:
    """Every action in a state (open, overdue, done or all), open first by due day; at most
    ``limit`` (None: all, for the report)."""
    where, params = {
        "open": ("a.done_on IS NULL", []),
        "overdue": ("a.done_on IS NULL AND a.due_on < ?", [clock.today().isoformat()]),
        "done": ("a.done_on IS NOT NULL", []),
    }.get(state, ("1", []))
    return _actions(db, where, params, _ORDER + (f" LIMIT {int(limit)}" if limit else ""))


def owner_choices(db: Database, keep: int | None = None) -> list[tuple[int, str]]:
    """Who may own an action: active users of the roles that act (viewers read only). ``keep``
    stays in the list though inactive, so that editing an old action does not lose its owner."""
    marks = ",".join("?" * len(ACTION_OWNERS))
    rows = db.execute(
        f"""
        SELECT id, coalesce(nullif(display_name, ''), username) AS name FROM users
        WHERE (active AND role IN ({marks})) OR id = ?
        ORDER BY name COLLATE NOCASE, id
        """,
        [*ACTION_OWNERS, keep],
    )
    return [(row[0], row[1]) for row in rows]


# --- writing --------------------------------------------------------------------------------


def _decision(db: Database, session_id: int, rule_id: int) -> dict[str, Any]:
    row = db.execute(
        "SELECT id, decided_at FROM decisions WHERE session_id = ? AND rule_id = ?",
        [session_id, rule_id],
    ).fetchone()
    if row is None:
        raise NotFound(_l("No decision has been recorded for this rule."))
    return {"id": row[0], "decided_on": date.fromisoformat(row[1][:10])}


def _require_runner(db: Database, actor: User, session_id: int) -> None:
    session = sessions.get_session(db, session_id)
    if not sessions.may_run(session, actor):
        raise Conflict(
            _l("Only the facilitator of this session or an admin adds and changes its actions.")
        )


def _clean(
    db: Database,
    given: dict[str, Any],
    decided_on: date,
    before: Action | None = None,
) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    values = fields.clean(ACTION_FIELDS, given, errors)
    due = values["due_on"]
    if due is None and "due_on" not in errors:
        errors["due_on"] = _l("Enter the day it is due.")
    # A due day left as it was (an old action, overdue now) is kept; a day typed is checked.
    elif due is not None and (before is None or due != before.due_on):
        latest = clock.today() + timedelta(days=DUE_MAX_DAYS)
        if due < decided_on:
            errors["due_on"] = _l(
                "The due date cannot lie before the decision (%(day)s).", day=decided_on
            )
        elif due > latest:
            errors["due_on"] = _l("The due date can be at most two years from today.")
    owner = values["owner_id"]
    if owner is not None and "owner_id" not in errors:
        allowed = {user_id for user_id, _ in owner_choices(db)}
        if owner not in allowed and not (before is not None and owner == before.owner_id):
            errors["owner_id"] = ACTION_FIELDS["owner_id"].invalid
    check(errors)
    return values


def _summary(values: dict[str, Any]) -> dict[str, Any]:
    return {key: (v.isoformat() if isinstance(v, date) else v) for key, v in values.items()}


def _record(db: Database, actor: User, action: Action, kind: str, changes: dict[str, Any]) -> None:
    """One event on the rule, naming the action it changed and what it says."""
    events.record(
        db,
        actor,
        "rule",
        action.rule_id,
        kind,
        changes,
        ref=("action", action.id),
        note=action.what,
    )


def create_action(db: Database, actor: User, session_id: int, rule_id: int, **given: Any) -> Action:
    """A follow-up action on the decision about ``rule_id`` in ``session_id``."""
    with transaction(db):
        _require_runner(db, actor, session_id)
        decision = _decision(db, session_id, rule_id)
        values = _clean(db, given, decision["decided_on"])
        cursor = db.execute(
            """
            INSERT INTO actions (decision_id, what, owner_id, due_on, note, created_by, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                decision["id"],
                values["what"],
                values["owner_id"],
                values["due_on"].isoformat(),
                values["note"],
                actor.id,
                clock.now_iso(),
            ],
        )
        action = get_action(db, cursor.lastrowid)
        _record(
            db,
            actor,
            action,
            "action_add",
            events.diff({}, _summary(values), ACTION_FIELDS) | {"session_id": [None, session_id]},
        )
    return action


def _current(db: Database, action_id: int, expected_version: int | None) -> Action:
    """The action as it is now, inside the caller's transaction; refused if it changed since
    the form was loaded."""
    action = get_action(db, action_id)
    if expected_version is None or action.version != expected_version:
        raise Conflict(
            _l("Someone changed this action in the meantime. Reload the page and try again.")
        )
    return action


def _bump(db: Database, action_id: int, assignments: str, params: list[Any]) -> None:
    db.execute(
        f"UPDATE actions SET {assignments}, version = version + 1 WHERE id = ?",
        [*params, action_id],
    )


def update_action(
    db: Database, actor: User, action_id: int, *, expected_version: int | None, **given: Any
) -> Action:
    """Change what, owner, due day or note (the facilitator or an admin)."""
    with transaction(db):
        before = _current(db, action_id, expected_version)
        _require_runner(db, actor, before.session_id)
        decision = _decision(db, before.session_id, before.rule_id)
        values = _clean(db, given, decision["decided_on"], before)
        old = _summary(fields.current(ACTION_FIELDS, before))
        changes = events.diff(old, _summary(values), ACTION_FIELDS)
        if not changes:
            return before
        _bump(
            db,
            action_id,
            "what = ?, owner_id = ?, due_on = ?, note = ?",
            [values["what"], values["owner_id"], values["due_on"].isoformat(), values["note"]],
        )
        after = get_action(db, action_id)
        _record(db, actor, after, "action_update", changes)
    return after


def may_mark(db: Database, action: Action, user: Any) -> bool:
    """The owner marks their own action done or open again; so do the facilitator and admins."""
    if action.owner_id == user.id and getattr(user, "role", None) in ACTION_OWNERS:
        return True
    return sessions.may_run(sessions.get_session(db, action.session_id), user)


def visible_action(db: Database, action_id: int, user: Any) -> Action:
    """The action, for someone who may mark it; to anyone else it does not exist, so trying
    ids tells nothing about other people's actions."""
    action = get_action(db, action_id)
    if not may_mark(db, action, user):
        raise NotFound(_l("No such action."))
    return action


def mark_done(
    db: Database,
    actor: User,
    action_id: int,
    *,
    expected_version: int | None,
    note: str | None = None,
) -> Action:
    """Done today, by ``actor``, with an optional note."""
    errors: dict[str, Any] = {}
    done_note = fields.clean_value(DONE_FIELDS["done_note"], note, errors)
    check(errors)
    with transaction(db):
        before = visible_action(db, action_id, actor)
        if before.done:
            raise Conflict(_l("This action has been marked done already."))
        _current(db, action_id, expected_version)
        today = clock.today().isoformat()
        _bump(
            db, action_id, "done_on = ?, done_by = ?, done_note = ?", [today, actor.id, done_note]
        )
        after = get_action(db, action_id)
        changes = {"done_on": [None, today], "done_by": [None, actor.id]}
        if done_note:
            changes["done_note"] = ["", done_note]
        _record(db, actor, after, "action_done", changes)
    return after


def reopen_action(
    db: Database, actor: User, action_id: int, *, expected_version: int | None
) -> Action:
    """Undo "done": the action is open again (and overdue again if its day has passed)."""
    with transaction(db):
        before = visible_action(db, action_id, actor)
        if not before.done:
            raise Conflict(_l("This action is open already."))
        _current(db, action_id, expected_version)
        _bump(db, action_id, "done_on = NULL, done_by = NULL, done_note = ''", [])
        after = get_action(db, action_id)
        changes = {
            "done_on": [before.done_on.isoformat(), None],
            "done_by": [before.done_by, None],
        }
        if before.done_note:
            changes["done_note"] = [before.done_note, ""]
        _record(db, actor, after, "action_reopen", changes)
    return after


def delete_action(
    db: Database, actor: User, action_id: int, *, expected_version: int | None
) -> None:
    """Remove an action that is not done (one added by mistake, or no longer needed). A done
    action is part of what happened and stays; its event keeps what the deleted one said."""
    with transaction(db):
        before = _current(db, action_id, expected_version)
        _require_runner(db, actor, before.session_id)
        if before.done:
            raise Conflict(_l("A done action stays on record; it cannot be deleted."))
        db.execute("DELETE FROM actions WHERE id = ?", [action_id])
        old = _summary(fields.current(ACTION_FIELDS, before))
        _record(db, actor, before, "action_delete", events.diff(old, {}, ACTION_FIELDS))
