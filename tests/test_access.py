"""Every route in the URL map against every role.

ACCESS is the single table of who may open what. A route added without an entry here fails
test_every_route_is_in_the_table, so access is always a decision, never an accident.
"""

from __future__ import annotations

import pytest

from audit.access import PUBLIC, access_of
from audit.domain import protocols, rule_reports, sessions
from tests.conftest import Auth, make_rule, make_team, make_user

ALL = {"admin", "quality", "member", "viewer"}
ADMIN = {"admin"}
EDITORS = {"admin", "quality"}

ACCESS: dict[str, set[str] | str] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.setup": PUBLIC,
    "auth.language": PUBLIC,
    "auth.logout": ALL,
    "auth.account": ALL,
    "main.index": ALL,
    "main.help_page": ALL,
    "admin.user_list": ADMIN,
    "admin.user_new": ADMIN,
    "admin.user_edit": ADMIN,
    "admin.teams": ADMIN,
    "admin.location_edit": ADMIN,
    "admin.team_edit": ADMIN,
    "admin.settings": ADMIN,
    "rules.register_page": ALL,
    "rules.detail": ALL,
    "rules.new": EDITORS,
    "rules.edit": EDITORS,
    "rules.archive": EDITORS,
    "rules.restore": EDITORS,
    "rules.tracing": EDITORS,
    "rules.trace": EDITORS,
    "rules.bulk": EDITORS,
    "protocols.index": ALL,
    "protocols.detail": ALL,
    "protocols.edit": EDITORS,
    "categories.index": EDITORS,
    "categories.edit": EDITORS,
    "strategies.index": ADMIN,
    "strategies.edit": ADMIN,
    "dashboard.index": {"admin", "quality", "viewer"},
    "sessions.index": ALL,
    "sessions.new": EDITORS,
    "sessions.edit": EDITORS,
    "sessions.detail": ALL,
    "sessions.open_": EDITORS,
    "sessions.close": EDITORS,
    "sessions.reopen": EDITORS,
    "sessions.hands": EDITORS,
    "sessions.add_concern": EDITORS,
    "sessions.remove_concern": EDITORS,
    "sessions.answer_concern": EDITORS,
    "sessions.decide": EDITORS,
    "sessions.share_with_council": EDITORS,
    "sessions.advice": {"admin", "quality", "viewer"},
    "sessions.apply": EDITORS,
    "sessions.vote": {"admin", "quality", "member"},
    "teams.index": ALL,
    "teams.detail": ALL,
    "reports.dashboard_report": {"admin", "quality", "viewer"},
    "reports.register_report": {"admin", "quality", "viewer"},
    "imports.upload": EDITORS,
    "imports.confirm": EDITORS,
    "imports.template": EDITORS,
    "rule_reports.new": ALL,
    "rule_reports.mine": ALL,
    "rule_reports.withdraw": ALL,
    "rule_reports.inbox": EDITORS,
    "rule_reports.inbox_report": EDITORS,
    "rule_reports.inbox_attach": EDITORS,
    "rule_reports.inbox_decline": EDITORS,
    "actions.mine": {"admin", "quality", "member"},
    "actions.index": {"admin", "quality", "viewer"},
    "actions.done": {"admin", "quality", "member"},
    "actions.reopen": {"admin", "quality", "member"},
    "actions.add": EDITORS,
    "actions.edit": EDITORS,
    "actions.delete": EDITORS,
    "experiments.detail": ALL,
    "experiments.observe": {"admin", "quality", "member"},
    "experiments.follow_up": EDITORS,
}

# Values for URL parameters; the access test creates things with these ids first.
SAMPLE_ARGS = {
    "user_id": 1,
    "team_id": 1,
    "location_id": 1,
    "rule_id": 1,
    "protocol_id": 1,
    "category_id": 1,
    "strategy_id": 1,
    "session_id": 1,
    "report_id": 1,
    "action_id": 1,
    "experiment_id": 1,
    "filename": "app.css",
}


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ACCESS), "add the new route to ACCESS with who may open it"


def test_declared_access_matches_the_table(app):
    for endpoint, expected in ACCESS.items():
        declared = access_of(app, endpoint)
        assert declared is not None, f"{endpoint} has no @allow/@public"
        assert declared == (PUBLIC if expected == PUBLIC else frozenset(expected)), endpoint


def _requests(app):
    """(endpoint, method, url) for every route, GET where it has one, else POST."""
    for rule in app.url_map.iter_rules():
        args = {name: SAMPLE_ARGS[name] for name in rule.arguments}
        if rule.defaults and set(rule.defaults) & set(rule.arguments):
            continue  # the same endpoint is also reachable without the default-only argument
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **args)
        method = "GET" if "GET" in rule.methods else "POST"
        yield rule.endpoint, method, url


@pytest.fixture
def world(app, db):
    team = make_team(db, "Vlinder", location="Noord")
    make_user(db, "someone", "member", teams=[team])
    protocols.save_protocol(db, None, name="P1")
    make_rule(db, title="Een regel", protocol_id=1)
    facilitator = make_user(db, "facilitator", "quality")
    sessions.create_session(db, facilitator, title="S", team_ids=[team["id"]], rule_ids=[1])
    report = rule_reports.submit(db, "test", facilitator, title="Gemeld", team_id=team["id"])
    db.execute("UPDATE rule_reports SET id = 1 WHERE id = ?", [report.id])  # ids are random
    return team


@pytest.fixture
def nocsrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.mark.parametrize("role", sorted(ALL) + ["anonymous"])
def test_every_route_for_every_role(nocsrf_app, db, world, role):
    app = nocsrf_app
    client = app.test_client()
    if role != "anonymous":
        make_user(db, f"the-{role}", role, teams=[world])
        assert Auth(client).login(f"the-{role}").status_code == 302
    for endpoint, method, url in _requests(app):
        expected = ACCESS[endpoint]
        response = client.open(url, method=method, data={})
        if endpoint == "auth.logout" and role != "anonymous":
            assert response.status_code == 302
            assert Auth(client).login(f"the-{role}").status_code == 302
            continue
        if expected == PUBLIC:
            assert response.status_code in (200, 302, 400, 404), (role, endpoint)
        elif role == "anonymous":
            assert response.status_code == 302, (role, endpoint)
            assert "/login" in response.headers["Location"]
        elif role in expected:
            # Allowed: whatever the empty request deserves (a page, a redirect, a 400 for a
            # form with nothing in it), but never a refusal and never a server error.
            assert response.status_code not in (401, 403), (role, endpoint)
            assert response.status_code < 500, (role, endpoint, response.status_code)
        else:
            assert response.status_code == 403, (role, endpoint, response.status_code)


def test_a_view_without_declaration_is_refused(app):
    from flask import Blueprint

    bp = Blueprint("forgotten", __name__)

    @bp.route("/forgotten")
    def forgotten():
        return "open"

    app.register_blueprint(bp)
    assert app.test_client().get("/forgotten").status_code == 403


def test_every_post_without_csrf_token_is_refused(app, db, world):
    make_user(db, "boss", "admin")
    client = app.test_client()
    assert Auth(client).login("boss").status_code == 302
    posted = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        args = {name: SAMPLE_ARGS[name] for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **args)
        response = client.post(url, data={"anything": "x"})
        assert response.status_code == 400, rule.endpoint
        assert "formulier is verlopen" in response.get_data(as_text=True)
        posted += 1
    assert posted >= 8
    assert client.get("/").status_code == 200  # still logged in: nothing was done
