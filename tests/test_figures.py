"""Small registers with known answers, for every figure and its edge cases."""

import json
import re

import pytest

from audit import demo
from audit.domain import categories, decisions, figures, organisation, rules, sessions, strategies
from audit.domain.figures import Scope
from audit.domain.users import find_user
from tests.conftest import make_rule, make_team, make_user


def test_empty_register(db):
    h = figures.headline(db)
    assert (h["total"], h["traced"], h["self_invented"], h["myths"]) == (0, 0, 0, 0)
    assert h["coverage"] is None and h["self_invented_share"] is None
    assert h["minutes_per_week_self_invented"] == 0 and h["hours_per_week_given_back"] == 0
    assert h["reference_share"] == 0.7
    assert figures.top_candidates(db) == []
    assert all(row["perceived"] == row["verified"] == 0 for row in figures.origin_distribution(db))
    assert [s["count"] for s in figures.status_funnel(db)] == [0, 0, 0, 0, 0]


def test_nothing_traced_is_not_yet_known_rather_than_zero(db):
    make_rule(db, perceived_origin="law", minutes_per_week=30)
    make_rule(db, verified_origin="unknown")
    h = figures.headline(db)
    assert h["total"] == 2 and h["traced"] == 0
    assert h["coverage"] == 0.0
    assert h["self_invented_share"] is None


def test_everything_self_invented(db):
    for origin, minutes in (("team", 60), ("organisation", 30), ("interpretation", None)):
        make_rule(db, perceived_origin="law", verified_origin=origin, minutes_per_week=minutes)
    h = figures.headline(db)
    assert h["self_invented_share"] == 1.0 and h["coverage"] == 1.0
    assert h["myths"] == 3
    assert h["minutes_per_week_self_invented"] == 90
    assert h["hours_per_week_self_invented"] == 1.5
    assert h["self_invented_minutes_unknown"] == 1


def test_mixed_register(db):
    make_rule(db, perceived_origin="law", verified_origin="team", minutes_per_week=120)  # myth
    make_rule(db, perceived_origin="team", verified_origin="team", minutes_per_week=30)
    make_rule(db, perceived_origin="law", verified_origin="law", minutes_per_week=500)
    make_rule(db, perceived_origin="inspectorate")  # not traced
    h = figures.headline(db)
    assert (h["total"], h["traced"], h["self_invented"], h["myths"]) == (4, 3, 2, 1)
    assert h["coverage"] == 0.75
    assert h["self_invented_share"] == pytest.approx(2 / 3)
    assert h["minutes_per_week_self_invented"] == 150
    dist = {
        row["key"]: (row["perceived"], row["verified"]) for row in figures.origin_distribution(db)
    }
    assert dist["law"] == (2, 1)
    assert dist["team"] == (1, 2)
    assert dist["inspectorate"] == (1, 0)
    assert dist[None] == (0, 1)


def test_archived_and_dropped_rules_leave_the_figures(db):
    # All three are self-invented and hinder the relation: each would be a top candidate and
    # would count in the hours if it were in force, so the figures show that only one is.
    hinders = {"verified_origin": "team", "relation_impact": "hinders"}
    keep = make_rule(db, minutes_per_week=60, **hinders)
    archived = make_rule(db, minutes_per_week=600, **hinders)
    rules.archive_rule(db, None, archived.id)
    make_rule(db, status="dropped", minutes_per_week=100, **hinders)
    h = figures.headline(db)
    assert (h["total"], h["traced"], h["self_invented"]) == (1, 1, 1)
    assert h["minutes_per_week_self_invented"] == 60
    funnel = {s["status"]: s["count"] for s in figures.status_funnel(db)}
    assert funnel == {"proposed": 0, "active": 1, "under_review": 0, "adapted": 0, "dropped": 1}
    assert [c["id"] for c in figures.top_candidates(db)] == [keep.id]


@pytest.fixture
def org(db):
    vlinder = make_team(db, "Vlinder", location="Noord")
    zon = make_team(db, "Zon", location="Noord")
    eik = make_team(db, "Eik", location="Zuid")
    make_rule(db, code="ORG", verified_origin="team")  # everyone
    make_rule(db, code="V", verified_origin="law", team_ids=[vlinder["id"]])
    make_rule(db, code="ZUID", verified_origin="organisation", location_ids=[eik["location_id"]])
    make_rule(
        db,
        code="BOTH",
        verified_origin="team",
        team_ids=[vlinder["id"]],
        location_ids=[vlinder["location_id"]],
    )  # counted once for Vlinder
    make_rule(db, code="NONE")  # everyone, not traced
    return {"vlinder": vlinder, "zon": zon, "eik": eik}


def test_team_filter_counts_organisation_wide_rules(db, org):
    h = figures.headline(db, Scope(team=org["vlinder"]["id"]))
    assert (h["total"], h["traced"], h["self_invented"]) == (4, 3, 2)  # ORG, V, BOTH, NONE
    h = figures.headline(db, Scope(team=org["zon"]["id"]))
    assert (h["total"], h["traced"], h["self_invented"]) == (3, 2, 2)  # ORG, BOTH (location), NONE
    h = figures.headline(db, Scope(team=org["eik"]["id"]))
    assert (h["total"], h["traced"], h["self_invented"]) == (3, 2, 2)  # ORG, ZUID, NONE
    h = figures.headline(db, Scope(location=org["eik"]["location_id"]))
    assert h["total"] == 3


def test_breakdowns_per_team_and_location(db, org):
    teams = {
        row["name"]: (row["total"], row["traced"], row["self_invented"])
        for row in figures.share_by_team(db)
    }
    assert teams == {"Vlinder": (4, 3, 2), "Zon": (3, 2, 2), "Eik": (3, 2, 2)}
    locations = {
        row["name"]: (row["total"], row["self_invented_share"])
        for row in figures.share_by_location(db)
    }
    assert locations == {"Noord": (4, 2 / 3), "Zuid": (3, 1.0)}
    # The breakdown follows the filter too: within Vlinder's rules, Zon shares ORG, BOTH, NONE.
    within = {
        row["name"]: row["total"]
        for row in figures.share_by_team(db, Scope(team=org["vlinder"]["id"]))
    }
    assert within["Zon"] == 3 and within["Eik"] == 2


def test_share_per_category(db):
    med = categories.find_category(db, "Medicatie")
    make_rule(db, category_id=med["id"], verified_origin="team")
    make_rule(db, category_id=med["id"], verified_origin="law")
    make_rule(db, category_id=med["id"])
    make_rule(db, verified_origin="team")
    rows = {row["name"]: row for row in figures.share_by_category(db)}
    assert rows["Medicatie"]["total"] == 3 and rows["Medicatie"]["self_invented_share"] == 0.5
    assert rows[None]["self_invented_share"] == 1.0
    only_med = figures.headline(db, Scope(category=med["id"]))
    assert only_med["total"] == 3


def test_impact_by_origin_group(db):
    make_rule(db, verified_origin="team", relation_impact="hinders")
    make_rule(db, verified_origin="team", relation_impact="hinders")
    make_rule(db, verified_origin="interpretation", relation_impact="supports")
    make_rule(db, verified_origin="law", relation_impact="neutral")
    make_rule(db, verified_origin="unknown")
    groups = {row["group"]: row for row in figures.impact_by_origin_group(db)}
    assert (groups["self_invented"]["hinders"], groups["self_invented"]["supports"]) == (2, 1)
    assert groups["external"]["neutral"] == 1 and groups["external"]["total"] == 1
    assert groups["not_traced"]["unknown"] == 1


def test_top_candidates_by_hours(db):
    make_rule(db, code="A", verified_origin="team", relation_impact="hinders", minutes_per_week=30)
    make_rule(
        db,
        code="B",
        verified_origin="organisation",
        relation_impact="hinders",
        minutes_per_week=300,
    )
    make_rule(db, code="C", verified_origin="team", relation_impact="hinders")
    make_rule(db, code="D", verified_origin="law", relation_impact="hinders", minutes_per_week=999)
    make_rule(db, code="E", verified_origin="team", relation_impact="neutral", minutes_per_week=999)
    assert [r["code"] for r in figures.top_candidates(db)] == ["B", "A", "C"]
    assert len(figures.top_candidates(db, limit=1)) == 1


def _dashboard_numbers(html: str) -> dict[str, str]:
    numbers = {}
    for key in ("total", "coverage", "share", "myths", "hours", "given-back"):
        block = re.search(rf'id="fig-{key}">\s*<p class="figure-value">([^<]+)</p>', html)
        numbers[key] = block.group(1).strip()
    return numbers


def test_page_and_stats_json_agree_on_the_demo(app, db, runner, login_as):
    demo.seed(db)
    stats = json.loads(runner.invoke(args=["stats", "--json"]).output)
    for key in (
        "total",
        "traced",
        "self_invented",
        "self_invented_share",
        "myths",
        "minutes_per_week_self_invented",
        "hours_per_week_given_back",
    ):
        assert key in stats
    client = login_as("viewer", "board")
    client.post("/language", data={"csrf_token": _token(client), "lang": "en"})
    shown = _dashboard_numbers(client.get("/dashboard").get_data(as_text=True))
    assert shown["total"] == str(stats["total"])
    assert shown["coverage"] == f"{round(stats['coverage'] * 100)}%"
    assert shown["share"] == f"{round(stats['self_invented_share'] * 100)}%"
    assert shown["myths"] == str(stats["myths"])
    assert shown["hours"] == f"{stats['hours_per_week_self_invented']:.1f}"
    assert shown["given-back"] == f"{stats['hours_per_week_given_back']:.1f}"
    # And with a team filter.
    team_stats = json.loads(runner.invoke(args=["stats", "--json", "--team", "Vlinder"]).output)
    page = client.get("/dashboard?team=1").get_data(as_text=True)
    assert _dashboard_numbers(page)["total"] == str(team_stats["total"])
    assert team_stats["total"] < stats["total"]


def _token(client):
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_stats_text_and_errors(runner, db):
    make_rule(db, verified_origin="team", minutes_per_week=90)
    result = runner.invoke(args=["stats"])
    assert result.exit_code == 0
    assert "Self-invented share:  100% of traced rules" in result.output
    assert "90 min/week (1.5 h)" in result.output
    for args, message in (
        (["--team", "Nope"], "Unknown team: Nope"),
        (["--location", "Nowhere"], "Unknown location: Nowhere"),
    ):
        result = runner.invoke(args=["stats", *args])
        assert result.exit_code == 1 and message in result.output


def test_stats_share_is_null_when_nothing_is_traced(runner, db):
    make_rule(db)
    data = json.loads(runner.invoke(args=["stats", "--json"]).output)
    assert data["self_invented_share"] is None and data["total"] == 1


@pytest.mark.parametrize(
    "role,status", [("viewer", 200), ("quality", 200), ("admin", 200), ("member", 403)]
)
def test_dashboard_access(login_as, role, status):
    assert login_as(role).get("/dashboard").status_code == status


def test_dashboard_charts_are_svg_with_text_and_tables(login_as, db):
    demo.seed(db)
    html = login_as("viewer", "board").get("/dashboard").get_data(as_text=True)
    assert html.count('<svg class="chart"') >= 6
    # The charts need no script: the page's only one is the download's progress (static).
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/progress.js" defer>']
    assert "style=" not in html
    for table in (
        "origins-table",
        "categories-table",
        "locations-table",
        "teams-table",
        "impact-table",
        "funnel-table",
        "candidates-table",
    ):
        assert f'id="{table}"' in html


def test_dashboard_filter_stays_in_the_url(login_as, db, org):
    html = (
        login_as("viewer", "board")
        .get(f"/dashboard?team={org['eik']['id']}")
        .get_data(as_text=True)
    )
    assert f'<option value="{org["eik"]["id"]}" selected>' in html
    assert _dashboard_numbers(html)["total"] == "3"


def _decide(db, rule, outcome, **changes):
    """A closed session about one rule, and its decision applied, through the domain."""
    facilitator = find_user(db, "fac") or make_user(db, "fac", "quality")
    team = organisation.find_team(db, "Besluiters") or make_team(db, "Besluiters")
    # A session is held with teams the rule applies to.
    team_ids = rule.team_ids or [team["id"]]
    session = sessions.create_session(
        db, facilitator, title="S", team_ids=team_ids, rule_ids=[rule.id], mode="hands"
    )
    sessions.open_session(db, facilitator, session.id)
    sessions.close_session(db, facilitator, session.id)
    if outcome == "adapt":  # an adaptation names its strategy
        changes.setdefault("strategy_id", strategies.by_key(db, "time")["id"])
    decisions.record_decision(
        db, facilitator, session.id, rule.id, outcome=outcome, rationale="besproken", **changes
    )
    decisions.apply_decision(db, facilitator, session.id, rule.id)


def test_hours_given_back_by_decisions(db):
    dropped = make_rule(db, minutes_per_week=120)
    adapted = make_rule(db, minutes_per_week=100)
    kept = make_rule(db, minutes_per_week=500)
    _decide(db, dropped, "drop")
    _decide(db, adapted, "adapt", new_title="Korter", new_minutes_per_week=40)
    _decide(db, kept, "keep")
    assert figures.given_back_minutes(db) == 120 + 60
    assert figures.headline(db)["hours_per_week_given_back"] == 3.0
    assert figures.headline(db)["total"] == 2  # the dropped rule is no longer in force


def test_successive_decisions_on_one_rule_add_up_without_double_counting(db):
    rule = make_rule(db, minutes_per_week=100)
    _decide(db, rule, "adapt", new_title="Korter", new_minutes_per_week=40)
    _decide(db, rule, "drop")
    # 60 given back by adapting, then the remaining 40 by dropping: 100, what it cost at first.
    assert figures.given_back_minutes(db) == 100


def test_given_back_follows_the_scope(db):
    team = make_team(db, "Vlinder")
    other = make_team(db, "Zon")
    rule = make_rule(db, minutes_per_week=60, team_ids=[team["id"]])
    _decide(db, rule, "drop")
    assert figures.given_back_minutes(db, Scope(team=team["id"])) == 60
    assert figures.given_back_minutes(db, Scope(team=other["id"])) == 0
