"""Accessibility of the rendered HTML, without a browser: ARIA attributes that say something.

The browser suite runs axe-core on the main pages (tests/test_browser_a11y.py); these tests
check every page the app serves, as each role, in both languages, and forms with errors.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask import url_for

from audit import demo
from tests.conftest import Auth, csrf_token

# Demo ids for URL parameters: session 1 is closed, 2 open (Zonnebloem), 3 a draft.
DEMO_ARGS = {
    "user_id": 4,
    "team_id": 1,
    "location_id": 1,
    "rule_id": 1,
    "protocol_id": 1,
    "category_id": 1,
    "strategy_id": 1,
    "session_id": 2,
    "report_id": 1,
    "action_id": 1,  # Anouk's overdue follow-up action on the closed spring session
    "experiment_id": 1,  # Waterlelie's ended experiment, with observations
    "filename": "app.css",
}
# Who sees most of the app: the admin everything, a member of the open session its ballot.
VISITORS = ("beheer", "kwaliteit", "fatima")


class Elements(HTMLParser):
    """Every start tag with its attributes, and every id on the page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}

    def by_id(self, element_id: str) -> dict[str, str | None]:
        return next(a for _, a in self.tags if a.get("id") == element_id)


@pytest.fixture
def demo_clients(app, db):
    """Logged-in clients of the demo organisation, keyed by user name."""
    logins = {name: password for name, _, password in demo.seed(db, app.config["SECRET_KEY"])}
    # Report ids are random: a waiting one gets a known id, so its triage page is checked too.
    db.execute(
        "UPDATE rule_reports SET id = 1 WHERE id ="
        " (SELECT min(id) FROM rule_reports WHERE state = 'untriaged')"
    )
    clients = {}
    for name in VISITORS:
        client = app.test_client()
        assert Auth(client).login(name, logins[name]).status_code == 302
        clients[name] = client
    return clients


def _page_urls(app, methods: set[str] | frozenset[str] = frozenset({"GET"})) -> list[str]:
    """Every page URL (with demo ids) of the routes that accept all these methods."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not methods <= rule.methods or rule.endpoint == "static" or rule.rule.endswith(".xlsx"):
            continue
        with app.test_request_context():
            urls.append(url_for(rule.endpoint, **{k: DEMO_ARGS[k] for k in rule.arguments}))
    return sorted(set(urls))


def _set_language(client, code: str) -> None:
    token = csrf_token(client, "/account")
    response = client.post("/language", data={"lang": code, "csrf_token": token})
    assert response.status_code == 302


def assert_aria_is_meaningful(html: str, where: str) -> None:
    """No attribute says "None", and every aria-describedby points at an element on the page."""
    assert '="None"' not in html, f"{where}: " + html[html.index('="None"') - 200 :][:300]
    page = Elements(html)
    for tag, attrs in page.tags:
        for referenced in (attrs.get("aria-describedby") or "").split():
            assert referenced in page.ids, f"{where}: <{tag} id={attrs.get('id')}> -> {referenced}"
        if "aria-invalid" in attrs:
            assert attrs["aria-invalid"] == "true", f"{where}: {attrs}"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_no_page_renders_a_none_attribute(app, demo_clients, language):
    urls = _page_urls(app)
    assert "/rules/new" in urls and "/sessions/2/vote" in urls
    checked = 0
    for name, client in demo_clients.items():
        _set_language(client, language)
        for url in urls:
            response = client.get(url)
            if response.status_code != 200:
                continue  # refused to this role, or gone (such as /setup)
            assert_aria_is_meaningful(response.get_data(as_text=True), f"{name} {url}")
            checked += 1
    assert checked > 40


def test_no_form_with_errors_renders_a_none_attribute(app, demo_clients):
    """Every form sent back empty: whatever errors it shows, its attributes say something."""
    forms = set()
    for name in ("beheer", "fatima"):  # the admin's forms, and the member's ballot
        client = demo_clients[name]
        for url in _page_urls(app, {"GET", "POST"}):
            if client.get(url).status_code != 200:
                continue  # refused to this role, or gone (such as /setup)
            data = {"csrf_token": csrf_token(client, url)}
            if url.endswith("/vote"):
                # An empty ballot saves nothing and says so; a reason without a choice is sent
                # back with the error beside the rule.
                data.update({f"reason-{rule_id}": "Waarom?" for rule_id in range(1, 31)})
            response = client.post(url, data=data)
            if response.status_code == 302:
                continue  # saved: an edit form keeps the stored value of a field not sent
            assert_aria_is_meaningful(response.get_data(as_text=True), f"{name} POST {url}")
            forms.add(url)
    assert len(forms) >= 7 and "/sessions/2/vote" in forms, sorted(forms)


@pytest.mark.parametrize(
    ("url", "field", "data"),
    [
        ("/rules/new", "title", {"title": ""}),
        ("/login", "username", {"username": "", "password": ""}),
        ("/admin/users/new", "username", {"username": "", "role": "member"}),
    ],
)
def test_an_erroneous_field_is_invalid_and_described_by_its_error(
    app, demo_clients, url, field, data
):
    client = demo_clients["beheer"] if url != "/login" else app.test_client()
    response = client.post(url, data={**data, "csrf_token": csrf_token(client, url)})
    assert response.status_code in (200, 400)
    page = Elements(response.get_data(as_text=True))
    attrs = page.by_id(field)
    assert attrs.get("aria-invalid") == "true"
    described = (attrs.get("aria-describedby") or "").split()
    assert f"{field}-error" in described
    assert set(described) <= page.ids


def test_a_field_without_error_or_hint_has_no_aria_attributes(app, db):
    html = app.test_client().get("/setup").get_data(as_text=True)
    organisation = Elements(html).by_id("organisation")
    assert "aria-invalid" not in organisation
    assert "aria-describedby" not in organisation
    password = Elements(html).by_id("password")
    assert password["aria-describedby"] == "password-hint"
    assert "aria-invalid" not in password


def test_a_failed_trace_marks_the_origin_invalid(app, demo_clients):
    client = demo_clients["kwaliteit"]
    token = csrf_token(client, "/tracing")
    response = client.post(
        "/rules/1/trace", data={"r1-verified_origin": "nonsense", "csrf_token": token}
    )
    html = response.get_data(as_text=True)
    assert_aria_is_meaningful(html, "trace")
    attrs = Elements(html).by_id("r1-verified_origin")
    assert attrs.get("aria-invalid") == "true"
    assert attrs.get("aria-describedby") == "r1-verified_origin-error"


def test_no_page_lets_the_browser_cut_text(app, demo_clients):
    """A ``maxlength`` attribute makes a browser cut pasted text at the limit without a word;
    every form checks the length on the server instead and says so (``MaxLength``)."""
    checked = 0
    for name in VISITORS:
        client = demo_clients[name]
        for url in _page_urls(app):
            response = client.get(url)
            if response.status_code == 200:
                assert "maxlength" not in response.get_data(as_text=True), f"{name} {url}"
                checked += 1
    assert checked > 40


def test_a_too_long_name_is_refused_with_its_length_not_cut(app, demo_clients):
    client = demo_clients["beheer"]
    data = {"csrf_token": csrf_token(client, "/admin/locations/new"), "name": "L" * 150}
    response = client.post("/admin/locations/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "150" in page and "L" * 150 in page
