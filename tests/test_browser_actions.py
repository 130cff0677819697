"""My actions on a phone: a care worker opens "My actions" from the menu, sees her overdue
action flagged and marks it done with a note, on a page no wider than the screen, in both
languages: `pytest -m browser`. Measured in Debian's Chromium at 390 px on the demo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import test_browser_a11y as a11y
from tests.browser_support import login, missing, shoot, switch_language
from tests.servers import PHONE

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]

MENU = {"nl": "Mijn acties", "en": "My actions"}
DONE = {"nl": "Gedaan", "en": "Done"}


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_member_marks_her_overdue_action_done_on_a_phone(watch, demo_server, lang):
    phone = watch(demo_server).page(viewport=PHONE)
    login(phone, demo_server.base, "anouk", demo_server.logins["anouk"])
    switch_language(phone, lang)
    phone.get_by_role("navigation").get_by_role("link", name=MENU[lang], exact=True).click()
    phone.wait_for_load_state()
    assert phone.url.endswith("/actions/mine")
    card = phone.locator(".action-card.is-overdue")
    assert card.count() == 1
    assert "Familie informeren" in card.inner_text()
    _fits(phone)
    shoot(phone, f"my-actions-phone-{lang}")
    card.locator("textarea").fill("Gebeld met alle families.")
    card.get_by_role("button", name=DONE[lang], exact=True).click()
    phone.wait_for_load_state()
    assert phone.locator(".action-card.is-overdue").count() == 0
    assert "Gebeld met alle families." in phone.inner_text("main")
    _fits(phone)
    # Nothing open is left: the menu item has gone, the page says so.
    assert phone.get_by_role("navigation").get_by_role("link", name=MENU[lang]).count() == 0
    assert phone.locator("#no-actions").count() == 1


@pytest.fixture(scope="module")
def axe_script() -> str:
    """axe-core, found as tests/test_browser_a11y.py finds it."""
    path = Path(os.environ.get(a11y.AXE_ENV) or a11y.AXE_DEFAULT)
    if not path.is_file():
        missing(f"axe-core is not installed at {path}: {a11y.AXE_INSTALL}")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_action_pages_have_no_serious_accessibility_violations(
    demo_server, watch, axe_script, language
):
    """axe-core on every page that shows actions: the facilitator's results page with its add
    forms, the action form with an error, the start page, the list and My actions on a phone."""
    base = demo_server.base
    audit = a11y.Auditor(axe_script, language)
    watched = watch(demo_server)
    page = watched.page()
    login(page, base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(page, language)
    for name, path in (
        ("start with overdue actions", "/"),
        ("results with actions", "/sessions/1"),
        ("rule with open actions", "/rules/2"),
        ("all actions", "/actions?state=overdue"),
        ("action form", "/actions/1/edit"),
    ):
        page.goto(base + path)
        audit(page, name)
    page.fill("#what", "")
    page.locator("form.action-form button.primary").click()
    assert page.locator(".errors").count() >= 1
    audit(page, "action form with an error")

    phone = watched.page(viewport=PHONE)
    login(phone, base, "anouk", demo_server.logins["anouk"])
    switch_language(phone, language)
    phone.goto(base + "/actions/mine")
    audit(phone, "my actions on a phone")
    assert audit.problems == [], "\n".join(audit.problems)
