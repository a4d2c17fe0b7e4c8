"""The update composer's live preview in a real browser (Debian's Chromium, Playwright)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Api
from tests.e2e.test_browser import browser, log_in, page  # noqa: F401  (fixtures)
from warroom.db.session import Database

pytestmark = pytest.mark.e2e


def test_live_preview_then_post(page: Page, db: Database, alice: Api) -> None:  # noqa: F811
    alice.post(
        "/api/v1/incidents",
        json={"title": "Checkout down", "severity": "SEV-2", "impact_summary": "Carts fail"},
    )
    log_in(page, db, "alice")
    page.goto("/incidents/1")
    composer = page.locator("#composer")
    page.locator("#composer-template").select_option("statuspage_investigating")
    page.locator("#composer-extra").fill("We are rolling back <b>now</b>.")
    preview = page.locator("#composer-text")
    expect(preview).to_contain_text("We are investigating a problem affecting")
    expect(preview).to_contain_text("We are rolling back <b>now</b>.")  # text, not markup
    expect(page.locator("#composer-warnings")).to_contain_text("not recorded: services")
    composer.get_by_role("button", name="Post update").click()
    expect(page).to_have_url(re.compile(r"/incidents/1#timeline$"))
    expect(page.locator(".event.kind-communication")).to_contain_text(
        "We are investigating a problem affecting"
    )
