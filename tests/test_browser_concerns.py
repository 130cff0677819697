"""A member raises a concern with their vote on a phone, in both languages, and the facilitator
reads and answers the concerns of the demo's closed session: `pytest -m browser`. Measured in
Debian's Chromium at 390 px."""

from __future__ import annotations

import pytest

from audit.domain import sessions
from audit.store.db import connect
from tests import test_browser_a11y as a11y
from tests.browser_support import login, shoot, switch_language
from tests.servers import PHONE

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]
axe_source = a11y.axe_source  # the accessibility suite's fixture: axe-core, or a skip

WORDS = {
    "nl": {
        "summary": "Een beer op de weg?",
        "tick": "Ik zie een beer op de weg",
        "kind": "Een incident",
        "save": "Mijn stemmen opslaan",
        "saved": "met een beer op de weg",
    },
    "en": {
        "summary": "A concern about this?",
        "tick": "I have a concern",
        "kind": "An incident",
        "save": "Save my votes",
        "saved": "with a concern",
    },
}


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def _open_session(database: str) -> sessions.ReviewSession:
    db = connect(database)
    try:
        return next(s for s in sessions.all_sessions(db) if s.state == "open")
    finally:
        db.close()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_member_ticks_a_concern_with_a_vote_on_a_phone(watch, demo_server, lang):
    session = _open_session(demo_server.database)
    rule_id = session.rule_ids[1]
    words = WORDS[lang]
    watched = watch(demo_server)
    page = watched.page(viewport=PHONE)
    login(page, demo_server.base, "sanne", demo_server.logins["sanne"])
    switch_language(page, lang)
    page.goto(f"{demo_server.base}/sessions/{session.id}/vote")
    card = page.locator(f"#rule-{rule_id}")
    # Folded away until asked for: the ballot stays short on a phone.
    assert not card.locator(f"#concern_text-{rule_id}").is_visible()
    card.get_by_text(words["summary"]).click()
    card.get_by_label(words["tick"]).check()
    card.locator(f"#concern_kind-{rule_id}").select_option(label=words["kind"])
    # Saving without a text is refused at the rule, with everything kept and the fold open.
    card.locator(f"input[name=choice-{rule_id}][value=keep]").check()
    page.get_by_role("button", name=words["save"]).click()
    page.wait_for_load_state()
    card = page.locator(f"#rule-{rule_id}")
    assert card.locator(f"#rule-{rule_id}-concern_text-error").is_visible()
    assert card.get_by_label(words["tick"]).is_checked()
    # That page came with its 400 on purpose; any other console error still fails the test.
    expected = [p for p in watched.problems if p.endswith("400 (BAD REQUEST)")]
    assert len(expected) == 1
    watched.problems.remove(expected[0])
    _fits(page)
    card.locator(f"#concern_text-{rule_id}").fill("Als de koelkast niet wordt gecontroleerd")
    shoot(page, f"concern-ballot-phone-{lang}")
    page.get_by_role("button", name=words["save"]).click()
    page.wait_for_load_state()
    card = page.locator(f"#rule-{rule_id}")
    assert words["saved"] in card.locator(".saved").inner_text()
    _fits(page)
    # Stored without a name: the session is anonymous.
    db = connect(demo_server.database)
    try:
        stored = db.execute(
            "SELECT voter_id, text FROM concerns WHERE session_id = ?", [session.id]
        ).fetchall()
    finally:
        db.close()
    assert "Als de koelkast niet wordt gecontroleerd" in {t for _, t in stored}
    assert {v for v, _ in stored} == {None}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_facilitator_answers_a_concern_on_a_phone(watch, demo_server, lang):
    db = connect(demo_server.database)
    try:
        # The spring session, with concerns from the room (not the demo's other closed one,
        # where Waterlelie decided to try without two rules).
        closed = next(
            s for s in sessions.all_sessions(db) if s.state == "closed" and s.mode == "hands"
        )
    finally:
        db.close()
    page = watch(demo_server).page(viewport=PHONE)
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(page, lang)
    page.goto(f"{demo_server.base}/sessions/{closed.id}")
    section = page.locator("section.concerns").first
    assert section.locator(".concern-answer").count() == 1  # the demo's answered one
    _fits(page)
    item = section.locator("li.concern-item").filter(has_not=page.locator(".concern-answer"))
    waiting = item.first.locator("details.answer-form")
    waiting.locator("summary").click()
    waiting.locator("textarea").fill("Besproken in het teamoverleg")
    waiting.locator("button").click()
    page.wait_for_load_state()
    assert page.locator(".concern-answer", has_text="Besproken in het teamoverleg").count() == 1
    shoot(page, f"concern-results-phone-{lang}")
    _fits(page)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_concern_fields_and_answers_pass_axe(watch, demo_server, axe_source, lang):
    """The folded concern on the ballot, opened after a refused save, and the results with the
    answer forms open: no serious or critical axe-core violation."""
    session = _open_session(demo_server.database)
    rule_id = session.rule_ids[0]
    audit = a11y.Auditor(axe_source, lang)
    watched = watch(demo_server)
    page = watched.page(viewport=PHONE)
    login(page, demo_server.base, "sanne", demo_server.logins["sanne"])
    switch_language(page, lang)
    page.goto(f"{demo_server.base}/sessions/{session.id}/vote")
    card = page.locator(f"#rule-{rule_id}")
    card.get_by_text(WORDS[lang]["summary"]).click()
    card.get_by_label(WORDS[lang]["tick"]).check()
    card.locator(f"input[name=choice-{rule_id}][value=keep]").check()
    page.get_by_role("button", name=WORDS[lang]["save"]).click()
    audit(page, "ballot with a refused concern")
    watched.problems[:] = [p for p in watched.problems if not p.endswith("400 (BAD REQUEST)")]
    # The results on a phone: the counts table scrolls sideways there, in a region that takes
    # the keyboard's focus (axe's scrollable-region-focusable).
    page = watched.page(viewport=PHONE)
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(page, lang)
    db = connect(demo_server.database)
    try:
        # The spring session, with concerns from the room (not the demo's other closed one,
        # where Waterlelie decided to try without two rules).
        closed = next(
            s for s in sessions.all_sessions(db) if s.state == "closed" and s.mode == "hands"
        )
    finally:
        db.close()
    page.goto(f"{demo_server.base}/sessions/{closed.id}")
    for summary in page.locator("details.answer-form > summary").all():
        summary.click()
    audit(page, "results with concerns and answer forms")
    assert audit.problems == [], "\n".join(audit.problems)
