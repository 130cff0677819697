"""Dutch and English are both complete: a string without a translation fails here."""

import re

import pytest
from babel.messages.mofile import read_mo

from audit import catalogs
from tests.conftest import Auth, csrf_token, make_team, make_user


@pytest.fixture(scope="module")
def template():
    return catalogs.extract()


@pytest.mark.parametrize("language", catalogs.LANGUAGES)
def test_catalogue_has_every_string(template, language):
    missing = catalogs.missing(language, template)
    assert missing == [], f"run `python -m audit.catalogs` and translate: {missing}"


@pytest.mark.parametrize("language", catalogs.LANGUAGES)
def test_compiled_catalogue_matches_the_po_file(language):
    po = catalogs.load(language)
    with open(catalogs.po_path(language).with_suffix(".mo"), "rb") as handle:
        mo = read_mo(handle)
    for message in po:
        if message.id:
            compiled = mo.get(message.id, context=message.context)
            assert compiled is not None and compiled.string == message.string, message.id


def _pairs():
    """(English, Dutch) for the translatable phrases that differ between the languages."""
    pairs = []
    for message in catalogs.load("nl"):
        if not message.id or not isinstance(message.id, str) or "%" in message.id:
            continue
        if len(message.id.split()) >= 2 and message.string != message.id:
            pairs.append((message.id, message.string))
    return pairs


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    for attr in re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', html):
        text += " " + attr
    import html as html_module

    return " ".join(html_module.unescape(text).split())


MAIN_PAGES = [
    "/",
    "/account",
    "/admin/users",
    "/admin/users/new",
    "/admin/teams",
    "/admin/teams/new",
    "/admin/locations/new",
    "/admin/settings",
    "/no-such-page",
]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_main_pages_have_no_untranslated_string(app, db, language):
    team = make_team(db, "Vlinder", location="Noord")
    make_user(db, "boss", "admin", teams=[team], language=language)
    client = app.test_client()
    client.post("/language", data={"csrf_token": csrf_token(client), "lang": language})
    pages = {"/login": client.get("/login").get_data(as_text=True)}
    Auth(client).login("boss")
    for url in MAIN_PAGES:
        pages[url] = client.get(url).get_data(as_text=True)
    pairs = _pairs()
    assert len(pairs) > 50
    for url, html in pages.items():
        assert f'<html lang="{language}">' in html, url
        text = _visible_text(html)
        for english, dutch in pairs:
            wrong = english if language == "nl" else dutch
            assert wrong not in text, f"{url} ({language}) shows untranslated {wrong!r}"


def test_setup_page_in_both_languages(client, db):
    assert "Welkom bij Regelaudit" in client.get("/setup").get_data(as_text=True)
    client.post("/language", data={"csrf_token": csrf_token(client, "/setup"), "lang": "en"})
    assert "Welcome to Regelaudit" in client.get("/setup").get_data(as_text=True)


def test_dates_and_numbers_follow_the_language(app):
    from datetime import date

    with app.test_request_context():
        from flask import g

        env = app.jinja_env
        g.force_locale = "nl"
        assert env.filters["date"](date(2026, 3, 12)) == "12 mrt 2026"
        assert env.filters["number"](1234.5, 1) == "1.234,5"
        assert env.filters["percent"](0.705) == "70%" or env.filters["percent"](0.705) == "71%"
    with app.test_request_context():
        from flask import g

        g.force_locale = "en"
        assert env.filters["date"](date(2026, 3, 12)) == "Mar 12, 2026"
        assert env.filters["number"](1234.5, 1) == "1,234.5"


def test_labels_follow_the_language_after_the_page_was_first_shown_in_the_other(app, db):
    """A server shows the same template in both languages: Jinja folded ``"status"|field_label``
    into the language of the first page it compiled, so every later page kept it."""
    from tests.conftest import make_rule

    rule = make_rule(db, title="Geen taart")
    make_user(db, "boss", "admin")
    client = app.test_client()
    Auth(client).login("boss")
    seen = {}
    for language in ("nl", "en", "nl"):
        client.post("/language", data={"csrf_token": csrf_token(client, "/"), "lang": language})
        seen.setdefault(language, []).append(client.get(f"/rules/{rule.id}").get_data(as_text=True))
    assert all("Veronderstelde herkomst" in page for page in seen["nl"])
    assert "Perceived origin" in seen["en"][0] and "Veronderstelde herkomst" not in seen["en"][0]
