"""Role checks that follow the person, not the link or the URL they were given: a
one-click page link acts with its recipient's current standing and for a week only, and
a schedule's shared calendar feed is replaced only by its team or an admin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Api, make_token
from tests.paging_support import Receiver, apply, organisation
from tests.test_paging_web import org, paged, path_of, stranger, worker  # noqa: F401
from tests.test_web import text_of
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker
from warroom.paging.queries import LINK_LIFETIME


def test_a_link_stops_acting_once_its_recipient_is_deactivated(
    stranger: TestClient,  # noqa: F811
    admin: Api,
    alice: Api,
    bob: Api,
    org: Receiver,  # noqa: F811
    worker: Worker,  # noqa: F811
) -> None:
    link = path_of(paged(bob, org, worker)["links"]["acknowledge"])
    assert admin.post("/api/v1/users/alice/active", json={"active": False}).status_code == 200
    r = stranger.post(link)
    assert r.status_code == 403 and "deactivated" in text_of(r.text)
    assert bob.get("/api/v1/pages/1").json()["state"] == "triggered"


def test_a_link_acts_with_the_recipients_current_role(
    stranger: TestClient,  # noqa: F811
    admin: Api,
    bob: Api,
    org: Receiver,  # noqa: F811
    worker: Worker,  # noqa: F811
) -> None:
    link = path_of(paged(bob, org, worker)["links"]["acknowledge"])
    doc = organisation(org)
    for u in doc["users"]:
        if u["name"] == "alice":
            u["role"] = "viewer"
    apply(admin, doc)
    r = stranger.post(link)
    assert r.status_code == 403 and "needs the responder role" in text_of(r.text)
    assert bob.get("/api/v1/pages/1").json()["state"] == "triggered"


def test_a_link_expires_after_a_week(
    stranger: TestClient,  # noqa: F811
    bob: Api,
    org: Receiver,  # noqa: F811
    worker: Worker,  # noqa: F811
    clock: ManualClock,
) -> None:
    link = path_of(paged(bob, org, worker)["links"]["acknowledge"])
    clock.advance(seconds=LINK_LIFETIME.total_seconds() + 60)
    r = stranger.post(link)
    assert r.status_code == 403 and "older than 7 days" in text_of(r.text)
    assert stranger.get(link).status_code == 200  # still shows what was paged


def test_only_the_team_or_an_admin_replace_a_schedules_feed(
    client: TestClient,
    admin: Api,
    alice: Api,
    org: Receiver,  # noqa: F811
    db: Database,
    clock: ManualClock,
) -> None:
    first = alice.post("/api/v1/schedules/payments/feed")  # alice is on the team
    assert first.status_code == 200, first.text
    dave = Api(client, make_token(db, clock, "responder", "dave"))  # a responder elsewhere
    r = dave.post("/api/v1/schedules/payments/feed")
    assert r.status_code == 403 and "members of the team" in r.json()["error"]
    feed = first.json()["url"].split("/oncall/feeds/", 1)[1]
    assert client.get(f"/oncall/feeds/{feed}").status_code == 200  # still works
    assert admin.post("/api/v1/schedules/payments/feed").status_code == 200
