"""The public status page in a real browser (Debian's Chromium driven by Playwright),
with JavaScript turned off, on a desktop and a phone viewport.

Never downloads a browser: it uses /usr/bin/chromium from the Debian package `chromium`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import LiveServer
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from warroom.core.clock import ManualClock
from warroom.db.session import Database

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        msg = (
            f"{CHROMIUM} is missing: install Debian's package `chromium` (apt-get install chromium)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def seed(server: LiveServer, people: dict[str, str], clock: ManualClock) -> None:
    admin = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {people['admin']}"}
    )
    alice = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {people['alice']}"}
    )
    with admin, alice:
        r = admin.patch("/api/v1/status/page", json={"name": "Acme"})
        assert r.status_code == 200, r.text
        for body in (
            {"name": "API", "description": "REST and GraphQL endpoints"},
            {"name": "Dashboard"},
            {"name": "Payments", "is_group": True},
            {"name": "Checkout", "group": "Payments"},
            {"name": "Card processing", "group": "Payments"},
        ):
            assert admin.post("/api/v1/status/components", json=body).status_code == 201
        # some history: a past outage of the API, 40 days ago
        clock.advance(days=40)
        alice.post("/api/v1/status/components/Dashboard/status", json={"status": "major_outage"})
        clock.advance(hours=3)
        alice.post("/api/v1/status/components/Dashboard/status", json={"status": "operational"})
        clock.advance(days=45)
        inc = alice.post(
            "/api/v1/incidents",
            json={"title": "Checkout 500s", "severity": "SEV-2", "customer_facing": True},
        ).json()
        pub = alice.post(
            "/api/v1/status/incidents",
            json={
                "incident": inc["id"],
                "name": "Failed card payments",
                "body": "We are investigating failed card payments at checkout.",
                "components": {"Checkout": "partial_outage", "Card processing": "major_outage"},
            },
        ).json()
        clock.advance(minutes=18)
        r = alice.post(
            f"/api/v1/status/incidents/{pub['id']}/updates",
            json={
                "status": "identified",
                "body": "A configuration change at our card processor is the cause; we are "
                "rolling it back.",
            },
        )
        assert r.status_code == 201, r.text
        start = clock.now() + timedelta(days=2)
        r = alice.post(
            "/api/v1/status/maintenances",
            json={
                "name": "Database upgrade",
                "body": "The primary database moves to new hardware; the API may be read-only "
                "for up to 10 minutes.",
                "scheduled_for": start.isoformat(),
                "scheduled_until": (start + timedelta(hours=2)).isoformat(),
                "components": ["API"],
            },
        )
        assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "device,viewport",
    [("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})],
)
def test_public_status_page_without_javascript(
    browser: Browser,
    live_server: LiveServer,
    db: Database,
    people: dict[str, str],
    clock: ManualClock,
    device: str,
    viewport: dict[str, int],
) -> None:
    seed(live_server, people, clock)
    context = browser.new_context(
        base_url=live_server.url, viewport=viewport, java_script_enabled=False
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        page.goto("/status")
        expect(page).to_have_title("Acme status")
        expect(page.locator("#overall")).to_have_text("!Major Service Outage")
        components = page.locator("#components")
        for name in ("API", "Dashboard", "Payments", "Checkout", "Card processing"):
            expect(components.get_by_text(name, exact=True)).to_be_visible()
        expect(components.get_by_role("img", name="Dashboard:")).to_have_attribute(
            "aria-label", "Dashboard: 99.85% uptime over the last 90 days"
        )
        active = page.locator("#active-incidents")
        expect(active.get_by_role("heading", name="Failed card payments")).to_be_visible()
        updates = active.locator("ol.updates li")
        expect(updates).to_have_count(2)
        expect(updates.nth(0)).to_contain_text("Identified")
        expect(updates.nth(0)).to_contain_text("rolling it back")
        expect(updates.nth(1)).to_contain_text("Investigating")
        expect(page.locator("#upcoming-maintenance")).to_contain_text("Database upgrade")
        # nothing is wider than the screen, phone included
        for part in (page.locator("main"), active, components, page.locator("#overall")):
            box = part.bounding_box()
            assert box is not None and box["x"] >= 0
            assert box["x"] + box["width"] <= viewport["width"] + 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"statuspage-{device}-{db.dialect}.png"), full_page=True
        )
        page.get_by_role("link", name="Incident history").first.click()
        expect(page.get_by_role("heading", name="Incident history")).to_be_visible()
    finally:
        context.close()


def test_staff_publish_from_the_web_page(
    browser: Browser, live_server: LiveServer, db: Database, people: dict[str, str]
) -> None:
    from tests.e2e.test_browser import log_in

    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {people['admin']}"}
    ) as admin:
        admin.post("/api/v1/status/components", json={"name": "API"})
        inc = admin.post(
            "/api/v1/incidents", json={"title": "API latency", "severity": "SEV-3"}
        ).json()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        log_in(page, db, "alice")
        page.get_by_role("link", name="Status page").click()
        form = page.locator("#publish-form")
        form.get_by_label("Incident (INC-n)").fill(inc["id"])
        form.get_by_label("Public title").fill("Slow API responses")
        form.get_by_label("First update").fill("We are looking into slow API responses.")
        form.get_by_label("Component (optional)").select_option("API")
        form.get_by_label("becomes").select_option("degraded_performance")
        form.get_by_role("button", name="Publish").click()
        expect(page.get_by_role("status")).to_contain_text("Published 'Slow API responses'")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"statuspage-admin-{db.dialect}.png"), full_page=True)
        page.goto("/status")
        expect(page.locator("#overall")).to_contain_text("Minor Service Outage")
        expect(page.locator("#active-incidents")).to_contain_text("slow API responses")
    finally:
        context.close()
