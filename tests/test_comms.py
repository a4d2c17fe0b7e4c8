"""Update templates, posting updates and the update cadence. Time is moved, never slept."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker


def declare(api: Api, **kw: Any) -> dict[str, Any]:
    body = {"title": "Checkout errors", "severity": "SEV-1", **kw}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def timeline(api: Api, ref: str = "1", kind: str | None = None) -> list[dict[str, Any]]:
    tl = api.get(f"/api/v1/incidents/{ref}").json()["timeline"]
    return [e for e in tl if kind is None or e["kind"] == kind]


def add_services(db: Database, clock: ManualClock, *names: str) -> None:
    with db.session() as s:
        config.apply(s, clock, {"services": [{"name": n} for n in names]})


def test_three_hour_outage_states_its_real_duration(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    add_services(db, clock, "payments")
    declare(alice, services=["payments"], impact_summary="Card payments fail for EU customers.")
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    clock.advance(hours=2)
    alice.post("/api/v1/incidents/1/status", json={"status": "monitoring"})
    clock.advance(hours=1)
    alice.post("/api/v1/incidents/1/resolve", json={"summary": "Rolled back release 42."})
    r = alice.post("/api/v1/incidents/1/updates", json={"template": "resolution", "preview": True})
    assert r.status_code == 200, r.text
    out = r.json()
    assert "Duration of impact: 3 h." in out["text"]
    assert "mitigated 2026-03-02 11:00 UTC, resolved 2026-03-02 12:00 UTC" in out["text"]
    assert "Rolled back release 42." in out["text"]
    assert "payments" in out["text"] and "Card payments fail" in out["text"]
    assert out["event"] is None and timeline(alice, kind="communication") == []
    r = alice.post("/api/v1/incidents/1/updates", json={"template": "statuspage_resolved"})
    assert "from 2026-03-02 09:00 UTC to 2026-03-02 12:00 UTC (3 h)" in r.json()["text"]


def test_unrecorded_facts_are_placeholders_and_warnings(alice: Api, clock: ManualClock) -> None:
    declare(alice)
    out = alice.post("/api/v1/incidents/1/updates", json={"template": "status", "preview": True})
    body = out.json()
    text = body["text"]
    assert "[not recorded: impact summary]" in text
    assert "[not recorded: services]" in text
    assert "[not recorded: incident commander]" in text
    assert "[not recorded: communications lead]" in text
    assert "not recorded: impact summary" in body["warnings"]
    assert "not recorded: incident commander" in body["warnings"]
    # Nothing invented: the mitigated sentence is left out, not filled in.
    assert "Mitigated" not in text and "not recorded: mitigated time" not in body["warnings"]
    # The resolution template names the missing times instead of guessing them.
    out = alice.post(
        "/api/v1/incidents/1/updates", json={"template": "resolution", "preview": True}
    ).json()
    assert "[not recorded: mitigated time]" in out["text"]
    assert "[not recorded: resolved time]" in out["text"]
    assert "not recorded: resolved time" in out["warnings"]
    # No affected share is recorded, so none is stated.
    email = alice.post(
        "/api/v1/incidents/1/updates", json={"template": "customer_email", "preview": True}
    ).json()
    assert "%" not in email["text"] and "Share of customers" not in email["text"]


def test_posting_records_a_communication_event_without_a_channel(
    alice: Api, carol: Api, clock: ManualClock
) -> None:
    declare(alice, impact_summary="Checkout fails for everyone.")
    clock.advance(minutes=10)
    r = alice.post(
        "/api/v1/incidents/1/updates",
        json={"template": "status", "extra": "Rolling back now.", "audience": "internal"},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert "Rolling back now." in out["text"]
    assert "Next update: 2026-03-02 09:40 UTC" in out["text"]  # SEV-1: every 30 min
    assert out["delivery"] == "none"
    events = timeline(alice, kind="communication")
    assert len(events) == 1
    assert events[0]["text"] == out["text"]
    assert events[0]["data"]["template"] == "status"
    assert events[0]["data"]["audience"] == "internal"
    assert events[0]["data"]["delivery"] == "none"
    # Viewers may read but not post.
    assert carol.post("/api/v1/incidents/1/updates", json={"template": "status"}).status_code == 403
    bad = alice.post("/api/v1/incidents/1/updates", json={"template": "nope"})
    assert bad.status_code == 422 and bad.json()["field"] == "template"


def test_internal_cadence_reminds_comms_lead_and_resets_on_update(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    alice.post("/api/v1/incidents/1/roles", json={"role": "comms", "user": "bob"})
    worker = Worker(db, clock)

    def cadence() -> list[str]:
        return [
            e["text"]
            for e in timeline(alice, kind="warning")
            if e["data"].get("warning") == "update_cadence"
        ]

    clock.advance(minutes=29, seconds=59)
    worker.run_due()
    assert cadence() == []
    clock.advance(seconds=1)
    worker.run_due()
    assert cadence() == [
        "Internal update due: no internal update since declaration 30 min ago "
        "(SEV-1 cadence: every 30 min); reminder to bob (Communications Lead)"
    ]
    worker.run_due()  # the same instant again: nothing more
    assert len(cadence()) == 1
    clock.advance(minutes=30)
    worker.run_due()
    assert cadence()[-1].startswith("Internal update overdue: no internal update since")
    # Posting an update resets the clock.
    alice.post("/api/v1/incidents/1/updates", json={"template": "status"})
    clock.advance(minutes=29)
    worker.run_due()
    assert len(cadence()) == 2
    clock.advance(minutes=1)
    worker.run_due()
    assert cadence()[-1] == (
        "Internal update due: last internal update 30 min ago (SEV-1 cadence: every 30 min); "
        "reminder to bob (Communications Lead)"
    )
    # Resolved: the reminders stop.
    alice.post("/api/v1/incidents/1/resolve", json={})
    clock.advance(hours=3)
    worker.run_due()
    assert len(cadence()) == 3


def test_cadence_falls_back_to_ic_and_follows_severity(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, severity="SEV-3")  # internal updates every 120 min
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    worker = Worker(db, clock)
    clock.advance(minutes=20)
    alice.post("/api/v1/incidents/1/severity", json={"severity": "SEV-1"})
    clock.advance(minutes=10)  # 30 min after declaration: SEV-1's interval
    worker.run_due()
    texts = [e["text"] for e in timeline(alice, kind="warning")]
    assert texts == [
        "Internal update due: no internal update since declaration 30 min ago "
        "(SEV-1 cadence: every 30 min); reminder to alice (Incident Commander)"
    ]
    # The old SEV-3 timer (120 min) stays quiet.
    clock.advance(minutes=90)
    worker.run_due()
    assert all("SEV-3" not in t for t in (e["text"] for e in timeline(alice, kind="warning")))


def test_external_cadence_only_for_customer_facing(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, title="Internal wiki", customer_facing=False)
    declare(alice, title="API down", customer_facing=True)
    alice.post("/api/v1/incidents/1/updates", json={"template": "status"})
    alice.post("/api/v1/incidents/2/updates", json={"template": "status"})
    worker = Worker(db, clock)
    clock.advance(minutes=60)
    worker.run_due()
    ext1 = [e for e in timeline(alice, "1", "warning") if e["data"].get("audience") == "external"]
    ext2 = [e for e in timeline(alice, "2", "warning") if e["data"].get("audience") == "external"]
    assert ext1 == []
    assert len(ext2) == 1 and ext2[0]["text"].startswith("External update due")
    # An external update (status page wording) resets the external clock only.
    r = alice.post("/api/v1/incidents/2/updates", json={"template": "statuspage_investigating"})
    assert r.json()["audience"] == "external"
    cad = alice.get("/api/v1/incidents/2/updates/cadence").json()
    assert cad["external"]["next_update_due"] == "2026-03-02T11:00:00Z"
    assert cad["internal"]["interval_minutes"] == 30


def test_customer_email_and_summary_after_resolution_and_extra_is_not_a_template(
    alice: Api, clock: ManualClock
) -> None:
    declare(alice, impact_summary="API requests fail.", customer_facing=True)
    r = alice.post(
        "/api/v1/incidents/1/updates",
        json={"template": "customer_email", "preview": True, "extra": "{{ title.upper() }}"},
    ).json()
    assert "{{ title.upper() }}" in r["text"]  # typed text is text, never evaluated
    assert "CHECKOUT ERRORS" not in r["text"]
    assert "We will write again by 2026-03-02 10:00 UTC." in r["text"]  # SEV-1 external: 60 min
    clock.advance(hours=1, minutes=25)
    alice.post("/api/v1/incidents/1/resolve", json={"summary": "Restarted the pool."})
    email = alice.post(
        "/api/v1/incidents/1/updates", json={"template": "customer_email", "preview": True}
    ).json()
    assert "From 2026-03-02 09:00 UTC to 2026-03-02 10:25 UTC (1 h 25 min)" in email["text"]
    assert "not recorded: next update time" not in email["warnings"]
    summary = alice.post(
        "/api/v1/incidents/1/updates", json={"template": "executive_summary", "preview": True}
    ).json()
    assert (
        "Duration: 1 h 25 min (started 2026-03-02 09:00 UTC, resolved 2026-03-02 10:25 UTC)"
        in (summary["text"])
    )
    assert "Next update" not in summary["text"]
    # A closed incident takes no more updates (a preview still renders).
    alice.post("/api/v1/incidents/1/status", json={"status": "closed"})
    closed = alice.post("/api/v1/incidents/1/updates", json={"template": "resolution"})
    assert closed.status_code == 409


def test_internal_updates_reach_the_owning_teams_channel(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    from tests.receivers import WebhookReceiver

    hook = WebhookReceiver().start()
    try:
        with db.session() as s:
            config.apply(
                s,
                clock,
                {
                    "teams": [
                        {
                            "name": "payments",
                            "channel": "#team-payments",
                            "channel_url": hook.url + "/chat",
                        },
                        {"name": "search"},
                    ],
                    "services": [
                        {"name": "checkout", "owner": "payments"},
                        {"name": "catalog", "owner": "search"},
                    ],
                },
            )
        declare(alice, services=["checkout", "catalog"])
        hook.status = 503  # the chat service is down at first
        r = alice.post(
            "/api/v1/incidents/1/updates",
            json={"template": "status", "extra": "Rolling back.", "audience": "internal"},
        )
        out = r.json()
        assert out["delivery"] == "queued" and out["channels"] == ["#team-payments"]
        worker = Worker(db, clock)
        worker.run_due()
        failed = timeline(alice, kind="delivery")
        assert len(failed) == 1
        assert failed[0]["text"].startswith(
            "Delivering the update to #team-payments failed (attempt 1): webhook"
        )
        assert "HTTP 503" in failed[0]["text"] and "retrying at" in failed[0]["text"]
        hook.status = 200
        clock.advance(minutes=1)
        worker.run_due()
        assert len(hook.received) == 1
        got = hook.received[0]
        assert got.path == "/chat"
        assert got.headers["idempotency-key"] == f"update:{out['event']['id']}:1"
        assert "Rolling back." in got.json()["text"]
        assert got.json()["incident"]["id"] == "INC-1"
        done = timeline(alice, kind="delivery")
        assert done[-1]["text"] == "Update delivered to #team-payments: webhook answered HTTP 200"
        # External updates are for the status page; they are not posted to chat.
        r = alice.post(
            "/api/v1/incidents/1/updates",
            json={"template": "statuspage_investigating", "audience": "external"},
        )
        assert r.json()["delivery"] == "none" and "status page" in r.json()["delivery_note"]
        worker.run_due()
        assert len(hook.received) == 1
    finally:
        hook.stop()
