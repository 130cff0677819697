"""The rule's field table (audit/domain/fields.py) is the one place a field is named: a field added
there (and to the database) reaches the form, the history, the register download, the import
template and the importer, and every one of them calls a field by the same label."""

from __future__ import annotations

import html
import re
from datetime import date
from io import BytesIO

import openpyxl
import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from audit.domain import fields, rules
from audit.domain.fields import Field
from audit.domain.history import HistoryLookup
from audit.xlsx import export as xlsx_export
from audit.xlsx import importer as xlsx_import
from audit.xlsx import template as xlsx_template
from tests.conftest import Auth, make_rule, make_user, mirror_answers, post

NOTE = "handover_note"
NOTE_LABEL = "Hand-over note"


@pytest.fixture
def note_field(monkeypatch, db):
    """A throw-away text field: one line in the table (in this test only) and its column."""
    note = Field(
        NOTE,
        _l(NOTE_LABEL),  # not in the catalogue: both languages show the English words
        max_length=50,
        group="origin",
        hint=_l("What the next shift should know."),
        explanation=_l("Anything the next shift should know."),
    )
    monkeypatch.setattr(fields, "RULE_FIELDS", (*fields.RULE_FIELDS, note))
    db.execute(f"ALTER TABLE rules ADD COLUMN {NOTE} TEXT NOT NULL DEFAULT ''")
    return note


def _client(app, db, lang="en", role="quality"):
    username = f"{role}-{lang}"
    make_user(db, username, role, language=lang)
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    return client


def _export(app, db, lang="en") -> openpyxl.Workbook:
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out, lang=lang)
    out.seek(0)
    return openpyxl.load_workbook(out)


def _template(app, db, lang="en") -> openpyxl.Workbook:
    out = BytesIO()
    with app.app_context():
        xlsx_template.write_template(db, out, lang=lang)
    out.seek(0)
    return openpyxl.load_workbook(out)


def _as_posted(values: dict) -> dict:
    """A rule's values as a browser posts the rule form: empty choices as ""."""
    posted = {}
    for key, value in values.items():
        if value is None:
            posted[key] = ""
        elif isinstance(value, list | str):
            posted[key] = value
        else:
            posted[key] = str(value)
    return posted


def _form_labels(page: str) -> dict[str, str]:
    """Each form field's name -> the label (or legend, for a list of checkboxes) shown."""
    found = {
        name: label for name, label in re.findall(r'<label for="([\w]+)">([^<]*)</label>', page)
    }
    found.update(
        (name, label)
        for label, name in re.findall(
            r'<legend>([^<]*)</legend>\s*<ul class="choices" id="([\w]+)"', page
        )
    )
    return {name: html.unescape(label).strip() for name, label in found.items()}


def test_a_field_added_to_the_table_reaches_every_place(app, db, tmp_path, note_field):
    client = _client(app, db)

    # The rule form shows it, with its hint, and saves it through rules.clean.
    page = client.get("/rules/new").get_data(as_text=True)
    assert _form_labels(page)[NOTE] == NOTE_LABEL
    assert "What the next shift should know." in page
    new = {
        **rules.DEFAULTS,
        **mirror_answers(),
        "title": "Sleutel in de kluis",
        NOTE: "  Sleutel   bij de balie ",
    }
    response = post(client, "/rules/new", _as_posted(new))
    assert response.status_code == 302, response.get_data(as_text=True)
    rule = rules.find_by_code(db, "R-0001")
    assert getattr(rule, NOTE) == "Sleutel bij de balie"  # cleaned as a one-line text
    assert rule.values()[NOTE] == "Sleutel bij de balie"

    # Its limit holds on the form and in the domain.
    too_long = post(client, "/rules/new", _as_posted({**new, "title": "Nog een", NOTE: "x" * 51}))
    assert too_long.status_code == 200
    assert "At most 50 characters" in too_long.get_data(as_text=True)

    # The history names the change by the field's label.
    response = post(
        client,
        f"/rules/{rule.id}/edit",
        _as_posted({**rule.values(), NOTE: "Sleutel bij de nachtdienst", "version": rule.version}),
        token_from=f"/rules/{rule.id}/edit",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    latest = rules.history(db, rule.id)[0]
    assert latest["changes"][NOTE] == ["Sleutel bij de balie", "Sleutel bij de nachtdienst"]
    detail = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert f'<th scope="row">{NOTE_LABEL}</th>' in detail
    shown = f'<dt>{NOTE_LABEL}</dt><dd class="wrap-anywhere">Sleutel bij de nachtdienst</dd>'
    assert shown in detail  # the rule page lists it too

    # The register download has the column, with the value.
    ws = _export(app, db)["Register"]
    header = [c.value for c in ws[1]]
    assert NOTE_LABEL in header
    assert ws.cell(row=2, column=header.index(NOTE_LABEL) + 1).value == (
        "Sleutel bij de nachtdienst"
    )

    # The import template has the column and explains it.
    template = _template(app, db)
    assert NOTE_LABEL in [c.value for c in template.worksheets[0][1]]
    explained = {row[0]: row[2] for row in template.worksheets[1].iter_rows(values_only=True)}
    assert explained[NOTE_LABEL] == "Anything the next shift should know."

    # The importer reads it: a new rule, a change to an existing one, and a value too long.
    path = tmp_path / "inventory.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Code", "Title", NOTE_LABEL.upper()])
    wb.active.append(["R-0001", rule.title, "Sleutel in de kluis"])
    wb.active.append([None, "Medicijnkar op slot", "Code op de kar"])
    wb.active.append([None, "Te lang", "y" * 51])
    wb.save(path)
    with app.app_context():
        plan = xlsx_import.read_plan(db, path, filename=path.name)
        changed, created, refused = plan.rows
        assert changed.action == "update" and changed.changes == [NOTE]
        assert created.action == "create" and created.fields[NOTE] == "Code op de kar"
        assert refused.action == "invalid"
        assert refused.errors[0][0] == f"C ({NOTE_LABEL.upper()})"
        assert "At most 50 characters" in str(refused.errors[0][1])
        xlsx_import.apply_plan(db, None, plan, skip_invalid=True)
    assert getattr(rules.find_by_code(db, "R-0001"), NOTE) == "Sleutel in de kluis"
    assert getattr(rules.find_by_code(db, "R-0002"), NOTE) == "Code op de kar"

    # And an exported register imports back unchanged, the new column included.
    export_path = tmp_path / "export.xlsx"
    _export(app, db).save(export_path)
    with app.app_context():
        again = xlsx_import.read_plan(db, export_path, filename=export_path.name)
    assert again.summary()["unchanged"] == 2 and again.ignored_columns == []


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_place_calls_a_field_by_the_same_label(app, db, lang):
    rule = make_rule(db, title="Geen taart", minutes_per_week=5)
    rules.update_rule(db, None, rule.id, owner="Ilse")
    client = _client(app, db, lang)
    with app.test_request_context(), force_locale(lang):
        labels = {f.key: str(f.label) for f in fields.RULE_FIELDS}
        history = HistoryLookup(db)
        assert {key: history.field(key) for key in labels} == labels

    # The form: every field on it.
    form = _form_labels(client.get("/rules/new").get_data(as_text=True))
    on_form = [f.key for f in fields.RULE_FIELDS if f.editable and f.group]
    assert {key: form[key] for key in on_form} == {key: labels[key] for key in on_form}

    # The register page: every field it has a column for.
    page = client.get("/rules").get_data(as_text=True)
    headings = [
        html.unescape(text).strip()
        for text in re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<▲▼]*)', page)
    ]
    for key in ("code", "title", "category_id", "status", "minutes_per_week", "relation_impact"):
        assert labels[key] in headings, key

    # The report's Register sheet and the import template: every column, in the same order.
    columns = [labels[f.key] for f in fields.RULE_FIELDS if f.column_key]
    reported = {"en": "Reported by colleagues", "nl": "Gemeld door collega's"}[lang]
    # After them, the report's own derived columns (skipped on import).
    suspended = {"en": "Suspended by an experiment", "nl": "Opgeschort door een experiment"}[lang]
    assert [c.value for c in _export(app, db, lang)["Register"][1]] == [
        *columns,
        reported,
        suspended,
    ]
    assert [c.value for c in _template(app, db, lang).worksheets[0][1]] == columns

    # The rule page, and its history naming a changed field.
    detail = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert f'<th scope="row">{html.escape(labels["owner"])}</th>' in detail
    facts = [html.unescape(text) for text in re.findall(r"<dt>([^<]*)</dt>", detail)]
    for f in fields.RULE_FIELDS:
        if f.key not in ("code", "title", "description", "team_ids", "location_ids"):
            assert labels[f.key] in facts or f.kind == fields.FLAG, f.key


def test_the_headers_of_older_reports_still_import(app, db, tmp_path):
    """The report once called two columns "Relation impact" and "Waarden"; both now carry the
    form's words, and a workbook with the old headers imports as before."""
    path = tmp_path / "old.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Titel", "Relation impact", "Waarden", "Effect op relatie"])
    wb.active.append(["Geen taart", "belemmert", "waardigheid, privacy", None])
    wb.save(path)
    with app.app_context():
        plan = xlsx_import.read_plan(db, path, filename=path.name)
    assert plan.ignored_columns == []
    row = plan.rows[0]
    assert not row.errors
    assert row.fields["relation_impact"] == "hinders"
    # As the register keeps them: in the order of the list of values.
    assert row.fields["values_touched"] == ["privacy", "dignity"]


def test_new_references_are_typed_and_created_once(app, db, tmp_path):
    path = tmp_path / "new.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Title", "Category", "Teams"])
    wb.active.append(["Een", "Hygiëne", "Vlinder; Zon"])
    wb.active.append(["Twee", "hygiëne", "zon"])
    wb.save(path)
    with app.app_context():
        plan = xlsx_import.read_plan(db, path, filename=path.name, create_teams=True)
        first, second = plan.rows
        assert first.fields["category_id"] == xlsx_import.NewReference("category", "Hygiëne")
        assert second.fields["team_ids"] == [xlsx_import.NewReference("team", "Zon")]
        assert plan.new_teams == ["Vlinder", "Zon"] and plan.new_categories == ["Hygiëne"]
        xlsx_import.apply_plan(db, None, plan)
    one, two = rules.find_by_code(db, "R-0001"), rules.find_by_code(db, "R-0002")
    assert one.category_id == two.category_id is not None
    assert sorted(one.team_names) == ["Vlinder", "Zon"] and two.team_names == ["Zon"]


def test_a_rule_reads_back_each_kind_as_its_type(db):
    """The database row becomes a Rule by each field's kind: dates, lists, flags."""
    made = make_rule(
        db,
        title="Geen taart",
        values_touched=["dignity", "autonomy"],
        introduced_on="2024-02-01",
        perceived_origin="law",
        verified_origin="team",
    )
    rule = rules.get_rule(db, made.id)
    assert rule.introduced_on == date(2024, 2, 1) and rule.verified_on is not None
    assert rule.values_touched == ["autonomy", "dignity"]
    assert rule.self_invented is True and rule.myth is True and rule.traced is True
    assert rule.more == {}
