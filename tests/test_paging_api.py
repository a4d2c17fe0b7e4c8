"""Paging through the REST API: policies, pages, acknowledging, paging people during an
incident, contact methods and test notifications. Deliveries go to a real local webhook
receiver; time is moved with a ManualClock and the engine run by hand."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Api, free_port
from tests.paging_support import SECRET, Receiver, apply, declare, organisation
from tests.test_fuzz_api import json_values
from warroom.config.loader import load
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme"


@pytest.fixture
def org(admin: Api) -> Iterator[Receiver]:
    """The organisation applied as config; its pages land on this local receiver."""
    with Receiver() as hook:
        apply(admin, organisation(hook))
        yield hook


@pytest.fixture
def worker(db: Database, clock: ManualClock) -> Worker:
    return Worker(db, clock)


def page_of(api: Api, page_id: int) -> dict[str, Any]:
    r = api.get(f"/api/v1/pages/{page_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


# --- escalation policies ----------------------------------------------------------------


def test_policies_show_levels_fallback_and_services(alice: Api, org: Receiver) -> None:
    [policy] = alice.get("/api/v1/escalation-policies").json()
    assert policy == alice.get("/api/v1/escalation-policies/payments").json()
    assert policy["services"] == ["checkout"] and policy["fallback"] == "payments"
    assert policy["repeat"] == 0
    assert policy["levels"] == [
        {"timeout_minutes": 5, "targets": [{"type": "schedule", "name": "payments", "level": 1}]},
        {"timeout_minutes": 10, "targets": [{"type": "user", "name": "bob", "level": 1}]},
    ]
    r = alice.get("/api/v1/escalation-policies/nope")
    assert r.status_code == 404 and r.json()["field"] == "policy"


def test_the_example_organisation_declares_its_paging_and_round_trips(
    admin: Api, db: Database, clock: ManualClock
) -> None:
    """examples/acme: a policy per team, services naming theirs, a person with contact
    methods; an export applies back unchanged."""
    apply(admin, load(EXAMPLE).data)
    policies = {p["name"]: p for p in admin.get("/api/v1/escalation-policies").json()}
    assert set(policies) == {"payments", "platform", "discovery"}
    assert policies["payments"]["services"] == ["checkout", "payments-api"]
    assert policies["platform"]["services"] == ["kafka", "postgres-main"]
    assert policies["discovery"]["services"] == ["search"]
    assert policies["payments"]["levels"][1]["targets"] == [
        {"type": "schedule", "name": "payments", "level": 2}
    ]
    assert (policies["payments"]["repeat"], policies["payments"]["fallback"]) == (1, "payments")
    dave = admin.get("/api/v1/users/dave/contact").json()
    assert [m["name"] for m in dave["contact_methods"]] == ["pager-app", "work-email"]
    assert dave["notification_rules"][1] == {"method": "work-email", "after_minutes": 2}
    exported = yaml.safe_load(admin.get("/api/v1/config/export").text)
    r = admin.post("/api/v1/config/apply", json={"config": exported})
    assert r.status_code == 200 and r.json()["changes"] == []

    declare(admin, services=["checkout", "notifications"])
    Worker(db, clock, kinds=("escalation_step",)).run_due()  # steps only: nothing is sent
    [page] = admin.get("/api/v1/pages").json()
    assert (page["policy"], page["levels"], page["passes"]) == ("payments", 3, 2)
    detail = admin.get(f"/api/v1/pages/{page['id']}").json()
    assert len({n["user"] for n in detail["notifications"]}) == 1  # the primary on call
    assert detail["notifications"][0]["reason"].endswith("(schedule payments)")


# --- a page from declaration to resolution ----------------------------------------------


def test_declaring_pages_on_call_and_acknowledging_stops_the_escalation(
    alice: Api, bob: Api, carol: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    declare(bob)
    worker.run_due()
    [hit] = org.at("/alice")
    assert hit.signed_by(SECRET)
    body = hit.json()
    assert hit.headers["idempotency-key"] == body["idempotency_key"]
    assert body["recipient"] == "alice" and body["incident"]["id"] == "INC-1"
    assert body["incident"]["severity"] == "SEV-1"
    assert "/page/1.ack." in body["links"]["acknowledge"]
    assert "/page/1.resolve." in body["links"]["resolve"]

    [page] = alice.get("/api/v1/pages", params={"state": "active"}).json()
    assert page["state"] == "triggered" and page["incident"] == "INC-1"
    assert (page["level"], page["levels"], page["pass"], page["passes"]) == (1, 2, 1, 1)
    assert page["next_step_at"] == "2026-03-02T09:05:00Z"
    assert alice.get("/api/v1/pages", params={"user": "alice"}).json() == [page]
    assert alice.get("/api/v1/pages", params={"user": "bob"}).json() == []
    assert alice.get("/api/v1/pages", params={"incident": "INC-1"}).json() == [page]
    assert alice.get("/api/v1/pages", params={"state": "resolved"}).json() == []

    detail = page_of(alice, page["id"])
    [phone, pager] = detail["notifications"]
    assert (phone["user"], phone["kind"], phone["state"]) == ("alice", "webhook", "sent")
    assert phone["idempotency_key"] == body["idempotency_key"]
    assert phone["log"][0]["ok"] and phone["log"][0]["detail"] == "webhook answered HTTP 200"
    assert pager["state"] == "pending" and pager["due_at"] == "2026-03-02T09:05:00Z"

    assert carol.post(f"/api/v1/pages/{page['id']}/ack").status_code == 403
    clock.advance(minutes=2)
    r = alice.post(f"/api/v1/pages/{page['id']}/ack")
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "alice"
    assert acked["acknowledged_at"] == "2026-03-02T09:02:00Z"
    assert [n["state"] for n in acked["notifications"]] == ["sent", "skipped"]
    incident = alice.get("/api/v1/incidents/1").json()
    assert incident["milestones"]["acknowledged"] == "2026-03-02T09:02:00Z"

    # Nobody else is paged: not alice's second method, not bob, not the channel.
    clock.advance(minutes=30)
    worker.run_due()
    assert len(org.hits) == 1
    assert alice.get("/api/v1/pages", params={"state": "active"}).json()[0]["state"] == (
        "acknowledged"
    )

    r = alice.post(f"/api/v1/pages/{page['id']}/resolve")
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert alice.get("/api/v1/incidents/1").json()["status"] == "resolved"
    assert alice.get("/api/v1/pages", params={"state": "active"}).json() == []
    r = alice.post(f"/api/v1/pages/{page['id']}/ack")
    assert r.status_code == 409 and "already resolved" in r.json()["error"]


def test_unacknowledged_page_escalates_then_reaches_the_team_channel(
    alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    declare(alice)
    worker.run_due()
    clock.advance(minutes=5)
    worker.run_due()
    assert len(org.at("/bob")) == 1 and len(org.at("/alice-pager")) == 1
    assert page_of(alice, 1)["level"] == 2
    clock.advance(minutes=10)
    worker.run_due()
    [page] = alice.get("/api/v1/pages", params={"state": "exhausted"}).json()
    assert page["exhausted_at"] == "2026-03-02T09:15:00Z"
    [fallback] = org.at("/channel")
    assert fallback.json()["event"] == "fallback" and fallback.json()["recipient"] == (
        "the fallback channel"
    )
    # An exhausted page can still be acknowledged.
    assert alice.post("/api/v1/pages/1/ack").json()["state"] == "acknowledged"


def test_failed_delivery_falls_through_then_retries_with_the_same_key(
    alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    org.failing["/alice"] = 503
    declare(alice)
    worker.run_due()
    # The first failure falls through to alice's next method at once.
    assert len(org.at("/alice", ok_only=False)) == 1 and len(org.at("/alice-pager")) == 1
    phone = page_of(alice, 1)["notifications"][0]
    assert phone["state"] == "pending" and phone["attempts"] == 1
    assert phone["log"][0]["ok"] is False and "HTTP 503" in phone["log"][0]["detail"]
    assert "HTTP 503" in phone["last_error"]
    del org.failing["/alice"]
    clock.advance(seconds=3)  # past the first backoff (at most 2 s)
    worker.run_due()
    first, second = org.at("/alice", ok_only=False)
    assert (first.status, second.status) == (503, 200)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body and second.signed_by(SECRET)
    phone = page_of(alice, 1)["notifications"][0]
    assert phone["state"] == "sent" and phone["attempts"] == 2
    timeline = [e["text"] for e in alice.get("/api/v1/incidents/1").json()["timeline"]]
    assert any("failed (attempt 1 of " in t and "falling through" in t for t in timeline)


def test_alert_rule_with_page_pages_and_ack_acknowledges_the_alert(
    admin: Api, alice: Api, org: Receiver, worker: Worker, client: Any
) -> None:
    r = admin.post(
        "/api/v1/integrations", json={"name": "prom", "kind": "pagerduty", "service": "checkout"}
    )
    key = r.json()["key"]
    apply(
        admin,
        {
            "alert_rules": [
                {
                    "name": "disk",
                    "matchers": ["severity=warning"],
                    "service": "checkout",
                    "open_incident": False,
                    "page": True,
                }
            ]
        },
    )
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "disk-1",
        "payload": {"summary": "Disk 91% full", "source": "db1", "severity": "warning"},
    }
    assert client.post("/v2/enqueue", json=event).status_code == 202
    worker.run_due()
    [hit] = org.at("/alice")
    assert hit.json()["alert"]["summary"] == "Disk 91% full" and hit.json()["incident"] is None
    [page] = alice.get("/api/v1/pages").json()
    assert page["incident"] is None and page["alert_id"] == hit.json()["alert"]["id"]
    assert alice.post(f"/api/v1/pages/{page['id']}/ack").json()["state"] == "acknowledged"
    assert alice.get(f"/api/v1/alerts/{page['alert_id']}").json()["status"] == "acknowledged"


def test_missing_and_malformed_pages_are_4xx(alice: Api, org: Receiver) -> None:
    for path in ("/api/v1/pages/99", "/api/v1/pages/99/ack"):
        r = alice.get(path) if not path.endswith("ack") else alice.post(path)
        assert r.status_code == 404 and r.json()["error"] == "page 99 not found"
    assert alice.get("/api/v1/pages/0").status_code == 422
    assert alice.get("/api/v1/pages/99999999999").status_code == 422
    r = alice.get("/api/v1/pages", params={"state": "asleep"})
    assert r.status_code == 422 and r.json()["field"] == "state"
    r = alice.get("/api/v1/pages", params={"incident": "INC-x"})
    assert r.status_code == 422 and r.json()["field"] == "incident"
    r = alice.get("/api/v1/pages", params={"user": "nobody"})
    assert r.status_code == 404 and r.json()["field"] == "user"


def test_private_incident_pages_are_seen_by_those_who_see_the_incident(
    admin: Api, alice: Api, carol: Api, org: Receiver, worker: Worker
) -> None:
    declare(alice, private=True)
    assert carol.get("/api/v1/pages").json() == []
    assert carol.get("/api/v1/pages/1").status_code == 404
    r = carol.get("/api/v1/pages", params={"incident": "INC-1"})
    assert r.status_code == 404 and r.json()["field"] == "incident"
    assert [p["id"] for p in alice.get("/api/v1/pages").json()] == [1]
    assert [p["id"] for p in admin.get("/api/v1/pages").json()] == [1]


# --- paging people during an incident ---------------------------------------------------


def test_paging_named_people_for_an_incident(
    alice: Api, bob: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    declare(alice, services=[])
    worker.run_due()
    assert alice.get("/api/v1/pages").json() == []  # no service, no policy: nobody paged
    r = alice.post("/api/v1/incidents/INC-1/page", json={"users": ["bob"], "timeout_minutes": 3})
    assert r.status_code == 201, r.text
    page = r.json()
    assert page["policy"] == "direct page" and page["state"] == "triggered"
    worker.run_due()
    assert org.at("/bob")[0].json()["reason"].startswith("level 1, pass 1 (user bob)")
    timeline = [e["text"] for e in alice.get("/api/v1/incidents/1").json()["timeline"]]
    assert "Paging started (direct page): 1 level(s), 1 pass(es), started by alice" in timeline
    clock.advance(minutes=3)
    worker.run_due()
    assert page_of(alice, page["id"])["state"] == "exhausted"

    r = bob.post("/api/v1/incidents/1/page", json={"policy": "payments"})
    assert r.status_code == 201 and r.json()["policy"] == "payments"
    worker.run_due()
    assert len(org.at("/alice")) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "policy"),
        ({"policy": "payments", "users": ["bob"]}, 422, "policy"),
        ({"policy": "nope"}, 404, "policy"),
        ({"users": []}, 422, "users"),
        ({"users": ["nobody"]}, 404, "user"),
        ({"users": [""]}, 422, "users.0"),
        ({"users": ["bob"], "timeout_minutes": 0}, 422, "timeout_minutes"),
        ({"users": ["bob"], "timeout_minutes": "soon"}, 422, "timeout_minutes"),
        ({"users": "bob"}, 422, "users"),
        ({"policy": "payments", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_page_requests_name_the_field(
    alice: Api, org: Receiver, body: dict[str, Any], status: int, field: str
) -> None:
    declare(alice, services=[])
    r = alice.post("/api/v1/incidents/1/page", json=body)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field


def test_who_may_page_and_what(alice: Api, carol: Api, org: Receiver) -> None:
    declare(alice, services=[])
    assert carol.post("/api/v1/incidents/1/page", json={"users": ["bob"]}).status_code == 403
    assert alice.post("/api/v1/incidents/2/page", json={"users": ["bob"]}).status_code == 404
    alice.post("/api/v1/incidents/1/resolve", json={"summary": "fixed"})
    r = alice.post("/api/v1/incidents/1/page", json={"users": ["bob"]})
    assert r.status_code == 409 and "reopen" in r.json()["error"]


# --- contact methods --------------------------------------------------------------------


def test_contact_is_read_by_its_owner_and_admins_and_secrets_by_the_owner_only(
    admin: Api, alice: Api, bob: Api, org: Receiver
) -> None:
    own = alice.get("/api/v1/users/alice/contact").json()
    assert own["contact_methods"][0] == {
        "name": "phone",
        "kind": "webhook",
        "address": org.url + "/alice",
        "secret": SECRET,
        "signed": True,
    }
    assert own["notification_rules"] == [
        {"method": "phone", "after_minutes": 0},
        {"method": "pager", "after_minutes": 5},
    ]
    by_admin = admin.get("/api/v1/users/alice/contact").json()
    assert "secret" not in by_admin["contact_methods"][0]
    assert by_admin["contact_methods"][0]["signed"] is True
    assert SECRET not in admin.get("/api/v1/users/alice/contact").text
    r = bob.get("/api/v1/users/alice/contact")
    assert r.status_code == 403 and SECRET not in r.text
    assert alice.get("/api/v1/users/nobody/contact").status_code == 404
    # Without methods, pages go to the account email.
    assert admin.get("/api/v1/users/dave/contact").json()["default_email"] == "dave@example.test"


def test_owner_edits_contact_and_a_missing_secret_is_kept(
    admin: Api, alice: Api, bob: Api, org: Receiver
) -> None:
    methods = [
        {"name": "phone", "kind": "webhook", "address": org.url + "/alice-new"},
        {"name": "mail", "kind": "email", "address": "alice@example.test"},
    ]
    rules = [{"method": "mail", "after_minutes": 0}, {"method": "phone", "after_minutes": 2}]
    r = alice.client.put(
        "/api/v1/users/alice/contact",
        headers={"Authorization": f"Bearer {alice.token}"},
        json={"contact_methods": methods, "notification_rules": rules},
    )
    assert r.status_code == 200, r.text
    assert r.json()["contact_methods"][0]["secret"] == SECRET  # omitted: kept
    assert [m["name"] for m in r.json()["contact_methods"]] == ["phone", "mail"]
    assert r.json()["notification_rules"] == rules
    methods[0]["secret"] = ""
    r = put(alice, "alice", {"contact_methods": methods})
    assert (
        r.json()["contact_methods"][0]["signed"] is False and r.json()["notification_rules"] == []
    )
    assert put(bob, "alice", {"contact_methods": []}).status_code == 403
    assert put(admin, "bob", {"contact_methods": methods[1:]}).status_code == 200
    assert admin.get("/api/v1/users/bob/contact").json()["contact_methods"][0]["kind"] == "email"


def put(api: Api, user: str, body: Any) -> Any:
    return api.client.put(
        f"/api/v1/users/{user}/contact",
        headers={"Authorization": f"Bearer {api.token}"},
        json=body,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contact_methods": [{"name": "x", "kind": "sms", "address": "1"}]}, "kind"),
        (
            {"contact_methods": [{"name": "x", "kind": "email", "address": "not mail"}]},
            "contact_methods[0].address",
        ),
        (
            {"contact_methods": [{"name": "x", "kind": "webhook", "address": "ftp://x"}]},
            "contact_methods[0].address",
        ),
        (
            {"contact_methods": [{"name": "x", "kind": "apprise", "address": "nonsense"}]},
            "contact_methods[0].address",
        ),
        (
            {
                "contact_methods": [
                    {"name": "x", "kind": "email", "address": "a@example.test"},
                    {"name": "x", "kind": "email", "address": "b@example.test"},
                ]
            },
            "contact_methods[1].name",
        ),
        ({"notification_rules": [{"method": "phone"}]}, "notification_rules[0].method"),
        (
            {"notification_rules": [{"method": "phone", "after_minutes": 99999}]},
            "notification_rules.0.after_minutes",
        ),
        ({"contact_methods": "phone"}, "contact_methods"),
        ({"contact_methods": [{"name": "", "kind": "email", "address": "a@b"}]}, "name"),
    ],
)
def test_bad_contact_names_the_field_and_changes_nothing(
    alice: Api, org: Receiver, body: dict[str, Any], field: str
) -> None:
    before = alice.get("/api/v1/users/alice/contact").json()
    r = put(alice, "alice", body)
    assert r.status_code == 422, r.text
    assert r.json()["field"].endswith(field), r.json()
    assert alice.get("/api/v1/users/alice/contact").json() == before


def test_arbitrary_contact_and_page_bodies_are_4xx_naming_a_field(
    alice: Api, org: Receiver
) -> None:
    declare(alice, services=[])
    word = st.sampled_from(
        ["phone", "pager", "email", "webhook", "apprise", "sms", "", " ", "a@b.example"]
        + ["http://127.0.0.1:9/x", "json://", "json://127.0.0.1:9", "mailto://", "x" * 70]
    )
    value = json_values | word | st.integers(-5, 2000)
    method = st.dictionaries(st.sampled_from(["name", "kind", "address", "secret", "x"]), value)
    rule = st.dictionaries(st.sampled_from(["method", "after_minutes", "x"]), value)
    contact = st.fixed_dictionaries(
        {},
        optional={
            "contact_methods": st.lists(method, max_size=3) | value,
            "notification_rules": st.lists(rule, max_size=3) | value,
        },
    )
    page = st.fixed_dictionaries(
        {},
        optional={
            "policy": value,
            "users": st.lists(value, max_size=3) | value,
            "timeout_minutes": value,
        },
    )

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.one_of(st.tuples(st.just("contact"), contact), st.tuples(st.just("page"), page)))
    def check(case: tuple[str, Any]) -> None:
        what, body = case
        if what == "contact":
            r = put(alice, "alice", body)
        else:
            r = alice.post("/api/v1/incidents/1/page", json=body)
        assert r.status_code in (200, 201) or 400 <= r.status_code < 500, (body, r.text)
        if r.status_code >= 400:
            assert r.json()["error"] and r.json()["field"], (body, r.text)
        assert alice.get("/api/v1/users/alice/contact").status_code == 200

    check()


# --- test notifications -----------------------------------------------------------------


def test_contact_test_sends_now_and_says_what_happened(
    admin: Api, alice: Api, bob: Api, org: Receiver
) -> None:
    r = alice.post("/api/v1/users/alice/contact/test", json={"method": "phone"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] and out["outcome"] == "delivered"
    [hit] = org.at("/alice")
    assert hit.signed_by(SECRET)
    assert hit.headers["idempotency-key"] == out["idempotency_key"]
    assert hit.json()["event"] == "test" and hit.json()["recipient"] == "alice"
    again = alice.post("/api/v1/users/alice/contact/test", json={"method": "phone"}).json()
    assert again["idempotency_key"] != out["idempotency_key"]  # a new message each time

    org.failing["/alice"] = 500
    r = alice.post("/api/v1/users/alice/contact/test", json={"method": "phone"})
    assert r.status_code == 502
    # A generic outcome: the receiver's answer would make the test a port scanner.
    assert r.json()["error"] == "failed: the receiver did not accept the message"
    assert r.json()["ok"] is False and r.json()["field"] == "method"

    r = alice.post("/api/v1/users/alice/contact/test", json={"method": "sms"})
    assert r.status_code == 404 and r.json()["field"] == "method"
    assert "alice has phone, pager" in r.json()["error"]
    assert bob.post("/api/v1/users/alice/contact/test", json={"method": "phone"}).status_code == 403
    r = admin.post("/api/v1/users/bob/contact/test", json={"method": "hook"})
    assert r.status_code == 200 and "x-warroom-signature" not in org.at("/bob")[0].headers
    assert alice.post("/api/v1/users/alice/contact/test", json={}).json()["field"] == "method"


def test_contact_test_by_email_through_a_real_smtp_server(
    alice: Api, org: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(
        alice,
        "alice",
        {"contact_methods": [{"name": "mail", "kind": "email", "address": "alice@example.test"}]},
    )
    monkeypatch.delenv("WARROOM_SMTP_HOST", raising=False)
    r = alice.post("/api/v1/users/alice/contact/test", json={"method": "mail"})
    assert r.status_code == 502 and "WARROOM_SMTP_HOST is not set" in r.json()["error"]
    with smtp_server() as (port, inbox):
        monkeypatch.setenv("WARROOM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("WARROOM_SMTP_PORT", str(port))
        monkeypatch.setenv("WARROOM_SMTP_FROM", "pager@acme.example")
        r = alice.post("/api/v1/users/alice/contact/test", json={"method": "mail"})
        assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "delivered"
    [(rcpt, text)] = inbox
    assert rcpt == ["alice@example.test"]
    assert "From: pager@acme.example" in text
    assert f"X-Warroom-Idempotency-Key: {r.json()['idempotency_key']}" in text
    assert "Subject: warroom test notification for alice (mail)" in text


def test_contact_test_through_apprise(alice: Api, org: Receiver) -> None:
    """An Apprise URL (json:// posts a JSON document) against the local receiver."""
    address = org.url.replace("http://", "json://") + "/apprise"
    r = put(
        alice, "alice", {"contact_methods": [{"name": "ap", "kind": "apprise", "address": address}]}
    )
    assert r.status_code == 200, r.text
    r = alice.post("/api/v1/users/alice/contact/test", json={"method": "ap"})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "delivered"
    [hit] = org.at("/apprise")
    assert "ref: test:alice:ap:" in hit.json()["message"]
    org.failing["/apprise"] = 500
    r = alice.post("/api/v1/users/alice/contact/test", json={"method": "ap"})
    assert r.status_code == 502
    assert r.json()["error"] == "failed: the receiver did not accept the message"


class smtp_server:  # noqa: N801 (used as a context manager)
    """A real SMTP server on 127.0.0.1 (aiosmtpd) collecting (recipients, message text)."""

    def __enter__(self) -> tuple[int, list[tuple[list[str], str]]]:
        from aiosmtpd.controller import Controller

        inbox: list[tuple[list[str], str]] = []
        lock = threading.Lock()

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                with lock:
                    inbox.append((list(envelope.rcpt_tos), envelope.content.decode()))
                return "250 OK"

        port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        return port, inbox

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()


# --- OpenAPI ----------------------------------------------------------------------------


def test_paging_routes_are_in_openapi(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/api/v1/escalation-policies", "get"),
        ("/api/v1/escalation-policies/{name}", "get"),
        ("/api/v1/pages", "get"),
        ("/api/v1/pages/{page_id}", "get"),
        ("/api/v1/pages/{page_id}/ack", "post"),
        ("/api/v1/pages/{page_id}/resolve", "post"),
        ("/api/v1/incidents/{incident_id}/page", "post"),
        ("/api/v1/users/{name}/contact", "get"),
        ("/api/v1/users/{name}/contact", "put"),
        ("/api/v1/users/{name}/contact/test", "post"),
    ]:
        assert method in paths.get(path, {}), path
    assert "/page/{token}" not in paths and "/pages" not in paths


def test_a_contact_method_name_with_spaces_around_it_is_kept_trimmed(
    alice: Api, org: Receiver
) -> None:
    body = {
        "contact_methods": [{"name": " phone ", "kind": "webhook", "address": org.url + "/x"}],
        "notification_rules": [{"method": "phone", "after_minutes": 0}],
    }
    r = put(alice, "alice", body)
    assert r.status_code == 200, r.text
    got = alice.get("/api/v1/users/alice/contact").json()
    assert [m["name"] for m in got["contact_methods"]] == ["phone"]
    assert got["notification_rules"] == [{"method": "phone", "after_minutes": 0}]
