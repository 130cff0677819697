"""`rule-audit serve` behind Debian's nginx on loopback, configured as docs/deploy.md says:
the login limit counts the real client address, a forged X-Forwarded-For does not escape it,
and redirects stay on the site. Run with `pytest -m load`."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from audit import create_app
from audit.store.db import connect
from tests.conftest import PASSWORD, make_user
from tests.servers import free_port, start_server

pytestmark = pytest.mark.load

LIMIT = 4  # failed logins per address per minute, for this test
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')

NGINX_CONF = """
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 11m;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


class Visitor:
    """A browser at its own loopback address (127.0.0.x), with the session cookie."""

    def __init__(self, port: int, address: str) -> None:
        self.port, self.address = port, address
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, headers=None):
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(self.address, 0)
        )
        try:
            body = urllib.parse.urlencode(form).encode() if form is not None else None
            sent = dict(headers or {})
            if body is not None:
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, response.headers, text
        finally:
            connection.close()

    def login(self, password: str, next_path: str = "", forwarded_for: str | None = None):
        status, _, page = self.request("GET", "/login?" + urllib.parse.urlencode({"next": ""}))
        assert status == 200, page[:300]
        form = {
            "username": "anna",
            "password": password,
            "csrf_token": TOKEN.search(page).group(1),
            "next": next_path,
        }
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        return self.request("POST", "/login", form, headers)


@pytest.fixture
def behind_nginx(tmp_path, monkeypatch):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is missing; .ci/run installs Debian's package")
        pytest.skip("nginx is not installed")
    instance = tmp_path / "instance"
    instance.mkdir()
    # As docs/deploy.md says: one proxy in front, and a small limit so the test is quick.
    (instance / "config.py").write_text(
        f'TRUSTED_PROXIES = 1\nLOGIN_RATE_LIMIT = "{LIMIT} per minute"\n'
    )
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()
    db = connect(app.config["DATABASE"])
    make_user(db, "anna")
    make_user(db, "bert")
    db.close()
    server = start_server(instance)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            user="user root;" if os.geteuid() == 0 else "",
            prefix=prefix,
            port=port,
            upstream=server.base.rsplit(":", 1)[1],
        )
    )
    proxy = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, _, _ = Visitor(port, "127.0.0.1").request("GET", "/login")
                if status == 200:
                    break
            except OSError:
                pass
            if proxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proxy.communicate()[1].decode() + _log(prefix))
            time.sleep(0.2)
        yield port
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)
        _, stderr = server.stop()
    assert "Traceback" not in stderr, stderr[-3000:]


def _log(prefix: Path) -> str:
    log = prefix / "error.log"
    return log.read_text() if log.exists() else ""


def test_login_limit_and_redirects_through_nginx(behind_nginx):
    port = behind_nginx
    attacker = Visitor(port, "127.0.0.5")
    # Each attempt claims another address; nginx appends the real one, which is what counts.
    codes = [
        attacker.login("wrong password", forwarded_for=f"203.0.113.{i}")[0] for i in range(LIMIT)
    ]
    assert codes == [200] * LIMIT
    status, headers, page = attacker.login("wrong password", forwarded_for="198.51.100.99")
    assert status == 429
    assert "Te veel mislukte inlogpogingen" in page
    assert int(headers["Retry-After"]) > 0
    # The right password from that address must wait too.
    assert attacker.login(PASSWORD)[0] == 429

    # A colleague at another address is not held up, and lands where the link said.
    colleague = Visitor(port, "127.0.0.6")
    status, headers, _ = colleague.login(PASSWORD, next_path="/rules?q=taart")
    assert status == 302 and headers["Location"] == "/rules?q=taart"

    # A link that points elsewhere lands on the start page, through the proxy too.
    for evil in ["////evil.example", "//evil.example", "/\\evil.example", "https://evil.example"]:
        visitor = Visitor(port, "127.0.0.7")
        status, headers, _ = visitor.login(PASSWORD, next_path=evil)
        assert status == 302 and headers["Location"] == "/", evil
        token = TOKEN.search(visitor.request("GET", "/")[2]).group(1)
        status, headers, _ = visitor.request(
            "POST", "/language", {"lang": "en", "csrf_token": token, "next": evil}
        )
        assert status == 302 and headers["Location"] == "/", evil
