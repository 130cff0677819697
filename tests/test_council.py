"""Client council advice on decisions: the organisation's setting in its three positions, the
rules that call for advice (values touched, categories of daily life), who may enter advice
(facilitator, admin, a viewer on shared sessions), stale edits, and where advice shows
(results page, rule history, report, demo)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import BytesIO

import openpyxl
import pytest

from audit import demo
from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError
from audit.domain import categories, council, decisions, events, organisation, rules, sessions
from audit.xlsx import export as xlsx_export
from tests.conftest import Auth, make_rule, make_team, make_user, post

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADVICE = {
    "advised_on": "2026-03-01",
    "advice": "Laat bewoners zelf kiezen.",
    "followed": "yes",
    "reason": "",
}


def _set(db, value):
    settings = organisation.get_settings(db)
    organisation.update_settings(
        db,
        None,
        name=settings["name"],
        default_language=settings["default_language"],
        reference_share=settings["reference_share"],
        council_advice=value,
    )


@pytest.fixture
def world(app, db):
    """A closed session of team Vlinder with keep decisions on a rule touching autonomy
    (``touching``), one in a daily-life category (``daily``) and one touching neither
    (``plain``). Everybody reads English."""
    clock.set(START)
    vlinder = make_team(db, "Vlinder")
    people = {
        "fac": make_user(db, "fac", "quality", language="en"),
        "qm2": make_user(db, "qm2", "quality", language="en"),
        "boss": make_user(db, "boss", "admin", language="en"),
        "anna": make_user(db, "anna", "member", teams=[vlinder], language="en"),
        "vera": make_user(db, "vera", "viewer", display_name="Vera Raad", language="en"),
    }
    daily = categories.save_category(db, None, name_nl="Eten", daily_life=True)
    touching = make_rule(
        db, code="A", title="Taart", team_ids=[vlinder["id"]], values_touched=["autonomy"]
    )
    in_daily = make_rule(
        db, code="B", title="Bedtijd", team_ids=[vlinder["id"]], category_id=daily["id"]
    )
    plain = make_rule(
        db, code="C", title="Formulier", team_ids=[vlinder["id"]], values_touched=["safety"]
    )
    session = sessions.create_session(
        db,
        people["fac"],
        title="Voorjaar",
        team_ids=[vlinder["id"]],
        rule_ids=[touching.id, in_daily.id, plain.id],
        mode="hands",
    )
    sessions.open_session(db, people["fac"], session.id)
    sessions.close_session(db, people["fac"], session.id)
    for rule in (touching, in_daily, plain):
        decisions.record_decision(
            db, people["fac"], session.id, rule.id, outcome="keep", rationale="Blijft."
        )
    return {
        **people,
        "touching": touching,
        "daily": in_daily,
        "plain": plain,
        "session": session,
        "category": daily,
    }


def _login(app, username):
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    return client


def _advise(db, world, actor="fac", rule="touching", version=0, **given):
    return council.record_advice(
        db,
        world[actor],
        world["session"].id,
        world[rule].id,
        **{**ADVICE, **given},
        expected_version=version,
    )


# --- which rules call for advice --------------------------------------------------------------


def test_values_and_daily_life_categories_decide_which_rules_call_for_advice(db, world):
    daily = council.daily_life_categories(db)
    assert daily == {world["category"]["id"]}
    assert council.touches_daily_life(world["touching"], daily)
    assert council.touches_daily_life(world["daily"], daily)
    assert not council.touches_daily_life(world["plain"], daily)
    for value in ("privacy", "dignity"):
        rule = make_rule(db, title=f"Regel {value}", values_touched=[value])
        assert council.touches_daily_life(rule, daily)


def test_the_category_flag_is_kept_when_not_given_and_changed_in_the_form(app, db, world):
    category = world["category"]
    categories.save_category(db, None, name_nl="Eten", category_id=category["id"])
    assert categories.get_category(db, category["id"])["daily_life"] == 1
    client = _login(app, "boss")
    url = f"/categories/{category['id']}"
    assert "daily_life" in client.get(url).get_data(as_text=True)
    response = post(client, url, {"name_nl": "Eten", "name_en": "Food", "active": "y"})
    assert response.status_code == 302
    assert categories.get_category(db, category["id"])["daily_life"] == 0
    post(client, url, {"name_nl": "Eten", "active": "y", "daily_life": "y"})
    assert categories.get_category(db, category["id"])["daily_life"] == 1
    logged = [e for e in events.history(db, "category", category["id"])]
    assert any("daily_life" in e["changes"] for e in logged)


# --- the three positions ----------------------------------------------------------------------


def test_off_hides_the_form_and_applies_without_advice(app, db, world):
    assert council.setting(db) == "off"
    client = _login(app, "fac")
    html = client.get(f"/sessions/{world['session'].id}").get_data(as_text=True)
    assert "Client council advice" not in html and "/advice" not in html
    response = post(
        client,
        f"/sessions/{world['session'].id}/rules/{world['touching'].id}/advice",
        ADVICE,
        token_from=f"/sessions/{world['session'].id}",
    )
    assert response.status_code == 302 and council.for_session(db, world["session"].id) == {}
    decisions.apply_decision(db, world["fac"], world["session"].id, world["touching"].id)
    assert decisions.get_decision(db, world["session"].id, world["touching"].id)["applied_at"]


def test_ask_shows_the_form_and_a_reminder_but_applies_without_advice(app, db, world):
    _set(db, "ask")
    client = _login(app, "fac")
    html = client.get(f"/sessions/{world['session'].id}").get_data(as_text=True)
    card = html[html.index(f'id="rule-{world["touching"].id}"') :]
    card = card[: card.index("</article>")]
    assert "ask the client council for its advice before applying" in card
    assert f"/rules/{world['touching'].id}/advice" in card
    plain = html[html.index(f'id="rule-{world["plain"].id}"') :]
    assert "ask the client council" not in plain[: plain.index("</article>")]
    decisions.apply_decision(db, world["fac"], world["session"].id, world["touching"].id)
    assert decisions.get_decision(db, world["session"].id, world["touching"].id)["applied_at"]


def test_required_refuses_to_apply_until_advice_is_recorded(app, db, world):
    _set(db, "required")
    session_id = world["session"].id
    for key in ("touching", "daily"):
        with pytest.raises(Conflict, match="client council"):
            decisions.apply_decision(db, world["fac"], session_id, world[key].id)
        assert decisions.get_decision(db, session_id, world[key].id)["applied_at"] is None
        assert rules.get_rule(db, world[key].id).status == "under_review"
    # A rule that touches neither is applied as before.
    decisions.apply_decision(db, world["fac"], session_id, world["plain"].id)
    client = _login(app, "fac")
    seen = decisions.version_token(decisions.list_decisions(db, session_id)[world["touching"].id])
    response = post(
        client,
        f"/sessions/{session_id}/rules/{world['touching'].id}/apply",
        {"seen": seen},
        token_from=f"/sessions/{session_id}",
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "record the client council&#39;s advice before applying" in html
    assert decisions.get_decision(db, session_id, world["touching"].id)["applied_at"] is None
    _advise(db, world)
    decisions.apply_decision(db, world["fac"], session_id, world["touching"].id)
    assert decisions.get_decision(db, session_id, world["touching"].id)["applied_at"]


def test_the_setting_is_saved_from_the_admin_form_with_an_event(app, db, world):
    client = _login(app, "boss")
    html = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="council_advice"' in html
    data = {
        "name": "Zorg",
        "default_language": "nl",
        "review_horizon_months": "12",
        "council_advice": "required",
    }
    assert post(client, "/admin/settings", data).status_code == 302
    assert council.setting(db) == "required"
    response = post(client, "/admin/settings", {**data, "council_advice": "sometimes"})
    assert response.status_code == 200 and council.setting(db) == "required"
    # A form from before the setting keeps it.
    data.pop("council_advice")
    assert post(client, "/admin/settings", data).status_code == 302
    assert council.setting(db) == "required"
    logged = events.history(db, "organisation", 1)
    assert any(e["changes"].get("council_advice") == ["off", "required"] for e in logged)


# --- recording advice -------------------------------------------------------------------------


def test_advice_is_validated_versioned_and_logged_on_the_rule(db, world):
    _set(db, "ask")
    with pytest.raises(ValidationError) as refused:
        _advise(db, world, followed="no", advice="", advised_on="morgen")
    assert set(refused.value.errors) == {"advice", "advised_on", "reason"}
    with pytest.raises(ValidationError) as refused:
        _advise(db, world, advised_on="2026-03-09")
    assert "advised_on" in refused.value.errors
    saved = _advise(db, world)
    assert saved["version"] == 1 and saved["followed"] is True
    with pytest.raises(Conflict):
        _advise(db, world, version=0, advice="Anders")
    changed = _advise(db, world, version=1, followed="no", reason="Veiligheid gaat voor.")
    assert changed["version"] == 2 and changed["followed"] is False
    logged = [
        e
        for e in events.history(db, "rule", world["touching"].id)
        if e["action"] == "council_advice"
    ]
    assert len(logged) == 2 and logged[0]["changes"]["followed"] == [True, False]


def test_advice_and_its_event_are_one_transaction(db, world, monkeypatch):
    _set(db, "ask")

    def broken(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(council.events, "record", broken)
    with pytest.raises(RuntimeError):
        _advise(db, world)
    assert council.for_session(db, world["session"].id) == {}
    with pytest.raises(RuntimeError):
        council.share(db, world["fac"], world["session"].id, True)
    assert not council.is_shared(db, world["session"].id)


def test_advice_needs_a_decision_and_a_rule_of_the_session(db, world):
    _set(db, "ask")
    other = make_rule(db, title="Elders")
    with pytest.raises(NotFound):
        council.record_advice(
            db, world["fac"], world["session"].id, other.id, **ADVICE, expected_version=0
        )


# --- who enters advice ------------------------------------------------------------------------


def test_a_viewer_advises_only_on_sessions_shared_with_the_council(app, db, world):
    _set(db, "ask")
    session_id = world["session"].id
    url = f"/sessions/{session_id}/rules/{world['touching'].id}/advice"
    vera = _login(app, "vera")
    page = f"/sessions/{session_id}"
    assert "/advice" not in vera.get(page).get_data(as_text=True)
    assert post(vera, url, {**ADVICE, "version": "0"}, token_from=page).status_code == 404
    assert council.for_session(db, session_id) == {}
    # Sharing is the facilitator's, on the session page, with an event.
    assert (
        post(vera, f"/sessions/{session_id}/council", {"shared": "1"}, token_from=page).status_code
        == 403
    )
    fac = _login(app, "fac")
    assert (
        post(fac, f"/sessions/{session_id}/council", {"shared": "1"}, token_from=page).status_code
        == 302
    )
    assert council.is_shared(db, session_id)
    assert any(
        e["action"] == "council_share" for e in events.history(db, "review_session", session_id)
    )
    html = vera.get(page).get_data(as_text=True)
    assert url in html and "shared with the client council" in html
    response = post(vera, url, {**ADVICE, "version": "0"}, token_from=page)
    assert response.status_code == 302
    assert (
        council.for_session(db, session_id)[world["touching"].id]["entered_by"] == world["vera"].id
    )
    # Stale form refused, what is stored stays.
    response = post(vera, url, {**ADVICE, "advice": "Anders", "version": "0"}, token_from=page)
    assert response.status_code == 302
    assert council.for_session(db, session_id)[world["touching"].id]["advice"] == ADVICE["advice"]
    # A forged rule id or session id is not found.
    other = make_rule(db, title="Elders")
    forged = f"/sessions/{session_id}/rules/{other.id}/advice"
    assert post(vera, forged, {**ADVICE, "version": "0"}, token_from=page).status_code == 404
    forged = f"/sessions/99999/rules/{world['touching'].id}/advice"
    assert post(vera, forged, {**ADVICE, "version": "0"}, token_from=page).status_code == 404
    # Unshared again: the viewer can no longer enter advice.
    post(fac, f"/sessions/{session_id}/council", {"shared": "0"}, token_from=page)
    assert not council.is_shared(db, session_id)
    assert post(vera, url, {**ADVICE, "version": "1"}, token_from=page).status_code == 404


def test_another_quality_manager_and_members_cannot_enter_advice(app, db, world):
    _set(db, "ask")
    session_id = world["session"].id
    with pytest.raises(Conflict):
        _advise(db, world, actor="qm2")
    qm2 = _login(app, "qm2")
    page = f"/sessions/{session_id}"
    url = f"{page}/rules/{world['touching'].id}/advice"
    response = post(qm2, url, {**ADVICE, "version": "0"}, token_from=page)
    assert response.status_code == 302 and council.for_session(db, session_id) == {}
    assert "Only the facilitator" in qm2.get(page).get_data(as_text=True)
    with pytest.raises(Conflict):
        council.share(db, world["qm2"], session_id, True)
    council.share(db, world["fac"], session_id, True)
    with pytest.raises(Conflict):
        _advise(db, world, actor="anna")
    anna = _login(app, "anna")
    response = post(anna, url, {**ADVICE, "version": "0"}, token_from="/")
    assert response.status_code == 403
    # An admin may.
    assert _advise(db, world, actor="boss")["version"] == 1


def test_a_refused_advice_form_is_shown_again_with_what_was_typed(app, db, world):
    _set(db, "ask")
    fac = _login(app, "fac")
    page = f"/sessions/{world['session'].id}"
    url = f"{page}/rules/{world['touching'].id}/advice"
    response = post(
        fac,
        url,
        {**ADVICE, "followed": "no", "advice": "Zelf kiezen", "version": "0"},
        token_from=page,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and council.for_session(db, world["session"].id) == {}
    assert "Say why the decision does not follow the advice." in html and "Zelf kiezen" in html


# --- where advice shows -----------------------------------------------------------------------


def test_advice_shows_on_results_history_and_report(app, db, world):
    _set(db, "ask")
    _advise(db, world, followed="no", reason="Veiligheid gaat voor.")
    fac = _login(app, "fac")
    html = fac.get(f"/sessions/{world['session'].id}").get_data(as_text=True)
    assert "Laat bewoners zelf kiezen." in html and "Veiligheid gaat voor." in html
    assert "The decision does not follow the advice." in html
    history = fac.get(f"/rules/{world['touching'].id}").get_data(as_text=True)
    assert "client council advice recorded" in history
    assert re.search(r"Date of the advice</th><td[^>]*>–</td><td[^>]*>Mar 1, 2026<", history)
    out = BytesIO()
    with app.test_request_context():
        xlsx_export.export_report(db, out, lang="en")
    book = openpyxl.load_workbook(BytesIO(out.getvalue()))
    sheet = book["Decisions"]
    header = [c.value for c in sheet[1]]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    advice_col = header.index("Advice of the client council")
    assert header[12] == "Adapt strategy" and advice_col == 14
    assert header[15:] == ["Advice followed", "Why not followed"]
    row = next(r for r in rows if r[advice_col] == "Laat bewoners zelf kiezen.")
    assert row[1] == "A" and row[15:] == ["no", "Veiligheid gaat voor."]


def test_the_demo_has_the_council_asked_and_advice_given(app, db):
    with app.test_request_context():
        demo.seed(db, "test")
    assert council.setting(db) == "ask"
    assert council.daily_life_categories(db)
    assert db.execute("SELECT count(*) FROM council_shares").fetchone()[0] >= 1
    assert db.execute("SELECT count(*) FROM council_advice").fetchone()[0] >= 1
    assert re.search(r"\w", db.execute("SELECT advice FROM council_advice").fetchone()[0])
