"""An experiment end to end in Chromium: the quality manager decides to try without a rule, a
member records an observation on a 390 px phone, the period passes, one click starts the
follow-up session, the member votes beside the observations and the session drops the rule:
`pytest -m browser`.

The server runs in a process of its own, whose clock a test cannot set; the period is made to
pass by moving the experiment's start and end days back in the database, which is what the
app reads (docs/design.md, "Experiments": ended is computed from the date)."""

from __future__ import annotations

import re

import pytest

from audit.domain import experiments, sessions, users
from audit.store.db import connect
from tests.browser_support import login, shoot, switch_language
from tests.servers import PHONE

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]

RULE = "Bewoners koken niet zelf"


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def test_try_without_observe_end_follow_up_and_drop(watch, demo_server):
    db = connect(demo_server.database)
    fac_user = users.find_user(db, "kwaliteit")
    # The demo's Eikenhout draft holds the rule: open and close it, so it can be decided.
    draft = next(s for s in sessions.all_sessions(db) if s.title == "Schrapsessie Eikenhout")
    sessions.open_session(db, fac_user, draft.id)
    sessions.close_session(db, fac_user, draft.id)
    rule_id = db.execute("SELECT id FROM rules WHERE title = ?", [RULE]).fetchone()[0]
    watched = watch(demo_server)

    fac = watched.page()
    login(fac, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(fac, "en")
    fac.goto(f"{demo_server.base}/sessions/{draft.id}")
    card = fac.locator(f"#rule-{rule_id}")
    card.get_by_label("Try without the rule").check()
    card.get_by_label("Rationale").fill("Koken met bewoners: we proberen het vier weken.")
    card.get_by_label("Weeks without the rule").fill("4")
    card.get_by_role("button", name="Save and apply").click()
    fac.wait_for_load_state()
    assert "applied" in fac.locator(".alert").inner_text()
    experiment = experiments.for_rule(db, rule_id)[0]
    assert experiment["team_names"] == "Eikenhout"

    kees = watched.page(PHONE)
    login(kees, demo_server.base, "kees", demo_server.logins["kees"])
    switch_language(kees, "en")
    kees.goto(f"{demo_server.base}/rules/{rule_id}")
    assert "suspended for eikenhout until" in kees.locator("main").inner_text().lower()
    kees.get_by_role("link", name=re.compile("^Eikenhout, ")).click()
    kees.wait_for_url(re.compile(r".*/experiments/\d+$"))
    kees.get_by_label("What happened").fill("Mevrouw S. schilde de aardappels en at goed.")
    kees.get_by_label("Supports clients").check()
    _fits(kees)
    kees.get_by_role("button", name="Save observation").click()
    kees.wait_for_load_state()
    assert "Mevrouw S. schilde" in kees.locator(".observation-list").inner_text()
    _fits(kees)
    shoot(kees, "experiment-observation-phone-en")

    # The four weeks pass.
    db.execute(
        "UPDATE experiments SET starts_on = date('now', '-35 days'),"
        " ends_on = date('now', '-7 days') WHERE id = ?",
        [experiment["id"]],
    )
    db.conn.commit()

    fac.goto(demo_server.base + "/")
    ended = fac.locator(f"#ended-{experiment['id']}")
    assert "experiment ended: decide" in ended.inner_text().lower()
    ended.get_by_role("button", name="Start the follow-up session").click()
    fac.wait_for_url(re.compile(r".*/sessions/\d+$"))
    session_url = fac.url
    fac.get_by_role("link", name="Open the session").click()
    fac.wait_for_url(re.compile(r".*/sessions/\d+/open$"))
    fac.get_by_role("button", name="Open the session").click()
    fac.wait_for_load_state()

    kees.goto(session_url + "/vote")
    assert "Mevrouw S. schilde" in kees.locator(".experiment-observations").inner_text()
    ballot = kees.locator("article.ballot").first
    ballot.get_by_label("Drop").check()
    kees.get_by_role("button", name="Save my votes").click()
    kees.wait_for_load_state()
    _fits(kees)

    fac.goto(session_url)
    fac.locator(".close-final input[name=final]").check()  # anonymous: closed for good
    fac.get_by_role("button", name="Close the session").click()
    fac.wait_for_load_state()
    card = fac.locator(f"#rule-{rule_id}")
    card.get_by_label("Drop").check()
    card.get_by_label("Rationale").fill("Het ging goed; de regel vervalt.")
    card.get_by_role("button", name="Save and apply").click()
    fac.wait_for_url(re.compile(r".*/apply$"))
    fac.get_by_role("button", name="Drop the rule").click()
    fac.wait_for_load_state()
    assert "applied" in fac.locator(".alert").inner_text()
    closed = experiments.get_experiment(db, experiment["id"])
    assert closed["state"] == "closed"
    assert db.execute("SELECT status FROM rules WHERE id = ?", [rule_id]).fetchone()[0] == "dropped"
