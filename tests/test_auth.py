from datetime import timedelta

import pytest

from audit.core import clock
from audit.domain import events, users
from tests.conftest import PASSWORD, Auth, csrf_token, make_user, post


def test_login_and_logout(client, auth, db):
    make_user(db, "anna")
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # back to the login page


def test_login_redirects_to_next_but_only_on_this_site(client, db):
    make_user(db, "anna", "admin")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={
            "username": "anna",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/admin/users",
        },
    )
    assert response.headers["Location"] == "/admin/users"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    for evil in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        token = csrf_token(client)
        response = client.post(
            "/login",
            data={"username": "anna", "password": PASSWORD, "csrf_token": token, "next": evil},
        )
        assert response.headers["Location"] == "/", evil
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_anonymous_is_sent_to_login(client, db):
    make_user(db, "anna")
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("username", ["anna", "ANNA", " Anna "])
def test_user_name_is_case_insensitive(auth, db, username):
    make_user(db, "anna")
    assert auth.login(username).status_code == 302


def test_wrong_password_gives_a_clear_message(client, auth, db):
    make_user(db, "anna")
    response = auth.login(password="wrong password")
    assert response.status_code == 200
    assert "Onbekende gebruikersnaam of verkeerd wachtwoord." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message(auth, db):
    make_user(db, "anna")
    text = auth.login("nobody").get_data(as_text=True)
    assert "Onbekende gebruikersnaam of verkeerd wachtwoord." in text


def test_password_is_never_stored_in_clear(db):
    make_user(db, "anna")
    row = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert PASSWORD not in row
    assert row.startswith("pbkdf2:")
    dump = "\n".join(db.conn.iterdump())
    assert PASSWORD not in dump


def test_lockout_after_repeated_failures(app, client, auth, db):
    make_user(db, "anna")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        auth.login(password="nope nope")
    response = auth.login()  # the right password, but locked
    assert "geblokkeerd" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert events.history(db, "user", 1)[0]["action"] == "locked"
    # Changing the case of the user name is the same account, so the same lock.
    assert "geblokkeerd" in auth.login("ANNA").get_data(as_text=True)
    later = clock.now() + timedelta(minutes=app.config["LOGIN_LOCKOUT_MINUTES"] + 1)
    clock.set(later)
    assert auth.login().status_code == 302


def test_success_resets_the_failure_count(auth, db, app):
    make_user(db, "anna")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        auth.login(password="nope nope")
    assert auth.login().status_code == 302
    assert db.execute("SELECT failed_logins FROM users").fetchone()[0] == 0


def test_deactivated_user_cannot_log_in(auth, db):
    user = make_user(db, "anna")
    make_user(db, "admin", "admin")
    users.update_user(db, None, user.id, role="member", active=False)
    text = auth.login().get_data(as_text=True)
    assert "gedeactiveerd" in text


def test_logout_ends_the_session_on_the_server(app, client, auth, db):
    make_user(db, "anna")
    auth.login()
    cookie = client.get_cookie("rule_audit_session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("rule_audit_session", cookie)
    assert thief.get("/").status_code == 302


def test_password_change_ends_other_sessions(app, db):
    make_user(db, "anna")
    phone, desk = app.test_client(), app.test_client()
    Auth(phone).login()
    Auth(desk).login()
    response = post(
        desk,
        "/account",
        {"current": PASSWORD, "password": "a new secret", "confirm": "a new secret"},
    )
    assert response.status_code == 302
    assert desk.get("/").status_code == 200
    assert phone.get("/").status_code == 302
    assert Auth(app.test_client()).login(password="a new secret").status_code == 302


def test_password_change_with_wrong_current_password(client, auth, db):
    make_user(db, "anna")
    auth.login()
    response = post(
        client,
        "/account",
        {"current": "not it", "password": "a new secret", "confirm": "a new secret"},
    )
    assert "Dit is niet uw huidige wachtwoord." in response.get_data(as_text=True)
    assert Auth(client).login(password="a new secret").status_code == 200  # not changed


def test_setup_only_while_no_users(client, db):
    assert client.get("/login").headers["Location"] == "/setup"
    page = client.get("/setup")
    assert page.status_code == 200
    token = csrf_token(client, "/setup")
    response = client.post(
        "/setup",
        data={
            "csrf_token": token,
            "organisation": "De Lindehof",
            "default_language": "en",
            "username": "ilse",
            "display_name": "Ilse",
            "password": "long enough",
            "confirm": "long enough",
        },
    )
    assert response.status_code == 302
    assert users.find_user(db, "ilse").role == "admin"
    assert client.get("/setup").status_code == 404
    token = csrf_token(client, "/")
    assert client.post("/setup", data={"csrf_token": token}).status_code == 404


def test_setup_with_bad_input_keeps_input_and_writes_nothing(client, db):
    token = csrf_token(client, "/setup")
    response = client.post(
        "/setup",
        data={
            "csrf_token": token,
            "organisation": "De Lindehof",
            "default_language": "nl",
            "username": "has space",
            "password": "long enough",
            "confirm": "different",
        },
    )
    text = response.get_data(as_text=True)
    assert "De wachtwoorden verschillen." in text
    assert 'value="De Lindehof"' in text
    assert users.count_users(db) == 0


@pytest.mark.parametrize("lang,word", [("en", "Log in"), ("nl", "Inloggen")])
def test_language_switch_for_anonymous(client, db, lang, word):
    make_user(db, "anna")
    token = csrf_token(client)
    response = client.post("/language", data={"csrf_token": token, "lang": lang, "next": "/login"})
    assert response.headers["Location"] == "/login"
    assert f"<h1>{word}</h1>" in client.get("/login").get_data(as_text=True)


def test_language_is_kept_per_user(app, client, auth, db):
    make_user(db, "anna")
    auth.login()
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "lang": "en"})
    assert users.find_user(db, "anna").language == "en"
    other = app.test_client()
    Auth(other).login()
    assert 'lang="en"' in other.get("/").get_data(as_text=True)


def test_unknown_language_is_refused(client, db):
    make_user(db, "anna")
    token = csrf_token(client)
    assert client.post("/language", data={"csrf_token": token, "lang": "fr"}).status_code == 400


def test_organisation_default_language(client, db):
    from audit.domain import organisation

    make_user(db, "anna")
    assert 'lang="nl"' in client.get("/login").get_data(as_text=True)
    organisation.update_settings(db, None, name="X", default_language="en", reference_share=0.7)
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)
