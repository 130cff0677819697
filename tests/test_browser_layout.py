"""Long unbroken text (a 200-character word in a title, a long source reference or category
name) must not make any page wider than the screen: `pytest -m browser`.

Measured in Debian's Chromium at desktop and phone width: the page's scrollWidth may not exceed
the window. Tables may scroll inside their own frame; the page itself may not.
"""

from __future__ import annotations

import os
import re

import pytest

from audit import create_app
from audit.domain import categories, organisation, rules, sessions, users
from audit.store.db import connect
from tests.servers import CHROMIUM_ARGS, DESKTOP, PHONE, chromium_path, start_server

pytestmark = pytest.mark.browser

PASSWORD = "een goed wachtwoord"
WORD = "Handhygiëneprotocol" * 11  # 209 characters without a space
TITLE = WORD[:200]


@pytest.fixture(scope="module")
def chromium():
    playwright_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def long_text_server(tmp_path, monkeypatch):
    """A server whose rules, category, team and session carry words too long for any screen."""
    instance = tmp_path / "instance"
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()
    db = connect(app.config["DATABASE"])
    team = organisation.save_team(db, None, "Team" + "W" * 96, None)
    quality = users.create_user(db, None, username="ilse", password=PASSWORD, role="quality")
    users.create_user(
        db, None, username="piet", password=PASSWORD, role="member", team_ids=[team["id"]]
    )
    category = categories.save_category(db, None, name_nl="Categorie" + "X" * 91)
    rule = rules.create_rule(
        db,
        None,
        code="C" * rules.CODE_MAX,
        title=TITLE,
        description=WORD * 20,
        category_id=category["id"],
        owner="O" * rules.OWNER_MAX,
        minutes_per_week=600,
        relation_impact="hinders",
        perceived_origin="law",
        verified_origin="team",
        source_reference="https://example.org/" + "s" * 180,
        evidence_note=WORD * 5,
        review_due="2020-01-01",
        team_ids=[team["id"]],
    )
    rules.create_rule(db, None, title=TITLE[:150] + " nog niet nagegaan", review_due="2020-01-01")
    session = sessions.create_session(
        db,
        quality,
        title=WORD[:190],
        team_ids=[team["id"]],
        rule_ids=[rule.id],
        mode="online",
    )
    db.close()
    server = start_server(instance)
    server.rule_id, server.session_id, server.team_id = rule.id, session.id, team["id"]
    yield server
    _, errors = server.stop()
    assert "Traceback" not in errors, errors[-2000:]


def _login(page, base):
    page.goto(base + "/login")
    page.fill("#username", "ilse")
    page.fill("#password", PASSWORD)
    page.click("form button.primary")
    page.wait_for_url(re.compile(r".*/$"))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_long_words_never_make_a_page_wider_than_the_screen(chromium, long_text_server, viewport):
    base = long_text_server.base
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    _login(page, base)
    paths = [
        "/rules",
        f"/rules/{long_text_server.rule_id}",
        f"/rules/{long_text_server.rule_id}/edit",
        "/rules/bulk?q=handhygiene",
        "/tracing",
        "/sessions/new?q=handhygiene",
        f"/sessions/{long_text_server.session_id}",
        "/dashboard",
        "/protocols",
        f"/teams/{long_text_server.team_id}",
    ]
    widths = {}
    for path in paths:
        page.goto(base + path)
        assert TITLE[:40] in page.content() or path == "/protocols", path
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    too_wide = {path: w for path, w in widths.items() if w > viewport["width"]}
    assert too_wide == {}, f"wider than {viewport['width']} px: {too_wide}"


def test_a_long_title_can_be_read_whole(chromium, long_text_server):
    """Wrapped, not cut: the whole title is on the page and takes no more than the screen."""
    context = chromium.new_context(viewport=PHONE)
    page = context.new_page()
    _login(page, long_text_server.base)
    page.goto(long_text_server.base + "/tracing")
    link = page.locator(".work-rule a", has_text=TITLE).first
    assert TITLE in link.inner_text()
    box = link.bounding_box()
    assert box["width"] <= PHONE["width"] and box["height"] > 40  # wrapped over several lines
    context.close()
