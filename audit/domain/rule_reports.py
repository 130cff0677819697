"""Reports of rules by colleagues: a care worker says which rule costs them time and where they
think it comes from; the quality manager triages the reports (docs/design.md, "Reports of
rules").

A report whose reporter did not agree to be named is kept as an anonymous ballot is
(docs/security.md, "Anonymous reports"): its row holds no user id, only an owner key, a keyed
hash of the report's own random nonce and the user under the app's secret. The reporter finds
their reports back by computing that hash per report; nobody without the secret can, and two
reports of one person share no value. It keeps the day it came in, never a time, and no event
names its reporter.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError, check
from audit.core.text import blank
from audit.domain import events, fields, origins, rules
from audit.domain.fields import CHOICE, FLAG, INTEGER, LONG_TEXT, REFERENCE, TEXT, Field
from audit.domain.roles import EDITORS
from audit.domain.vocabulary import IMPACTS
from audit.store.db import transaction

STATES = {
    "untriaged": _l("Waiting for the quality manager"),
    "accepted": _l("Accepted as a new rule"),
    "attached": _l("Added to a rule in the register"),
    "declined": _l("Declined"),
    "withdrawn": _l("Withdrawn"),
}
# Reports that stand behind a rule: counted on the rule, in the register's filter, the
# dashboard, the report and the first candidates.
COUNTED = ("accepted", "attached")
COUNTED_SQL = "('accepted', 'attached')"
PERIODS = {"shift": _l("per shift"), "week": _l("per week")}
WEEK_MINUTES = 7 * 24 * 60  # nobody spends more than the week itself on one rule
SHIFTS_DEFAULT = 4
SHIFTS_MAX = 21  # three shifts a day, every day
ANSWER_MAX = 1000
WHY_MAX = 1000
PER_PAGE = 25
# Ids are drawn at random below this (exact in a JavaScript number as well), so that an id does
# not tell which report came in before which.
_ID_LIMIT = 2**53

REPORT_FIELDS = fields.table(
    Field(
        "title",
        _l("The rule as you know it"),
        TEXT,
        fields.TITLE_MAX,
        required=True,
        missing=_l("Enter the rule in a few words."),
    ),
    Field("description", _l("More about it (optional)"), LONG_TEXT, fields.TEXT_MAX),
    Field(
        "team_id",
        _l("Team"),
        REFERENCE,
        table="teams",
        required=True,
        missing=_l("Choose a team."),
        invalid=_l("No such team."),
    ),
    Field(
        "perceived_origin",
        _l("Where do you think it comes from?"),
        CHOICE,
        choices=origins.ORIGINS,
        invalid=_l("Choose one of the origins, or don't know."),
    ),
    Field(
        "minutes",
        _l("Minutes it takes you"),
        INTEGER,
        maximum=WEEK_MINUTES,
        invalid=_l("Enter the minutes as a whole number, 0 or more."),
        too_large=_l("At most %(n)s minutes (the minutes in a week).", n=WEEK_MINUTES),
    ),
    Field(
        "period",
        _l("Minutes"),
        CHOICE,
        choices=PERIODS,
        default="week",
        invalid=_l("Choose per shift or per week."),
    ),
    Field(
        "shifts_per_week",
        _l("Shifts per week"),
        INTEGER,
        maximum=SHIFTS_MAX,
        invalid=_l("Enter the shifts per week as a whole number from 1 to %(n)s.", n=SHIFTS_MAX),
        too_large=_l("At most %(n)s shifts per week.", n=SHIFTS_MAX),
    ),
    Field(
        "relation_impact",
        _l("What does it do to the contact with clients?"),
        CHOICE,
        choices=IMPACTS,
        invalid=_l("Choose hinders, neutral or supports."),
    ),
    Field("why", _l("Why? (optional)"), LONG_TEXT, WHY_MAX),
    Field("named", _l("My name may be shown to the quality manager"), FLAG),
)


def owner_key(secret: str | bytes, nonce: str, user_id: int) -> str:
    """What ties a report to its reporter: an HMAC-SHA256 of the report's own nonce and the
    user under the app's secret. Without the secret it cannot be traced back to anyone, and the
    nonce makes every report's key different, so a person's reports share nothing."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"report:{nonce}:{user_id}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Report:
    id: int
    title: str
    description: str
    team_id: int
    team_name: str
    perceived_origin: str | None
    minutes_per_week: int | None
    relation_impact: str | None
    why: str
    state: str
    rule_id: int | None
    rule_code: str | None
    rule_title: str | None
    answer: str
    reported_on: date
    # The reporter's name only when they agreed to be named; None for an anonymous report.
    reporter_name: str | None

    @property
    def named(self) -> bool:
        return self.reporter_name is not None

    @property
    def untriaged(self) -> bool:
        return self.state == "untriaged"

    @property
    def state_label(self) -> Any:
        return STATES[self.state]


_SELECT = """
    SELECT rr.id, rr.title, rr.description, rr.team_id, t.name AS team_name,
           rr.perceived_origin, rr.minutes_per_week, rr.relation_impact, rr.why, rr.state,
           rr.rule_id, r.code AS rule_code, r.title AS rule_title, rr.answer, rr.reported_on,
           CASE WHEN rr.reporter_id IS NULL THEN NULL
                ELSE coalesce(nullif(u.display_name, ''), u.username) END AS reporter_name
    FROM rule_reports rr
    JOIN teams t ON t.id = rr.team_id
    LEFT JOIN rules r ON r.id = rr.rule_id
    LEFT JOIN users u ON u.id = rr.reporter_id
"""


def _report(row: dict) -> Report:
    return Report(**{**row, "reported_on": date.fromisoformat(row["reported_on"])})


def _reports(db: Database, where: str, params: Any) -> list[Report]:
    return [_report(row) for row in db.query(f"{_SELECT} WHERE {where}", params)]


def may_triage(user: events.Actor) -> bool:
    return getattr(user, "role", None) in EDITORS


def _require_triager(user: events.Actor) -> None:
    if not may_triage(user):
        raise Conflict(_l("Only a quality manager or an administrator triages reports."))


def get_report(db: Database, report_id: int) -> Report:
    """One report, for those who triage (views allow only them)."""
    found = _reports(db, "rr.id = ?", [report_id])
    if not found:
        raise NotFound(_l("No such report."))
    return found[0]


def team_choices(db: Database, user: Any) -> list[tuple[int, str]]:
    """The teams a user may report for: their own; a quality manager or an admin any team."""
    if may_triage(user):
        rows = db.execute("SELECT id, name FROM teams ORDER BY name COLLATE NOCASE")
    else:
        marks = ",".join("?" * len(user.team_ids)) or "NULL"
        rows = db.execute(
            f"SELECT id, name FROM teams WHERE id IN ({marks}) ORDER BY name COLLATE NOCASE",
            list(user.team_ids),
        )
    return [(row[0], row[1]) for row in rows]


def minutes_per_week(minutes: int | None, period: str, shifts_per_week: int | None) -> int | None:
    """Minutes per shift times the shifts per week, or the minutes per week as given."""
    if minutes is None:
        return None
    if period == "shift":
        return minutes * (shifts_per_week or SHIFTS_DEFAULT)
    return minutes


def clean(db: Database, user: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The report's fields checked and converted (minutes per shift become minutes per week);
    every problem at once, as a ValidationError."""
    errors: dict[str, Any] = {}
    unknown = set(values) - set(REPORT_FIELDS)
    if unknown:
        errors[""] = _l("Unknown field: %(names)s", names=", ".join(sorted(unknown)))
    out = fields.clean(REPORT_FIELDS, values, errors)
    shifts = out["shifts_per_week"]
    if out["period"] == "shift" and "shifts_per_week" not in errors and shifts == 0:
        errors["shifts_per_week"] = REPORT_FIELDS["shifts_per_week"].invalid
    team_id = out["team_id"]
    if team_id is not None and "team_id" not in errors:
        allowed = {team for team, _ in team_choices(db, user)}
        exists = db.execute("SELECT 1 FROM teams WHERE id = ?", [team_id]).fetchone()
        if not exists:
            errors["team_id"] = _l("No such team.")
        elif team_id not in allowed:
            errors["team_id"] = _l("You can only report a rule for a team you are in.")
    if "minutes" not in errors and "shifts_per_week" not in errors:
        per_week = minutes_per_week(out["minutes"], out["period"], shifts)
        if per_week is not None and per_week > WEEK_MINUTES:
            errors["minutes"] = _l(
                "That is %(n)s minutes a week, more than the %(max)s minutes a week has.",
                n=per_week,
                max=WEEK_MINUTES,
            )
        out["minutes_per_week"] = per_week
    check(errors)
    return out


def submit(db: Database, secret: str | bytes, user: Any, **values: Any) -> Report:
    """Store a report. A named one carries the reporter's id and is logged like any change; an
    anonymous one carries neither id nor time, and writes no event (docs/security.md)."""
    cleaned = clean(db, user, values)
    named = cleaned["named"]
    with transaction(db):
        # The same report again from the same person while the first still waits (a double tap
        # on a slow phone): stored once. Two copies would count as two colleagues once
        # attached, and nobody else could tell them apart, by the promise of anonymity.
        waiting = _same_waiting_report(db, secret, user, cleaned)
        if waiting is not None:
            return waiting
        for _attempt in range(5):
            report_id = secrets.randbelow(_ID_LIMIT - 1) + 1
            nonce = secrets.token_hex(16)
            try:
                db.execute(
                    """
                    INSERT INTO rule_reports (id, nonce, owner_key, reporter_id, title,
                        description, team_id, perceived_origin, minutes_per_week,
                        relation_impact, why, reported_on)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        report_id,
                        nonce,
                        owner_key(secret, nonce, user.id),
                        user.id if named else None,
                        cleaned["title"],
                        cleaned["description"],
                        cleaned["team_id"],
                        cleaned["perceived_origin"],
                        cleaned["minutes_per_week"],
                        cleaned["relation_impact"],
                        cleaned["why"],
                        clock.today().isoformat(),
                    ],
                )
                break
            except sqlite3.IntegrityError:  # the same random id or nonce drawn twice: draw again
                continue
        else:  # pragma: no cover - five collisions in 2**53 do not happen
            raise Conflict(_l("The report could not be stored. Please try again."))
        if named:
            events.record(
                db,
                user,
                "rule_report",
                report_id,
                "report",
                {
                    "title": [None, cleaned["title"]],
                    "team_id": [None, cleaned["team_id"]],
                    "minutes_per_week": [None, cleaned["minutes_per_week"]],
                },
            )
    return get_report(db, report_id)


def _owned_ids(db: Database, secret: str | bytes, user: Any) -> list[int]:
    """The ids of the user's reports: the key computed for every report's nonce. One HMAC per
    report (a few microseconds each), so thousands of reports cost milliseconds."""
    key = secret.encode() if isinstance(secret, str) else secret
    found = []
    for report_id, nonce, stored_key in db.execute("SELECT id, nonce, owner_key FROM rule_reports"):
        mine = hmac.new(key, f"report:{nonce}:{user.id}".encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(mine, stored_key):
            found.append(report_id)
    return found


def _same_waiting_report(
    db: Database, secret: str | bytes, user: Any, cleaned: dict[str, Any]
) -> Report | None:
    ids = _owned_ids(db, secret, user)
    if not ids:
        return None
    marks = ",".join("?" * len(ids))
    for report in _reports(db, f"rr.id IN ({marks}) AND rr.state = 'untriaged'", ids):
        if (
            report.team_id == cleaned["team_id"]
            and rules.title_key(report.title) == rules.title_key(cleaned["title"])
            and report.named == cleaned["named"]
        ):
            return report
    return None


def my_reports(db: Database, secret: str | bytes, user: Any) -> list[Report]:
    """The user's own reports, named and anonymous, newest day first."""
    ids = _owned_ids(db, secret, user)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    found = _reports(db, f"rr.id IN ({marks})", ids)
    # By day, then by title: the random ids say nothing about the order within a day.
    return sorted(found, key=lambda r: (-r.reported_on.toordinal(), r.title.casefold(), r.id))


def withdraw(db: Database, secret: str | bytes, user: Any, report_id: int) -> Report:
    """The reporter takes back a report the quality manager has not triaged yet. Someone else's
    report is "no such report": its existence is not confirmed either. An anonymous withdrawal
    is not logged (the event would carry the reporter)."""
    with transaction(db):
        if report_id not in _owned_ids(db, secret, user):
            raise NotFound(_l("No such report."))
        report = get_report(db, report_id)
        if report.state == "withdrawn":
            raise Conflict(_l("You have withdrawn this report already."))
        if not report.untriaged:
            raise Conflict(
                _l("This report has been triaged already; it can no longer be withdrawn.")
            )
        db.execute("UPDATE rule_reports SET state = 'withdrawn' WHERE id = ?", [report_id])
        if report.named:
            events.record(
                db,
                user,
                "rule_report",
                report_id,
                "withdraw",
                {"state": ["untriaged", "withdrawn"]},
            )
    return get_report(db, report_id)


def _untriaged(db: Database, report_id: int) -> Report:
    """The report, read inside the caller's transaction; refused unless it still waits."""
    report = get_report(db, report_id)
    if report.state == "withdrawn":
        raise Conflict(_l("The reporter has withdrawn this report. Nothing has been changed."))
    if not report.untriaged:
        raise Conflict(
            _l(
                "This report has been triaged already (%(state)s). Nothing has been changed.",
                state=STATES[report.state],
            )
        )
    return report


def _triage(
    db: Database,
    actor: events.Actor,
    report: Report,
    state: str,
    rule_id: int | None,
    answer: str,
) -> None:
    db.execute(
        "UPDATE rule_reports SET state = ?, rule_id = ?, answer = ?, triaged_by = ?,"
        " triaged_at = ? WHERE id = ?",
        [state, rule_id, answer, actor.id, clock.now_iso(), report.id],
    )
    changes: dict[str, Any] = {"state": ["untriaged", state]}
    if rule_id is not None:
        changes["rule_id"] = [None, rule_id]
    if answer:
        changes["answer"] = ["", answer]
    events.record(db, actor, "rule_report", report.id, state, changes)


def _answer(answer: str | None, required: bool) -> str:
    text = (answer or "").strip()
    if required and blank(text):  # text from a NUL on is empty to SQLite's length() too
        raise ValidationError({"answer": _l("Give the reporter a reason.")})
    if len(text) > ANSWER_MAX:
        raise ValidationError({"answer": _l("At most %(n)s characters.", n=ANSWER_MAX)})
    return text


def accept_as_new_rule(
    db: Database, actor: events.Actor, report_id: int, **rule_fields: Any
) -> rules.Rule:
    """Create the rule from the (pre-filled, perhaps edited) rule form and mark the report
    accepted, in one transaction: a report withdrawn or triaged meanwhile gives no rule."""
    _require_triager(actor)
    with transaction(db):
        report = _untriaged(db, report_id)
        rule = rules.create_rule(db, actor, ref=("rule_report", report_id), **rule_fields)
        _triage(db, actor, report, "accepted", rule.id, "")
    return rule


def attach(
    db: Database, actor: events.Actor, report_id: int, rule_id: int | None, answer: str = ""
) -> Report:
    """The report is about a rule in the register already: it counts as a colleague's report
    of that rule."""
    _require_triager(actor)
    text = _answer(answer, required=False)
    if rule_id is None:
        raise ValidationError({"rule_id": _l("Choose the rule this report is about.")})
    with transaction(db):
        report = _untriaged(db, report_id)
        try:
            rule = rules.get_rule(db, rule_id)
        except NotFound:
            raise ValidationError({"rule_id": _l("No such rule.")}) from None
        if rule.archived:
            raise ValidationError(
                {"rule_id": _l("This rule is archived. Choose a rule in the register.")}
            )
        _triage(db, actor, report, "attached", rule_id, text)
    return get_report(db, report_id)


def decline(db: Database, actor: events.Actor, report_id: int, answer: str) -> Report:
    """Not taken up, with the reason the reporter will read."""
    _require_triager(actor)
    text = _answer(answer, required=True)
    with transaction(db):
        report = _untriaged(db, report_id)
        _triage(db, actor, report, "declined", None, text)
    return get_report(db, report_id)


def rule_prefill(report: Report) -> dict[str, Any]:
    """The new-rule form's values from a report: title, text, the team as scope, perceived
    origin, minutes and effect. The minutes are the reporter's own; the quality manager
    decides what the rule costs over its whole scope."""
    return {
        "title": report.title,
        "description": report.description,
        "team_ids": [report.team_id],
        "perceived_origin": report.perceived_origin or "",
        "minutes_per_week": report.minutes_per_week,
        "relation_impact": report.relation_impact or "",
        "status": "active",
    }


# --- the inbox ------------------------------------------------------------------------------


@dataclass
class InboxPage:
    rows: list[Report]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def inbox(
    db: Database,
    *,
    state: str | None = None,
    team: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> InboxPage:
    """One page of reports: untriaged first, then the newest day first."""
    clauses, params = ["1"], []
    if state in STATES:
        clauses.append("rr.state = ?")
        params.append(state)
    if team is not None:
        clauses.append("rr.team_id = ?")
        params.append(team)
    where = " AND ".join(clauses)
    total = db.execute(f"SELECT count(*) FROM rule_reports rr WHERE {where}", params).fetchone()[0]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    # The page's ids from the reports table alone, then the 25 rows with their names: the
    # joins are made for one page, not for every report that is sorted.
    ids = [
        row[0]
        for row in db.execute(
            f"SELECT rr.id FROM rule_reports rr WHERE {where}"
            " ORDER BY rr.state <> 'untriaged', rr.reported_on DESC, rr.title COLLATE NOCASE,"
            " rr.id LIMIT ? OFFSET ?",
            [*params, per_page, (page - 1) * per_page],
        )
    ]
    marks = ",".join("?" * len(ids)) or "NULL"
    found = {r.id: r for r in _reports(db, f"rr.id IN ({marks})", ids)}
    return InboxPage(rows=[found[i] for i in ids], total=total, page=page, per_page=per_page)


def waiting(db: Database) -> int:
    return db.execute("SELECT count(*) FROM rule_reports WHERE state = 'untriaged'").fetchone()[0]


# --- what the reports say about rules -------------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """How many colleagues reported a rule, and the minutes per week they gave together."""

    count: int = 0
    minutes: int = 0


def counts_for(db: Database, rule_ids: Iterable[int]) -> dict[int, Reported]:
    """Per rule with counted reports (accepted or attached): their number and minutes."""
    ids = list(rule_ids)
    found: dict[int, Reported] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for rule_id, n, minutes in db.execute(
            f"SELECT rule_id, count(*), coalesce(sum(minutes_per_week), 0) FROM rule_reports"
            f" WHERE rule_id IN ({marks}) AND state IN {COUNTED_SQL}"
            " GROUP BY rule_id",
            chunk,
        ):
            found[rule_id] = Reported(n, minutes)
    return found


def reported(db: Database, rule_id: int) -> Reported:
    return counts_for(db, [rule_id]).get(rule_id, Reported())


def reports_of_rule(db: Database, rule_id: int) -> list[Report]:
    """The counted reports of a rule, for those who triage: why, minutes, and a name only
    where the reporter agreed to it."""
    found = _reports(db, f"rr.rule_id = ? AND rr.state IN {COUNTED_SQL}", [rule_id])
    return sorted(found, key=lambda r: (-r.reported_on.toordinal(), r.title.casefold(), r.id))


# How the register filters and the figures count: reports behind rule r (SQL on rules ``r``).
COUNT_SQL = (
    f"(SELECT count(*) FROM rule_reports rr WHERE rr.rule_id = r.id AND rr.state IN {COUNTED_SQL})"
)
