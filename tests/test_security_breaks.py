"""Breaks found by an adversarial test: redirects, login floods, numbering, a full disk, huge
numbers, and the small leaks. Each test failed before its fix."""

from __future__ import annotations

import html
import re
import sqlite3
import threading

import pytest
from werkzeug.security import check_password_hash

from audit import create_app
from audit.core.errors import LoginFailed, ValidationError
from audit.domain import rules, sessions, users
from audit.store.db import connect
from tests.conftest import PASSWORD, Auth, csrf_token, make_rule, make_team, make_user, post

HUGE = "99999999999999999999999"  # more than SQLite's 8-byte integers hold
RULE_FORM = {
    "title": "Taart",
    "status": "active",
    "category_id": "",
    "protocol_id": "",
    "relation_impact": "",
    "perceived_origin": "",
    "verified_origin": "",
}

# --- open redirect --------------------------------------------------------------------------

ELSEWHERE = [
    "//evil.example",
    "////evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "http://evil.example/",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "evil.example",
    "%2F%2Fevil.example",  # encoded twice in a link: arrives encoded once
    "%5C%5Cevil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
]


def _is_local(location: str) -> bool:
    return location.startswith("/") and location[1:2] not in ("/", "\\") and "\\" not in location


@pytest.mark.parametrize("target", ELSEWHERE)
def test_login_next_never_leaves_the_site(client, db, target):
    make_user(db, "anna")
    # As the issue reproduced it: a link to the login page, then the form as the page has it.
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    field = re.search(r'<input id="next" name="next" type="hidden" value="([^"]*)"', page)
    assert field, "the login form carries next"
    carried = html.unescape(field.group(1))
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "anna", "password": PASSWORD, "csrf_token": token, "next": carried},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/", target


@pytest.mark.parametrize("target", ELSEWHERE)
def test_language_switch_never_leaves_the_site(client, db, target):
    make_user(db, "anna")
    token = csrf_token(client)
    response = client.post("/language", data={"lang": "en", "csrf_token": token, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/", target


@pytest.mark.parametrize(
    "target",
    [
        "/rules?q=taart&page=2",
        "/sessions/3",
        "/rules#top",
        # Encoded slashes and backslashes stay in the path: browsers do not decode them there.
        "/%2F%2Fevil.example",
        "/%5C%5Cevil.example",
        "/%09/evil.example",
    ],
)
def test_local_paths_are_kept(client, db, target):
    make_user(db, "anna")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "anna", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    location = response.headers["Location"]
    assert _is_local(location) and location == target


# --- login floods ---------------------------------------------------------------------------


def test_password_check_does_not_hold_the_write_lock(app, db, monkeypatch):
    """While scrypt runs for a login, another writer (a vote) must not have to wait."""
    make_user(db, "anna")
    writers = []
    original = users.check_password_hash

    def check_while_someone_writes(*args):
        other = sqlite3.connect(app.config["DATABASE"], timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            writers.append("wrote")
        except sqlite3.OperationalError as error:
            writers.append(str(error))
        finally:
            other.close()
        return original(*args)

    monkeypatch.setattr(users, "check_password_hash", check_while_someone_writes)
    with pytest.raises(LoginFailed):
        users.authenticate(db, "anna", "wrong password")
    users.authenticate(db, "anna", PASSWORD)
    with pytest.raises(LoginFailed):
        users.authenticate(db, "nobody", "wrong password")
    assert writers == ["wrote", "wrote", "wrote"]


def test_concurrent_wrong_passwords_still_lock_the_account(app, db):
    """The hash is checked outside the transaction; the count and the lock inside it, so no
    attempt is lost and none gets past the lock."""
    make_user(db, "anna")
    path = app.config["DATABASE"]
    start = threading.Barrier(12)

    def attempt():
        own = connect(path)
        start.wait()
        try:
            users.authenticate(own, "anna", "wrong password", max_failures=5)
        except LoginFailed:
            pass
        finally:
            own.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    locked = db.execute("SELECT locked_until FROM users WHERE username = 'anna'").fetchone()[0]
    assert locked is not None
    assert db.execute("SELECT count(*) FROM events WHERE action = 'locked'").fetchone()[0] == 1
    with pytest.raises(LoginFailed):
        users.authenticate(db, "anna", PASSWORD)


def _message(response) -> str:
    text = response.get_data(as_text=True)
    start = text.index('<div class="alert error"')
    return text[start : text.index("</div>", start)]


def test_lockout_does_not_tell_which_names_exist(app, db):
    make_user(db, "anna")
    known, unknown = app.test_client(), app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 2):
        a = Auth(known).login("anna", "wrong password")
        b = Auth(unknown).login("nobody", "wrong password")
        assert _message(a) == _message(b)
    # The right password on the locked account says the same too.
    assert _message(Auth(known).login("anna")) == _message(b)
    assert "geblokkeerd" in _message(b)  # the message does say that accounts lock


@pytest.fixture
def limited_app(tmp_path, monkeypatch):
    """An app with the production login limit (the shared fixture raises it for speed)."""

    def make(**config):
        monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(tmp_path / "instance"))
        app = create_app(
            {"SECRET_KEY": "x", "DATABASE": str(tmp_path / "limited.sqlite3"), **config}
        )
        database = connect(app.config["DATABASE"])
        if not users.find_user(database, "anna"):
            make_user(database, "anna")
            make_user(database, "bert")
        database.close()
        return app

    return make


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _try(client, password="wrong password", username="anna", **kwargs):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        **kwargs,
    )


def test_failed_logins_are_limited_per_address(limited_app, monkeypatch):
    app = limited_app()
    assert app.config["LOGIN_RATE_LIMIT"] == "10 per minute"
    attacker = _from(app, "198.51.100.9")
    for _ in range(10):
        assert _try(attacker).status_code == 200
    hashed = []
    monkeypatch.setattr(users, "check_password_hash", lambda *a: hashed.append(a) or False)
    refused = _try(attacker)
    assert refused.status_code == 429
    assert "Te veel mislukte inlogpogingen" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"]
    assert hashed == []  # refused before any hashing
    # In the language chosen on that browser.
    attacker.post("/language", data={"lang": "en", "csrf_token": csrf_token(attacker)})
    assert "Too many failed login attempts" in _try(attacker).get_data(as_text=True)
    # Someone else, at another address, logs in as usual.
    monkeypatch.setattr(users, "check_password_hash", check_password_hash)
    colleague = _from(app, "198.51.100.10")
    assert _try(colleague, PASSWORD, "bert").status_code == 302


def test_successful_logins_are_not_limited(limited_app):
    """A whole care home behind one address logs in at the start of a shift."""
    app = limited_app()
    for _ in range(15):
        client = _from(app, "198.51.100.20")
        assert _try(client, PASSWORD).status_code == 302


def test_the_limit_is_a_setting(limited_app):
    app = limited_app(LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()
    assert [_try(client).status_code for _ in range(3)] == [200, 200, 429]


def test_forged_forwarded_for_does_not_escape_the_limit(limited_app):
    # Without a trusted proxy the header is ignored: the connection's address counts.
    direct = limited_app(LOGIN_RATE_LIMIT="3 per minute")
    client = direct.test_client()
    codes = [
        _try(client, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]


def test_behind_one_proxy_the_client_address_counts(limited_app):
    app = limited_app(LOGIN_RATE_LIMIT="3 per minute", TRUSTED_PROXIES=1)
    # The proxy appends the address it saw; what the client forged comes before it.
    client = _from(app, "127.0.0.1")
    codes = [
        _try(client, headers={"X-Forwarded-For": f"10.0.0.{i}, 198.51.100.7"}).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    other = _from(app, "127.0.0.1")
    assert _try(other, PASSWORD, headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 302


# --- automatic numbering --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["R-9223372036854775808", "R-1000000000", f"R-{HUGE}"])
def test_huge_numbered_codes_are_refused(db, code):
    with pytest.raises(ValidationError) as refused:
        make_rule(db, code=code)
    assert "R-999999999" in str(refused.value.errors["code"][0])
    assert make_rule(db, code="R-999999999").code == "R-999999999"


def test_numbering_survives_a_huge_code_from_before(db):
    make_rule(db, code="R-0007")
    # Written before codes were bounded, straight into the table.
    db.execute("UPDATE rules SET code = 'R-9223372036854775808' WHERE code = 'R-0007'")
    make_rule(db, code="R-0041")
    assert make_rule(db).code == "R-0042"
    assert make_rule(db).code == "R-0043"
    assert rules.create_rules(db, None, [{"title": "Een"}, {"title": "Twee"}]) == 2
    assert rules.find_by_code(db, "R-0045") is not None


def test_huge_code_through_the_form(login_as, db):
    client = login_as("quality")
    response = post(
        client,
        "/rules/new",
        {**RULE_FORM, "code": "R-9223372036854775808"},
    )
    assert response.status_code == 200
    assert "R-999999999" in response.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0


# --- a full disk ----------------------------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch):
    """Every new connection fails the way a full disk makes it fail (the shared-memory file
    cannot grow: "disk I/O error"), and the disk reports no free space."""

    def install():
        from audit import web
        from audit.store import db as db_module

        def connect_on_a_full_disk(*args, **kwargs):
            # As SQLite raises it: the page is chosen by the code, not by the words.
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorcode = sqlite3.SQLITE_IOERR_SHMSIZE
            error.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
            raise error

        monkeypatch.setattr(db_module, "connect", connect_on_a_full_disk)

        class Usage:
            total, used, free = 10**9, 10**9, 0

        monkeypatch.setattr(web.shutil, "disk_usage", lambda path: Usage)

    return install


@pytest.mark.parametrize("url", ["/", "/rules", "/rules/1", "/dashboard", "/sessions/"])
def test_full_disk_every_page_is_a_clear_503(login_as, db, full_disk, url):
    client = login_as("quality", "ilse")
    make_rule(db)
    full_disk()
    response = client.get(url)
    text = response.get_data(as_text=True)
    assert response.status_code == 503, text[:300]
    assert "schijf van de server is vol" in text
    assert 'lang="nl"' in text and "Traceback" not in text
    assert response.headers["Content-Security-Policy"]


def test_full_disk_a_missing_page_is_still_a_404(login_as, full_disk):
    client = login_as("quality")
    full_disk()
    response = client.get("/nonexistent")
    assert response.status_code == 404
    assert "Deze pagina bestaat niet." in response.get_data(as_text=True)


def test_full_disk_login_page_and_form_posts(client, db, full_disk):
    make_user(db, "anna")
    token = csrf_token(client)
    full_disk()
    assert client.get("/login").status_code == 503
    response = client.post(
        "/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 503
    assert "schijf van de server is vol" in response.get_data(as_text=True)


def test_full_disk_page_speaks_the_users_language(app, db, full_disk):
    make_user(db, "emma", language="en")
    client = app.test_client()
    assert Auth(client).login("emma").status_code == 302
    full_disk()
    text = client.get("/rules").get_data(as_text=True)
    assert "The server's disk is full" in text and 'lang="en"' in text
    # Before logging in: the browser's language.
    anonymous = app.test_client()
    text = anonymous.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True
    )
    assert "The server's disk is full" in text


# --- out-of-range numbers -------------------------------------------------------------------

HUGE_URLS = [
    f"/rules?category={HUGE}",
    f"/rules?team={HUGE}",
    f"/rules?location={HUGE}",
    f"/rules?protocol={HUGE}",
    f"/rules?page={HUGE}",
    f"/rules?per_page={HUGE}",
    f"/rules?category=-{HUGE}",
    f"/dashboard?team={HUGE}",
    f"/dashboard?location={HUGE}",
    f"/dashboard?category={HUGE}",
    f"/dashboard/report.xlsx?team={HUGE}",
    f"/dashboard/report.xlsx?category={HUGE}",
    f"/rules/export.xlsx?category={HUGE}",
    f"/rules/export.xlsx?location={HUGE}",
    f"/tracing?page={HUGE}",
    f"/sessions/new?category={HUGE}",
    f"/rules/{HUGE}",
    f"/rules/{HUGE}/edit",
    "/rules/9223372036854775808",
    f"/sessions/{HUGE}",
    f"/sessions/{HUGE}/edit",
    f"/sessions/{HUGE}/vote",
    f"/protocols/{HUGE}",
    f"/categories/{HUGE}",
    f"/admin/users/{HUGE}",
    f"/admin/teams/{HUGE}",
    f"/admin/locations/{HUGE}",
]


@pytest.mark.parametrize("url", HUGE_URLS)
def test_huge_numbers_in_urls(login_as, db, url):
    make_rule(db, code="A")
    client = login_as("admin")
    response = client.get(url)
    if "page=" in url:  # a page past the end shows the last one, as any page number may
        assert response.status_code == 200, url
    else:  # an id, in the path or as a filter, that names nothing
        assert response.status_code == 404, url


@pytest.fixture
def session_world(db):
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality")
    make_user(db, "anna", "member", teams=[team])
    rule = make_rule(db, code="A")
    return {"team": team, "fac": fac, "rule": rule}


@pytest.mark.parametrize(
    "field, value",
    [("rule_ids", [HUGE]), ("team_ids", [HUGE]), ("quorum", HUGE), ("quorum", "1000001")],
)
def test_huge_numbers_in_the_session_form(login_as, db, session_world, field, value):
    client = login_as("quality", "ilse")
    data = {
        "title": "Sessie",
        "mode": "online",
        "team_ids": [str(session_world["team"]["id"])],
        "rule_ids": [str(session_world["rule"].id)],
        "quorum": "",
        field: value,
    }
    response = post(client, "/sessions/new", data)
    assert response.status_code == 200
    assert 'class="errors"' in response.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM review_sessions").fetchone()[0] == 0


def test_huge_quorum_in_the_domain(db, session_world):
    with pytest.raises(ValidationError) as refused:
        sessions.create_session(
            db,
            session_world["fac"],
            title="S",
            team_ids=[session_world["team"]["id"]],
            rule_ids=[session_world["rule"].id],
            quorum=10**30,
        )
    assert "quorum" in refused.value.errors


def test_huge_numbers_in_hands_decisions_and_rules(login_as, db, session_world):
    w = session_world
    session = sessions.create_session(
        db, w["fac"], title="S", team_ids=[w["team"]["id"]], rule_ids=[w["rule"].id], mode="hands"
    )
    sessions.open_session(db, w["fac"], session.id)
    client = login_as("admin")
    url = f"/sessions/{session.id}"
    a = w["rule"].id
    response = post(client, f"{url}/hands", {"present": HUGE, f"r{a}-keep": "1"}, token_from=url)
    assert response.status_code == 200
    response = post(client, f"{url}/hands", {"present": "3", f"r{a}-keep": HUGE}, token_from=url)
    assert response.status_code == 200
    assert db.execute("SELECT count(*) FROM hand_counts").fetchone()[0] == 0
    sessions.close_session(db, w["fac"], session.id)
    response = post(
        client,
        f"{url}/rules/{a}/decision",
        {f"d{a}-outcome": "adapt", f"d{a}-rationale": "x", f"d{a}-new_minutes_per_week": HUGE},
        token_from=url,
    )
    assert response.status_code in (200, 400)
    assert db.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
    response = post(
        client,
        "/rules/new",
        {**RULE_FORM, "team_ids": [HUGE], "location_ids": [HUGE]},
    )
    assert response.status_code == 200
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 1


def test_huge_rule_id_in_a_ballot(login_as, db, session_world):
    w = session_world
    session = sessions.create_session(
        db, w["fac"], title="S", team_ids=[w["team"]["id"]], rule_ids=[w["rule"].id]
    )
    sessions.open_session(db, w["fac"], session.id)
    client = login_as("member", "anna2", teams=[w["team"]])
    url = f"/sessions/{session.id}/vote"
    response = post(client, url, {f"choice-{HUGE}": "keep", f"reason-{HUGE}": "x"})
    assert response.status_code == 400


# --- the small leaks ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["", "abc", HUGE])
def test_rule_edit_without_a_version_is_refused(login_as, db, version):
    rule = make_rule(db, code="A", title="Oud")
    client = login_as("quality")
    url = f"/rules/{rule.id}/edit"
    response = post(client, url, {**RULE_FORM, "title": "Nieuw", "version": version})
    assert response.status_code == 200
    assert "Laad de pagina opnieuw" in response.get_data(as_text=True)
    assert rules.get_rule(db, rule.id).title == "Oud"


def test_trace_without_a_version_is_refused(login_as, db):
    rule = make_rule(db, code="A")
    client = login_as("quality")
    response = post(
        client,
        f"/rules/{rule.id}/trace",
        {f"r{rule.id}-verified_origin": "team", f"r{rule.id}-version": ""},
        token_from="/tracing",
    )
    assert response.status_code == 200
    assert rules.get_rule(db, rule.id).verified_origin is None


@pytest.mark.parametrize(
    "url", ["/rules/export.xlsx", "/dashboard/report.xlsx", "/import/template.xlsx"]
)
def test_excel_downloads_are_not_stored(login_as, db, url):
    make_rule(db)
    response = login_as("admin").get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    assert client.get("/static/app.css").headers.get("Cache-Control") != "no-store"
