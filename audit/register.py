"""Finding rules: search, filters, sort and pages, all in SQL so 10,000 rules stay fast.

The scope and filter SQL here is the one definition the dashboard and the exports reuse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from flask_babel import gettext as _
from sqlite_utils import Database

from audit import categories, organisation, origins, protocols, rules
from audit.clock import today
from audit.text import fold, like_pattern
from audit.vocabulary import IMPACTS, STATUSES

PER_PAGE_CHOICES = (25, 50, 100)

# Does rule r apply to team :team? Organisation-wide, chosen for the team, or chosen for the
# location the team works at.
TEAM_SCOPE = """(
    r.org_wide = 1
    OR EXISTS (SELECT 1 FROM rule_teams rt WHERE rt.rule_id = r.id AND rt.team_id = {team})
    OR EXISTS (SELECT 1 FROM rule_locations rl JOIN teams t ON t.location_id = rl.location_id
               WHERE rl.rule_id = r.id AND t.id = {team})
)"""

# Does rule r apply at location :location? Organisation-wide, chosen for the location, or
# chosen for a team that works there.
LOCATION_SCOPE = """(
    r.org_wide = 1
    OR EXISTS (SELECT 1 FROM rule_locations rl
               WHERE rl.rule_id = r.id AND rl.location_id = {location})
    OR EXISTS (SELECT 1 FROM rule_teams rt JOIN teams t ON t.id = rt.team_id
               WHERE rt.rule_id = r.id AND t.location_id = {location})
)"""


# Sortable columns; {category} becomes the category name in the reader's language.
SORT_COLUMNS = {
    "code": "r.code COLLATE NOCASE",
    "title": "r.title COLLATE NOCASE",
    "category": "{category} COLLATE NOCASE",
    "protocol": "p.name COLLATE NOCASE",
    "status": "r.status",
    "perceived_origin": "r.perceived_origin",
    "verified_origin": "r.verified_origin",
    "self_invented": "r.self_invented",
    "myth": "r.myth",
    "minutes_per_week": "r.minutes_per_week",
    "relation_impact": "r.relation_impact",
    "owner": "r.owner COLLATE NOCASE",
    "introduced_on": "r.introduced_on",
    "review_due": "r.review_due",
    "created_at": "r.created_at",
    "updated_at": "r.updated_at",
}


_CHECKBOXES = ("overdue", "archived")


@dataclass
class RuleFilter:
    """What the register is asked for. Every field has a URL parameter of the same name."""

    q: str = ""
    category: int | None = None
    protocol: int | None = None
    team: int | None = None
    location: int | None = None
    perceived: str | None = None
    verified: str | None = None  # an origin key, or "none" for no verified origin yet
    traced: bool | None = None  # False: no verified origin, or verified as unknown
    self_invented: bool | None = None
    myth: bool | None = None
    status: str | None = None
    impact: str | None = None
    overdue: bool = False
    archived: bool = False  # the archive instead of the register

    def where(self) -> tuple[str, dict[str, Any]]:
        """SQL conditions on rules aliased ``r``, with named parameters."""
        clauses = ["r.archived_at IS NOT NULL" if self.archived else "r.archived_at IS NULL"]
        params: dict[str, Any] = {}
        for i, word in enumerate(fold(self.q).split()[:10]):
            clauses.append(f"r.search_text LIKE :q{i} ESCAPE '\\'")
            params[f"q{i}"] = like_pattern(word)
        simple = {
            "category": "r.category_id",
            "protocol": "r.protocol_id",
            "perceived": "r.perceived_origin",
            "status": "r.status",
            "impact": "r.relation_impact",
        }
        for name, column in simple.items():
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"{column} = :{name}")
                params[name] = value
        if self.verified == "none":
            clauses.append("r.verified_origin IS NULL")
        elif self.verified is not None:
            clauses.append("r.verified_origin = :verified")
            params["verified"] = self.verified
        for name in ("self_invented", "myth", "traced"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"r.{name} = :{name}")
                params[name] = int(value)
        if self.team is not None:
            clauses.append(TEAM_SCOPE.format(team=":team"))
            params["team"] = self.team
        if self.location is not None:
            clauses.append(LOCATION_SCOPE.format(location=":location"))
            params["location"] = self.location
        if self.overdue:
            clauses.append("r.review_due < :today")
            params["today"] = today().isoformat()
        return " AND ".join(clauses), params

    def is_filtered(self) -> bool:
        return bool(set(self.to_args()) - {"archived"})

    def to_args(self) -> dict[str, str]:
        """URL parameters for this filter (empty ones left out), for links and bookmarks."""
        args = {}
        for f in fields(self):
            value = getattr(self, f.name)
            # False is a real choice for the yes/no filters, but the default for the checkboxes.
            if value is None or value == "" or (value is False and f.name in _CHECKBOXES):
                continue
            args[f.name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return args


def filter_in_words(db: Database, rule_filter: RuleFilter) -> str:
    """The filter as a reader says it, in the current language ("Team: Vlinder; only
    self-invented rules"), for the report's Summary. Every field of RuleFilter has words here
    (tests/test_filter_words.py checks), so no raw URL parameter ever reaches a reader."""
    f = rule_filter
    parts: list[str] = []

    def named(label: Any, value: Any) -> None:
        parts.append(f"{label}: {value}")

    if f.q.strip():
        parts.append(_("Search text: %(text)s", text=" ".join(f.q.split())))
    if f.category is not None:
        named(_("Category"), categories.get_category(db, f.category)["name"])
    if f.protocol is not None:
        named(_("Protocol"), protocols.get_protocol(db, f.protocol)["name"])
    if f.team is not None:
        named(_("Team"), organisation.get_team(db, f.team)["name"])
    if f.location is not None:
        named(_("Location"), organisation.get_location(db, f.location)["name"])
    if f.perceived is not None:
        named(_("Perceived origin"), origins.label(f.perceived))
    if f.verified is not None:
        not_yet = _("not traced yet")
        named(_("Verified origin"), not_yet if f.verified == "none" else origins.label(f.verified))
    yes_no = {
        "traced": (_("only traced rules"), _("only rules not yet traced")),
        "self_invented": (_("only self-invented rules"), _("no self-invented rules")),
        "myth": (_("only myths"), _("no myths")),
    }
    for name, (yes, no) in yes_no.items():
        value = getattr(f, name)
        if value is not None:
            parts.append(yes if value else no)
    if f.status is not None:
        named(_("Status"), STATUSES.get(f.status, f.status))
    if f.impact is not None:
        named(_("Effect on the client relation"), IMPACTS.get(f.impact, f.impact))
    if f.overdue:
        parts.append(_("only rules past their review date"))
    if f.archived:
        parts.append(_("only archived rules"))
    return "; ".join(parts) or _("the whole organisation")


@dataclass
class Page:
    rows: list[dict]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


_LIST_COLUMNS = """
    r.id, r.code, r.title, r.status, r.perceived_origin, r.verified_origin, r.source_reference,
    r.minutes_per_week, r.relation_impact, r.review_due, r.owner, r.updated_at,
    r.self_invented, r.myth, r.traced, r.org_wide, r.archived_at, r.version,
    c.name_nl AS category_nl, c.name_en AS category_en, p.name AS protocol_name
"""
_FROM = """
    FROM rules r
    LEFT JOIN categories c ON c.id = r.category_id
    LEFT JOIN protocols p ON p.id = r.protocol_id
"""


def count(db: Database, rule_filter: RuleFilter) -> int:
    where, params = rule_filter.where()
    return db.execute(f"SELECT count(*) FROM rules r WHERE {where}", params).fetchone()[0]


def search(
    db: Database,
    rule_filter: RuleFilter,
    *,
    sort: str = "code",
    descending: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """One page of rules matching the filter, with the total count."""
    where, params = rule_filter.where()
    total = count(db, rule_filter)
    per_page = per_page if per_page in PER_PAGE_CHOICES else 50
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    column = SORT_COLUMNS.get(sort, SORT_COLUMNS["code"]).format(category=categories.name_sql("c"))
    direction = "DESC" if descending else "ASC"
    # Empty values last whichever way one sorts, then a stable tie-break.
    order = f"({column.split()[0]} IS NULL) ASC, {column} {direction}, r.id {direction}"
    rows = list(
        db.query(
            f"SELECT {_LIST_COLUMNS} {_FROM} WHERE {where} ORDER BY {order}"
            " LIMIT :limit OFFSET :offset",
            {**params, "limit": per_page, "offset": (page - 1) * per_page},
        )
    )
    _add_team_names(db, rows)
    return Page(rows=rows, total=total, page=page, per_page=per_page)


def rule_ids(db: Database, rule_filter: RuleFilter, limit: int | None = None) -> list[int]:
    """The ids of every matching rule in code order (for exports and session picking)."""
    where, params = rule_filter.where()
    sql = f"SELECT r.id FROM rules r WHERE {where} ORDER BY r.code COLLATE NOCASE"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [row[0] for row in db.execute(sql, params)]


def _add_team_names(db: Database, rows: list[dict]) -> None:
    """Scope names for one page of rows, in one query each for teams and locations."""
    found = rules.scopes(db, [r["id"] for r in rows])
    for row in rows:
        row.update(found[row["id"]])
