"""Importing an inventory from Excel: headers, values, row errors, bad files, round trips."""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from audit import create_app, demo
from audit.core.errors import ValidationError
from audit.domain import events, organisation, protocols, rules
from audit.store.db import connect
from audit.xlsx import export as xlsx_export
from audit.xlsx import importer as xlsx_import
from audit.xlsx.columns import COLUMNS
from audit.xlsx.importer import ImportFileError
from tests.conftest import make_rule, make_team, make_user

EN = [
    "Code",
    "Title",
    "Description",
    "Category",
    "Teams",
    "Perceived origin",
    "Verified origin",
    "Source reference",
    "Minutes per week",
    "Relation impact",
    "Status",
    "Introduced on",
]


def workbook(path, rows, *, header=EN, above=(), sheet="Rules", extra_sheets=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in above:
        ws.append(list(row))
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    for name, content in extra_sheets:
        other = wb.create_sheet(name, 0)
        for row in content:
            other.append(list(row))
    wb.save(path)
    return path


def _row(**values):
    base = {
        "Code": "",
        "Title": "Geen taart",
        "Description": "",
        "Category": "",
        "Teams": "",
        "Perceived origin": "",
        "Verified origin": "",
        "Source reference": "",
        "Minutes per week": "",
        "Relation impact": "",
        "Status": "",
        "Introduced on": "",
    }
    base.update(values)
    return [base[h] for h in EN]


# --- headers --------------------------------------------------------------------------------


def test_header_below_a_title_and_blank_rows(imp, tmp_path):
    path = workbook(
        tmp_path / "a.xlsx",
        [_row(), [], _row(Title="Tweede")],
        above=[("Regels van De Lindehof",), (), ("Stand 2024",), ()],
    )
    plan = imp(path)
    assert plan.header_row == 5
    assert [r.row for r in plan.rows] == [6, 8]  # the blank row 7 is skipped
    assert plan.summary()["create"] == 2


def test_dutch_headers_in_another_order_with_odd_case_and_spaces(imp, tmp_path):
    header = ["  TITEL ", "veronderstelde   herkomst", "Minuten per week", "Opmerking", "code"]
    path = workbook(
        tmp_path / "nl.xlsx", [["Geen taart", "Inspectie", "30", "x", "HYG-1"]], header=header
    )
    plan = imp(path)
    assert plan.ignored_columns == ["Opmerking"]
    row = plan.rows[0]
    assert row.action == "create"
    assert row.fields["perceived_origin"] == "inspectorate"
    assert row.fields["minutes_per_week"] == 30 and row.fields["code"] == "HYG-1"


def test_the_sheet_with_a_header_is_chosen_and_another_can_be_picked(imp, tmp_path):
    path = workbook(
        tmp_path / "multi.xlsx",
        [_row()],
        sheet="Data",
        extra_sheets=[("Voorblad", [("Inventaris",), ("Versie 3",)])],
    )
    plan = imp(path)
    assert plan.sheet == "Data" and plan.sheets == ["Voorblad", "Data"]
    with pytest.raises(ImportFileError, match="Voorblad"):
        imp(path, sheet="Voorblad")
    with pytest.raises(ImportFileError):
        imp(path, sheet="Nope")


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,key",
    [
        ("law", "law"),
        ("Law or regulation", "law"),
        ("WET- EN REGELGEVING", "law"),
        ("wet", "law"),
        ("IGJ", "inspectorate"),
        ("Inspectie", "inspectorate"),
        ("financier", "financier"),
        ("Zorgkantoor", "financier"),
        ("professional standard", "professional_standard"),
        ("Beroepsnorm of richtlijn", "professional_standard"),
        ("keurmerk", "certification"),
        ("Eigen interpretatie van externe regel", "interpretation"),
        ("organisation", "organisation"),
        ("Eigen organisatie", "organisation"),
        ("Teamgewoonte", "team"),
        ("team", "team"),
        ("Onbekend", "unknown"),
        ("  unknown ", "unknown"),
    ],
)
def test_origin_values(imp, tmp_path, text, key):
    plan = imp(
        workbook(tmp_path / "o.xlsx", [_row(**{"Perceived origin": text, "Verified origin": text})])
    )
    assert plan.rows[0].fields["perceived_origin"] == key
    assert plan.rows[0].fields["verified_origin"] == key


@pytest.mark.parametrize(
    "column,text,field,expected",
    [
        ("Relation impact", "belemmert", "relation_impact", "hinders"),
        ("Relation impact", "Supports", "relation_impact", "supports"),
        ("Relation impact", "neutraal", "relation_impact", "neutral"),
        ("Status", "in herziening", "status", "under_review"),
        ("Status", "Under review", "status", "under_review"),
        ("Status", "geschrapt", "status", "dropped"),
        ("Status", "aangepast", "status", "adapted"),
        ("Status", "", "status", "active"),
        ("Minutes per week", " 45 ", "minutes_per_week", 45),
        ("Minutes per week", 45.0, "minutes_per_week", 45),
        ("Minutes per week", "", "minutes_per_week", None),
        ("Introduced on", "2019-03-12", "introduced_on", date(2019, 3, 12)),
        ("Introduced on", "12-03-2019", "introduced_on", date(2019, 3, 12)),
        ("Introduced on", datetime(2019, 3, 12), "introduced_on", date(2019, 3, 12)),
        ("Introduced on", 43536, "introduced_on", date(2019, 3, 12)),
    ],
)
def test_value_mappings(imp, tmp_path, column, text, field, expected):
    plan = imp(workbook(tmp_path / "v.xlsx", [_row(**{column: text})]))
    assert not plan.rows[0].errors
    assert plan.rows[0].fields[field] == expected


def test_teams_categories_and_protocols(imp, apply, db, tmp_path):
    vlinder, zon = make_team(db, "Vlinder"), make_team(db, "Zon")
    header = ["Title", "Teams", "Category", "Protocol", "Values touched"]
    path = workbook(
        tmp_path / "t.xlsx",
        [["Regel", "vlinder; Zon", "Medication", "Nieuw protocol", "Autonomie, safety"]],
        header=header,
    )
    plan = imp(path)
    row = plan.rows[0]
    assert row.fields["team_ids"] == [vlinder["id"], zon["id"]]
    assert row.fields["values_touched"] == ["autonomy", "safety"]
    assert plan.new_protocols == ["Nieuw protocol"] and plan.new_categories == []
    apply(plan)
    rule = rules.find_by_code(db, "R-0001")
    assert rule.category_nl == "Medicatie" and rule.protocol_name == "Nieuw protocol"


def test_unknown_team_is_reported_and_created_only_when_asked(imp, apply, db, tmp_path):
    path = workbook(tmp_path / "t.xlsx", [["Regel", "Nieuw team"]], header=["Title", "Teams"])
    plan = imp(path)
    assert plan.invalid and "Nieuw team" in str(plan.rows[0].errors[0][1])
    plan = imp(path, create_teams=True)
    assert not plan.invalid and plan.new_teams == ["Nieuw team"]
    apply(plan)
    assert organisation.find_team(db, "nieuw team") is not None


# --- row errors -----------------------------------------------------------------------------


def test_every_row_error_has_its_row_and_column(imp, tmp_path):
    rows = [
        _row(Title="Goed"),
        _row(Title="", Description="Een regel zonder titel"),
        _row(**{"Perceived origin": "de paus"}),
        _row(**{"Minutes per week": "1,5"}),
        _row(**{"Minutes per week": -3}),
        _row(**{"Introduced on": "gisteren"}),
        _row(**{"Relation impact": "super"}),
        _row(Teams="Bestaat niet"),
        _row(Code="DUP"),
        _row(Code="dup"),
        _row(Title="x" * 201),
        _row(Status="weg"),
    ]
    plan = imp(workbook(tmp_path / "e.xlsx", rows, above=[("Titel van het overzicht",)]))
    problems = {r.row: r.errors for r in plan.invalid}
    assert set(problems) == {4, 5, 6, 7, 8, 9, 10, 12, 13, 14}
    column = {row: errs[0][0] for row, errs in problems.items()}
    assert column[4].startswith("B") and column[5].startswith("F") and column[6].startswith("I")
    assert column[8].startswith("L") and column[9].startswith("J") and column[10].startswith("E")
    assert "row 11" in str(problems[12][0][1]) or "rij 11" in str(problems[12][0][1])
    assert plan.rows[0].action == "create" and plan.rows[0].row == 3


def test_all_or_nothing_and_skip_invalid(imp, apply, db, tmp_path):
    path = workbook(
        tmp_path / "mix.xlsx", [_row(Title="Goed"), _row(**{"Minutes per week": "veel"})]
    )
    plan = imp(path)
    with pytest.raises(ValidationError):
        apply(plan)
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0
    assert events.count(db) == 0
    counts = apply(plan, skip_invalid=True)
    assert counts == {
        "create": 1,
        "update": 0,
        "unchanged": 0,
        "duplicate": 0,
        "invalid": 1,
        "skipped": 1,
    }
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 1


def test_update_by_code_and_history(imp, apply, db, tmp_path):
    make_rule(db, code="HYG-1", title="Oud", minutes_per_week=10)
    make_rule(db, code="HYG-2", title="Blijft")
    user = make_user(db, "ilse", "quality")
    path = workbook(
        tmp_path / "u.xlsx",
        [
            _row(Code="hyg-1", Title="Nieuw", **{"Minutes per week": 20}),
            ["HYG-2", "Blijft"],
            _row(Code="NEW-1", Title="Nieuwe regel"),
        ],
        header=EN,
    )
    plan = imp(path)
    assert [r.action for r in plan.rows] == ["update", "unchanged", "create"]
    apply(plan, user)
    updated = rules.find_by_code(db, "HYG-1")
    assert (updated.title, updated.minutes_per_week) == ("Nieuw", 20)
    event = rules.history(db, updated.id)[0]
    assert (
        event["action"] == "import"
        and event["note"] == "u.xlsx"
        and event["ref_entity"] == "import"
    )
    assert rules.find_by_code(db, "NEW-1").title == "Nieuwe regel"
    import_event = [e for e in events.iterate(db) if e["entity"] == "import"][0]
    assert import_event["actor_name"] == "ilse"
    assert import_event["changes"]["file"] == [None, "u.xlsx"]
    assert import_event["changes"]["create"] == [None, 1]


# --- round trips ----------------------------------------------------------------------------


def _export(app, db, path, lang):
    with app.app_context():
        xlsx_export.export_report(db, str(path), lang=lang)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_round_trip_into_the_same_database_changes_nothing(app, db, imp, apply, tmp_path, lang):
    demo.seed(db, "k")
    path = tmp_path / "export.xlsx"
    _export(app, db, path, lang)
    before = events.count(db)
    plan = imp(path)
    assert plan.sheet in ("Register",)
    assert plan.summary() == {
        "create": 0,
        "update": 0,
        "unchanged": len(demo.RULES),
        "duplicate": 0,
        "invalid": 0,
    }
    assert plan.ignored_columns == []
    apply(plan)
    assert events.count(db) == before + 1  # only the import itself is recorded


def test_round_trip_into_an_empty_database_reproduces_the_register(app, db, tmp_path):
    demo.seed(db, "k")
    path = tmp_path / "export.xlsx"
    _export(app, db, path, "nl")
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE": str(tmp_path / "fresh.db")})
    other = connect(fresh.config["DATABASE"])
    with fresh.app_context():
        plan = xlsx_import.read_plan(other, path, filename="export.xlsx", create_teams=True)
        assert plan.summary()["create"] == len(demo.RULES) and not plan.invalid
        xlsx_import.apply_plan(other, None, plan)
        with app.app_context():
            original = {
                r.code: xlsx_export.register_values(r, "nl")
                for r in rules.get_rules(db, range(1, 200))
            }
        copy = {
            r.code: xlsx_export.register_values(r, "nl")
            for r in rules.get_rules(other, range(1, 200))
        }
    assert set(copy) == set(original)
    for code, values in original.items():
        for key in ("verified_by", "verified_on"):  # who traced it, and when, is the importer's now
            values.pop(key)
            copy[code].pop(key)
        if values["review_due"] is None:  # the one thing an import adds: a date from the horizon
            values["review_due"] = plan.horizon_date
        assert copy[code] == values, code


# --- bad files ------------------------------------------------------------------------------


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "make,name,message",
    [
        (lambda p: p.write_bytes(os.urandom(5000)), "random.xlsx", "not an Excel workbook"),
        (lambda p: p.write_bytes(b""), "empty.xlsx", "empty"),
        (
            lambda p: _zip(p, {"word/document.xml": "<w/>", "[Content_Types].xml": "<x/>"}),
            "letter.xlsx",
            "Word",
        ),
        (lambda p: _zip(p, {"hello.txt": "hi"}), "archive.xlsx", "not an Excel workbook"),
        (lambda p: p.write_text("Title,Code\nTaart,1\n"), "rules.csv", "Only Excel workbooks"),
        (lambda p: p.write_text("Title,Code\nTaart,1\n"), "renamed.xlsx", "not an Excel workbook"),
        (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 600), "old.xls", ".xls"),
        (lambda p: workbook(p, [_row()]), "macros.xlsm", "macros"),
        (
            lambda p: _zip(p, {"xl/workbook.xml": "<workbook/>", "xl/vbaProject.bin": "x"}),
            "sneaky.xlsx",
            "macros",
        ),
        (
            lambda p: _zip(p, {"xl/workbook.xml": "not xml at all <<<"}),
            "broken.xlsx",
            "cannot be read",
        ),
    ],
)
def test_bad_files_get_a_clear_message(imp, db, tmp_path, make, name, message):
    path = tmp_path / name
    make(path)
    with pytest.raises(ImportFileError) as info:
        imp(path)
    assert message.lower() in str(info.value).lower()
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0


def test_empty_workbook_and_sheet_without_header(imp, tmp_path):
    path = tmp_path / "blank.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(ImportFileError, match="header"):
        imp(path)
    header_only = workbook(tmp_path / "header.xlsx", [])
    with pytest.raises(ImportFileError, match="no rules"):
        imp(header_only)
    no_header = workbook(tmp_path / "nohead.xlsx", [["Taart", 30]], header=["Iets", "Anders"])
    with pytest.raises(ImportFileError, match="header"):
        imp(no_header)


def test_formulas_and_error_values_are_refused(imp, db, tmp_path):
    path = workbook(
        tmp_path / "f.xlsx", [_row(Title='=CONCAT("a","b")'), _row(**{"Minutes per week": "=1/0"})]
    )
    wb = openpyxl.load_workbook(path)
    wb.active["I3"].value = "#DIV/0!"
    wb.active["I3"].data_type = "e"
    wb.save(path)
    plan = imp(path)
    messages = " ".join(str(m) for r in plan.invalid for _, m in r.errors)
    assert len(plan.invalid) == 2
    assert "formula" in messages and "error value" in messages


def test_size_and_row_limits(imp, tmp_path):
    path = workbook(tmp_path / "big.xlsx", [_row(Title=f"Regel {i}") for i in range(30)])
    with pytest.raises(ImportFileError, match="MB"):
        imp(path, max_bytes=1000)
    with pytest.raises(ImportFileError, match="more than 10 rows"):
        imp(path, max_rows=10)


def test_a_zip_bomb_is_refused_before_parsing(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (30 * 1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(ImportFileError, match="unpacks"):
        xlsx_import.inspect_file(path, "bomb.xlsx", max_uncompressed=10 * 1024 * 1024)


# --- the template ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_template(app, db, runner, tmp_path, lang):
    out = tmp_path / "template.xlsx"
    result = runner.invoke(args=["import-template", str(out), "--lang", lang])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    rules_sheet, explanation = wb.worksheets[0], wb.worksheets[1]
    with app.app_context():  # a header is its field's label, translated by the app
        headers = [c.header(lang) for c in COLUMNS]
    assert [c.value for c in rules_sheet[1]] == headers
    validations = {
        str(v.sqref).split(":")[0]: v for v in rules_sheet.data_validations.dataValidation
    }
    letters = {c.key: openpyxl.utils.get_column_letter(i) for i, c in enumerate(COLUMNS, 1)}
    for key in ("category", "perceived_origin", "verified_origin", "relation_impact", "status"):
        assert f"{letters[key]}2" in validations, key
        assert validations[f"{letters[key]}2"].type == "list"
    explained = [
        r[0] for r in explanation.iter_rows(min_row=2, max_row=len(COLUMNS) + 1, values_only=True)
    ]
    assert explained == headers
    assert wb.worksheets[2].sheet_state == "hidden"


# --- the command ----------------------------------------------------------------------------


def test_import_rules_command_exit_codes(runner, db, tmp_path):
    good = workbook(tmp_path / "good.xlsx", [_row(Title="Een"), _row(Title="Twee")])
    mixed = workbook(tmp_path / "mixed.xlsx", [_row(Title="Een"), _row(Title="", Description="x")])
    result = runner.invoke(args=["import-rules", str(good), "--dry-run"])
    assert result.exit_code == 0 and "Dry run" in result.output
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0
    result = runner.invoke(args=["import-rules", str(mixed)])
    assert result.exit_code == 1 and "Row 3" in result.output
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0
    result = runner.invoke(args=["import-rules", str(mixed), "--dry-run"])
    assert result.exit_code == 1
    result = runner.invoke(args=["import-rules", str(mixed), "--skip-invalid"])
    assert result.exit_code == 0 and "1 created" in result.output and "1 skipped" in result.output
    result = runner.invoke(args=["import-rules", str(good)])
    assert result.exit_code == 0  # "Een" is in the register already: only "Twee" is new
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 2
    (tmp_path / "junk.xlsx").write_bytes(b"junk")
    for path in (tmp_path / "junk.xlsx", tmp_path / "missing.xlsx"):
        result = runner.invoke(args=["import-rules", str(path)])
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1


def test_import_rules_creates_teams_when_asked(runner, db, tmp_path):
    path = workbook(tmp_path / "t.xlsx", [["Regel", "Nieuw"]], header=["Title", "Teams"])
    assert runner.invoke(args=["import-rules", str(path)]).exit_code == 1
    result = runner.invoke(args=["import-rules", str(path), "--create-teams"])
    assert result.exit_code == 0, result.output
    assert organisation.find_team(db, "Nieuw")


def test_killed_import_leaves_the_database_as_it_was(app, db, tmp_path):
    make_rule(db, code="KEEP", title="Was er al")
    path = workbook(tmp_path / "many.xlsx", [_row(Title=f"Regel {i}") for i in range(300)])
    marker = tmp_path / "halfway"
    script = textwrap.dedent(
        f"""
        import pathlib, time
        from audit import create_app
        from audit.domain import events
        from audit.xlsx import importer as xlsx_import
        from audit.store.db import connect
        app = create_app({{"SECRET_KEY": "x", "DATABASE": {app.config["DATABASE"]!r}}})
        original = events.record_many
        def slow(*args, **kwargs):
            original(*args, **kwargs)  # the rules are written, not yet committed
            pathlib.Path({str(marker)!r}).write_text("300 rules written")
            time.sleep(60)
        events.record_many = slow
        db = connect(app.config["DATABASE"])
        with app.app_context():
            plan = xlsx_import.read_plan(db, {str(path)!r}, filename="many.xlsx")
            xlsx_import.apply_plan(db, None, plan)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, "the import process ended early"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    check = connect(app.config["DATABASE"])
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [r[0] for r in check.execute("SELECT code FROM rules")] == ["KEEP"]
    assert check.execute("SELECT count(*) FROM events WHERE entity = 'import'").fetchone()[0] == 0


# --- the web flow ---------------------------------------------------------------------------


def _upload(client, path, **fields):
    from tests.conftest import csrf_token

    data = {"csrf_token": csrf_token(client, "/import/"), **fields}
    data["file"] = (io.BytesIO(path.read_bytes()), path.name)
    return client.post("/import/", data=data, content_type="multipart/form-data")


def test_upload_preview_and_confirm(login_as, db, tmp_path):
    make_rule(db, code="HYG-1", title="Oud")
    client = login_as("quality", "ilse")
    path = workbook(
        tmp_path / "inventaris.xlsx",
        [
            _row(Code="HYG-1", Title="Nieuw"),
            _row(Title="Extra"),
            _row(Title="", Code="X", Description="x"),
        ],
    )
    preview = _upload(client, path)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "inventaris.xlsx" in text and "Problemen" in text
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 1  # nothing written yet
    import re

    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', text).group(1)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text).group(1)
    form = {
        "csrf_token": csrf,
        "token": token,
        "filename": "inventaris.xlsx",
        "sheet": "Rules",
        "action": "import",
    }
    refused = client.post("/import/confirm", data=form)
    assert refused.status_code == 400
    assert "niets geïmporteerd" in refused.get_data(as_text=True)
    done = client.post("/import/confirm", data={**form, "skip_invalid": "y"})
    assert done.status_code == 302
    assert rules.find_by_code(db, "HYG-1").title == "Nieuw"
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 2
    assert client.post("/import/confirm", data={**form, "skip_invalid": "y"}).status_code == 410


def test_upload_of_a_bad_file_shows_the_reason(login_as, db, tmp_path):
    client = login_as("quality", "ilse")
    path = tmp_path / "rules.csv"
    path.write_text("Title\nTaart\n")
    text = _upload(client, path).get_data(as_text=True)
    assert 'id="file-error"' in text and "Alleen Excel-werkmappen (.xlsx)" in text


def test_confirm_with_a_forged_token(login_as):
    from tests.conftest import csrf_token

    client = login_as("quality", "ilse")
    token = csrf_token(client, "/import/")
    for forged in ("../../etc/passwd", "x" * 32, ""):
        response = client.post(
            "/import/confirm", data={"csrf_token": token, "token": forged, "action": "import"}
        )
        assert response.status_code in (400, 410), forged


def test_upload_size_limit(app, login_as, tmp_path):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    client = login_as("quality", "ilse")
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"0" * 100_000)
    assert _upload(client, path).status_code == 413


def test_template_download(login_as):
    client = login_as("quality", "ilse")
    response = client.get("/import/template.xlsx?lang=nl")
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(response.data))
    assert wb.worksheets[0]["B1"].value == "Titel"
    assert login_as("member", "m").get("/import/template.xlsx").status_code == 403


def test_protocols_created_by_an_import_are_recorded(imp, apply, db, tmp_path):
    plan = imp(
        workbook(tmp_path / "p.xlsx", [["Regel", "Nieuw protocol"]], header=["Title", "Protocol"])
    )
    apply(plan)
    assert protocols.find_protocol(db, "nieuw protocol")["rule_count"] == 1
