"""A second upload of the same inventory is recognised: rows without a code that match a rule
already in the register (or an earlier row of the same file) on title and scope create nothing
unless the user asks."""

import io
import re

import openpyxl
import pytest

from audit.domain import events, rules
from tests.conftest import csrf_token, make_rule, make_team


def workbook(path, rows, header=("Title", "Teams", "Minutes per week")):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Rules"
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def _count(db):
    return db.execute("SELECT count(*) FROM rules").fetchone()[0]


# --- the matching rule in the domain --------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("Geen taart van familie", "geen TAART van familie"),
        ("Hygiëne in de keuken", "Hygiene in de keuken"),
        ("Geen  taart\tvan familie ", "Geen taart van familie"),
        ("Geen taart van familie.", "Geen taart van familie"),
        ("Bezoek: na 20.00 uur", "Bezoek na 2000 uur"),
        ("Tas-controle bij vertrek", "Tascontrole bij vertrek"),
        ("Tas-controle bij vertrek", "Tas controle bij vertrek"),
    ],
)
def test_title_key_folds_case_accents_whitespace_and_punctuation(a, b):
    assert rules.title_key(a) == rules.title_key(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("Geen taart van familie", "Geen taart van de familie"),
        ("Bezoek na 20 uur", "Bezoek na 21 uur"),
    ],
)
def test_title_key_keeps_different_titles_apart(a, b):
    assert rules.title_key(a) != rules.title_key(b)


def test_same_title_finds_the_rule_and_says_whether_the_scope_is_the_same(db):
    vlinder, zon = make_team(db, "Vlinder"), make_team(db, "Zon")
    everywhere = make_rule(db, title="Geen taart van familie")
    for_vlinder = make_rule(db, title="Geen taart, van familie!", team_ids=[vlinder["id"]])
    make_rule(db, title="Iets anders")
    found = rules.find_same_title(
        db,
        [
            {"title": "GEEN TAART VAN FAMILIE"},
            {"title": "geen taart van familie", "team_ids": [vlinder["id"]]},
            {"title": "geen taart van familie", "team_ids": [zon["id"]]},
            {"title": "Nieuw"},
        ],
    )
    assert [(m.code, m.same_scope) for m in found[0]] == [
        (everywhere.code, True),
        (for_vlinder.code, False),
    ]
    assert [(m.code, m.same_scope) for m in found[1]] == [
        (for_vlinder.code, True),
        (everywhere.code, False),
    ]
    assert all(not m.same_scope for m in found[2]) and len(found[2]) == 2
    assert found[3] == []


def test_same_title_reports_an_archived_rule_as_archived(db):
    rule = make_rule(db, title="Geen taart")
    rules.archive_rule(db, None, rule.id)
    [match] = rules.find_same_title(db, [{"title": "geen taart"}])[0]
    assert match.id == rule.id and match.archived


# --- the import -----------------------------------------------------------------------------


def test_importing_the_same_inventory_twice_creates_nothing_the_second_time(
    imp, apply, db, tmp_path
):
    vlinder = make_team(db, "Vlinder")
    path = workbook(
        tmp_path / "inventaris.xlsx",
        [["Geen taart van familie", "", 10], ["Bezoek tot 20.00 uur", "Vlinder", 5]],
    )
    assert apply(imp(path))["create"] == 2
    assert _count(db) == 2
    # The same inventory, typed again a little differently.
    again = workbook(
        tmp_path / "inventaris-2.xlsx",
        [["geen taart van  familie.", "", 10], ["Bezoek tot 2000 uur", "vlinder", 5]],
    )
    plan = imp(again)
    assert [r.action for r in plan.rows] == ["duplicate", "duplicate"]
    assert [r.duplicate_of.code for r in plan.rows] == ["R-0001", "R-0002"]
    assert plan.summary()["duplicate"] == 2 and plan.summary()["create"] == 0
    before = events.count(db, "rule")
    counts = apply(plan)
    assert counts["create"] == 0 and counts["duplicate"] == 2
    assert _count(db) == 2 and events.count(db, "rule") == before
    assert rules.find_by_code(db, "R-0002").team_ids == [vlinder["id"]]


def test_same_title_in_another_scope_is_a_new_rule(imp, db, tmp_path):
    make_team(db, "Vlinder")
    make_team(db, "Zon")
    make_rule(db, title="Geen taart van familie")
    path = workbook(
        tmp_path / "teams.xlsx",
        [["Geen taart van familie", "Vlinder", ""], ["Geen taart van familie", "Zon", ""]],
    )
    plan = imp(path)
    assert [r.action for r in plan.rows] == ["create", "create"]
    assert all(r.duplicate_of is None and r.same_as_row is None for r in plan.rows)


def test_rows_with_a_code_are_matched_on_their_code_only(imp, db, tmp_path):
    make_rule(db, code="HYG-1", title="Geen taart van familie")
    path = workbook(
        tmp_path / "codes.xlsx",
        [["HYG-2", "Geen taart van familie"]],
        header=("Code", "Title"),
    )
    [row] = imp(path).rows
    assert row.action == "create" and row.duplicate_of is None


def test_rows_repeated_within_the_file_are_flagged(imp, apply, db, tmp_path):
    path = workbook(
        tmp_path / "dubbel.xlsx",
        [
            ["Geen taart van familie", "", 10],
            ["Iets anders", "", ""],
            ["GEEN taart van familie", "", 10],
        ],
    )
    plan = imp(path)
    assert [r.action for r in plan.rows] == ["create", "create", "duplicate"]
    assert plan.rows[2].same_as_row == 2 and plan.rows[2].duplicate_of is None
    apply(plan)
    assert _count(db) == 2


def test_a_rule_in_the_archive_is_not_created_again(imp, db, tmp_path):
    rule = make_rule(db, title="Geen taart van familie")
    rules.archive_rule(db, None, rule.id)
    [row] = imp(workbook(tmp_path / "a.xlsx", [["Geen taart van familie", "", ""]])).rows
    assert row.action == "duplicate" and row.duplicate_of.archived


def test_duplicates_are_created_when_asked(imp, apply, db, tmp_path):
    make_rule(db, title="Geen taart van familie")
    path = workbook(
        tmp_path / "again.xlsx",
        [["Geen taart van familie", "", ""], ["Geen taart van familie", "", ""]],
    )
    plan = imp(path, create_duplicates=True)
    assert [r.action for r in plan.rows] == ["create", "create"]
    # Still flagged, so the preview can say what the user chose to create.
    assert plan.rows[0].duplicate_of.code == "R-0001" and plan.rows[1].duplicate_of is not None
    assert apply(plan)["create"] == 2
    assert _count(db) == 3


# --- the command ----------------------------------------------------------------------------


def test_command_skips_duplicates_unless_asked(runner, db, tmp_path):
    path = workbook(tmp_path / "inv.xlsx", [["Geen taart", "", ""], ["Bezoek", "", ""]])
    assert runner.invoke(args=["import-rules", str(path)]).exit_code == 0
    result = runner.invoke(args=["import-rules", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 created" in result.output and "2 already in the register" in result.output
    assert "Row 2: already in the register as R-0001" in result.output
    assert "--create-duplicates" in result.output
    assert _count(db) == 2
    result = runner.invoke(args=["import-rules", str(path), "--create-duplicates"])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    assert _count(db) == 4


# --- the web flow ---------------------------------------------------------------------------


def _upload(client, path):
    data = {"csrf_token": csrf_token(client, "/import/")}
    data["file"] = (io.BytesIO(path.read_bytes()), path.name)
    return client.post("/import/", data=data, content_type="multipart/form-data")


def test_preview_says_already_in_the_register_and_imports_nothing_unless_asked(
    login_as, db, tmp_path
):
    rule = make_rule(db, title="Geen taart van familie")
    client = login_as("quality", "ilse")
    path = workbook(
        tmp_path / "inventaris.xlsx",
        [["geen taart van familie", "", ""], ["Nieuwe regel", "", ""], ["Nieuwe regel", "", ""]],
    )
    preview = _upload(client, path)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "al in het register" in text
    assert f'href="/rules/{rule.id}"' in text and rule.code in text
    assert "zelfde als rij 3" in text.lower()
    assert 'name="create_duplicates"' in text
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', text).group(1)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text).group(1)
    form = {
        "csrf_token": csrf,
        "token": token,
        "filename": "inventaris.xlsx",
        "sheet": "Rules",
        "action": "import",
    }
    # Checking again with the option on shows them as rules to create, still flagged.
    checked = client.post(
        "/import/confirm", data={**form, "action": "check", "create_duplicates": "y"}
    )
    again = checked.get_data(as_text=True)
    assert checked.status_code == 200 and f'href="/rules/{rule.id}"' in again
    assert _count(db) == 1
    done = client.post("/import/confirm", data=form)
    assert done.status_code == 302
    assert _count(db) == 2  # only the first "Nieuwe regel"
    flashed = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "2 al in het register" in flashed


def test_preview_option_creates_the_duplicates(login_as, db, tmp_path):
    make_rule(db, title="Geen taart van familie")
    client = login_as("quality", "ilse")
    path = workbook(tmp_path / "inventaris.xlsx", [["Geen taart van familie", "", ""]])
    text = _upload(client, path).get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', text).group(1)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text).group(1)
    done = client.post(
        "/import/confirm",
        data={
            "csrf_token": csrf,
            "token": token,
            "filename": "inventaris.xlsx",
            "sheet": "Rules",
            "action": "import",
            "create_duplicates": "y",
        },
    )
    assert done.status_code == 302
    assert _count(db) == 2
