"""The Excel audit report, read back with openpyxl (and once through LibreOffice)."""

import json
import os
import shutil
import subprocess
import zipfile
from datetime import datetime
from io import BytesIO

import openpyxl
import pytest

from audit import demo
from audit.domain import ballots, categories, decisions, organisation, rules, sessions
from audit.domain.register import RuleFilter
from audit.xlsx import export as xlsx_export
from audit.xlsx.columns import COLUMNS
from tests.conftest import make_rule, make_team, make_user

HOSTILE = ['=HYPERLINK("http://x","click")', "+1", "-1", "@SUM(A1)", "=1+1", "\t=cmd|' /C calc'!A0"]
SHEETS = {
    "en": [
        "Summary",
        "Register",
        "Sessions",
        "Decisions",
        "Concerns",
        "History",
        "Rules in and out",
        "Actions",
    ],
    "nl": [
        "Samenvatting",
        "Register",
        "Sessies",
        "Besluiten",
        "Beren op de weg",
        "Geschiedenis",
        "Regels in en uit",
        "Acties",
    ],
}


@pytest.fixture
def export(app, db):
    """export(**options) -> (workbook, headline figures), as the CLI runs it: in an app context
    (the exporter formats in a language). Only around the export itself: test clients need
    request contexts of their own."""

    def run(**kwargs):
        out = BytesIO()
        with app.app_context():
            head = xlsx_export.export_report(db, out, **kwargs)
        out.seek(0)
        return openpyxl.load_workbook(out), head

    return run


@pytest.fixture
def seeded(db):
    demo.seed(db, "test")
    return db


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_sheets_are_named_in_the_language(seeded, lang, export):
    wb, _ = export(lang=lang)
    assert wb.sheetnames == SHEETS[lang]


def _summary_figures(ws) -> dict:
    """The figures table: from below its header to the first empty row."""
    values = {}
    for label, value, *_ in ws.iter_rows(min_row=7, values_only=True):
        if label is None:
            break
        values[label] = value
    return values


def test_summary_figures_equal_stats_json(seeded, runner, export):
    stats = json.loads(runner.invoke(args=["stats", "--json"]).output)
    wb, head = export(lang="en")
    ws = wb["Summary"]
    assert ws["A1"].value == "Audit report"
    assert ws["B2"].value == demo.ORGANISATION
    assert isinstance(ws["B3"].value, datetime)
    figures = _summary_figures(ws)
    assert figures["Rules in force"] == stats["total"]
    assert figures["Traced"] == stats["traced"]
    assert figures["Self-invented"] == stats["self_invented"]
    assert figures["Self-invented share of traced rules"] == pytest.approx(
        stats["self_invented_share"]
    )
    assert figures["Myths"] == stats["myths"]
    assert (
        figures["Minutes per week on self-invented rules"]
        == stats["minutes_per_week_self_invented"]
    )
    assert figures["Hours per week given back"] == pytest.approx(stats["hours_per_week_given_back"])
    assert ws["B9"].number_format == "0%"
    assert len(ws._charts) == 2  # origin distribution and share per category


def test_summary_follows_a_team_filter(seeded, runner, export):
    stats = json.loads(runner.invoke(args=["stats", "--json", "--team", "Vlinder"]).output)
    team = organisation.find_team(seeded, "Vlinder")
    wb, _ = export(rule_filter=RuleFilter(team=team["id"]))
    assert _summary_figures(wb["Summary"])["Rules in force"] == stats["total"]
    assert "Vlinder" in wb["Summary"]["B4"].value


def test_register_sheet(seeded, export):
    wb, _ = export(lang="en")
    ws = wb["Register"]
    header = [c.value for c in ws[1]]
    # The template's columns, then the derived count of colleagues' reports (skipped on import).
    assert header == [c.en for c in COLUMNS] + [
        "Reported by colleagues",
        "Suspended by an experiment",
    ]
    assert ws.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(len(COLUMNS) + 2)
    assert ws.auto_filter.ref == f"A1:{last}{ws.max_row}"
    assert ws.column_dimensions["B"].width == pytest.approx(40, abs=1)  # xlsxwriter pads
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == len(demo.RULES)
    by_code = {row[0].value: {h: c for h, c in zip(header, row, strict=True)} for row in rows}
    first = by_code["R-0001"]
    assert first["Self-invented"].value == "yes" and first["Myth"].value == "yes"
    rule = ws.conditional_formatting._cf_rules[next(iter(ws.conditional_formatting._cf_rules))][0]
    assert rule.formula == ['$S2="yes"'] and rule.dxf.fill.bgColor.rgb.endswith("FFF1E8")
    assert isinstance(first["Minutes per week"].value, int)
    assert isinstance(first["Introduced on"].value, datetime) and first["Introduced on"].is_date
    assert first["Perceived origin"].value == "Inspectorate"
    lawful = by_code["R-0009"]
    assert lawful["Self-invented"].value == "no"


def test_register_sheet_in_dutch(app, seeded, export):
    wb, _ = export(lang="nl")
    ws = wb["Register"]
    with app.app_context():  # a header is its field's label, translated by the app
        assert [c.value for c in ws[1]] == [c.nl for c in COLUMNS] + [
            "Gemeld door collega's",
            "Opgeschort door een experiment",
        ]
    row = {h.value: c.value for h, c in zip(ws[1], ws[2], strict=True)}
    assert row["Veronderstelde herkomst"] == "Inspectie"
    assert row["Zelfbedacht"] == "ja"


def test_register_download_follows_the_filter(seeded, export):
    wb, _ = export(rule_filter=RuleFilter(myth=True))
    codes = [r[0] for r in wb["Register"].iter_rows(min_row=2, values_only=True)]
    expected = [r.code for r in rules.get_rules(seeded, range(1, 100)) if r.myth and not r.archived]
    assert sorted(codes) == sorted(expected)


def test_sessions_decisions_and_history_sheets(seeded, export):
    wb, _ = export(lang="en")
    sess = wb["Sessions"]
    header = [c.value for c in sess[1]]
    assert header[:6] == ["Session", "State", "Mode", "Teams", "Code", "Rule"]
    rows = list(sess.iter_rows(min_row=2, values_only=True))
    # Only the closed sessions have results: spring (4 rules) and Waterlelie's experiments (2).
    assert len(rows) == 6
    night = next(r for r in rows if r[5] == "Elk uur een nachtronde langs alle bewoners")
    assert night[6:11] == (1, 1, 4, 0, 6)
    assert night[12] == "Drop" and night[13] == "Drop" and night[14] == "yes"
    dec = wb["Decisions"]
    assert [c.value for c in dec[1]][:5] == ["Session", "Code", "Rule", "Decision", "Rationale"]
    assert dec.max_row == 6  # three spring decisions, two to try without a rule
    tried = [r[3] for r in dec.iter_rows(min_row=2, values_only=True)]
    assert tried.count("Try without the rule") == 2
    assert isinstance(dec.cell(row=2, column=10).value, datetime)
    hist = wb["History"]
    assert hist.freeze_panes == "A2" and hist.max_row > 50
    actions = {r[4] for r in hist.iter_rows(min_row=2, values_only=True)}
    assert "decision applied" in actions
    assert not any(a == "ballot" for a in actions)


def _all_cells(wb, sheet):
    for row in wb[sheet].iter_rows():
        yield from row


def test_formula_injection_is_written_as_text(app, db):
    # User text reaches every sheet, the Summary included: the organisation's name, the names of
    # categories (the share per category) and the filter in words (team, category, search).
    organisation.update_settings(
        db,
        None,
        name=HOSTILE[0],
        default_language="en",
        reference_share=0.7,
        reference_label_nl=HOSTILE[2],
        reference_label_en=HOSTILE[0],
    )
    team = make_team(db, HOSTILE[0][:40])
    category = categories.save_category(db, None, name_nl=HOSTILE[3], name_en=HOSTILE[4])
    facilitator = make_user(db, "fac", "quality")
    member = make_user(db, "m", "member", teams=[team])
    made = []
    for i, text in enumerate(HOSTILE):
        made.append(
            make_rule(
                db,
                code=f"X{i}",
                title=text,
                description=text,
                owner=text,
                source_reference=text,
                team_ids=[team["id"]],
                category_id=category["id"],
                verified_origin="team",
                relation_impact="hinders",
                minutes_per_week=10,
            )
        )
    session = sessions.create_session(
        db,
        facilitator,
        title=HOSTILE[0],
        team_ids=[team["id"]],
        rule_ids=[r.id for r in made],
        mode="online",
        anonymous=False,
    )
    sessions.open_session(db, facilitator, session.id)
    ballots.cast_vote(db, "k", member, session.id, made[0].id, "drop", HOSTILE[1])
    sessions.close_session(db, facilitator, session.id)
    decisions.record_decision(
        db, facilitator, session.id, made[0].id, outcome="drop", rationale=HOSTILE[3]
    )
    decisions.apply_decision(db, facilitator, session.id, made[0].id)
    filtered = RuleFilter(q="=1", team=team["id"], category=category["id"])
    for lang, rule_filter in (("en", RuleFilter()), ("en", filtered), ("nl", filtered)):
        out = BytesIO()
        with app.app_context():
            xlsx_export.export_report(db, out, lang=lang, rule_filter=rule_filter)
        out.seek(0)
        wb = openpyxl.load_workbook(out)
        for sheet in wb.sheetnames:
            for cell in _all_cells(wb, sheet):
                assert cell.data_type != "f", (sheet, cell.coordinate, cell.value)
        summary = wb.worksheets[0]
        assert summary["B2"].value == HOSTILE[0]
        shown = {row[0] for row in summary.iter_rows(min_row=2, values_only=True)}
        assert {HOSTILE[3] if lang == "nl" else HOSTILE[4]} <= shown  # the category's row
        assert HOSTILE[2 if lang == "nl" else 0] in {
            row[1] for row in summary.iter_rows(min_row=2, values_only=True)
        }  # the reference's source
        # And in the raw XML: no <f> element in any sheet.
        out.seek(0)
        with zipfile.ZipFile(out) as archive:
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
            assert len(sheets) == len(SHEETS[lang])
            for name in sheets:
                assert b"<f>" not in archive.read(name), name
    assert summary["B4"].value == f"Zoektekst: =1; Categorie: {HOSTILE[3]}; Team: {team['name']}"
    wb = openpyxl.load_workbook(BytesIO(_export_bytes(app, db)))
    titles = [r[1] for r in wb["Register"].iter_rows(min_row=2, values_only=True)]
    assert sorted(titles) == sorted(r.title for r in made)
    assert "+1" in titles and "@SUM(A1)" in titles
    assert wb["Sessions"]["A2"].value == HOSTILE[0]
    assert wb["Decisions"]["E2"].value == HOSTILE[3]


def _export_bytes(app, db, **options) -> bytes:
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out, **options)
    return out.getvalue()


def test_control_characters_do_not_break_the_workbook(db, export):
    make_rule(db, code="NUL", title="Null\x00byte and bell\x07", description="ok\ttab\nline")
    wb, _ = export()
    row = next(wb["Register"].iter_rows(min_row=2, values_only=True))
    assert row[1] == "Null\ufffdbyte and bell\ufffd"
    assert row[2] == "ok\ttab\nline"


def test_empty_register_exports(db, export):
    wb, head = export(lang="nl")
    assert head["total"] == 0
    assert wb["Register"].max_row == 1
    assert _summary_figures(wb["Samenvatting"])["Regels van kracht"] == 0


# --- the command and the downloads ----------------------------------------------------------


def test_export_report_command(seeded, runner, tmp_path):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "rapport.xlsx"
    result = runner.invoke(args=["export-report", str(out), "--lang", "nl", "--team", "vlinder"])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS["nl"]
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


@pytest.mark.parametrize(
    "args,message",
    [
        (["--lang", "fr"], "Unknown language: fr"),
        (["--team", "Nope"], "Unknown team: Nope"),
        (["--location", "Nowhere"], "Unknown location: Nowhere"),
    ],
)
def test_export_report_bad_arguments(seeded, runner, tmp_path, args, message):
    folder = tmp_path / "out"
    folder.mkdir()
    result = runner.invoke(args=["export-report", str(folder / "x.xlsx"), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("name", ["x.csv", "x.xls", "report", "x.xlsx.csv", "x.xlsm", ".xlsx"])
@pytest.mark.parametrize(
    "command,what", [("export-report", "the report"), ("import-template", "the template")]
)
def test_workbooks_refuse_a_name_that_is_not_xlsx(seeded, runner, tmp_path, name, command, what):
    """A workbook written under another name (x.csv) opens as garbage or not at all."""
    folder = tmp_path / "out"
    folder.mkdir()
    result = runner.invoke(args=[command, str(folder / name)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {folder / name} is not an .xlsx file name; {what} is an Excel workbook"
    ]
    assert list(folder.iterdir()) == []


def test_export_report_accepts_xlsx_in_any_case(seeded, runner, tmp_path):
    result = runner.invoke(args=["export-report", str(tmp_path / "Rapport.XLSX")])
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(tmp_path / "Rapport.XLSX").sheetnames == SHEETS["en"]


def test_export_report_unwritable_path(seeded, runner, tmp_path):
    # A folder that cannot exist, because a regular file holds its name: refused for every
    # user, root included (CI runs as root, who may write into a read-only folder).
    (tmp_path / "a-file").write_text("not a folder")
    for target in (tmp_path / "missing" / "x.xlsx", tmp_path / "a-file" / "x.xlsx"):
        result = runner.invoke(args=["export-report", str(target)])
        assert result.exit_code == 1, result.output
        assert "Cannot write" in result.output
        assert not target.exists()
    assert (tmp_path / "a-file").read_text() == "not a folder"
    assert not list(tmp_path.rglob("*.xlsx"))


def test_dashboard_and_register_downloads(seeded, login_as):
    client = login_as("viewer", "board")
    response = client.get("/dashboard/report.xlsx?team=1")
    assert response.status_code == 200
    assert response.mimetype == xlsx_export_mimetype()
    assert "attachment" in response.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(BytesIO(response.data))
    assert wb.sheetnames == SHEETS["nl"]  # the viewer's language
    response = client.get("/rules/export.xlsx?q=taart")
    wb = openpyxl.load_workbook(BytesIO(response.data))
    titles = [r[1] for r in wb["Register"].iter_rows(min_row=2, values_only=True)]
    assert titles and all("taart" in t.lower() for t in titles)
    assert login_as("member", "m1").get("/rules/export.xlsx").status_code == 403


def xlsx_export_mimetype():
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- LibreOffice ----------------------------------------------------------------------------


def _soffice():
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is missing: .ci/run installs libreoffice-calc-nogui")
        pytest.skip("LibreOffice (soffice) is not installed")
    return found


def test_libreoffice_opens_the_report_and_keeps_the_figures(app, db, tmp_path):
    soffice = _soffice()
    demo.seed(db, "test")
    make_rule(db, code="HOSTILE", title=HOSTILE[0], owner="+1", verified_origin="team")
    source = tmp_path / "report.xlsx"
    with app.app_context():
        head = xlsx_export.export_report(db, str(source), lang="en")
    converted_dir = tmp_path / "converted"
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(converted_dir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wb = openpyxl.load_workbook(converted_dir / "report.xlsx")
    assert wb.sheetnames == SHEETS["en"]
    figures = _summary_figures(wb["Summary"])
    assert figures["Rules in force"] == head["total"]
    assert figures["Self-invented share of traced rules"] == pytest.approx(
        head["self_invented_share"]
    )
    assert figures["Hours per week given back"] == pytest.approx(head["hours_per_week_given_back"])
    register = {r[0]: r for r in wb["Register"].iter_rows(min_row=2, values_only=True)}
    assert register["HOSTILE"][1] == HOSTILE[0]
    assert register["HOSTILE"][15] == "+1"
    for sheet in wb.sheetnames:
        for cell in _all_cells(wb, sheet):
            assert cell.data_type != "f", (sheet, cell.coordinate)
