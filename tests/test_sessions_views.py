import re

import pytest

from audit.domain import ballots, decisions, rules, sessions
from tests.conftest import Auth, make_rule, make_team, make_user, post

SECRET = "test"


@pytest.fixture
def world(app, db):
    vlinder = make_team(db, "Vlinder")
    zon = make_team(db, "Zon")
    fac = make_user(db, "fac", "quality")
    anna = make_user(db, "anna", "member", teams=[vlinder], display_name="Anna de Wit")
    bert = make_user(db, "bert", "member", teams=[vlinder], display_name="Bert Bos")
    zoe = make_user(db, "zoe", "member", teams=[zon])
    a = make_rule(
        db,
        code="A-1",
        title="Taart",
        verified_origin="team",
        perceived_origin="law",
        relation_impact="hinders",
        minutes_per_week=60,
    )
    b = make_rule(
        db, code="B-1", title="Toestemming", verified_origin="law", source_reference="Wzd art. 2"
    )

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
        "zoe": zoe,
        "a": a,
        "b": b,
        "client": client,
    }


def _open(db, w, **fields):
    values = {
        "title": "Schrapsessie juni",
        "team_ids": [w["vlinder"]["id"]],
        "rule_ids": [w["a"].id, w["b"].id],
        "mode": "online",
        "anonymous": True,
    }
    values.update(fields)
    session = sessions.create_session(db, w["fac"], **values)
    return sessions.open_session(db, w["fac"], session.id)


def _count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_create_session_through_the_form(db, world):
    fac = world["client"]("fac")
    page = fac.get("/sessions/new?candidates=1").get_data(as_text=True)
    assert f'value="{world["a"].id}" checked' in page  # the dashboard's top candidate
    response = post(
        fac,
        "/sessions/new",
        {
            "title": "Schrapsessie juni",
            "team_ids": [str(world["vlinder"]["id"])],
            "rule_ids": [str(world["a"].id), str(world["b"].id)],
            "mode": "online",
            "anonymous": "y",
            "opens_at": "",
            "closes_at": "2030-06-30T17:00",
            "quorum": "",
        },
    )
    assert response.status_code == 302
    session = sessions.list_sessions(db)[0]["session"]
    assert session.title == "Schrapsessie juni" and session.quorum == 1
    assert session.closes_at.isoformat() == "2030-06-30T15:00:00+00:00"  # Amsterdam summer time


def test_session_form_errors_keep_input(db, world):
    fac = world["client"]("fac")
    response = post(
        fac, "/sessions/new?q=taart", {"title": "Mijn sessie", "mode": "online", "quorum": "-1"}
    )
    text = response.get_data(as_text=True)
    assert 'value="Mijn sessie"' in text
    assert 'id="team_ids-error"' in text or "Kies minstens één team." in text
    assert _count(db, "review_sessions") == 0


def test_picker_follows_the_register_filter(db, world):
    make_rule(db, code="Z-9", title="Iets heel anders")
    page = world["client"]("fac").get("/sessions/new?q=taart").get_data(as_text=True)
    assert "A-1" in page and "Z-9" not in page


def test_member_sees_and_votes(db, world):
    session = _open(db, world)
    anna = world["client"]("anna")
    start = anna.get("/").get_data(as_text=True)
    assert "Schrapsessie juni" in start and f"/sessions/{session.id}/vote" in start
    page = anna.get(f"/sessions/{session.id}/vote").get_data(as_text=True)
    assert "Waarom bestaat deze regel?" in page  # reflection questions
    assert "Wzd art. 2" in page  # source of the mandatory rule
    block_b = page[page.index(f'id="rule-{world["b"].id}"') :]
    assert 'value="drop"' not in block_b  # keep and adapt only
    response = post(
        anna,
        f"/sessions/{session.id}/vote",
        {f"choice-{world['a'].id}": "drop", f"reason-{world['a'].id}": "Kost tijd"},
        token_from=f"/sessions/{session.id}/vote",
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{session.id}/vote")
    assert _count(db, "ballots") == 1
    again = anna.get(f"/sessions/{session.id}/vote").get_data(as_text=True)
    assert 'value="drop" checked' in again and "Kost tijd" in again


@pytest.mark.parametrize(
    "data,status,message",
    [
        ({"choice-999": "keep"}, 400, "hoort niet bij deze sessie"),
        ({"choice-abc": "keep"}, 400, "hoort niet bij deze sessie"),
        ({"choice-": "keep"}, 400, "hoort niet bij deze sessie"),
        ({"choice-A": "burn"}, 400, "Kies behouden, aanpassen, schrappen of blanco."),
        ({"choice-B": "drop"}, 400, "kan niet worden geschrapt"),
    ],
)
def test_bad_ballots_are_refused_with_a_message(db, world, data, status, message):
    session = _open(db, world)
    anna = world["client"]("anna")
    data = {
        name.replace("-A", f"-{world['a'].id}").replace("-B", f"-{world['b'].id}"): value
        for name, value in data.items()
    }
    response = post(
        anna, f"/sessions/{session.id}/vote", data, token_from=f"/sessions/{session.id}/vote"
    )
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert _count(db, "ballots") == 0


def test_closed_session_refuses_ballots_with_a_message(db, world):
    session = _open(db, world)
    anna = world["client"]("anna")
    token_page = f"/sessions/{session.id}/vote"
    from tests.conftest import csrf_token

    token = csrf_token(anna, token_page)
    sessions.close_session(db, world["fac"], session.id)
    response = anna.post(token_page, data={"csrf_token": token, f"choice-{world['a'].id}": "keep"})
    assert response.status_code == 409
    assert "Deze sessie is gesloten" in response.get_data(as_text=True)
    assert _count(db, "ballots") == 0


def test_a_ballot_in_flight_when_the_session_closes_is_refused(db, world, monkeypatch):
    session = _open(db, world)
    anna = world["client"]("anna")
    original = ballots.cast_ballot

    def close_first(*args, **kwargs):
        # The request has passed every check in the view; the facilitator closes now.
        sessions.close_session(db, world["fac"], session.id)
        return original(*args, **kwargs)

    monkeypatch.setattr(ballots, "cast_ballot", close_first)
    response = post(
        anna,
        f"/sessions/{session.id}/vote",
        {f"choice-{world['a'].id}": "keep"},
        token_from=f"/sessions/{session.id}/vote",
    )
    assert response.status_code == 409
    assert _count(db, "ballots") == 0


def test_other_team_viewer_and_anonymous_cannot_see_or_post(app, db, world):
    session = _open(db, world)
    zoe = world["client"]("zoe")
    assert zoe.get(f"/sessions/{session.id}/vote").status_code == 404
    assert zoe.get(f"/sessions/{session.id}").status_code == 404
    assert "Schrapsessie juni" not in zoe.get("/sessions/").get_data(as_text=True)
    from tests.conftest import csrf_token

    token = csrf_token(zoe, "/")
    assert (
        zoe.post(
            f"/sessions/{session.id}/vote",
            data={"csrf_token": token, f"choice-{world['a'].id}": "keep"},
        ).status_code
        == 404
    )
    make_user(db, "vera", "viewer", teams=[world["vlinder"]])
    vera = world["client"]("vera")
    assert vera.get(f"/sessions/{session.id}/vote").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(f"/sessions/{session.id}/vote").status_code == 302
    assert _count(db, "ballots") == 0


def test_results_hidden_until_closed_and_anonymous(app, db, world):
    app.config["ANONYMOUS_MIN_VOTERS"] = 2  # the team has two members
    session = _open(db, world)
    for who, choice in (("anna", "drop"), ("bert", "drop")):
        ballots.cast_vote(
            db, SECRET, world[who], session.id, world["a"].id, choice, f"reden van {who}"
        )
    anna, fac = world["client"]("anna"), world["client"]("fac")
    member_view = anna.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Uitslag" not in member_view and "reden van" not in member_view
    fac_view = fac.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Minstens 2 van 2 leden hebben gestemd" in fac_view  # a band, see test_anonymity
    assert "reden van" not in fac_view
    sessions.close_session(db, world["fac"], session.id)
    for client in (anna, fac):
        text = client.get(f"/sessions/{session.id}").get_data(as_text=True)
        assert "Voorgestelde uitkomst:" in text and "reden van anna" in text
        results = text[text.index('id="results-heading"') :]
        for name in ("Anna de Wit", "Bert Bos", ">anna<", ">bert<"):
            assert name not in results


def test_show_of_hands_form(db, world):
    session = _open(db, world, mode="hands")
    fac = world["client"]("fac")
    url = f"/sessions/{session.id}"
    a = world["a"].id
    bad = post(
        fac, f"{url}/hands", {"present": "3", f"r{a}-keep": "2", f"r{a}-drop": "2"}, token_from=url
    )
    text = bad.get_data(as_text=True)
    assert "4 handen, maar maar 3 mensen aanwezig." in text
    assert 'value="2"' in text  # input kept
    assert _count(db, "hand_counts") == 0
    good = post(
        fac, f"{url}/hands", {"present": "5", f"r{a}-keep": "1", f"r{a}-drop": "3"}, token_from=url
    )
    assert good.status_code == 302
    assert ballots.hand_counts(db, session.id)[a] == {
        "keep": 1,
        "adapt": 0,
        "drop": 3,
        "abstain": 0,
    }


def test_decide_and_apply_through_the_page(db, world):
    session = _open(db, world)
    sessions.close_session(db, world["fac"], session.id)
    fac = world["client"]("fac")
    url = f"/sessions/{session.id}"
    a, b = world["a"].id, world["b"].id
    refused = post(
        fac,
        f"{url}/rules/{b}/decision",
        {f"d{b}-outcome": "drop", f"d{b}-rationale": "weg"},
        token_from=url,
    )
    assert "kan niet worden geschrapt" in refused.get_data(as_text=True)
    response = post(
        fac,
        f"{url}/rules/{a}/decision",
        {f"d{a}-outcome": "drop", f"d{a}-rationale": "Niemand mist het", "apply": "1"},
        token_from=url,
    )
    assert response.status_code == 302  # to the page that confirms the drop
    confirm = f"{url}/rules/{a}/apply"
    seen = re.search(r'name="seen" value="([^"]*)"', fac.get(confirm).get_data(as_text=True))
    response = post(fac, confirm, {"confirm": "1", "seen": seen.group(1)}, token_from=confirm)
    assert response.status_code == 302
    assert rules.get_rule(db, a).status == "dropped"
    assert decisions.get_decision(db, session.id, a)["applied_at"]
    page = fac.get(url).get_data(as_text=True)
    assert "Niemand mist het" in page
    rule_page = fac.get(f"/rules/{a}").get_data(as_text=True)
    assert "besluit doorgevoerd" in rule_page


def test_member_cannot_decide(db, world):
    session = _open(db, world)
    sessions.close_session(db, world["fac"], session.id)
    anna = world["client"]("anna")
    from tests.conftest import csrf_token

    token = csrf_token(anna, "/")
    a = world["a"].id
    response = anna.post(
        f"/sessions/{session.id}/rules/{a}/decision",
        data={"csrf_token": token, f"d{a}-outcome": "drop", f"d{a}-rationale": "x"},
    )
    assert response.status_code == 403
    assert _count(db, "decisions") == 0


def test_reopen_only_by_facilitator_through_the_page(db, world):
    session = _open(db, world)
    sessions.close_session(db, world["fac"], session.id)
    make_user(db, "q2", "quality")
    other = world["client"]("q2")
    page = other.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert f"/sessions/{session.id}/reopen" not in page
    post(other, f"/sessions/{session.id}/reopen", token_from=f"/sessions/{session.id}")
    assert sessions.get_session(db, session.id).state == "closed"
    post(
        world["client"]("fac"),
        f"/sessions/{session.id}/reopen",
        token_from=f"/sessions/{session.id}",
    )
    assert sessions.get_session(db, session.id).state == "open"


def test_overview_lists_state_participation_and_decisions(db, world):
    session = _open(db, world, anonymous=False)  # anonymous ones show a band: test_anonymity
    ballots.cast_vote(db, SECRET, world["anna"], session.id, world["a"].id, "keep")
    text = world["client"]("fac").get("/sessions/").get_data(as_text=True)
    assert "Schrapsessie juni" in text
    assert re.search(r"1 van 2 leden hebben gestemd", text)
    assert "0 besloten, 0 doorgevoerd" in text
