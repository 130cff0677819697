"""Rules in and out: per calendar month, how many rules came into force and how many left it.

Read from the event log (docs/design.md, "Rules in and out"): a rule *added* came into force
for the first time (created, imported, or a status that was never in force becoming one that
is); *restored* came back (restored from the archive, or a dropped status undone); *dropped*
left through its status (a decision applied or a hand edit); *archived* left through the
archive. *Adapted* counts status changes to adapted: shown, but the rule stays in force. The
net change is added + restored - dropped - archived, so the months add up to the rules in
force today. A rule archived after it was dropped left once, when it was dropped.

Months are the organisation's (Europe/Amsterdam); the log stores UTC. The scope is the rules'
scope today: a rule moved from one team to another takes its history along.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_number
from flask_babel import gettext as _
from sqlite_utils import Database

from audit.core import clock
from audit.domain.register import LOCATION_SCOPE, TEAM_SCOPE
from audit.domain.rules import in_force
from audit.domain.vocabulary import STATUSES

ORGANISATION_TZ = ZoneInfo("Europe/Amsterdam")
KINDS = ("added", "restored", "adapted", "dropped", "archived")
RECENT_MONTHS = 12
# Back from this status a rule is restored; from any other status out of force it is new.
DROPPED = "dropped"


def flow_events(alias: str = "e") -> str:
    """The events that can move a rule in or out after its creation: archive and restore, and
    every change of status from one value to another (a creation records [null, status]).
    Word for word the condition of the partial index events_rule_flow (audit/store/schema.py,
    migration 8), so SQLite finds these few events without reading every creation record."""
    return (
        f"{alias}.entity = 'rule' AND ({alias}.action IN ('archive', 'restore')"
        f' OR instr({alias}.changes, \'"status": ["\') > 0)'
    )


_MARK = "'\"status\": ['"
# The event's [old, new] status as text: the statuses are plain keys, so it ends at the first ].
_PAIR = (
    f"substr(e.changes, instr(e.changes, {_MARK}) + 10,"
    f" instr(substr(e.changes, instr(e.changes, {_MARK}) + 10, 80), ']'))"
)
_ARCHIVING = "e.action IN ('archive', 'restore')"


@dataclass(frozen=True)
class Month:
    """One calendar month of flow: its first day and how many rules moved which way."""

    month: date
    added: int = 0
    restored: int = 0
    adapted: int = 0
    dropped: int = 0
    archived: int = 0

    @property
    def came_in(self) -> int:
        return self.added + self.restored

    @property
    def went_out(self) -> int:
        return self.dropped + self.archived

    @property
    def net(self) -> int:
        return self.came_in - self.went_out


def _scope_sql(team: int | None, location: int | None, category: int | None) -> tuple[str, dict]:
    """The dashboard's scope as conditions on rules ``r``, archived rules included: they were
    in the flow before they left it."""
    clauses, params = ["1 = 1"], {}
    if category is not None:
        clauses.append("r.category_id = :category")
        params["category"] = category
    if team is not None:
        clauses.append(TEAM_SCOPE.format(team=":team"))
        params["team"] = team
    if location is not None:
        clauses.append(LOCATION_SCOPE.format(location=":location"))
        params["location"] = location
    return " AND ".join(clauses), params


def _month_of_hour(hour: str, cache: dict[str, date]) -> date:
    """The organisation's month of a UTC hour ('2026-03-31T23'): whole hours are enough, the
    organisation's offset from UTC being whole hours."""
    if hour not in cache:
        moment = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
        local = moment.astimezone(ORGANISATION_TZ)
        cache[hour] = date(local.year, local.month, 1)
    return cache[hour]


def month_of(moment: datetime) -> date:
    """The first day of the organisation's calendar month that ``moment`` (aware) falls in."""
    local = moment.astimezone(ORGANISATION_TZ)
    return date(local.year, local.month, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _count(
    db: Database, team: int | None, location: int | None, category: int | None
) -> dict[str, Counter]:
    """Flow per UTC hour and kind: a GROUP BY over rules, one over the changes of status, and
    a walk through the events of the few rules ever archived.

    A change of status moves a rule in or out by its old and new value alone, as long as the
    rule is not archived: those are counted per hour and [old, new] pair. The few rules that
    were ever archived or restored are followed event by event instead. A creation counts by
    the status the rule was born with: the GROUP BY over rules reads the status it has now,
    and every change that moved it in or out since is taken back off its creation's hour."""
    where, params = _scope_sql(team, location, category)
    # Per event, not a list of every rule in scope: few rules have events here.
    scoped = (
        f"AND EXISTS (SELECT 1 FROM rules r WHERE r.id = e.entity_id AND {where})" if params else ""
    )
    by_hour: dict[str, Counter] = defaultdict(Counter)
    for hour, status, n in db.execute(
        f"SELECT substr(r.created_at, 1, 13), r.status, count(*) FROM rules r"
        f" WHERE {where} GROUP BY 1, 2",
        params,
    ):
        by_hour[hour]["added"] += n if in_force(status) else 0
    out_of_force = [s for s in STATUSES if not in_force(s)]
    moves = " OR ".join(f"instr(p.pair, '\"{s}\"') > 0" for s in out_of_force) or "0"
    # The index is named: SQLite would otherwise read every rule event through events_entity.
    ever_archived = (
        f"SELECT x.entity_id FROM events x INDEXED BY events_rule_flow"
        f" WHERE {flow_events('x')} AND x.action IN ('archive', 'restore')"
    )
    parsed: dict[str, tuple] = {}

    def pair(text: str) -> tuple:
        if text not in parsed:
            parsed[text] = tuple(json.loads(text))
        return parsed[text]

    # Materialized, so each event's changes are searched for its pair once, not once per use.
    for hour, text, created, n in db.execute(
        f"""
        WITH p AS MATERIALIZED (
            SELECT e.entity_id, substr(e.at, 1, 13) AS hour, {_PAIR} AS pair
            FROM events e INDEXED BY events_rule_flow
            WHERE {flow_events()} AND NOT {_ARCHIVING} AND e.entity_id NOT IN ({ever_archived})
            {scoped}
        )
        SELECT p.hour, p.pair,
               CASE WHEN {moves} THEN (SELECT substr(c.created_at, 1, 13) FROM rules c
                                       WHERE c.id = p.entity_id) END,
               count(*)
        FROM p GROUP BY 1, 2, 3
        """,
        params,
    ):
        old, new = pair(text)
        moved = _change(old, new, False, by_hour[hour], n)
        if moved:
            by_hour[created]["added"] -= moved * n
    archived_ids = [
        row[0]
        for row in db.execute(
            f"SELECT DISTINCT e.entity_id FROM events e INDEXED BY events_rule_flow"
            f" WHERE {flow_events()} AND {_ARCHIVING} {scoped}",
            params,
        )
    ]
    rows = []
    for start in range(0, len(archived_ids), 500):
        part = archived_ids[start : start + 500]
        rows += db.execute(
            f"""
            SELECT e.entity_id, substr(e.at, 1, 13), e.action, CASE WHEN {_ARCHIVING} THEN NULL
                   ELSE {_PAIR} END
            FROM events e INDEXED BY events_rule_flow
            WHERE {flow_events()} AND e.entity_id IN ({",".join("?" * len(part))})
            ORDER BY e.entity_id, e.id
            """,
            part,
        ).fetchall()
    walked = {
        rule_id: [(hour, action, pair(text) if text else None) for _r, hour, action, text in group]
        for rule_id, group in groupby(rows, key=itemgetter(0))
    }
    for rule_id, status, created in _rows(db, list(walked)):
        events = walked[rule_id]
        pairs = [p for _h, _a, p in events if p]
        born = pairs[0][0] if pairs else status
        by_hour[created]["added"] += int(in_force(born)) - int(in_force(status))
        _walk(born, events, by_hour)
    return by_hour


def _change(old: str, new: str, archived: bool, counts: Counter, n: int = 1) -> int:
    """Count ``n`` changes of status from ``old`` to ``new``; return +1 when they brought
    the rule into force, -1 when they took it out, else 0."""
    if new == "adapted" and old != "adapted":
        counts["adapted"] += n
    moved = int(in_force(new, archived)) - int(in_force(old, archived))
    if moved < 0:
        counts["dropped"] += n
    elif moved > 0:
        # Back from dropped; any other status out of force becoming one in force (a proposal
        # kept, say) brings the rule in for the first time.
        counts["restored" if old == DROPPED else "added"] += n
    return moved


def _rows(db: Database, rule_ids: list[int]) -> list[tuple[int, str, str]]:
    """(id, status now, creation hour) of the given rules."""
    found = []
    for start in range(0, len(rule_ids), 500):
        part = rule_ids[start : start + 500]
        marks = ",".join("?" * len(part))
        found += db.execute(
            f"SELECT id, status, substr(created_at, 1, 13) FROM rules WHERE id IN ({marks})",
            part,
        ).fetchall()
    return found


def _walk(born: str, events: list[tuple], by_hour: dict[str, Counter]) -> None:
    """One archived (or restored) rule's status changes, archivings and restorings in order,
    each counted by what it did to the rule being in force: archiving a dropped rule takes
    nothing out that was still in, restoring it brings nothing back."""
    status, archived = born, False
    for hour, action, pair in events:
        if action in ("archive", "restore"):
            before = in_force(status, archived)
            archived = action == "archive"
            after = in_force(status, archived)
            if before and not after:
                by_hour[hour]["archived"] += 1
            elif after and not before:
                by_hour[hour]["restored"] += 1
        else:
            _change(pair[0], pair[1], archived, by_hour[hour])
            status = pair[1]


def monthly(
    db: Database,
    *,
    team: int | None = None,
    location: int | None = None,
    category: int | None = None,
) -> list[Month]:
    """Every month from the first rule's (in scope) to the current one, empty months
    included, oldest first."""
    cache: dict[str, date] = {}
    totals: dict[date, Counter] = defaultdict(Counter)
    for hour, counts in _count(db, team, location, category).items():
        totals[_month_of_hour(hour, cache)].update(counts)
    current = month_of(clock.now())
    month = min([current, *totals])
    last = max([current, *totals])
    series = []
    while month <= last:
        counts = totals.get(month, Counter())
        series.append(Month(month, **{kind: counts[kind] for kind in KINDS}))
        month = _next_month(month)
    return series


def recent(series: list[Month], months: int = RECENT_MONTHS) -> dict[str, Any]:
    """The answer to "does the organisation make rules faster than it drops them?" over the
    last ``months`` months (the current one included): in, out, net and a verdict."""
    current = month_of(clock.now())
    window = [m for m in series if m.month <= current][-months:]
    came_in = sum(m.came_in for m in window)
    went_out = sum(m.went_out for m in window)
    if came_in > went_out:
        verdict = "faster"
    elif came_in < went_out:
        verdict = "slower"
    else:
        verdict = "even"
    return {
        "months": len(window),
        "in": came_in,
        "out": went_out,
        "net": came_in - went_out,
        "verdict": verdict,
    }


def verdict(answer: dict[str, Any]) -> str:
    """``recent``'s answer in a sentence, in the current language: the dashboard and the
    report say it in the same words."""
    words = {
        "faster": _("the organisation makes rules faster than it drops them."),
        "slower": _("the organisation drops rules faster than it makes them."),
        "even": _("the organisation drops as many rules as it makes."),
    }[answer["verdict"]]
    numbers = {
        "came_in": format_number(answer["in"]),
        "went_out": format_number(answer["out"]),
        "verdict": words,
    }
    if answer["months"] == 1:
        return _(
            "This month %(came_in)s rules came in and %(went_out)s went out: %(verdict)s",
            **numbers,
        )
    return _(
        "In the last %(months)s months %(came_in)s rules came in and %(went_out)s went out:"
        " %(verdict)s",
        months=answer["months"],
        **numbers,
    )
