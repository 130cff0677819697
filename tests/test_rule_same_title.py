"""Creating a rule by hand with the title of an existing rule warns, links to that rule, and
saves only after the user confirms (a second button, no JavaScript)."""

import re

import pytest

from audit.domain import rules
from tests.conftest import make_rule, make_team, mirror_answers, post


@pytest.fixture
def quality(login_as):
    return login_as("quality", "ilse")


def _count(db):
    return db.execute("SELECT count(*) FROM rules").fetchone()[0]


def _form(**overrides):
    # What a browser sends for an otherwise empty form.
    data = {
        "code": "",
        "title": "Geen taart van familie",
        "category_id": "",
        "protocol_id": "",
        "relation_impact": "",
        "status": "active",
        "perceived_origin": "",
        "verified_origin": "",
        **mirror_answers(),
    }
    data.update(overrides)
    return data


def test_same_title_warns_with_a_link_and_saves_nothing(quality, db):
    existing = make_rule(db, title="Geen taart van familie")
    response = post(quality, "/rules/new", _form(title="geen TAART van familie!"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _count(db) == 1
    assert 'class="alert warning"' in text
    assert f'href="/rules/{existing.id}"' in text and existing.code in text
    assert 'name="same_title_ok"' in text
    assert 'value="geen TAART van familie!"' in text  # what was typed is kept


def test_save_anyway_after_the_warning(quality, db):
    make_rule(db, title="Geen taart van familie")
    first = post(quality, "/rules/new", _form()).get_data(as_text=True)
    confirm = re.search(r'name="same_title_ok" value="([^"]*)"', first).group(1)
    response = post(quality, "/rules/new", _form(same_title_ok=confirm), token_from="/rules/new")
    assert response.status_code == 302
    assert _count(db) == 2
    assert rules.find_by_code(db, "R-0002").title == "Geen taart van familie"


def test_a_confirmation_holds_for_the_title_confirmed_only(quality, db):
    make_rule(db, title="Geen taart van familie")
    other = make_rule(db, title="Bezoek tot acht uur")
    first = post(quality, "/rules/new", _form()).get_data(as_text=True)
    confirm = re.search(r'name="same_title_ok" value="([^"]*)"', first).group(1)
    # The user changed the title to another rule's before pressing "save anyway".
    response = post(
        quality, "/rules/new", _form(title="Bezoek tot acht uur", same_title_ok=confirm)
    )
    assert response.status_code == 200
    assert f'href="/rules/{other.id}"' in response.get_data(as_text=True)
    assert _count(db) == 2


def test_other_scope_and_archived_rules_are_named_as_such(quality, db):
    vlinder = make_team(db, "Vlinder")
    make_rule(db, title="Geen taart van familie", team_ids=[vlinder["id"]])
    archived = make_rule(db, title="Geen taart van familie")
    rules.archive_rule(db, None, archived.id)
    text = post(quality, "/rules/new", _form()).get_data(as_text=True)
    assert "in het archief" in text
    assert "Vlinder" in text
    assert _count(db) == 2


def test_a_new_title_saves_at_once(quality, db):
    make_rule(db, title="Geen taart van familie")
    response = post(quality, "/rules/new", _form(title="Geen taart van de buren"))
    assert response.status_code == 302 and _count(db) == 2


def test_renaming_a_rule_to_a_title_in_use_warns_too(quality, db):
    taken = make_rule(db, title="Geen taart van familie")
    rule = make_rule(db, title="Koffie om tien uur")
    url = f"/rules/{rule.id}/edit"
    data = _form(title="Geen taart van familie!", version=str(rule.version))
    text = post(quality, url, data, token_from=url).get_data(as_text=True)
    assert 'id="same-title"' in text and f'href="/rules/{taken.id}"' in text
    assert "give this rule the same title" in text or "dezelfde titel" in text
    assert rules.get_rule(db, rule.id).title == "Koffie om tien uur"
    confirm = re.search(r'name="same_title_ok" value="([^"]*)"', text).group(1)
    response = post(quality, url, {**data, "same_title_ok": confirm}, token_from=url)
    assert response.status_code == 302
    assert rules.get_rule(db, rule.id).title == "Geen taart van familie!"


def test_editing_a_rule_that_shares_its_title_does_not_warn(quality, db):
    make_rule(db, title="Geen taart van familie")
    rule = make_rule(db, title="Geen taart van familie")  # saved anyway, once
    url = f"/rules/{rule.id}/edit"
    data = _form(title="Geen taart van familie", status="under_review", version=str(rule.version))
    assert post(quality, url, data, token_from=url).status_code == 302
    assert rules.get_rule(db, rule.id).status == "under_review"
