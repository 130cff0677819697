"""Concerns ("beren op de weg"): what someone fears would happen without a rule.

A member raises one with their vote on a rule (saved, changed and withdrawn with the vote by
``ballots.cast_vote``); at a show of hands the facilitator enters those raised in the room, with
no name. They are listed per rule with the results, only where and when the reasons are, and the
facilitator answers each with a note (``ballots.answer_concern``). In an anonymous session a
concern is kept as its ballot is (docs/design.md, "Concerns"): no member id, no time, no rowid,
under a keyed hash of session, rule and member that is not the ballot's own.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core.errors import Conflict, NotFound, ValidationError
from audit.domain import events, sessions
from audit.domain.users import User
from audit.domain.vocabulary import CONCERN_KINDS as KINDS
from audit.store.db import transaction

TEXT_MAX = 1000
ANSWER_MAX = 2000
# A concern's key as a form sends it back: a member's in a named session, else 64 hex digits.
_KEY = re.compile(r"user:[0-9]{1,19}|[0-9a-f]{64}")


def concern_key(
    secret: str | bytes, session: sessions.ReviewSession, rule_id: int, user_id: int
) -> str:
    """What makes a concern one member's on one rule. In an anonymous session a keyed hash
    under the app's secret of another message than the ballot's: without the secret it cannot
    be read back to the member, nor joined to their ballot, nor to their concern on another
    rule."""
    if not session.anonymous:
        return f"user:{user_id}"
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(
        key, f"concern:{session.id}:{rule_id}:{user_id}".encode(), hashlib.sha256
    ).hexdigest()


def valid_key(key: str) -> bool:
    return bool(_KEY.fullmatch(key or ""))


def clean(kind: str | None, text: str | None) -> tuple[str, str]:
    """A concern as typed: a kind from the list and a description; errors under ``concern_kind``
    and ``concern_text``."""
    kind, text = (kind or "").strip(), (text or "").strip()
    errors: dict[str, list] = {}
    if kind not in KINDS:
        errors["concern_kind"] = [_l("Choose what kind of concern it is.")]
    if not text:
        errors["concern_text"] = [_l("Describe your concern, or untick the box.")]
    elif len(text) > TEXT_MAX:
        errors["concern_text"] = [_l("At most %(n)s characters.", n=TEXT_MAX)]
    if errors:
        raise ValidationError(errors)
    return kind, text


def store_with_vote(
    db: Database,
    secret: str | bytes,
    session: sessions.ReviewSession,
    rule_id: int,
    user: User,
    concern: tuple[str, str] | None,
) -> None:
    """The member's concern on the rule as their vote now carries it: replaced, or removed when
    the vote has none. Called inside the vote's transaction, with a cleaned concern. A changed
    concern loses an answer given to what it said before."""
    key = concern_key(secret, session, rule_id, user.id)
    if concern is None:
        db.execute(
            "DELETE FROM concerns WHERE session_id = ? AND rule_id = ? AND concern_key = ?",
            [session.id, rule_id, key],
        )
        return
    kind, text = concern
    db.execute(
        """
        INSERT INTO concerns (session_id, rule_id, concern_key, voter_id, kind, text)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (session_id, rule_id, concern_key) DO UPDATE SET
            kind = excluded.kind, text = excluded.text,
            answer = CASE WHEN concerns.kind = excluded.kind AND concerns.text = excluded.text
                          THEN concerns.answer ELSE '' END,
            answer_version = answer_version
                + (concerns.kind <> excluded.kind OR concerns.text <> excluded.text)
        """,
        [session.id, rule_id, key, None if session.anonymous else user.id, kind, text],
    )


def mine(
    db: Database, secret: str | bytes, session: sessions.ReviewSession, user_id: int
) -> dict[int, dict[str, str]]:
    """The member's own concerns per rule; ``ballots.my_ballots`` decides when they are shown."""
    keys = {concern_key(secret, session, rule_id, user_id): rule_id for rule_id in session.rule_ids}
    if not keys:
        return {}
    rows = db.query(
        "SELECT rule_id, concern_key, kind, text FROM concerns WHERE session_id = ?"
        f" AND concern_key IN ({','.join('?' * len(keys))})",
        [session.id, *keys],
    )
    return {
        r["rule_id"]: {"kind": r["kind"], "text": r["text"]}
        for r in rows
        if keys.get(r["concern_key"]) == r["rule_id"]
    }


def listed(db: Database, session: sessions.ReviewSession) -> dict[int, list[dict[str, Any]]]:
    """Every concern of the session per rule, by kind and text (never in the order they came
    in), with the member's name only in a named session. The caller decides which rules may
    show them (``ballots.results``)."""
    names = "NULL" if session.anonymous else "coalesce(nullif(u.display_name, ''), u.username)"
    found: dict[int, list[dict[str, Any]]] = {rule_id: [] for rule_id in session.rule_ids}
    for row in db.query(
        f"SELECT c.rule_id, c.concern_key AS key, c.kind, c.text, c.answer, c.answer_version,"
        f" {names} AS name FROM concerns c LEFT JOIN users u ON u.id = c.voter_id"
        " WHERE c.session_id = ? ORDER BY c.rule_id, c.kind, c.text, name, c.concern_key",
        [session.id],
    ):
        found.setdefault(row["rule_id"], []).append(row)
    return found


def get(db: Database, session_id: int, rule_id: int, key: str) -> dict[str, Any]:
    rows = list(
        db.query(
            "SELECT kind, text, answer, answer_version FROM concerns"
            " WHERE session_id = ? AND rule_id = ? AND concern_key = ?",
            [session_id, rule_id, key],
        )
    )
    if not valid_key(key) or not rows:
        raise NotFound(_l("No such concern."))
    return rows[0]


def set_answer(db: Database, session_id: int, rule_id: int, key: str, answer: str) -> None:
    """Store the answer (inside the caller's transaction, which has checked everything)."""
    db.execute(
        "UPDATE concerns SET answer = ?, answer_version = answer_version + 1"
        " WHERE session_id = ? AND rule_id = ? AND concern_key = ?",
        [answer, session_id, rule_id, key],
    )


# --- a show of hands: the facilitator writes down what the room raised ------------------------


def _room_session(db: Database, actor: User, session_id: int) -> sessions.ReviewSession:
    session = sessions.get_session(db, session_id)
    if not sessions.may_run(session, actor):
        raise Conflict(_l("Only the facilitator of this session or an admin can enter concerns."))
    if session.mode != "hands":
        raise Conflict(
            _l("In a session with online ballots, members raise concerns with their vote.")
        )
    if session.effective_state != "open":
        raise Conflict(_l("Concerns raised in the room are entered while the session is open."))
    return session


def add_in_room(
    db: Database, actor: User, session_id: int, rule_id: int, kind: str, text: str
) -> None:
    """A concern raised in the room at a show of hands, without a name: kept under a random key,
    so that the order of the rows does not follow the order they were entered in either."""
    kind, text = clean(kind, text)
    sessions.close_expired(db, session_id)
    with transaction(db):
        session = _room_session(db, actor, session_id)
        if rule_id not in session.rule_ids:
            raise ValidationError({"rule_id": [_l("This rule is not part of this session.")]})
        db.execute(
            "INSERT INTO concerns (session_id, rule_id, concern_key, kind, text)"
            " VALUES (?, ?, ?, ?, ?)",
            [session_id, rule_id, secrets.token_hex(32), kind, text],
        )
        events.record(
            db,
            actor,
            "review_session",
            session_id,
            "concern",
            {"rule_id": [None, rule_id], "concern_kind": [None, kind]},
        )


def remove_in_room(db: Database, actor: User, session_id: int, rule_id: int, key: str) -> None:
    """Take back a concern entered by mistake, while the session is open."""
    sessions.close_expired(db, session_id)
    with transaction(db):
        _room_session(db, actor, session_id)
        found = get(db, session_id, rule_id, key)
        db.execute(
            "DELETE FROM concerns WHERE session_id = ? AND rule_id = ? AND concern_key = ?",
            [session_id, rule_id, key],
        )
        events.record(
            db,
            actor,
            "review_session",
            session_id,
            "concern_removed",
            {"rule_id": [rule_id, None], "concern_kind": [found["kind"], None]},
        )
