"""A real full disk under `rule-audit serve`: the database on a small tmpfs that is then filled.
Every page answers the 503 page (not waitress's bare 500), and the app recovers once there is
room again. Needs root to mount the tmpfs; run with `pytest -m load`."""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from audit import create_app
from audit.store.db import connect
from tests.conftest import PASSWORD, make_rule, make_user
from tests.servers import start_server

pytestmark = pytest.mark.load

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): " + done.stderr.decode())
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path) -> None:
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def test_a_full_disk_gives_the_503_page_on_every_request(small_disk, monkeypatch):
    instance = small_disk / "instance"
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()
    db = connect(app.config["DATABASE"])
    make_user(db, "anna", "quality", language="en")
    make_rule(db, code="A")
    db.close()
    server = start_server(instance)
    try:
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

        def get(path):
            try:
                with browser.open(server.base + path, timeout=30) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode()

        _, page = get("/login")
        form = {"username": "anna", "password": PASSWORD, "csrf_token": TOKEN.search(page)[1]}
        try:
            browser.open(server.base + "/login", urllib.parse.urlencode(form).encode())
        except urllib.error.HTTPError as error:
            assert error.code == 302
        assert get("/rules")[0] == 200

        filler = small_disk / "filler"
        _fill(filler)
        for path in ["/rules", "/", "/dashboard", "/rules/1"]:
            status, text = get(path)
            assert status == 503, (path, text[:300])
            assert "The server's disk is full" in text  # anna reads English
        anonymous = urllib.request.build_opener(_NoRedirect())
        try:
            anonymous.open(server.base + "/login", timeout=30)
        except urllib.error.HTTPError as error:
            assert error.code == 503
            assert "schijf van de server is vol" in error.read().decode()  # the default: Dutch
        else:
            pytest.fail("the login page answered while the disk was full")

        os.remove(filler)
        assert get("/rules")[0] == 200
    finally:
        _, stderr = server.stop()
    assert "Traceback" not in stderr, stderr[-3000:]
