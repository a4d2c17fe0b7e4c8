"""The incident room in a real browser (Debian's Chromium driven by Playwright).

Never downloads a browser: it uses /usr/bin/chromium from the Debian package `chromium`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import LiveServer
from warroom.db.session import Database
from warroom.org.service import set_password, user_by_name

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"
WAIT_MS = 15_000  # the longest any DOM condition may take to appear


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


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser tab (own cookies). It is closed before the live server stops,
    so no open event stream outlives the test."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # Anything the Content-Security-Policy blocks is a page that does not work.
    tab.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
    assert blocked == [], f"blocked by the Content-Security-Policy: {blocked}"


def give_password(db: Database, name: str) -> None:
    with db.session() as s:
        set_password(s, user_by_name(s, name), PASSWORD)


def log_in(page: Page, db: Database, name: str) -> None:
    give_password(db, name)
    page.goto("/incidents")
    expect(page).to_have_url(re.compile(r"/login\?next=/incidents$"))
    page.get_by_label("User name or email").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/incidents$"))
    expect(page.locator(".who")).to_contain_text(name)


def shot(page: Page, db: Database, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{db.dialect}.png"), full_page=True)


def test_incident_room_updates_live_and_resolves(
    page: Page, live_server: LiveServer, db: Database, people: dict[str, str]
) -> None:
    log_in(page, db, "alice")

    declare = page.locator("#declare")
    declare.get_by_label("Title").fill("Checkout returns 500 for EU customers")
    declare.get_by_label("Severity").select_option("SEV-2")
    declare.get_by_label("Impact summary").fill("About 30% of EU checkouts fail.")
    declare.get_by_label("Customer-facing").check()
    declare.get_by_role("button", name="Declare").click()

    expect(page).to_have_url(re.compile(r"/incidents/1$"))
    expect(page.locator("h1")).to_have_text("INC-1 Checkout returns 500 for EU customers")
    expect(page.locator("#status")).to_have_text("investigating")
    expect(page.locator("#severity")).to_have_text("SEV-2")
    expect(page.locator("#timeline")).to_contain_text("Declared SEV-2")
    expect(page.locator("#live")).to_have_text("live")

    roles = page.locator("#role-form")
    roles.get_by_label("Role").select_option("commander")
    roles.get_by_label("Person").select_option("bob")
    roles.get_by_role("button", name="Assign").click()
    expect(page.locator('#roles dd[data-role="commander"]')).to_have_text("bob")
    expect(page.locator("#timeline")).to_contain_text("bob is now Incident Commander")
    expect(page.locator("#live")).to_have_text("live")

    # From here on the page must not reload: a marker on window would be lost.
    page.evaluate("window.__sameDocument = true")
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {people['bob']}"}
    ) as bob:
        r = bob.post(
            "/api/v1/incidents/1/events",
            json={"kind": "decision", "text": "Rolling back deploy 2026.03.02-1"},
        )
        assert r.status_code == 201, r.text
        note = page.locator("#timeline li").filter(has_text="Rolling back deploy 2026.03.02-1")
        expect(note).to_have_count(1, timeout=WAIT_MS)
        expect(note).to_contain_text("[Incident Commander] bob")
        expect(note.locator(".kind")).to_have_text("decision")

        r = bob.post("/api/v1/incidents/1/severity", json={"severity": "SEV-1"})
        assert r.status_code == 200, r.text
        expect(page.locator("#severity")).to_have_text("SEV-1", timeout=WAIT_MS)
        expect(page.locator("#timeline")).to_contain_text("Escalated SEV-2 → SEV-1")
        # the severity form follows, so submitting it does not undo bob's change
        expect(page.locator("#severity-form select")).to_have_value("SEV-1")
        server_ids = [f"event-{e['id']}" for e in bob.get("/api/v1/incidents/1").json()["timeline"]]
    assert page.evaluate("window.__sameDocument") is True
    # the page shows the server's timeline, in order, each event once
    expect(page.locator("#timeline li")).to_have_count(len(server_ids))
    assert page.locator("#timeline li").evaluate_all("els => els.map(e => e.id)") == server_ids
    shot(page, db, "room")

    resolve = page.locator("#resolve-form")
    resolve.get_by_label("Summary").fill("Rolled back; error rate back to normal.")
    resolve.get_by_role("button", name="Resolve incident").click()
    expect(page.locator("#status")).to_have_text("resolved")
    expect(page.locator("#status")).to_have_class(re.compile(r"status-resolved"))
    expect(page.locator("#timeline")).to_contain_text(
        "Status investigating → resolved: Rolled back; error rate back to normal."
    )
    expect(page.locator("#resolve-form")).to_have_count(0)
    shot(page, db, "room-resolved")

    page.goto("/incidents")
    row = page.locator("table.incidents tbody tr").filter(has_text="INC-1")
    expect(row).to_contain_text("resolved")
    expect(row).to_contain_text("bob")
    shot(page, db, "incidents")


def test_downgrade_without_reason_shows_the_error(
    page: Page, live_server: LiveServer, db: Database, people: dict[str, str]
) -> None:
    log_in(page, db, "alice")
    declare = page.locator("#declare")
    declare.get_by_label("Title").fill("Search is slow")
    declare.get_by_label("Severity").select_option("SEV-1")
    declare.get_by_role("button", name="Declare").click()
    expect(page).to_have_url(re.compile(r"/incidents/1$"))

    form = page.locator("#severity-form")
    form.get_by_label("Severity").select_option("SEV-3")
    form.get_by_role("button", name="Change severity").click()
    expect(page.get_by_role("alert")).to_contain_text("needs a reason")
    expect(page.locator("#severity")).to_have_text("SEV-1")
    shot(page, db, "room-error")


def test_server_stops_while_a_room_is_open(
    page: Page, live_server: LiveServer, app: Any, db: Database, people: dict[str, str]
) -> None:
    """An open event stream must not keep the server from shutting down: each stream
    ends after its lifetime, and the browser's reconnect finds the server gone."""
    app.state.sse_max_seconds = 1
    log_in(page, db, "alice")
    page.locator("#declare").get_by_label("Title").fill("Pager storm")
    page.locator("#declare").get_by_role("button", name="Declare").click()
    expect(page.locator("#live")).to_have_text("live")

    live_server.server.should_exit = True
    live_server.thread.join(timeout=WAIT_MS / 1000)
    assert not live_server.thread.is_alive(), "uvicorn kept running while a room was open"
    expect(page.locator("#live")).to_contain_text("reconnecting")
