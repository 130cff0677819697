"""Hostile and odd workbooks: each is refused or read within its limits, with a one-line
message in the user's language, and neither the server nor other users notice. Small versions
of the attack's files; `tests/test_load_hostile.py` has the full-size ones against a real
server."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import zipfile
from datetime import date, datetime
from datetime import time as time_of_day
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from flask_babel import force_locale
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from audit.domain import users
from audit.xlsx import importer as xlsx_import
from audit.xlsx import uploads
from audit.xlsx.importer import ImportFileError
from audit.xlsx.reader import Limits, open_workbook
from tests import hostile_files as hostile
from tests.conftest import csrf_token

FAST = 5  # seconds: every hostile file here is answered well within this


@pytest.fixture
def read(app, db):
    """read(path, **options) -> the plan, read in a request context as the web does; a
    refusal comes with its message in Dutch, as a Dutch user sees it."""

    def run(path, **kwargs):
        with app.test_request_context(), force_locale("nl"):
            try:
                return xlsx_import.read_plan(db, path, filename=path.name, **kwargs)
            except ImportFileError as error:
                raise ImportFileError(str(error)) from None

    return run


def _refusal(read, path, **kwargs) -> str:
    started = time.monotonic()
    with pytest.raises(ImportFileError) as info:
        read(path, **kwargs)
    assert time.monotonic() - started < FAST
    message = str(info.value)
    assert message and "\n" not in message
    return message


def _workers() -> list[int]:
    """Reading workers that are children of this process and still exist."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{os.getpid()}\n" in status and b"xlsx/worker.py" in command:
            found.append(int(entry.name))
    return found


class PeakMemory:
    """The highest VmHWM of the reading workers started while it runs (read from /proc)."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for pid in _workers():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                found = re.search(r"VmHWM:\s+(\d+) kB", status)
                if found:
                    self.seen += 1
                    self.peak_kb = max(self.peak_kb, int(found.group(1)))
            time.sleep(0.002)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the attack's files, small ---------------------------------------------------------------


def test_a_shared_strings_bomb_is_refused_quickly_and_small(read, tmp_path):
    path = hostile.shared_strings_bomb(tmp_path / "bomb.xlsx", unpacked_mb=40)
    assert path.stat().st_size < 200 * 1024
    with PeakMemory() as memory:
        message = _refusal(read, path)
    assert "gecomprimeerd" in message
    assert memory.peak_kb < 100 * 1024, memory.peak_kb


def test_a_sheet_that_claims_to_be_enormous_is_read_quickly(read, tmp_path):
    path = hostile.wide_dimension(tmp_path / "wide.xlsx")
    assert path.stat().st_size < 4096
    started = time.monotonic()
    plan = read(path)
    assert time.monotonic() - started < FAST
    assert [(row.row, row.title) for row in plan.rows] == [(50_030, "Regel 50030")]


def test_a_sheet_that_claims_to_be_small_is_read_whole(read, tmp_path):
    plan = read(hostile.short_dimension(tmp_path / "short.xlsx", rows=200))
    assert len(plan.rows) == 200
    assert plan.rows[-1].title == "Regel 201"


def test_a_long_sheet_that_claims_to_be_small_hits_the_row_limit(read, tmp_path):
    path = hostile.long_sheet_small_dimension(tmp_path / "long.xlsx", rows=501)
    assert "500" in _refusal(read, path, max_rows=500)
    assert len(read(path, max_rows=501).rows) == 501


def test_a_zip_that_understates_a_sheet_is_refused(read, tmp_path):
    path = hostile.understated_directory(tmp_path / "under.xlsx", padding_mb=2, claimed=1000)
    assert zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size == 1000
    assert "beschadigd" in _refusal(read, path)


@pytest.mark.parametrize(
    "limits,rows,message",
    [
        (Limits(max_columns=3), [["Title", "Code", None, "x"]], "kolom C"),
        (Limits(max_cells=10), [["Title", "Code"]] * 6, "10 cellen"),
    ],
)
def test_columns_and_cells_are_counted_as_read(read, tmp_path, limits, rows, message):
    path = tmp_path / "limits.xlsx"
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    assert message in _refusal(read, path, limits=limits)


def test_formatted_empty_cells_far_away_cost_nothing(read, tmp_path):
    """Empty cells are not values: a formatted cell at XFD is neither read nor counted."""
    rows = [
        hostile.header_row(),
        '<row r="2"><c r="A2" t="inlineStr"><is><t>Regel</t></is></c>'
        + "".join(f'<c r="{c}2" s="0"/>' for c in ("Z", "AZ", "XFD"))
        + "</row>",
    ]
    path = hostile.raw_workbook(tmp_path / "far.xlsx", hostile.sheet(rows, "A1:XFD2"))
    assert [row.title for row in read(path, limits=Limits(max_columns=3)).rows] == ["Regel"]


def test_a_cell_longer_than_excel_allows_is_refused(read, tmp_path):
    rows = [hostile.header_row(), hostile.rule_row(2, title="x" * 40_000)]
    path = hostile.raw_workbook(tmp_path / "long-text.xlsx", hostile.sheet(rows))
    assert "32767" in _refusal(read, path)


def test_the_shared_strings_table_is_limited(read, tmp_path):
    strings = (f"<si><t>tekst {n}</t></si>".encode() for n in range(50))
    rows = [hostile.header_row(), '<row r="2"><c r="A2" t="s"><v>49</v></c></row>']
    path = hostile.raw_workbook(tmp_path / "strings.xlsx", hostile.sheet(rows), strings=strings)
    assert "40" in _refusal(read, path, limits=Limits(max_cells=40))
    assert read(path).rows[0].title == "tekst 49"


def test_a_document_type_declaration_is_refused(read, tmp_path):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    )
    rows = [hostile.header_row(), hostile.rule_row(2, title="&lol2;")]
    without_declaration = b"".join(hostile.sheet(rows)).split(b"?>", 1)[1]
    path = hostile.raw_workbook(tmp_path / "laughs.xlsx", [laughs.encode() + without_declaration])
    assert "niet te lezen" in _refusal(read, path)


def test_a_document_type_declaration_in_utf16_is_refused(read, tmp_path):
    rows = [hostile.header_row(), hostile.rule_row(2)]
    text = b"".join(hostile.sheet(rows)).decode().split("?>", 1)[1]
    declared = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE worksheet []>' + text
    path = hostile.raw_workbook(tmp_path / "utf16.xlsx", [declared.encode("utf-16")])
    assert "niet te lezen" in _refusal(read, path)


def test_openpyxl_reads_with_defusedxml_and_without_lxml(tmp_path):
    """Behind the worker's own check for a DOCTYPE, defusedxml refuses an entity in any part
    openpyxl parses; lxml, which defusedxml does not guard, and numpy are never loaded."""
    laughs = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY lol "lol">]><x>&lol;</x>'
    path = hostile.features(tmp_path / "features.xlsx")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("docProps/custom.xml", laughs)
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(xlsx_import.__file__).parent)!r})\n"
        "import worker\n"
        "worker._import_openpyxl()\n"
        "import openpyxl\n"
        "loaded = [sys.modules.get(name) is not None for name in ('lxml', 'numpy')]\n"
        "print(openpyxl.DEFUSEDXML, openpyxl.LXML, *loaded)\n"
        "try:\n"
        f"    openpyxl.load_workbook({str(path)!r}, read_only=True)\n"
        "except Exception as error:\n"
        "    print(type(error.__cause__ or error).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False", "False", "EntitiesForbidden"]


def test_many_rows_with_a_formatted_cell_far_away_are_read_quickly(read, tmp_path):
    """openpyxl makes a row as wide as its last cell: one formatted cell at XFD in each of
    20,000 rows took 15 s before cells without a value were left out."""
    far = (
        '<row r="{0}"><c r="A{0}" t="inlineStr"><is><t>Regel {0}</t></is></c><c r="XFD{0}" s="0"/>'
    )
    rows = (hostile.header_row() if n == 1 else far.format(n) + "</row>" for n in range(1, 20_002))
    path = hostile.raw_workbook(tmp_path / "far.xlsx", hostile.sheet(rows, "A1:XFD20001"))
    started = time.monotonic()
    plan = read(path)
    assert time.monotonic() - started < FAST
    assert len(plan.rows) == 20_000
    assert plan.rows[-1].title == "Regel 20001"


def test_a_row_beyond_excels_last_is_refused(read, tmp_path):
    rows = [hostile.header_row(), hostile.rule_row(2), hostile.rule_row(10**12)]
    path = hostile.raw_workbook(tmp_path / "beyond.xlsx", hostile.sheet(rows))
    assert "niet te lezen" in _refusal(read, path)


# --- the worker's own limits ------------------------------------------------------------------


def test_the_worker_runs_with_hard_limits(tmp_path):
    path = hostile.short_dimension(tmp_path / "short.xlsx", rows=3)
    with open_workbook(path, Limits(seconds=7, memory_mb=99)) as wb:
        pid = wb._process.pid
        limits = Path(f"/proc/{pid}/limits").read_text()
        nice = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
        assert wb.sheetnames == ["Rules"]
    assert re.search(r"Max address space\s+103809024\s+103809024", limits)
    assert re.search(r"Max cpu time\s+7\s+8", limits)
    assert re.search(r"Max file size\s+0\s+0", limits)
    assert nice > 0
    assert pid not in _workers()


def test_the_worker_keeps_a_stricter_limit_it_was_given():
    """Under a lower hard limit (a container's, say) the worker keeps that one instead of
    failing on every workbook."""
    script = (
        "import resource, sys\n"
        f"sys.path.insert(0, {str(Path(xlsx_import.__file__).parent)!r})\n"
        "import worker\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (20, 20))\n"
        "worker.limit_self({'seconds': 60, 'memory_mb': 256})\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU), resource.getrlimit(resource.RLIMIT_AS))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(20,", "20)", "(268435456,", "268435456)"]


def test_a_workbook_that_takes_too_long_is_stopped(read, tmp_path):
    path = hostile.long_sheet_small_dimension(tmp_path / "long.xlsx", rows=100_000)
    started = time.monotonic()
    with pytest.raises(ImportFileError, match="seconden"):
        read(path, max_rows=200_000, limits=Limits(seconds=0.3))
    assert time.monotonic() - started < 3
    assert _workers() == []


def test_a_workbook_that_needs_too_much_memory_is_stopped(read, tmp_path):
    """64 MB is well above what the worker needs to start (about 40 MB of address space with
    openpyxl), and below what this table of 80 MB of texts needs."""
    strings = (f"<si><t>{n:08d}{'y' * 1000}</t></si>".encode() for n in range(80_000))
    rows = [hostile.header_row(), '<row r="2"><c r="A2" t="s"><v>1</v></c></row>']
    path = hostile.raw_workbook(tmp_path / "big.xlsx", hostile.sheet(rows), strings=strings)
    tight = Limits(memory_mb=64, max_ratio=10_000)
    assert "64 MB" in _refusal(read, path, limits=tight)
    assert _workers() == []
    assert read(path, limits=Limits(max_ratio=10_000)).rows[0].title.startswith("00000001")


# --- odd but real workbooks -------------------------------------------------------------------


def _check_features(plan) -> None:
    assert plan.sheet == "Rules"
    (row,) = plan.rows
    assert row.action == "create", row.errors
    assert row.fields["introduced_on"] == date(2019, 3, 12)
    assert row.fields["minutes_per_week"] == 30


def test_a_chart_sheet_comments_names_and_1904_dates(read, tmp_path):
    path = hostile.features(tmp_path / "features.xlsx")
    plan = read(path)
    _check_features(plan)
    assert plan.sheets == ["Rules"]
    assert "geen tabel" in _refusal(read, path, sheet="Grafiek")


def test_a_chart_sheet_made_by_xlsxwriter(read, tmp_path):
    path = tmp_path / "xw.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    data = workbook.add_worksheet("Rules")
    data.write_row(0, 0, ["Title", "Code", "Minutes per week"])
    data.write_row(1, 0, ["Geen taart", "A-1", 30])
    data.write_comment("A2", "Uit het teamoverleg")
    chart = workbook.add_chart({"type": "bar"})
    chart.add_series({"values": "=Rules!$C$2:$C$2"})
    workbook.add_chartsheet("Grafiek").set_chart(chart)
    workbook.define_name("Regels", "=Rules!$A$1:$C$2")
    workbook.close()
    plan = read(path)
    assert [row.title for row in plan.rows] == ["Geen taart"]


def _libreoffice(source: Path, target: str, folder: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is missing: .ci/run installs libreoffice-calc-nogui")
        pytest.skip("LibreOffice (soffice) is not installed")
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation=file://{folder}/lo-profile",
            "--convert-to",
            target,
            "--outdir",
            str(folder / "lo"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return folder / "lo" / f"{source.stem}.{target.split(':')[0]}"


def test_workbooks_saved_by_libreoffice(read, tmp_path):
    source = hostile.features(tmp_path / "features.xlsx")
    converted = _libreoffice(source, "xlsx:Calc MS Excel 2007 XML", tmp_path)
    assert b'date1904="true"' in zipfile.ZipFile(converted).read("xl/workbook.xml")
    _check_features(read(converted))
    # LibreOffice's macro-enabled format, renamed to .xlsx.
    with_macros = _libreoffice(source, "xlsm:Calc MS Excel 2007 VBA XML", tmp_path)
    renamed = with_macros.rename(tmp_path / "renamed.xlsx")
    assert "macro" in _refusal(read, renamed)


def test_number_cells_that_hold_no_number(read, tmp_path):
    plan = read(hostile.number_cells(tmp_path / "nan.xlsx"))
    assert [row.action for row in plan.rows] == ["invalid"] * 4
    messages = [" ".join(str(m) for _, m in row.errors) for row in plan.rows]
    assert "NaN" in messages[0] and "abc" in messages[1]
    assert "1e999" in messages[2] and "gisteren" in messages[2]
    assert "misschien" in messages[3]


def _renamed_xlsm(path: Path) -> Path:
    source = io.BytesIO()
    openpyxl.Workbook().save(source)
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as archive:
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
                )
            archive.writestr(info, data)
    return path


def _truncated(path: Path) -> Path:
    hostile.features(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _empty_zip(path: Path) -> Path:
    zipfile.ZipFile(path, "w").close()
    return path


def _encrypted(path: Path) -> Path:
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000)
    return path


def _bad_crc(path: Path) -> Path:
    hostile.features(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 10] ^= 0xFF  # one flipped byte in the compressed sheet
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "make,message",
    [
        (_renamed_xlsm, "macro"),
        (_truncated, "Excel"),
        (_empty_zip, "geen Excel-werkmap"),
        (_encrypted, "wachtwoord"),
        (_bad_crc, "Excel"),
        (hostile.wide_dimension, None),
        (hostile.number_cells, None),
    ],
)
def test_every_odd_file_gets_a_one_line_answer(read, tmp_path, make, message):
    path = make(tmp_path / "odd.xlsx")
    if message is None:
        assert read(path).rows
    else:
        assert message in _refusal(read, path)


# --- over the web: one line, nothing left behind, one import per user -------------------------


def _upload(client, path: Path):
    data = {
        "csrf_token": csrf_token(client, "/import/"),
        "file": (io.BytesIO(path.read_bytes()), path.name),
    }
    return client.post("/import/", data=data, content_type="multipart/form-data")


def _stored(app) -> list[Path]:
    return sorted((Path(app.instance_path) / "imports").glob("*"))


def _file_error(response) -> str:
    text = response.get_data(as_text=True)
    found = re.search(r'id="file-error"[^>]*><li>(.*?)</li></ul>', text, re.S)
    assert found, text[:2000]
    return found.group(1).strip()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: hostile.shared_strings_bomb(p, unpacked_mb=20),
        lambda p: hostile.understated_directory(p, padding_mb=1),
        lambda p: hostile.long_sheet_small_dimension(p, rows=501),
        _renamed_xlsm,
        _truncated,
        _encrypted,
    ],
    ids=["bomb", "understated", "long", "xlsm", "truncated", "encrypted"],
)
def test_a_hostile_upload_gets_one_line_and_leaves_nothing(app, login_as, tmp_path, make):
    app.config["IMPORT_MAX_ROWS"] = 500
    client = login_as("quality", "ilse")
    path = make(tmp_path / "hostile.xlsx")
    started = time.monotonic()
    response = _upload(client, path)
    assert response.status_code == 200
    assert time.monotonic() - started < FAST
    message = _file_error(response)
    assert message and "\n" not in message
    assert _stored(app) == []
    assert client.get("/rules").status_code == 200  # the session and the server carry on


def test_hostile_numbers_and_charts_over_the_web(app, login_as, tmp_path):
    client = login_as("quality", "ilse")
    made = (hostile.number_cells(tmp_path / "nan.xlsx"), hostile.features(tmp_path / "chart.xlsx"))
    for path in made:
        response = _upload(client, path)
        assert response.status_code == 200
        assert "token" in response.get_data(as_text=True)  # the preview


def test_kept_uploads_are_private_and_count_against_a_quota(app, login_as, tmp_path):
    path = hostile.features(tmp_path / "features.xlsx")
    app.config["IMPORT_USER_QUOTA_BYTES"] = path.stat().st_size * 2 + 10
    ilse, other = login_as("quality", "ilse"), login_as("quality", "karel")
    for _ in range(2):
        assert "token" in _upload(ilse, path).get_data(as_text=True)
    folder = Path(app.instance_path) / "imports"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    kept = sorted(folder.glob("*.xlsx"))
    assert len(kept) == 2
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in _stored(app))
    refused = _upload(ilse, path)
    assert "MB" in _file_error(refused) and "wachten" in _file_error(refused)
    assert sorted(folder.glob("*.xlsx")) == kept  # the refused one is not kept
    assert "token" in _upload(other, path).get_data(as_text=True)  # someone else's quota
    # Only the uploader can confirm an upload.
    token = kept[0].stem
    form = {"csrf_token": csrf_token(other, "/import/"), "token": token, "action": "import"}
    assert other.post("/import/confirm", data=form).status_code == 410
    assert kept[0].exists()


def test_one_import_at_a_time_per_user(app, db, login_as, tmp_path):
    path = hostile.features(tmp_path / "features.xlsx")
    client = login_as("quality", "ilse")
    readers = app.extensions.setdefault("import_readers", uploads.Readers())
    user_id = users.find_user(db, "ilse").id
    with readers.reading(user_id, 4):  # as if another tab of Ilse's were being read
        assert "al een bestand" in _file_error(_upload(client, path))
    assert _stored(app) == []
    app.config["IMPORT_MAX_WORKERS"] = 1
    with readers.reading(user_id + 1000, 1):  # someone else's
        assert "probeer het" in _file_error(_upload(client, path)).lower()
    assert "token" in _upload(client, path).get_data(as_text=True)


def test_an_upload_is_removed_when_reading_it_fails_in_any_way(
    app, login_as, tmp_path, monkeypatch
):
    client = login_as("quality", "ilse")
    path = hostile.features(tmp_path / "features.xlsx")

    def broken(*args, **kwargs):
        raise RuntimeError("a defect, not the user's fault")

    monkeypatch.setattr(xlsx_import, "read_plan", broken)
    with pytest.raises(RuntimeError):
        _upload(client, path)
    assert _stored(app) == []


def test_an_upload_that_cannot_be_read_at_confirm_is_removed(app, login_as, tmp_path):
    client = login_as("quality", "ilse")
    preview = _upload(client, hostile.features(tmp_path / "features.xlsx")).get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', preview).group(1)
    app.config["IMPORT_MAX_ROWS"] = 0  # the limits changed since the preview
    form = {"csrf_token": csrf_token(client, "/import/"), "token": token, "sheet": "Rules"}
    response = client.post("/import/confirm", data=form)
    assert response.status_code == 302
    assert _stored(app) == []


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,args",
    [
        (lambda p: hostile.shared_strings_bomb(p, unpacked_mb=20), []),
        (hostile.features, ["--sheet", "Grafiek"]),
        (lambda p: hostile.long_sheet_small_dimension(p, rows=501), []),
    ],
    ids=["bomb", "chart", "long"],
)
def test_the_command_reads_with_the_same_limits(app, runner, db, tmp_path, make, args):
    app.config["IMPORT_MAX_ROWS"] = 500
    path = make(tmp_path / "hostile.xlsx")
    result = runner.invoke(args=["import-rules", str(path), *args])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0


# --- the reader reads what openpyxl reads ------------------------------------------------------


@pytest.mark.parametrize("epoch", ["1900", "1904"])
def test_values_read_as_openpyxl_reads_them(tmp_path, epoch):
    """What the worker sends (openpyxl's read-only values, as JSON) is what openpyxl reads
    from the file itself, on the kinds of value a register holds, number formats included."""
    path = tmp_path / "values.xlsx"
    wb = openpyxl.Workbook()
    if epoch == "1904":
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.append(["tekst", "  spaties  ", "regel 1\nregel 2", "€ ü ✓ 😀", "_x0041_", ""])
    ws.append([0, -7, 3.25, 1e-9, 12345678901234, True, False])
    ws.append([date(2019, 3, 12), datetime(2024, 2, 29, 13, 45, 30), time_of_day(8, 30)])
    ws.append([date(1900, 1, 1), date(1900, 3, 1), date(9999, 12, 31), date(1904, 1, 2)])
    formats = ["d-mmm-yy", 'yyyy"-"mm', "[$-413]d mmmm yyyy", '"Week "0', "0.00%", "[Red]0", "@"]
    for column, number_format in enumerate(formats, 1):
        cell = ws.cell(row=5, column=column, value=45000.5)
        cell.number_format = number_format
    ws.cell(row=6, column=2, value=CellRichText([TextBlock(InlineFont(b=True), "vet"), " en niet"]))
    ws.cell(row=8, column=30, value="ver weg")
    wb.save(path)

    expected = [
        tuple(row) for row in openpyxl.load_workbook(path).active.iter_rows(values_only=True)
    ]
    with open_workbook(path) as book:
        got = list(book["Sheet"].iter_rows(values_only=True))
    width = max(len(row) for row in expected)
    got = [tuple(row) + (None,) * (width - len(row)) for row in got]
    assert got == expected
