"""A real `rule-audit serve` for the tests that talk HTTP, and Chromium for the browser suite."""

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


CLI = [sys.executable, "-c", "from audit.cli import main; main()"]


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    env: dict[str, str]
    logins: dict[str, str] = field(default_factory=dict)

    def stop(self) -> tuple[str, str]:
        """Stop the server; return what it printed (stdout, stderr)."""
        self.process.terminate()
        try:
            return self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()


def cli_env(instance: Path) -> dict[str, str]:
    env = {**os.environ, "RULE_AUDIT_INSTANCE": str(instance), "PYTHONUNBUFFERED": "1"}
    env.pop("RULE_AUDIT_DATABASE", None)
    return env


def start_server(instance: Path, *options: str) -> Server:
    """`rule-audit serve` on a free port of 127.0.0.1, once it answers."""
    port = free_port()
    env = cli_env(instance)
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=2).close()  # noqa: S310
            return Server(base, process, env)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(process.communicate()[1]) from None
            time.sleep(0.2)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")
