"""A real server and a real (headless Debian) Chromium for the browser suite."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    logins: dict[str, str] = field(default_factory=dict)

    def stop(self) -> str:
        self.process.terminate()
        try:
            return self.process.communicate(timeout=20)[1]
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()[1]


def start_server(instance: Path) -> Server:
    port = free_port()
    env = {**os.environ, "RULE_AUDIT_INSTANCE": str(instance), "PYTHONUNBUFFERED": "1"}
    env.pop("RULE_AUDIT_DATABASE", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from audit.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=2).close()  # noqa: S310
            return Server(base, process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(process.stderr.read()) from None
            time.sleep(0.2)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")
