"""The reference share: a figure a reader can check. Its source is an organisation setting beside
the number, shown wherever the reference is drawn; a reference left empty is drawn nowhere."""

import json
import re
import sqlite3
from io import BytesIO

import openpyxl
import pytest

from audit import demo
from audit.core.errors import ValidationError
from audit.domain import events, figures, organisation
from audit.domain.history import HistoryLookup
from audit.store.db import apply_migrations, connect, transaction
from audit.store.schema import (
    DEFAULT_REFERENCE_LABEL_EN,
    DEFAULT_REFERENCE_LABEL_NL,
    MIGRATIONS,
)
from audit.xlsx import export as xlsx_export
from tests.conftest import make_rule, post

NL_SOURCE = "Onderzoek naar regels in de Nederlandse ouderenzorg"
EN_SOURCE = "Research on rules in Dutch elderly care"


def _settings(**changes):
    return {
        "name": "De Lindehof",
        "default_language": "nl",
        "reference_share": "70",
        "reference_label_nl": "Eigen meting 2024",
        "reference_label_en": "Own survey 2024",
        **changes,
    }


def _without_reference(db):
    organisation.update_settings(
        db, None, name="De Lindehof", default_language="nl", reference_share=None
    )


# --- the migration --------------------------------------------------------------------------


def _database_before_migration_4(path, share):
    db = connect(path)
    db.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)"
    )
    for version, name, statements in MIGRATIONS[:3]:
        with transaction(db):
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", [version, name])
    db.execute(
        "UPDATE organisation SET name = 'Oud', default_language = 'en', reference_share = ?,"
        " updated_at = '2024-01-01T00:00:00+00:00'",
        [share],
    )
    return db


def test_migration_keeps_the_settings_and_names_the_research_figure(tmp_path):
    db = _database_before_migration_4(tmp_path / "old.sqlite3", 0.7)
    # Migration 4 and every later one are pending on a database made at 3.
    assert apply_migrations(db) == [number for number, _, _ in MIGRATIONS if number >= 4]
    assert organisation.get_settings(db) == {
        "name": "Oud",
        "default_language": "en",
        "reference_share": 0.7,
        "reference_label_nl": DEFAULT_REFERENCE_LABEL_NL,
        "reference_label_en": DEFAULT_REFERENCE_LABEL_EN,
    }
    assert db.execute("SELECT updated_at FROM organisation").fetchone()[0].startswith("2024")
    # The reference may now be empty; its range and the one-row rule still hold.
    db.execute("UPDATE organisation SET reference_share = NULL")
    for statement in (
        "UPDATE organisation SET reference_share = 1.5",
        "INSERT INTO organisation (id) VALUES (2)",
        f"UPDATE organisation SET reference_label_en = '{'x' * 201}'",
    ):
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(statement)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_migration_does_not_credit_the_research_with_a_figure_of_ones_own(tmp_path):
    db = _database_before_migration_4(tmp_path / "old.sqlite3", 0.55)
    apply_migrations(db)
    settings = organisation.get_settings(db)
    assert settings["reference_share"] == 0.55
    assert settings["reference_label_nl"] == settings["reference_label_en"] == ""
    assert organisation.reference_label(settings, "en") is None


def test_a_new_database_starts_with_the_research_figure_and_its_source(db):
    settings = organisation.get_settings(db)
    assert settings["reference_share"] == 0.7
    assert organisation.reference_label(settings, "nl") == DEFAULT_REFERENCE_LABEL_NL
    assert organisation.reference_label(settings, "en") == DEFAULT_REFERENCE_LABEL_EN
    assert NL_SOURCE in DEFAULT_REFERENCE_LABEL_NL and EN_SOURCE in DEFAULT_REFERENCE_LABEL_EN


# --- the setting ----------------------------------------------------------------------------


def test_admin_sets_the_reference_and_its_source(login_as, db):
    admin = login_as("admin", "boss")
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert 'name="reference_label_nl"' in page and DEFAULT_REFERENCE_LABEL_EN in page
    response = post(admin, "/admin/settings", _settings(reference_share="55"))
    assert response.status_code == 302
    settings = organisation.get_settings(db)
    assert settings["reference_share"] == 0.55
    assert (settings["reference_label_nl"], settings["reference_label_en"]) == (
        "Eigen meting 2024",
        "Own survey 2024",
    )
    changes = events.history(db, "organisation", 1)[0]["changes"]
    assert changes["reference_label_en"] == [DEFAULT_REFERENCE_LABEL_EN, "Own survey 2024"]
    with admin.application.test_request_context():
        described = HistoryLookup(db).describe(changes)
    # Read back in the organisation's language, Dutch.
    assert f"in het Engels: {DEFAULT_REFERENCE_LABEL_EN} → Own survey 2024" in described


def test_admin_leaves_the_reference_empty(login_as, db):
    admin = login_as("admin", "boss")
    response = post(
        admin,
        "/admin/settings",
        _settings(reference_share="", reference_label_nl="", reference_label_en=""),
    )
    assert response.status_code == 302
    assert organisation.get_settings(db)["reference_share"] is None
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'name="reference_share"[^>]*value=""', page)


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"reference_label_nl": "", "reference_label_en": " "}, "reference_label_nl"),
        ({"reference_label_nl": "\x00bron", "reference_label_en": ""}, "reference_label_nl"),
        ({"reference_label_en": "x" * 201}, "reference_label_en"),
        ({"reference_share": "abc"}, "reference_share"),
        ({"reference_share": "101"}, "reference_share"),
    ],
)
def test_a_reference_without_a_source_is_refused(login_as, db, changes, field):
    admin = login_as("admin", "boss")
    before = organisation.get_settings(db)
    response = post(admin, "/admin/settings", _settings(**changes))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert organisation.get_settings(db) == before


def test_the_domain_refuses_a_reference_without_a_source(db):
    with pytest.raises(ValidationError) as error:
        organisation.update_settings(
            db,
            None,
            name="X",
            default_language="nl",
            reference_share=0.6,
            reference_label_nl="",
            reference_label_en="",
        )
    assert set(error.value.errors) == {"reference_label_nl"}
    # One language is enough: the other language falls back to it.
    organisation.update_settings(
        db,
        None,
        name="X",
        default_language="nl",
        reference_share=0.6,
        reference_label_nl="Alleen Nederlands",
        reference_label_en="",
    )
    assert organisation.reference_label(organisation.get_settings(db), "en") == "Alleen Nederlands"


# --- the dashboard --------------------------------------------------------------------------


@pytest.fixture
def board(login_as, db):
    demo.seed(db)
    return login_as("viewer", "board")


def _in(client, lang):
    client.post("/language", data={"csrf_token": _token(client), "lang": lang})
    return client


def _token(client):
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("lang,source", [("en", EN_SOURCE), ("nl", NL_SOURCE)])
def test_the_dashboard_names_the_source_of_the_reference(board, lang, source):
    html = _in(board, lang).get("/dashboard").get_data(as_text=True)
    headline = re.search(r'<p class="figure-note" id="fig-reference">([^<]+)</p>', html)
    assert headline and "70%" in headline.group(1) and source in headline.group(1)
    share_chart = html[
        html.index('id="share-chart-title"') : html.index(
            "</svg>", html.index('id="share-chart-title"')
        )
    ]
    assert source in share_chart and "stroke-dasharray" in share_chart
    # Every chart with a reference line has the source beside it.
    assert html.count("stroke-dasharray") == html.count('class="hint reference-source"') >= 2


def test_a_dashboard_without_reference_draws_none(board, db):
    _without_reference(db)
    html = _in(board, "en").get("/dashboard").get_data(as_text=True)
    assert 'id="fig-reference"' not in html
    assert "stroke-dasharray" not in html
    assert "reference" not in html.lower().replace("referrer", "")
    assert 'id="share-chart-title"' in html  # the share itself is still drawn


# --- the report -----------------------------------------------------------------------------


def _summary(app, db, lang):
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out, lang=lang)
    out.seek(0)
    ws = openpyxl.load_workbook(out).worksheets[0]
    return {row[0]: row[1] for row in ws.iter_rows(min_row=6, values_only=True) if row[0]}


@pytest.mark.parametrize(
    "lang,share,source,expected",
    [
        ("en", "Reference share", "Source of the reference", DEFAULT_REFERENCE_LABEL_EN),
        ("nl", "Referentieaandeel", "Bron van de referentie", DEFAULT_REFERENCE_LABEL_NL),
    ],
)
def test_the_report_summary_names_the_source(app, db, lang, share, source, expected):
    make_rule(db, verified_origin="team")
    summary = _summary(app, db, lang)
    assert summary[share] == 0.7
    assert summary[source] == expected


def test_a_report_without_reference_shows_none(app, db):
    make_rule(db, verified_origin="team")
    _without_reference(db)
    summary = _summary(app, db, "en")
    assert "Reference share" not in summary and "Source of the reference" not in summary
    assert summary["Self-invented share of traced rules"] == 1.0


# --- the stats command ----------------------------------------------------------------------


def test_stats_names_the_source(runner, db):
    make_rule(db, verified_origin="team")
    text = runner.invoke(args=["stats"]).output
    assert f"Reference share:      70% ({DEFAULT_REFERENCE_LABEL_EN})" in text
    data = json.loads(runner.invoke(args=["stats", "--json"]).output)
    assert data["reference_share"] == 0.7
    assert data["reference_label"] == DEFAULT_REFERENCE_LABEL_EN


def test_stats_without_reference(runner, db):
    make_rule(db, verified_origin="team")
    _without_reference(db)
    result = runner.invoke(args=["stats"])
    assert result.exit_code == 0 and "Reference" not in result.output
    data = json.loads(runner.invoke(args=["stats", "--json"]).output)
    assert data["reference_share"] is None and data["reference_label"] is None
    assert figures.headline(db)["reference_share"] is None
