"""The admin's user forms: all or nothing, the least privilege by default, a confirmed admin,
and the real password hash."""

import re

import pytest
from werkzeug.security import check_password_hash

from audit.core.errors import ValidationError
from audit.domain import events, users
from tests.conftest import PASSWORD, Auth, make_team, make_user, post


@pytest.fixture
def admin(login_as):
    return login_as("admin", "boss")


def _count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_refused_password_leaves_the_role_as_it_was(admin, db):
    team = make_team(db, "Vlinder")
    user = make_user(db, "sanne", "member", display_name="Sanne")
    hash_before = db.execute("SELECT password_hash FROM users WHERE id = ?", [user.id]).fetchone()
    events_before = _count(db, "events")
    response = post(
        admin,
        f"/admin/users/{user.id}",
        {
            "role": "quality",
            "display_name": "Sanne de Vries",
            "team_ids": [str(team["id"])],
            "active": "y",
            "password": "7 chars",
            "confirm": "7 chars",
        },
    )
    assert response.status_code == 200
    assert "Gebruik minstens 8 tekens." in response.get_data(as_text=True)
    after = users.get_user(db, user.id)
    assert (after.role, after.display_name, after.team_ids) == ("member", "Sanne", [])
    assert db.execute("SELECT password_hash FROM users WHERE id = ?", [user.id]).fetchone() == (
        hash_before
    )
    assert _count(db, "events") == events_before


def test_profile_and_password_in_one_call(db):
    make_user(db, "boss", "admin")
    user = make_user(db, "sanne", "member")
    with pytest.raises(ValidationError) as refused:
        users.update_user(db, None, user.id, role="quality", password="short")
    assert set(refused.value.errors) == {"password"}
    assert users.get_user(db, user.id).role == "member"
    users.update_user(db, None, user.id, role="quality", password="long enough now")
    assert users.get_user(db, user.id).role == "quality"
    assert [e["action"] for e in events.history(db, "user", user.id)][:2] == ["password", "update"]
    with pytest.raises(Exception):  # noqa: B017 - the old password no longer works
        users.authenticate(db, "sanne", PASSWORD)
    assert users.authenticate(db, "sanne", "long enough now").id == user.id


def test_a_new_password_from_the_admin_ends_the_users_sessions(admin, app, db):
    user = make_user(db, "sanne", "member")
    theirs = app.test_client()
    assert Auth(theirs).login("sanne").status_code == 302
    post(
        admin,
        f"/admin/users/{user.id}",
        {"role": "member", "active": "y", "password": "brand new pw", "confirm": "brand new pw"},
    )
    assert theirs.get("/").status_code == 302  # sent to the login page


def test_the_new_user_form_starts_at_member(admin):
    page = admin.get("/admin/users/new").get_data(as_text=True)
    selected = re.search(r'<option selected value="(\w+)">', page)
    assert selected and selected.group(1) == "member"


NEW_ADMIN = {
    "username": "joost",
    "display_name": "Joost",
    "role": "admin",
    "password": "long enough",
    "confirm": "long enough",
}


def test_creating_an_admin_needs_a_ticked_box(admin, db):
    refused = post(admin, "/admin/users/new", NEW_ADMIN)
    assert refused.status_code == 200
    assert "Vink dit aan om te bevestigen" in refused.get_data(as_text=True)
    assert users.find_user(db, "joost") is None
    created = post(admin, "/admin/users/new", {**NEW_ADMIN, "confirm_admin": "y"})
    assert created.status_code == 302
    assert users.find_user(db, "joost").role == "admin"


def test_other_roles_need_no_box(admin, db):
    response = post(admin, "/admin/users/new", {**NEW_ADMIN, "role": "quality"})
    assert response.status_code == 302


def test_promoting_to_admin_needs_the_box_too(admin, db):
    user = make_user(db, "sanne", "member")
    refused = post(admin, f"/admin/users/{user.id}", {"role": "admin", "active": "y"})
    assert refused.status_code == 200
    assert users.get_user(db, user.id).role == "member"
    done = post(
        admin, f"/admin/users/{user.id}", {"role": "admin", "active": "y", "confirm_admin": "y"}
    )
    assert done.status_code == 302
    assert users.get_user(db, user.id).role == "admin"
    # An admin stays admin without ticking anything when only their name changes.
    again = post(
        admin, f"/admin/users/{user.id}", {"role": "admin", "active": "y", "display_name": "S"}
    )
    assert again.status_code == 302


def test_production_hashes_are_scrypt(db, app, monkeypatch):
    """The shared fixture swaps in a cheap hash for speed; this test runs with the real one."""
    monkeypatch.undo()
    users._dummy_hash.cache_clear()
    assert users.HASH_METHOD == "scrypt"
    user = make_user(db, "sanne", "member")
    stored = db.execute("SELECT password_hash FROM users WHERE id = ?", [user.id]).fetchone()[0]
    method, salt, digest = stored.split("$")
    assert method == "scrypt:32768:8:1"  # werkzeug's cost: n=2**15, r=8, p=1
    assert len(salt) >= 16 and len(digest) == 128
    assert check_password_hash(stored, PASSWORD)
    assert users.authenticate(db, "sanne", PASSWORD).id == user.id
    assert users._dummy_hash().startswith("scrypt:")  # unknown names cost the same work
    users.update_user(db, None, user.id, role="member", password="another password")
    assert (
        db.execute("SELECT password_hash FROM users WHERE id = ?", [user.id])
        .fetchone()[0]
        .startswith("scrypt:32768:8:1$")
    )
    users._dummy_hash.cache_clear()
