"""Anonymous ballots stay anonymous: to whoever holds the database file, a backup, an admin
account or the facilitator role. The attacks live in tests/anonymity_attacks.py; the load suite
runs them at full size (tests/test_load_anonymity.py)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from audit import create_app
from audit.core.errors import Conflict
from audit.domain import ballots, events, sessions, users
from audit.store import backup
from audit.store.db import apply_migrations, connect
from tests import anonymity_attacks as attack
from tests.conftest import Auth, make_rule, make_team, make_user, post

MEMBERS = 5


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


def _open(db, w, anonymous: bool = True, **fields):
    session = sessions.create_session(
        db,
        w["fac"],
        title="Schrapsessie",
        team_ids=[w["team"]["id"]],
        rule_ids=w["rules"],
        mode="online",
        anonymous=anonymous,
        **fields,
    )
    return sessions.open_session(db, w["fac"], session.id)


def _vote(app, db, session, member, rule_id, choice, reason=""):
    ballots.cast_vote(db, app.config["SECRET_KEY"], member, session.id, rule_id, choice, reason)


def _choose(index: int, rule_id: int) -> str:
    return ("keep", "drop", "adapt")[(index + rule_id) % 3]


def _client(app, username):
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    return client


# --- the database file: the timing join and the link across rules ------------------------------


def test_timing_join_names_no_one(app, db, world):
    time = attack.Clock()
    session = _open(db, world)
    voting = attack.log_in_and_vote(app, db, time, session, world["members"], _choose)
    # Five members logged in and voted 2.5 s apart: the join of every time in the database
    # with the ballots has nothing to join, so it names no one.
    guesses = attack.timing_join(db, session.id)
    secret = app.config["SECRET_KEY"]
    assert attack.identified(secret, session, world["members"], guesses) == []
    assert guesses == {}
    # Nothing in the database carries a time between the first vote and the last: no casting
    # time, no event per vote, and logins only by the day.
    assert attack.times_within(db, voting.first_vote, voting.last_vote) == []
    assert not [c for c in db["ballots"].columns_dict if c.endswith("_at")]
    assert {u["last_login_at"] for u in users.list_users(db) if u["last_login_at"]} == {
        "2026-03-02"
    }
    assert {r[0] for r in db.execute("SELECT created_at FROM login_sessions")} == {"2026-03-02"}
    actions = [e["action"] for e in events.history(db, "review_session", session.id)]
    assert "ballot" not in actions


def test_ballots_of_one_member_share_nothing_across_rules(app, db, world):
    session = _open(db, world)
    for member in world["members"]:
        for rule_id in session.rule_ids:
            _vote(app, db, session, member, rule_id, "drop")
    assert attack.linked_ballots(db, session.id) == []
    keys = [r[0] for r in db.execute("SELECT voter_key FROM ballots")]
    assert len(set(keys)) == len(keys) == MEMBERS * 2
    marks = {r[0] for r in db.execute("SELECT voter_key FROM session_voters")}
    assert marks.isdisjoint(keys)  # who took part is kept apart from what anyone voted
    assert {r[0] for r in db.execute("SELECT voter_id FROM ballots")} == {None}
    # The member still sees and changes their own votes, with the secret.
    anna = world["members"][0]
    _vote(app, db, session, anna, session.rule_ids[1], "keep")
    mine = ballots.my_ballots(db, app.config["SECRET_KEY"], session, anna.id)
    assert {r: v["choice"] for r, v in mine.items()} == dict(
        zip(session.rule_ids, ["drop", "keep"], strict=True)
    )
    assert sessions.voter_count(db, session.id) == MEMBERS


def _voted_in_order(tmp_path, name: str, order: list[int], gap: float):
    """A fresh database where the same members cast the same votes, in ``order``."""
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "same", "DATABASE": str(tmp_path / f"{name}.sqlite3")}
    )
    time = attack.Clock()
    db = connect(app.config["DATABASE"])
    w = _world(db)
    session = _open(db, w)
    attack.log_in_and_vote(app, db, time, session, w["members"], _choose, gap=gap, order=order)
    time.at = attack.START  # the same clock again for whatever comes after the votes
    return app, db, session


def test_row_positions_do_not_follow_casting_order(tmp_path):
    forward = _voted_in_order(tmp_path, "forward", [0, 1, 2, 3, 4], 2.5)
    backward = _voted_in_order(tmp_path, "backward", [4, 3, 2, 1, 0], 7.0)
    # Same votes, cast in the opposite order at other times: the ballots read the same, row by
    # row, so their order tells nothing about who voted when.
    (_, db_f, s_f), (_, db_b, s_b) = forward, backward
    assert attack.storage_order(db_f, s_f.id) == attack.storage_order(db_b, s_b.id)
    assert list(db_f.execute("SELECT * FROM session_voters")) == list(
        db_b.execute("SELECT * FROM session_voters")
    )
    # And a backup of each holds them laid out identically, byte for byte; so does the live
    # file once the facilitator has closed the session.
    copies, live = [], []
    for (app, db, session), name in ((forward, "f"), (backward, "b")):
        out = tmp_path / f"backup-{name}.sqlite3"
        backup.backup(app.config["DATABASE"], out)
        copies.append(attack.ballot_pages(out))
        sessions.close_session(db, _facilitator(db, session), session.id)
        live.append(attack.ballot_pages(Path(app.config["DATABASE"])))
        db.close()
    assert copies[0] == copies[1]
    assert live[0] == live[1]


def _facilitator(db, session):
    return users.get_user(db, session.facilitator_id)


@pytest.mark.parametrize("secure_delete", [True, False])
def test_a_changed_vote_leaves_no_old_bytes(app, db, world, tmp_path, secure_delete):
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1  # every connection sets it
    if not secure_delete:
        # The control: without it the same steps do leave the old vote in the file, so the
        # check below can see it (some SQLite builds have it on by default, others not).
        db.execute("PRAGMA secure_delete = OFF")
    session = _open(db, world)
    anna = world["members"][0]
    first = "Eerste gedachte: weg ermee! " * 10  # longer than the vote that replaces it
    _vote(app, db, session, anna, session.rule_ids[0], "drop", first)
    _vote(app, db, session, anna, session.rule_ids[0], "keep", "Toch")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out = tmp_path / "copy.sqlite3"
    backup.backup(app.config["DATABASE"], out)
    for path in (app.config["DATABASE"], out):
        raw = Path(path).read_bytes()
        assert b"Toch" in raw
        if secure_delete:
            assert b"Eerste gedachte" not in raw, path
    if not secure_delete:
        assert b"Eerste gedachte" in Path(app.config["DATABASE"]).read_bytes()


# --- the facilitator: the close/reopen difference attack ----------------------------------------


def test_close_read_reopen_one_more_vote_is_refused(app, db, world):
    session = _open(db, world)
    members = world["members"]
    for index, member in enumerate(members[:4]):
        for rule_id in session.rule_ids:
            _vote(app, db, session, member, rule_id, _choose(index, rule_id))
    before, reopened = attack.close_read_reopen(db, world["fac"], session.id)
    assert before is not None  # four voted: the results are out
    assert not reopened
    with pytest.raises(Conflict, match="stays closed"):
        sessions.reopen_session(db, world["admin"], session.id)
    with pytest.raises(Conflict, match="closed"):
        _vote(app, db, session, members[4], session.rule_ids[0], "drop")
    after = attack.tallies(ballots.results(db, sessions.get_session(db, session.id)))
    assert attack.difference_attack(before, after) == {}
    # The page offers no reopen either, to the facilitator or an admin.
    for name in ("fac", "boss"):
        page = _client(app, name).get(f"/sessions/{session.id}").get_data(as_text=True)
        assert f"/sessions/{session.id}/reopen" not in page


def test_reopen_below_the_minimum_reveals_nothing(app, db, world):
    session = _open(db, world)
    members = world["members"]
    for member in members[:2]:
        _vote(app, db, session, member, session.rule_ids[0], "keep")
    before, reopened = attack.close_read_reopen(db, world["fac"], session.id)
    assert before is None and reopened  # two voted: nothing was shown, so it may reopen
    _vote(app, db, session, members[2], session.rule_ids[0], "drop")
    sessions.close_session(db, world["fac"], session.id)
    after = attack.tallies(ballots.results(db, sessions.get_session(db, session.id)))
    assert after[session.rule_ids[0]] == {"keep": 2, "drop": 1, "adapt": 0, "abstain": 0}
    assert attack.difference_attack(before, after) == {}  # one view only: no difference


def test_a_named_session_reopens_as_before(app, db, world):
    session = _open(db, world, anonymous=False)
    for member in world["members"]:
        _vote(app, db, session, member, session.rule_ids[0], "keep")
    _, reopened = attack.close_read_reopen(db, world["fac"], session.id)
    assert reopened


# --- the minimum number of voters ----------------------------------------------------------------


@pytest.mark.parametrize("voters,setting,shown", [(2, None, False), (3, None, True), (4, 5, False)])
def test_results_need_the_minimum_number_of_voters(app, db, world, voters, setting, shown):
    if setting is not None:
        app.config["ANONYMOUS_MIN_VOTERS"] = setting
    session = _open(db, world)
    for member in world["members"][:voters]:
        _vote(app, db, session, member, session.rule_ids[0], "drop", f"reden van {member.username}")
    sessions.close_session(db, world["fac"], session.id)
    with app.app_context():
        results = ballots.results(db, sessions.get_session(db, session.id))
    assert [r["withheld"] for r in results] == [not shown] * 2
    for name in ("fac", "boss", "m0"):
        page = _client(app, name).get(f"/sessions/{session.id}").get_data(as_text=True)
        assert ('id="withheld"' in page) is not shown
        assert ("reden van m0" in page) is shown
        assert ("Voorgestelde uitkomst" in page) is shown
    export = _client(app, "fac").get("/dashboard/report.xlsx")
    assert export.status_code == 200
    sheet = load_workbook(BytesIO(export.data))["Sessies"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    counted = [row[6:10] for row in rows if row[0] == "Schrapsessie"]
    assert len(counted) == 2
    assert any(any(row) for row in counted) is shown


def test_reasons_are_not_listed_in_casting_order(app, db, world):
    session = _open(db, world)
    for member, reason in zip(world["members"], ("zeker", "misschien", "anders"), strict=False):
        _vote(app, db, session, member, session.rule_ids[0], "drop", reason)
    sessions.close_session(db, world["fac"], session.id)
    reasons = ballots.results(db, session)[0]["reasons"]
    assert [r["reason"] for r in reasons] == ["anders", "misschien", "zeker"]


# --- counters ----------------------------------------------------------------------------------


def _participation(client, session_id) -> str | None:
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    if 'id="participation"' not in page:
        return None
    return page.split('id="participation">', 1)[1].split("</dd>", 1)[0]


def test_counters_do_not_tick_per_vote(app, db, world):
    session = _open(db, world)
    fac, member, viewer = (_client(app, n) for n in ("fac", "m4", "vera"))
    seen = []
    for member_index in range(4):
        _vote(app, db, session, world["members"][member_index], session.rule_ids[0], "keep")
        seen.append(_participation(fac, session.id))
        assert _participation(member, session.id) is None
        assert _participation(viewer, session.id) is None
        overview = member.get("/sessions/").get_data(as_text=True)
        assert "gestemd" not in overview
    # Five members, at least three to show results: the facilitator's band moves once in four
    # votes, never to a count of one more.
    assert (
        seen
        == ["Minder dan 3 van 5 leden hebben gestemd"] * 2
        + ["Minstens 3 van 5 leden hebben gestemd"] * 2
    )
    overview = fac.get("/sessions/").get_data(as_text=True)
    assert "Minstens 3 van 5 leden hebben gestemd" in overview
    sessions.close_session(db, world["fac"], session.id)
    assert _participation(member, session.id) == "4 van 5 leden hebben gestemd"  # results out


@pytest.mark.parametrize(
    "voters,eligible,expected",
    [
        (0, 30, ("fewer", 8)),
        (7, 30, ("fewer", 8)),
        (8, 30, ("at_least", 8)),
        (17, 30, ("at_least", 16)),
        (30, 30, ("at_least", 24)),
        (1, 2, ("fewer", 2)),
        (2, 2, ("at_least", 2)),
    ],
)
def test_participation_bands(app, db, voters, eligible, expected):
    w = _world(db, eligible)
    session = _open(db, w)
    for member in w["members"][:voters]:
        _vote(app, db, session, member, session.rule_ids[0], "keep")
    band = sessions.participation(db, session, w["fac"])
    assert (band["kind"], band["n"]) == expected
    assert sessions.participation(db, session, w["members"][0]) is None
    assert sessions.participation(db, session, w["viewer"]) is None


# --- who may close and reopen -------------------------------------------------------------------


def test_only_the_facilitator_or_an_admin_closes_and_reopens(app, db, world):
    session = _open(db, world, anonymous=False)
    with pytest.raises(Conflict, match="facilitator"):
        sessions.close_session(db, world["q2"], session.id)
    q2 = _client(app, "q2")
    url = f"/sessions/{session.id}"
    assert f"{url}/close" not in q2.get(url).get_data(as_text=True)
    response = post(q2, f"{url}/close", token_from=url, follow_redirects=True)
    assert "Alleen de gespreksleider van deze sessie of een beheerder" in response.get_data(
        as_text=True
    )
    assert sessions.get_session(db, session.id).state == "open"
    admin = _client(app, "boss")
    assert post(admin, f"{url}/close", token_from=url).status_code == 302
    assert sessions.get_session(db, session.id).state == "closed"
    post(q2, f"{url}/reopen", token_from=url)
    assert sessions.get_session(db, session.id).state == "closed"
    post(admin, f"{url}/reopen", token_from=url)
    assert sessions.get_session(db, session.id).state == "open"
    assert events.history(db, "review_session", session.id)[0]["actor_name"] == "boss"


def test_closing_an_anonymous_session_asks_for_confirmation(app, db, world):
    session = _open(db, world)
    fac = _client(app, "fac")
    url = f"/sessions/{session.id}"
    page = fac.get(url).get_data(as_text=True)
    assert 'name="final" value="1" required' in page
    response = post(fac, f"{url}/close", token_from=url, follow_redirects=True)
    assert "Vink het vakje aan" in response.get_data(as_text=True)
    assert sessions.get_session(db, session.id).state == "open"
    post(fac, f"{url}/close", {"final": "1"}, token_from=url)
    assert sessions.get_session(db, session.id).state == "closed"


# --- upgrading a database that holds old ballots ----------------------------------------------


def test_migration_unlinks_old_ballots(tmp_path, monkeypatch):
    from audit.store import db as db_module
    from audit.store import schema

    path = tmp_path / "old.sqlite3"
    old = connect(path)
    monkeypatch.setattr(db_module, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] <= 3])
    apply_migrations(old)
    old.execute("INSERT INTO teams (id, name, created_at) VALUES (1, 'T', '2026-01-01')")
    for user_id in (1, 2):
        old.execute(
            "INSERT INTO users (id, username, password_hash, role, created_at, last_login_at)"
            " VALUES (?, ?, 'x', 'member', '2026-01-01', '2026-03-02T10:00:07+00:00')",
            [user_id, f"u{user_id}"],
        )
        old.execute(
            "INSERT INTO login_sessions VALUES (?, ?, '2026-03-02T10:00:07+00:00')",
            [f"t{user_id}", user_id],
        )
    old.execute(
        "INSERT INTO rules (id, code, title, created_at, updated_at) VALUES"
        " (1, 'A', 'a', 'x', 'x'), (2, 'B', 'b', 'x', 'x')"
    )
    old.execute(
        "INSERT INTO review_sessions (id, title, mode, anonymous, state, quorum, facilitator_id,"
        " created_at, updated_at) VALUES (1, 's', 'online', 1, 'open', 1, 1, 'x', 'x')"
    )
    old.execute("INSERT INTO session_teams VALUES (1, 1)")
    old.execute("INSERT INTO team_members VALUES (1, 1), (1, 2)")
    old.execute("INSERT INTO session_rules VALUES (1, 1, 1), (1, 2, 2)")
    secret = "old-secret"
    session = sessions.ReviewSession(
        1, "s", "", "online", True, "open", None, None, 1, None, 1, "", "", None, 1, [1], ["T"]
    )
    session.rule_ids = [1, 2]
    for user_id in (1, 2):
        key = ballots.participant_key(secret, session, user_id)  # the old session-wide key
        for rule_id in (1, 2):
            old.execute(
                "INSERT INTO ballots (session_id, rule_id, voter_key, choice, cast_at)"
                " VALUES (1, ?, ?, 'keep', '2026-03-02T10:00:09+00:00')",
                [rule_id, key],
            )
            old.execute(
                "INSERT INTO events (at, actor_name, entity, entity_id, action, changes)"
                " VALUES ('2026-03-02T10:00:09+00:00', 'system', 'review_session', 1, 'ballot',"
                " '{}')"
            )
    old.close()
    monkeypatch.setattr(db_module, "MIGRATIONS", schema.MIGRATIONS)
    assert db_module.init_db(path) == [m[0] for m in schema.MIGRATIONS if m[0] > 3]
    # The upgrade writes the file afresh: no page of the old layout, nor any old time, is left.
    assert b"T10:00:0" not in path.read_bytes()
    old = connect(path)
    assert old.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert attack.linked_ballots(old, 1) == []
    assert "cast_at" not in old["ballots"].columns_dict
    assert old.execute("SELECT count(*) FROM events WHERE action = 'ballot'").fetchone()[0] == 0
    assert {r[0] for r in old.execute("SELECT last_login_at FROM users")} == {"2026-03-02"}
    assert {r[0] for r in old.execute("SELECT created_at FROM login_sessions")} == {"2026-03-02"}
    assert sessions.voter_count(old, 1) == 2
    old.execute(
        "INSERT INTO events (at, actor_name, entity, entity_id, action) VALUES"
        " ('2026-03-03', 'system', 'user', 1, 'update')"
    )
    user = users.User(1, "u1", "", "member", None, True, [1])
    ballots.cast_vote(old, secret, user, 1, 1, "drop")
    assert sessions.voter_count(old, 1) == 2  # the member who voted before counts once
    with pytest.raises(Exception, match="append-only"):  # append-only again
        old.execute("DELETE FROM events WHERE entity = 'user'")
    old.close()


def test_a_closed_ballot_page_shows_no_votes(app, db, world):
    # Someone logged in as the member (an admin who set their password) learns nothing once the
    # session has closed: the member no longer needs to see how they voted.
    session = _open(db, world)
    anna = world["members"][0]
    _vote(app, db, session, anna, session.rule_ids[0], "drop", "geheime reden")
    client = _client(app, anna.username)
    url = f"/sessions/{session.id}/vote"
    assert "geheime reden" in client.get(url).get_data(as_text=True)  # open: her own, to change
    sessions.close_session(db, world["fac"], session.id)
    page = client.get(url).get_data(as_text=True)
    assert "geheime reden" not in page and "Schrappen" not in page
    assert ballots.my_ballots(db, app.config["SECRET_KEY"], session, anna.id) == {}


def test_a_rule_with_too_few_votes_shows_no_count(app, db, world):
    session = _open(db, world)
    first, second = session.rule_ids
    for member in world["members"][:3]:
        _vote(app, db, session, member, first, "keep")
    _vote(app, db, session, world["members"][0], second, "drop", "alleen ik")
    sessions.close_session(db, world["fac"], session.id)
    by_rule = {r["rule"].id: r for r in ballots.results(db, session)}
    assert by_rule[first]["counts"]["keep"] == 3
    assert by_rule[second]["withheld"] and "counts" not in by_rule[second]
    page = _client(app, "fac").get(f"/sessions/{session.id}").get_data(as_text=True)
    card = page[page.index(f'id="rule-{second}"') :]
    assert "Minder dan 3 stemmen op deze regel" in card and "alleen ik" not in page


def test_only_the_facilitator_or_an_admin_changes_or_opens_a_draft(app, db, world):
    """Another quality manager's draft is theirs to prepare: a second quality manager can
    neither change its rules or teams nor open it, in the domain or through the pages."""
    draft = sessions.create_session(
        db,
        world["fac"],
        title="Concept",
        team_ids=[world["team"]["id"]],
        rule_ids=world["rules"],
        mode="online",
        anonymous=True,
    )
    with pytest.raises(Conflict, match="facilitator"):
        sessions.update_session(
            db,
            world["q2"],
            draft.id,
            title="Overgenomen",
            team_ids=[world["team"]["id"]],
            rule_ids=world["rules"][:1],
            mode="online",
            anonymous=False,
        )
    with pytest.raises(Conflict, match="facilitator"):
        sessions.open_session(db, world["q2"], draft.id)
    q2 = _client(app, "q2")
    url = f"/sessions/{draft.id}"
    page = q2.get(url).get_data(as_text=True)
    assert f"{url}/edit" not in page and f"{url}/open" not in page
    refused = q2.get(f"{url}/edit", follow_redirects=True).get_data(as_text=True)
    assert "Alleen de gespreksleider van deze sessie of een beheerder" in refused
    post(q2, f"{url}/open", {"confirm": "1"}, token_from=url)
    after = sessions.get_session(db, draft.id)
    assert (after.state, after.title, after.anonymous) == ("draft", "Concept", True)
    assert after.rule_ids == draft.rule_ids
    fac = _client(app, "fac")
    assert f"{url}/edit" in fac.get(url).get_data(as_text=True)
    admin = _client(app, "boss")
    post(admin, f"{url}/open", {"confirm": "1"}, token_from=url)
    assert sessions.get_session(db, draft.id).state == "open"


def test_only_the_facilitator_or_an_admin_enters_the_counts_of_a_show_of_hands(app, db, world):
    """Another quality manager could overwrite the counts the facilitator took in the room."""
    draft = sessions.create_session(
        db,
        world["fac"],
        title="Handen",
        team_ids=[world["team"]["id"]],
        rule_ids=world["rules"],
        mode="hands",
        anonymous=False,
    )
    session = sessions.open_session(db, world["fac"], draft.id)
    rule_id = world["rules"][0]
    counts = {rule_id: {"keep": 1, "adapt": 0, "drop": 2, "abstain": 0}}
    with pytest.raises(Conflict, match="facilitator"):
        ballots.enter_hands(db, world["q2"], session.id, present=3, counts=counts)
    q2 = _client(app, "q2")
    url = f"/sessions/{session.id}"
    assert f"{url}/hands" not in q2.get(url).get_data(as_text=True)
    ballots.enter_hands(db, world["fac"], session.id, present=3, counts=counts)
    assert f"{url}/hands" in _client(app, "fac").get(url).get_data(as_text=True)
