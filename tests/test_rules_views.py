import re
from datetime import timedelta

import pytest

from audit.core import clock
from audit.domain import categories, events, protocols, rules
from tests.conftest import make_rule, make_team, mirror_answers, post


@pytest.fixture
def quality(login_as):
    return login_as("quality", "ilse")


def _count(db, table="rules"):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _form(db, **overrides):
    cat = categories.find_category(db, "Medicatie")
    data = {
        "code": "",
        "title": "Dubbele controle",
        "description": "Twee paar ogen",
        "category_id": str(cat["id"]),
        "protocol_id": "",
        "owner": "Ilse",
        "minutes_per_week": "120",
        "relation_impact": "neutral",
        "values_touched": ["safety"],
        "status": "active",
        "introduced_on": "2019-03-12",
        "review_due": mirror_answers()["review_due"],
        "problem": mirror_answers()["problem"],
        "perceived_origin": "law",
        "verified_origin": "professional_standard",
        "source_reference": "VMIK",
        "evidence_note": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_rule_through_the_form(quality, db):
    response = post(quality, "/rules/new", _form(db))
    assert response.status_code == 302
    rule = rules.find_by_code(db, "R-0001")
    assert response.headers["Location"] == f"/rules/{rule.id}"
    assert rule.title == "Dubbele controle" and rule.minutes_per_week == 120
    assert rule.values_touched == ["safety"] and rule.verified_origin == "professional_standard"
    page = quality.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert "Dubbele controle" in page and "VMIK" in page


def test_form_with_errors_shows_each_and_keeps_input(quality, db):
    response = post(
        quality,
        "/rules/new",
        _form(
            db,
            title="",
            minutes_per_week="-3",
            review_due="31-02-2020",
            perceived_origin="god",
            description="Mijn lange uitleg",
        ),
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    for field in ("title", "minutes_per_week", "review_due", "perceived_origin"):
        assert f'id="{field}-error"' in text, field
        assert re.search(
            rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', text
        ) or re.search(rf'aria-describedby="[^"]*{field}-error"[^>]*id="{field}"', text), field
    assert "Mijn lange uitleg" in text
    assert 'value="VMIK"' in text
    assert _count(db) == 0 and events.count(db, "rule") == 0


def test_duplicate_code_error_is_next_to_the_code(quality, db):
    make_rule(db, code="MED-1")
    text = post(quality, "/rules/new", _form(db, code="med-1")).get_data(as_text=True)
    assert 'id="code-error"' in text
    assert _count(db) == 1


def test_edit_rule(quality, db):
    rule = make_rule(db, minutes_per_week=30)
    page = quality.get(f"/rules/{rule.id}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in page
    response = post(
        quality,
        f"/rules/{rule.id}/edit",
        _form(db, version="1", minutes_per_week="45"),
        token_from=f"/rules/{rule.id}/edit",
    )
    assert response.status_code == 302
    assert rules.get_rule(db, rule.id).minutes_per_week == 45


def test_stale_edit_is_refused_with_a_message(quality, db):
    rule = make_rule(db, title="Origineel")
    rules.update_rule(db, None, rule.id, title="Door een collega")
    response = post(quality, f"/rules/{rule.id}/edit", _form(db, version="1", title="Mijn versie"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "sinds u" in text or "since you opened it" in text
    assert 'value="Mijn versie"' in text  # the user's input is not lost
    assert rules.get_rule(db, rule.id).title == "Door een collega"


def test_history_shows_old_and_new_values_newest_first(quality, db):
    team = make_team(db, "Vlinder")
    rule = make_rule(db, status="active", perceived_origin="law")
    rules.update_rule(db, None, rule.id, status="under_review", team_ids=[team["id"]])
    rules.trace(db, None, rule.id, verified_origin="team", source_reference="Overleg 2017")
    text = quality.get(f"/rules/{rule.id}").get_data(as_text=True)
    history = text[text.index('id="history-heading"') :]
    assert (
        history.index("Teamgewoonte") < history.index("In herziening") < history.index("aangemaakt")
    )
    assert "Actief" in history and "Vlinder" in history and "Overleg 2017" in history


def test_archive_and_restore_through_the_page(quality, db):
    rule = make_rule(db, code="A-1")
    assert (
        post(quality, f"/rules/{rule.id}/archive", token_from=f"/rules/{rule.id}").status_code
        == 302
    )
    quality.get(f"/rules/{rule.id}")  # shows (and so clears) the flash message
    assert "A-1" not in quality.get("/rules").get_data(as_text=True)
    assert "A-1" in quality.get("/rules?archived=1").get_data(as_text=True)
    assert quality.get(f"/rules/{rule.id}/edit").status_code == 302  # restore first
    assert (
        post(quality, f"/rules/{rule.id}/restore", token_from=f"/rules/{rule.id}").status_code
        == 302
    )
    assert "A-1" in quality.get("/rules").get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_read_but_cannot_edit(login_as, db, role):
    client = login_as(role)
    rule = make_rule(db, code="A-1", title="Leesbaar")
    assert "Leesbaar" in client.get("/rules").get_data(as_text=True)
    assert client.get(f"/rules/{rule.id}").status_code == 200
    page = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert f"/rules/{rule.id}/edit" not in page
    for url in ("/rules/new", f"/rules/{rule.id}/edit", "/tracing", "/categories/"):
        assert client.get(url).status_code == 403, url
    token_page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page).group(1)
    for url in (
        "/rules/new",
        f"/rules/{rule.id}/edit",
        f"/rules/{rule.id}/archive",
        f"/rules/{rule.id}/trace",
    ):
        assert client.post(url, data={"csrf_token": token, "title": "x"}).status_code == 403, url
    assert rules.get_rule(db, rule.id).title == "Leesbaar"


def test_register_page_filter_sort_and_pages_keep_the_filter(quality, db):
    for i in range(30):
        make_rule(
            db,
            code=f"R-{i:04d}",
            title=f"Hygiëne {i}",
            verified_origin="team",
            perceived_origin="law",
        )
    make_rule(db, code="OTHER", title="Anders")
    text = quality.get("/rules?q=hygiene&myth=1&sort=title&dir=desc&per_page=25").get_data(
        as_text=True
    )
    assert "Regels 1–25 van 30" in text
    assert "OTHER" not in text
    next_link = re.search(r'href="(/rules\?[^"]*page=2[^"]*)"', text).group(1).replace("&amp;", "&")
    for part in ("q=hygiene", "myth=1", "sort=title", "dir=desc", "per_page=25"):
        assert part in next_link
    second = quality.get(next_link).get_data(as_text=True)
    assert "Regels 26–30 van 30" in second
    assert 'class="badge self"' in text and 'class="badge myth"' in text


def test_register_shows_no_results_message(quality):
    assert "Geen regels gevonden." in quality.get("/rules?q=nothinglikethis").get_data(as_text=True)


def test_tracing_worklist_and_quick_form(quality, db):
    old = make_rule(db, code="OLD", title="Oudste")
    make_rule(db, code="NEW", title="Nieuwste")
    past = (clock.today() - timedelta(days=2)).isoformat()
    make_rule(db, code="DUE", title="Verlopen", verified_origin="law", review_due=past)
    text = quality.get("/tracing").get_data(as_text=True)
    untraced = text[text.index('id="untraced-heading"') : text.index('id="overdue-heading"')]
    assert untraced.index("OLD") < untraced.index("NEW")
    assert "DUE" not in untraced
    assert "DUE" in text[text.index('id="overdue-heading"') :]
    response = post(
        quality,
        f"/rules/{old.id}/trace",
        {
            f"r{old.id}-verified_origin": "organisation",
            f"r{old.id}-source_reference": "Directiebesluit",
            f"r{old.id}-version": "1",
        },
        token_from="/tracing",
    )
    assert response.status_code == 302
    traced = rules.get_rule(db, old.id)
    assert (traced.verified_origin, traced.source_reference) == ("organisation", "Directiebesluit")
    assert rules.history(db, old.id)[0]["action"] == "trace"
    text = quality.get("/tracing").get_data(as_text=True)
    assert "De herkomst van OLD is vastgelegd." in text
    assert "OLD</span>" not in text.split('id="overdue-heading"')[0]


def test_quick_trace_with_bad_input_keeps_it(quality, db):
    rule = make_rule(db, code="OLD")
    response = post(
        quality,
        f"/rules/{rule.id}/trace",
        {
            f"r{rule.id}-verified_origin": "god",
            f"r{rule.id}-source_reference": "Mijn bron",
            f"r{rule.id}-version": "1",
        },
        token_from="/tracing",
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="r{rule.id}-verified_origin-error"' in text
    assert 'value="Mijn bron"' in text
    assert rules.get_rule(db, rule.id).verified_origin is None


def test_quick_trace_on_a_stale_row(quality, db):
    rule = make_rule(db, code="OLD")
    rules.update_rule(db, None, rule.id, title="Ondertussen gewijzigd")
    response = post(
        quality,
        f"/rules/{rule.id}/trace",
        {f"r{rule.id}-verified_origin": "team", f"r{rule.id}-version": "1"},
        token_from="/tracing",
    )
    assert "sinds u" in response.get_data(as_text=True)
    assert rules.get_rule(db, rule.id).verified_origin is None


def test_unknown_rule_is_404(quality):
    assert quality.get("/rules/999").status_code == 404
    assert quality.get("/rules/999/edit").status_code == 404


def test_protocol_pages(quality, db):
    response = post(
        quality,
        "/protocols/new",
        {"name": "Hygiëneprotocol", "version": "2", "url": "https://q.example/doc"},
    )
    assert response.status_code == 302
    proto = protocols.find_protocol(db, "hygiëneprotocol")
    make_rule(db, code="P-1", protocol_id=proto["id"], verified_origin="team")
    make_rule(db, code="P-2", protocol_id=proto["id"], verified_origin="law")
    make_rule(db, code="P-3", protocol_id=proto["id"])
    make_rule(db, code="X", verified_origin="team")
    assert protocols.get_protocol(db, proto["id"])["self_invented_share"] == 0.5
    text = quality.get(f"/protocols/{proto['id']}").get_data(as_text=True)
    assert "P-1" in text and "P-3" in text and "X</td>" not in text
    assert "50%" in text
    listing = quality.get("/protocols/").get_data(as_text=True)
    assert "Hygiëneprotocol" in listing
    assert "P-1" in quality.get(f"/rules?protocol={proto['id']}").get_data(as_text=True)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "not a url"])
def test_protocol_link_must_be_a_web_address(quality, db, url):
    text = post(quality, "/protocols/new", {"name": "P", "url": url}).get_data(as_text=True)
    assert 'id="url-error"' in text
    assert _count(db, "protocols") == 0


def test_categories(quality, db):
    response = post(
        quality, "/categories/new", {"name_nl": "Nachtzorg", "name_en": "Night care", "active": "y"}
    )
    assert response.status_code == 302
    found = categories.find_category(db, "night care")
    assert found["name_nl"] == "Nachtzorg"
    text = post(quality, "/categories/new", {"name_nl": "nachtzorg"}).get_data(as_text=True)
    assert 'id="name_nl-error"' in text
    post(quality, f"/categories/{found['id']}", {"name_nl": "Nachtzorg", "name_en": "Night care"})
    assert categories.get_category(db, found["id"])["active"] == 0
    quality.get("/categories/")  # shows (and so clears) the flash message
    form = quality.get("/rules/new").get_data(as_text=True)
    assert "Nachtzorg" not in form  # not in use: not offered for new rules


def test_starter_categories_in_both_languages(db):
    names = {c["name_nl"]: c["name_en"] for c in categories.list_categories(db)}
    assert names["Medicatie"] == "Medication"
    assert len(names) >= 10
