"""axe-core audits the main pages in headless Chromium, in Dutch and English: `pytest -m browser`.

axe-core comes from npm and is never committed: `.ci/run` installs it into `.cache/npm`
(`npm install --no-save --prefix .cache/npm axe-core@4`); env RULE_AUDIT_AXE may name another
axe.min.js. The script is evaluated through Playwright rather than added as a <script> tag:
the app's Content-Security-Policy refuses inline scripts, and the pages are audited under
their real policy. A violation of impact serious or critical fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest

from audit.config import ROOT
from tests.browser_support import login, missing, switch_language
from tests.servers import PHONE

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]

AXE_ENV = "RULE_AUDIT_AXE"
AXE_DEFAULT = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
AXE_INSTALL = "npm install --no-save --prefix .cache/npm axe-core@4"
FAILING_IMPACTS = ("serious", "critical")

# Runs in the page: the serious and critical violations, with the elements they were found on.
RUN_AXE = """async (impacts) => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
      nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
    }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    path = Path(os.environ.get(AXE_ENV) or AXE_DEFAULT)
    if not path.is_file():
        missing(f"axe-core is not installed at {path}: {AXE_INSTALL}")
    return path.read_text(encoding="utf-8")


def describe(where: str, violations: list[dict]) -> list[str]:
    """One readable block per violation: the rule, why, and each element with what to fix."""
    lines = []
    for v in violations:
        lines.append(f"{where}: {v['id']} [{v['impact']}] {v['help']} ({v['url']})")
        for node in v["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary}")
    return lines


class Auditor:
    def __init__(self, source: str, language: str) -> None:
        self.source, self.language = source, language
        self.problems: list[str] = []
        self.audited: list[str] = []

    def __call__(self, page, name: str) -> None:
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == self.language, page.url
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(self.source)
        violations = page.evaluate(RUN_AXE, list(FAILING_IMPACTS))
        where = f"{name} ({self.language}, {page.url})"
        self.problems.extend(describe(where, violations))
        self.audited.append(name)


def _workbook_with_a_problem(page, base: str, path: Path) -> Path:
    """The register as exported, with one rule renamed and one impossible minutes value."""
    response = page.request.get(base + "/rules/export.xlsx")
    assert response.ok
    path.write_bytes(response.body())
    wb = openpyxl.load_workbook(path)
    ws = wb["Register"] if "Register" in wb.sheetnames else wb.worksheets[1]
    header = [cell.value for cell in ws[1]]
    ws.cell(row=2, column=2).value = "Een nieuwe titel uit Excel"
    minutes = next(i for i, h in enumerate(header, 1) if "min" in str(h).lower())
    ws.cell(row=3, column=minutes).value = "heel veel"
    wb.save(path)
    return path


@pytest.mark.parametrize("language", ["nl", "en"])
def test_main_pages_have_no_serious_accessibility_violations(
    demo_server, watch, axe_source, tmp_path, language
):
    base = demo_server.base
    audit = Auditor(axe_source, language)
    watched = watch(demo_server)

    page = watched.page()
    page.goto(base + "/login")
    switch_language(page, language)
    audit(page, "login")

    login(page, base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(page, language)  # the user's own choice from now on
    for name, path in (
        ("register", "/rules"),
        ("rule", "/rules/1"),
        ("dashboard", "/dashboard"),
        ("import", "/import/"),
    ):
        page.goto(base + path)
        audit(page, name)

    page.goto(base + "/import/")
    page.locator("input[type=file]").set_input_files(
        str(_workbook_with_a_problem(page, base, tmp_path / "register.xlsx"))
    )
    page.locator("form button.primary").click()
    page.wait_for_load_state()
    assert page.locator(".import-counts").count() == 1, "no import preview"
    audit(page, "import preview")

    # A member of the open session votes on a phone.
    phone = watched.page(PHONE)
    login(phone, base, "fatima", demo_server.logins["fatima"])
    switch_language(phone, language)
    phone.goto(base + "/sessions/2/vote")
    assert phone.locator("article.ballot").count() >= 2
    audit(phone, "ballot on a phone")

    assert len(audit.audited) == 7
    assert audit.problems == [], "serious or critical accessibility violations:\n" + "\n".join(
        audit.problems
    )


def test_the_audit_finds_violations(demo_server, watch, axe_source):
    """The audit itself works: an image without a text alternative and pale text are reported."""
    page = watch(demo_server).page()
    page.goto(demo_server.base + "/login")
    page.evaluate(
        """() => {
          const main = document.querySelector("main");
          const image = document.createElement("img");
          image.src = "/static/favicon.svg";
          const pale = document.createElement("p");
          pale.textContent = "Hard to read";
          pale.style.color = "#c0c0c0";
          main.append(image, pale);
        }"""
    )
    page.evaluate(axe_source)
    violations = page.evaluate(RUN_AXE, list(FAILING_IMPACTS))
    assert sorted(v["id"] for v in violations) == ["color-contrast", "image-alt"]
    report = "\n".join(describe("login", violations))
    assert "insufficient color contrast" in report and "img" in report
