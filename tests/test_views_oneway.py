"""Every view the same way: domain errors become messages through one helper, the groups of
roles are named once, the menu asks the access rules, the domain decides who sees a session,
and no view calls another view."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from audit import access
from audit.core.errors import AuditError, Conflict, NotFound, ValidationError
from audit.domain import sessions
from audit.views.helpers import Problems, attempt
from audit.web import NAV
from tests.conftest import make_rule, make_team, make_user, post

ROOT = Path(__file__).resolve().parent.parent
VIEWS = sorted((ROOT / "audit" / "views").glob("*.py"))
HELPERS = ROOT / "audit" / "views" / "helpers.py"


def _module(path: Path):
    return importlib.import_module(f"audit.views.{path.stem}")


def _resolve(module, node: ast.expr):
    """The object a (dotted) name in a module stands for, or None."""
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None)
    if isinstance(node, ast.Attribute):
        base = _resolve(module, node.value)
        try:
            return getattr(base, node.attr, None) if base is not None else None
        except RuntimeError:  # current_user and the like: nothing to resolve outside a request
            return None
    return None


def domain_errors_caught(path: Path) -> list[str]:
    """The ``except`` clauses of a module that catch an error the user can cause."""
    module = _module(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ExceptHandler) or node.type is None:
            continue
        kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for kind in kinds:
            caught = _resolve(module, kind)
            if isinstance(caught, type) and issubclass(caught, AuditError):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(kind)}")
    return found


def calls_of(path: Path, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


# --- one way to turn domain errors into messages ---------------------------------------------


def test_the_scanner_finds_the_one_helper():
    # The check below would pass on anything if it could not see an except clause at all.
    assert {entry.split(" ")[1] for entry in domain_errors_caught(HELPERS)} == {
        "NotFound",  # get_or_404
        "ValidationError",
        "AuditError",
    }


@pytest.mark.parametrize("path", [p for p in VIEWS if p != HELPERS], ids=lambda p: p.stem)
def test_no_blueprint_catches_domain_errors_itself(path):
    assert domain_errors_caught(path) == []
    assert calls_of(path, "show_errors") == [], "put messages on a form with attempt()"


def _form(app):
    class Form(FlaskForm):
        title = StringField()

    return Form(meta={"csrf": False})


def _raise(error):
    def action():
        raise error

    return action


def test_attempt_puts_field_errors_at_their_field_and_the_rest_above_the_form(app):
    with app.test_request_context():
        form = _form(app)
        assert attempt(form, lambda: 42) == 42
        assert attempt(form, _raise(ValidationError({"title": "kort", "x": "elders"}))) is None
        assert form.title.errors == ["kort"]
        assert attempt(form, _raise(Conflict("verouderd"))) is None
        assert attempt(form, _raise(NotFound("weg"))) is None
        assert form.form_errors == ["elders", "verouderd", "weg"]
        aliased = _form(app)
        attempt(aliased, _raise(Conflict("over het bestand")), {"": "title"})
        assert aliased.title.errors == ["over het bestand"]


@pytest.mark.parametrize(
    "error, status",
    [
        (ValidationError({"present": "geen getal"}), 400),
        (Conflict("gesloten"), 409),
        (NotFound("weg"), 404),
    ],
)
def test_attempt_collects_problems_with_their_status(app, error, status):
    with app.test_request_context():
        problems = Problems()
        assert attempt(problems, lambda: None) is None
        assert not problems  # an action that returns nothing succeeded: no problems
        attempt(problems, _raise(error))
        assert problems and problems.status == status
        assert list(problems.values()) == [[str(error)]]


def test_attempt_without_a_form_flashes(app):
    with app.test_request_context():
        from flask import get_flashed_messages

        attempt(None, _raise(Conflict("alleen een open sessie")))
        assert get_flashed_messages(with_categories=True) == [("error", "alleen een open sessie")]


def test_a_failed_password_change_lands_on_the_current_password_field(client, auth, db):

    make_user(db, "anna")
    auth.login("anna")
    page = post(
        client,
        "/account",
        {"current": "wrong one", "password": "a new password", "confirm": "a new password"},
    ).get_data(as_text=True)
    errors = re.search(r'<ul class="errors" id="current-error">(.*?)</ul>', page, re.S)
    assert errors and "Dit is niet uw huidige wachtwoord." in errors.group(1)  # Dutch by default


# --- role groups named once, and the menu reads the access rules -----------------------------


ROLE_NAMES = set(access.ROLES)


def role_tuples(path: Path) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Tuple | ast.List | ast.Set)
        and node.elts
        and all(isinstance(e, ast.Constant) and e.value in ROLE_NAMES for e in node.elts)
    ]


TEMPLATE_ROLES = re.compile(r"""role\s+(not\s+)?in\s|["'](admin|quality|member|viewer)["']\s*,""")


def test_the_scanner_sees_role_tuples():
    assert len(role_tuples(ROOT / "audit" / "domain" / "roles.py")) >= 4


def test_role_groups_are_named_only_in_roles():
    found = [
        hit
        for path in sorted((ROOT / "audit").rglob("*.py"))
        if path.relative_to(ROOT).as_posix() != "audit/domain/roles.py"
        for hit in role_tuples(path)
    ]
    assert found == []
    in_templates = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if TEMPLATE_ROLES.search(line)
    ]
    assert in_templates == [], "a template asks may_open(endpoint) instead"


def _menu_links(html: str) -> set[str]:
    menu = re.search(r'<nav class="main-nav".*?</nav>', html, re.S)
    return set(re.findall(r'href="([^"]+)"', menu.group(0))) if menu else set()


@pytest.mark.parametrize("role", access.ROLES)
def test_the_menu_shows_an_item_exactly_when_its_page_lets_the_role_in(app, login_as, role):
    client = login_as(role)
    shown = _menu_links(client.get("/").get_data(as_text=True))
    with app.test_request_context():
        for item in NAV:
            allowed = access.access_of(app, item.endpoint)
            expected = allowed == access.PUBLIC or role in allowed
            # An item with a condition of its own ("My actions": only to an owner of an open
            # action, see test_actions.py) is hidden from these new users, who own nothing.
            in_menu = expected and item.when is None
            assert (url_for(item.endpoint) in shown) == in_menu, (role, item.endpoint)
            # ... and the page itself agrees.
            status = client.get(url_for(item.endpoint)).status_code
            assert (status == 200) == expected, (role, item.endpoint, status)


def test_may_open_follows_the_routes_declaration(app, login_as):
    login_as("member")
    with app.test_request_context():
        assert access.may_open("static")  # public
        assert not access.may_open("no.such_endpoint")  # no declaration: refused
        assert not access.may_open("main.index")  # nobody logged in this request


# --- who may see a session: a domain decision ------------------------------------------------


@pytest.fixture
def two_teams(db):
    vlinder, zon = make_team(db, "Vlinder"), make_team(db, "Zon")
    fac = make_user(db, "fac", "quality")
    rule = make_rule(db, code="A")
    people = {
        "anna": make_user(db, "anna", "member", teams=[vlinder]),
        "zoe": make_user(db, "zoe", "member", teams=[zon]),
        "lone": make_user(db, "lone", "member"),
        "vera": make_user(db, "vera", "viewer"),
        "fac": fac,
        "boss": make_user(db, "boss", "admin"),
    }
    session = sessions.create_session(
        db, fac, title="Vlinder", team_ids=[vlinder["id"]], rule_ids=[rule.id]
    )
    return session, people


@pytest.mark.parametrize(
    "who, sees",
    [
        ("anna", True),
        ("zoe", False),
        ("lone", False),
        ("vera", True),
        ("fac", True),
        ("boss", True),
    ],
)
def test_who_may_see_a_session(db, two_teams, who, sees):
    session, people = two_teams
    user = people[who]
    assert sessions.may_see(session, user) is sees
    listed = [item["session"].id for item in sessions.visible_sessions(db, user)]
    assert listed == ([session.id] if sees else [])
    if sees:
        assert sessions.visible_session(db, session.id, user).id == session.id
    else:
        with pytest.raises(NotFound):
            sessions.visible_session(db, session.id, user)


def test_the_views_ask_the_domain_who_sees_a_session():
    source = (ROOT / "audit" / "views" / "sessions.py").read_text()
    assert "visible_session" in source and "visible_sessions" in source
    assert "current_user.role ==" not in source and ".team_ids) &" not in source


# --- no view calls another view --------------------------------------------------------------


def test_no_view_calls_another_view(app):
    views = {id(function) for function in app.view_functions.values()}
    called = []
    for path in VIEWS:
        module = _module(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and id(_resolve(module, node.func)) in views:
                called.append(f"{path.name}:{node.lineno} {ast.unparse(node.func)}")
    assert called == []


def test_the_view_call_scanner_resolves_view_functions(app):
    # The scanner above finds a view when one is named: here, sessions.detail by its module.
    module = _module(ROOT / "audit" / "views" / "sessions.py")
    node = ast.parse("detail(1)").body[0].value
    assert _resolve(module, node.func) is app.view_functions["sessions.detail"]


def test_counts_for_a_session_that_takes_none_are_refused_with_a_message(db, two_teams, login_as):
    # A Conflict on a page that redirects: the message is flashed, nothing is saved.
    session, people = two_teams
    sessions.open_session(db, people["fac"], session.id)  # online ballots, not hands
    client = login_as("quality")
    url = f"/sessions/{session.id}"
    response = post(client, f"{url}/hands", {"present": "3"}, token_from=url)
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert '<div class="alert error" role="status">' in page
    assert db.execute("SELECT present FROM review_sessions").fetchone()[0] is None
