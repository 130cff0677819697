"""Fixtures: a fresh app on a temporary SQLite file per test, clients logged in per role, and
small factories."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from audit import create_app
from audit.core import clock
from audit.domain import organisation, rules, users
from audit.store.db import connect
from audit.xlsx import importer as xlsx_import

PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch):
    # scrypt costs ~75 ms per hash; the tests hash hundreds of times.
    monkeypatch.setattr(users, "HASH_METHOD", "pbkdf2:sha256:1000")
    users._dummy_hash.cache_clear()


@pytest.fixture(autouse=True)
def _real_clock():
    # A test moves time with clock.set(...) in one place; the next test starts at the real time.
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def app(tmp_path, monkeypatch):
    # An instance folder of the test's own: uploads and locks never touch the checkout's.
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(tmp_path / "instance"))
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE": str(tmp_path / "audit.sqlite3"),
            # Tests log in from one address many times over; the limit has tests of its own.
            "LOGIN_RATE_LIMIT": "10000 per minute",
        }
    )


@pytest.fixture
def db(app):
    database = connect(app.config["DATABASE"])
    yield database
    database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_user(db, username="anna", role="member", teams=(), password=PASSWORD, **fields):
    return users.create_user(
        db,
        None,
        username=username,
        password=password,
        role=role,
        team_ids=[t if isinstance(t, int) else t["id"] for t in teams],
        **fields,
    )


def make_team(db, name="Vlinder", location=None):
    location_id = None
    if location:
        found = organisation.find_location(db, location)
        location_id = (found or organisation.save_location(db, None, location))["id"]
    return organisation.save_team(db, None, name, location_id)


def csrf_token(client, url="/login"):
    """The CSRF token of a page's form, as a browser would send it back."""
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no csrf token on {url}"
    return match.group(1)


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, username="anna", password=PASSWORD):
        token = csrf_token(self.client, "/login")
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def login_as(app, db):
    """login_as("quality") -> a client logged in as a new user of that role."""
    clients = {}

    def login(role, username=None, teams=()):
        username = username or f"{role}1"
        if username not in clients:
            make_user(db, username=username, role=role, teams=teams)
            client = app.test_client()
            response = Auth(client).login(username)
            assert response.status_code == 302, response.get_data(as_text=True)
            clients[username] = client
        return clients[username]

    return login


def post(client, url, data=None, token_from=None, **kwargs):
    """POST a form the way a browser does: with the CSRF token of the page it came from."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, token_from or url))
    return client.post(url, data=data, **kwargs)


def make_rule(db, actor=None, **fields):
    """A rule with sensible defaults; any field can be given."""
    fields.setdefault("title", "Geen taart van familie")
    return rules.create_rule(db, actor, **fields)


def mirror_answers(days: int = 90) -> dict[str, str]:
    """The answers the new-rule form requires of a rule added by hand (the mirror check): a
    problem, a perceived origin ("unknown" is an answer) and a review date within the horizon,
    as a browser posts them."""
    return {
        "problem": "Familie bracht taart mee terwijl bewoners op dieet staan",
        "perceived_origin": "unknown",
        "review_due": (clock.today() + timedelta(days=days)).isoformat(),
    }


# --- Excel imports: read a plan and apply it as the command line does ---------------------


@pytest.fixture
def imp(app, db):
    """imp(path, **options) -> the plan, read in an app context as the CLI does."""

    def read(path, **kwargs):
        with app.app_context():
            return xlsx_import.read_plan(db, path, filename=path.name, **kwargs)

    return read


@pytest.fixture
def apply(app, db):
    def run(plan, actor=None, **kwargs):
        with app.app_context():
            return xlsx_import.apply_plan(db, actor, plan, **kwargs)

    return run
