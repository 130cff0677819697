"""The review session screens as people use them: the whole ballot in one form, a session
builder that offers only rules that apply, and decisions that start from the rule as it is."""

import re

import pytest

from audit.core.errors import ValidationError
from audit.domain import ballots, decisions, rules, sessions, strategies
from tests.conftest import Auth, csrf_token, make_rule, make_team, make_user, post

SECRET = "test"


@pytest.fixture
def world(app, db):
    vlinder = make_team(db, "Vlinder", location="Noord")
    zon = make_team(db, "Zon", location="Zuid")
    fac = make_user(db, "fac", "quality")
    anna = make_user(db, "anna", "member", teams=[vlinder])
    bert = make_user(db, "bert", "member", teams=[vlinder])
    candidate = {"verified_origin": "team", "relation_impact": "hinders"}
    a = make_rule(
        db,
        code="A-1",
        title="Taart",
        description="Geen taart van familie.",
        minutes_per_week=60,
        team_ids=[vlinder["id"]],
        **candidate,
    )
    b = make_rule(
        db, code="B-1", title="Toestemming", verified_origin="law", source_reference="Wzd art. 2"
    )
    # Candidates for the dashboard too, but of the other team and its location.
    z = make_rule(
        db, code="Z-1", title="Zon-regel", minutes_per_week=500, team_ids=[zon["id"]], **candidate
    )
    zl = make_rule(
        db,
        code="Z-2",
        title="Zuid-regel",
        minutes_per_week=400,
        location_ids=[zon["location_id"]],
        **candidate,
    )
    # Applies to Vlinder through its location, and to everybody.
    n = make_rule(
        db,
        code="N-1",
        title="Noord-regel",
        minutes_per_week=30,
        location_ids=[vlinder["location_id"]],
        **candidate,
    )
    o = make_rule(db, code="O-1", title="Iedereen", minutes_per_week=10, **candidate)

    def client(name):
        c = app.test_client()
        assert Auth(c).login(name).status_code == 302
        return c

    return {
        "vlinder": vlinder,
        "zon": zon,
        "fac": fac,
        "anna": anna,
        "bert": bert,
        "a": a,
        "b": b,
        "z": z,
        "zl": zl,
        "n": n,
        "o": o,
        "client": client,
    }


def _session(db, w, open_=True, **fields):
    values = {
        "title": "Schrapsessie juni",
        "team_ids": [w["vlinder"]["id"]],
        "rule_ids": [w["a"].id, w["b"].id],
        "mode": "online",
        "anonymous": True,
    }
    values.update(fields)
    session = sessions.create_session(db, w["fac"], **values)
    return sessions.open_session(db, w["fac"], session.id) if open_ else session


def _count(db, sql, *params):
    return db.execute(f"SELECT count(*) FROM {sql}", params).fetchone()[0]


def _mine(db, session, user):
    return {
        k: (v["choice"], v["reason"])
        for k, v in ballots.my_ballots(db, SECRET, session, user.id).items()
    }


# --- the ballot: one form -------------------------------------------------------------------


def test_the_ballot_is_one_form_with_one_save_button(db, world):
    session = _session(db, world)
    page = world["client"]("anna").get(f"/sessions/{session.id}/vote").get_data(as_text=True)
    assert page.count(f'action="/sessions/{session.id}/vote"') == 1
    ballot = page[
        page.index('class="ballot-form"') : page.index("</form>", page.index("ballot-form"))
    ]
    assert ballot.count('type="submit"') == 1
    a, b = world["a"].id, world["b"].id
    for rule_id in (a, b):
        assert f'name="choice-{rule_id}"' in ballot and f'name="reason-{rule_id}"' in ballot
    # A mandatory rule offers keep and adapt only.
    assert f'name="choice-{b}" value="keep"' in ballot
    assert f'name="choice-{b}" value="drop"' not in ballot
    assert f'name="choice-{a}" value="drop"' in ballot


def test_one_save_keeps_every_choice_and_reason(db, world):
    session = _session(db, world)
    anna = world["client"]("anna")
    url = f"/sessions/{session.id}/vote"
    a, b = world["a"].id, world["b"].id
    response = post(
        anna,
        url,
        {
            f"choice-{a}": "drop",
            f"reason-{a}": "Kost tijd",
            f"choice-{b}": "adapt",
            f"reason-{b}": "Korter",
        },
    )
    assert response.status_code == 302
    assert _mine(db, session, world["anna"]) == {a: ("drop", "Kost tijd"), b: ("adapt", "Korter")}
    page = anna.get(response.headers["Location"]).get_data(as_text=True)
    # Per rule, what was saved.
    assert "A-1: Schrappen" in page and "B-1: Aanpassen" in page
    assert f'name="choice-{a}" value="drop" checked' in page
    assert f'name="choice-{b}" value="adapt" checked' in page


def test_a_rule_left_without_a_choice_stays_as_it_was(db, world):
    session = _session(db, world)
    a, b = world["a"].id, world["b"].id
    ballots.cast_vote(db, SECRET, world["anna"], session.id, a, "keep", "Prima")
    response = post(
        world["client"]("anna"), f"/sessions/{session.id}/vote", {f"choice-{b}": "keep"}
    )
    assert response.status_code == 302
    assert _mine(db, session, world["anna"]) == {a: ("keep", "Prima"), b: ("keep", "")}


def test_saving_an_unchanged_ballot_records_nothing_new(db, world):
    # Named: only named sessions log votes (an anonymous vote logs nothing, test_anonymity).
    session = _session(db, world, anonymous=False)
    a, b = world["a"].id, world["b"].id
    url = f"/sessions/{session.id}/vote"
    anna = world["client"]("anna")
    data = {f"choice-{a}": "keep", f"reason-{a}": "Prima", f"choice-{b}": "keep"}
    post(anna, url, data)
    logged = _count(db, "events WHERE action = 'ballot'")
    assert logged == 2
    again = post(anna, url, {**data, f"choice-{b}": "adapt"})
    assert again.status_code == 302
    assert _count(db, "events WHERE action = 'ballot'") == logged + 1  # only B changed
    page = anna.get(url).get_data(as_text=True)
    assert "B-1: Aanpassen" in page and "A-1: Behouden" not in page


@pytest.mark.parametrize(
    "extra,message",
    [
        ({"choice-999999": "keep"}, "hoort niet bij deze sessie"),
        ({"choice-B": "drop"}, "kan niet worden geschrapt"),
        ({"choice-B": "burn"}, "Kies behouden, aanpassen, schrappen of blanco."),
        ({"reason-B": "Alleen een reden"}, "Kies eerst"),
        ({"choice-B": "keep", "reason-B": "x" * 1001}, "Maximaal 1000 tekens"),
    ],
)
def test_a_bad_ballot_saves_nothing_and_keeps_what_was_typed(db, world, extra, message):
    session = _session(db, world)
    a, b = world["a"].id, world["b"].id
    data = {f"choice-{a}": "drop", f"reason-{a}": "Getypte reden"}
    data.update({k.replace("-B", f"-{b}"): v for k, v in extra.items()})
    response = post(world["client"]("anna"), f"/sessions/{session.id}/vote", data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert message in text
    assert "niet opgeslagen" in text
    assert "Getypte reden" in text and f'name="choice-{a}" value="drop" checked' in text
    for value in extra.values():
        if len(value) > 5:
            assert value in text
    assert _count(db, "ballots") == 0


def test_a_closed_session_says_so_and_keeps_what_was_typed(db, world):
    session = _session(db, world)
    anna = world["client"]("anna")
    url = f"/sessions/{session.id}/vote"
    token = csrf_token(anna, url)
    sessions.close_session(db, world["fac"], session.id)
    a = world["a"].id
    response = anna.post(
        url, data={"csrf_token": token, f"choice-{a}": "drop", f"reason-{a}": "Getypte reden"}
    )
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Deze sessie is gesloten" in text and "Getypte reden" in text
    assert _count(db, "ballots") == 0


def test_a_ballot_with_no_choice_at_all_says_so(db, world):
    session = _session(db, world)
    anna = world["client"]("anna")
    response = post(anna, f"/sessions/{session.id}/vote", {})
    assert response.status_code == 302
    page = anna.get(response.headers["Location"]).get_data(as_text=True)
    assert "U hebt geen keuze gemaakt" in page
    assert _count(db, "ballots") == 0


def test_cast_ballot_is_one_transaction(db, world):
    session = _session(db, world)
    a, b = world["a"].id, world["b"].id
    with pytest.raises(ValidationError) as raised:
        ballots.cast_ballot(
            db, SECRET, world["anna"], session.id, {a: ("keep", ""), b: ("drop", "")}
        )
    assert f"rule-{b}-choice" in raised.value.errors
    assert _count(db, "ballots") == 0 and _count(db, "events WHERE action = 'ballot'") == 0


# --- the session builder --------------------------------------------------------------------


def _offered(page):
    return set(re.findall(r'name="rule_ids" value="(\d+)"', page))


def _checked(page):
    return set(re.findall(r'name="rule_ids" value="(\d+)" checked', page))


def test_candidates_are_only_rules_of_the_chosen_teams(db, world):
    fac = world["client"]("fac")
    page = fac.get(f"/sessions/new?teams={world['vlinder']['id']}&candidates=1").get_data(
        as_text=True
    )
    in_scope = {str(world[k].id) for k in ("a", "n", "o")}
    assert _checked(page) == in_scope
    assert str(world["z"].id) not in _offered(page)
    assert str(world["zl"].id) not in _offered(page)
    # The chosen teams go with the form.
    assert f'name="team_ids" value="{world["vlinder"]["id"]}"' in page


def test_without_teams_only_organisation_wide_rules_are_offered(db, world):
    page = world["client"]("fac").get("/sessions/new?candidates=1").get_data(as_text=True)
    assert _offered(page) == {str(world["o"].id)}
    assert "Kies eerst de teams" in page


def test_the_search_also_stays_within_the_teams(db, world):
    fac = world["client"]("fac")
    both = f"teams={world['vlinder']['id']}&teams={world['zon']['id']}"
    page = fac.get(f"/sessions/new?{both}&q=regel").get_data(as_text=True)
    assert _offered(page) == {str(world[k].id) for k in ("z", "zl", "n")}
    page = fac.get(f"/sessions/new?teams={world['zon']['id']}&q=regel").get_data(as_text=True)
    assert _offered(page) == {str(world[k].id) for k in ("z", "zl")}


def test_a_rule_in_another_open_session_is_flagged_and_not_taken(db, world):
    other = _session(db, world, title="Sessie voorjaar", rule_ids=[world["a"].id])
    page = (
        world["client"]("fac")
        .get(f"/sessions/new?teams={world['vlinder']['id']}&candidates=1")
        .get_data(as_text=True)
    )
    a = str(world["a"].id)
    assert a in _offered(page) and a not in _checked(page)
    item = page[page.index(f'id="rule_ids-{a}"') :][:1500]
    assert "Sessie voorjaar" in item and f"/sessions/{other.id}" in item


def test_a_session_refuses_rules_that_do_not_apply_to_its_teams(db, world):
    with pytest.raises(ValidationError) as raised:
        sessions.create_session(
            db,
            world["fac"],
            title="S",
            team_ids=[world["vlinder"]["id"]],
            rule_ids=[world["a"].id, world["z"].id],
        )
    assert "Z-1" in str(raised.value.errors["rule_ids"][0])
    fac = world["client"]("fac")
    response = post(
        fac,
        "/sessions/new",
        {
            "title": "S",
            "team_ids": [str(world["vlinder"]["id"])],
            "rule_ids": [str(world["z"].id)],
            "mode": "online",
            "anonymous": "y",
        },
    )
    assert response.status_code == 200
    assert "Z-1" in response.get_data(as_text=True)
    assert _count(db, "review_sessions") == 0


def test_opening_a_session_asks_for_confirmation(db, world):
    other = _session(db, world, title="Sessie voorjaar", rule_ids=[world["a"].id])
    draft = _session(db, world, open_=False, title="Sessie zomer")
    fac = world["client"]("fac")
    url = f"/sessions/{draft.id}"
    detail = fac.get(url).get_data(as_text=True)
    assert f'href="{url}/open"' in detail  # a link to the confirm page, not a button that opens
    unconfirmed = post(fac, f"{url}/open", token_from=url)
    assert unconfirmed.status_code == 302 and unconfirmed.headers["Location"].endswith(
        f"{url}/open"
    )
    assert sessions.get_session(db, draft.id).state == "draft"
    confirm = fac.get(f"{url}/open").get_data(as_text=True)
    assert "Sessie zomer" in confirm and "Vlinder" in confirm and "A-1" in confirm
    assert "Sessie voorjaar" in confirm and f"/sessions/{other.id}" in confirm
    assert sessions.get_session(db, draft.id).state == "draft"  # a GET never writes
    confirmed = post(fac, f"{url}/open", {"confirm": "1"}, token_from=f"{url}/open")
    assert confirmed.status_code == 302
    assert sessions.get_session(db, draft.id).state == "open"


# --- decisions ------------------------------------------------------------------------------


def _closed(db, w):
    session = _session(db, w)
    return sessions.close_session(db, w["fac"], session.id)


def test_the_adapt_fields_start_from_the_rule_as_it_is(db, world):
    session = _closed(db, world)
    a = world["a"].id
    page = world["client"]("fac").get(f"/sessions/{session.id}").get_data(as_text=True)
    card = page[page.index(f'id="rule-{a}"') :]
    assert re.search(rf'id="d{a}-new_title"[^>]*value="Taart"', card)
    assert re.search(rf'id="d{a}-new_description"[^>]*>\s*Geen taart van familie.</textarea>', card)
    assert re.search(rf'id="d{a}-new_minutes_per_week"[^>]*value="60"', card)


def test_adapting_only_the_minutes(db, world):
    session = _closed(db, world)
    a = world["a"].id
    fac = world["client"]("fac")
    url = f"/sessions/{session.id}"
    response = post(
        fac,
        f"{url}/rules/{a}/decision",
        {
            f"d{a}-outcome": "adapt",
            f"d{a}-rationale": "Minder vaak",
            f"d{a}-new_title": "Taart",
            f"d{a}-new_description": "Geen taart van familie.",
            f"d{a}-new_minutes_per_week": "20",
            f"d{a}-strategy_id": str(strategies.by_key(db, "time")["id"]),
            "apply": "1",
        },
        token_from=url,
    )
    assert response.status_code == 302
    rule = rules.get_rule(db, a)
    assert (rule.title, rule.description, rule.minutes_per_week, rule.status) == (
        "Taart",
        "Geen taart van familie.",
        20,
        "adapted",
    )


def test_the_domain_adapts_only_the_minutes(db, world):
    session = _closed(db, world)
    a = world["a"].id
    with pytest.raises(ValidationError) as raised:
        decisions.record_decision(db, world["fac"], session.id, a, outcome="adapt", rationale="x")
    assert "new_description" in raised.value.errors
    decisions.record_decision(
        db,
        world["fac"],
        session.id,
        a,
        outcome="adapt",
        rationale="x",
        new_minutes_per_week=15,
        strategy_id=strategies.by_key(db, "time")["id"],
    )
    decisions.apply_decision(db, world["fac"], session.id, a)
    rule = rules.get_rule(db, a)
    assert (rule.title, rule.description, rule.minutes_per_week) == (
        "Taart",
        "Geen taart van familie.",
        15,
    )


def test_applying_a_drop_asks_for_confirmation(db, world):
    session = _closed(db, world)
    a = world["a"].id
    fac = world["client"]("fac")
    url = f"/sessions/{session.id}"
    saved = post(
        fac,
        f"{url}/rules/{a}/decision",
        {f"d{a}-outcome": "drop", f"d{a}-rationale": "Niemand mist het", "apply": "1"},
        token_from=url,
    )
    confirm_url = f"{url}/rules/{a}/apply"
    assert saved.status_code == 302 and saved.headers["Location"].endswith(confirm_url)
    assert decisions.get_decision(db, session.id, a)["applied_at"] is None
    assert rules.get_rule(db, a).status == "under_review"
    detail = fac.get(url).get_data(as_text=True)
    assert f'href="{confirm_url}"' in detail
    unconfirmed = post(fac, confirm_url, token_from=url)
    assert unconfirmed.status_code == 302 and unconfirmed.headers["Location"].endswith(confirm_url)
    assert rules.get_rule(db, a).status == "under_review"
    page = fac.get(confirm_url).get_data(as_text=True)
    assert "Taart" in page and "Niemand mist het" in page and 'name="confirm"' in page
    assert rules.get_rule(db, a).status == "under_review"
    seen = re.search(r'name="seen" value="([^"]*)"', page).group(1)
    done = post(fac, confirm_url, {"confirm": "1", "seen": seen}, token_from=confirm_url)
    assert done.status_code == 302
    assert rules.get_rule(db, a).status == "dropped"


def test_keep_is_applied_without_a_confirm_step(db, world):
    session = _closed(db, world)
    b = world["b"].id
    fac = world["client"]("fac")
    url = f"/sessions/{session.id}"
    post(
        fac,
        f"{url}/rules/{b}/decision",
        {f"d{b}-outcome": "keep", f"d{b}-rationale": "Moet van de wet", "apply": "1"},
        token_from=url,
    )
    assert decisions.get_decision(db, session.id, b)["applied_at"]
