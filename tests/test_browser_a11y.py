"""axe-core audits the main pages in headless Chromium, in Dutch and English: `pytest -m browser`.

axe-core comes from npm and is never committed: `.ci/run` installs it into `.cache/npm`
(`npm install --no-save --prefix .cache/npm axe-core@4`); env RULE_AUDIT_AXE may name another
axe.min.js. The script is evaluated through Playwright rather than added as a <script> tag:
the app's Content-Security-Policy refuses inline scripts, and the pages are audited under
their real policy. A violation of impact serious or critical fails the test.
"""

from __future__ import annotations

import os
import re
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
        for node in v["nodes"][:5]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more elements")
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
    page.fill("#username", "kwaliteit")
    page.fill("#password", "not the password")
    page.click("form button.primary")
    assert page.locator(".alert.error, .errors").count() >= 1
    audit(page, "login with an error")

    login(page, base, "kwaliteit", demo_server.logins["kwaliteit"])
    switch_language(page, language)  # the user's own choice from now on
    for name, path in (
        ("register", "/rules"),
        ("rule", "/rules/1"),
        ("dashboard", "/dashboard"),
        ("import", "/import/"),
        ("start page with actions and ended experiments", "/"),
    ):
        page.goto(base + path)
        audit(page, name)

    page.goto(base + "/rules/new")
    page.locator("main form button[type=submit]").first.click()  # nothing filled in
    assert page.locator("[aria-invalid=true]").count() >= 1
    audit(page, "rule form with errors")

    page.goto(base + "/import/")
    page.locator("input[type=file]").set_input_files(
        str(_workbook_with_a_problem(page, base, tmp_path / "register.xlsx"))
    )
    page.locator("form:has(input[type=file]) button[type=submit]").first.click()
    page.wait_for_load_state()
    assert page.locator(".import-counts").count() == 1, "no import preview"
    audit(page, "import preview")

    # A member of the open session votes on a phone.
    phone = watched.page(PHONE)
    login(phone, base, "fatima", demo_server.logins["fatima"])
    switch_language(phone, language)
    phone.goto(base + "/sessions/2/vote")
    assert phone.locator("input[type=radio][value=keep]").count() >= 2, "no ballot to audit"
    audit(phone, "ballot on a phone")
    phone.goto(base + "/teams/")  # she is in two teams: the short list, then one of them
    audit(phone, "her teams on a phone")
    phone.locator(".team-cards a").first.click()
    phone.wait_for_load_state()
    assert phone.locator("#fig-total").count() == 1, "no team page to audit"
    audit(phone, "team page on a phone")

    # A member of the team trying without a rule reads it and its observations on a phone.
    phone = watched.page(PHONE)
    login(phone, base, "noor", demo_server.logins["noor"])
    switch_language(phone, language)
    phone.goto(base + "/experiments/1")
    assert phone.locator("form textarea").count() >= 1, "no observation form to audit"
    audit(phone, "experiment and its observations on a phone")

    assert len(audit.audited) == 13
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


# Runs in the page on the focused element: its focus ring's colour, and the colour just outside
# the element where the ring is drawn (the first background found under that point).
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const x = box.left >= 4 ? box.left - 1 : box.right + 1;
  const y = box.top + box.height / 2;
  let behind = "rgb(255, 255, 255)";
  for (const under of document.elementsFromPoint(x, y)) {
    if (under === el || el.contains(under)) continue;
    let node = under;
    while (node && getComputedStyle(node).backgroundColor === "rgba(0, 0, 0, 0)") {
      node = node.parentElement;
    }
    if (node) { behind = getComputedStyle(node).backgroundColor; }
    break;
  }
  return {
    element: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className,
    text: (el.innerText || el.value || "").trim().slice(0, 30),
    outline: style.outlineStyle === "none" ? null : style.outlineColor,
    width: parseFloat(style.outlineWidth),
    behind,
  };
}"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(n) for n in re.findall(r"[\d.]+", css)[:3])


def contrast(one: str, other: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def luminance(rgb: tuple[float, ...]) -> float:
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    high, low = sorted((luminance(_rgb(one)), luminance(_rgb(other))), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_ratio():
    assert round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1) == 21.0
    assert round(contrast("rgb(245, 183, 0)", "rgb(255, 255, 255)"), 1) == 1.8


def test_the_focus_ring_stands_out_wherever_it_is(demo_server, watch):
    """Keyboard users find the focus: a ring of 3:1 or more against what surrounds it (WCAG
    1.4.11), in the green header and on the light pages alike. axe does not check focus."""
    page = watch(demo_server).page(PHONE)
    login(page, demo_server.base, "fatima", demo_server.logins["fatima"])
    weak = []
    for path in ("/sessions/2/vote", "/rules"):
        page.goto(demo_server.base + path)
        seen = 0
        for _ in range(40):
            page.keyboard.press("Tab")
            ring = page.evaluate(FOCUS_RING)
            if ring is None:  # past the last element
                break
            seen += 1
            ratio = contrast(ring["outline"], ring["behind"]) if ring["outline"] else 0
            if ring["width"] < 2 or ratio < 3:
                weak.append(f"{path} {ring['element']} '{ring['text']}': {ratio:.1f}:1 {ring}")
        assert seen >= 10, path
    assert weak == [], "focus rings too faint:\n" + "\n".join(weak)
