"""Votes: online ballots, show-of-hands counts, and the results of a closed session."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError, check
from audit.domain import concerns, events, origins, rules, sessions
from audit.domain.users import User
from audit.store.db import transaction

CHOICES = {
    "keep": _l("Keep"),
    "adapt": _l("Adapt"),
    "drop": _l("Drop"),
    "abstain": _l("Abstain"),
}
OUTCOMES = ("keep", "adapt", "drop")
REASON_MAX = 1000

REFLECTION_QUESTIONS = (
    _l("Why does this rule exist?"),
    _l("Whom does it serve?"),
    _l("What would happen without it?"),
    _l("Does it help or hinder the contact with the client?"),
)


def _keyed(secret: str | bytes, message: str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def voter_key(
    secret: str | bytes, session: sessions.ReviewSession, rule_id: int, user_id: int
) -> str:
    """What makes a ballot one member's vote on one rule.

    In an anonymous session a keyed hash of session, rule and member under the app's secret,
    which is not in the database: without the secret no key can be read back to a member, and
    since every rule gets its own key, one member's ballots on two rules share no value either.
    """
    if not session.anonymous:
        return f"user:{user_id}"
    return _keyed(secret, f"ballot:{session.id}:{rule_id}:{user_id}")


def participant_key(secret: str | bytes, session: sessions.ReviewSession, user_id: int) -> str:
    """Marks that a member has taken part in the session (counted, never shown), under a key no
    ballot carries. The message is the one ballots were keyed by before migration 5, so members
    who voted before that upgrade are not counted twice."""
    if not session.anonymous:
        return f"user:{user_id}"
    return _keyed(secret, f"ballot:{session.id}:{user_id}")


def _allowed_choices(rule: rules.Rule) -> tuple[str, ...]:
    if rule.mandatory:
        return ("keep", "adapt", "abstain")
    return tuple(CHOICES)


def allowed_choices(rule: rules.Rule) -> dict[str, Any]:
    return {k: v for k, v in CHOICES.items() if k in _allowed_choices(rule)}


def cast_vote(
    db: Database,
    secret: str | bytes,
    user: User,
    session_id: int,
    rule_id: int,
    choice: str,
    reason: str = "",
    concern: tuple[str, str] | None = None,
) -> None:
    """Record the member's vote on one rule, replacing their earlier vote on it.

    ``concern`` is the (kind, text) of a concern raised with the vote; a vote without one
    withdraws the concern the member had raised on the rule before (audit/domain/concerns.py).
    Every check runs inside the write transaction, so a vote that arrives while the session is
    being closed is either in before the close or refused after it, never half.
    """
    reason = (reason or "").strip()
    sessions.close_expired(db, session_id)  # past its closing time: refused, and the close kept
    with transaction(db):
        session = sessions.get_session(db, session_id)
        if not sessions.is_eligible(db, session, user):
            raise Conflict(_l("You are not a member of a team in this session."))
        if session.mode != "online":
            raise Conflict(
                _l("This session is held with a show of hands; there is no online ballot.")
            )
        if session.effective_state != "open":
            raise Conflict(_l("This session is closed; votes are no longer accepted."))
        if session.not_yet_open:
            raise Conflict(_l("This session has not opened yet."))
        if rule_id not in session.rule_ids:
            raise ValidationError({"rule_id": _l("This rule is not part of this session.")})
        if choice not in CHOICES:
            raise ValidationError({"choice": _l("Choose keep, adapt, drop or abstain.")})
        rule = rules.get_rule(db, rule_id)
        if choice not in _allowed_choices(rule):
            raise ValidationError({"choice": mandatory_message(rule)})
        if len(reason) > REASON_MAX:
            raise ValidationError({"reason": _l("At most %(n)s characters.", n=REASON_MAX)})
        if concern is not None:
            concern = concerns.clean(*concern)
        # No casting time and no rowid: the row holds nothing that follows when it came in.
        db.execute(
            """
            INSERT INTO ballots (session_id, rule_id, voter_key, voter_id, choice, reason)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (session_id, rule_id, voter_key)
            DO UPDATE SET choice = excluded.choice, reason = excluded.reason
            """,
            [
                session_id,
                rule_id,
                voter_key(secret, session, rule_id, user.id),
                None if session.anonymous else user.id,
                choice,
                reason,
            ],
        )
        db.execute(
            "INSERT OR IGNORE INTO session_voters (session_id, voter_key) VALUES (?, ?)",
            [session_id, participant_key(secret, session, user.id)],
        )
        concerns.store_with_vote(db, secret, session, rule_id, user, concern)
        # A named vote is logged like any change. An anonymous one is not logged at all: even
        # without who or what, its time could be lined up with a member's login.
        if not session.anonymous:
            events.record(
                db,
                user,
                "review_session",
                session_id,
                "ballot",
                {"rule_id": [None, rule_id], "choice": [None, choice]},
            )


def cast_ballot(
    db: Database,
    secret: str | bytes,
    user: User,
    session_id: int,
    votes: dict[int, tuple],
) -> list[tuple[int, str]]:
    """Record a member's whole ballot: ``{rule_id: (choice, reason[, concern])}``, all or
    nothing; ``concern`` is None or the (kind, text) of a concern raised with the vote.

    Each rule goes through ``cast_vote``, inside one transaction. A rule whose choice, reason
    and concern are those already stored is left alone (no new event). A reason or a concern
    without a choice is refused rather than dropped. Field errors come back keyed
    ``rule-<id>-<field>`` so the page can show each at its rule; a rule that is not part of the
    session is reported under ``""``. Returns the (rule_id, choice) pairs that were saved, in
    the session's order.
    """
    errors: dict[str, list] = {}
    saved: list[tuple[int, str]] = []
    sessions.close_expired(db, session_id)
    with transaction(db):
        session = sessions.get_session(db, session_id)
        stored = my_ballots(db, secret, session, user.id)
        order = {rule_id: i for i, rule_id in enumerate(session.rule_ids)}
        for rule_id in sorted(votes, key=lambda r: (order.get(r, len(order)), r)):
            choice, reason, concern = (*votes[rule_id], None)[:3]
            reason = (reason or "").strip()
            if concern is not None:
                concern = tuple((part or "").strip() for part in concern)
            if not choice:
                if concern and rule_id in order:
                    errors[f"rule-{rule_id}-choice"] = [
                        _l(
                            "Choose keep, adapt, drop or abstain first: a concern is saved with"
                            " a vote."
                        )
                    ]
                elif reason and rule_id in order:
                    errors[f"rule-{rule_id}-choice"] = [
                        _l(
                            "Choose keep, adapt, drop or abstain first: a reason is saved with"
                            " a vote."
                        )
                    ]
                continue
            before = stored.get(rule_id)
            if before and (before["choice"], before["reason"], before["concern"]) == (
                choice,
                reason,
                concern,
            ):
                continue
            try:
                cast_vote(db, secret, user, session_id, rule_id, choice, reason, concern)
            except ValidationError as error:
                for name, messages in error.errors.items():
                    key = "" if name == "rule_id" else f"rule-{rule_id}-{name}"
                    errors.setdefault(key, []).extend(messages)
            else:
                saved.append((rule_id, choice))
        # Raised inside the transaction: the votes that were fine are rolled back as well.
        check(errors)
    return saved


def mandatory_message(rule: rules.Rule) -> Any:
    source = origins.label(rule.verified_origin)
    if rule.source_reference:
        source = f"{source}: {rule.source_reference}"
    return _l(
        "This rule comes from outside and is mandatory (%(source)s). It cannot be dropped, only"
        " kept or adapted within the room it leaves.",
        source=source,
    )


def my_ballots(
    db: Database, secret: str | bytes, session: sessions.ReviewSession, user_id: int
) -> dict[int, dict]:
    """The user's own votes in the session, per rule, each with its ``concern`` ((kind, text)
    or None): shown only to that user, and in an anonymous session only while it accepts votes
    (after that, nothing: not even on which rules they voted, see below)."""
    keys = {voter_key(secret, session, rule_id, user_id) for rule_id in session.rule_ids}
    if not keys:
        return {}
    rows = db.query(
        "SELECT rule_id, choice, reason FROM ballots WHERE session_id = ?"
        f" AND voter_key IN ({','.join('?' * len(keys))})",
        [session.id, *keys],
    )
    if session.anonymous and not sessions.get_session(db, session.id).accepting_votes:
        # Once votes are closed the member has no need to see them again, and nobody posing as
        # the member (an admin who set their password) may learn anything from them: not even
        # on which rules they voted, which names the vote on a rule where all voted alike.
        return {}
    raised = concerns.mine(db, secret, session, user_id)
    return {
        r["rule_id"]: {
            **r,
            "concern": (raised[r["rule_id"]]["kind"], raised[r["rule_id"]]["text"])
            if r["rule_id"] in raised
            else None,
        }
        for r in rows
    }


def enter_hands(
    db: Database,
    actor: User,
    session_id: int,
    *,
    present: int,
    counts: dict[int, dict[str, int]],
) -> None:
    """The facilitator's counts for a show of hands: per rule keep/adapt/drop/abstain, none of
    them (nor their sum) above the number of people present."""
    errors: dict[str, Any] = {}
    if not isinstance(present, int) or isinstance(present, bool) or present < 0:
        errors["present"] = _l("Enter a whole number, 0 or more.")
    sessions.close_expired(db, session_id)
    with transaction(db):
        session = sessions.get_session(db, session_id)
        if not sessions.may_run(session, actor):
            raise Conflict(
                _l("Only the facilitator of this session or an admin can enter its counts.")
            )
        if session.mode != "hands":
            raise Conflict(_l("This session uses online ballots."))
        if session.effective_state != "open":
            raise Conflict(_l("Counts can be entered while the session is open."))
        known = set(session.rule_ids)
        for rule_id, values in counts.items():
            if rule_id not in known:
                errors[f"rule-{rule_id}"] = _l("This rule is not part of this session.")
                continue
            numbers = [values.get(choice, 0) for choice in CHOICES]
            if any(not isinstance(n, int) or n < 0 for n in numbers):
                errors[f"rule-{rule_id}"] = _l("Enter whole numbers, 0 or more.")
            elif isinstance(present, int) and sum(numbers) > present:
                errors[f"rule-{rule_id}"] = _l(
                    "%(n)s hands, but only %(present)s people present.",
                    n=sum(numbers),
                    present=present,
                )
            elif values.get("drop", 0) and rules.get_rule(db, rule_id).mandatory:
                errors[f"rule-{rule_id}"] = mandatory_message(rules.get_rule(db, rule_id))
        if errors:
            raise ValidationError(errors)
        db.execute(
            "UPDATE review_sessions SET present = ?, updated_at = ? WHERE id = ?",
            [present, clock.now_iso(), session_id],
        )
        for rule_id, values in counts.items():
            db.execute(
                """
                INSERT INTO hand_counts (session_id, rule_id, keep, adapt, drop_count, abstain,
                                         entered_by, entered_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (session_id, rule_id) DO UPDATE SET keep = excluded.keep,
                    adapt = excluded.adapt, drop_count = excluded.drop_count,
                    abstain = excluded.abstain, entered_by = excluded.entered_by,
                    entered_at = excluded.entered_at
                """,
                [
                    session_id,
                    rule_id,
                    values.get("keep", 0),
                    values.get("adapt", 0),
                    values.get("drop", 0),
                    values.get("abstain", 0),
                    actor.id,
                    clock.now_iso(),
                ],
            )
        events.record(
            db,
            actor,
            "review_session",
            session_id,
            "hands",
            {
                "present": [session.present, present],
                "counts": [None, {str(k): v for k, v in counts.items()}],
            },
        )


def hand_counts(db: Database, session_id: int) -> dict[int, dict[str, int]]:
    rows = db.query(
        "SELECT rule_id, keep, adapt, drop_count, abstain FROM hand_counts WHERE session_id = ?",
        [session_id],
    )
    return {
        r["rule_id"]: {
            "keep": r["keep"],
            "adapt": r["adapt"],
            "drop": r["drop_count"],
            "abstain": r["abstain"],
        }
        for r in rows
    }


def suggested_outcome(counts: dict[str, int]) -> str:
    """The choice with the most votes, abstentions left out; a tie (or no vote) is "discuss"."""
    cast = {k: counts.get(k, 0) for k in OUTCOMES}
    top = max(cast.values())
    winners = [k for k, v in cast.items() if v == top]
    return winners[0] if top > 0 and len(winners) == 1 else "discuss"


def results_withheld(
    db: Database, session: sessions.ReviewSession, min_voters: int | None = None
) -> bool:
    """Whether the counts of a session stay hidden from everybody, facilitator and admin too.

    Until it has closed, always. After that an anonymous session shows them only when at least
    ``min_voters`` members took part: with fewer, a count could be one person's vote.
    """
    session = sessions.get_session(db, session.id)  # the state now, not when it was read
    if session.effective_state != "closed":
        return True
    return (
        session.mode == "online"
        and session.anonymous
        and not sessions.results_final(db, session, min_voters)
    )


def results(
    db: Database, session: sessions.ReviewSession, min_voters: int | None = None
) -> list[dict[str, Any]]:
    """Per rule: counts, percentages, quorum, the suggested outcome, the reasons given and the
    concerns raised.

    Reasons and concerns carry a name only in a named session; anonymous results hold none, and
    list the reasons by choice and text and the concerns by kind and text, never in the order
    they came in. Concerns are shown exactly where reasons may be. When the results are withheld
    (see ``results_withheld``) every rule is there for its decision, with nothing counted.
    """
    withheld = results_withheld(db, session, min_voters)
    tallies: dict[int, dict[str, int]] = {
        rid: dict.fromkeys(CHOICES, 0) for rid in session.rule_ids
    }
    reasons: dict[int, list[dict]] = {rid: [] for rid in session.rule_ids}
    raised: dict[int, list[dict]] = {} if withheld else concerns.listed(db, session)
    if withheld:
        pass
    elif session.mode == "hands":
        for rule_id, counts in hand_counts(db, session.id).items():
            tallies[rule_id].update(counts)
    else:
        for rule_id, choice, n in db.execute(
            "SELECT rule_id, choice, count(*) FROM ballots WHERE session_id = ? GROUP BY 1, 2",
            [session.id],
        ):
            tallies[rule_id][choice] = n
        names = "NULL" if session.anonymous else "coalesce(nullif(u.display_name, ''), u.username)"
        for row in db.query(
            f"SELECT b.rule_id, b.choice, b.reason, {names} AS name FROM ballots b"
            " LEFT JOIN users u ON u.id = b.voter_id"
            " WHERE b.session_id = ? AND b.reason <> ''"
            " ORDER BY b.rule_id, b.choice, b.reason, name",
            [session.id],
        ):
            reasons[row["rule_id"]].append(row)
    # In an anonymous session a rule needs the minimum number of votes itself as well: when
    # only one member voted on it, its count is that member's vote.
    fewest = (
        sessions.min_voters(min_voters) if session.anonymous and session.mode == "online" else 0
    )
    out = []
    for rule in rules.get_rules(db, session.rule_ids):
        counts = tallies[rule.id]
        total = sum(counts.values())
        if withheld or 0 < total < fewest:
            out.append({"rule": rule, "withheld": True, "reasons": [], "concerns": []})
            continue
        out.append(
            {
                "rule": rule,
                "withheld": False,
                "counts": counts,
                "total": total,
                "percent": {k: (v / total if total else None) for k, v in counts.items()},
                "quorum_met": total >= session.quorum,
                "suggested": suggested_outcome(counts),
                "reasons": reasons[rule.id],
                "concerns": raised.get(rule.id, []),
            }
        )
    return out


def answer_concern(
    db: Database,
    actor: User,
    session_id: int,
    rule_id: int,
    key: str,
    answer: str,
    *,
    expected_answer_version: int,
) -> None:
    """The facilitator's (or an admin's) answer to a concern, once the session has closed and
    only on a rule whose concerns the results show. ``expected_answer_version`` is the version
    the form was loaded at: an answer changed meanwhile is not overwritten. The event names the
    rule and the answer, never the concern's key or its member."""
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _l("Write the answer: what was done or said about it.")})
    if len(answer) > concerns.ANSWER_MAX:
        raise ValidationError({"answer": _l("At most %(n)s characters.", n=concerns.ANSWER_MAX)})
    sessions.close_expired(db, session_id)
    with transaction(db):
        session = sessions.get_session(db, session_id)
        if not sessions.may_run(session, actor):
            raise Conflict(
                _l("Only the facilitator of this session or an admin can answer concerns.")
            )
        if session.effective_state != "closed":
            raise Conflict(_l("Concerns are answered once the session has closed."))
        shown = {r["rule"].id for r in results(db, session) if not r["withheld"]}
        if rule_id not in shown:
            raise NotFound(_l("No such concern."))
        found = concerns.get(db, session_id, rule_id, key)
        if found["answer_version"] != expected_answer_version:
            raise Conflict(
                _l(
                    "Someone else answered this concern since you opened the page. Your answer"
                    " was not saved; reload the page to see the current one."
                )
            )
        if found["answer"] == answer:
            return
        concerns.set_answer(db, session_id, rule_id, key, answer)
        events.record(
            db,
            actor,
            "review_session",
            session_id,
            "concern_answer",
            {"rule_id": [None, rule_id], "answer": [found["answer"] or None, answer]},
        )
