"""The team page on a phone: a member opens "Our team" from the menu and sees the figures the
dashboard shows for that team, in both languages, on a page no wider than the screen:
`pytest -m browser`. Measured in Debian's Chromium at 390 px."""

from __future__ import annotations

import pytest

from audit.domain import organisation, users
from audit.store.db import connect
from tests.browser_support import login, shoot, switch_language
from tests.servers import PHONE

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]

FIGURES = ("total", "coverage", "share", "myths", "hours", "given-back")
MENU = {"nl": "Ons team", "en": "Our team"}


def _figures(page) -> dict[str, str]:
    return {key: page.inner_text(f"#fig-{key} .figure-value").strip() for key in FIGURES}


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def _team_of(database: str, username: str) -> dict:
    db = connect(database)
    try:
        user = users.find_user(db, username)
        assert len(user.team_ids) == 1, "the test wants a member of one team"
        return organisation.get_team(db, user.team_ids[0])
    finally:
        db.close()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_member_opens_our_team_on_a_phone_and_sees_the_dashboards_figures(
    watch, demo_server, lang
):
    team = _team_of(demo_server.database, "anouk")
    watched = watch(demo_server)

    # What the dashboard shows for the team, read by the board in the same language.
    board = watched.page()
    login(board, demo_server.base, "bestuur", demo_server.logins["bestuur"])
    switch_language(board, lang)
    board.goto(f"{demo_server.base}/dashboard?team={team['id']}")
    expected = _figures(board)

    phone = watched.page(viewport=PHONE)
    login(phone, demo_server.base, "anouk", demo_server.logins["anouk"])
    switch_language(phone, lang)
    phone.get_by_role("navigation").get_by_role("link", name=MENU[lang], exact=True).click()
    phone.wait_for_load_state()
    # One team: the menu item leads straight to it.
    assert phone.url.endswith(f"/teams/{team['id']}")
    assert phone.inner_text("h1").strip() == team["name"]
    assert _figures(phone) == expected
    assert phone.locator("#rule-list li").count() > 0
    assert phone.locator("#myth-list li").count() > 0
    assert phone.locator("#decision-list li").count() > 0
    _fits(phone)
    shoot(phone, f"team-phone-{lang}")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_member_of_two_teams_chooses_one_and_a_ballot_is_a_tap_away(watch, demo_server, lang):
    phone = watch(demo_server).page(viewport=PHONE)
    login(phone, demo_server.base, "fatima", demo_server.logins["fatima"])
    switch_language(phone, lang)
    phone.get_by_role("navigation").get_by_role("link", name=MENU[lang], exact=True).click()
    phone.wait_for_load_state()
    cards = phone.locator(".team-cards a")
    assert cards.count() == 2
    _fits(phone)
    # The demo's open session is held with one of her teams: its page links to her ballot.
    for i in range(2):
        phone.locator(".team-cards a").nth(i).click()
        phone.wait_for_load_state()
        _fits(phone)
        ballot = phone.locator("a[href$='/vote']")
        if ballot.count():
            ballot.first.click()
            phone.wait_for_load_state()
            assert phone.locator("input[type=radio][value=keep]").count() >= 1
            return
        phone.go_back()
    raise AssertionError("no team page of fatima links to a ballot")
