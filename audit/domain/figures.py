"""Every figure of the dashboard, the `stats` command and the Excel report, from SQL aggregates.

One module so that the page, the command and the workbook can never disagree. Figures count the
rules in force: not archived and not dropped. The status funnel alone also counts dropped
rules, since it shows where the rules went. The database counts (GROUP BY); Python only adds up
the few hundred groups, using the same origin groups as the database's generated columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlite_utils import Database

from audit.core import clock
from audit.domain import (
    categories,
    experiments,
    flow,
    organisation,
    origins,
    rule_reports,
    strategies,
)
from audit.domain.register import RuleFilter
from audit.domain.rules import IN_FORCE_SQL, in_force
from audit.domain.vocabulary import IMPACTS, STATUSES

IN_FORCE = IN_FORCE_SQL
TOP_CANDIDATES = 10


@dataclass(frozen=True)
class Scope:
    """The dashboard's filter: which part of the organisation the figures are about."""

    team: int | None = None
    location: int | None = None
    category: int | None = None

    def where(self, in_force: bool = True) -> tuple[str, dict[str, Any]]:
        where, params = RuleFilter(
            team=self.team, location=self.location, category=self.category
        ).where()
        return (f"{where} AND {IN_FORCE}" if in_force else where), params


def _share(part: int, whole: int) -> float | None:
    """A fraction, or None when there is nothing to divide by ("not yet known", not 0%)."""
    return part / whole if whole else None


@dataclass(frozen=True)
class _Group:
    status: str
    perceived: str | None
    verified: str | None
    impact: str | None
    rules: int
    minutes: int
    minutes_unknown: int

    @property
    def in_force(self) -> bool:
        return in_force(self.status)


def _groups(db: Database, scope: Scope) -> list[_Group]:
    """The rules in scope counted per status, origins and impact: one scan of the register,
    from which the headline, the origin distribution, the impact and the funnel are summed."""
    where, params = scope.where(in_force=False)
    rows = db.execute(
        f"""
        SELECT r.status, r.perceived_origin, r.verified_origin, r.relation_impact, count(*),
               coalesce(sum(r.minutes_per_week), 0), sum(r.minutes_per_week IS NULL)
        FROM rules r WHERE {where} GROUP BY 1, 2, 3, 4
        """,
        params,
    )
    return [_Group(*row) for row in rows]


def _in_force(groups: list[_Group]) -> list[_Group]:
    return [g for g in groups if g.in_force]


def headline(
    db: Database, scope: Scope = Scope(), groups: list[_Group] | None = None
) -> dict[str, Any]:
    live = _in_force(groups if groups is not None else _groups(db, scope))
    total = sum(g.rules for g in live)
    traced = sum(g.rules for g in live if origins.is_traced(g.verified))
    self_made = [g for g in live if origins.is_self_invented(g.verified)]
    self_invented = sum(g.rules for g in self_made)
    minutes_self = sum(g.minutes for g in self_made)
    minutes_given_back = given_back_minutes(db, scope)
    settings = organisation.get_settings(db)
    return {
        "total": total,
        "traced": traced,
        "self_invented": self_invented,
        "myths": sum(g.rules for g in live if origins.is_myth(g.perceived, g.verified)),
        "minutes_per_week_self_invented": minutes_self,
        "self_invented_minutes_unknown": sum(g.minutes_unknown for g in self_made),
        "minutes_per_week_all": sum(g.minutes for g in live),
        "coverage": _share(traced, total),
        "self_invented_share": _share(self_invented, traced),
        # None when the organisation set no reference: then no reference is drawn anywhere.
        "reference_share": settings["reference_share"],
        "reference_label": organisation.reference_label(settings),
        "hours_per_week_self_invented": minutes_self / 60,
        "minutes_per_week_given_back": minutes_given_back,
        "hours_per_week_given_back": minutes_given_back / 60,
        **suspended(db, scope),
    }


def suspended(db: Database, scope: Scope = Scope()) -> dict[str, int]:
    """Rules in force that a running experiment suspends (docs/design.md, "Experiments"): they
    still count in every other figure. For a team, only the rules suspended for that team; for a
    location, those suspended for one of its teams; a rule suspended for one team still binds
    the others. An experiment counts until the decision that closes it is applied."""
    where, params = scope.where()
    teams = ""
    if scope.team is not None:
        teams = " AND et.team_id = :team"
    elif scope.location is not None:
        teams = " AND et.team_id IN (SELECT id FROM teams WHERE location_id = :location)"
    row = db.execute(
        f"""
        SELECT count(*), coalesce(sum(r.minutes_per_week), 0) FROM rules r
        WHERE {where} AND NOT ({experiments.BINDING_AGAIN}) AND r.id IN (
            SELECT e.rule_id FROM experiments e
            JOIN experiment_teams et ON et.experiment_id = e.id
            WHERE e.state = 'running'{teams})
        """,
        params,
    ).fetchone()
    return {"suspended": row[0], "minutes_per_week_suspended": row[1]}


def given_back_minutes(db: Database, scope: Scope = Scope()) -> int:
    """Minutes per week given back by applied decisions: a dropped rule gives back the minutes
    it had, an adapted one the minutes it lost. Each decision stored the minutes before and
    after it was applied, so a rule adapted (100 -> 40) and later dropped gives back 60 + 40."""
    where, params = scope.where(in_force=False)
    row = db.execute(
        f"""
        SELECT coalesce(sum(
            CASE d.outcome
                WHEN 'drop' THEN coalesce(d.minutes_before, 0)
                WHEN 'adapt' THEN max(coalesce(d.minutes_before, 0)
                                      - coalesce(d.minutes_after, d.minutes_before, 0), 0)
                ELSE 0
            END), 0)
        FROM decisions d JOIN rules r ON r.id = d.rule_id
        WHERE d.applied_at IS NOT NULL AND {where}
        """,
        params,
    ).fetchone()
    return row[0]


def origin_distribution(
    db: Database, scope: Scope = Scope(), groups: list[_Group] | None = None
) -> list[dict[str, Any]]:
    """Per origin key (and "not set"), how many rules are believed and found to come from it."""
    live = _in_force(groups if groups is not None else _groups(db, scope))
    counts = {k: {"perceived": 0, "verified": 0} for k in [*origins.ORIGINS, None]}
    for group in live:
        counts[group.perceived]["perceived"] += group.rules
        counts[group.verified]["verified"] += group.rules
    return [
        {"key": key, "group": origins.GROUP_OF.get(key, "not_traced"), **values}
        for key, values in counts.items()
    ]


def _share_rows(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["self_invented_share"] = _share(row["self_invented"], row["traced"])
    return rows


def share_by_category(db: Database, scope: Scope = Scope()) -> list[dict[str, Any]]:
    where, params = scope.where()
    rows = list(
        db.query(
            f"""
            SELECT c.id, c.name_nl, c.name_en, count(*) AS total,
                   sum(r.traced) AS traced, sum(r.self_invented) AS self_invented
            FROM rules r LEFT JOIN categories c ON c.id = r.category_id
            WHERE {where} GROUP BY c.id
            """,
            params,
        )
    )
    for row in rows:
        row["name"] = categories.display_name(row) if row["id"] else None
    rows.sort(key=lambda r: (r["name"] is None, (r["name"] or "").casefold()))
    return _share_rows(rows)


_COUNTS = "count(*), coalesce(sum(r.traced), 0), coalesce(sum(r.self_invented), 0)"


def _counts(db: Database, sql: str, params: dict) -> dict[int | None, list[int]]:
    return {row[0]: list(row[1:]) for row in db.execute(sql, params)}


def _add(*parts: list[int] | None, subtract: list[int] | None = None) -> list[int]:
    total = [0, 0, 0]
    for part in parts:
        for i, value in enumerate(part or [0, 0, 0]):
            total[i] += value
    for i, value in enumerate(subtract or [0, 0, 0]):
        total[i] -= value
    return total


def _unit_rows(units: list[dict], counts: dict[int, list[int]]) -> list[dict[str, Any]]:
    rows = []
    for unit in units:
        total, traced, self_invented = counts[unit["id"]]
        rows.append(
            {
                "id": unit["id"],
                "name": unit["name"],
                "total": total,
                "traced": traced,
                "self_invented": self_invented,
            }
        )
    return _share_rows(rows)


def _org_wide(db: Database, scope: Scope) -> list[int] | None:
    """The organisation-wide rules in scope (total, traced, self-invented): every team and every
    location has them, so the two breakdowns share one count."""
    where, params = scope.where()
    return _counts(
        db, f"SELECT 0, {_COUNTS} FROM rules r WHERE {where} AND r.org_wide = 1", params
    ).get(0)


def share_by_team(
    db: Database, scope: Scope = Scope(), org_wide: list[int] | None = None
) -> list[dict[str, Any]]:
    """Rules per team: organisation-wide ones, those chosen for the team, and those chosen for
    its location, each rule once. Counted as three small aggregates rather than by expanding
    every location rule to every team, which is what made this slow at 10,000 rules."""
    where, params = scope.where()
    if org_wide is None:
        org_wide = _org_wide(db, scope)
    direct = _counts(
        db,
        f"SELECT rt.team_id, {_COUNTS} FROM rule_teams rt JOIN rules r ON r.id = rt.rule_id"
        f" WHERE {where} GROUP BY rt.team_id",
        params,
    )
    by_location = _counts(
        db,
        f"SELECT rl.location_id, {_COUNTS} FROM rule_locations rl JOIN rules r ON r.id = rl.rule_id"
        f" WHERE {where} GROUP BY rl.location_id",
        params,
    )
    both = _counts(  # chosen for the team and for its location: counted once, not twice
        db,
        f"SELECT rt.team_id, {_COUNTS} FROM rule_teams rt JOIN teams t ON t.id = rt.team_id"
        f" JOIN rule_locations rl ON rl.rule_id = rt.rule_id AND rl.location_id = t.location_id"
        f" JOIN rules r ON r.id = rt.rule_id WHERE {where} GROUP BY rt.team_id",
        params,
    )
    teams = organisation.list_teams(db)
    counts = {
        t["id"]: _add(
            org_wide,
            direct.get(t["id"]),
            by_location.get(t["location_id"]),
            subtract=both.get(t["id"]),
        )
        for t in teams
    }
    return sorted(_unit_rows(teams, counts), key=lambda r: r["name"].casefold())


def share_by_location(
    db: Database, scope: Scope = Scope(), org_wide: list[int] | None = None
) -> list[dict[str, Any]]:
    """Rules per location: organisation-wide ones, those chosen for the location, and those
    chosen for a team there, each rule once."""
    where, params = scope.where()
    if org_wide is None:
        org_wide = _org_wide(db, scope)
    scoped = _counts(
        db,
        f"""
        WITH pairs(location_id, rule_id) AS (
            SELECT location_id, rule_id FROM rule_locations
            UNION
            SELECT t.location_id, rt.rule_id FROM rule_teams rt JOIN teams t ON t.id = rt.team_id
            WHERE t.location_id IS NOT NULL
        )
        SELECT pairs.location_id, {_COUNTS} FROM pairs JOIN rules r ON r.id = pairs.rule_id
        WHERE {where} GROUP BY pairs.location_id
        """,
        params,
    )
    locations = organisation.list_locations(db)
    counts = {loc["id"]: _add(org_wide, scoped.get(loc["id"])) for loc in locations}
    return sorted(_unit_rows(locations, counts), key=lambda r: r["name"].casefold())


def impact_by_origin_group(
    db: Database, scope: Scope = Scope(), groups: list[_Group] | None = None
) -> list[dict[str, Any]]:
    """Effect on the relation of self-invented, external and not yet traced rules."""
    live = _in_force(groups if groups is not None else _groups(db, scope))
    counts = {
        group: {key: 0 for key in [*IMPACTS, None]}
        for group in ("self_invented", "external", "not_traced")
    }
    for g in live:
        if origins.is_self_invented(g.verified):
            kind = "self_invented"
        elif g.verified in origins.EXTERNAL:
            kind = "external"
        else:
            kind = "not_traced"
        counts[kind][g.impact] += g.rules
    return [
        {
            "group": group,
            "total": sum(values.values()),
            **{k or "unknown": v for k, v in values.items()},
        }
        for group, values in counts.items()
    ]


def status_funnel(
    db: Database, scope: Scope = Scope(), groups: list[_Group] | None = None
) -> list[dict[str, Any]]:
    counts = dict.fromkeys(STATUSES, 0)
    for g in groups if groups is not None else _groups(db, scope):
        counts[g.status] += g.rules
    return [{"status": status, "count": n} for status, n in counts.items()]


def top_candidates(
    db: Database, scope: Scope = Scope(), limit: int = TOP_CANDIDATES
) -> list[dict[str, Any]]:
    """Self-invented rules that hinder the relation: the first candidates for a review
    session. The rules most colleagues reported come first (the people who live by a rule
    know best which ones stand in the way), then the most hours per week (docs/design.md,
    "Reports of rules")."""
    where, params = scope.where()
    return list(
        db.query(
            f"""
            SELECT r.id, r.code, r.title, r.minutes_per_week, r.verified_origin, r.myth, r.status,
                   coalesce(counted.n, 0) AS reported
            FROM rules r LEFT JOIN (
                SELECT rule_id, count(*) AS n FROM rule_reports
                WHERE state IN {rule_reports.COUNTED_SQL} GROUP BY rule_id
            ) counted ON counted.rule_id = r.id
            WHERE {where} AND r.self_invented = 1 AND r.relation_impact = 'hinders'
            ORDER BY reported DESC, r.minutes_per_week IS NULL, r.minutes_per_week DESC, r.code
            LIMIT :limit
            """,
            {**params, "limit": limit},
        )
    )


def reports(db: Database, scope: Scope = Scope()) -> dict[str, int]:
    """Colleagues' reports: how many wait to be triaged (of the scope's team, or the teams at
    its location; a report has no category, so a category leaves all of them), and how many
    rules in force in scope were reported (accepted or attached) and by how many reports."""
    team_clause, team_params = "1", {}
    if scope.team is not None:
        team_clause, team_params = "rr.team_id = :team", {"team": scope.team}
    elif scope.location is not None:
        team_clause = "rr.team_id IN (SELECT id FROM teams WHERE location_id = :location)"
        team_params = {"location": scope.location}
    waiting = db.execute(
        f"SELECT count(*) FROM rule_reports rr WHERE rr.state = 'untriaged' AND {team_clause}",
        team_params,
    ).fetchone()[0]
    where, params = scope.where()
    rules_reported, counted = db.execute(
        f"""
        SELECT count(DISTINCT rr.rule_id), count(*)
        FROM rule_reports rr JOIN rules r ON r.id = rr.rule_id
        WHERE rr.state IN {rule_reports.COUNTED_SQL} AND {where}
        """,
        params,
    ).fetchone()
    return {"waiting": waiting, "rules_reported": rules_reported, "reports_counted": counted}


def adapted_by_strategy(db: Database, scope: Scope = Scope()) -> list[dict[str, Any]]:
    """Rules adapted per adapt strategy (applied adapt decisions on rules in scope, a rule
    counted once per strategy however often it was adapted that way), in the organisation's
    order: every strategy in use, a retired one only while it counts, and last the adaptations
    decided before strategies were recorded, "not recorded", when there are any
    (docs/design.md, "Adapt strategies")."""
    where, params = scope.where(in_force=False)
    counted = dict(
        db.execute(
            f"""
            SELECT d.strategy_id, count(DISTINCT d.rule_id)
            FROM decisions d JOIN rules r ON r.id = d.rule_id
            WHERE d.outcome = 'adapt' AND d.applied_at IS NOT NULL AND {where}
            GROUP BY d.strategy_id
            """,
            params,
        )
    )
    rows = [
        {"id": s["id"], "name": s["name"], "rules": counted.get(s["id"], 0)}
        for s in strategies.list_strategies(db, include_inactive=True)
        if s["active"] or counted.get(s["id"])
    ]
    if counted.get(None):
        rows.append({"id": None, "name": str(strategies.NOT_RECORDED), "rules": counted[None]})
    return rows


OVERDUE_SHOWN = 10


def follow_up(db: Database, scope: Scope = Scope(), limit: int = OVERDUE_SHOWN) -> dict[str, Any]:
    """Follow-up actions on decisions about rules in scope (archived rules left out, as in
    every figure): how many are open, how many of those are overdue (due before today, per the
    clock), and the ``limit`` most overdue, for the dashboard and the start page."""
    where, params = scope.where(in_force=False)
    params = {**params, "today": clock.today().isoformat()}
    tables = """
        FROM actions a JOIN decisions d ON d.id = a.decision_id JOIN rules r ON r.id = d.rule_id
        JOIN users u ON u.id = a.owner_id
    """
    open_, overdue = db.execute(
        f"SELECT count(*), coalesce(sum(a.due_on < :today), 0) {tables}"
        f" WHERE a.done_on IS NULL AND {where}",
        params,
    ).fetchone()
    rows = db.query(
        f"""
        SELECT a.id, a.what, a.due_on, d.session_id, r.id AS rule_id, r.code, r.title,
               coalesce(nullif(u.display_name, ''), u.username) AS owner_name
        {tables}
        WHERE a.done_on IS NULL AND a.due_on < :today AND {where}
        ORDER BY a.due_on, a.id LIMIT :limit
        """,
        {**params, "limit": limit},
    )
    return {
        "open": open_,
        "overdue": overdue,
        "overdue_actions": [{**row, "due_on": date.fromisoformat(row["due_on"])} for row in rows],
    }


def rule_flow(db: Database, scope: Scope = Scope()) -> dict[str, Any]:
    """Rules in and out per month (audit/domain/flow.py) and the verdict on the last year;
    ``peak`` is the largest bar or net change, the chart's scale."""
    months = flow.monthly(db, team=scope.team, location=scope.location, category=scope.category)
    recent = flow.recent(months)
    return {
        "months": months,
        "recent": recent,
        "verdict": flow.verdict(recent),
        "peak_in": max(max(m.came_in, m.net) for m in months),
        "peak_out": max(max(m.went_out, -m.net) for m in months),
    }


def dashboard(db: Database, scope: Scope = Scope()) -> dict[str, Any]:
    """Everything the dashboard shows, in one dictionary (the register scanned once for the
    headline, origins, impact and funnel)."""
    groups = _groups(db, scope)
    org_wide = _org_wide(db, scope)
    return {
        "headline": headline(db, scope, groups),
        "origins": origin_distribution(db, scope, groups),
        "categories": share_by_category(db, scope),
        "locations": share_by_location(db, scope, org_wide),
        "teams": share_by_team(db, scope, org_wide),
        "impact": impact_by_origin_group(db, scope, groups),
        "funnel": status_funnel(db, scope, groups),
        "candidates": top_candidates(db, scope),
        "reports": reports(db, scope),
        "flow": rule_flow(db, scope),
        "strategies": adapted_by_strategy(db, scope),
        "actions": follow_up(db, scope),
    }


MYTHS_SHOWN = 50


def reported_rules(
    db: Database, scope: Scope = Scope(), limit: int = MYTHS_SHOWN
) -> list[dict[str, Any]]:
    """The rules ``reports`` counts as reported (in force in scope, with accepted or attached
    reports), the most reported first, then the most minutes reporters gave; at most
    ``limit``. Counts only: what a reporter wrote is for those who triage."""
    where, params = scope.where()
    return list(
        db.query(
            f"""
            SELECT r.id, r.code, r.title, r.status, count(*) AS reports,
                   coalesce(sum(rr.minutes_per_week), 0) AS minutes
            FROM rule_reports rr JOIN rules r ON r.id = rr.rule_id
            WHERE rr.state IN {rule_reports.COUNTED_SQL} AND {where}
            GROUP BY r.id
            ORDER BY reports DESC, minutes DESC, r.code COLLATE NOCASE
            LIMIT :limit
            """,
            {**params, "limit": limit},
        )
    )


def myths(db: Database, scope: Scope = Scope(), limit: int = MYTHS_SHOWN) -> list[dict[str, Any]]:
    """The rules the headline counts as myths (believed external, found self-invented), most
    hours per week first, at most ``limit`` of them."""
    where, params = scope.where()
    return list(
        db.query(
            f"""
            SELECT r.id, r.code, r.title, r.perceived_origin, r.verified_origin,
                   r.minutes_per_week
            FROM rules r
            WHERE r.myth = 1 AND {where}
            ORDER BY r.minutes_per_week IS NULL, r.minutes_per_week DESC, r.code COLLATE NOCASE
            LIMIT :limit
            """,
            {**params, "limit": limit},
        )
    )
