"""Faults: a process killed mid-write, a read-only database, a full disk, a restart."""

import re
import sqlite3

import pytest

from audit import create_app
from audit.domain import decisions, rules, sessions
from audit.store.db import connect
from tests.conftest import make_rule, make_team, make_user, mirror_answers, post
from tests.faults import kill_midway

PRELUDE = """
import pathlib, time
from audit import create_app
from audit.domain import decisions, events, rules, sessions, users
from audit.store.db import connect
app = create_app({{"SECRET_KEY": "x", "DATABASE": {database!r}}})
db = connect(app.config["DATABASE"])
marker = pathlib.Path({marker!r})
def pause():
    marker.write_text("inside the transaction")
    time.sleep(60)
"""


RULE_FORM = {
    "title": "Nieuw",
    "status": "active",
    "category_id": "",
    "protocol_id": "",
    "relation_impact": "",
    "perceived_origin": "",
    "verified_origin": "",
}


def _integrity(path) -> str:
    check = connect(path)
    try:
        return check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()


def test_killed_decision_apply_changes_nothing(app, db, tmp_path):
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality")
    rule = make_rule(db, code="A", minutes_per_week=60)
    session = sessions.create_session(db, fac, title="S", team_ids=[team["id"]], rule_ids=[rule.id])
    sessions.open_session(db, fac, session.id)
    sessions.close_session(db, fac, session.id)
    decisions.record_decision(db, fac, session.id, rule.id, outcome="drop", rationale="weg ermee")
    events_before = db.execute("SELECT count(*) FROM events").fetchone()[0]
    marker = tmp_path / "marker"
    kill_midway(
        PRELUDE.format(database=app.config["DATABASE"], marker=str(marker))
        + f"""
original = events.record
def record(*args, **kwargs):
    result = original(*args, **kwargs)
    if args[4] == "apply":  # the rule has changed, the decision is stamped: now the power goes
        pause()
    return result
decisions.events.record = record
with app.app_context():
    actor = users.find_user(db, "fac")
    decisions.apply_decision(db, actor, {session.id}, {rule.id})
""",
        marker,
    )
    assert _integrity(app.config["DATABASE"]) == "ok"
    after = connect(app.config["DATABASE"])
    assert rules.get_rule(after, rule.id).status == "under_review"
    assert decisions.get_decision(after, session.id, rule.id)["applied_at"] is None
    assert after.execute("SELECT count(*) FROM events").fetchone()[0] == events_before


def test_killed_bulk_edit_changes_nothing(app, db, tmp_path):
    made = [make_rule(db, code=f"R{i}", status="active") for i in range(20)]
    marker = tmp_path / "marker"
    kill_midway(
        PRELUDE.format(database=app.config["DATABASE"], marker=str(marker))
        + f"""
original = rules.update_rule
count = 0
def update(*args, **kwargs):
    global count
    count += 1
    if count == 10:
        pause()
    return original(*args, **kwargs)
rules.update_rule = update
with app.app_context():
    rules.bulk_update(db, None, {[r.id for r in made]!r}, status="under_review")
""",
        marker,
    )
    assert _integrity(app.config["DATABASE"]) == "ok"
    after = connect(app.config["DATABASE"])
    statuses = {r[0] for r in after.execute("SELECT status FROM rules")}
    assert statuses == {"active"}
    assert after.execute("SELECT count(*) FROM events WHERE action = 'bulk'").fetchone()[0] == 0


def test_bulk_edit_through_the_register(login_as, db):
    for i in range(5):
        make_rule(db, code=f"H{i}", title=f"Hygiëne {i}")
    make_rule(db, code="OTHER", title="Anders")
    client = login_as("quality", "ilse")
    page = client.get("/rules/bulk?q=hygiene").get_data(as_text=True)
    assert "5 regels" in page
    selection = re.search(r'name="selection" type="hidden" value="(\w+)"', page).group(1)
    response = post(
        client,
        "/rules/bulk?q=hygiene",
        {"status": "under_review", "category_id": "", "selection": selection},
    )
    assert response.status_code == 302
    statuses = dict(db.execute("SELECT code, status FROM rules"))
    assert statuses.pop("OTHER") == "active"
    assert set(statuses.values()) == {"under_review"}
    assert rules.history(db, rules.find_by_code(db, "H0").id)[0]["action"] == "bulk"


def test_bulk_edit_refuses_a_changed_selection(login_as, db):
    make_rule(db, code="H1", title="Hygiëne")
    client = login_as("quality", "ilse")
    response = post(
        client, "/rules/bulk?q=hygiene", {"status": "dropped", "category_id": "", "selection": "7"}
    )
    assert response.status_code == 200
    assert rules.find_by_code(db, "H1").status == "active"


@pytest.fixture
def broken_database(monkeypatch):
    """Make every request's connection fail on writes, as a read-only file or full disk does."""

    def install(pragma):
        from audit.store import db as db_module

        original = db_module.connect

        def connect_broken(*args, **kwargs):
            database = original(*args, **kwargs)
            pragma(database.conn)
            return database

        monkeypatch.setattr(db_module, "connect", connect_broken)

    return install


def test_read_only_database_gives_a_clear_page(login_as, db, broken_database):
    client = login_as("quality", "ilse")
    token_page = client.get("/rules/new").get_data(as_text=True)
    broken_database(lambda conn: conn.execute("PRAGMA query_only = ON"))
    import re

    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token_page).group(1)
    response = client.post(
        "/rules/new", data={"csrf_token": token, **RULE_FORM, **mirror_answers()}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "kan op dit moment alleen worden gelezen" in text
    assert "Traceback" not in text and "sqlite3" not in text
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0


def test_full_disk_gives_a_clear_page(login_as, db, broken_database):
    client = login_as("quality", "ilse")
    import re

    token_page = client.get("/rules/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token_page).group(1)

    def full(conn):
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    broken_database(full)
    long_text = "x" * 4000
    response = client.post(
        "/rules/new",
        data={"csrf_token": token, **RULE_FORM, **mirror_answers(), "description": long_text},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 503, text[:500]
    assert "schijf van de server is vol" in text


def test_restart_on_an_existing_database(tmp_path):
    config = {"SECRET_KEY": "x", "DATABASE": str(tmp_path / "a.db")}
    first = create_app(config)
    database = connect(first.config["DATABASE"])
    make_rule(database, code="KEEP")
    database.close()
    second = create_app(config)
    again = connect(second.config["DATABASE"])
    assert rules.find_by_code(again, "KEEP") is not None
    assert again.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert second.test_client().get("/login").status_code in (200, 302)


def test_a_damaged_file_is_reported(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        create_app({"SECRET_KEY": "x", "DATABASE": str(path)})
