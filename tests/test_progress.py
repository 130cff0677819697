"""The progress shown while a report or an import check is prepared, seen from the server side:
the pages carry what static/progress.js needs, the script is a static file the strict
Content-Security-Policy allows, and without the script everything still works as plain HTML.
The script at work in Chromium is in tests/test_browser_progress.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from audit.web import CSP
from tests.conftest import csrf_token, make_rule

SCRIPT = "/static/progress.js"

BUSY = {
    "en": {
        "report": "Preparing the report…",
        "done": "The report is ready; the download has started.",
        "failed": "The report could not be prepared. Please try again",
        "check": "Checking the file…",
        "import": "Importing the rules…",
    },
    "nl": {
        "report": "Het rapport wordt gemaakt…",
        "done": "Het rapport is klaar; het downloaden is begonnen.",
        "failed": "Het rapport kon niet worden gemaakt. Probeer het opnieuw",
        "check": "Het bestand wordt gecontroleerd…",
        "import": "De regels worden geïmporteerd…",
    },
}


class Elements(HTMLParser):
    """Every start tag with its attributes, in page order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in wanted.items())
        ]

    def by_id(self, element_id: str) -> tuple[str, dict[str, str | None]]:
        found = [(name, attrs) for name, attrs in self.tags if attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id}"
        return found[0]


def _client(login_as, db, language: str):
    make_rule(db, title="Geen taart van familie")
    client = login_as("quality")
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "lang": language})
    return client


def _assert_live_region(page: Elements, status_id: str | None) -> None:
    assert status_id
    tag, attrs = page.by_id(status_id)
    assert attrs.get("role") == "status" and attrs.get("aria-live") == "polite", attrs


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize(
    ("url", "report"),
    [("/dashboard", "/dashboard/report.xlsx"), ("/rules", "/rules/export.xlsx")],
)
def test_report_links_say_what_they_are_preparing(login_as, db, language, url, report):
    client = _client(login_as, db, language)
    page = Elements(client.get(url).get_data(as_text=True))
    links = [a for a in page.find("a") if (a.get("href") or "").startswith(report)]
    assert len(links) == 1, links
    link = links[0]
    # A plain link first: without the script it downloads as before.
    assert "data-progress" in link and "download" in link
    assert link["data-busy"] == BUSY[language]["report"]
    assert link["data-done"] == BUSY[language]["done"]
    assert (link["data-failed"] or "").startswith(BUSY[language]["failed"])
    _assert_live_region(page, link.get("data-status"))
    # ... and that plain download is the report itself.
    response = client.get(link["href"])
    assert response.status_code == 200
    assert response.mimetype.startswith("application/vnd.openxmlformats")


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_upload_form_says_it_is_checking_the_file(login_as, db, language):
    client = _client(login_as, db, language)
    page = Elements(client.get("/import/").get_data(as_text=True))
    forms = page.find("form", enctype="multipart/form-data")
    assert len(forms) == 1
    assert "data-progress" in forms[0]
    assert forms[0]["data-busy"] == BUSY[language]["check"]
    _assert_live_region(page, forms[0].get("data-status"))


def test_every_page_loads_the_script_as_a_file_the_policy_allows(client, login_as, db):
    quality = _client(login_as, db, "en")
    for who, url in [(client, "/login"), (quality, "/dashboard"), (quality, "/import/")]:
        response = who.get(url)
        html = response.get_data(as_text=True)
        scripts = Elements(html).find("script")
        assert scripts == [{"src": SCRIPT, "defer": None}], (url, scripts)
        # Not a line of script in the page itself: the policy would block it.
        assert re.search(r"<script(?![^>]*\ssrc=)", html) is None, url
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in CSP and "unsafe" not in CSP


def test_the_script_is_served_as_javascript_and_needs_no_exception(client):
    response = client.get(SCRIPT)
    assert response.status_code == 200
    # With nosniff, a browser runs a script only when it is served as JavaScript.
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    source = response.get_data(as_text=True)
    # Things the policy forbids (eval, code in strings) or that would open a hole (markup from
    # text): the script only sets text and attributes.
    for forbidden in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML"):
        assert forbidden not in source, forbidden
    assert re.search(r"setTimeout\(\s*['\"]", source) is None
