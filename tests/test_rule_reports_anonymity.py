"""Anonymous reports of rules, attacked as someone holding the database, an admin account or
the quality manager's role would (docs/security.md, "Anonymous reports")."""

from __future__ import annotations

import hashlib
import hmac
import io
import re

import openpyxl
import pytest

from audit.domain import rule_reports
from tests.conftest import Auth, make_rule, make_team, make_user, post

SECRET = "test"  # the app fixture's SECRET_KEY
NAME, USERNAME = "Zygmunt Quorrel", "zq7"


@pytest.fixture
def world(db):
    team = make_team(db, "Vlinder", location="Noord")
    return {
        "team": team,
        "secret_one": make_user(db, USERNAME, "member", teams=[team], display_name=NAME),
        "open_one": make_user(db, "ot", "member", teams=[team], display_name="Olga Tromp"),
        "other": make_user(db, "bk", "member", teams=[team], display_name="Bart Kok"),
        "quality": make_user(db, "ilse", "quality", display_name="Ilse de Vries"),
        "admin": make_user(db, "beheer", "admin"),
    }


def _report(db, user, team, **values):
    values.setdefault("title", "Elke dag wegen")
    values.setdefault("minutes", "30")
    values.setdefault("why", "Het kost de tijd van het ontbijt")
    return rule_reports.submit(db, SECRET, user, team_id=team["id"], **values)


def _row(db, report_id) -> dict:
    return next(db.query("SELECT * FROM rule_reports WHERE id = ?", [report_id]))


def _every_value_in_the_database(db) -> list[tuple[str, str, object]]:
    found = []
    for (table,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'"):
        cursor = db.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cursor.description]
        for row in cursor:
            found += [(table, name, value) for name, value in zip(names, row, strict=True)]
    return found


def test_no_column_links_an_anonymous_report_to_its_reporter(db, world):
    me = world["secret_one"]
    report = _report(db, me, world["team"])
    row = _row(db, report.id)
    assert row["reporter_id"] is None and row["triaged_by"] is None
    # The only columns that could point at a user are these two; both are empty.
    links = {fk.column for fk in db["rule_reports"].foreign_keys if fk.other_table == "users"}
    assert links == {"reporter_id", "triaged_by"}
    # No exact time: the day only, anywhere in the row.
    assert row["reported_on"] == row["reported_on"][:10]
    assert not any(isinstance(v, str) and re.search(r"\d\d:\d\d", v) for v in row.values())
    # No event at all came from the reporter, and none is about the report.
    assert db.execute("SELECT count(*) FROM events WHERE actor_id = ?", [me.id]).fetchone()[0] == 0
    assert (
        db.execute(
            "SELECT count(*) FROM events WHERE entity = 'rule_report' AND entity_id = ?",
            [report.id],
        ).fetchone()[0]
        == 0
    )
    # The owner key is a keyed hash: without the secret, guessing the usual recipes fails.
    nonce, key = row["nonce"], row["owner_key"]
    guesses = [
        hashlib.sha256(f"report:{nonce}:{me.id}".encode()).hexdigest(),
        hashlib.sha256(f"{nonce}{me.id}".encode()).hexdigest(),
        hmac.new(b"", f"report:{nonce}:{me.id}".encode(), hashlib.sha256).hexdigest(),
        rule_reports.owner_key("", nonce, me.id),
        rule_reports.owner_key("secret", nonce, me.id),
    ]
    assert key not in guesses
    assert key == rule_reports.owner_key(SECRET, nonce, me.id)  # with the secret, it does
    # And whatever else the database holds: no value anywhere pairs this report with a user.
    holding_the_id = [
        (table, column)
        for table, column, value in _every_value_in_the_database(db)
        if value == report.id and table != "rule_reports"
    ]
    assert holding_the_id == []


def test_two_reports_of_one_person_share_nothing_another_persons_would_not(db, world):
    """Sharing a value with a colleague's identical report is no link; among one person's own
    reports, no column may agree where a colleague's report would differ."""
    # Two different reports of hers (the same one twice is stored once: a double tap), and a
    # colleague's as like her second as can be.
    mine = [
        _row(db, _report(db, world["secret_one"], world["team"], title=title).id)
        for title in ("Elke dag wegen", "Elke week wegen")
    ]
    theirs = _row(db, _report(db, world["other"], world["team"], title="Elke week wegen").id)
    same_as_mine = {k for k in mine[0] if mine[0][k] == mine[1][k]}
    same_as_theirs = {k for k in mine[0] if mine[0][k] == theirs[k]}
    assert same_as_mine == same_as_theirs
    for key in ("id", "nonce", "owner_key"):
        assert mine[0][key] != mine[1][key]


def test_ids_do_not_follow_the_order_reports_came_in(db, world):
    ids = [_report(db, world["other"], world["team"], title=f"R{i}").id for i in range(20)]
    assert ids != sorted(ids)
    assert max(ids) - min(ids) > 10_000  # not counted up


def test_withdrawing_an_anonymous_report_logs_nothing(db, world):
    me = world["secret_one"]
    report = _report(db, me, world["team"])
    rule_reports.withdraw(db, SECRET, me, report.id)
    assert db.execute("SELECT count(*) FROM events WHERE actor_id = ?", [me.id]).fetchone()[0] == 0


def _cells_naming(client, *names: str) -> list[str]:
    """Every cell of the Excel report (all sheets) that holds one of the names."""
    response = client.get("/dashboard/report.xlsx")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    return [
        f"{sheet.title}: {cell}"
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None and any(name in str(cell) for name in names)
    ]


def test_no_page_or_export_shows_an_anonymous_reporter(app, db, world):
    me, quality = world["secret_one"], world["quality"]
    clients = {}
    for username in ("ilse", "beheer"):
        clients[username] = app.test_client()
        assert Auth(clients[username]).login(username).status_code == 302
    # Before any report: the history names the account (it was created), nothing more.
    before = _cells_naming(clients["ilse"], NAME, USERNAME)
    rule = make_rule(db, code="R-0100", title="Wegen op maandag")
    attached = _report(db, me, world["team"], why="Mijn eigen woorden")
    accepted = _report(db, me, world["team"], title="Geen taart")
    waiting = _report(db, me, world["team"], title="Nog niet bekeken")
    declined = _report(db, me, world["team"], title="Afgewezen")
    named = _report(db, world["open_one"], world["team"], title="Met naam", named=True)
    rule_reports.attach(db, quality, attached.id, rule.id)
    new_rule = rule_reports.accept_as_new_rule(db, quality, accepted.id, title="Geen taart")
    rule_reports.decline(db, quality, declined.id, "Nee")
    rule_reports.attach(db, quality, named.id, rule.id)
    pages = [
        "/reports/inbox",
        "/reports/inbox?state=attached",
        f"/reports/inbox/{attached.id}",
        f"/reports/inbox/{accepted.id}",
        f"/reports/inbox/{waiting.id}",
        f"/reports/inbox/{declined.id}",
        f"/rules/{rule.id}",
        f"/rules/{new_rule.id}",
        "/rules?reported=1",
        "/dashboard",
    ]
    for username, client in clients.items():
        for url in pages:
            response = client.get(url)
            html = response.get_data(as_text=True)
            assert response.status_code == 200, url
            assert NAME not in html and USERNAME not in html, (username, url)
        # The named reporter is shown to those who triage, so the check above can see a name.
        assert "Olga Tromp" in client.get(f"/rules/{rule.id}").get_data(as_text=True)
        assert _cells_naming(client, NAME, USERNAME) == before


def test_a_member_cannot_open_another_members_reports_by_forged_ids(app, db, world):
    theirs = _report(db, world["other"], world["team"])
    client = app.test_client()
    Auth(client).login(USERNAME)
    assert client.get(f"/reports/inbox/{theirs.id}").status_code == 403
    assert client.get(f"/rules/new?report={theirs.id}").status_code == 403
    response = post(
        client, f"/reports/{theirs.id}/withdraw", {"confirm": "1"}, token_from="/reports/mine"
    )
    assert response.status_code == 302
    assert rule_reports.get_report(db, theirs.id).state == "untriaged"
    assert "Elke dag wegen" not in client.get("/reports/mine").get_data(as_text=True)


@pytest.mark.parametrize("forged", ["abc", "99999999999999999999999", "12345"])
def test_a_forged_report_id_on_the_rule_form_is_not_found(app, db, world, forged):
    client = app.test_client()
    Auth(client).login("ilse")
    assert client.get(f"/rules/new?report={forged}").status_code == 404
    response = post(
        client, "/rules/new", {"report_id": forged, "title": "x"}, token_from="/rules/new"
    )
    assert response.status_code == 404
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0
