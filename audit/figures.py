"""Every figure of the dashboard, the `stats` command and the Excel report, from SQL aggregates.

One module so that the page, the command and the workbook can never disagree. Figures count the
rules in force: not archived and not dropped. The status funnel alone also counts dropped
rules, since it shows where the rules went.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from audit import categories, organisation, origins
from audit.register import RuleFilter
from audit.vocabulary import IMPACTS, STATUSES

IN_FORCE = "r.status <> 'dropped'"
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


def headline(db: Database, scope: Scope = Scope()) -> dict[str, Any]:
    where, params = scope.where()
    row = next(
        db.query(
            f"""
            SELECT count(*) AS total,
                   coalesce(sum(r.traced), 0) AS traced,
                   coalesce(sum(r.self_invented), 0) AS self_invented,
                   coalesce(sum(r.myth), 0) AS myths,
                   coalesce(sum(CASE WHEN r.self_invented THEN r.minutes_per_week END), 0)
                       AS minutes_per_week_self_invented,
                   coalesce(sum(r.self_invented AND r.minutes_per_week IS NULL), 0)
                       AS self_invented_minutes_unknown,
                   coalesce(sum(r.minutes_per_week), 0) AS minutes_per_week_all
            FROM rules r WHERE {where}
            """,
            params,
        )
    )
    minutes_given_back = given_back_minutes(db, scope)
    reference = organisation.get_settings(db)["reference_share"]
    return {
        **row,
        "coverage": _share(row["traced"], row["total"]),
        "self_invented_share": _share(row["self_invented"], row["traced"]),
        "reference_share": reference,
        "hours_per_week_self_invented": row["minutes_per_week_self_invented"] / 60,
        "minutes_per_week_given_back": minutes_given_back,
        "hours_per_week_given_back": minutes_given_back / 60,
    }


def given_back_minutes(db: Database, scope: Scope = Scope()) -> int:
    """Minutes per week given back by applied decisions: a dropped rule gives back all its
    minutes, an adapted one the minutes it lost. Only each rule's latest applied decision
    counts, so a rule adapted and later dropped is not counted twice."""
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
        WHERE d.applied_at IS NOT NULL
          AND d.id = (SELECT d2.id FROM decisions d2
                      WHERE d2.rule_id = d.rule_id AND d2.applied_at IS NOT NULL
                      ORDER BY d2.applied_at DESC, d2.id DESC LIMIT 1)
          AND {where}
        """,
        params,
    ).fetchone()
    return row[0]


def origin_distribution(db: Database, scope: Scope = Scope()) -> list[dict[str, Any]]:
    """Per origin key (and "not set"), how many rules are believed and found to come from it."""
    where, params = scope.where()
    counts: dict[str | None, dict[str, int]] = {
        k: {"perceived": 0, "verified": 0} for k in [*origins.ORIGINS, None]
    }
    for column in ("perceived", "verified"):
        for key, n in db.execute(
            f"SELECT r.{column}_origin, count(*) FROM rules r WHERE {where} GROUP BY 1",
            params,
        ):
            counts[key][column] = n
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


def _org_wide_totals(db: Database, where: str, params: dict) -> dict[str, int]:
    row = db.execute(
        f"SELECT count(*), coalesce(sum(r.traced), 0), coalesce(sum(r.self_invented), 0)"
        f" FROM rules r WHERE {where} AND r.org_wide = 1",
        params,
    ).fetchone()
    return {"total": row[0], "traced": row[1], "self_invented": row[2]}


def _by_unit(db: Database, scope: Scope, unit_sql: str, pairs_sql: str) -> list[dict[str, Any]]:
    """Rules per team or location: the organisation-wide ones (counted once, added to every
    unit) plus those chosen for it; the two sets never overlap."""
    where, params = scope.where()
    org_wide = _org_wide_totals(db, where, params)
    rows = list(
        db.query(
            f"""
            WITH pairs(unit_id, rule_id) AS ({pairs_sql}),
                 live AS (SELECT r.id, r.traced, r.self_invented FROM rules r WHERE {where})
            SELECT u.id, u.name, count(live.id) AS total,
                   coalesce(sum(live.traced), 0) AS traced,
                   coalesce(sum(live.self_invented), 0) AS self_invented
            FROM ({unit_sql}) u
            LEFT JOIN pairs ON pairs.unit_id = u.id
            LEFT JOIN live ON live.id = pairs.rule_id
            GROUP BY u.id ORDER BY u.name COLLATE NOCASE
            """,
            params,
        )
    )
    for row in rows:
        for key in ("total", "traced", "self_invented"):
            row[key] += org_wide[key]
    return _share_rows(rows)


def share_by_team(db: Database, scope: Scope = Scope()) -> list[dict[str, Any]]:
    return _by_unit(
        db,
        scope,
        "SELECT id, name FROM teams",
        """
        SELECT team_id, rule_id FROM rule_teams
        UNION
        SELECT t.id, rl.rule_id
        FROM rule_locations rl JOIN teams t ON t.location_id = rl.location_id
        """,
    )


def share_by_location(db: Database, scope: Scope = Scope()) -> list[dict[str, Any]]:
    return _by_unit(
        db,
        scope,
        "SELECT id, name FROM locations",
        """
        SELECT location_id, rule_id FROM rule_locations
        UNION
        SELECT t.location_id, rt.rule_id FROM rule_teams rt JOIN teams t ON t.id = rt.team_id
        WHERE t.location_id IS NOT NULL
        """,
    )


def impact_by_origin_group(db: Database, scope: Scope = Scope()) -> list[dict[str, Any]]:
    """Effect on the relation of self-invented, external and not yet traced rules."""
    where, params = scope.where()
    external = ", ".join(f"'{k}'" for k in sorted(origins.EXTERNAL))
    counts = {
        group: {key: 0 for key in [*IMPACTS, None]}
        for group in ("self_invented", "external", "not_traced")
    }
    for group, impact, n in db.execute(
        f"""
        SELECT CASE WHEN r.self_invented THEN 'self_invented'
                    WHEN r.verified_origin IN ({external}) THEN 'external'
                    ELSE 'not_traced' END,
               r.relation_impact, count(*)
        FROM rules r WHERE {where} GROUP BY 1, 2
        """,
        params,
    ):
        counts[group][impact] = n
    return [
        {
            "group": group,
            "total": sum(values.values()),
            **{k or "unknown": v for k, v in values.items()},
        }
        for group, values in counts.items()
    ]


def status_funnel(db: Database, scope: Scope = Scope()) -> list[dict[str, Any]]:
    where, params = scope.where(in_force=False)
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in db.execute(
        f"SELECT r.status, count(*) FROM rules r WHERE {where} GROUP BY 1",
        params,
    ):
        counts[status] = n
    return [{"status": status, "count": n} for status, n in counts.items()]


def top_candidates(
    db: Database, scope: Scope = Scope(), limit: int = TOP_CANDIDATES
) -> list[dict[str, Any]]:
    """Self-invented rules that hinder the relation, most hours per week first: the first
    candidates for a review session."""
    where, params = scope.where()
    return list(
        db.query(
            f"""
            SELECT r.id, r.code, r.title, r.minutes_per_week, r.verified_origin, r.myth, r.status
            FROM rules r
            WHERE {where} AND r.self_invented = 1 AND r.relation_impact = 'hinders'
            ORDER BY r.minutes_per_week IS NULL, r.minutes_per_week DESC, r.code
            LIMIT :limit
            """,
            {**params, "limit": limit},
        )
    )


def dashboard(db: Database, scope: Scope = Scope()) -> dict[str, Any]:
    """Everything the dashboard shows, in one dictionary."""
    return {
        "headline": headline(db, scope),
        "origins": origin_distribution(db, scope),
        "categories": share_by_category(db, scope),
        "locations": share_by_location(db, scope),
        "teams": share_by_team(db, scope),
        "impact": impact_by_origin_group(db, scope),
        "funnel": status_funnel(db, scope),
        "candidates": top_candidates(db, scope),
    }
