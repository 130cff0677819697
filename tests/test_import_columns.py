"""Problems name their column as the workbook's own header says it, and tell the command-line
user about the flag (not a checkbox) that creates unknown teams."""

import io
import re

import openpyxl
import pytest

from audit.xlsx import importer as xlsx_import
from tests.conftest import csrf_token


def workbook(path, header, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def _problems(html):
    table = html.split('id="problems"', 1)[1].split("</table>", 1)[0]
    return [
        re.sub(r"<[^>]+>", "", cells[1]).strip()
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
            for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)
        )
        if cells
    ]


@pytest.mark.parametrize(
    "header, column",
    [
        (["Titel", "Veronderstelde herkomst"], "B (Veronderstelde herkomst)"),
        (["Title", "Perceived origin"], "B (Perceived origin)"),
        (["TITEL", "  veronderstelde   HERKOMST "], "B (veronderstelde HERKOMST)"),
    ],
)
def test_a_problem_names_the_column_as_the_file_does(app, db, tmp_path, header, column):
    path = workbook(tmp_path / "h.xlsx", header, [["Regel", "de paus"]])
    with app.app_context():
        plan = xlsx_import.read_plan(db, path, filename="h.xlsx")
    assert [c for c, _ in plan.rows[0].errors] == [column]


def test_a_header_padded_with_spaces_is_shown_short(app, db, tmp_path):
    padded = "Perceived" + " " * 20_000 + "origin"
    path = workbook(tmp_path / "p.xlsx", ["Title", padded], [["Regel", "de paus"]] * 3)
    with app.app_context():
        plan = xlsx_import.read_plan(db, path, filename="p.xlsx")
    assert {c for row in plan.rows for c, _ in row.errors} == {"B (Perceived origin)"}


def test_the_preview_in_dutch_shows_the_dutch_header(login_as, tmp_path):
    client = login_as("quality", "ilse")
    path = workbook(
        tmp_path / "inventaris.xlsx",
        ["Titel", "Teams", "Veronderstelde herkomst", "Minuten per week"],
        [["Geen taart", "", "de paus", "veel"]],
    )
    data = {"csrf_token": csrf_token(client, "/import/")}
    data["file"] = (io.BytesIO(path.read_bytes()), path.name)
    html = client.post("/import/", data=data, content_type="multipart/form-data").get_data(
        as_text=True
    )
    assert _problems(html) == ["C (Veronderstelde herkomst)", "D (Minuten per week)"]
    assert "Perceived origin" not in html and "Minutes per week" not in html


def test_the_command_names_the_create_teams_flag(runner, tmp_path):
    path = workbook(
        tmp_path / "t.xlsx", ["Title", "Teams", "Locations"], [["Regel", "Nieuw", "Oost"]]
    )
    result = runner.invoke(args=["import-rules", str(path)])
    assert result.exit_code == 1
    assert "Unknown team: Nieuw. Use --create-teams to create it." in result.output
    assert "Unknown location: Oost. Use --create-teams to create it." in result.output
    assert "Tick" not in result.output


def test_the_web_still_says_tick_create_teams(login_as, tmp_path):
    client = login_as("quality", "ilse")
    path = workbook(tmp_path / "t.xlsx", ["Titel", "Teams"], [["Regel", "Nieuw"]])
    data = {"csrf_token": csrf_token(client, "/import/")}
    data["file"] = (io.BytesIO(path.read_bytes()), path.name)
    html = client.post("/import/", data=data, content_type="multipart/form-data").get_data(
        as_text=True
    )
    assert "Vink „teams aanmaken” aan" in html and "--create-teams" not in html
