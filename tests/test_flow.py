"""Rules in and out per month: a constructed history with known answers, empty months, the
Amsterdam month boundary, the dashboard's scope, the page and the report."""

from __future__ import annotations

import random
import re
import sqlite3
from datetime import UTC, date, datetime
from io import BytesIO

import openpyxl
import pytest

from audit.core import clock
from audit.domain import (
    categories,
    decisions,
    figures,
    flow,
    organisation,
    rules,
    sessions,
    strategies,
)
from audit.domain.figures import Scope
from audit.domain.register import RuleFilter
from audit.domain.users import find_user
from audit.xlsx import export as xlsx_export
from tests.conftest import make_rule, make_team, make_user
from tests.test_xlsx_import import _row, workbook


def at(year, month, day, hour=12, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _decide(db, rule, outcome, **changes):
    """A closed session about one rule, and its decision applied, through the domain."""
    facilitator = find_user(db, "fac") or make_user(db, "fac", "quality")
    team = organisation.find_team(db, "Besluiters") or make_team(db, "Besluiters")
    session = sessions.create_session(
        db,
        facilitator,
        title="S",
        team_ids=rule.team_ids or [team["id"]],
        rule_ids=[rule.id],
        mode="hands",
    )
    sessions.open_session(db, facilitator, session.id)
    sessions.close_session(db, facilitator, session.id)
    if outcome == "adapt":  # an adaptation names its strategy
        changes.setdefault("strategy_id", strategies.by_key(db, "time")["id"])
    decisions.record_decision(
        db, facilitator, session.id, rule.id, outcome=outcome, rationale="besproken", **changes
    )
    decisions.apply_decision(db, facilitator, session.id, rule.id)


def _table(series) -> dict[date, tuple[int, ...]]:
    return {m.month: (m.added, m.restored, m.adapted, m.dropped, m.archived, m.net) for m in series}


@pytest.fixture
def history(app, db, imp, apply, tmp_path):
    """January 2026: four rules. February: one dropped and one adapted by a session. March:
    one archived; April: restored. May: one dropped by a hand edit. June: three imported.
    Then the clock stands in mid-July."""
    clock.set(at(2026, 1, 10))
    a, b, c, d = (make_rule(db, title=f"Regel {name}") for name in "ABCD")
    clock.set(at(2026, 2, 12))
    _decide(db, a, "drop")
    _decide(db, d, "adapt", new_title="Regel D, korter")
    clock.set(at(2026, 3, 5))
    rules.archive_rule(db, None, b.id)
    clock.set(at(2026, 4, 7))
    rules.restore_rule(db, None, b.id)
    clock.set(at(2026, 5, 20))
    rules.update_rule(db, None, c.id, status="dropped")
    clock.set(at(2026, 6, 2))
    path = workbook(tmp_path / "in.xlsx", [_row(Title=f"Geïmporteerd {i}") for i in range(3)])
    assert apply(imp(path))["create"] == 3
    clock.set(at(2026, 7, 15))
    return {"a": a, "b": b, "c": c, "d": d}


def test_a_constructed_history_month_by_month(db, history):
    series = flow.monthly(db)
    assert [m.month for m in series] == [date(2026, month, 1) for month in range(1, 8)]
    #                           added restored adapted dropped archived net
    assert _table(series) == {
        date(2026, 1, 1): (4, 0, 0, 0, 0, 4),
        date(2026, 2, 1): (0, 0, 1, 1, 0, -1),
        date(2026, 3, 1): (0, 0, 0, 0, 1, -1),
        date(2026, 4, 1): (0, 1, 0, 0, 0, 1),
        date(2026, 5, 1): (0, 0, 0, 1, 0, -1),
        date(2026, 6, 1): (3, 0, 0, 0, 0, 3),
        date(2026, 7, 1): (0, 0, 0, 0, 0, 0),
    }
    # The months add up to the rules in force today.
    assert sum(m.net for m in series) == figures.headline(db)["total"] == 5
    answer = flow.recent(series)
    assert answer == {"months": 7, "in": 8, "out": 3, "net": 5, "verdict": "faster"}


def test_empty_months_from_the_first_rules_month_to_now(db):
    clock.set(at(2025, 11, 3))
    make_rule(db)
    clock.set(at(2026, 2, 1))
    series = flow.monthly(db)
    assert [m.month for m in series] == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert [m.net for m in series] == [1, 0, 0, 0]
    assert flow.monthly(db, team=make_team(db)["id"])[0].month == date(2025, 11, 1)


def test_an_empty_register_has_the_current_month_only(db):
    clock.set(at(2026, 3, 9))
    assert _table(flow.monthly(db)) == {date(2026, 3, 1): (0, 0, 0, 0, 0, 0)}
    assert flow.recent(flow.monthly(db))["verdict"] == "even"


@pytest.mark.parametrize(
    "moment,month",
    [
        (at(2026, 3, 31, 23, 30), date(2026, 4, 1)),  # summer time: 01:30 on 1 April
        (at(2026, 1, 31, 23, 30), date(2026, 2, 1)),  # winter time: 00:30 on 1 February
        (at(2026, 4, 30, 21, 30), date(2026, 4, 1)),  # 23:30 on 30 April: still April
        (at(2026, 10, 31, 23, 30), date(2026, 11, 1)),  # the night the clocks went back
        (at(2026, 12, 31, 23, 0), date(2027, 1, 1)),  # into the next year
    ],
)
def test_months_are_the_organisations_months_not_utcs(db, moment, month):
    clock.set(moment)
    rule = make_rule(db)
    rules.update_rule(db, None, rule.id, status="dropped")
    clock.set(at(2027, 1, 20))
    counts = {m.month: (m.added, m.dropped) for m in flow.monthly(db)}
    assert counts[month] == (1, 1)
    assert sum(added + dropped for added, dropped in counts.values()) == 2


def test_the_scope_filters_by_the_rules_team_location_and_category(db):
    north, south = make_team(db, "Vlinder", "Noord"), make_team(db, "Eik", "Zuid")
    food = categories.save_category(db, None, name_nl="Eten", name_en="Food")
    clock.set(at(2026, 1, 5))
    mine = make_rule(db, title="Noord", team_ids=[north["id"]], category_id=food["id"])
    other = make_rule(db, title="Zuid", team_ids=[south["id"]])
    make_rule(db, title="Iedereen")  # organisation-wide: in every team's figures
    clock.set(at(2026, 2, 5))
    rules.update_rule(db, None, other.id, status="dropped")
    rules.archive_rule(db, None, mine.id)
    clock.set(at(2026, 3, 1))

    def table(**scope):
        return _table(flow.monthly(db, **scope))

    assert table(team=north["id"]) == {
        date(2026, 1, 1): (2, 0, 0, 0, 0, 2),
        date(2026, 2, 1): (0, 0, 0, 0, 1, -1),
        date(2026, 3, 1): (0, 0, 0, 0, 0, 0),
    }
    assert table(location=organisation.find_location(db, "Zuid")["id"])[date(2026, 2, 1)] == (
        0,
        0,
        0,
        1,
        0,
        -1,
    )
    assert table(category=food["id"]) == {
        date(2026, 1, 1): (1, 0, 0, 0, 0, 1),
        date(2026, 2, 1): (0, 0, 0, 0, 1, -1),
        date(2026, 3, 1): (0, 0, 0, 0, 0, 0),
    }
    assert sum(m.net for m in flow.monthly(db)) == figures.headline(db)["total"] == 1


def test_archiving_a_dropped_rule_takes_nothing_out_twice(db):
    clock.set(at(2026, 1, 5))
    rule = make_rule(db)
    clock.set(at(2026, 2, 5))
    rules.update_rule(db, None, rule.id, status="dropped")
    clock.set(at(2026, 3, 5))
    rules.archive_rule(db, None, rule.id)
    clock.set(at(2026, 4, 5))
    rules.restore_rule(db, None, rule.id)  # back in the register, still dropped
    clock.set(at(2026, 5, 5))
    rules.update_rule(db, None, rule.id, status="active")  # and back in force
    assert _table(flow.monthly(db)) == {
        date(2026, 1, 1): (1, 0, 0, 0, 0, 1),
        date(2026, 2, 1): (0, 0, 0, 1, 0, -1),
        date(2026, 3, 1): (0, 0, 0, 0, 0, 0),
        date(2026, 4, 1): (0, 0, 0, 0, 0, 0),
        date(2026, 5, 1): (0, 1, 0, 0, 0, 1),
    }


def test_a_rule_created_dropped_never_came_in(db):
    clock.set(at(2026, 1, 5))
    old = make_rule(db, status="dropped")
    make_rule(db, status="under_review")
    clock.set(at(2026, 2, 5))
    rules.update_rule(db, None, old.id, status="active")
    assert _table(flow.monthly(db)) == {
        date(2026, 1, 1): (1, 0, 0, 0, 0, 1),
        date(2026, 2, 1): (0, 1, 0, 0, 0, 1),
    }


def test_random_histories_add_up_to_the_rules_in_force(db):
    """Whatever happens in whatever order, the net changes add up to the rules in force, per
    scope, and every month in and out is what the domain was asked to do."""
    rng = random.Random(16)
    teams = [make_team(db, f"T{i}", f"L{i % 2}")["id"] for i in range(3)]
    clock.set(at(2025, 6, 1))
    made = []
    for day in range(0, 400, 3):
        clock.advance(3 * 86400 + rng.randint(0, 86399))
        move = rng.random()
        if move < 0.35 or not made:
            scope = rng.sample(teams, rng.randint(0, 2))
            made.append(make_rule(db, title=f"R{day}", team_ids=scope).id)
            continue
        rule = rules.get_rule(db, rng.choice(made))
        if move < 0.55:
            rules.archive_rule(db, None, rule.id)
        elif move < 0.65:
            rules.restore_rule(db, None, rule.id)
        elif not rule.archived:
            status = rng.choice(["active", "under_review", "adapted", "dropped"])
            rules.update_rule(db, None, rule.id, status=status)
    for scope in [{}, *({"team": t} for t in teams)]:
        series = flow.monthly(db, **scope)
        total = figures.headline(db, Scope(**scope))["total"]
        assert sum(m.net for m in series) == total, scope
        assert all(m.added + m.restored + m.dropped + m.archived >= 0 for m in series)


def test_the_flow_reads_its_events_through_the_partial_index(db):
    """flow_events() is the index's condition word for word: SQLite refuses a query naming a
    partial index whose condition it cannot prove ("no query solution"), and the index holds
    exactly the events that move rules after their creation."""
    first, second = make_rule(db), make_rule(db, title="Tweede")
    rules.update_rule(db, None, first.id, status="dropped")
    rules.update_rule(db, None, second.id, title="Ander")  # no status: not in the index
    rules.archive_rule(db, None, second.id)
    where = flow.flow_events()
    indexed = db.execute(f"SELECT count(*) FROM events e INDEXED BY events_rule_flow WHERE {where}")
    assert (
        indexed.fetchone()[0]
        == db.execute(f"SELECT count(*) FROM events e WHERE {where}").fetchone()[0]
        == 2
    )
    with pytest.raises(sqlite3.OperationalError, match="no query solution"):
        db.execute(
            "SELECT count(*) FROM events e INDEXED BY events_rule_flow WHERE e.entity = 'rule'"
        )


# --- the dashboard and the report ----------------------------------------------------------


def _flow_rows(html: str) -> dict[str, list[str]]:
    table = html.split('id="flow-table"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", table, re.S):
        name, rest = row.split("</th>", 1)
        rows[name] = re.findall(r'<td class="num">([^<]*)</td>', rest)
    return rows


def _in_english(login_as, db, username="board"):
    client = login_as("viewer", username)
    with db.conn:
        db.execute("UPDATE users SET language = 'en' WHERE username = ?", [username])
    return client


def test_the_dashboard_shows_the_months_in_a_table_and_the_answer(login_as, db, history):
    html = _in_english(login_as, db).get("/dashboard").get_data(as_text=True)
    assert 'id="flow-chart-title"' in html and "<polyline" in html
    rows = _flow_rows(html)
    assert list(rows)[0] == "July 2026"  # newest first
    assert rows["February 2026"] == ["0", "0", "1", "1", "0", "-1"]
    assert rows["June 2026"] == ["3", "0", "0", "0", "0", "+3"]
    assert len(rows) == 7
    verdict = re.search(r'id="flow-verdict">([^<]*)<', html).group(1)
    assert verdict == (
        "In the last 7 months 8 rules came in and 3 went out: the organisation makes rules"
        " faster than it drops them."
    )
    # The organisation's default language: Dutch.
    html = login_as("viewer", "bestuur").get("/dashboard").get_data(as_text=True)
    assert _flow_rows(html)["februari 2026"] == ["0", "0", "1", "1", "0", "-1"]
    assert "Regels in en uit" in html


def test_the_dashboards_scope_reaches_the_flow(login_as, db):
    team = make_team(db, "Vlinder")
    clock.set(at(2026, 1, 5))
    make_rule(db, title="Team", team_ids=[team["id"]])
    make_rule(db, title="Ander", team_ids=[make_team(db, "Eik")["id"]])
    clock.set(at(2026, 1, 20))
    html = _in_english(login_as, db).get(f"/dashboard?team={team['id']}")
    assert _flow_rows(html.get_data(as_text=True))["January 2026"][0] == "1"


def _report(app, db, **options) -> openpyxl.Workbook:
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out, **options)
    return openpyxl.load_workbook(BytesIO(out.getvalue()))


@pytest.mark.parametrize("lang,title", [("en", "Rules in and out"), ("nl", "Regels in en uit")])
def test_the_reports_sheet_holds_the_dashboards_numbers(app, db, history, lang, title):
    wb = _report(app, db, lang=lang)
    ws = wb[title]
    rows = list(ws.iter_rows(min_row=2, max_row=8, values_only=True))
    expected = flow.monthly(db)
    assert [r[0].date() for r in rows] == [m.month for m in expected]
    assert [list(r[1:]) for r in rows] == [
        [m.added, m.restored, m.adapted, m.dropped, m.archived, m.came_in, m.went_out, m.net]
        for m in expected
    ]
    assert ws.cell(2, 1).number_format == xlsx_export.MONTH_FORMATS[lang]
    with app.test_request_context(), _locale(lang):
        assert ws.cell(10, 1).value == flow.verdict(flow.recent(expected))
    assert ws.print_title_rows == "$1:$1"


def test_the_reports_sheet_follows_the_filters_scope(app, db):
    team = make_team(db, "Vlinder")
    clock.set(at(2026, 1, 5))
    make_rule(db, title="Team", team_ids=[team["id"]])
    make_rule(db, title="Ander", team_ids=[make_team(db, "Eik")["id"]])
    ws = _report(app, db, rule_filter=RuleFilter(team=team["id"]))["Rules in and out"]
    assert ws.cell(2, 2).value == 1


def _locale(lang):
    from flask_babel import force_locale

    return force_locale(lang)


def test_the_report_and_the_dashboard_show_the_same_months(app, login_as, db, history):
    team = make_team(db, "Vlinder")
    clock.set(at(2026, 7, 16))
    make_rule(db, title="Nieuw", team_ids=[team["id"]])
    for scope in ({}, {"team": team["id"]}):
        query = "&".join(f"{k}={v}" for k, v in scope.items())
        html = _in_english(login_as, db).get(f"/dashboard?{query}").get_data(as_text=True)
        shown = [
            [int(n.replace("+", "")) for n in numbers]
            for numbers in reversed(list(_flow_rows(html).values()))
        ]
        ws = _report(app, db, lang="en", rule_filter=RuleFilter(**scope))["Rules in and out"]
        written = [
            [row[1], row[2], row[3], row[4], row[5], row[8]]
            for row in ws.iter_rows(min_row=2, max_row=1 + len(shown), values_only=True)
        ]
        assert written == shown, scope
        assert ws.cell(len(shown) + 3, 1).value == re.search(
            r'id="flow-verdict">([^<]*)<', html
        ).group(1)


def test_a_status_never_in_force_becoming_one_is_an_addition(db, monkeypatch):
    """Should a status out of force that is not dropped (a proposal waiting for its session)
    exist, the rule comes in when it leaves that status, as added, not as restored."""
    proposal = "under_review"  # standing in for such a status
    monkeypatch.setattr(
        flow,
        "in_force",
        lambda status, archived=False: (
            not archived
            and status
            not in (
                "dropped",
                proposal,
            )
        ),
    )
    clock.set(at(2026, 1, 5))
    rule = make_rule(db, status=proposal)
    clock.set(at(2026, 2, 5))
    rules.update_rule(db, None, rule.id, status="active")
    clock.set(at(2026, 3, 5))
    rules.update_rule(db, None, rule.id, status="dropped")
    clock.set(at(2026, 4, 5))
    rules.update_rule(db, None, rule.id, status="active")
    assert _table(flow.monthly(db)) == {
        date(2026, 1, 1): (0, 0, 0, 0, 0, 0),
        date(2026, 2, 1): (1, 0, 0, 0, 0, 1),
        date(2026, 3, 1): (0, 0, 0, 1, 0, -1),
        date(2026, 4, 1): (0, 1, 0, 0, 0, 1),
    }


def test_the_demo_has_a_year_of_rules_coming_in_and_going_out(app, db):
    from audit import demo

    clock.set(at(2026, 11, 20))
    with app.app_context():
        demo.seed(db, "test")
    series = flow.monthly(db)
    assert series[0].month == date(2025, 12, 1) and series[-1].month == date(2026, 11, 1)
    assert sum(1 for m in series if m.came_in) >= 10  # rules arrive in most months
    spring = next(m for m in series if m.went_out)
    assert spring.month == date(2026, 6, 1) and (spring.dropped, spring.adapted) == (1, 1)
    assert sum(m.net for m in series) == figures.headline(db)["total"]
    assert flow.recent(series)["verdict"] == "faster"
    # The open session is open now, whatever the history before it.
    assert any(s.effective_state == "open" for s in sessions.all_sessions(db))
