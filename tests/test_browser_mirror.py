"""The mirror check walked in Chromium (`pytest -m browser`): a quality manager adds a rule on the
demo, where new rules start as proposed; the form refuses it until the mirror questions are
answered, keeping what was typed, and the rule then waits for a team session. Screenshots:
``new-rule-mirror-en`` and ``rule-proposed-nl``."""

from __future__ import annotations

import re

import pytest

from audit.domain import rules
from audit.store.db import connect
from tests.browser_support import login, shoot, switch_language

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]


def test_a_new_rule_answers_the_mirror_and_waits_as_proposed(demo_server, watch):
    page = watch(demo_server).page()
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(page, "en")
    page.goto(demo_server.base + "/rules/new")
    assert page.locator("legend", has_text="the mirror questions").count() == 1
    assert page.get_by_label("Status").count() == 0  # new rules start as proposed here
    page.get_by_label("Title").fill("Name tags on every cupboard")
    page.get_by_label("Alternatives considered").fill("Asking the resident where things go.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    for name in ("problem", "perceived_origin", "review_due"):
        assert page.locator(f"#{name}-error").is_visible(), name
    assert page.get_by_label("Title").input_value() == "Name tags on every cupboard"
    assert page.get_by_label("Alternatives considered").input_value() == (
        "Asking the resident where things go."
    )

    page.locator("legend", has_text="the mirror questions").evaluate("e => e.scrollIntoView()")
    shoot(page, "new-rule-mirror-en")
    page.get_by_label("Problem it solves").fill("Night staff could not find the spare linen.")
    page.get_by_label("Perceived origin").select_option("unknown")
    latest = page.get_by_label("Review due").get_attribute("max")
    page.get_by_label("Review due").fill(latest)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/rules/\d+$"))
    assert (
        "becomes active when a team session keeps it" in page.locator(".proposed-note").inner_text()
    )
    switch_language(page, "nl")
    shoot(page, "rule-proposed-nl")

    db = connect(demo_server.database)
    rule = rules.find_by_code(db, page.locator("h1 .code").inner_text())
    db.close()
    assert rule.status == "proposed" and rule.review_due.isoformat() == latest

    page.goto(demo_server.base + "/")
    waiting = page.locator(".proposed-rules").inner_text()
    assert rule.code in waiting and "Afmelden bij de balie" in waiting
