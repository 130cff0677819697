"""What the browser suites share: Chromium, servers with the demo, watched pages, screenshots.

A browser test module loads this as a plugin (`pytest_plugins = ["tests.browser_support"]`),
which gives it the fixtures below. Without Playwright or Chromium the browser suite is skipped
on a developer's machine, but fails in CI (env `CI` set): there, a suite that silently ran
nothing would pass without testing anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from audit import create_app, demo
from audit.config import ROOT
from audit.store.db import connect
from tests.servers import CHROMIUM_ARGS, DESKTOP, chromium_path, start_server

# Screenshots go to a temporary folder unless this names a folder (relative to the checkout),
# such as docs/screenshots when the README's pictures are to be renewed.
SCREENSHOTS_ENV = "RULE_AUDIT_SCREENSHOTS"
_screenshots: Path | None = None


def missing(what: str) -> None:
    """Skip the test, or fail it in CI, where every suite must really run."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}; in CI the browser suite must run, not be skipped", pytrace=False)
    pytest.skip(what)


def playwright_api():
    """playwright.sync_api, or a skip (a failure in CI) when Playwright is not installed."""
    try:
        import playwright.sync_api as api
    except ImportError:
        missing("Playwright is not installed: pip install -e '.[browser]'")
    return api


def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        missing("Chromium is not installed: apt-get install chromium")
    return path


def screenshot_folder(environ: Mapping[str, str], scratch: Path) -> Path:
    """RULE_AUDIT_SCREENSHOTS when set (relative to the checkout), else the scratch folder."""
    asked = environ.get(SCREENSHOTS_ENV, "").strip()
    return ROOT / asked if asked else scratch


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    global _screenshots
    _screenshots = screenshot_folder(os.environ, tmp_path_factory.mktemp("screenshots"))
    return _screenshots


def shoot(page, name: str) -> Path:
    """A screenshot of what the page shows, into the session's screenshot folder."""
    assert _screenshots is not None, "shoot() needs the chromium fixture"
    _screenshots.mkdir(parents=True, exist_ok=True)
    path = _screenshots / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture(scope="module")
def chromium(screenshots):
    api = playwright_api()
    path = chromium_executable()
    with api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Watched:
    """Opens pages and remembers every console error and CSP violation they log."""

    def __init__(self, browser, base: str) -> None:
        self.browser, self.base = browser, base
        self.problems: list[str] = []
        self.contexts = []

    def page(self, viewport=DESKTOP, lang: str | None = None):
        context = self.browser.new_context(viewport=viewport, accept_downloads=True)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on(
            "console", lambda m: m.type == "error" and self.problems.append(f"{page.url}: {m.text}")
        )
        page.on("pageerror", lambda e: self.problems.append(f"{page.url}: {e}"))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def demo_server(tmp_path, monkeypatch):
    """A server on a demo database; the logins are known to the test."""
    instance = tmp_path / "instance"
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()
    db = connect(app.config["DATABASE"])
    logins = {name: password for name, _, password in demo.seed(db, app.config["SECRET_KEY"])}
    db.close()
    server = start_server(instance)
    server.logins = logins
    server.database = app.config["DATABASE"]
    yield server
    _, errors = server.stop()
    assert "Traceback" not in errors, errors[-2000:]


@pytest.fixture
def empty_server(tmp_path):
    server = start_server(tmp_path / "instance")
    yield server
    server.stop()


@pytest.fixture
def watch(chromium, request):
    created = []

    def make(server):
        watched = Watched(chromium, server.base)
        created.append(watched)
        return watched

    yield make
    for watched in created:
        watched.close()
        assert watched.problems == [], "console errors or CSP violations:\n" + "\n".join(
            watched.problems
        )


def login(page, base, username, password):
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button.primary")
    page.wait_for_url(re.compile(r".*/$"))


def switch_language(page, code):
    page.click(f".lang-switch button[value={code}]")
    page.wait_for_load_state()
