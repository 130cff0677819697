"""Decisions after a review session: keep, adapt (with new text) or drop, and applying them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError, check
from audit.domain import (
    council,
    events,
    experiments,
    fields,
    rules,
    session_fields,
    sessions,
    strategies,
)
from audit.domain.ballots import mandatory_message
from audit.domain.users import User
from audit.store.db import transaction

# The decision's fields, their limits and their cleaning: see session_fields.
FIELDS = session_fields.DECISION_FIELDS
OUTCOMES = session_fields.OUTCOMES
RATIONALE_MAX = session_fields.RATIONALE_MAX
# What an adaptation gives the rule; kept only when the outcome is to adapt.
ADAPTATION = ("new_title", "new_description", "new_minutes_per_week")
# The status a rule gets when a decision about it is applied; a proposed rule kept by the
# session comes into force as active.
STATUS_AFTER = {"keep": "active", "adapt": "adapted", "drop": "dropped"}


def list_decisions(db: Database, session_id: int) -> dict[int, dict[str, Any]]:
    rows = db.query(
        """
        SELECT d.*, coalesce(nullif(u.display_name, ''), u.username) AS decided_by_name,
               coalesce(nullif(a.display_name, ''), a.username) AS applied_by_name,
               st.name_nl AS strategy_name_nl, st.name_en AS strategy_name_en
        FROM decisions d JOIN users u ON u.id = d.decided_by
        LEFT JOIN users a ON a.id = d.applied_by
        LEFT JOIN adapt_strategies st ON st.id = d.strategy_id
        WHERE d.session_id = ?
        """,
        [session_id],
    )
    return {r["rule_id"]: _with_strategy(r) for r in rows}


def _with_strategy(row: dict[str, Any]) -> dict[str, Any]:
    """The decision with its strategy's name in the reader's language: empty for keep and
    drop, "not recorded" for an adaptation decided before strategies were recorded."""
    if row["outcome"] != "adapt":
        name = ""
    elif row["strategy_id"] is None:
        name = str(strategies.NOT_RECORDED)
    else:
        name = strategies.display_name(
            {"name_nl": row["strategy_name_nl"], "name_en": row["strategy_name_en"]}
        )
    return {**row, "strategy_name": name}


def get_decision(db: Database, session_id: int, rule_id: int) -> dict[str, Any]:
    found = list_decisions(db, session_id).get(rule_id)
    if found is None:
        raise NotFound(_l("No decision has been recorded for this rule."))
    return found


def _may_decide(session: sessions.ReviewSession, actor: User) -> None:
    if not sessions.may_run(session, actor):
        raise Conflict(_l("Only the facilitator of this session records its decisions."))
    if session.effective_state != "closed":
        raise Conflict(_l("Decisions are taken after the session has closed."))


def version_token(decision: dict[str, Any] | None) -> str:
    """What a form remembers of the decision it showed: a hash of what it says and who
    recorded it when ("" for no decision yet). Timestamps alone are to the second, so two
    saves within one second would look alike; the content does not."""
    if decision is None:
        return ""
    kept = {
        key: decision.get(key)
        for key in (*FIELDS, "decided_by", "decided_at", "applied_at")
        if key in decision
    }
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:32]


def record_decision(
    db: Database,
    actor: User,
    session_id: int,
    rule_id: int,
    *,
    outcome: str,
    rationale: str,
    new_title: str | None = None,
    new_description: str | None = None,
    new_minutes_per_week: Any = None,
    strategy_id: Any = None,
    experiment_weeks: Any = None,
    experiment_team_ids: list[int] | None = None,
    expected_token: str | None = None,
) -> dict[str, Any]:
    """Record (or change, until applied) the decision about one rule of a closed session. An
    adapt decision names its strategy (docs/design.md, "Adapt strategies"); keep and drop name
    none. ``expected_token``: the decision's ``version_token`` as the form showed it ("" for
    none yet); a decision changed since is refused, not overwritten."""
    sessions.close_expired(db, session_id)  # decided on a closed session: store the close too
    errors: dict[str, Any] = {}
    values = fields.clean(
        FIELDS,
        {
            "outcome": outcome,
            "rationale": rationale,
            "new_title": new_title,
            "new_description": new_description,
            "new_minutes_per_week": new_minutes_per_week,
            "strategy_id": strategy_id,
            "experiment_weeks": experiment_weeks,
            "experiment_team_ids": experiment_team_ids,
        },
        errors,
    )
    trial = values["outcome"] == "experiment"
    chosen_teams = values["experiment_team_ids"]
    if not trial:
        errors.pop("experiment_weeks", None)
        errors.pop("experiment_team_ids", None)
        values["experiment_weeks"] = None
    values["experiment_team_ids"] = None
    adapted = values["outcome"] == "adapt"
    for key in ADAPTATION:
        if not adapted:
            errors.pop(key, None)
        values[key] = values[key] if adapted and values[key] != "" else None
    with transaction(db):
        session = sessions.get_session(db, session_id)
        _may_decide(session, actor)
        if rule_id not in session.rule_ids:
            raise ValidationError({"rule_id": _l("This rule is not part of this session.")})
        rule = rules.get_rule(db, rule_id)
        existing = list_decisions(db, session_id).get(rule_id)
        if expected_token is not None and version_token(existing) != expected_token:
            raise Conflict(
                _l(
                    "Someone else recorded a decision on this rule since you opened the page."
                    " Yours was not saved; it is still in the form below. Reload the page to"
                    " see theirs before you save again."
                )
            )
        _check_strategy(db, values, existing, errors)
        # Trying without a mandatory rule is dropping it for a while: refused alike.
        if (
            values["outcome"] in ("drop", "experiment")
            and rule.mandatory
            and "outcome" not in errors
        ):
            errors["outcome"] = mandatory_message(rule)
        if trial:
            if rule.status == "proposed" and "outcome" not in errors:
                errors["outcome"] = _l(
                    "A proposed rule is not in force yet: there is nothing to try without."
                )
            weeks, teams = experiments.clean_scope(
                db, session, values["experiment_weeks"], chosen_teams, errors
            )
            values["experiment_weeks"] = weeks
            values["experiment_team_ids"] = json.dumps(teams)
            # In a follow-up session this extends the experiment, which happens once.
            extending = experiments.check_extension(db, session, rule_id)
            if extending is not None and "outcome" not in errors:
                running = experiments.get_experiment(db, extending)
                if running["extended"]:
                    errors["outcome"] = _l("This experiment has been extended once already.")
                elif set(teams) != set(running["team_ids"]):
                    # An extension goes on with the same teams; the record must say so.
                    errors["experiment_team_ids"] = _l(
                        "An extension goes on with the teams of the experiment; start a new"
                        " experiment for other teams."
                    )
        if adapted:
            # What is left out stays as it is, so an adaptation of the minutes alone is one.
            if all(values[key] is None for key in ADAPTATION) and not errors.keys() & set(
                ADAPTATION
            ):
                errors["new_description"] = _l(
                    "Give the adapted rule its new title, text or minutes per week."
                )
            # The rule's own validation, so an adapted text obeys the same limits.
            changes = {
                "title": values["new_title"] or rule.title,
                "description": values["new_description"] or rule.description,
            }
            if values["new_minutes_per_week"] is not None:
                changes["minutes_per_week"] = values["new_minutes_per_week"]
            try:
                rules.clean(db, changes)
            except ValidationError as error:
                for name, messages in error.errors.items():
                    errors.setdefault(f"new_{name}", messages)
        check(errors)
        if existing and existing["applied_at"]:
            raise Conflict(_l("This decision has been applied already and is final."))
        if existing and existing["outcome"] != values["outcome"]:
            council.forget_advice(db, actor, session_id, rule_id, existing["id"])
        db.execute(
            """
            INSERT INTO decisions (session_id, rule_id, outcome, rationale, new_title,
                new_description, new_minutes_per_week, strategy_id, experiment_weeks,
                experiment_team_ids, decided_by, decided_at)
            VALUES (:session_id, :rule_id, :outcome, :rationale, :new_title, :new_description,
                    :new_minutes_per_week, :strategy_id, :experiment_weeks,
                    :experiment_team_ids, :decided_by, :decided_at)
            ON CONFLICT (session_id, rule_id) DO UPDATE SET outcome = excluded.outcome,
                rationale = excluded.rationale, new_title = excluded.new_title,
                new_description = excluded.new_description,
                new_minutes_per_week = excluded.new_minutes_per_week,
                strategy_id = excluded.strategy_id,
                experiment_weeks = excluded.experiment_weeks,
                experiment_team_ids = excluded.experiment_team_ids,
                decided_by = excluded.decided_by, decided_at = excluded.decided_at
            """,
            {
                **values,
                "session_id": session_id,
                "rule_id": rule_id,
                "decided_by": actor.id,
                "decided_at": clock.now_iso(),
            },
        )
        events.record(
            db,
            actor,
            "review_session",
            session_id,
            "decision",
            events.diff(_logged(existing or {}), _logged(values), _logged(values))
            | {"rule_id": [None, rule_id]},
        )
    return get_decision(db, session_id, rule_id)


def _logged(decision: dict[str, Any]) -> dict[str, Any]:
    """The decision as the log keeps it: the experiment's teams as a list of ids (the table
    keeps them as JSON text), so the history names the teams."""
    teams = decision.get("experiment_team_ids")
    if isinstance(teams, str):
        return {**decision, "experiment_team_ids": json.loads(teams)}
    return decision


def _check_strategy(
    db: Database, values: dict[str, Any], existing: dict[str, Any] | None, errors: dict
) -> None:
    """An adapt decision names one strategy that exists and is in use (or is the decision's
    own from before it retired); a keep or drop names none, rather than one quietly dropped."""
    if "strategy_id" in errors or "outcome" in errors:
        return
    chosen = values["strategy_id"]
    if values["outcome"] != "adapt":
        if chosen is not None:
            errors["strategy_id"] = _l(
                "Only an adapt decision names a strategy. Leave the strategy empty for keep or"
                " drop."
            )
        return
    if chosen is None:
        errors["strategy_id"] = _l("Choose how the rule was adapted.")
    elif problem := strategies.choosable(db, chosen, keep=(existing or {}).get("strategy_id")):
        errors["strategy_id"] = problem


def apply_decision(
    db: Database, actor: User, session_id: int, rule_id: int, expected_token: str | None = None
) -> rules.Rule:
    """Make the decision real: the rule's status (and text, for adapt) change in one
    transaction with the decision's record, and the rule's history links to the session.
    ``expected_token``: the decision's ``version_token`` as the page showed it; a decision
    changed since is not applied."""
    sessions.close_expired(db, session_id)
    with transaction(db):
        session = sessions.get_session(db, session_id)
        _may_decide(session, actor)
        decision = get_decision(db, session_id, rule_id)
        if decision["applied_at"]:
            raise Conflict(_l("This decision has been applied already."))
        if expected_token is not None and expected_token != version_token(decision):
            raise Conflict(
                _l(
                    "This decision has changed since the page was shown; nothing was applied."
                    " Look at it again before you apply it."
                )
            )
        rule = rules.get_rule(db, rule_id)
        if rule.archived:
            raise Conflict(_l("This rule has been archived; restore it before applying."))
        if decision["outcome"] in ("drop", "experiment") and rule.mandatory:
            # The origin may have been traced since the decision was recorded.
            raise ValidationError({"outcome": mandatory_message(rule)})
        # The organisation may require the client council's advice first (docs/design.md,
        # "Client council advice").
        if problem := council.missing_advice(db, rule, decision["id"]):
            raise Conflict(problem)
        if decision["outcome"] == "experiment":
            return _apply_experiment(db, actor, session, decision, rule)
        changes: dict[str, Any] = {"status": STATUS_AFTER[decision["outcome"]]}
        if decision["outcome"] == "adapt":
            if decision["new_title"]:
                changes["title"] = decision["new_title"]
            if decision["new_description"]:
                changes["description"] = decision["new_description"]
            if decision["new_minutes_per_week"] is not None:
                changes["minutes_per_week"] = decision["new_minutes_per_week"]
        updated = rules.update_rule(
            db,
            actor,
            rule_id,
            action="decision",
            ref=("review_session", session_id),
            note=decision["rationale"],
            # The rule's history shows how it was adapted (docs/design.md, "Adapt strategies").
            also={"strategy_id": [None, decision["strategy_id"]]}
            if decision["strategy_id"] is not None
            else None,
            **changes,
        )
        db.execute(
            "UPDATE decisions SET applied_by = ?, applied_at = ?, minutes_before = ?,"
            " minutes_after = ? WHERE id = ?",
            [
                actor.id,
                clock.now_iso(),
                # A proposed rule was never in force, so it cost no time that a drop or an
                # adaptation could give back (docs/design.md, "The mirror check").
                None if rule.status == "proposed" else rule.minutes_per_week,
                updated.minutes_per_week,
                decision["id"],
            ],
        )
        # The rule is decided: an experiment on it is over (docs/design.md, "Experiments").
        experiments.close_on_rule(db, actor, decision)
        events.record(
            db, actor, "review_session", session_id, "apply", {"rule_id": [None, rule_id]}
        )
    return updated


def _apply_experiment(
    db: Database,
    actor: User,
    session: sessions.ReviewSession,
    decision: dict[str, Any],
    rule: rules.Rule,
) -> rules.Rule:
    """Start (or, in the follow-up session of one, extend once) an experiment. The rule stays
    in force with its status and minutes; no minutes are stored on the decision, so it gives
    back no hours until a later drop or adapt (docs/design.md, "Experiments")."""
    extending = experiments.check_extension(db, session, rule.id)
    if extending is not None:
        experiments.extend(db, actor, decision, extending)
    else:
        if rule.status == "proposed":
            raise Conflict(
                _l("A proposed rule is not in force yet: there is nothing to try without.")
            )
        experiments.start(db, actor, decision, session)
    db.execute(
        "UPDATE decisions SET applied_by = ?, applied_at = ? WHERE id = ?",
        [actor.id, clock.now_iso(), decision["id"]],
    )
    events.record(db, actor, "review_session", session.id, "apply", {"rule_id": [None, rule.id]})
    return rules.get_rule(db, rule.id)


def all_decisions(db: Database) -> list[dict[str, Any]]:
    """Every decision with its session and rule, newest first (for reports)."""
    return [
        _with_strategy(row)
        for row in db.query(
            """
            SELECT d.*, s.title AS session_title, r.code, r.title AS rule_title,
                   coalesce(nullif(u.display_name, ''), u.username) AS decided_by_name,
                   coalesce(nullif(a.display_name, ''), a.username) AS applied_by_name,
                   st.name_nl AS strategy_name_nl, st.name_en AS strategy_name_en
            FROM decisions d
            JOIN review_sessions s ON s.id = d.session_id
            JOIN rules r ON r.id = d.rule_id
            JOIN users u ON u.id = d.decided_by
            LEFT JOIN users a ON a.id = d.applied_by
            LEFT JOIN adapt_strategies st ON st.id = d.strategy_id
            ORDER BY d.decided_at DESC, d.id DESC
            """
        )
    ]
