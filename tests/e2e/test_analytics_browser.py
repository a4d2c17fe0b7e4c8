"""The analytics page in Debian's Chromium: filters, charts and a CSV download, with
JavaScript off (the page must read without it) and under the Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.e2e.test_browser import PASSWORD, WAIT_MS, browser, log_in, page
from tests.test_analytics import fill  # noqa: F401  (the hand-computed incidents)
from tests.test_web import give_password
from warroom.db.session import Database

pytestmark = pytest.mark.e2e
__all__ = ["browser", "page"]  # the browser fixtures, shared with test_browser.py


@pytest.mark.usefixtures("fill")
def test_analytics_page_filters_charts_and_csv(
    page: Page, db: Database, people: dict[str, str]
) -> None:
    log_in(page, db, "carol")
    page.goto("/analytics?from=2026-03-02&to=2026-03-09")
    expect(page.locator("#headline")).to_contain_text("4 incidents declared")
    expect(page.locator("#metrics")).to_contain_text("missed")
    expect(page.locator("svg.chart")).to_have_count(7)
    # The filter form, as a reader uses it
    page.get_by_role("textbox", name="Severity").fill("SEV-2")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#headline")).to_contain_text("2 incidents declared")
    assert "severity=SEV-2" in page.url
    with page.expect_download() as got:
        page.locator('a[href^="/analytics/severity.csv"]').click()
    assert got.value.suggested_filename == "warroom-severity.csv"
    text = Path(got.value.path()).read_text(encoding="utf-8")
    assert text.splitlines() == ["severity,incidents", "SEV-2,2"]  # the filtered chart


@pytest.mark.usefixtures("fill")
def test_analytics_reads_without_javascript(
    browser: Browser, live_server: LiveServer, db: Database, people: dict[str, str]
) -> None:
    give_password(db, "carol")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    try:
        tab.goto("/login?next=/analytics")
        tab.get_by_label("User name or email").fill("carol")
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        tab.goto("/analytics?from=2026-03-02&to=2026-03-09&interval=month")
        expect(tab.locator("#headline")).to_contain_text("4 incidents declared")
        expect(tab.locator("#chart-trend svg")).to_be_visible()
        expect(tab.locator("#chart-severity svg text").first).to_have_text("SEV-1")
    finally:
        context.close()
