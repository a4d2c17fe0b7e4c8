"""Heartbeat monitors on both stores, with the injected clock: on time, late, paused,
maintenance, recovery; the missed beat's alert pages through an escalation policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import Api
from tests.paging_support import Receiver, apply, organisation
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.worker import Worker


@pytest.fixture
def org(admin: Api) -> Iterator[Receiver]:
    with Receiver() as hook:
        apply(admin, organisation(hook))
        yield hook


@pytest.fixture
def worker(db: Database, clock: ManualClock) -> Worker:
    return Worker(db, clock)


def create(admin: Api, name: str = "backup", **kw: Any) -> dict[str, Any]:
    body = {"name": name, "service": "checkout", "interval": "5m", "grace": "2m", **kw}
    r = admin.post("/api/v1/heartbeats", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def show(api: Api, name: str = "backup") -> dict[str, Any]:
    r = api.get(f"/api/v1/heartbeats/{name}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def ping(client: Any, url: str, method: str = "GET") -> int:
    path = url.split("://", 1)[1].split("/", 1)[1]
    return int(client.request(method, "/" + path).status_code)


def alerts(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/alerts").json()["items"])


def test_on_time_pings_keep_it_up_and_the_timer_moves_in_place(
    admin: Api,
    alice: Api,
    client: Any,
    org: Receiver,
    worker: Worker,
    clock: ManualClock,
    db: Database,
) -> None:
    created = create(admin)
    assert created["url"].startswith("http://testserver/ping/hb_")
    assert created["state"] == "new" and created["deadline_at"] == "2026-03-02T09:07:00Z"
    for minutes in (4, 5, 5):
        clock.advance(minutes=minutes)
        assert ping(client, created["url"], "GET" if minutes == 4 else "POST") == 200
        worker.run_due()
    hb = show(alice)
    assert hb["state"] == "up" and hb["last_ping_at"] == "2026-03-02T09:14:00Z"
    assert hb["next_expected_at"] == "2026-03-02T09:19:00Z"
    assert hb["deadline_at"] == "2026-03-02T09:21:00Z"
    assert hb["intervals_seconds"] == [300, 300] and hb["last_ping_source"] == "POST"
    assert hb["outages"] == [] and alerts(alice) == []
    with db.read() as s:
        jobs = [j.state for j in s.scalars(select(Job).where(Job.kind == "heartbeat_deadline"))]
    assert jobs == ["pending"]  # moved, never enqueued again
    assert org.received == []


def test_a_missed_beat_raises_an_alert_that_pages_and_the_next_ping_resolves_it(
    admin: Api, alice: Api, client: Any, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    created = create(admin)
    clock.advance(minutes=1)
    ping(client, created["url"])
    clock.advance(minutes=7, seconds=-1)
    worker.run_due()
    assert show(alice)["state"] == "late" and alerts(alice) == []
    clock.advance(seconds=1)  # exactly interval + grace after the last ping
    worker.run_due()
    hb = show(alice)
    assert hb["state"] == "down"
    assert hb["outages"] == [
        {"started_at": "2026-03-02T09:08:00Z", "ended_at": None, "ended_by": None}
    ]
    [alert] = alerts(alice)
    assert alert["dedup_key"] == "heartbeat:backup" and alert["service"] == "checkout"
    assert alert["summary"].startswith("No heartbeat from backup for 7 min")
    assert alert["incident"] == "INC-1" and alert["status"] == "triggered"
    [page] = org.at("/alice")  # the on-call person of checkout's policy
    assert "backup" in str(page.json())
    # Later runs of the engine raise nothing more.
    clock.advance(minutes=30)
    worker.run_due()
    assert len(alerts(alice)) == 1
    # The next ping resolves the alert; the incident it opened resolves with it.
    assert ping(client, created["url"], "POST") == 200
    hb = show(alice)
    assert hb["state"] == "up" and hb["outages"][0]["ended_by"] == "ping"
    [alert] = alerts(alice)
    assert alert["status"] == "resolved"
    assert alice.get("/api/v1/incidents/INC-1").json()["status"] == "resolved"


def test_never_pinged_goes_down_at_its_first_deadline(
    admin: Api, alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    create(admin, severity="warning")
    clock.advance(minutes=7)
    worker.run_due()
    [alert] = alerts(alice)
    assert alert["summary"].startswith("No heartbeat yet from backup for 7 min")
    assert alert["incident"] is None  # a warning opens no incident by default


def test_paused_never_goes_down_and_resume_gives_a_full_interval(
    admin: Api, alice: Api, client: Any, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    created = create(admin)
    r = admin.post("/api/v1/heartbeats/backup/pause")
    assert r.status_code == 200 and r.json()["state"] == "paused"
    clock.advance(hours=3)
    worker.run_due()
    assert ping(client, created["url"]) == 200  # recorded, changes nothing
    hb = show(alice)
    assert hb["state"] == "paused" and hb["deadline_at"] is None and alerts(alice) == []
    assert admin.post("/api/v1/heartbeats/backup/resume").json()["deadline_at"] == (
        "2026-03-02T12:07:00Z"
    )
    clock.advance(minutes=6)
    worker.run_due()
    assert show(alice)["state"] == "late" and alerts(alice) == []
    clock.advance(minutes=1)
    worker.run_due()
    assert show(alice)["state"] == "down" and len(alerts(alice)) == 1


def test_pausing_a_down_monitor_resolves_its_alert(
    admin: Api, alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    create(admin)
    clock.advance(minutes=7)
    worker.run_due()
    assert alerts(alice)[0]["status"] == "triggered"
    admin.post("/api/v1/heartbeats/backup/pause")
    assert alerts(alice)[0]["status"] == "resolved"
    assert show(alice)["outages"][0]["ended_by"] == "paused"


def test_a_maintenance_window_holds_the_deadline_until_after_it(
    admin: Api, alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    create(admin)
    clock.advance(minutes=3)  # a window starts mid-interval, for 30 minutes
    r = alice.post(
        "/api/v1/silences",
        json={
            "kind": "maintenance",
            "services": ["checkout"],
            "ends_at": "2026-03-02T09:33:00Z",
            "comment": "database upgrade",
        },
    )
    assert r.status_code == 201, r.text
    assert show(alice)["state"] == "maintenance"
    clock.advance(minutes=4)  # the first deadline, inside the window
    worker.run_due()
    hb = show(alice)
    assert hb["state"] == "maintenance" and hb["deadline_at"] == "2026-03-02T09:40:00Z"
    clock.set(clock.now().replace(minute=33))  # the window ends: a full interval again
    worker.run_due()
    assert show(alice)["state"] == "new" and alerts(alice) == []
    clock.set(clock.now().replace(minute=40))
    worker.run_due()
    assert show(alice)["state"] == "down" and len(alerts(alice)) == 1


def test_a_window_cut_short_is_seen_when_it_ends(
    admin: Api, alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    create(admin)
    r = alice.post(
        "/api/v1/silences",
        json={
            "kind": "maintenance",
            "services": ["checkout"],
            "ends_at": "2026-03-02T11:00:00Z",
            "comment": "migration",
        },
    )
    silence = r.json()["id"]
    clock.advance(minutes=7)
    worker.run_due()  # inside the window: the timer waits for its end
    clock.advance(minutes=3)
    assert alice.post(f"/api/v1/silences/{silence}/expire").status_code == 200
    clock.advance(minutes=7)  # 09:17: interval + grace after the window ended
    worker.run_due()
    clock.advance(hours=2)  # the window's planned end: the timer looks again
    worker.run_due()
    assert show(alice)["state"] == "down" and len(alerts(alice)) == 1


def test_roles_validation_and_wrong_secrets(
    admin: Api, alice: Api, carol: Api, client: Any, org: Receiver
) -> None:
    body = {"name": "x", "service": "checkout", "interval": "5m"}
    assert alice.post("/api/v1/heartbeats", json=body).status_code == 403
    for field, bad in (
        ("interval", "5 minutes"),
        ("interval", "0s"),
        ("grace", "-1m"),
        ("service", "nope"),
        ("name", "a/b"),
    ):
        r = admin.post("/api/v1/heartbeats", json={**body, field: bad})
        assert r.status_code == 422 and r.json()["field"] == field, (field, r.text)
    r = admin.post("/api/v1/heartbeats", json={**body, "severity": "loud"})
    assert r.status_code == 422 and r.json()["field"] == "severity"
    created = create(admin, "x")
    r = admin.post("/api/v1/heartbeats", json=body)
    assert r.status_code == 409 and r.json()["field"] == "name"
    assert carol.get("/api/v1/heartbeats").json()[0]["name"] == "x"
    assert "url" not in carol.get("/api/v1/heartbeats/x").json()
    assert alice.post("/api/v1/heartbeats/x/pause").status_code == 403
    assert alice.delete("/api/v1/heartbeats/x").status_code == 403
    assert admin.get("/api/v1/heartbeats/nope").json()["field"] == "name"
    token = created["url"].rsplit("/", 1)[1]
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "hb_x", "nothing"):
        r = client.get(f"/ping/{wrong}")
        assert r.status_code == 404 and r.json() == {
            "error": "unknown heartbeat URL",
            "field": "token",
        }
    assert client.get(f"/ping/{token}").json() == {"status": "ok"}
    # Only the hash is stored.
    assert token not in admin.get("/api/v1/config/export").text
    assert admin.delete("/api/v1/heartbeats/x").status_code == 204
    assert client.get(f"/ping/{token}").status_code == 404
    assert admin.get("/api/v1/heartbeats").json() == []


def test_heartbeat_routes_are_in_openapi(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/heartbeats", "/api/v1/heartbeats/{name}", "/ping/{token}"} <= set(
        spec["paths"]
    )
    assert "HeartbeatCreatedOut" in spec["components"]["schemas"]
    assert set(spec["paths"]["/ping/{token}"]) == {"get", "post"}


def test_deleting_a_down_monitor_resolves_its_alert(
    admin: Api, alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    create(admin)
    clock.advance(minutes=7)
    worker.run_due()
    assert admin.delete("/api/v1/heartbeats/backup").status_code == 204
    assert alerts(alice)[0]["status"] == "resolved"
    # The name can be used again.
    create(admin)
    clock.advance(minutes=7)
    worker.run_due()
    assert [a["status"] for a in alerts(alice)] == ["triggered", "resolved"]


def _watchdog(status: str = "firing", others: int = 0) -> dict[str, Any]:
    alerts = [
        {
            "status": status,
            "labels": {"alertname": "Watchdog", "severity": "none"},
            "annotations": {},
            "startsAt": "2026-03-02T08:00:00Z",
            "fingerprint": "watchdog",
        }
    ]
    for i in range(others):
        alerts.append(
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "severity": "critical", "n": str(i)},
                "annotations": {"summary": "p99 over 2s"},
                "startsAt": "2026-03-02T08:00:00Z",
            }
        )
    return {
        "version": "4",
        "status": status,
        "receiver": "warroom",
        "groupKey": "{}:{}",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": alerts,
    }


def config_doc(hook: Receiver) -> dict[str, Any]:
    doc = organisation(hook)
    doc["heartbeats"] = [
        {"name": "prometheus-eu", "service": "checkout", "interval": "1m", "grace": "2m"},
        {
            "name": "nightly-backup",
            "service": "checkout",
            "interval": "1d",
            "grace": "1h",
            "severity": "warning",
            "description": "pg_dump to the bucket",
        },
    ]
    doc["integrations"] = [
        {
            "name": "prometheus",
            "kind": "alertmanager",
            "service": "checkout",
            "heartbeat": {"alert": "Watchdog", "monitor": "prometheus-eu"},
        }
    ]
    return doc


def test_config_as_code_creates_round_trips_and_names_bad_fields(
    admin: Api, alice: Api, client: Any, worker: Worker, clock: ManualClock
) -> None:
    with Receiver() as hook:
        doc = config_doc(hook)
        r = admin.post("/api/v1/config/apply", json={"config": doc})
        assert r.status_code == 200, r.text
        changes = r.json()["changes"]
        keys = {c["name"]: c.get("key") for c in changes if c["kind"] == "heartbeats"}
        assert set(keys) == {"prometheus-eu", "nightly-backup"}
        assert all(k and k.startswith("hb_") for k in keys.values())
        assert client.get(f"/ping/{keys['nightly-backup']}").status_code == 200
        exported = admin.get("/api/v1/config/export").text
        assert "kind: heartbeat" not in exported  # no internal integration
        r = admin.post("/api/v1/config/apply", json={"config": doc})
        assert r.json()["changes"] == []  # idempotent
        again = yaml.safe_load(exported)
        assert again["heartbeats"][1] == {
            "name": "prometheus-eu",
            "service": "checkout",
            "interval": "1m",
            "grace": "2m",
            "severity": "critical",
            "description": "",
            "paused": False,
        }
        assert again["integrations"][0]["heartbeat"] == {
            "alert": "Watchdog",
            "monitor": "prometheus-eu",
        }
        r = admin.post("/api/v1/config/apply", json={"config": again})
        assert r.status_code == 200 and r.json()["changes"] == []
        # A change of interval moves the deadline; the secret is kept.
        doc["heartbeats"][0]["interval"] = "5m"
        doc["heartbeats"][1]["paused"] = True
        r = admin.post("/api/v1/config/apply", json={"config": doc})
        assert [(c["name"], c.get("fields")) for c in r.json()["changes"]] == [
            ("prometheus-eu", ["interval"]),
            ("nightly-backup", ["paused"]),
        ]
        assert show(alice, "prometheus-eu")["deadline_at"] == "2026-03-02T09:07:00Z"
        assert show(alice, "nightly-backup")["state"] == "paused"
        assert client.get(f"/ping/{keys['nightly-backup']}").status_code == 200
        # Errors name the field.
        bad = config_doc(hook)
        bad["heartbeats"][0]["interval"] = "soon"
        bad["heartbeats"][1]["service"] = "nope"
        bad["integrations"][0]["heartbeat"]["monitor"] = "missing"
        r = admin.post("/api/v1/config/apply", json={"config": bad})
        assert r.status_code == 422
        paths = {p["location"] for p in r.json()["problems"]}
        assert {
            "heartbeats[0].interval",
            "heartbeats[1].service",
            "integrations[0].heartbeat.monitor",
        } <= paths, paths
        # A service still watched cannot be deleted; the section left empty deletes them.
        r = admin.post("/api/v1/config/apply", json={"config": {"services": []}})
        assert r.status_code == 422 and "heartbeat monitor" in r.text
        doc["heartbeats"] = []
        doc["integrations"][0].pop("heartbeat")
        r = admin.post("/api/v1/config/apply", json={"config": doc})
        assert r.status_code == 200, r.text
        assert admin.get("/api/v1/heartbeats").json() == []


def test_the_watchdog_of_an_alertmanager_integration_is_a_ping_not_an_alert(
    admin: Api, alice: Api, client: Any, worker: Worker, clock: ManualClock
) -> None:
    with Receiver() as hook:
        r = admin.post("/api/v1/config/apply", json={"config": config_doc(hook)})
        key = next(c["key"] for c in r.json()["changes"] if c["kind"] == "integrations")
        for _ in range(3):
            clock.advance(minutes=2)
            r = client.post(f"/integrations/alertmanager/{key}", json=_watchdog())
            assert r.status_code == 202 and r.json()["alerts"] == 0, r.text
            worker.run_due()
        hb = show(alice, "prometheus-eu")
        assert hb["state"] == "up" and hb["last_ping_source"] == "alertmanager"
        assert hb["last_ping_at"] == "2026-03-02T09:06:00Z" and alerts(alice) == []
        # Other alerts of the same notification are ingested as usual.
        clock.advance(minutes=1)
        r = client.post(f"/integrations/alertmanager/{key}", json=_watchdog(others=2))
        assert r.status_code == 202 and r.json()["alerts"] == 2
        assert {a["labels"]["alertname"] for a in alerts(alice)} == {"HighLatency"}
        assert show(alice, "prometheus-eu")["last_ping_at"] == "2026-03-02T09:07:00Z"
        # A resolved Watchdog is not a ping, and is not ingested either.
        clock.advance(minutes=1)
        r = client.post(f"/integrations/alertmanager/{key}", json=_watchdog("resolved"))
        assert r.status_code == 202 and r.json()["alerts"] == 0
        assert show(alice, "prometheus-eu")["last_ping_at"] == "2026-03-02T09:07:00Z"
        # Silence: three minutes after the last Watchdog the monitor is down and pages.
        clock.set(clock.now().replace(minute=10))
        worker.run_due()
        assert show(alice, "prometheus-eu")["state"] == "down"
        assert any(a["dedup_key"] == "heartbeat:prometheus-eu" for a in alerts(alice))
        assert hook.at("/alice")
        r = client.post(f"/integrations/alertmanager/{key}", json=_watchdog())
        assert show(alice, "prometheus-eu")["state"] == "up"
        mine = [a for a in alerts(alice) if a["dedup_key"] == "heartbeat:prometheus-eu"]
        assert [a["status"] for a in mine] == ["resolved"]


def test_the_heartbeats_page_shows_state_last_ping_and_a_sparkline(
    admin: Api, client: Any, org: Receiver, clock: ManualClock, db: Database
) -> None:
    from tests.test_web import give_password, login, text_of

    created = create(admin, description="<b>pg_dump</b>")
    create(admin, "quiet")
    for minutes in (5, 4, 6):
        clock.advance(minutes=minutes)
        ping(client, created["url"])
    give_password(db, "alice")
    login(client, "alice")
    r = client.get("/heartbeats")
    assert r.status_code == 200
    assert "script-src" in r.headers["content-security-policy"]
    text = text_of(r.text)
    assert "backup <b>pg_dump</b> up" in text and "quiet down" in text
    assert "<b>pg_dump</b>" in text and "<b>pg_dump</b>" not in r.text  # escaped
    assert "2026-03-02T09:15:00Z GET" in text and "never" in text
    assert r.text.count("<svg") == 1 and "<polyline" in r.text
    assert "<script" not in r.text.split("<body>", 1)[1] or "src=" in r.text
    assert '<a href="/heartbeats">Heartbeats</a>' in r.text


def test_the_handoff_lists_monitors_of_its_services_that_were_down_in_the_shift(
    admin: Api, client: Any, db: Database, clock: ManualClock
) -> None:
    from tests.test_oncall_handoff import apply as apply_ops
    from tests.test_oncall_handoff import ops_config

    doc = ops_config()
    doc["heartbeats"] = [
        {"name": "db-backup", "service": "db", "interval": "1h"},
        {"name": "shop-cron", "service": "shop", "interval": "1h"},  # another team's
    ]
    keys = {c["name"]: c.get("key") for c in apply_ops(admin, doc)["changes"]}
    engine = Worker(db, clock)
    clock.advance(hours=1)
    engine.run_due()  # 10:00: both down
    clock.advance(hours=1)
    assert client.get(f"/ping/{keys['db-backup']}").status_code == 200  # 11:00: up again
    assert admin.post("/api/v1/heartbeats/db-backup/pause").status_code == 200
    clock.set(clock.now().replace(day=3, hour=9))
    engine.run_due()
    (listed,) = admin.get("/api/v1/oncall/handoffs").json()
    note = admin.get(f"/api/v1/oncall/handoffs/{listed['id']}").json()["note"]
    assert note["heartbeats"] == [
        {
            "name": "db-backup",
            "started_at": "2026-03-02T10:00:00Z",
            "ended_at": "2026-03-02T11:00:00Z",
        }
    ]


def test_a_past_deadline_the_engine_has_not_acted_on_is_visible(
    admin: Api, alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    """What an external probe of the engine looks for (docs/heartbeats.md)."""
    create(admin)
    clock.advance(minutes=8)  # past the deadline, engine not run
    hb = show(alice)
    assert hb["state"] == "down" and hb["deadline_at"] == "2026-03-02T09:07:00Z"
    assert hb["outages"] == [] and alerts(alice) == []
    worker.run_due()
    hb = show(alice)
    assert hb["state"] == "down" and hb["deadline_at"] is None and len(hb["outages"]) == 1
