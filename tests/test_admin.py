import pytest

from audit.domain import events, organisation, users
from tests.conftest import make_team, make_user, post


@pytest.fixture
def admin(login_as):
    return login_as("admin", "boss")


def _count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_create_user_with_teams(admin, db):
    team = make_team(db, "Vlinder")
    response = post(
        admin,
        "/admin/users/new",
        {
            "username": "joost",
            "display_name": "Joost Mulder",
            "role": "member",
            "team_ids": [str(team["id"])],
            "password": "long enough",
            "confirm": "long enough",
        },
    )
    assert response.status_code == 302
    user = users.find_user(db, "joost")
    assert user.role == "member"
    assert user.team_ids == [team["id"]]
    event = events.history(db, "user", user.id)[0]
    assert event["actor_name"] == "boss"
    assert event["changes"]["teams"] == [None, ["Vlinder"]]


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"username": "boss"}, "Deze gebruikersnaam is al in gebruik."),
        ({"username": "BOSS"}, "Deze gebruikersnaam is al in gebruik."),
        ({"role": "superuser"}, "Ongeldige keuze."),
        ({"username": "with space"}, "geen spaties"),
        ({"display_name": "x" * 101}, "100"),
        ({"password": "short", "confirm": "short"}, "Gebruik minstens 8 tekens."),
        ({"password": "x" * 129, "confirm": "x" * 129}, "128"),
        ({"confirm": "other"}, "De wachtwoorden verschillen."),
        ({"team_ids": ["999"]}, "ongeldige keuze"),
    ],
)
def test_bad_user_input_changes_nothing(admin, db, fields, message):
    before = _count(db, "users"), _count(db, "events")
    data = {
        "username": "joost",
        "display_name": "Joost",
        "role": "member",
        "password": "long enough",
        "confirm": "long enough",
        **fields,
    }
    response = post(admin, "/admin/users/new", data)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in text
    assert "Er is nog niets opgeslagen." in text
    assert (_count(db, "users"), _count(db, "events")) == before
    if "display_name" not in fields:
        assert 'value="Joost"' in text  # the user's input is kept


def test_edit_role_and_teams_is_recorded(admin, db):
    team = make_team(db, "Zonnebloem")
    user = make_user(db, "sanne", "member")
    response = post(
        admin,
        f"/admin/users/{user.id}",
        {"display_name": "Sanne", "role": "quality", "team_ids": [str(team["id"])], "active": "y"},
    )
    assert response.status_code == 302
    user = users.get_user(db, user.id)
    assert (user.role, user.team_ids, user.display_name) == ("quality", [team["id"]], "Sanne")
    change = events.history(db, "user", user.id)[0]["changes"]
    assert change["role"] == ["member", "quality"]
    assert change["teams"] == [[], ["Zonnebloem"]]


def test_deactivate_keeps_the_user(admin, db, app):
    from tests.conftest import Auth

    user = make_user(db, "sanne", "member")
    other = app.test_client()
    Auth(other).login("sanne")
    response = post(admin, f"/admin/users/{user.id}", {"role": "member"})  # active unticked
    assert response.status_code == 302
    assert users.get_user(db, user.id).active is False
    assert other.get("/").status_code == 302  # their session has ended
    assert _count(db, "users") == 2


def test_admin_cannot_demote_themselves(admin, db):
    me = users.find_user(db, "boss")
    response = post(admin, f"/admin/users/{me.id}", {"role": "viewer", "active": "y"})
    assert "U kunt uw eigen beheerrechten niet intrekken." in response.get_data(as_text=True)
    assert users.get_user(db, me.id).role == "admin"


def test_last_admin_stays(db):
    make_user(db, "only", "admin")
    other = make_user(db, "q", "quality")
    with pytest.raises(Exception, match="laatste|last"):
        users.update_user(db, other, 1, role="member")


def test_admin_sets_a_new_password(admin, db, app):
    from tests.conftest import Auth

    user = make_user(db, "sanne", "member")
    post(
        admin,
        f"/admin/users/{user.id}",
        {"role": "member", "active": "y", "password": "brand new pw", "confirm": "brand new pw"},
    )
    assert Auth(app.test_client()).login("sanne", "brand new pw").status_code == 302
    assert events.history(db, "user", user.id)[0]["action"] == "password"


def test_unknown_user_page_is_404(admin):
    assert admin.get("/admin/users/999").status_code == 404


def test_locations_and_teams(admin, db):
    assert post(admin, "/admin/locations/new", {"name": "Noord"}).status_code == 302
    loc = organisation.find_location(db, "noord")
    response = post(admin, "/admin/teams/new", {"name": "Vlinder", "location_id": str(loc["id"])})
    assert response.status_code == 302
    team = organisation.find_team(db, "vlinder")
    assert team["location_id"] == loc["id"]
    page = admin.get("/admin/teams").get_data(as_text=True)
    assert "Vlinder" in page and "Noord" in page
    assert (
        post(
            admin, f"/admin/teams/{team['id']}", {"name": "Vlinder 2", "location_id": ""}
        ).status_code
        == 302
    )
    assert organisation.get_team(db, team["id"]) == {
        "id": team["id"],
        "name": "Vlinder 2",
        "location_id": None,
    }


@pytest.mark.parametrize(
    "url,data,message",
    [
        ("/admin/locations/new", {"name": "Noord"}, "Er is al een locatie met deze naam."),
        ("/admin/locations/new", {"name": "x" * 101}, "100"),
        ("/admin/locations/new", {"name": " "}, "Dit veld is vereist"),
        (
            "/admin/teams/new",
            {"name": "vlinder", "location_id": ""},
            "Er is al een team met deze naam.",
        ),
        ("/admin/teams/new", {"name": "Nieuw", "location_id": "999"}, "Ongeldige keuze"),
    ],
)
def test_bad_location_and_team_input(admin, db, url, data, message):
    make_team(db, "Vlinder", location="Noord")
    before = _count(db, "teams"), _count(db, "locations"), _count(db, "events")
    text = post(admin, url, data).get_data(as_text=True)
    assert message in text
    assert (_count(db, "teams"), _count(db, "locations"), _count(db, "events")) == before


def test_settings(admin, db):
    response = post(
        admin,
        "/admin/settings",
        {
            "name": "De Lindehof",
            "default_language": "en",
            "reference_share": "65",
            "reference_label_nl": "Eigen meting",
            "reference_label_en": "",
        },
    )
    assert response.status_code == 302
    assert organisation.get_settings(db) == {
        "name": "De Lindehof",
        "default_language": "en",
        "reference_share": 0.65,
        "reference_label_nl": "Eigen meting",
        "reference_label_en": "",
    }
    assert events.history(db, "organisation", 1)[0]["changes"]["reference_share"] == [0.7, 0.65]


@pytest.mark.parametrize("share", ["101", "-1", "abc"])
def test_settings_refuse_a_bad_reference_share(admin, db, share):
    response = post(
        admin, "/admin/settings", {"name": "X", "default_language": "nl", "reference_share": share}
    )
    assert response.status_code == 200
    assert organisation.get_settings(db)["reference_share"] == 0.7
    assert 'class="errors"' in response.get_data(as_text=True)
