"""Chromium: writing a postmortem with the live blameless check, reviewing it as another
person and publishing it, under the strict Content-Security-Policy."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.e2e.test_browser import WAIT_MS, browser, log_in, page, shot
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker

pytestmark = pytest.mark.e2e
__all__ = ["browser", "page"]  # the browser fixtures, shared with test_browser.py


def api(live: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"})


def test_write_review_and_publish_a_postmortem(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    db: Database,
    clock: ManualClock,
    people: dict[str, str],
) -> None:
    with api(live_server, people["alice"]) as a:
        a.post("/api/v1/incidents", json={"title": "Checkout errors", "severity": "SEV-1"})
        a.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
        clock.advance(minutes=50)
        a.post("/api/v1/incidents/1/resolve", json={"summary": "Rolled back release 42."})
    Worker(db, clock).run_due()

    log_in(page, db, "alice")
    page.goto("/postmortems")
    page.locator("#postmortems").get_by_role("link", name="INC-1").click()
    expect(page).to_have_url(re.compile(r"/postmortems/INC-1$"))
    expect(page.locator("#pm-state")).to_contain_text("draft")
    expect(page.locator("#pm-impact")).to_have_value(
        re.compile(r"\[not recorded: affected share\]")
    )
    expect(page.locator("#pm-gate")).to_contain_text("impact")

    # The live check flags blame as it is typed, and the preview renders the Markdown.
    page.locator("#pm-went_wrong").fill("Dave forgot to enable the canary.")
    finding = page.locator('ul.findings[data-for="pm-went_wrong"] li')
    expect(finding).to_contain_text("Dave forgot")
    expect(finding).to_contain_text("named-failure")
    page.locator("#pm-went_wrong").fill("The canary stage was **off** for config changes.")
    expect(finding).to_have_count(0)
    expect(page.locator("#pm-preview strong")).to_have_text("off")

    page.locator("#pm-impact").fill("- 12% of checkouts failed for 50 minutes")
    page.locator("#pm-root_cause").fill("Config changes skip the canary stage.")
    for n, (why, because) in enumerate(
        [
            ("Why did checkout fail?", "A bad config shipped."),
            ("Why did it ship?", "Config skips the canary."),
            ("Why does it skip it?", "The pipeline treats config as data."),
        ]
    ):
        page.locator(f"input[name=why_{n}]").fill(why)
        page.locator(f"input[name=because_{n}]").fill(because)
    page.locator("input[value=config-bomb]").check()
    page.locator("#pm-save").click()
    expect(page.locator("#pm-gate")).to_contain_text("action_items")

    items = page.locator("#pm-item-form")
    items.get_by_label("Action").fill("Send config through the canary")
    items.get_by_label("Owner").select_option("alice")
    items.get_by_label("Due").fill("2026-03-20")
    items.get_by_label("Priority").select_option("P1")
    items.get_by_role("button", name="Add").click()
    expect(page.locator("#pm-items")).to_contain_text("Send config through the canary")
    expect(page.locator("#pm-gate-ok")).to_be_visible()
    page.locator("#pm-submit").click()
    expect(page.locator("#pm-state")).to_contain_text("in_review")

    # bob reviews in his own browser session.
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(WAIT_MS)
    bob = context.new_page()
    log_in(bob, db, "bob")
    bob.goto("/postmortems/INC-1")
    bob.locator("#pm-review-form").get_by_label("Comment").fill("Clear and blameless.")
    bob.locator("#pm-approve").click()
    expect(bob.locator("#pm-history")).to_contain_text("bob — approve: Clear and blameless.")
    context.close()

    page.reload()
    page.locator("#pm-publish").click()
    expect(page.locator("#pm-state")).to_contain_text("published")
    expect(page.locator("#pm-reopen")).to_be_visible()
    shot(page, db, "postmortem-published")
    page.goto("/postmortems?status=published")
    expect(page.locator("#postmortems")).to_contain_text("INC-1")
    page.goto("/incidents")
    page.get_by_role("link", name="postmortem published").click()
    expect(page).to_have_url(re.compile(r"/postmortems/INC-1$"))
    page.goto("/incidents/1")
    page.locator("#postmortem-link").click()
    expect(page).to_have_url(re.compile(r"/postmortems/INC-1$"))
    page.goto("/action-items")
    expect(page.locator("#action-items")).to_contain_text("Send config through the canary")
