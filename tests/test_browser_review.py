"""The review session screens on a phone, with the flags the demo's open session puts on its
rules: `pytest -m browser`. Measured in Debian's Chromium at 390 px, in both languages."""

from __future__ import annotations

import pytest

from audit.domain import sessions
from audit.store.db import connect
from tests.browser_support import login, switch_language
from tests.servers import PHONE

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]


def _flagged_builder_path(database: str) -> str:
    """The builder for a team whose candidates include rules under review in another open
    session (the demo's open session has rules of the same scope)."""
    db = connect(database)
    try:
        draft = next(s for s in sessions.all_sessions(db) if s.state == "draft")
        opened = [s for s in sessions.all_sessions(db) if s.state == "open"]
        for team_id in draft.team_ids + [t for s in opened for t in s.team_ids]:
            ids = sessions.candidate_rule_ids(db, [team_id])
            if sessions.in_other_open_sessions(db, ids):
                return f"/sessions/new?teams={team_id}&candidates=1"
    finally:
        db.close()
    raise AssertionError("the demo has no candidate under review in an open session")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_session_builder_with_flags_fits_a_phone(watch, demo_server, lang):
    """The Dutch badge "in herziening in een andere open sessie" does not wrap (badges keep
    their words together) and sat beside a margin on a note sized to the full width: the
    builder scrolled sideways on a phone."""
    path = _flagged_builder_path(demo_server.database)
    page = watch(demo_server).page(viewport=PHONE)
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    if lang == "en":
        switch_language(page, "en")
    page.goto(demo_server.base + path)
    assert page.locator(".rule-note .badge").count() > 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} is {width} px wide on a {PHONE['width']} px phone"


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_confirm_page_with_flags_fits_a_phone(watch, demo_server, lang):
    """The confirm page before opening names the same flags, badges in a list item."""
    from audit.domain import users

    db = connect(demo_server.database)
    try:
        opened = next(s for s in sessions.all_sessions(db) if s.state == "open")
        draft = sessions.create_session(
            db,
            users.find_user(db, "kwaliteit"),
            title="Nog een ronde",
            team_ids=opened.team_ids,
            rule_ids=opened.rule_ids[:3],
            mode="online",
        )
    finally:
        db.close()
    page = watch(demo_server).page(viewport=PHONE)
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    if lang == "en":
        switch_language(page, "en")
    page.goto(f"{demo_server.base}/sessions/{draft.id}/open")
    assert page.locator("#confirm-rules ~ ul .badge, section .badge").count() > 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the confirm page is {width} px wide on a phone"
