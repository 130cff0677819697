"""Finding rules: search, filters, sort and pages, all in SQL so 10,000 rules stay fast; and
changing every rule a filter finds at once.

The scope and filter SQL here is the one definition the dashboard and the exports reuse.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.core import clock
from audit.core.errors import Conflict
from audit.core.text import fold, like_pattern
from audit.domain import (
    categories,
    events,
    organisation,
    origins,
    protocols,
    rule_reports,
    rules,
)
from audit.domain.vocabulary import IMPACTS, STATUSES
from audit.store.db import transaction

PER_PAGE_CHOICES = (25, 50, 100)


def _bounded(per_page: int) -> int:
    return min(max(1, per_page), max(PER_PAGE_CHOICES))


def page_sizes(default: int) -> list[int]:
    """The page sizes to offer: the usual ones and the configured default (``PER_PAGE``)."""
    return sorted({*PER_PAGE_CHOICES, _bounded(default)})


def page_size(asked: int | None, default: int) -> int:
    """The rows per page asked for in the URL if that size is offered, else the default."""
    return asked if asked in page_sizes(default) else _bounded(default)


# Does rule r apply to team :team? Organisation-wide, chosen for the team, or chosen for the
# location the team works at. IN over subqueries that do not depend on r: SQLite works each out
# once per statement, where a correlated EXISTS was asked twice per rule (at 10,000 rules, a
# fifth of the dashboard filtered to a team).
TEAM_SCOPE = """(
    r.org_wide = 1
    OR r.id IN (SELECT rt.rule_id FROM rule_teams rt WHERE rt.team_id = {team})
    OR r.id IN (SELECT rl.rule_id FROM rule_locations rl JOIN teams t
                ON t.location_id = rl.location_id WHERE t.id = {team})
)"""

# Does rule r apply at location :location? Organisation-wide, chosen for the location, or
# chosen for a team that works there.
LOCATION_SCOPE = """(
    r.org_wide = 1
    OR r.id IN (SELECT rl.rule_id FROM rule_locations rl WHERE rl.location_id = {location})
    OR r.id IN (SELECT rt.rule_id FROM rule_teams rt JOIN teams t ON t.id = rt.team_id
                WHERE t.location_id = {location})
)"""


def _listed_order(column: str, keys: Iterable[str]) -> str:
    """Keyed values in the order the app lists them (the same in both languages), not
    alphabetically by key: *active* before *under review*, *law* before *team habit*."""
    cases = " ".join(f"WHEN '{key}' THEN {i}" for i, key in enumerate(keys))
    return f"(CASE {column} {cases} END)"


# Sortable columns; {category} becomes the category name in the reader's language.
SORT_COLUMNS = {
    "code": "r.code",
    "title": "r.title",
    "category": "{category}",
    "protocol": "p.name",
    "status": _listed_order("r.status", STATUSES),
    "perceived_origin": _listed_order("r.perceived_origin", origins.ORIGINS),
    "verified_origin": _listed_order("r.verified_origin", origins.ORIGINS),
    "self_invented": "r.self_invented",
    "myth": "r.myth",
    "minutes_per_week": "r.minutes_per_week",
    "relation_impact": _listed_order("r.relation_impact", IMPACTS),
    "owner": "r.owner",
    "introduced_on": "r.introduced_on",
    "review_due": "r.review_due",
    "created_at": "r.created_at",
    "updated_at": "r.updated_at",
}
# Text people type sorts without regard to case.
_NOCASE = {"code", "title", "category", "protocol", "owner"}


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
    reported: int | None = None  # reported by at least this many colleagues (rule_reports)

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
        if self.reported is not None:
            clauses.append(f"{rule_reports.COUNT_SQL} >= :reported")
            params["reported"] = self.reported
        if self.overdue:
            clauses.append(f"r.review_due < :today AND {rules.IN_FORCE_SQL}")
            params["today"] = clock.today().isoformat()
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
    if f.reported is not None:
        parts.append(_("reported by colleagues: at least %(n)s", n=f.reported))
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
    per_page: int,
) -> Page:
    """One page of ``per_page`` rules (at most the largest offered size) matching the filter,
    with the total count."""
    where, params = rule_filter.where()
    total = count(db, rule_filter)
    per_page = _bounded(per_page)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    sort = sort if sort in SORT_COLUMNS else "code"
    column = SORT_COLUMNS[sort].format(category=categories.name_sql("c"))
    collate = " COLLATE NOCASE" if sort in _NOCASE else ""
    direction = "DESC" if descending else "ASC"
    # Empty values (none, or empty text) last whichever way one sorts, then a stable tie-break.
    order = f"(nullif({column}, '') IS NULL) ASC, {column}{collate} {direction}, r.id {direction}"
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


def selection_token(ids: Iterable[int]) -> str:
    """A fingerprint of exactly this set of rules, whatever the order: a form that changes the
    rules it showed carries it, so that a change to the set meanwhile is noticed."""
    text = ",".join(str(i) for i in sorted(set(ids)))
    return hashlib.sha256(text.encode()).hexdigest()


def change_matching(
    db: Database,
    actor: events.Actor | None,
    rule_filter: RuleFilter,
    selection: str,
    **fields: Any,
) -> int:
    """Give every rule matching the filter the same values (``rules.bulk_update``), but only if
    they are exactly the rules the user was shown (``selection``, from ``selection_token``).
    Checked inside the write transaction, so no rule can join or leave in between: a rule added
    or archived since the form was opened is never changed unseen. Returns how many changed."""
    with transaction(db):
        ids = check_selection(db, rule_filter, selection)
        return rules.bulk_update(db, actor, ids, **fields)


def check_selection(db: Database, rule_filter: RuleFilter, selection: str | None) -> list[int]:
    """The ids of the rules matching the filter, or a Conflict when they are not the ones the
    form showed (``selection``). Also asked of a form sent back for a typing error: the page
    then shows the rules matching now, and must say that they changed."""
    ids = rule_ids(db, rule_filter)
    if not hmac.compare_digest(selection_token(ids), selection or ""):
        raise Conflict(
            _l(
                "The rules matching this filter changed since you opened this form: a rule"
                " was added, changed or archived. Nothing has been changed. Check the rules"
                " listed below and save again."
            )
        )
    return ids


def _add_team_names(db: Database, rows: list[dict]) -> None:
    """Scope names for one page of rows, in one query each for teams and locations."""
    found = rules.scopes(db, [r["id"] for r in rows])
    for row in rows:
        row.update(found[row["id"]])
