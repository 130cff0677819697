"""Concerns ("beren op de weg"): raised with a vote or in the room, listed with the results,
answered by the facilitator, and in an anonymous session kept as the ballots are."""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from audit import create_app
from audit.core.errors import Conflict, NotFound, ValidationError
from audit.domain import ballots, concerns, events, sessions
from audit.store import backup
from audit.store.db import connect
from audit.xlsx import export as xlsx_export
from tests import anonymity_attacks as attack
from tests.conftest import Auth, csrf_token, make_rule, make_team, make_user, post

MEMBERS = 4
FEAR = "De inspectie komt langs en dan staan we er slecht op"


def _world(db, members: int = MEMBERS) -> dict:
    team = make_team(db, "Vlinder")
    return {
        "team": team,
        "fac": make_user(db, "fac", "quality"),
        "q2": make_user(db, "q2", "quality"),
        "admin": make_user(db, "boss", "admin"),
        "viewer": make_user(db, "vera", "viewer", teams=[team]),
        "members": [
            make_user(db, f"m{i}", "member", teams=[team], display_name=f"Lid {i}")
            for i in range(members)
        ],
        "rules": [make_rule(db, code=f"R{i}", verified_origin="team").id for i in range(2)],
    }


@pytest.fixture
def world(db):
    return _world(db)


def _open(db, w, anonymous: bool = True, mode: str = "online"):
    session = sessions.create_session(
        db,
        w["fac"],
        title="Schrapsessie",
        team_ids=[w["team"]["id"]],
        rule_ids=w["rules"],
        mode=mode,
        anonymous=anonymous,
    )
    return sessions.open_session(db, w["fac"], session.id)


def _vote(app, db, session, member, rule_id, choice="drop", concern=None, reason=""):
    ballots.cast_vote(
        db, app.config["SECRET_KEY"], member, session.id, rule_id, choice, reason, concern
    )


def _client(app, username):
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    return client


def _closed_with_concerns(app, db, w, anonymous=True, voters=3):
    """Members vote drop on both rules, each with a concern on each rule; then the close."""
    session = _open(db, w, anonymous=anonymous)
    for i, member in enumerate(w["members"][:voters]):
        for rule_id in session.rule_ids:
            _vote(app, db, session, member, rule_id, concern=("incident", f"zorg {i} {rule_id}"))
    sessions.close_session(db, w["fac"], session.id)
    return sessions.get_session(db, session.id)


# --- raising a concern with a vote -----------------------------------------------------------


def test_a_concern_is_saved_changed_and_withdrawn_with_the_vote(app, db, world):
    session = _open(db, world)
    anna, rule_id = world["members"][0], world["rules"][0]
    secret = app.config["SECRET_KEY"]
    saved = ballots.cast_ballot(
        db, secret, anna, session.id, {rule_id: ("drop", "", ("inspectorate", FEAR))}
    )
    assert saved == [(rule_id, "drop")]
    assert ballots.my_ballots(db, secret, session, anna.id)[rule_id]["concern"] == (
        "inspectorate",
        FEAR,
    )
    # The same ballot again changes nothing; a changed concern alone is a change.
    assert (
        ballots.cast_ballot(
            db, secret, anna, session.id, {rule_id: ("drop", "", ("inspectorate", FEAR))}
        )
        == []
    )
    assert ballots.cast_ballot(
        db, secret, anna, session.id, {rule_id: ("drop", "", ("reaction", "Familie boos"))}
    ) == [(rule_id, "drop")]
    assert db.execute("SELECT kind, text FROM concerns").fetchall() == [
        ("reaction", "Familie boos")
    ]
    # A vote without a concern withdraws it.
    ballots.cast_ballot(db, secret, anna, session.id, {rule_id: ("keep", "", None)})
    assert ballots.my_ballots(db, secret, session, anna.id)[rule_id]["concern"] is None
    assert db.execute("SELECT count(*) FROM concerns").fetchone()[0] == 0


@pytest.mark.parametrize(
    "vote,field,message",
    [
        (("", "", ("incident", "zorg")), "choice", "a concern is saved with a vote"),
        (("drop", "", ("", "zorg")), "concern_kind", "Choose what kind"),
        (("drop", "", ("fear", "zorg")), "concern_kind", "Choose what kind"),
        (("drop", "", ("incident", "  ")), "concern_text", "Describe your concern"),
        (("drop", "", ("incident", "x" * 1001)), "concern_text", "At most 1000"),
    ],
)
def test_a_concern_needs_a_vote_a_kind_and_a_text(app, db, world, vote, field, message):
    session = _open(db, world)
    anna, (first, second) = world["members"][0], world["rules"]
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        ballots.cast_ballot(
            db, app.config["SECRET_KEY"], anna, session.id, {first: ("keep", ""), second: vote}
        )
    assert message in str(refused.value.errors[f"rule-{second}-{field}"][0])
    # All or nothing: the fine vote on the other rule is not saved either.
    assert db.execute("SELECT count(*) FROM ballots").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM concerns").fetchone()[0] == 0


def test_the_ballot_page_ticks_describes_and_withdraws_a_concern(app, db, world):
    session = _open(db, world)
    client = _client(app, "m0")
    url = f"/sessions/{session.id}/vote"
    a, b = world["rules"]
    page = client.get(url).get_data(as_text=True)
    assert f'name="concern-{a}"' in page and "Ik zie een beer op de weg" in page
    assert "Angst voor de inspectie" in page
    # Ticked without a text: refused at its rule, everything typed kept.
    response = post(
        client,
        url,
        {
            f"choice-{a}": "drop",
            f"reason-{a}": "Weg",
            f"concern-{a}": "1",
            f"concern_kind-{a}": "incident",
            f"choice-{b}": "keep",
        },
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Beschrijf uw beer op de weg" in text
    assert re.search(rf'name="concern-{a}" value="1"\s+checked', text)
    assert 'value="incident" selected' in text and ">Weg</textarea>" in text
    # With a text it is saved, and shown again.
    response = post(
        client,
        url,
        {
            f"choice-{a}": "drop",
            f"concern-{a}": "1",
            f"concern_kind-{a}": "incident",
            f"concern_text-{a}": "Dan valt er iemand",
        },
    )
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert ">Dan valt er iemand</textarea>" in page and "met een beer op de weg" in page
    # Unticking withdraws it, whatever the fields still hold.
    post(
        client,
        url,
        {f"choice-{a}": "drop", f"concern_kind-{a}": "incident", f"concern_text-{a}": "Dan valt"},
    )
    assert db.execute("SELECT count(*) FROM concerns").fetchone()[0] == 0


def test_a_closed_anonymous_ballot_page_shows_no_concern(app, db, world):
    session = _closed_with_concerns(app, db, world)
    page = _client(app, "m0").get(f"/sessions/{session.id}/vote").get_data(as_text=True)
    assert "zorg 0" not in page
    assert ballots.my_ballots(db, app.config["SECRET_KEY"], session, world["members"][0].id) == {}


# --- the database in hand ---------------------------------------------------------------------


def test_anonymous_concerns_hold_no_member_no_time_and_no_link(app, db, world):
    time = attack.Clock()
    session = _open(db, world)
    first = None
    for member in world["members"]:
        time.advance(2.5)
        assert Auth(app.test_client()).login(member.username).status_code == 302
        for rule_id in session.rule_ids:
            time.advance(0.4)
            first = first or time.at
            _vote(app, db, session, member, rule_id, concern=("reaction", "De familie"))
    # No member id, no time column, and no time anywhere from the first concern to the last.
    assert {r[0] for r in db.execute("SELECT voter_id FROM concerns")} == {None}
    assert not [c for c in db["concerns"].columns_dict if c.endswith("_at")]
    assert attack.times_within(db, first, time.at) == []
    # One member's concerns on two rules share no value but their (common) kind and text, and
    # a concern shares no key with any ballot or with who took part.
    rows = list(db.query("SELECT * FROM concerns"))
    assert len(rows) == MEMBERS * 2
    for column in ("concern_key",):
        assert len({r[column] for r in rows}) == len(rows)
    ballot_keys = {r[0] for r in db.execute("SELECT voter_key FROM ballots")}
    voter_keys = {r[0] for r in db.execute("SELECT voter_key FROM session_voters")}
    assert {r["concern_key"] for r in rows}.isdisjoint(ballot_keys | voter_keys)
    secret = app.config["SECRET_KEY"]
    anna = world["members"][0]
    hers = [concerns.concern_key(secret, session, r, anna.id) for r in session.rule_ids]
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in hers) and len(set(hers)) == 2
    assert set(hers) <= {r["concern_key"] for r in rows}  # only the secret finds hers
    # And no event of any vote or concern.
    actions = {e["action"] for e in events.history(db, "review_session", session.id)}
    assert not actions & {"ballot", "concern"}
    assert "De familie" not in json.dumps([dict(r) for r in db.query("SELECT * FROM events")])


def test_a_named_session_keeps_the_member_with_the_concern(app, db, world):
    session = _open(db, world, anonymous=False)
    anna = world["members"][0]
    _vote(app, db, session, anna, world["rules"][0], concern=("other", "Wat nu"))
    assert db.execute("SELECT voter_id, concern_key FROM concerns").fetchall() == [
        (anna.id, f"user:{anna.id}")
    ]


def _concerns_in_order(tmp_path, name: str, order: list[int]):
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "same", "DATABASE": str(tmp_path / f"{name}.sqlite3")}
    )
    db = connect(app.config["DATABASE"])
    w = _world(db)
    session = _open(db, w)
    time = attack.Clock()
    for index in order:
        time.advance(3)
        for rule_id in session.rule_ids:
            _vote(app, db, session, w["members"][index], rule_id, concern=("other", f"z{index}"))
    return app, db, session, w


def _pages(path: Path) -> list[bytes]:
    database = connect(path)
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = database.execute("PRAGMA page_size").fetchone()[0]
    numbers = [
        r[0]
        for r in database.execute(
            "SELECT pageno FROM dbstat WHERE name = 'concerns' ORDER BY pageno"
        )
    ]
    database.close()
    raw = path.read_bytes()
    return [raw[(n - 1) * size : n * size] for n in numbers]


def test_concern_rows_do_not_follow_the_order_they_came_in(tmp_path):
    forward = _concerns_in_order(tmp_path, "forward", [0, 1, 2, 3])
    backward = _concerns_in_order(tmp_path, "backward", [3, 2, 1, 0])
    rows = [
        list(db.execute("SELECT * FROM concerns WHERE session_id = ?", [s.id]))
        for _, db, s, _ in (forward, backward)
    ]
    assert rows[0] == rows[1]
    copies, live = [], []
    for (app, db, session, w), name in ((forward, "f"), (backward, "b")):
        out = tmp_path / f"backup-{name}.sqlite3"
        backup.backup(app.config["DATABASE"], out)
        copies.append(_pages(out))
        sessions.close_session(db, w["fac"], session.id)
        live.append(_pages(Path(app.config["DATABASE"])))
        db.close()
    assert copies[0] and copies[0] == copies[1]
    assert live[0] == live[1]


def test_a_changed_or_withdrawn_concern_leaves_no_old_bytes(app, db, world, tmp_path):
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    session = _open(db, world)
    anna, rule_id = world["members"][0], world["rules"][0]
    _vote(app, db, session, anna, rule_id, concern=("incident", "Eerste angst " * 20))
    _vote(app, db, session, anna, rule_id, concern=("incident", "Tweede"))
    _vote(app, db, session, world["members"][1], rule_id, concern=("other", "Ingetrokken " * 9))
    _vote(app, db, session, world["members"][1], rule_id, concern=None)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out = tmp_path / "copy.sqlite3"
    backup.backup(app.config["DATABASE"], out)
    for path in (app.config["DATABASE"], out):
        raw = Path(path).read_bytes()
        assert b"Tweede" in raw
        assert b"Eerste angst" not in raw and b"Ingetrokken" not in raw, path


# --- where concerns are shown ---------------------------------------------------------------


@pytest.mark.parametrize("voters,shown", [(2, False), (3, True)])
def test_concerns_need_the_minimum_number_of_voters(app, db, world, voters, shown):
    session = _closed_with_concerns(app, db, world, voters=voters)
    with app.app_context():
        listed = [r["concerns"] for r in ballots.results(db, session)]
    assert all(bool(c) is shown for c in listed)
    for name in ("fac", "boss", "m0", "vera"):
        page = _client(app, name).get(f"/sessions/{session.id}").get_data(as_text=True)
        assert ("zorg 0" in page) is shown, name
    book = load_workbook(BytesIO(_client(app, "fac").get("/dashboard/report.xlsx").data))
    texts = [row[4] for row in book["Beren op de weg"].iter_rows(min_row=2, values_only=True)]
    assert bool(texts) is shown


def test_a_rule_with_too_few_votes_shows_no_concern(app, db, world):
    session = _open(db, world)
    first, second = world["rules"]
    for member in world["members"][:3]:
        _vote(app, db, session, member, first, concern=("other", f"veel {member.username}"))
    _vote(app, db, session, world["members"][3], second, concern=("other", "alleen ik"))
    sessions.close_session(db, world["fac"], session.id)
    with app.app_context():
        by_rule = {r["rule"].id: r for r in ballots.results(db, session)}
    assert len(by_rule[first]["concerns"]) == 3
    assert by_rule[second]["withheld"] and by_rule[second]["concerns"] == []
    page = _client(app, "fac").get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "veel m0" in page and "alleen ik" not in page
    book = load_workbook(BytesIO(_client(app, "fac").get("/dashboard/report.xlsx").data))
    texts = [row[4] for row in book["Beren op de weg"].iter_rows(min_row=2, values_only=True)]
    assert "alleen ik" not in texts and "veel m0" in texts
    # Nor can the facilitator answer it, since nobody sees it.
    key = concerns.concern_key(app.config["SECRET_KEY"], session, second, world["members"][3].id)
    with pytest.raises(NotFound):
        ballots.answer_concern(
            db, world["fac"], session.id, second, key, "Gezien", expected_answer_version=0
        )


def test_concerns_are_hidden_while_the_session_is_open(app, db, world):
    session = _open(db, world, anonymous=False)
    for member in world["members"]:
        _vote(app, db, session, member, world["rules"][0], concern=("other", "nog open"))
    for name in ("fac", "boss", "m1"):
        page = _client(app, name).get(f"/sessions/{session.id}").get_data(as_text=True)
        assert "nog open" not in page


def test_concerns_are_not_listed_in_the_order_they_came_in(app, db, world):
    session = _open(db, world)
    texts = ("zeker", "misschien", "anders")
    for member, text in zip(world["members"], texts, strict=False):
        _vote(app, db, session, member, world["rules"][0], concern=("other", text))
    _vote(app, db, session, world["members"][3], world["rules"][0], concern=("incident", "zz"))
    sessions.close_session(db, world["fac"], session.id)
    with app.app_context():
        listed = ballots.results(db, sessions.get_session(db, session.id))[0]["concerns"]
    assert [(c["kind"], c["text"]) for c in listed] == [
        ("incident", "zz"),
        ("other", "anders"),
        ("other", "misschien"),
        ("other", "zeker"),
    ]


def test_no_name_with_anonymous_concerns_on_any_page_or_export(app, db, world):
    session = _closed_with_concerns(app, db, world)
    names = [m.display_name for m in world["members"]] + [m.username for m in world["members"]]
    for who in ("fac", "boss", "m0", "vera"):
        client = _client(app, who)
        others = [n for n in names if n not in (who, "Lid 0" if who == "m0" else "")]
        for url in (f"/sessions/{session.id}", "/sessions/", f"/teams/{world['team']['id']}"):
            page = client.get(url).get_data(as_text=True)
            assert not [n for n in others if re.search(rf"\b{re.escape(n)}\b", page)], (who, url)
    page = _client(app, "fac").get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "zorg 0" in page and "Een incident" in page
    book = load_workbook(BytesIO(_client(app, "fac").get("/dashboard/report.xlsx").data))
    rows = list(book["Beren op de weg"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 6 and {row[5] for row in rows} == {None}
    # (The History sheet names the members where their accounts were made; no sheet of
    # results does.)
    results = [book[name] for name in ("Sessies", "Beren op de weg", "Besluiten")]
    everything = json.dumps([[c.value for c in r] for ws in results for r in ws.iter_rows()])
    assert not [n for n in names if re.search(rf"\b{re.escape(n)}\b", everything)]


def test_a_named_session_shows_the_name_with_the_concern(app, db, world):
    session = _closed_with_concerns(app, db, world, anonymous=False)
    page = _client(app, "m1").get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Lid 0" in page and "zorg 0" in page
    report = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, report, lang="en")
    rows = list(load_workbook(report)["Concerns"].iter_rows(min_row=2, values_only=True))
    assert rows[0][:2] == ("Schrapsessie", "R0")
    assert {row[5] for row in rows} == {"Lid 0", "Lid 1", "Lid 2"}
    assert {row[3] for row in rows} == {"An incident"}


# --- answering ----------------------------------------------------------------------------------


def _first(db, session, rule_id=None):
    with_rules = concerns.listed(db, session)
    return with_rules[rule_id or session.rule_ids[0]][0]


def test_the_facilitator_answers_and_changes_the_answer(app, db, world):
    session = _closed_with_concerns(app, db, world)
    rule_id = session.rule_ids[0]
    found = _first(db, session)
    with app.app_context():
        ballots.answer_concern(
            db,
            world["fac"],
            session.id,
            rule_id,
            found["key"],
            "Besproken",
            expected_answer_version=0,
        )
        ballots.answer_concern(
            db,
            world["admin"],
            session.id,
            rule_id,
            found["key"],
            "Besproken met de inspectie",
            expected_answer_version=1,
        )
        # A form loaded before that second answer is refused, not saved over it.
        with pytest.raises(Conflict, match="Someone else answered"):
            ballots.answer_concern(
                db,
                world["fac"],
                session.id,
                rule_id,
                found["key"],
                "Oud",
                expected_answer_version=1,
            )
        with pytest.raises(ValidationError):
            ballots.answer_concern(
                db,
                world["fac"],
                session.id,
                rule_id,
                found["key"],
                "  ",
                expected_answer_version=2,
            )
    assert _first(db, session)["answer"] == "Besproken met de inspectie"
    # The answer is shown beside the concern to everyone who sees it.
    page = _client(app, "m0").get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Besproken met de inspectie" in page
    assert "/concerns/answer" not in page  # a member gets no form
    # Each answer is an event that names the rule and the answer, never the concern or member.
    answers = [
        e
        for e in events.history(db, "review_session", session.id)
        if e["action"] == "concern_answer"
    ]
    assert len(answers) == 2
    logged = json.dumps([dict(e) for e in answers], default=str)
    assert found["key"] not in logged and "zorg" not in logged
    assert not any(f'"{m.id}"' in logged or m.username in logged for m in world["members"])


def test_answering_through_the_page(app, db, world):
    session = _closed_with_concerns(app, db, world, anonymous=False)
    client = _client(app, "fac")
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Deze beer op de weg beantwoorden" in page
    rule_id = session.rule_ids[0]
    found = _first(db, session)
    url = f"/sessions/{session.id}/rules/{rule_id}/concerns/answer"
    token = csrf_token(client, f"/sessions/{session.id}")
    refused = client.post(
        url, data={"csrf_token": token, "key": found["key"], "version": "0", "answer": ""}
    )
    assert refused.status_code == 400
    assert "Schrijf het antwoord" in refused.get_data(as_text=True)
    stale = client.post(
        url, data={"csrf_token": token, "key": found["key"], "version": "7", "answer": "Mijn tekst"}
    )
    assert stale.status_code == 409
    assert "Mijn tekst</textarea>" in stale.get_data(as_text=True)  # nothing typed is lost
    saved = client.post(
        url, data={"csrf_token": token, "key": found["key"], "version": "0", "answer": "Opgelost"}
    )
    assert saved.status_code == 302
    assert "Opgelost" in client.get(f"/sessions/{session.id}").get_data(as_text=True)


def test_only_the_facilitator_or_an_admin_answers(app, db, world):
    session = _closed_with_concerns(app, db, world)
    rule_id = session.rule_ids[0]
    found = _first(db, session)
    with app.app_context():
        for who in (world["q2"], world["members"][0], world["viewer"]):
            with pytest.raises(Conflict, match="facilitator"):
                ballots.answer_concern(
                    db, who, session.id, rule_id, found["key"], "x", expected_answer_version=0
                )
    url = f"/sessions/{session.id}/rules/{rule_id}/concerns/answer"
    for name, status in (("m0", 403), ("vera", 403), ("q2", 302)):
        client = _client(app, name)
        token = csrf_token(client, f"/sessions/{session.id}")
        response = client.post(
            url, data={"csrf_token": token, "key": found["key"], "version": "0", "answer": "x"}
        )
        assert response.status_code == status, name
    # The quality manager's page (the one the refusal leads to) says why, with no form.
    q2_page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "/concerns/answer" not in q2_page
    assert "Alleen de gespreksleider van deze sessie of een beheerder kan beren" in q2_page
    assert _first(db, session)["answer"] == ""


def test_no_answer_before_the_close(app, db, world):
    session = _open(db, world, anonymous=False)
    _vote(app, db, session, world["members"][0], world["rules"][0], concern=("other", "vroeg"))
    key = _first(db, session)["key"]
    with pytest.raises(Conflict, match="closed"):
        ballots.answer_concern(
            db, world["fac"], session.id, world["rules"][0], key, "x", expected_answer_version=0
        )


def test_forged_concern_keys_rules_and_sessions(app, db, world):
    session = _closed_with_concerns(app, db, world)
    other = _closed_with_concerns(app, db, world)
    rule_id = session.rule_ids[0]
    key = _first(db, session)["key"]
    client = _client(app, "fac")
    token = csrf_token(client, f"/sessions/{session.id}")
    base = {"csrf_token": token, "version": "0", "answer": "x"}
    forged = [
        (session.id, rule_id, "0" * 64),  # no such concern
        (session.id, rule_id, "user:1"),  # a named key in an anonymous session
        (session.id, rule_id, "' OR 1=1 --"),  # not a key at all
        (session.id, session.rule_ids[1], key),  # the key on another rule
        (other.id, rule_id, key),  # the key in another session
        (session.id, 99999999999999999, key),  # a rule id out of range
    ]
    for session_id, rule, forged_key in forged:
        url = f"/sessions/{session_id}/rules/{rule}/concerns/answer"
        response = client.post(url, data={**base, "key": forged_key})
        assert response.status_code == 404, (session_id, rule, forged_key)
    missing_version = client.post(
        f"/sessions/{session.id}/rules/{rule_id}/concerns/answer",
        data={"csrf_token": token, "key": key, "answer": "x"},
    )
    assert missing_version.status_code == 409
    assert all(c["answer"] == "" for cs in concerns.listed(db, session).values() for c in cs)
    # A key of one's own cannot be planted on a vote either: it is worked out, never taken.
    assert (
        db.execute("SELECT count(*) FROM concerns WHERE concern_key = ?", ["0" * 64]).fetchone()[0]
        == 0
    )


# --- a show of hands: concerns raised in the room ---------------------------------------------


def test_the_facilitator_enters_concerns_raised_in_the_room(app, db, world):
    session = _open(db, world, mode="hands")
    rule_id = session.rule_ids[0]
    client = _client(app, "fac")
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Beren op de weg uit de zaal" in page
    url = f"/sessions/{session.id}/concerns"
    refused = post(
        client,
        url,
        {"rule_id": rule_id, "concern_kind": "incident"},
        token_from=f"/sessions/{session.id}",
    )
    assert refused.status_code == 400 and "Beschrijf uw beer op de weg" in refused.get_data(
        as_text=True
    )
    for text in ("Een val in de nacht", "Nog een val"):
        response = post(
            client,
            url,
            {"rule_id": rule_id, "concern_kind": "incident", "concern_text": text},
            token_from=f"/sessions/{session.id}",
        )
        assert response.status_code == 302
    rows = db.execute("SELECT concern_key, voter_id FROM concerns").fetchall()
    assert len(rows) == 2 and {r[1] for r in rows} == {None}
    assert all(re.fullmatch(r"[0-9a-f]{64}", r[0]) for r in rows)
    # Removed when entered by mistake; a forged key is a 404.
    listed = concerns.listed(db, session)[rule_id]
    gone = next(c for c in listed if c["text"] == "Nog een val")
    remove = f"/sessions/{session.id}/rules/{rule_id}/concerns/remove"
    assert (
        post(client, remove, {"key": "f" * 64}, token_from=f"/sessions/{session.id}").status_code
        == 404
    )
    assert (
        post(client, remove, {"key": gone["key"]}, token_from=f"/sessions/{session.id}").status_code
        == 302
    )
    # Another quality manager cannot add one.
    with pytest.raises(Conflict, match="facilitator"):
        concerns.add_in_room(db, world["q2"], session.id, rule_id, "other", "x")
    # Not in an online session, and not once closed; the rest is shown with the results.
    sessions.close_session(db, world["fac"], session.id)
    with pytest.raises(Conflict):
        concerns.add_in_room(db, world["fac"], session.id, rule_id, "other", "laat")
    page = _client(app, "m0").get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Een val in de nacht" in page and "Nog een val" not in page
    online = _open(db, world)
    with pytest.raises(Conflict, match="with their vote"):
        concerns.add_in_room(db, world["fac"], online.id, rule_id, "other", "x")
    actions = [e["action"] for e in events.history(db, "review_session", session.id)]
    assert actions.count("concern") == 2 and actions.count("concern_removed") == 1


def test_the_demo_has_concerns_and_one_answered(app, db):
    from audit import demo

    with app.app_context():
        demo.seed(db, app.config["SECRET_KEY"])
    spring = next(s for s in sessions.all_sessions(db) if s.mode == "hands")
    listed = [c for cs in concerns.listed(db, spring).values() for c in cs]
    assert len(listed) >= 3
    assert len([c for c in listed if c["answer"]]) == 1


def test_concern_text_and_answer_are_escaped_and_written_as_text(app, db, world):
    payload = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    formula = '=HYPERLINK("http://x","klik")'
    session = _open(db, world, anonymous=False)
    for member in world["members"][:3]:
        _vote(app, db, session, member, world["rules"][0], concern=("other", payload))
    _vote(app, db, session, world["members"][3], world["rules"][0], concern=("other", formula))
    sessions.close_session(db, world["fac"], session.id)
    key = _first(db, session)["key"]
    with app.app_context():
        ballots.answer_concern(
            db,
            world["fac"],
            session.id,
            world["rules"][0],
            key,
            payload,
            expected_answer_version=0,
        )
    page = _client(app, "fac").get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    book = load_workbook(BytesIO(_client(app, "fac").get("/dashboard/report.xlsx").data))
    cells = [c for row in book["Beren op de weg"].iter_rows(min_row=2) for c in row]
    assert formula in {c.value for c in cells}
    assert all(c.data_type != "f" for c in cells)


def test_a_concern_changed_after_a_reopen_loses_the_old_answer(app, db, world):
    session = _open(db, world, anonymous=False)
    anna, bert = world["members"][:2]
    rule_id = world["rules"][0]
    _vote(app, db, session, anna, rule_id, concern=("other", "Eerst dit"))
    _vote(app, db, session, bert, rule_id, concern=("other", "Blijft"))
    sessions.close_session(db, world["fac"], session.id)
    for found in concerns.listed(db, session)[rule_id]:
        ballots.answer_concern(
            db, world["fac"], session.id, rule_id, found["key"], "Gezien", expected_answer_version=0
        )
    sessions.reopen_session(db, world["fac"], session.id)
    _vote(app, db, session, anna, rule_id, concern=("other", "Nu dit"))
    _vote(app, db, session, bert, rule_id, "keep", concern=("other", "Blijft"))
    answers = {
        c["text"]: (c["answer"], c["answer_version"]) for c in concerns.listed(db, session)[rule_id]
    }
    assert answers == {"Nu dit": ("", 2), "Blijft": ("Gezien", 1)}
