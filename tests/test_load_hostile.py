"""The attack's hostile workbooks at full size, uploaded to a real `rule-audit serve`: each is
answered within 30 s while the reading worker and the server each stay under 300 MB (VmHWM
from /proc), and `GET /login` keeps a p95 under 200 ms while four are read at once. Run with
`pytest -m load -s`; the figures it prints are the ones in the README."""

from __future__ import annotations

import concurrent.futures
import http.cookiejar
import re
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from audit import create_app
from audit.store.db import connect
from tests import hostile_files as hostile
from tests.conftest import PASSWORD, make_user
from tests.servers import start_server

pytestmark = pytest.mark.load

MB = 1024 * 1024
MAX_MB = 300
MAX_SECONDS = 30
LOGIN_P95_MS = 200
AT_ONCE = 4
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
FILE_ERROR = re.compile(r'id="file-error"[^>]*><li>(.*?)</li></ul>', re.S)  # one line

# name -> (how to make it, what the answer must show)
FILES = {
    "shared-strings bomb (199 MB unpacked)": (hostile.shared_strings_bomb, "gecomprimeerd"),
    "A1:XFD50030 with data in rows 1 and 50030": (hostile.wide_dimension, "preview"),
    "A1:C10 holding 200 rows": (hostile.short_dimension, "preview"),
    "50,001 rows declaring A1:C3": (hostile.long_sheet_small_dimension, "50000 rijen"),
    "zip directory understating 300 MB": (hostile.understated_directory, "beschadigd"),
    "chart sheet, comment, defined name, 1904": (hostile.features, "preview"),
    "numbers that are NaN or abc": (hostile.number_cells, "preview"),
    "not hostile: a register of 10,000 rows x 12 texts": (hostile.full_register, "preview"),
}


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(
        self, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, str]:
        request = urllib.request.Request(  # noqa: S310 - our own http:// server
            self.base + path, data=body, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def token(self, path: str) -> str:
        status, text = self.request(path)
        assert status == 200, (path, status)
        return TOKEN.search(text).group(1)

    def login(self, username: str) -> None:
        data = {"username": username, "password": PASSWORD, "csrf_token": self.token("/login")}
        status, _ = self.request("/login", urllib.parse.urlencode(data).encode())
        assert status == 302, username

    def upload(self, path: Path) -> tuple[int, str, float]:
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{self.token('/import/')}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body += path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        started = time.monotonic()
        status, text = self.request("/import/", body, headers)
        return status, text, time.monotonic() - started


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _hwm_kb(pid: int) -> int:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) if found else 0


class WorkerMemory:
    """The highest VmHWM of the server's reading workers while it runs, from /proc (only
    after they started the worker script, so the copy of the server before exec is not
    counted)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.peak_kb = 0
        self.workers: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        parent = f"\nPPid:\t{self.server_pid}\n"
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if parent not in (entry / "status").read_text():
                        continue
                    if b"xlsx/worker.py" not in (entry / "cmdline").read_bytes():
                        continue
                    self.peak_kb = max(self.peak_kb, _hwm_kb(int(entry.name)))
                    self.workers.add(int(entry.name))
                except OSError:
                    continue
            time.sleep(0.005)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    made = {}
    for index, (name, (make, expected)) in enumerate(FILES.items()):
        made[name] = (make(folder / f"hostile-{index}.xlsx"), expected)
    return made


@pytest.fixture
def server(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()  # the same instance folder, secret key and database as the server
    db = connect(app.config["DATABASE"])
    for index in range(AT_ONCE):
        make_user(db, f"quality{index}", "quality")
    db.close()
    running = start_server(instance)
    yield running
    _, stderr = running.stop()
    assert "Traceback" not in stderr, stderr[-3000:]


def _answer(text: str) -> str:
    found = FILE_ERROR.search(text)
    if found:
        return found.group(1).strip()
    assert 'name="token"' in text, text[:2000]
    return "preview"


def test_hostile_workbooks_at_full_size(server, files):
    pid = server.process.pid
    client = Client(server.base)
    client.login("quality0")
    report = []
    for name, (path, expected) in files.items():
        with WorkerMemory(pid) as memory:
            status, text, seconds = client.upload(path)
        answer = _answer(text)
        report.append((name, path.stat().st_size, seconds, memory.peak_kb, answer))
        assert status == 200, (name, status)
        assert expected in answer, (name, answer)
        assert "\n" not in answer
        assert seconds < MAX_SECONDS, (name, seconds)
        assert memory.workers, name  # it was read by a worker, which was seen
        assert memory.peak_kb < MAX_MB * 1024, (name, memory.peak_kb)
    server_kb = _hwm_kb(pid)
    print("\nhostile workbooks, one at a time (time to the answer, worker VmHWM):")
    for name, size, seconds, peak_kb, answer in report:
        print(
            f"  {name}: {size / 1024:,.0f} KB, {seconds:.2f} s, worker {peak_kb / 1024:.0f} MB,"
            f" answer: {answer[:70]}"
        )
    print(f"  server VmHWM after all of them: {server_kb / 1024:.0f} MB")
    assert server_kb < MAX_MB * 1024


def test_login_stays_fast_while_four_are_read(server, files):
    pid = server.process.pid
    heavy = [
        files["shared-strings bomb (199 MB unpacked)"][0],
        files["A1:XFD50030 with data in rows 1 and 50030"][0],
        files["50,001 rows declaring A1:C3"][0],
        files["zip directory understating 300 MB"][0],
    ]
    uploaders = []
    for index in range(AT_ONCE):
        client = Client(server.base)
        client.login(f"quality{index}")
        uploaders.append(client)
    stop = threading.Event()
    login_times: list[float] = []
    upload_times: list[float] = []
    statuses: list[int] = []

    def upload(index: int) -> None:
        for _ in range(3):
            status, text, seconds = uploaders[index].upload(heavy[index])
            statuses.append(status)
            upload_times.append(seconds)
            _answer(text)

    def visitor() -> None:
        anonymous = Client(server.base)
        while not stop.is_set():
            started = time.perf_counter()
            status, _ = anonymous.request("/login")
            login_times.append(time.perf_counter() - started)
            assert status == 200
            time.sleep(0.02)

    with (
        WorkerMemory(pid) as memory,
        concurrent.futures.ThreadPoolExecutor(max_workers=AT_ONCE + 1) as pool,
    ):
        watching = pool.submit(visitor)
        running = [pool.submit(upload, index) for index in range(AT_ONCE)]
        for future in running:
            future.result(timeout=300)
        stop.set()
        watching.result(timeout=60)
    login_times.sort()
    p95 = login_times[int(0.95 * (len(login_times) - 1))]
    server_kb = _hwm_kb(pid)
    print(
        f"\nfour hostile uploads at once, three rounds: GET /login p95 {p95 * 1000:.0f} ms,"
        f" median {statistics.median(login_times) * 1000:.0f} ms over {len(login_times)}"
        f" requests; uploads answered in at most {max(upload_times):.1f} s; worker VmHWM"
        f" {memory.peak_kb / 1024:.0f} MB; server VmHWM {server_kb / 1024:.0f} MB"
    )
    assert statuses == [200] * len(statuses)
    assert p95 < LOGIN_P95_MS / 1000
    assert max(upload_times) < MAX_SECONDS
    assert memory.peak_kb < MAX_MB * 1024
    assert server_kb < MAX_MB * 1024
