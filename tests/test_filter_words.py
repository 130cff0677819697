"""A filtered report says in words which rules it holds, in the report's language."""

from dataclasses import fields as dataclass_fields
from io import BytesIO

import openpyxl
import pytest
from flask_babel import force_locale

from audit.domain import categories, protocols, register
from audit.domain.register import RuleFilter
from audit.xlsx import export as xlsx_export
from tests.conftest import make_rule, make_team


@pytest.fixture
def names(app, db):
    """The things a filter can point at, with names a reader would recognise."""
    team = make_team(db, "Vlinder", location="Noord")
    return {
        "team": team["id"],
        "location": team["location_id"],
        "category": categories.find_category(db, "Medicatie")["id"],
        "protocol": protocols.save_protocol(db, None, name="Valpreventie", version="2")["id"],
    }


# (filter fields, or a field named in `names`), English, Dutch
CASES = [
    ({"q": "taart bezoek"}, "Search text: taart bezoek", "Zoektekst: taart bezoek"),
    ("category", "Category: Medication", "Categorie: Medicatie"),
    ("protocol", "Protocol: Valpreventie", "Protocol: Valpreventie"),
    ("team", "Team: Vlinder", "Team: Vlinder"),
    ("location", "Location: Noord", "Locatie: Noord"),
    (
        {"perceived": "law"},
        "Perceived origin: Law or regulation",
        "Veronderstelde herkomst: Wet- en regelgeving",
    ),
    ({"verified": "team"}, "Verified origin: Team habit", "Vastgestelde herkomst: Teamgewoonte"),
    (
        {"verified": "none"},
        "Verified origin: not traced yet",
        "Vastgestelde herkomst: nog niet nagegaan",
    ),
    ({"traced": True}, "only traced rules", "alleen nagegane regels"),
    ({"traced": False}, "only rules not yet traced", "alleen regels die nog niet zijn nagegaan"),
    ({"self_invented": True}, "only self-invented rules", "alleen zelfbedachte regels"),
    ({"self_invented": False}, "no self-invented rules", "geen zelfbedachte regels"),
    ({"myth": True}, "only myths", "alleen mythes"),
    ({"myth": False}, "no myths", "geen mythes"),
    ({"status": "under_review"}, "Status: Under review", "Status: In herziening"),
    (
        {"impact": "hinders"},
        "Effect on the client relation: Hinders",
        "Effect op de relatie met de cliënt: Belemmert",
    ),
    ({"overdue": True}, "only rules past their review date", "alleen regels over hun herziendatum"),
    ({"archived": True}, "only archived rules", "alleen gearchiveerde regels"),
    ({"reported": 2}, "reported by colleagues: at least 2", "gemeld door collega's: minstens 2"),
    ({}, "the whole organisation", "de hele organisatie"),
]


def _filter(fields, names) -> RuleFilter:
    return RuleFilter(**({fields: names[fields]} if isinstance(fields, str) else fields))


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("fields,en,nl", CASES)
def test_each_filter_in_words(app, db, names, fields, en, nl, lang):
    with app.app_context(), force_locale(lang):
        assert register.filter_in_words(db, _filter(fields, names)) == {"en": en, "nl": nl}[lang]


def test_every_filter_field_has_words(app, db, names):
    """A field added to RuleFilter later must get its words too, not fall back to `key=value`."""
    covered = {k for fields, *_ in CASES for k in ([fields] if isinstance(fields, str) else fields)}
    assert covered == {f.name for f in dataclass_fields(RuleFilter)}


def test_filters_together_in_both_languages(app, db, names):
    rule_filter = RuleFilter(team=names["team"], self_invented=True, overdue=True)
    with app.app_context(), force_locale("en"):
        english = register.filter_in_words(db, rule_filter)
    with app.app_context(), force_locale("nl"):
        dutch = register.filter_in_words(db, rule_filter)
    assert english == "Team: Vlinder; only self-invented rules; only rules past their review date"
    assert dutch == "Team: Vlinder; alleen zelfbedachte regels; alleen regels over hun herziendatum"


@pytest.mark.parametrize(
    "lang,expected",
    [
        ("en", "Team: Vlinder; only self-invented rules"),
        ("nl", "Team: Vlinder; alleen zelfbedachte regels"),
    ],
)
def test_the_report_summary_shows_the_filter_in_words(app, db, names, lang, expected):
    make_rule(db, verified_origin="team", team_ids=[names["team"]])
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(
            db, out, lang=lang, rule_filter=RuleFilter(team=names["team"], self_invented=True)
        )
    out.seek(0)
    summary = openpyxl.load_workbook(out).worksheets[0]
    assert summary["B4"].value == expected


def test_the_register_download_names_its_filter(login_as, db, names):
    client = login_as("viewer", "board")
    response = client.get(f"/rules/export.xlsx?team={names['team']}&myth=1&q=taart")
    assert response.status_code == 200
    summary = openpyxl.load_workbook(BytesIO(response.data)).worksheets[0]
    # The viewer has no language of their own: the organisation's default, Dutch.
    assert summary["B4"].value == "Zoektekst: taart; Team: Vlinder; alleen mythes"
