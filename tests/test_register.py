from datetime import UTC, datetime, timedelta

import pytest

from audit.core import clock
from audit.domain import categories, protocols, register, rules
from audit.domain.register import RuleFilter
from tests.conftest import make_rule, make_team


def codes(db, rule_filter=None, **kwargs):
    kwargs.setdefault("per_page", 50)
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


@pytest.fixture
def sortable(db):
    """Four rules whose values differ in every sortable column, in an order that is neither
    their id order nor their code order, so a sort that ignores its column cannot pass.
    Ids 1-4 are the codes C, a, D, b."""
    start = datetime(2025, 3, 1, 8, tzinfo=UTC)

    def at(hours):
        clock.set(start + timedelta(hours=hours))

    def category(name):
        return categories.save_category(db, None, name_nl=name)["id"]

    def protocol(name):
        return protocols.save_protocol(db, None, name=name)["id"]

    rows = [
        # code, created (h), updated (h), then the fields set at the update
        (
            "C",
            1,
            12,
            dict(
                title="Bravo",
                category_id=category("Wonen"),
                status="dropped",
                perceived_origin="financier",
                verified_origin="interpretation",
                minutes_per_week=30,
                relation_impact="neutral",
                owner="",
                introduced_on="2020-05-01",
            ),
        ),
        (
            "a",
            3,
            13,
            dict(
                title="Delta",
                protocol_id=protocol("pb"),
                status="active",
                perceived_origin="team",
                verified_origin="certification",
                relation_impact="supports",
                owner="zorg",
                introduced_on="2019-01-31",
                review_due="2030-01-01",
            ),
        ),
        (
            "D",
            0,
            11,
            dict(
                title="alfa",
                category_id=category("eten"),
                protocol_id=protocol("Pa"),
                status="adapted",
                verified_origin="law",
                minutes_per_week=5,
                relation_impact="hinders",
                owner="Anna",
                review_due="2024-06-30",
            ),
        ),
        (
            "b",
            2,
            10,
            dict(
                title="Charlie",
                category_id=category("Bad"),
                protocol_id=protocol("PC"),
                status="under_review",
                perceived_origin="law",
                minutes_per_week=120,
                owner="bert",
                introduced_on="2021-12-01",
                review_due="2027-03-15",
            ),
        ),
    ]
    made = []
    for code, created, _updated, _fields in rows:
        at(created)
        made.append(make_rule(db, code=code, title="x"))
    for rule, (_code, _created, updated, fields) in zip(made, rows, strict=True):
        at(updated)
        rules.update_rule(db, None, rule.id, **fields)
    assert [r.id for r in made] == [1, 2, 3, 4]


# The order each column must give, both ways. Empty values come last either way; status,
# origins and effect follow the order the app lists them in (the same in both languages);
# text ignores case.
SORTED = {
    "code": (["a", "b", "C", "D"], ["D", "C", "b", "a"]),
    "title": (["D", "C", "b", "a"], ["a", "b", "C", "D"]),
    "category": (["b", "D", "C", "a"], ["C", "D", "b", "a"]),
    "protocol": (["D", "a", "b", "C"], ["b", "a", "D", "C"]),
    "status": (["a", "b", "D", "C"], ["C", "D", "b", "a"]),
    "perceived_origin": (["b", "C", "a", "D"], ["a", "C", "b", "D"]),
    "verified_origin": (["D", "a", "C", "b"], ["C", "a", "D", "b"]),
    "self_invented": (["a", "D", "b", "C"], ["C", "b", "D", "a"]),
    "myth": (["a", "D", "b", "C"], ["C", "b", "D", "a"]),
    "minutes_per_week": (["D", "C", "b", "a"], ["b", "C", "D", "a"]),
    "relation_impact": (["D", "C", "a", "b"], ["a", "C", "D", "b"]),
    "owner": (["D", "b", "a", "C"], ["a", "b", "D", "C"]),
    "introduced_on": (["a", "C", "b", "D"], ["b", "C", "a", "D"]),
    "review_due": (["D", "b", "a", "C"], ["a", "b", "D", "C"]),
    "created_at": (["D", "C", "b", "a"], ["a", "b", "C", "D"]),
    "updated_at": (["b", "D", "C", "a"], ["a", "C", "D", "b"]),
}


def test_every_sortable_column_has_an_expected_order():
    assert set(SORTED) == set(register.SORT_COLUMNS)
    # A sort that ignored the direction could not pass either.
    assert all(up != down for up, down in SORTED.values())


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("sort", list(SORTED))
def test_sort_on_every_column_both_ways(db, sortable, sort, descending):
    assert codes(db, sort=sort, descending=descending) == SORTED[sort][descending]


@pytest.mark.parametrize("sort", list(SORTED))
def test_a_sort_that_ignores_its_column_fails_the_check(db, sortable, monkeypatch, sort):
    # The expected orders differ from the id order (the tie-break), so a column whose SQL
    # sorted by nothing in particular would not pass the test above.
    monkeypatch.setitem(register.SORT_COLUMNS, sort, "r.id")
    assert codes(db, sort=sort) != SORTED[sort][False]
    assert codes(db, sort=sort, descending=True) != SORTED[sort][True]


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
        (60, 1, 7, 1, 7, 9),
        (101, 1, 500, 1, 100, 2),  # at most 100 rows a page
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


def test_filter_round_trips_through_the_url(app, db):
    from werkzeug.datastructures import MultiDict

    from audit.views.rules import filter_from_args

    make_team(db, "Eerste")
    team = make_team(db, "Tweede")
    original = RuleFilter(
        q="taart",
        category=3,
        team=team["id"],
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

    args = MultiDict({"perceived": "god", "myth": "maybe", "status": "x", "category": ""})
    with app.test_request_context():
        assert filter_from_args(args) == RuleFilter()


@pytest.mark.parametrize(
    "url",
    [
        "/rules?category=abc",
        "/rules?category=999",
        "/rules?protocol=999",
        "/rules?team=999",
        "/rules?location=-1",
        "/rules/export.xlsx?team=999",
        "/dashboard?team=999",
        "/dashboard?location=abc",
        "/dashboard?category=999",
        "/dashboard/report.xlsx?location=999",
    ],
)
def test_a_filter_naming_nothing_is_not_found(login_as, url):
    # Not the whole register (or the whole organisation's figures) under a name that does not
    # exist: a stale or tampered link says so.
    assert login_as("quality", "q404").get(url).status_code == 404
