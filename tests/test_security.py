"""Hostile input and the defences around it: escaping, headers, forged ids, odd text."""

import contextlib
import io
import os
import re
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.config import ROOT
from audit.core import clock
from audit.core.errors import AuditError
from audit.domain import (
    actions,
    ballots,
    categories,
    decisions,
    organisation,
    protocols,
    rule_reports,
    rules,
    sessions,
    strategies,
    users,
)
from audit.xlsx import export as xlsx_export
from audit.xlsx import importer as xlsx_import
from tests.conftest import (
    Auth,
    csrf_token,
    make_rule,
    make_team,
    make_user,
    mirror_answers,
    post,
)

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'
# Text as people (and attackers) type it: controls, right-to-left, emoji, NUL.
ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
# Fixed examples by default so CI is repeatable; FUZZ_EXAMPLES=500 explores at random.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- headers and templates ------------------------------------------------------------------


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_templates_need_no_inline_script_or_style():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        # A script from a file (static/, allowed by script-src 'self') is not inline.
        for pattern in (r"<script(?![^>]*\ssrc=)", r"<style", r"\sstyle=", r"\son[a-z]+\s*="):
            if re.search(pattern, text, re.IGNORECASE):
                offenders.append((path.name, pattern))
    assert offenders == []


# --- stored XSS on every page ---------------------------------------------------------------


@pytest.fixture
def poisoned(app, db):
    """Every free-text field of every kind of thing holds the payload."""
    organisation.update_settings(
        db, None, name=PAYLOAD[:200], default_language="nl", reference_share=0.7
    )
    loc = organisation.save_location(db, None, PAYLOAD[:100])
    team = organisation.save_team(db, None, PAYLOAD[:90] + " T", loc["id"])
    category = categories.save_category(
        db, None, name_nl=PAYLOAD[:90] + " nl", name_en=PAYLOAD[:90] + " en"
    )
    protocol = protocols.save_protocol(db, None, name=PAYLOAD, version=PAYLOAD[:50])
    strategy = strategies.save_strategy(
        db,
        None,
        name_nl=PAYLOAD[:90] + " nl",
        name_en=PAYLOAD[:90] + " en",
        explanation_nl=PAYLOAD,
        explanation_en=PAYLOAD,
    )
    fac = make_user(db, "fac", "quality", display_name=PAYLOAD[:100])
    member = make_user(db, "member", "member", teams=[team], display_name=PAYLOAD[:100])
    make_user(db, "boss", "admin")
    rule = make_rule(
        db,
        fac,
        code="X1",
        title=PAYLOAD,
        description=PAYLOAD,
        owner=PAYLOAD[:100],
        source_reference=PAYLOAD,
        evidence_note=PAYLOAD,
        category_id=category["id"],
        protocol_id=protocol["id"],
        team_ids=[team["id"]],
        perceived_origin="law",
        verified_origin="team",
        relation_impact="hinders",
        minutes_per_week=30,
    )
    session = sessions.create_session(
        db,
        fac,
        title=PAYLOAD,
        introduction=PAYLOAD,
        team_ids=[team["id"]],
        rule_ids=[rule.id],
        anonymous=False,
    )
    sessions.open_session(db, fac, session.id)
    ballots.cast_vote(db, app.config["SECRET_KEY"], member, session.id, rule.id, "drop", PAYLOAD)
    sessions.close_session(db, fac, session.id)
    decisions.record_decision(
        db,
        fac,
        session.id,
        rule.id,
        outcome="adapt",
        rationale=PAYLOAD,
        new_title=PAYLOAD[:150],
        new_description=PAYLOAD,
        strategy_id=strategy["id"],
    )
    report = rule_reports.submit(
        db,
        app.config["SECRET_KEY"],
        member,
        title=PAYLOAD,
        description=PAYLOAD,
        team_id=team["id"],
        why=PAYLOAD,
        named=True,
    )
    rule_reports.attach(db, fac, report.id, rule.id, PAYLOAD)
    action = actions.create_action(
        db,
        fac,
        session.id,
        rule.id,
        what=PAYLOAD,
        owner_id=member.id,
        due_on=clock.today(),
        note=PAYLOAD,
    )
    return {
        "action": action,
        "report": report,
        "rule": rule,
        "session": session,
        "team": team,
        "location": loc,
        "category": category,
        "protocol": protocol,
        "strategy": strategy,
        "fac": fac,
    }


def _get_pages(app, things):
    ids = {
        "rule_id": things["rule"].id,
        "session_id": things["session"].id,
        "team_id": things["team"]["id"],
        "location_id": things["location"]["id"],
        "category_id": things["category"]["id"],
        "protocol_id": things["protocol"]["id"],
        "strategy_id": things["strategy"]["id"],
        "user_id": things["fac"].id,
        "report_id": things["report"].id,
        "action_id": things["action"].id,
        # Escaping on the experiment page: test_experiments.py::test_observation_text_is_escaped
        "experiment_id": 1,
        "filename": "app.css",
    }
    from flask import url_for

    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" in rule.methods and not rule.endpoint.startswith(
                ("static", "reports", "imports.template")
            ):
                yield url_for(rule.endpoint, **{k: ids[k] for k in rule.arguments})


@pytest.mark.parametrize("username,role", [("boss", "admin"), ("member", "member")])
def test_payload_is_escaped_on_every_page(app, db, poisoned, username, role):
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    seen_escaped = 0
    for url in _get_pages(app, poisoned):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
        assert 'onerror=alert(1)>"' not in html, url
        seen_escaped += "&lt;script&gt;alert" in html
    assert seen_escaped >= 5


def test_payload_stays_text_in_the_export(app, db, poisoned):
    out = io.BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out)
    out.seek(0)
    wb = openpyxl.load_workbook(out)
    register = wb["Register"]
    assert register["B2"].value == PAYLOAD
    for ws in wb.worksheets[1:]:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"


# --- text of every kind ---------------------------------------------------------------------


def test_right_to_left_emoji_and_nul_are_stored_and_shown_intact(login_as, db):
    client = login_as("quality", "ilse")
    title = "\u202eطاولة 👵🏽 zorg\u202c"
    description = "regel één\x00 met NUL\nen 🎂 taart"
    form = {
        "title": title,
        "description": description,
        "status": "active",
        "category_id": "",
        "protocol_id": "",
        "relation_impact": "",
        "perceived_origin": "",
        "verified_origin": "",
        **mirror_answers(),
    }
    response = post(client, "/rules/new", form)
    assert response.status_code == 302
    rule = rules.find_by_code(db, "R-0001")
    assert rule.title == title and rule.description == description
    page = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert title in page and description in page


@FUZZ
@given(title=ODD_TEXT, description=ODD_TEXT, owner=ODD_TEXT)
def test_rule_form_never_breaks(login_as, db, title, description, owner):
    client = login_as("quality", "fuzzer")
    before = db.execute("SELECT count(*) FROM rules").fetchone()[0]
    form = {
        "title": title,
        "description": description,
        "owner": owner,
        "status": "active",
        "category_id": "",
        "protocol_id": "",
        "relation_impact": "",
        "perceived_origin": "",
        "verified_origin": "",
        "minutes_per_week": "",
    }
    response = post(client, "/rules/new", form, token_from="/rules/new")
    assert response.status_code in (200, 302)
    after = db.execute("SELECT count(*) FROM rules").fetchone()[0]
    if response.status_code == 302:
        assert after == before + 1
        rule = rules.get_rule(db, int(response.headers["Location"].rsplit("/", 1)[1]))
        assert rule.title == " ".join(title.split())
        assert rule.description == description.strip()
    else:
        assert after == before  # refused whole: nothing written


@FUZZ
@given(username=ODD_TEXT, display_name=ODD_TEXT, password=ODD_TEXT)
def test_user_form_never_breaks(login_as, db, username, display_name, password):
    client = login_as("admin", "fuzzadmin")
    before = users.count_users(db)
    response = post(
        client,
        "/admin/users/new",
        {
            "username": username,
            "display_name": display_name,
            "role": "member",
            "password": password,
            "confirm": password,
        },
    )
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert users.count_users(db) == before


@FUZZ
@given(username=ODD_TEXT, password=ODD_TEXT)
def test_login_never_breaks(app, db, username, password):
    client = app.test_client()
    if not users.count_users(db):
        make_user(db, "someone")
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 200  # never logged in with random credentials, never a 500


@FUZZ
@given(
    title=ODD_TEXT, reason=ODD_TEXT, choice=st.sampled_from(["keep", "drop", "x", "", "abstain"])
)
def test_session_and_ballot_forms_never_break(app, db, title, reason, choice):
    if not users.find_user(db, "fuzzfac"):
        team = make_team(db, "Fuzz")
        make_user(db, "fuzzfac", "quality")
        make_user(db, "fuzzmember", "member", teams=[team])
        make_rule(db, code="FZ")
    team = organisation.find_team(db, "Fuzz")
    rule = rules.find_by_code(db, "FZ")
    fac = app.test_client()
    Auth(fac).login("fuzzfac")
    response = post(
        fac,
        "/sessions/new",
        {
            "title": title,
            "team_ids": [str(team["id"])],
            "rule_ids": [str(rule.id)],
            "mode": "online",
            "anonymous": "y",
        },
    )
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        session_id = int(response.headers["Location"].rsplit("/", 1)[1])
        sessions.open_session(db, users.find_user(db, "fuzzfac"), session_id)
        member = app.test_client()
        Auth(member).login("fuzzmember")
        url = f"/sessions/{session_id}/vote"
        response = post(member, url, {f"choice-{rule.id}": choice, f"reason-{rule.id}": reason})
        assert response.status_code in (302, 400)


@FUZZ
@given(
    cells=st.lists(
        st.lists(
            st.one_of(ODD_TEXT, st.integers(), st.floats(allow_nan=False), st.none(), st.dates()),
            min_size=1,
            max_size=6,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_importer_never_breaks(app, db, tmp_path_factory, cells):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Title", "Code", "Minutes per week", "Teams", "Verified origin", "Introduced on"])
    for row in cells:
        with contextlib.suppress(Exception):  # openpyxl refuses some control characters itself
            ws.append(row)
    wb.save(path)
    with app.app_context():
        try:
            plan = xlsx_import.read_plan(db, path, filename="fuzz.xlsx")
        except AuditError:
            return
        for row in plan.rows:
            assert row.action in ("create", "update", "unchanged", "invalid")
            assert row.action != "invalid" or row.errors


# --- file names -----------------------------------------------------------------------------


def test_upload_file_names_never_reach_the_file_system(app, login_as, tmp_path):
    client = login_as("quality", "ilse")
    wb = openpyxl.Workbook()
    wb.active.append(["Title", "Code"])
    wb.active.append(["Regel", "A"])
    buffer = io.BytesIO()
    wb.save(buffer)
    evil = "../../../../tmp/evil.xlsx"
    response = client.post(
        "/import/",
        data={
            "csrf_token": csrf_token(client, "/import/"),
            "file": (io.BytesIO(buffer.getvalue()), evil),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert not Path("/tmp/evil.xlsx").exists()
    stored = list((Path(app.instance_path) / "imports").glob("*.xlsx"))
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{32}\.xlsx", stored[0].name)
    assert "evil.xlsx" in response.get_data(as_text=True)


def test_download_names_are_safe(db, login_as):
    organisation.update_settings(
        db, None, name="../../etc/passwd; rm -rf", default_language="nl", reference_share=0.7
    )
    response = login_as("viewer", "v").get("/dashboard/report.xlsx")
    disposition = response.headers["Content-Disposition"]
    assert "/" not in disposition.split("filename=")[1]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../audit/config.py",
        "/static/%2e%2e/audit/config.py",
        "/static/..%2f..%2finstance/config.py",
    ],
)
def test_static_files_stay_in_their_folder(client, path):
    assert client.get(path).status_code == 404


# --- forged ids -----------------------------------------------------------------------------


@pytest.fixture
def two_teams(app, db):
    a, b = make_team(db, "A"), make_team(db, "B")
    fac = make_user(db, "fac", "quality")
    make_user(db, "amy", "member", teams=[a])
    rule_a, rule_b = make_rule(db, code="RA"), make_rule(db, code="RB")
    sa = sessions.create_session(
        db, fac, title="Sessie A", team_ids=[a["id"]], rule_ids=[rule_a.id]
    )
    sb = sessions.create_session(
        db, fac, title="Sessie B", team_ids=[b["id"]], rule_ids=[rule_b.id]
    )
    for s in (sa, sb):
        sessions.open_session(db, fac, s.id)
    client = app.test_client()
    Auth(client).login("amy")
    return {"client": client, "sa": sa, "sb": sb, "ra": rule_a, "rb": rule_b, "b": b}


def test_forged_ids_of_another_team(db, two_teams):
    client, sa, sb = two_teams["client"], two_teams["sa"], two_teams["sb"]
    token = csrf_token(client, f"/sessions/{sa.id}/vote")
    assert client.get(f"/sessions/{sb.id}").status_code == 404
    assert client.get(f"/sessions/{sb.id}/vote").status_code == 404
    forged = [
        (f"/sessions/{sb.id}/vote", {f"choice-{two_teams['rb'].id}": "drop"}, 404),
        (f"/sessions/{sa.id}/vote", {f"choice-{two_teams['rb'].id}": "drop"}, 400),
        (
            f"/sessions/{sa.id}/vote",
            {
                f"choice-{two_teams['ra'].id}": "drop",
                "team_id": str(two_teams["b"]["id"]),
            },
            302,
        ),
        (f"/sessions/{sb.id}/rules/{two_teams['rb'].id}/decision", {"d-outcome": "drop"}, 403),
        (f"/rules/{two_teams['rb'].id}/edit", {"title": "gekaapt"}, 403),
        (f"/sessions/{sb.id}/close", {}, 403),
    ]
    for url, data, status in forged:
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code == status, url
    ballots_b = db.execute("SELECT count(*) FROM ballots WHERE session_id = ?", [sb.id]).fetchone()[
        0
    ]
    assert ballots_b == 0
    # The one honest vote (with a forged team id riding along) counted once, for session A.
    assert db.execute("SELECT count(*) FROM ballots").fetchone()[0] == 1
    assert rules.find_by_code(db, "RB").title != "gekaapt"


def test_session_form_with_a_forged_team(login_as, db):
    make_rule(db, code="R1")
    client = login_as("quality", "q")
    response = post(
        client,
        "/sessions/new",
        {"title": "S", "team_ids": ["999"], "rule_ids": ["1"], "mode": "online"},
    )
    assert response.status_code == 200
    assert db.execute("SELECT count(*) FROM review_sessions").fetchone()[0] == 0


@FUZZ
@given(owner=ODD_TEXT, status=st.sampled_from(["", "active", "dropped", "gone"]), review=ODD_TEXT)
def test_bulk_form_never_breaks(login_as, db, owner, status, review):
    if not db.execute("SELECT count(*) FROM rules").fetchone()[0]:
        make_rule(db, code="B1")
    client = login_as("quality", "bulkfuzz")
    page = client.get("/rules/bulk").get_data(as_text=True)
    selection = re.search(r'name="selection" type="hidden" value="(\w+)"', page).group(1)
    response = post(
        client,
        "/rules/bulk",
        {
            "owner": owner,
            "status": status,
            "review_due": review,
            "category_id": "",
            "selection": selection,
        },
    )
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("text", ["\x00", "\x00 titel", " \x00"])
def test_text_that_starts_with_nul_counts_as_empty(db, text):
    # SQLite's length() stops at NUL: such text would pass a Python check and fail the database's.
    from audit.core.errors import ValidationError

    with pytest.raises(ValidationError):
        make_rule(db, title=text)
    with pytest.raises(ValidationError):
        organisation.save_team(db, None, text, None)
    with pytest.raises(ValidationError):
        protocols.save_protocol(db, None, name=text)
    with pytest.raises(ValidationError):
        categories.save_category(db, None, name_nl=text)
    with pytest.raises(ValidationError):
        make_rule(db, title="Goed", code="A\x00B")
    assert make_rule(db, title="titel \x00 met NUL").title == "titel \x00 met NUL"
