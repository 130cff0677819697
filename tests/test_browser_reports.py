"""Reporting a rule on a phone, and the quality manager's triage: `pytest -m browser`.

A member reports a rule at 390 px, the quality manager triages it on a phone too (declines it
in Dutch, accepts it as a new rule in English), and the member reads the outcome under "My
reports". Measured in Debian's Chromium, with every page checked for sideways scrolling."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.browser_support import login, missing, shoot, switch_language
from tests.servers import PHONE
from tests.test_browser_a11y import AXE_DEFAULT, AXE_ENV, AXE_INSTALL, Auditor

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]

WORDS = {
    "nl": {
        "menu": "Regel melden",
        "send": "Melding versturen",
        "waiting": "Wacht op de kwaliteitsmedewerker",
        "sent": "naar de kwaliteitsmedewerker gegaan",
        "decline": "Afwijzen",
        "declined": "Afgewezen",
        "accept": "Overnemen als nieuwe regel",
        "accepted": "Overgenomen als nieuwe regel",
        "save": "Opslaan",
        "mine": "Mijn meldingen",
        "anonymous": "anoniem",
        "team": "Ons team",
        "reported": "Regels die collega's meldden",
    },
    "en": {
        "menu": "Report a rule",
        "send": "Send the report",
        "waiting": "Waiting for the quality manager",
        "sent": "gone to the quality manager",
        "decline": "Decline",
        "declined": "Declined",
        "accept": "Accept as a new rule",
        "accepted": "Accepted as a new rule",
        "save": "Save",
        "mine": "My reports",
        "anonymous": "anonymous",
        "team": "Our team",
        "reported": "Rules colleagues reported",
    },
}


@pytest.fixture(scope="module")
def axe_source() -> str:
    path = Path(os.environ.get(AXE_ENV) or AXE_DEFAULT)
    if not path.is_file():
        missing(f"axe-core is not installed at {path}: {AXE_INSTALL}")
    return path.read_text(encoding="utf-8")


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


@pytest.mark.parametrize(("lang", "outcome"), [("nl", "decline"), ("en", "accept")])
def test_a_member_reports_a_rule_and_reads_the_outcome(watch, demo_server, lang, outcome):
    words = WORDS[lang]
    title = f"Geen radio in de huiskamer na 19 uur ({lang})"
    watched = watch(demo_server)

    # Anouk (Vlinder) reports a rule on her phone, through the menu, without giving her name.
    member = watched.page(PHONE)
    login(member, demo_server.base, "anouk", demo_server.logins["anouk"])
    if lang == "en":
        switch_language(member, "en")
    member.get_by_role("link", name=words["menu"]).first.click()
    member.wait_for_url(re.compile(r".*/reports/new$"))
    _fits(member)
    member.fill("#title", title)
    member.fill("#description", "Ook niet als bewoners erom vragen.")
    member.select_option("#perceived_origin", "organisation")
    member.fill("#minutes", "10")
    member.check("input[name=period][value=shift]")
    member.fill("#shifts_per_week", "5")
    member.check("input[name=relation_impact][value=hinders]")
    member.fill("#why", "Bewoners vragen er zelf om.")
    assert not member.is_checked("#named")  # anonymous unless she ticks it
    shoot(member, f"report-phone-{lang}")
    member.get_by_role("button", name=words["send"]).click()
    member.wait_for_url(re.compile(r".*/reports/mine$"))
    assert words["sent"] in member.locator(".alert").inner_text()
    card = member.locator(".my-reports .card", has_text=title)
    assert words["waiting"] in card.text_content()
    _fits(member)

    # The quality manager finds it in the inbox on a phone as well, without a name.
    quality = watched.page(PHONE)
    login(quality, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    if lang == "en":
        switch_language(quality, "en")
    quality.goto(demo_server.base + "/reports/inbox")
    _fits(quality)
    listed = quality.locator(".inbox .card", has_text=title)
    assert words["anonymous"] in listed.text_content()
    assert "Anouk" not in listed.text_content()
    listed.get_by_role("link", name=title).click()
    quality.wait_for_url(re.compile(r".*/reports/inbox/\d+$"))
    _fits(quality)
    shoot(quality, f"report-triage-phone-{lang}")
    if outcome == "decline":
        quality.fill("#reason", "Dit is al afgesproken met de familieraad.")
        quality.get_by_role("button", name=words["decline"], exact=True).click()
        quality.wait_for_url(re.compile(r".*/reports/inbox$"))
    else:
        quality.get_by_role("link", name=words["accept"]).click()
        quality.wait_for_url(re.compile(r".*/rules/new\?report=\d+$"))
        assert quality.input_value("#title") == title  # pre-filled from the report
        assert quality.input_value("#minutes_per_week") == "50"  # 10 per shift, 5 shifts
        # The mirror questions, as for any rule added by hand.
        quality.fill("#problem", "Bewoners kregen onrust van de televisie in de avond.")
        quality.fill("#review_due", quality.get_attribute("#review_due", "max"))
        _fits(quality)
        quality.get_by_role("button", name=words["save"], exact=True).click()
        quality.wait_for_url(re.compile(r".*/rules/\d+$"))
        assert title in quality.locator("h1").inner_text()

    # Anouk reads the outcome, and the reason she was given.
    member.get_by_role("link", name=words["menu"]).first.click()
    member.get_by_role("link", name=words["mine"]).click()
    member.wait_for_url(re.compile(r".*/reports/mine$"))
    card = member.locator(".my-reports .card", has_text=title)
    text = card.text_content()
    if outcome == "decline":
        assert words["declined"] in text and "familieraad" in text
    else:
        assert words["accepted"] in text
        assert card.get_by_role("link").count() == 1  # to the new rule
    assert card.get_by_role("button").count() == 0  # triaged: no longer withdrawn
    _fits(member)
    shoot(member, f"my-reports-phone-{lang}")

    # And her team's page: the rules colleagues reported, as counts, and no one's report.
    member.get_by_role("link", name=words["team"]).first.click()
    member.wait_for_url(re.compile(r".*/teams/\d+$"))
    reported = member.locator("section", has=member.locator("#reported-heading"))
    assert words["reported"] in reported.inner_text()
    assert "Bewoners vragen er zelf om" not in member.content()  # her why stays in the inbox
    _fits(member)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_report_pages_have_no_serious_accessibility_violations(
    watch, demo_server, axe_source, language
):
    audit = Auditor(axe_source, language)
    watched = watch(demo_server)
    member = watched.page(PHONE)
    login(member, demo_server.base, "fatima", demo_server.logins["fatima"])
    switch_language(member, language)
    member.goto(demo_server.base + "/reports/new")
    audit(member, "report form")
    member.locator("form.report-form button[type=submit]").click()  # nothing filled in
    assert member.locator("[aria-invalid=true]").count() >= 1
    audit(member, "report form with errors")
    member.goto(demo_server.base + "/reports/mine")
    audit(member, "my reports")

    quality = watched.page(PHONE)
    login(quality, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(quality, language)
    quality.goto(demo_server.base + "/reports/inbox")
    audit(quality, "inbox")
    quality.locator(".inbox .card a").first.click()
    quality.wait_for_url(re.compile(r".*/reports/inbox/\d+$"))
    quality.fill("#attach-q", "koelkast")
    quality.locator("#attach-q").press("Enter")
    quality.wait_for_load_state()
    audit(quality, "a report with rules found to add it to")
    quality.goto(demo_server.base + "/rules?reported=1")
    quality.locator("table a[href^='/rules/']").first.click()
    quality.wait_for_url(re.compile(r".*/rules/\d+$"))
    audit(quality, "a rule reported by colleagues")

    assert len(audit.audited) == 6
    assert audit.problems == [], "serious or critical accessibility violations:\n" + "\n".join(
        audit.problems
    )
