"""The browser suite's own rules, checked without a browser: it runs for real in CI, and its
screenshots never overwrite the committed ones unless asked to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from audit.config import ROOT
from tests import browser_support


@pytest.fixture
def without_playwright(monkeypatch):
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import raises ImportError


def test_missing_playwright_skips_on_a_developer_machine(monkeypatch, without_playwright):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="pip install"):
        browser_support.playwright_api()


def test_missing_playwright_fails_in_ci(monkeypatch, without_playwright):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Playwright is not installed"):
        browser_support.playwright_api()


def test_missing_chromium_fails_in_ci(monkeypatch):
    monkeypatch.setattr(browser_support, "chromium_path", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed"):
        browser_support.chromium_executable()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser_support.chromium_executable()


def _browser_suite_without_playwright(tmp_path, ci: bool) -> subprocess.CompletedProcess:
    """Run one browser test in a fresh pytest where `import playwright` fails."""
    hidden = tmp_path / "hide"
    hidden.mkdir()
    (hidden / "playwright.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'playwright'\")\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(hidden)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "browser", "-q", "-p", "no:cacheprovider"]
        + ["tests/test_browser.py", "-k", "keyboard_only_login"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_browser_suite_fails_in_ci_without_playwright(tmp_path):
    result = _browser_suite_without_playwright(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "1 error" in result.stdout and "Playwright is not installed" in result.stdout


def test_browser_suite_skips_elsewhere_without_playwright(tmp_path):
    result = _browser_suite_without_playwright(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout


def test_screenshots_go_to_a_scratch_folder_unless_asked(tmp_path):
    assert browser_support.screenshot_folder({}, tmp_path) == tmp_path
    assert browser_support.screenshot_folder({"RULE_AUDIT_SCREENSHOTS": " "}, tmp_path) == tmp_path
    asked = browser_support.screenshot_folder(
        {"RULE_AUDIT_SCREENSHOTS": "docs/screenshots"}, tmp_path
    )
    assert asked == ROOT / "docs" / "screenshots"
    elsewhere = browser_support.screenshot_folder({"RULE_AUDIT_SCREENSHOTS": str(tmp_path)}, ROOT)
    assert elsewhere == tmp_path
