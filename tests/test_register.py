from datetime import timedelta

import pytest

from audit import categories, clock, protocols, register, rules
from audit.register import RuleFilter
from tests.conftest import make_rule, make_team


def codes(db, rule_filter=None, **kwargs):
    page = register.search(db, rule_filter or RuleFilter(), **kwargs)
    return [r["code"] for r in page.rows]


@pytest.mark.parametrize(
    "query",
    [
        "hygiene",
        "HYGIËNE",
        "Hygiene",
        "hygiëne",
        "  hyg  ",
        "HYG-1",
        "art. 9",
        "café taart",
        "cafe",
    ],
)
def test_search_is_case_and_accent_insensitive(db, query):
    make_rule(
        db,
        code="HYG-1",
        title="Hygiëne in de keuken",
        description="Geen taart in het café",
        source_reference="Wkkgz art. 9",
    )
    make_rule(db, code="X-1", title="Iets anders")
    assert codes(db, RuleFilter(q=query)) == ["HYG-1"]


def test_search_takes_like_wildcards_literally(db):
    make_rule(db, code="A", title="100% zeker")
    make_rule(db, code="B", title="1000 zeker")
    make_rule(db, code="C_D", title="onder_streep")
    assert codes(db, RuleFilter(q="100%")) == ["A"]
    assert codes(db, RuleFilter(q="_")) == ["C_D"]


def test_search_words_all_have_to_match(db):
    make_rule(db, code="A", title="taart van familie")
    make_rule(db, code="B", title="taart")
    assert codes(db, RuleFilter(q="familie taart")) == ["A"]


@pytest.fixture
def world(db):
    noord_team = make_team(db, "Vlinder", location="Noord")
    zuid_team = make_team(db, "Eik", location="Zuid")
    other_noord = make_team(db, "Zon", location="Noord")
    med = categories.find_category(db, "Medicatie")
    hyg = categories.find_category(db, "Hygiëne en infectiepreventie")
    proto = protocols.save_protocol(db, None, name="P1")
    past = (clock.today() - timedelta(days=1)).isoformat()
    future = (clock.today() + timedelta(days=30)).isoformat()
    make_rule(
        db,
        code="ORG",
        title="Voor iedereen",
        category_id=med["id"],
        perceived_origin="law",
        verified_origin="team",
        status="active",
        relation_impact="hinders",
        review_due=past,
    )
    make_rule(
        db,
        code="TEAM",
        title="Alleen Vlinder",
        team_ids=[noord_team["id"]],
        category_id=hyg["id"],
        perceived_origin="team",
        verified_origin="team",
        protocol_id=proto["id"],
        status="under_review",
        review_due=future,
    )
    make_rule(
        db,
        code="LOC",
        title="Heel Zuid",
        location_ids=[zuid_team["location_id"]],
        perceived_origin="law",
        verified_origin="law",
        relation_impact="supports",
    )
    make_rule(
        db,
        code="ZON",
        title="Alleen Zon",
        team_ids=[other_noord["id"]],
        verified_origin="unknown",
        status="dropped",
    )
    archived = make_rule(db, code="ARCH", title="Weg", verified_origin="team")
    rules.archive_rule(db, None, archived.id)
    return {
        "vlinder": noord_team,
        "eik": zuid_team,
        "zon": other_noord,
        "med": med,
        "hyg": hyg,
        "proto": proto,
    }


def test_archived_rules_leave_the_register(db, world):
    assert codes(db) == ["LOC", "ORG", "TEAM", "ZON"]
    assert codes(db, RuleFilter(archived=True)) == ["ARCH"]


def test_each_filter(db, world):
    w = world
    cases = [
        (RuleFilter(category=w["med"]["id"]), ["ORG"]),
        (RuleFilter(protocol=w["proto"]["id"]), ["TEAM"]),
        (RuleFilter(team=w["vlinder"]["id"]), ["ORG", "TEAM"]),
        (RuleFilter(team=w["eik"]["id"]), ["LOC", "ORG"]),
        (RuleFilter(location=w["vlinder"]["location_id"]), ["ORG", "TEAM", "ZON"]),
        (RuleFilter(location=w["eik"]["location_id"]), ["LOC", "ORG"]),
        (RuleFilter(perceived="law"), ["LOC", "ORG"]),
        (RuleFilter(verified="team"), ["ORG", "TEAM"]),
        (RuleFilter(verified="none"), []),
        (RuleFilter(traced=False), ["ZON"]),
        (RuleFilter(traced=True), ["LOC", "ORG", "TEAM"]),
        (RuleFilter(self_invented=True), ["ORG", "TEAM"]),
        (RuleFilter(self_invented=False), ["LOC", "ZON"]),
        (RuleFilter(myth=True), ["ORG"]),
        (RuleFilter(myth=False), ["LOC", "TEAM", "ZON"]),
        (RuleFilter(status="under_review"), ["TEAM"]),
        (RuleFilter(impact="supports"), ["LOC"]),
        (RuleFilter(overdue=True), ["ORG"]),
    ]
    for rule_filter, expected in cases:
        assert codes(db, rule_filter) == expected, rule_filter
        assert register.count(db, rule_filter) == len(expected)


def test_filters_combine(db, world):
    w = world
    assert codes(db, RuleFilter(team=w["vlinder"]["id"], self_invented=True, myth=False)) == [
        "TEAM"
    ]
    assert codes(db, RuleFilter(location=w["eik"]["location_id"], perceived="law", q="zuid")) == [
        "LOC"
    ]
    assert codes(db, RuleFilter(team=w["eik"]["id"], status="under_review")) == []


@pytest.mark.parametrize("sort", list(register.SORT_COLUMNS))
def test_sort_on_every_column_both_ways(db, world, sort):
    up = codes(db, sort=sort)
    down = codes(db, sort=sort, descending=True)
    assert sorted(up) == sorted(down) == ["LOC", "ORG", "TEAM", "ZON"]


def test_sort_puts_empty_values_last(db):
    make_rule(db, code="A", minutes_per_week=None)
    make_rule(db, code="B", minutes_per_week=10)
    make_rule(db, code="C", minutes_per_week=5)
    assert codes(db, sort="minutes_per_week") == ["C", "B", "A"]
    assert codes(db, sort="minutes_per_week", descending=True) == ["B", "C", "A"]


@pytest.mark.parametrize(
    "total,page,per_page,expected_page,rows,pages",
    [
        (0, 1, 25, 1, 0, 1),
        (25, 1, 25, 1, 25, 1),
        (26, 2, 25, 2, 1, 2),
        (26, 3, 25, 2, 1, 2),  # past the end: the last page
        (26, 0, 25, 1, 25, 2),  # before the start: the first page
        (26, -4, 25, 1, 25, 2),
        (60, 2, 50, 2, 10, 2),
        (60, 1, 7, 1, 50, 2),  # a page size not offered: the default
    ],
)
def test_pagination_edges(db, total, page, per_page, expected_page, rows, pages):
    for i in range(total):
        make_rule(db, code=f"R-{i:04d}")
    result = register.search(db, RuleFilter(), page=page, per_page=per_page)
    assert (result.page, len(result.rows), result.pages, result.total) == (
        expected_page,
        rows,
        pages,
        total,
    )
    if rows:
        assert result.first_index == (expected_page - 1) * result.per_page + 1
        assert result.last_index == result.first_index + rows - 1


def test_pages_do_not_overlap(db):
    for i in range(30):
        make_rule(db, code=f"R-{i:04d}", minutes_per_week=i % 3)
    seen = []
    for page in (1, 2):
        seen += codes(db, sort="minutes_per_week", page=page, per_page=25)
    assert sorted(seen) == [f"R-{i:04d}" for i in range(30)]


def test_filter_round_trips_through_the_url(app):
    from werkzeug.datastructures import MultiDict

    from audit.views.rules import filter_from_args

    original = RuleFilter(
        q="taart",
        category=3,
        team=2,
        perceived="law",
        verified="none",
        self_invented=True,
        myth=False,
        overdue=True,
        status="active",
    )
    with app.test_request_context():
        assert filter_from_args(MultiDict(original.to_args())) == original


def test_nonsense_in_the_url_is_ignored(app):
    from werkzeug.datastructures import MultiDict

    from audit.views.rules import filter_from_args

    args = MultiDict({"category": "abc", "perceived": "god", "myth": "maybe", "status": "x"})
    with app.test_request_context():
        assert filter_from_args(args) == RuleFilter()
