"""The client council's advice on decisions (docs/design.md, "Client council advice").

A decision on a rule can carry the council's advice: its date, what it said, whether the
decision follows it and, when not, why. The organisation's setting says what the app asks:
``off`` shows nothing, ``ask`` offers the form and reminds on rules that touch residents'
daily lives, ``required`` refuses to apply a decision on such a rule until advice is recorded.
A rule touches daily life when its values touched include autonomy, privacy or dignity, or its
category is marked as part of residents' daily life.

Advice is entered by the session's facilitator, by admins, and by a viewer (the council's
account) for sessions shared with the council.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, check
from audit.domain import events, organisation, rules, sessions
from audit.domain.roles import COUNCIL_MEMBERS
from audit.domain.users import User
from audit.store.db import transaction

SETTINGS = organisation.COUNCIL_SETTINGS
# The values whose touch makes a rule one the council is heard on.
COUNCIL_VALUES = frozenset({"autonomy", "privacy", "dignity"})
TEXT_MAX = 5000
SETTING_LABELS = {
    "off": _l("Off"),
    "ask": _l("Ask"),
    "required": _l("Required"),
}
# How the history names what these events hold (audit/domain/history.py).
EVENT_ACTIONS = {
    "council_advice": _l("client council advice recorded"),
    "council_share": _l("sharing with the client council changed"),
}
FIELD_LABELS = {
    "advised_on": _l("Date of the advice"),
    "advice": _l("Advice of the client council"),
    "followed": _l("Advice followed"),
    "reason": _l("Why not followed"),
    "shared_with_council": _l("Shared with the client council"),
    "council_advice": _l("Client council advice"),
    "daily_life": _l("Part of residents' daily life"),
}


def setting(db: Database) -> str:
    """The organisation's setting: ``off``, ``ask`` or ``required``."""
    return db.execute("SELECT council_advice FROM organisation").fetchone()[0]


def daily_life_categories(db: Database) -> set[int]:
    return {row[0] for row in db.execute("SELECT id FROM categories WHERE daily_life = 1")}


def touches_daily_life(rule: rules.Rule, daily_life: set[int]) -> bool:
    """Whether the council is to be heard on ``rule`` (``daily_life``: the marked categories)."""
    return bool(COUNCIL_VALUES & set(rule.values_touched)) or rule.category_id in daily_life


def is_shared(db: Database, session_id: int) -> bool:
    return (
        db.execute("SELECT 1 FROM council_shares WHERE session_id = ?", [session_id]).fetchone()
        is not None
    )


def share(db: Database, actor: User, session_id: int, shared: bool) -> bool:
    """Share the session with the client council, or stop sharing it; for its facilitator and
    admins. One transaction with its event."""
    with transaction(db):
        session = sessions.get_session(db, session_id)
        if not sessions.may_run(session, actor):
            raise Conflict(
                _l("Only the facilitator of this session shares it with the client council.")
            )
        before = is_shared(db, session_id)
        if before == bool(shared):
            return before
        if shared:
            db.execute(
                "INSERT INTO council_shares (session_id, shared_by, shared_at) VALUES (?, ?, ?)",
                [session_id, actor.id, clock.now_iso()],
            )
        else:
            db.execute("DELETE FROM council_shares WHERE session_id = ?", [session_id])
        events.record(
            db,
            actor,
            "review_session",
            session_id,
            "council_share",
            {"shared_with_council": [before, bool(shared)]},
        )
    return bool(shared)


def may_advise(db: Database, session: sessions.ReviewSession, user: User) -> bool:
    """Whether ``user`` may enter the council's advice on the session's decisions."""
    if sessions.may_run(session, user):
        return True
    return user.role in COUNCIL_MEMBERS and is_shared(db, session.id)


def for_session(db: Database, session_id: int) -> dict[int, dict[str, Any]]:
    """The advice per rule of the session's decisions."""
    rows = db.query(
        """
        SELECT d.rule_id, c.*, coalesce(nullif(u.display_name, ''), u.username) AS entered_by_name
        FROM council_advice c JOIN decisions d ON d.id = c.decision_id
        JOIN users u ON u.id = c.entered_by
        WHERE d.session_id = ?
        """,
        [session_id],
    )
    return {r["rule_id"]: {**r, "followed": bool(r["followed"])} for r in rows}


def for_decision(db: Database, decision_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM council_advice WHERE decision_id = ?", [decision_id]))
    return {**rows[0], "followed": bool(rows[0]["followed"])} if rows else None


def all_advice(db: Database) -> dict[int, dict[str, Any]]:
    """Every advice by decision id (for the report)."""
    return {
        r["decision_id"]: {**r, "followed": bool(r["followed"])}
        for r in db.query("SELECT * FROM council_advice")
    }


def _clean(advised_on: Any, advice: Any, followed: Any, reason: Any) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    day = None
    if isinstance(advised_on, date):
        day = advised_on
    else:
        try:
            day = date.fromisoformat(str(advised_on or "").strip())
        except ValueError:
            errors["advised_on"] = _l("Enter the date of the advice, as a date.")
    if day is not None and day > clock.today():
        errors["advised_on"] = _l("The date of the advice cannot lie in the future.")
    advice = (advice or "").strip()
    reason = (reason or "").strip()
    if not advice:
        errors["advice"] = _l("Enter what the client council advised.")
    elif len(advice) > TEXT_MAX:
        errors["advice"] = _l("At most %(n)s characters.", n=TEXT_MAX)
    if followed in ("yes", "1", 1, True):
        followed = True
    elif followed in ("no", "0", 0, False):
        followed = False
    else:
        errors["followed"] = _l("Say whether the decision follows the advice.")
        followed = None
    if followed is False and not reason:
        errors["reason"] = _l("Say why the decision does not follow the advice.")
    elif len(reason) > TEXT_MAX:
        errors["reason"] = _l("At most %(n)s characters.", n=TEXT_MAX)
    check(errors)
    return {
        "advised_on": day.isoformat(),
        "advice": advice,
        "followed": followed,
        "reason": reason if followed is False else "",
    }


def record_advice(
    db: Database,
    actor: User,
    session_id: int,
    rule_id: int,
    *,
    advised_on: Any,
    advice: Any,
    followed: Any,
    reason: Any = "",
    expected_version: int | None,
) -> dict[str, Any]:
    """Record or change the council's advice on the decision about one rule of the session.
    ``expected_version`` is the advice's version the form was loaded at (0: none yet); a form
    older than the advice is refused, so nobody overwrites what they have not seen."""
    with transaction(db):
        session = sessions.visible_session(db, session_id, actor)
        if rule_id not in session.rule_ids:
            raise NotFound(_l("This rule is not part of this session."))
        if actor.role in COUNCIL_MEMBERS and not is_shared(db, session_id):
            # For the council, a session not shared with it has no decisions to advise on.
            raise NotFound(_l("This session has not been shared with the client council."))
        if not may_advise(db, session, actor):
            raise Conflict(
                _l("Only the facilitator, an admin or the client council enters advice here.")
            )
        if setting(db) == "off":
            raise Conflict(_l("Client council advice is switched off for this organisation."))
        # Checked after who may advise, so a refused form tells nothing to someone who may not.
        values = _clean(advised_on, advice, followed, reason)
        row = db.execute(
            "SELECT id FROM decisions WHERE session_id = ? AND rule_id = ?", [session_id, rule_id]
        ).fetchone()
        if row is None:
            raise Conflict(_l("Advice is recorded on a decision: record the decision first."))
        decision_id = row[0]
        old = for_decision(db, decision_id)
        if (old["version"] if old else 0) != expected_version:
            raise Conflict(
                _l(
                    "The advice has been changed by someone else in the meantime. Reload the"
                    " page and make your change again."
                )
            )
        stored = {**values, "followed": int(values["followed"])}
        if old is None:
            db.execute(
                "INSERT INTO council_advice (decision_id, advised_on, advice, followed, reason,"
                " entered_by, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    decision_id,
                    *(stored[k] for k in ("advised_on", "advice", "followed", "reason")),
                    actor.id,
                    clock.now_iso(),
                ],
            )
        else:
            db.execute(
                "UPDATE council_advice SET advised_on = ?, advice = ?, followed = ?, reason = ?,"
                " entered_by = ?, entered_at = ?, version = version + 1 WHERE decision_id = ?",
                [
                    *(stored[k] for k in ("advised_on", "advice", "followed", "reason")),
                    actor.id,
                    clock.now_iso(),
                    decision_id,
                ],
            )
        keys = ("advised_on", "advice", "followed", "reason")
        changes = events.diff(old or {}, values, keys)
        if changes:
            events.record(
                db,
                actor,
                "rule",
                rule_id,
                "council_advice",
                changes,
                ref=("review_session", session_id),
            )
    return for_decision(db, decision_id) or {}


def forget_advice(
    db: Database, actor: User, session_id: int, rule_id: int, decision_id: int
) -> None:
    """The decision's outcome changed after the council advised on it: the advice was given on
    another decision (and "followed" would now say what is not so), so it no longer counts. In
    the caller's transaction; the rule's history keeps what the council said."""
    found = for_decision(db, decision_id)
    if found is None:
        return
    db.execute("DELETE FROM council_advice WHERE decision_id = ?", [decision_id])
    events.record(
        db,
        actor,
        "rule",
        rule_id,
        "council_advice",
        {"advice": [found["advice"], None], "followed": [found["followed"], None]},
        ref=("review_session", session_id),
    )


def missing_advice(db: Database, rule: rules.Rule, decision_id: int) -> str | None:
    """Why a decision on ``rule`` may not be applied yet under the organisation's setting, or
    None. Called by ``decisions.apply_decision`` inside its transaction."""
    if setting(db) != "required" or for_decision(db, decision_id) is not None:
        return None
    if not touches_daily_life(rule, daily_life_categories(db)):
        return None
    return str(
        _l(
            "This rule touches residents' daily lives: record the client council's advice"
            " before applying the decision."
        )
    )
