"""The progress of a report download and an import check, in Chromium (`pytest -m browser`).

The report request is held back by the test (Playwright's routing) until the page has been
seen waiting: so the test does not depend on how fast the demo report is written. Every page is
watched for console errors and CSP violations (tests/browser_support.py).
"""

from __future__ import annotations

import re

import openpyxl
import pytest

from tests.browser_support import login, switch_language
from tests.test_progress import BUSY

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.browser_support"]

LINKS = {
    ("en", "/dashboard"): "Download the Excel report",
    ("nl", "/dashboard"): "Download het Excel-rapport",
    ("en", "/rules"): "Download these rules as an Excel report",
    ("nl", "/rules"): "Download deze regels als Excel-rapport",
}
REPORT = re.compile(r".*/(dashboard/report|rules/export)\.xlsx.*")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_report_button_waits_then_the_download_starts_by_itself(
    demo_server, watch, tmp_path, language
):
    page = watch(demo_server).page()
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    if language != "nl":
        switch_language(page, language)
    requests: list[str] = []
    page.on("request", lambda r: REPORT.match(r.url) and requests.append(r.url))
    held = []
    page.route(REPORT, lambda route: held.append(route))
    from playwright.sync_api import expect

    for path in ("/dashboard", "/rules"):
        page.goto(demo_server.base + path)
        link = page.get_by_role("link", name=LINKS[language, path])
        status = page.locator("#report-status")
        expect(status).to_have_attribute("aria-live", "polite")
        expect(status).to_have_text("")
        before = len(requests)
        link.click()
        expect(link).to_have_attribute("aria-disabled", "true")
        expect(status).to_have_text(BUSY[language]["report"])
        # A second click while it is prepared starts no second report.
        link.dispatch_event("click")
        page.wait_for_timeout(300)
        assert len(held) == 1 and len(requests) == before + 1, requests
        with page.expect_download() as info:
            held.pop().continue_()
        download = info.value
        assert download.suggested_filename.endswith(".xlsx")
        saved = tmp_path / f"{language}-{path.strip('/')}.xlsx"
        download.save_as(saved)
        assert openpyxl.load_workbook(saved, read_only=True).sheetnames[1] in ("Register",)
        expect(status).to_have_text(BUSY[language]["done"])
        expect(link).not_to_have_attribute("aria-disabled", "true")
        assert page.url.endswith(path)  # still on the page, nothing navigated away


def test_a_failed_report_says_so_and_can_be_tried_again(demo_server, watch):
    from playwright.sync_api import expect

    page = watch(demo_server).page()
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    page.goto(demo_server.base + "/dashboard")
    # The login page after an expired session is not the report either.
    page.route(REPORT, lambda route: route.fulfill(status=200, content_type="text/html", body="x"))
    link = page.get_by_role("link", name=LINKS["nl", "/dashboard"])
    status = page.locator("#report-status")
    link.click()
    expect(status).to_contain_text(BUSY["nl"]["failed"])
    expect(status).to_have_class(re.compile(r"\bfailed\b"))
    expect(link).not_to_have_attribute("aria-disabled", "true")
    page.unroute(REPORT)
    with page.expect_download() as info:
        link.click()
    assert info.value.suggested_filename.endswith(".xlsx")
    expect(status).to_have_text(BUSY["nl"]["done"])


# Registered after static/progress.js's own listener, so it runs after it: the form does
# everything it does on submit, but the page stays, so the test can look at it.
HOLD_FORMS = """() => document.addEventListener("submit", (event) => {
    window.stopped = (window.stopped || []).concat([event.defaultPrevented]);
    event.preventDefault();
})"""


def held_form_state(page, form: str):
    return page.evaluate(
        """(form) => ({
            disabled: [...document.querySelectorAll(form + " button")].map((b) => b.disabled),
            status: document.getElementById("import-status").textContent,
            sent: new FormData(document.querySelector(form)).getAll("action"),
        })""",
        form,
    )


@pytest.mark.parametrize("language", ["nl", "en"])
def test_checking_a_file_disables_the_button_and_says_so(demo_server, watch, tmp_path, language):
    page = watch(demo_server).page()
    login(page, demo_server.base, "kwaliteit", demo_server.logins["kwaliteit"])
    if language != "nl":
        switch_language(page, language)
    response = page.request.get(demo_server.base + "/rules/export.xlsx")
    upload = tmp_path / "register.xlsx"
    upload.write_bytes(response.body())
    page.goto(demo_server.base + "/import/")
    page.evaluate(HOLD_FORMS)
    page.locator("input[type=file]").set_input_files(str(upload))
    check = "Check the file" if language == "en" else "Bestand controleren"
    page.get_by_role("button", name=check).click()
    state = held_form_state(page, "form[enctype]")
    assert state["disabled"] == [True] and state["status"] == BUSY[language]["check"]

    # Without the hold, the check goes through and shows the preview.
    page.reload()
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name=check).click()
    page.wait_for_url(re.compile(r".*/import/$"))
    import_name = "Import" if language == "en" else "Importeren"
    import_button = page.get_by_role("button", name=import_name, exact=True)
    expect_enabled(import_button)
    page.evaluate(HOLD_FORMS)
    import_button.click()
    state = held_form_state(page, "form.import-confirm")
    # Both buttons held, the status says so, and the "import" action still goes along (a
    # disabled button would otherwise drop its own name and value from the form).
    assert state["disabled"] == [True, True]
    assert state["status"] == BUSY[language]["import"]
    assert state["sent"] == ["import"]
    # A second submit (Enter in a field, a double click) is stopped by the script itself.
    page.evaluate("document.querySelector('form.import-confirm').requestSubmit()")
    assert page.evaluate("window.stopped") == [False, True]


def expect_enabled(locator) -> None:
    from playwright.sync_api import expect

    expect(locator).to_be_enabled()
