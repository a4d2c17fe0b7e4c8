"""Paging on the web: the one-click link in a notification (no login; GET only reads),
the incident room's Paging panel, the list of active pages. Deliveries go to a real
local webhook receiver; the engine is run by hand and time moved, never slept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.conftest import Api, LiveServer
from tests.e2e.test_browser import browser, log_in, page  # noqa: F401  (fixtures)
from tests.paging_support import Receiver, apply, declare, organisation
from tests.test_web import Browser, csrf_of, give_password, login, text_of
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker
from warroom.paging import links
from warroom.paging.models import InstanceKey


@pytest.fixture
def org(admin: Api) -> Iterator[Receiver]:
    with Receiver() as hook:
        apply(admin, organisation(hook))
        yield hook


@pytest.fixture
def worker(db: Database, clock: ManualClock) -> Worker:
    return Worker(db, clock)


@pytest.fixture
def stranger(app: Any) -> Iterator[TestClient]:
    """A browser with no session (a phone opening the link from a message)."""
    with TestClient(app) as c:
        yield c


def paged(bob: Api, org: Receiver, worker: Worker) -> dict[str, Any]:
    """bob declares; alice (on call) gets a webhook whose body carries the links."""
    declare(bob)
    worker.run_due()
    body: dict[str, Any] = org.at("/alice")[0].json()
    return body


def path_of(url: str) -> str:
    return "/page/" + url.split("/page/", 1)[1]


# --- the one-click link -----------------------------------------------------------------


def test_link_shows_what_was_paged_and_opening_it_changes_nothing(
    stranger: TestClient, alice: Api, bob: Api, org: Receiver, worker: Worker
) -> None:
    body = paged(bob, org, worker)
    link = path_of(body["links"]["acknowledge"])
    for _ in range(2):  # a mail scanner fetching first changes nothing
        r = stranger.get(link)
        assert r.status_code == 200
        text = text_of(r.text)
        assert "INC-1 Card payments fail" in text and "SEV-1" in text
        assert "page triggered" in text and "incident investigating" in text
        assert "Paged alice by webhook" in text
        assert "level 1, pass 1 (schedule payments)" in text
        assert f'<form method="post" action="{link}"' in r.text
        assert "Acknowledge" in text and 'name="csrf"' not in r.text
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert alice.get("/api/v1/pages/1").json()["state"] == "triggered"
    incident = alice.get("/api/v1/incidents/1").json()
    assert incident["milestones"]["acknowledged"] is None


def test_ack_link_acts_as_the_recipient_and_a_second_click_says_who_and_when(
    stranger: TestClient,
    alice: Api,
    bob: Api,
    org: Receiver,
    worker: Worker,
    clock: ManualClock,
) -> None:
    body = paged(bob, org, worker)
    clock.advance(minutes=2)
    r = stranger.post(path_of(body["links"]["acknowledge"]))
    assert r.status_code == 200
    assert "Acknowledged by alice. Paging for INC-1 has stopped." in text_of(r.text)
    assert "page acknowledged" in text_of(r.text)
    esc = alice.get("/api/v1/pages/1").json()
    assert (esc["state"], esc["acknowledged_by"]) == ("acknowledged", "alice")
    timeline = alice.get("/api/v1/incidents/1").json()["timeline"]
    ack = next(e for e in timeline if e["text"] == "Acknowledged by alice")
    assert ack["actor"] == "alice"

    clock.advance(minutes=1)
    for again in (stranger.post, stranger.get):
        r = again(path_of(body["links"]["acknowledge"]))
        assert r.status_code == 200
        assert "Already acknowledged by alice at 2026-03-02 09:02:00 UTC." in text_of(r.text)
        assert "<form" not in r.text.split('id="page-link"')[1]
    # Nobody else is paged.
    clock.advance(minutes=30)
    worker.run_due()
    assert org.at("/bob") == [] and org.at("/channel") == []

    # The resolve link still resolves; afterwards both links say so.
    r = stranger.post(path_of(body["links"]["resolve"]))
    assert "Resolved by alice. Paging for INC-1 has ended." in text_of(r.text)
    assert alice.get("/api/v1/incidents/1").json()["status"] == "resolved"
    for url in (body["links"]["acknowledge"], body["links"]["resolve"]):
        r = stranger.post(path_of(url))
        assert "This page was already resolved at 2026-03-02 09:33:00 UTC." in text_of(r.text)


def test_fallback_channel_link_acts_as_the_fallback_channel(
    stranger: TestClient, alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    declare(alice)
    worker.run_due()
    clock.advance(minutes=5)
    worker.run_due()
    clock.advance(minutes=10)
    worker.run_due()
    [hit] = org.at("/channel")
    link = path_of(hit.json()["links"]["acknowledge"])
    assert "Paged fallback channel" in text_of(stranger.get(link).text)
    r = stranger.post(link)
    assert "Acknowledged by fallback channel." in text_of(r.text)
    assert alice.get("/api/v1/pages/1").json()["acknowledged_by"] == "fallback channel"


def test_forged_and_foreign_links_are_a_404_and_create_nothing(
    stranger: TestClient,
    db: Database,
    alice: Api,
    bob: Api,
    org: Receiver,
    worker: Worker,
) -> None:
    # An installation that never signed a link has no key, and looking does not make one.
    for method in (stranger.get, stranger.post):
        r = method("/page/1.ack.AAAAAAAAAAAAAAAAAAAAAAAA")
        assert r.status_code == 404 and "This link is not valid" in text_of(r.text)
    with db.read() as s:
        assert s.get(InstanceKey, links.KEY_NAME) is None

    body = paged(bob, org, worker)
    good = path_of(body["links"]["acknowledge"])
    nid, _, mac = good.rsplit("/", 1)[1].split(".")
    with db.read() as s:
        key = links.signing_key(s)
    forged = [
        f"/page/{nid}.resolve.{mac}",  # another action under the ack signature
        f"/page/{int(nid) + 1}.ack.{mac}",  # another notification
        f"/page/{nid}.ack.{mac[:-2]}",  # cut short
        f"/page/{nid}.ack.{links.token(b'another-installation', int(nid), 'ack').split('.')[2]}",
        "/page/" + links.token(key, 999, "ack"),  # genuine signature, no such notification
        "/page/garbage",
        "/page/" + "9" * 30 + ".ack.x",
    ]
    for url in forged:
        for method in (stranger.get, stranger.post):
            r = method(url)
            assert r.status_code == 404, url
            assert "Link not valid" in text_of(r.text)
    assert alice.get("/api/v1/pages/1").json()["state"] == "triggered"


# --- the incident room and the pages list -----------------------------------------------


@pytest.fixture
def as_alice(client: TestClient, db: Database, people: dict[str, str]) -> Browser:
    give_password(db, "alice")
    r = login(client, "alice")
    assert r.url.path == "/incidents", r.text
    b = Browser(client)
    b.page = r.text
    return b


def panel(b: Browser, ref: int = 1) -> str:
    b.get(f"/incidents/{ref}")
    return text_of(b.page.split('id="paging"', 1)[1].split("</section>", 1)[0])


def test_room_paging_panel_shows_who_was_notified_and_acknowledges(
    as_alice: Browser, bob: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    declare(bob)
    worker.run_due()
    shown = panel(as_alice)
    assert "triggered payments #1" in shown
    assert "Level 1 of 2, pass 1 of 1 · next step at 2026-03-02 09:05:00 UTC" in shown
    assert "alice webhook level 1, pass 1 (schedule payments) sent webhook answered HTTP 200" in (
        shown
    )
    assert "pending" in shown  # alice's second method, due after 5 minutes

    r = as_alice.client.post("/pages/1/ack", data={"csrf": "forged", "back": "/incidents/1"})
    assert r.status_code == 403
    clock.advance(minutes=5)
    worker.run_due()
    shown = panel(as_alice)
    assert "Level 2 of 2, pass 1 of 1 · unanswered, the fallback is told at 2026-03-02 09:15" in (
        shown
    )
    as_alice.get("/incidents/1")
    r = as_alice.submit("/pages/1/ack", back="/incidents/1")
    assert r.url.path == "/incidents/1"
    shown = panel(as_alice)
    assert "acknowledged payments #1" in shown
    assert "acknowledged by alice at 2026-03-02 09:05:00 UTC" in shown
    assert "bob webhook level 2, pass 1 (user bob) sent" in shown
    assert "Acknowledge" not in shown


def test_paging_someone_from_the_room(
    as_alice: Browser, org: Receiver, worker: Worker, alice: Api
) -> None:
    declare(alice, services=[])
    assert "Nobody has been paged for this incident." in panel(as_alice)
    r = as_alice.submit("/pages/new", incident="1")
    assert "give either policy or users" in text_of(r.text)
    r = as_alice.submit("/pages/new", incident="1", users="bob", timeout_minutes="3")
    assert r.url.path == "/incidents/1"
    worker.run_due()
    shown = panel(as_alice)
    assert "triggered direct page #1" in shown and "bob webhook" in shown
    as_alice.get("/incidents/1")
    as_alice.submit("/pages/new", incident="1", policy="payments")
    assert "triggered payments #2" in panel(as_alice)


def test_pages_list_shows_active_pages_with_actions(
    as_alice: Browser,
    client: TestClient,
    db: Database,
    bob: Api,
    org: Receiver,
    worker: Worker,
) -> None:
    declare(bob)
    worker.run_due()
    as_alice.get("/pages")
    assert '<a href="/pages">Pages</a>' in as_alice.page
    text = as_alice.text
    assert "INC-1 Card payments fail" in text and "level 1/2, pass 1/1" in text
    assert "alice" in text and "Acknowledge" in text
    as_alice.submit("/pages/1/resolve", back="/pages?state=active")
    assert "No active pages." in as_alice.text
    as_alice.get("/pages?state=resolved")
    assert "INC-1 Card payments fail" in as_alice.text
    as_alice.get("/pages?state=asleep")
    assert "state must be active or one of" in as_alice.text


def test_viewers_see_pages_without_buttons(
    client: TestClient, db: Database, bob: Api, org: Receiver, worker: Worker
) -> None:
    declare(bob)
    worker.run_due()
    give_password(db, "carol")
    login(client, "carol")
    r = client.get("/pages")
    assert "INC-1" in text_of(r.text) and "Acknowledge" not in r.text
    r = client.get("/incidents/1")
    assert 'id="paging"' in r.text and 'action="/pages/1/ack"' not in r.text
    # csrf_of would find the logout form's token: a viewer still cannot act.
    r = client.post("/pages/1/ack", data={"csrf": csrf_of(r.text), "back": "/incidents/1"})
    assert "needs the responder role" in text_of(r.text)


# --- in a real browser ------------------------------------------------------------------


@pytest.mark.e2e
def test_ack_link_from_a_delivered_webhook_in_chromium(
    page: Page,  # noqa: F811
    live_server: LiveServer,
    db: Database,
    bob: Api,
    org: Receiver,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARROOM_BASE_URL", live_server.url)
    declare(bob)
    worker.run_due()
    link = org.at("/alice")[0].json()["links"]["acknowledge"]
    assert link.startswith(live_server.url + "/page/")
    page.goto(link)
    expect(page.locator("#page-state")).to_have_text("page triggered")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#result")).to_have_text(
        "Acknowledged by alice. Paging for INC-1 has stopped."
    )
    expect(page.locator("#page-state")).to_have_text("page acknowledged")
    log_in(page, db, "alice")
    page.goto("/incidents/1")
    expect(page.locator("#escalation-1 [data-state]")).to_have_text("acknowledged")
    expect(page.locator("#paging")).to_contain_text("acknowledged by alice")
    expect(page.locator("#timeline")).to_contain_text("Page acknowledged by alice")
    expect(page).to_have_url(re.compile(r"/incidents/1$"))
