"""The client council on a phone: the demo's viewer (the council's account) opens the spring
session shared with the council, sees the advice already given, and records advice on another
decision, first forgetting why it is not followed, on a page no wider than the screen, in both
languages: `pytest -m browser`. Measured in Debian's Chromium at 390 px on the demo."""

from __future__ import annotations

import pytest

from tests.browser_support import login, switch_language
from tests.servers import PHONE

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]

RECORD = {"nl": "Advies vastleggen", "en": "Record the advice"}
SAVE = {"nl": "Advies opslaan", "en": "Save the advice"}
NO = {"nl": "nee", "en": "no"}
WHY = {"nl": "Geef aan waarom", "en": "Say why"}


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_council_member_records_advice_on_a_phone(watch, demo_server, lang):
    phone = watch(demo_server).page(viewport=PHONE)
    login(phone, demo_server.base, "bestuur", demo_server.logins["bestuur"])
    switch_language(phone, lang)
    phone.goto(demo_server.base + "/sessions/1")
    assert "Laat bewoners zelf bepalen" in phone.inner_text("main")
    _fits(phone)
    block = phone.locator(".council").filter(has=phone.locator("summary", has_text=RECORD[lang]))
    block = block.first
    block.locator("summary").click()
    block.locator("input[type=date]").fill("2026-01-05")
    block.locator("textarea[name=advice]").fill("Alleen een ronde op verzoek van de bewoner.")
    block.get_by_label(NO[lang], exact=True).check()
    block.get_by_role("button", name=SAVE[lang]).click()
    phone.wait_for_load_state()
    assert WHY[lang] in phone.inner_text("main")
    _fits(phone)
    block = phone.locator(".council-form[open]")
    assert block.locator("textarea[name=advice]").input_value().startswith("Alleen een ronde")
    block.locator("textarea[name=reason]").fill("Het zorgplan regelt dit al per bewoner.")
    block.get_by_role("button", name=SAVE[lang]).click()
    phone.wait_for_load_state()
    text = phone.inner_text("main")
    assert "Het zorgplan regelt dit al per bewoner." in text
    _fits(phone)
