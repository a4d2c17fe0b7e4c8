"""The SLO pages and the room's error budget card in a real browser (Debian's Chromium
driven by Playwright), on a desktop and on a phone."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.e2e.test_browser import browser, log_in, page, shot  # noqa: F401  (fixtures)
from warroom.core.clock import ManualClock, iso
from warroom.db.session import Database

pytestmark = pytest.mark.e2e

ORG = {
    "users": [{"name": "alice", "email": "alice@example.test"}],
    "teams": [{"name": "payments", "members": ["alice"]}],
    "services": [{"name": "checkout", "owner": "payments"}],
    "slos": [
        {
            "name": "checkout-availability",
            "service": "checkout",
            "objective": 99.9,
            "window": "30d",
            "description": "Customers can pay",
        }
    ],
}


def setup(live_server: LiveServer, people: dict[str, str], clock: ManualClock) -> str:
    h = {"Authorization": f"Bearer {people['admin']}"}
    r = httpx.post(f"{live_server.url}/api/v1/config/apply", json={"config": ORG}, headers=h)
    assert r.status_code == 200, r.text
    started = iso(clock.now() - timedelta(minutes=50))
    body = {
        "title": "Card payments fail",
        "severity": "SEV-1",
        "services": ["checkout"],
        "customer_facing": True,
        "started_at": started,
    }
    r = httpx.post(f"{live_server.url}/api/v1/incidents", json=body, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_frozen_service_shows_its_burndown_and_the_incident_that_spent_it(
    page: Page,  # noqa: F811 (the fixture)
    live_server: LiveServer,
    db: Database,
    people: dict[str, str],
    clock: ManualClock,
) -> None:
    ref = setup(live_server, people, clock)
    log_in(page, db, "alice")
    page.get_by_role("link", name="SLOs").click()
    expect(page).to_have_url(re.compile(r"/slos$"))
    expect(page.locator("table.slos")).to_contain_text("FREEZE")
    page.get_by_role("link", name="checkout").click()
    expect(page.locator(".gate-box h2")).to_contain_text("Release gate: FREEZE")
    expect(page.locator(".gate-box")).to_contain_text("error budget exhausted")
    chart = page.locator("svg.burndown")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300
    shot(page, db, "slo-frozen")
    # the incident's band on the chart leads to its room, which says what it spent
    chart.locator("a rect").first.click()
    expect(page).to_have_url(re.compile(rf"/incidents/{ref[4:]}$"))
    card = page.locator("#error-budget")
    expect(card).to_contain_text("checkout-availability")
    expect(card).to_contain_text("of the 30d budget")
    expect(card).to_contain_text("no affected share recorded")
    card.get_by_label("Affected %").fill("10")
    card.get_by_role("button", name="Set").click()
    expect(page.locator("#error-budget")).not_to_contain_text("no affected share recorded")
    expect(page.locator("#timeline")).to_contain_text("Changed affected share to 10%")


def test_the_slo_page_fits_a_phone(
    browser: Browser,  # noqa: F811 (the fixture)
    live_server: LiveServer,
    db: Database,
    people: dict[str, str],
    clock: ManualClock,
) -> None:
    setup(live_server, people, clock)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        tab = context.new_page()
        log_in(tab, db, "alice")
        tab.goto("/slos/checkout")
        expect(tab.locator(".gate-box h2")).to_contain_text("FREEZE")
        chart = tab.locator("svg.burndown")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
        shot(tab, db, "slo-phone")
        wide = tab.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 392)"
            ".map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)"
        )
        scroll = tab.evaluate("document.documentElement.scrollWidth")
        assert scroll <= 400, f"the page scrolls sideways on a phone ({scroll}px): {wide}"
    finally:
        context.close()
