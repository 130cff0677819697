"""The team page ("Our team"): the same figures as the dashboard filtered to the team, its
lists, who may open which team, and what it never shows (another team, anyone's ballot)."""

from __future__ import annotations

import random
import re

import pytest

from audit import demo
from audit.core import clock
from audit.domain import (
    ballots,
    decisions,
    figures,
    organisation,
    origins,
    rules,
    sessions,
    strategies,
)
from audit.domain import teams as team_pages
from audit.domain.figures import Scope
from audit.store import db as store
from tests.conftest import make_rule, make_team, make_user, post

FIGURES = ("total", "coverage", "share", "myths", "hours", "given-back", "reported")


def _figures(html: str) -> dict[str, str]:
    """The headline figures as the page shows them (the team page uses the dashboard's ids)."""
    shown = {}
    for key in FIGURES:
        found = re.search(rf'id="fig-{key}">\s*<p class="figure-value">([^<]+)</p>', html)
        assert found, f"no figure {key}"
        shown[key] = found.group(1).strip()
    reference = re.search(r'<p class="figure-note" id="fig-reference">([^<]*)</p>', html)
    shown["reference"] = reference.group(1).strip() if reference else None
    return shown


def _switch(client, lang: str) -> None:
    post(client, "/language", {"lang": lang}, token_from="/")


def _ids(html: str, list_id: str) -> list[int]:
    found = re.search(rf'<ul class="team-list" id="{list_id}">(.*?)</ul>', html, re.S)
    if not found:
        return []
    return [int(n) for n in re.findall(r'href="/rules/(\d+)"', found.group(1))]


# --- the same figures as the dashboard --------------------------------------------------------


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_figure_equals_the_dashboard_filtered_to_the_team_on_the_demo(db, login_as, lang):
    demo.seed(db)
    viewer = login_as("viewer", "board")
    _switch(viewer, lang)
    compared = 0
    for team in organisation.list_teams(db):
        dashboard = _figures(viewer.get(f"/dashboard?team={team['id']}").get_data(as_text=True))
        page = viewer.get(f"/teams/{team['id']}")
        assert page.status_code == 200
        shown = _figures(page.get_data(as_text=True))
        assert {k: shown[k] for k in FIGURES} == {k: dashboard[k] for k in FIGURES}, team["name"]
        assert shown["reference"] == dashboard["reference"] and shown["reference"]
        compared += 1
    assert compared == 4
    # The demo's teams differ, so agreeing is not a matter of every page showing the same.
    totals = {
        figures.headline(db, Scope(team=t["id"]))["total"] for t in organisation.list_teams(db)
    }
    assert len(totals) > 1


def test_reports_waiting_agree_for_those_who_triage_and_are_hidden_from_the_rest(db, login_as):
    """The quality manager sees the same waiting count on the team page as on the dashboard;
    a viewer sees it on neither (it would tick as a colleague sends an anonymous report)."""
    demo.seed(db)
    quality = login_as("quality", "ilse2")
    viewer = login_as("viewer", "board")
    waiting = re.compile(r'id="fig-waiting">\s*<p class="figure-value">([^<]+)</p>')
    seen = set()
    for team in organisation.list_teams(db):
        on_dashboard = waiting.search(
            quality.get(f"/dashboard?team={team['id']}").get_data(as_text=True)
        ).group(1)
        on_page = waiting.search(quality.get(f"/teams/{team['id']}").get_data(as_text=True))
        assert (
            on_page.group(1)
            == on_dashboard
            == str(figures.reports(db, Scope(team=team["id"]))["waiting"])
        )
        seen.add(on_dashboard)
        for url in (f"/dashboard?team={team['id']}", f"/teams/{team['id']}"):
            assert 'id="fig-waiting"' not in viewer.get(url).get_data(as_text=True)
    assert len(seen) > 1  # the demo's teams have different numbers waiting


def _generated(db, seed: int) -> list[dict]:
    """A register with every kind of scope, origin, status and time, and applied decisions."""
    rng = random.Random(seed)
    teams = [
        make_team(db, name, location=location)
        for name, location in (("A", "Noord"), ("B", "Noord"), ("C", "Zuid"), ("D", None))
    ]
    keys = [*origins.ORIGINS, None]
    made = []
    for i in range(120):
        scope = rng.random()
        made.append(
            make_rule(
                db,
                code=f"G{i:03d}",
                title=f"Regel {i}",
                perceived_origin=rng.choice(keys),
                verified_origin=rng.choice(keys),
                minutes_per_week=rng.choice([None, 0, 15, 60, 240]),
                relation_impact=rng.choice([None, "hinders", "neutral", "supports"]),
                status=rng.choice(["active", "active", "under_review", "adapted", "dropped"]),
                team_ids=rng.sample([t["id"] for t in teams], rng.randint(1, 2))
                if scope < 0.4
                else [],
                location_ids=[teams[rng.randint(0, 2)]["location_id"]] if 0.3 < scope < 0.7 else [],
            )
        )
    archived = {rule.id for rule in made[:40:12]}
    for rule_id in archived:
        rules.archive_rule(db, None, rule_id)
    facilitator = make_user(db, "fac", "quality")
    for rule in [r for r in made[1:60:5] if r.status != "dropped" and r.id not in archived]:
        team_ids = rule.team_ids or [teams[0]["id"]]
        if sessions.outside_scope(db, team_ids, [rule.id]):
            continue
        session = sessions.create_session(
            db, facilitator, title="S", team_ids=team_ids, rule_ids=[rule.id], mode="hands"
        )
        sessions.open_session(db, facilitator, session.id)
        sessions.close_session(db, facilitator, session.id)
        outcome = rng.choice(["drop", "adapt", "keep"])
        extra = (
            {
                "new_title": "Korter",
                "new_minutes_per_week": 5,
                "strategy_id": strategies.by_key(db, "volume")["id"],
            }
            if outcome == "adapt"
            else {}
        )
        decisions.record_decision(
            db, facilitator, session.id, rule.id, outcome=outcome, rationale="besproken", **extra
        )
        decisions.apply_decision(db, facilitator, session.id, rule.id)
    return teams


@pytest.mark.parametrize("seed", [1, 2])
def test_figures_and_lists_agree_with_the_dashboard_on_a_generated_register(db, login_as, seed):
    teams = _generated(db, seed)
    organisation.update_settings(
        db, None, name="Org", default_language="nl", reference_share=None
    )  # no reference: the page says so
    viewer = login_as("viewer", "board")
    for team in teams:
        scope = Scope(team=team["id"])
        expected = figures.dashboard(db, scope)["headline"]
        data = team_pages.team_page(db, team["id"], _user(db, "board"))
        assert data["headline"] == expected
        # The rules listed are exactly the rules the dashboard counts, page after page.
        listed, page = [], 1
        while True:
            found = team_pages.rules_in_force(db, team["id"], page, per_page=7)
            listed += [row["id"] for row in found.rows]
            if page >= found.pages:
                break
            page += 1
        where, params = scope.where()
        counted = [r[0] for r in db.execute(f"SELECT r.id FROM rules r WHERE {where}", params)]
        assert sorted(listed) == sorted(counted) and len(listed) == expected["total"]
        assert len(data["myths"]) == expected["myths"]
        for row in data["myths"]:
            assert origins.is_myth(row["perceived_origin"], row["verified_origin"])
        # ... and the page shows the dashboard's figures for the team.
        dashboard = _figures(viewer.get(f"/dashboard?team={team['id']}").get_data(as_text=True))
        html = viewer.get(f"/teams/{team['id']}").get_data(as_text=True)
        shown = _figures(html)
        assert {k: shown[k] for k in FIGURES} == {k: dashboard[k] for k in FIGURES}
        assert (
            shown["reference"] == "De organisatie heeft geen referentiepercentage ingesteld"
            " om mee te vergelijken."
        )
        assert sorted(_ids(html, "myth-list")) == sorted(r["id"] for r in data["myths"])
    given_back = [figures.given_back_minutes(db, Scope(team=t["id"])) for t in teams]
    assert any(given_back), "the generated register has hours given back to compare"


def _user(db, username):
    from audit.domain.users import find_user

    return find_user(db, username)


def test_rules_in_force_say_how_they_apply_and_page_through(db, login_as):
    noord = make_team(db, "Vlinder", location="Noord")
    make_rule(db, code="ORG")
    make_rule(db, code="LOC", location_ids=[noord["location_id"]])
    make_rule(db, code="OWN", team_ids=[noord["id"]])
    make_rule(db, code="GONE", status="dropped", team_ids=[noord["id"]])
    rows = {r["code"]: r["applies"] for r in team_pages.rules_in_force(db, noord["id"]).rows}
    assert rows == {"ORG": "organisation", "LOC": "location", "OWN": "team"}
    for i in range(30):
        make_rule(db, code=f"X{i:02d}")
    client = login_as("member", "anna", teams=[noord])
    first = client.get(f"/teams/{noord['id']}").get_data(as_text=True)
    second = client.get(f"/teams/{noord['id']}?page=2").get_data(as_text=True)
    assert len(_ids(first, "rule-list")) == 25 and len(_ids(second, "rule-list")) == 8
    assert not set(_ids(first, "rule-list")) & set(_ids(second, "rule-list"))
    assert f'href="/teams/{noord["id"]}?page=2#rules-heading"' in first
    # A page number that makes no sense shows a page, never an error.
    for odd in ("abc", "-3", "0", "99999999999999999999999"):
        response = client.get(f"/teams/{noord['id']}?page={odd}")
        assert response.status_code == 200, odd
    last = client.get(f"/teams/{noord['id']}?page=500").get_data(as_text=True)
    assert _ids(last, "rule-list") == _ids(second, "rule-list")


# --- who may open which team -----------------------------------------------------------------


@pytest.fixture
def two_teams(db):
    vlinder = make_team(db, "Vlinder", location="Noord")
    zon = make_team(db, "Zon", location="Zuid")
    make_rule(db, code="V", title="Alleen Vlinder", team_ids=[vlinder["id"]])
    make_rule(db, code="Z", title="Alleen Zon", team_ids=[zon["id"]])
    return vlinder, zon


def test_a_member_sees_only_their_own_team_and_forged_ids_are_404(db, login_as, two_teams):
    vlinder, zon = two_teams
    client = login_as("member", "anna", teams=[vlinder])
    own = client.get(f"/teams/{vlinder['id']}")
    assert own.status_code == 200 and "Alleen Vlinder" in own.get_data(as_text=True)
    other = client.get(f"/teams/{zon['id']}")
    missing = client.get("/teams/999")
    # Another team's page looks exactly like one that does not exist: ids cannot be probed.
    assert other.status_code == missing.status_code == 404

    def page(response):  # less the language switch's way back to the page asked for
        return re.sub(r'name="next" value="[^"]*"', "", response.get_data(as_text=True))

    assert page(other) == page(missing)
    assert "Alleen Zon" not in other.get_data(as_text=True)
    for forged in ("/teams/0", "/teams/-1", "/teams/99999999999999999999999", "/teams/x"):
        assert client.get(forged).status_code == 404, forged
    # The list of teams holds the member's own team only: with one team, straight to it.
    response = client.get("/teams/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/teams/{vlinder['id']}")


def test_a_member_of_several_teams_gets_a_short_list(db, login_as, two_teams):
    vlinder, zon = two_teams
    make_team(db, "Eik")
    client = login_as("member", "fatima", teams=[vlinder, zon])
    html = client.get("/teams/").get_data(as_text=True)
    assert re.findall(r'href="/teams/(\d+)"', html) == [str(vlinder["id"]), str(zon["id"])]
    assert "Onze teams" in html
    assert client.get(f"/teams/{zon['id']}").status_code == 200


def test_a_member_without_a_team_is_told_so(db, login_as, two_teams):
    html = login_as("member", "lone").get("/teams/").get_data(as_text=True)
    assert "U hoort nog niet bij een team" in html
    assert not re.findall(r'href="/teams/\d+"', html)


@pytest.mark.parametrize("role", ["viewer", "quality", "admin"])
def test_the_whole_organisation_may_open_every_team(db, login_as, two_teams, role):
    client = login_as(role)
    html = client.get("/teams/").get_data(as_text=True)
    assert re.findall(r'href="/teams/(\d+)"', html) == [str(t["id"]) for t in two_teams]
    for team in two_teams:
        assert client.get(f"/teams/{team['id']}").status_code == 200
    assert client.get("/teams/999").status_code == 404


def test_the_domain_refuses_another_team_to_a_member(db, two_teams):
    vlinder, zon = two_teams
    anna = make_user(db, "anna", "member", teams=[vlinder])
    from audit.core.errors import NotFound

    with pytest.raises(NotFound):
        team_pages.team_page(db, zon["id"], anna)
    assert [t["id"] for t in team_pages.visible_teams(db, anna)] == [vlinder["id"]]


@pytest.mark.parametrize(
    "role, label", [("member", "Ons team"), ("quality", "Teams"), ("viewer", "Teams")]
)
def test_the_menu_item_is_our_team_for_members(db, login_as, two_teams, role, label):
    client = login_as(role, teams=[two_teams[0]] if role == "member" else ())
    menu = re.search(
        r'<nav class="main-nav".*?</nav>', client.get("/").get_data(as_text=True), re.S
    )
    assert f'<a href="/teams/">{label}</a>' in menu.group(0)
    _switch(client, "en")
    menu = re.search(
        r'<nav class="main-nav".*?</nav>', client.get("/").get_data(as_text=True), re.S
    )
    assert f'<a href="/teams/">{"Our team" if role == "member" else "Teams"}</a>' in menu.group(0)


def test_the_dashboards_team_table_links_to_each_team(db, login_as, two_teams):
    html = login_as("viewer").get("/dashboard").get_data(as_text=True)
    table = re.search(r'id="teams-table">(.*?)</table>', html, re.S).group(1)
    assert sorted(re.findall(r'href="/teams/(\d+)"', table)) == sorted(
        str(t["id"]) for t in two_teams
    )


# --- sessions: what they decided, and where to vote ------------------------------------------


def _closed_with_decision(db, fac, team, rule, outcome="drop", apply=True, **fields):
    session = sessions.create_session(
        db,
        fac,
        title=f"Sessie {rule.code}",
        team_ids=[team["id"]],
        rule_ids=[rule.id],
        mode="hands",
    )
    sessions.open_session(db, fac, session.id)
    sessions.close_session(db, fac, session.id)
    decisions.record_decision(
        db, fac, session.id, rule.id, outcome=outcome, rationale="besproken", **fields
    )
    if apply:
        decisions.apply_decision(db, fac, session.id, rule.id)
    return session


def test_the_decisions_of_the_teams_sessions_only(db, login_as, two_teams):
    vlinder, zon = two_teams
    fac = make_user(db, "fac", "quality")
    dropped = make_rule(db, code="D", title="Geschrapt", minutes_per_week=90)
    other = make_rule(db, code="O", title="Elders besloten")
    pending = make_rule(db, code="P", title="Nog niet doorgevoerd")
    ours = _closed_with_decision(db, fac, vlinder, dropped)
    _closed_with_decision(db, fac, zon, other, outcome="keep")
    _closed_with_decision(db, fac, vlinder, pending, outcome="keep", apply=False)
    client = login_as("member", "anna", teams=[vlinder])
    _switch(client, "en")
    html = client.get(f"/teams/{vlinder['id']}").get_data(as_text=True)
    listed = re.search(r'id="decision-list">(.*?)</ul>', html, re.S).group(1)
    assert "Geschrapt" in listed and f"/sessions/{ours.id}#rule-{dropped.id}" in listed
    assert "Nog niet doorgevoerd" in listed and "not yet applied" in listed
    assert "Elders besloten" not in listed
    # The hours given back are the dashboard's: the dropped rule's 90 minutes.
    assert _figures(html)["given-back"] == "1.5"


def test_a_reopened_sessions_decisions_are_not_shown_as_decided(db, two_teams):
    vlinder, _zon = two_teams
    fac = make_user(db, "fac", "quality")
    rule = make_rule(db, code="R")
    session = _closed_with_decision(db, fac, vlinder, rule, outcome="keep", apply=False)
    assert team_pages.session_decisions(db, vlinder["id"])["total"] == 1
    sessions.reopen_session(db, fac, session.id)
    # The session page shows decisions only once a session is closed; so does the team page.
    assert team_pages.session_decisions(db, vlinder["id"]) == {"rows": [], "total": 0}


def test_open_sessions_link_to_the_ballot_and_never_show_a_ballot(app, db, login_as, two_teams):
    vlinder, zon = two_teams
    fac = make_user(db, "fac", "quality")
    anna = make_user(db, "anna", "member", teams=[vlinder])
    member = login_as("member", "bert", teams=[vlinder])
    make_user(db, "carla", "member", teams=[vlinder])
    rule = make_rule(db, code="V2", title="Te stemmen")
    session = sessions.create_session(
        db,
        fac,
        title="Open voor Vlinder",
        team_ids=[vlinder["id"]],
        rule_ids=[rule.id],
        mode="online",
        anonymous=True,
    )
    sessions.open_session(db, fac, session.id)
    elsewhere = sessions.create_session(
        db, fac, title="Open voor Zon", team_ids=[zon["id"]], rule_ids=[rule.id], mode="online"
    )
    sessions.open_session(db, fac, elsewhere.id)
    ballots.cast_vote(
        db, app.config["SECRET_KEY"], anna, session.id, rule.id, "drop", "Geheime reden van Anna"
    )
    html = member.get(f"/teams/{vlinder['id']}").get_data(as_text=True)
    assert "Open voor Vlinder" in html and "Open voor Zon" not in html
    assert f'href="/sessions/{session.id}/vote"' in html
    # Nobody's vote, reason or count shows: an open anonymous session tells members nothing.
    assert "Geheime reden van Anna" not in html
    assert "gestemd" not in html
    # The facilitator sees the band the session page shows, not a count that ticks per vote.
    html = login_as("quality", "fac2").get(f"/teams/{vlinder['id']}").get_data(as_text=True)
    assert "Minder dan 3 van 3 leden hebben gestemd" in html
    assert "Geheime reden van Anna" not in html
    assert f'href="/sessions/{session.id}/vote"' not in html  # not a member: no ballot


def test_a_session_past_its_closing_time_is_no_longer_open(db, two_teams):
    vlinder, _zon = two_teams
    fac = make_user(db, "fac", "quality")
    anna = make_user(db, "anna", "member", teams=[vlinder])
    rule = make_rule(db, code="T")
    session = sessions.create_session(
        db,
        fac,
        title="Kort",
        team_ids=[vlinder["id"]],
        rule_ids=[rule.id],
        mode="online",
        closes_at=clock.now().replace(microsecond=0) + __import__("datetime").timedelta(hours=1),
    )
    sessions.open_session(db, fac, session.id)
    assert [s["session"].id for s in team_pages.open_sessions(db, vlinder["id"], anna)] == [
        session.id
    ]
    assert team_pages.open_sessions(db, vlinder["id"], anna)[0]["can_vote"]
    with clock.set(clock.now() + __import__("datetime").timedelta(hours=2)):
        assert team_pages.open_sessions(db, vlinder["id"], anna) == []


# --- fast at any size: no query per rule -----------------------------------------------------


def test_the_page_asks_the_database_the_same_number_of_times_for_10_or_200_rules(
    db, login_as, monkeypatch, two_teams
):
    vlinder, _zon = two_teams
    client = login_as("member", "anna", teams=[vlinder])
    statements: list[str] = []
    opened = store.open_app_db

    def traced():
        connection = opened()
        connection.conn.set_trace_callback(statements.append)
        return connection

    monkeypatch.setattr(store, "open_app_db", traced)

    def count() -> int:
        statements.clear()
        assert client.get(f"/teams/{vlinder['id']}").status_code == 200
        return len(statements)

    for i in range(10):
        make_rule(db, code=f"A{i}", verified_origin="team", perceived_origin="law")
    few = count()
    for i in range(200):
        make_rule(
            db,
            code=f"B{i:03d}",
            verified_origin="team",
            perceived_origin="law",
            team_ids=[vlinder["id"]],
        )
    assert count() == few
