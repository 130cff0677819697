"""Defects found in an adversarial review of the anonymous sessions, the ballot form, the
session builder and the rule pages, each pinned by the test that failed before its fix."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from audit import clock
from tests.conftest import make_rule, post
from tests.test_sessions_ui import _mine, _session
from tests.test_sessions_ui import world as _world

world = _world  # the review-session fixture of test_sessions_ui, used here too


def days(n: int) -> str:
    return (clock.today() + timedelta(days=n)).isoformat()


# --- the ballot form ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["choice-²", "choice-①"])
def test_a_ballot_field_named_with_a_digit_like_character_is_refused_not_a_500(db, world, name):
    """``str.isdigit`` is true for "²" and "①", which ``int`` cannot read: a forged field name
    broke the whole ballot with a 500 instead of a message, and lost what was typed."""
    w = world
    session = _session(db, w)
    anna = w["client"]("anna")
    url = f"/sessions/{session.id}/vote"
    response = post(
        anna,
        url,
        {name: "keep", f"choice-{w['a'].id}": "drop", f"reason-{w['a'].id}": "Te streng"},
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Deze regel hoort niet bij deze sessie." in text
    assert "Te streng" in text  # what was typed is still there
    assert _mine(db, session, w["anna"]) == {}  # and nothing was saved


def test_a_reason_field_named_with_a_digit_like_character_does_not_break_the_ballot(db, world):
    w = world
    session = _session(db, w)
    anna = w["client"]("anna")
    response = post(
        anna, f"/sessions/{session.id}/vote", {"reason-¹": "x", f"choice-{w['a'].id}": "keep"}
    )
    # A reason without a choice for no rule of the session is ignored, as for any other id.
    assert response.status_code == 302
    assert _mine(db, session, w["anna"]) == {w["a"].id: ("keep", "")}


# --- the tracing work-list ------------------------------------------------------------------


@pytest.fixture
def quality(login_as):
    return login_as("quality", "ilse")


def test_a_rule_on_both_work_lists_has_unique_field_ids(quality, db):
    """A rule not yet traced and past its review date is on both lists. Its two quick forms
    carried the same element ids, so the second form's labels (and error links) pointed at the
    first form's fields: a click on "Verified origin" in the overdue list jumped to the other."""
    rule = make_rule(db, code="BOTH", title="Nog niet nagegaan en verlopen", review_due=days(-5))
    text = quality.get("/tracing").get_data(as_text=True)
    assert text.count(f'action="/rules/{rule.id}/trace"') == 2
    ids = Counter(re.findall(r'\bid="([^"]+)"', text))
    assert [i for i, n in ids.items() if n > 1] == []
    # Every label points at a field that exists, inside the label's own form.
    for form in re.findall(r"<form[^>]*trace-form.*?</form>", text, re.S):
        targets = re.findall(r'<label for="([^"]+)"', form)
        assert targets
        for target in targets:
            assert f'id="{target}"' in form
