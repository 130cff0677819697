"""The rule pages as a quality manager meets them: changing many rules at once, what counts as
overdue, the tracing work-list, page sizes, long text and over-long text."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from audit import create_app
from audit.core import clock
from audit.core.errors import Conflict
from audit.domain import register, rules
from audit.domain.register import RuleFilter
from tests.conftest import make_rule, post


@pytest.fixture
def quality(login_as):
    return login_as("quality", "ilse")


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page's forms, as a browser sends them back."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
    return fields


def days(n: int) -> str:
    return (clock.today() + timedelta(days=n)).isoformat()


# --- changing many rules at once ------------------------------------------------------------


def test_bulk_edit_refuses_when_the_matching_rules_changed_though_their_count_did_not(quality, db):
    shown = make_rule(db, code="H1", title="Hygiëne handen")
    kept = make_rule(db, code="H2", title="Hygiëne keuken")
    page = quality.get("/rules/bulk?q=hygiene").get_data(as_text=True)
    # Meanwhile someone archives one matching rule and adds another: still two rules match.
    rules.archive_rule(db, None, shown.id)
    unseen = make_rule(db, code="H3", title="Hygiëne badkamer")
    response = post(
        quality,
        "/rules/bulk?q=hygiene",
        {**hidden_fields(page), "status": "under_review", "category_id": ""},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Er is niets gewijzigd" in text
    assert rules.get_rule(db, unseen.id).status == "active"
    assert rules.get_rule(db, kept.id).status == "active"
    assert db.execute("SELECT count(*) FROM events WHERE action = 'bulk'").fetchone()[0] == 0
    # The page now shows the rules matching now; saving it again changes exactly those.
    assert "H3" in text and "H1" not in text
    again = post(
        quality,
        "/rules/bulk?q=hygiene",
        {**hidden_fields(text), "status": "under_review", "category_id": ""},
    )
    assert again.status_code == 302
    assert rules.get_rule(db, unseen.id).status == "under_review"
    assert rules.get_rule(db, kept.id).status == "under_review"
    assert rules.get_rule(db, shown.id).status == "active"


def test_bulk_form_lists_the_rules_it_changes(quality, db):
    for i in range(3):
        make_rule(db, code=f"H{i}", title=f"Hygiëne {i}")
    make_rule(db, code="OTHER", title="Anders")
    page = quality.get("/rules/bulk?q=hygiene").get_data(as_text=True)
    listed = page[page.index('class="bulk-rules"') : page.index("</details>")]
    assert all(f"H{i}" in listed for i in range(3)) and "OTHER" not in listed


def test_change_matching_checks_the_set_inside_its_transaction(db):
    one = make_rule(db, code="A", title="Taart")
    two = make_rule(db, code="B", title="Taart bakken")
    token = register.selection_token([two.id, one.id])
    assert token == register.selection_token([one.id, two.id])  # order does not matter
    make_rule(db, code="C", title="Taart eten")
    with pytest.raises(Conflict):
        register.change_matching(db, None, RuleFilter(q="taart"), token, owner="Ilse")
    assert {r["owner"] for r in db.query("SELECT owner FROM rules")} == {""}
    fresh = register.selection_token(register.rule_ids(db, RuleFilter(q="taart")))
    assert register.change_matching(db, None, RuleFilter(q="taart"), fresh, owner="Ilse") == 3


# --- only rules in force are overdue or candidates ------------------------------------------


@pytest.mark.parametrize("ended", ["dropped", "archived"])
def test_a_rule_no_longer_in_force_is_not_overdue_nor_a_candidate(quality, db, ended):
    fields = dict(review_due=days(-3), perceived_origin="law", verified_origin="team")
    live = make_rule(db, code="LIVE", title="Nog geldig", **fields)
    gone = make_rule(db, code="GONE", title="Niet meer", **fields)
    if ended == "dropped":
        rules.update_rule(db, None, gone.id, status="dropped")
    else:
        rules.archive_rule(db, None, gone.id)
    gone = rules.get_rule(db, gone.id)

    assert rules.get_rule(db, live.id).review_overdue and live.in_force
    assert not gone.review_overdue and not gone.in_force
    overdue = register.rule_ids(db, RuleFilter(overdue=True))
    assert overdue == [live.id]
    assert register.rule_ids(db, RuleFilter(overdue=True, archived=True)) == []

    live_page = quality.get(f"/rules/{live.id}").get_data(as_text=True)
    gone_page = quality.get(f"/rules/{gone.id}").get_data(as_text=True)
    assert "herziening verlopen" in live_page and "goede kandidaat" in live_page
    assert "herziening verlopen" not in gone_page and "goede kandidaat" not in gone_page
    assert "Een mythe" in gone_page  # what tracing found stays true

    tracing = quality.get("/tracing").get_data(as_text=True)
    overdue_list = tracing[tracing.index('id="overdue-heading"') :]
    assert "LIVE" in overdue_list and "GONE" not in overdue_list


def test_in_force_is_one_definition_for_python_and_sql(db):
    for status in ("active", "under_review", "adapted", "dropped"):
        rule = make_rule(db, title=status, status=status)
        sql = db.execute(
            f"SELECT {rules.IN_FORCE_SQL} FROM rules r WHERE r.id = ?", [rule.id]
        ).fetchone()[0]
        assert bool(sql) == rule.in_force == (status != "dropped")
        rules.archive_rule(db, None, rule.id)
        sql = db.execute(
            f"SELECT {rules.IN_FORCE_SQL} FROM rules r WHERE r.id = ?", [rule.id]
        ).fetchone()[0]
        assert not sql and not rules.get_rule(db, rule.id).in_force


# --- the tracing work-list ------------------------------------------------------------------


def test_the_quick_form_sets_the_next_review_date(quality, db):
    rule = make_rule(db, code="DUE", title="Verlopen", review_due=days(-10))
    page = quality.get("/tracing").get_data(as_text=True)
    assert f'name="r{rule.id}-review_due"' in page
    assert f'value="{days(-10)}"' in page  # filled in with the current date
    response = post(
        quality,
        f"/rules/{rule.id}/trace",
        {
            f"r{rule.id}-verified_origin": "organisation",
            f"r{rule.id}-source_reference": "Directiebesluit",
            f"r{rule.id}-review_due": days(180),
            f"r{rule.id}-version": "1",
        },
        token_from="/tracing",
    )
    assert response.status_code == 302
    traced = rules.get_rule(db, rule.id)
    assert traced.verified_origin == "organisation"
    assert traced.review_due.isoformat() == days(180) and not traced.review_overdue
    text = quality.get("/tracing").get_data(as_text=True)
    assert "De herkomst van DUE is vastgelegd." in text
    assert "volgende herziening van DUE" in text
    assert "DUE" not in text[text.index('id="overdue-heading"') :]
    event = rules.history(db, rule.id)[0]
    assert event["action"] == "trace" and "review_due" in event["changes"]


def test_tracing_without_a_new_date_says_the_rule_is_still_overdue(quality, db):
    rule = make_rule(db, code="DUE", title="Verlopen", review_due=days(-10))
    response = post(
        quality,
        f"/rules/{rule.id}/trace",
        {
            f"r{rule.id}-verified_origin": "team",
            f"r{rule.id}-review_due": days(-10),
            f"r{rule.id}-version": "1",
        },
        token_from="/tracing",
    )
    assert response.status_code == 302
    text = quality.get("/tracing").get_data(as_text=True)
    assert "DUE is nog over de herzieningsdatum" in text
    assert rules.get_rule(db, rule.id).review_due.isoformat() == days(-10)


def test_a_quick_form_without_the_date_field_keeps_the_date(quality, db):
    rule = make_rule(db, code="DUE", review_due=days(-10))
    post(
        quality,
        f"/rules/{rule.id}/trace",
        {f"r{rule.id}-verified_origin": "team", f"r{rule.id}-version": "1"},
        token_from="/tracing",
    )
    traced = rules.get_rule(db, rule.id)
    assert traced.verified_origin == "team" and traced.review_due.isoformat() == days(-10)


def test_a_bad_review_date_on_the_quick_form_keeps_the_input(quality, db):
    rule = make_rule(db, code="DUE", review_due=days(-10))
    response = post(
        quality,
        f"/rules/{rule.id}/trace",
        {
            f"r{rule.id}-verified_origin": "team",
            f"r{rule.id}-review_due": "volgend jaar",
            f"r{rule.id}-version": "1",
        },
        token_from="/tracing",
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="r{rule.id}-review_due-error"' in text
    assert rules.get_rule(db, rule.id).verified_origin is None


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_tracing_page_has_one_name(login_as, db, lang):
    client = login_as("quality", f"q{lang}")
    post(client, "/language", {"lang": lang, "next": "/tracing"}, token_from="/")
    page = client.get("/tracing").get_data(as_text=True)
    menu = re.search(r'<nav class="main-nav".*?</nav>', page, re.S).group(0)
    in_menu = re.search(r'<a href="/tracing"[^>]*>([^<]+)</a>', menu).group(1)
    tabs = re.search(r'<nav class="tabs".*?</nav>', page, re.S).group(0)
    in_tab = re.search(r'<a href="/tracing"[^>]*>([^<]+)</a>', tabs).group(1)
    heading = re.search(r"<h1>([^<]+)</h1>", page).group(1)
    title = re.search(r"<title>([^<·]+)", page).group(1).strip()
    assert in_menu == in_tab == heading == title
    assert heading == {"nl": "Werklijst herkomst", "en": "Tracing work-list"}[lang]


# --- page size ------------------------------------------------------------------------------


def _rows(page: str) -> int:
    return len(re.findall(r'<td[^>]*><a href="/rules/\d+"', page))


def test_the_register_uses_the_per_page_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE": str(tmp_path / "audit.sqlite3"),
            "PER_PAGE": 20,
        }
    )
    from audit.store.db import connect
    from tests.conftest import Auth, make_user

    db = connect(app.config["DATABASE"])
    for i in range(30):
        make_rule(db, code=f"R-{i:04d}")
    make_user(db, username="ilse", role="quality")
    client = app.test_client()
    Auth(client).login("ilse")
    assert _rows(client.get("/rules").get_data(as_text=True)) == 20
    assert _rows(client.get("/rules?per_page=7").get_data(as_text=True)) == 20  # not offered
    assert _rows(client.get("/rules?per_page=25").get_data(as_text=True)) == 25
    page = client.get("/rules").get_data(as_text=True)
    assert '<option value="20" selected>20</option>' in page
    db.close()


# --- text too long is refused, never cut ----------------------------------------------------

RULE_FORM = {
    "code": "",
    "title": "Dubbele controle",
    "description": "",
    "category_id": "",
    "protocol_id": "",
    "owner": "",
    "minutes_per_week": "",
    "relation_impact": "",
    "status": "active",
    "introduced_on": "",
    "review_due": "",
    "perceived_origin": "",
    "verified_origin": "",
    "source_reference": "",
    "evidence_note": "",
}
LIMITS = {
    "code": rules.CODE_MAX,
    "title": rules.TITLE_MAX,
    "description": rules.TEXT_MAX,
    "owner": rules.OWNER_MAX,
    "source_reference": rules.REFERENCE_MAX,
    "evidence_note": rules.TEXT_MAX,
    "problem": rules.TEXT_MAX,
    "alternatives": rules.TEXT_MAX,
}


def test_every_text_field_of_a_rule_is_described_here():
    text_fields = {name for name in rules.FIELDS if rules.DEFAULTS[name] == ""}
    assert text_fields == set(LIMITS)


@pytest.mark.parametrize("url", ["/rules/new", "/rules/1/edit", "/tracing", "/rules/bulk"])
def test_no_rule_form_lets_the_browser_cut_text(quality, db, url):
    # A maxlength attribute makes the browser drop whatever is pasted past it, unsaid.
    make_rule(db, code="R1", review_due=days(-1))
    page = quality.get(url).get_data(as_text=True)
    assert "<form" in page
    assert "maxlength" not in page


@pytest.mark.parametrize("name", list(LIMITS))
def test_too_long_text_is_refused_with_its_length_and_kept(quality, db, name):
    limit = LIMITS[name]
    # Words, as people write them; a code is one word.
    text = "x" * (limit + 1) if name == "code" else ("Zorg " * limit)[: limit + 1600].strip()
    response = post(quality, "/rules/new", {**RULE_FORM, name: text})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Maximaal {limit} tekens, en deze tekst heeft er {len(text)}" in page
    assert "er is niets afgeknipt" in page
    assert text in page  # all of it, to shorten
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0


def test_the_domain_refuses_over_long_text_with_its_length(db):
    from audit.core.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        make_rule(db, description="a" * 6600)
    message = str(refused.value.errors["description"][0])
    assert "5000" in message and "6600" in message


def test_the_importer_names_the_row_of_an_over_long_description(app, db, tmp_path):
    import openpyxl

    from audit.xlsx import importer as xlsx_import

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Title", "Description"])
    ws.append(["Kort", "Past wel"])
    ws.append(["Lang", "a" * 6600])
    wb.save(tmp_path / "lang.xlsx")
    with app.app_context():
        plan = xlsx_import.read_plan(db, tmp_path / "lang.xlsx", filename="lang.xlsx")
    assert [r.row for r in plan.invalid] == [3]
    column, message = plan.invalid[0].errors[0]
    assert column.startswith("B") and "6600" in str(message)
    assert plan.rows[0].action == "create"


# --- long unbroken text wraps (the browser suite measures it: test_browser_layout.py) -------

LONG_WORD = "Handhygiëneprotocol" * 10


@pytest.mark.parametrize(
    "url",
    [
        "/rules",
        "/rules/{id}",
        "/tracing",
        "/rules/bulk?q=handhygiene",
        "/sessions/new?q=handhygiene",
        "/dashboard",
    ],
)
def test_a_long_title_sits_in_an_element_that_wraps(quality, db, url):
    rule = make_rule(
        db,
        title=LONG_WORD,
        verified_origin="team",
        relation_impact="hinders",
        review_due=days(-1),
    )
    page = quality.get(url.format(id=rule.id)).get_data(as_text=True)
    at = page.index(LONG_WORD, page.index("<main"))
    opened = page.rindex("wrap-anywhere", 0, at)
    between = page[opened:at]
    assert not re.search(r"</(td|li|div|h1|label|p)>", between), between


def test_the_wrapping_class_is_defined_in_the_style_sheet(client):
    css = client.get("/static/app.css").get_data(as_text=True)
    rule = re.search(r"\.wrap-anywhere\s*\{([^}]*)\}", css)
    assert rule and "overflow-wrap: anywhere" in rule.group(1)


# --- help: the words and how the figures are counted ----------------------------------------


@pytest.mark.parametrize(
    "lang,words",
    [
        (
            "nl",
            [
                "Woorden en cijfers",
                "Veronderstelde herkomst",
                "Vastgestelde herkomst",
                "Zelfbedacht",
                "Mythe",
                "Nagegaan",
                "Dekking",
                "Aandeel zelfbedacht",
                "De referentie",
                "Teruggegeven uren",
                "Regels van kracht",
                "Filters op team en locatie",
                "Nu: 70%.",
            ],
        ),
        (
            "en",
            [
                "Words and figures",
                "Perceived origin",
                "Verified origin",
                "Self-invented",
                "Myth",
                "Traced",
                "Coverage",
                "Self-invented share",
                "The reference",
                "Hours given back",
                "Rules in force",
                "Team and location filters",
                "Now: 70%.",
            ],
        ),
    ],
)
@pytest.mark.parametrize("role", ["admin", "quality", "member", "viewer"])
def test_the_help_page_explains_every_figure_to_every_role(login_as, role, lang, words):
    client = login_as(role, f"{role}{lang}")
    post(client, "/language", {"lang": lang, "next": "/help"}, token_from="/")
    response = client.get("/help")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for word in words:
        assert word in page, word
    assert 'aria-current="page"' not in page.split("</nav>")[0]  # no menu item claims it


@pytest.mark.parametrize(
    "role,url",
    [("viewer", "/dashboard"), ("member", "/rules"), ("member", "/rules/{id}")],
)
def test_the_help_page_is_linked_where_the_figures_and_words_are(login_as, db, role, url):
    rule = make_rule(db)
    page = login_as(role).get(url.format(id=rule.id)).get_data(as_text=True)
    assert 'href="/help' in page


def test_the_help_page_names_the_reference_and_its_source_or_says_there_is_none(login_as, db):
    from audit.domain import organisation

    client = login_as("member", "mirjam")
    post(client, "/language", {"lang": "en", "next": "/help"}, token_from="/")
    organisation.update_settings(
        db,
        None,
        name="Lindehof",
        default_language="nl",
        reference_share=0.6,
        reference_label_nl="Eigen meting 2025",
        reference_label_en="Own survey 2025",
    )
    page = client.get("/help").get_data(as_text=True)
    assert "Now: 60%." in page and "Source: Own survey 2025." in page
    organisation.update_settings(
        db, None, name="Lindehof", default_language="nl", reference_share=None
    )
    page = client.get("/help").get_data(as_text=True)
    assert "Now: no reference is set." in page and "Source:" not in page
