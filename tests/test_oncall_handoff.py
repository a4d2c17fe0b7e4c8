"""Handoff notes: where the person on call changes, what the outgoing person's note says,
what the incoming person's checklist asks, remarks, and the engine job that writes them.

The clock starts at Monday 2026-03-02 09:00 UTC. The `ops` schedule hands over daily at
09:00 UTC: alice (Europe/Berlin) from Monday 09:00, bob from Tuesday 09:00, alice again
on Wednesday; dave is the secondary throughout. Its escalation policy pages the primary,
then after 15 minutes the secondary; the `api` service uses it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import Api, LiveServer
from tests.receivers import WebhookReceiver
from tests.test_web import give_password, login, text_of
from warroom.alerts import ingestion as alert_ingestion
from warroom.alerts import integrations as alert_integrations
from warroom.alerts.parsers import NormalizedEvent
from warroom.cli.main import main
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.worker import Worker
from warroom.oncall import rules, service
from warroom.oncall.rules import Layer, Override, Schedule, Window, make_anchor, shifts_between
from warroom.shifts import handoff, handoff_service
from warroom.shifts.models import Handoff

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def z(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def daily(
    name: str = "primary",
    members: tuple[str, ...] = ("alice", "bob"),
    *,
    level: int = 1,
    windows: tuple[Window, ...] = (),
    zone: str = "UTC",
) -> Layer:
    anchor = make_anchor(date(2026, 3, 2), "09:00")
    return Layer(name, members, zone, anchor, timedelta(days=1), level=level, windows=windows)


# --- pure: where handoffs are ---------------------------------------------------------------


def test_daily_rotation_hands_over_each_morning_and_the_first_shift_has_no_handoff() -> None:
    sched = Schedule("ops", (daily(),))
    found = handoff.handoffs(shifts_between(sched, T0, T0 + timedelta(days=3)))
    assert [(h.at, h.outgoing, h.incoming) for h in found] == [
        (utc(2026, 3, 3, 9), "alice", "bob"),
        (utc(2026, 3, 4, 9), "bob", "alice"),
    ]
    assert found[0].shift_start == T0 and found[0].shift_end == utc(2026, 3, 3, 9)


def test_a_restricted_layer_is_one_duty_until_someone_else_takes_over() -> None:
    # Weekly, business hours only: alice is on call five mornings in a row; the gaps
    # (nights, the weekend) do not end her duty, and bob takes over on Monday 09:00.
    office = Window(frozenset(range(5)), time(9), time(17))
    layer = Layer(
        "office",
        ("alice", "bob"),
        "UTC",
        make_anchor(date(2026, 3, 2), "Monday 09:00"),
        timedelta(weeks=1),
        windows=(office,),
    )
    tl = shifts_between(Schedule("ops", (layer,)), T0, T0 + timedelta(days=8))
    assert len(tl.final[1]) == 6  # five days of alice, one of bob
    duties = handoff.duties(tl.final[1])
    assert [(d.user, d.start, d.end) for d in duties] == [
        ("alice", T0, utc(2026, 3, 6, 17)),
        ("bob", utc(2026, 3, 9, 9), utc(2026, 3, 9, 17)),
    ]
    (h,) = handoff.handoffs(tl)
    assert (h.at, h.outgoing, h.incoming, h.shift_end) == (
        utc(2026, 3, 9, 9),
        "alice",
        "bob",
        utc(2026, 3, 6, 17),
    )


def test_an_override_hands_over_twice_and_levels_hand_over_separately() -> None:
    cover = Override(utc(2026, 3, 2, 12), utc(2026, 3, 2, 14), "carol", covering="alice")
    sched = Schedule("ops", (daily(), daily("secondary", ("dave", "erin"), level=2)), (cover,))
    found = handoff.handoffs(shifts_between(sched, T0, T0 + timedelta(days=1, hours=1)))
    assert [(h.at, h.level, h.outgoing, h.incoming) for h in found] == [
        (utc(2026, 3, 2, 12), 1, "alice", "carol"),
        (utc(2026, 3, 2, 14), 1, "carol", "alice"),
        (utc(2026, 3, 3, 9), 1, "alice", "bob"),
        (utc(2026, 3, 3, 9), 2, "dave", "erin"),
    ]
    # alice's duty after the override started when she came back.
    assert found[2].shift_start == utc(2026, 3, 2, 14)


def test_next_handoff_and_a_one_person_rotation_never_hands_over() -> None:
    sched = Schedule("ops", (daily(),))
    assert handoff.next_handoff(sched, T0) == utc(2026, 3, 3, 9)
    assert handoff.next_handoff(sched, utc(2026, 3, 3, 9)) == utc(2026, 3, 4, 9)
    alone = Schedule("solo", (daily(members=("alice",)),))
    assert handoff.next_handoff(alone, T0) is None
    # The duty before the handoff is seen whole although it started long before.
    weekly = Layer(
        "w",
        ("alice", "bob"),
        "UTC",
        make_anchor(date(2026, 1, 5), "Monday 09:00"),
        timedelta(weeks=4),
    )
    (h,) = handoff.handoffs_between(Schedule("ops", (weekly,)), utc(2026, 3, 1), utc(2026, 3, 3))
    assert (h.at, h.shift_start) == (T0, utc(2026, 2, 2, 9))


@settings(max_examples=60, deadline=None)
@given(
    members=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=5),
    hours=st.integers(min_value=1, max_value=48),
    offset=st.integers(min_value=0, max_value=200),
)
def test_handoffs_are_exactly_the_changes_of_person(
    members: list[str], hours: int, offset: int
) -> None:
    """Every handoff changes the person, nobody is on call twice in a row without one,
    and the outgoing person is the one on call just before."""
    layer = Layer("l", tuple(members), "UTC", datetime(2026, 3, 2, 9), timedelta(hours=hours))
    sched = Schedule("s", (layer,))
    start = T0 + timedelta(hours=offset)
    tl = shifts_between(sched, start, start + timedelta(days=10))
    found = handoff.handoffs(tl)
    spans = tl.final[1]
    changes = [b.start for a, b in zip(spans, spans[1:], strict=False) if a.user != b.user]
    assert [h.at for h in found] == changes
    for h in found:
        assert h.outgoing != h.incoming
        assert rules.on_call_at(sched, h.at - timedelta(seconds=1))[0].user == h.outgoing
        assert rules.on_call_at(sched, h.at)[0].user == h.incoming
        assert h.shift_start <= h.shift_end <= h.at


def test_checklist_says_what_needs_attention() -> None:
    items = handoff.checklist(
        incoming="bob",
        outgoing="alice",
        level=1,
        reach=handoff.Reach((), "bob@example.test", "failed", T0, "SMTP down"),
        open_incidents=0,
        private_open=0,
        changes=2,
        silences=[handoff.SilenceFact("silence", "alertname=Disk", T0, "known")],
        policies=[],
        others={2: "dave"},
        schedule="ops",
    )
    by = {i["key"]: i for i in items}
    assert list(by) == ["reachable", "incidents", "changes", "silences", "escalation"]
    assert by["reachable"]["status"] == "warning"
    assert "bob@example.test" in by["reachable"]["detail"]
    assert "SMTP down" in by["reachable"]["detail"]
    assert by["incidents"]["status"] == "ok"
    assert by["changes"]["status"] == "check" and "2 changes" in by["changes"]["detail"]
    assert "alertname=Disk" in by["silences"]["detail"]
    assert by["escalation"]["status"] == "warning"
    assert "secondary: dave" in by["escalation"]["detail"]


def test_alert_summary_ranks_and_keeps_private_incidents_unnamed() -> None:
    facts = [
        handoff.AlertFact("Disk 90%", "api", None, alerts=3, occurrences=9, non_actionable=3),
        handoff.AlertFact("5xx above 5%", "api", "INC-1", alerts=1, occurrences=4),
        handoff.AlertFact("Secret leaked", "api", None, alerts=1, private=True),
    ]
    out = handoff.alert_summary(facts)
    assert (out["total"], out["actionable"], out["non_actionable"], out["with_incident"]) == (
        5,
        2,
        3,
        1,
    )
    assert [g["summary"] for g in out["top"]] == ["Disk 90%", "5xx above 5%"]


# --- over the store -------------------------------------------------------------------------


def ops_config(hook: str | None = None) -> dict[str, Any]:
    users = []
    if hook:
        users.append(
            {
                "name": "bob",
                "email": "bob@example.test",
                "contact_methods": [{"name": "hook", "kind": "webhook", "address": hook}],
            }
        )
    return {
        "teams": [
            {"name": "ops", "members": ["alice", "bob", "dave"]},
            {"name": "web", "members": ["erin"]},
        ],
        **({"users": users} if users else {}),
        "services": [
            {"name": "api", "owner": "ops", "escalation_policy": "ops-page"},
            {"name": "db", "owner": "ops"},
            {"name": "shop", "owner": "web"},
        ],
        "schedules": [
            {
                "name": "ops",
                "team": "ops",
                "timezone": "UTC",
                "layers": [
                    {
                        "name": "primary",
                        "members": ["alice", "bob"],
                        "shift": "daily",
                        "handoff": "09:00",
                        "start": "2026-03-02",
                    },
                    {
                        "name": "secondary",
                        "level": 2,
                        "members": ["dave"],
                        "shift": "weekly",
                        "handoff": "Monday 09:00",
                        "start": "2026-03-02",
                    },
                ],
            }
        ],
        "escalation_policies": [
            {
                "name": "ops-page",
                "levels": [
                    {"timeout_minutes": 15, "targets": [{"schedule": "ops"}]},
                    {"timeout_minutes": 15, "targets": [{"schedule": "ops", "level": 2}]},
                ],
            }
        ],
    }


def apply(api: Api, doc: dict[str, Any]) -> dict[str, Any]:
    r = api.post("/api/v1/config/apply", json={"config": doc})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def ops(admin: Api) -> Api:
    apply(admin, ops_config())
    return admin


def fire(
    db: Database, clock: ManualClock, summary: str, severity: str = "critical", key: str = ""
) -> None:
    """An alert on the api service arrives (through alert ingestion)."""
    with db.session() as s:
        integ = alert_integrations.integration_by_name(s, "mon")
        alert_ingestion.ingest(
            s,
            clock,
            integ,
            [NormalizedEvent("trigger", key or summary, summary, "prom", severity)],
        )


@pytest.fixture
def mon(ops: Api) -> Api:
    r = ops.post("/api/v1/integrations", json={"name": "mon", "kind": "webhook", "service": "api"})
    assert r.status_code == 201, r.text
    return ops


def handoff_jobs(db: Database) -> list[tuple[str, str]]:
    with db.read() as s:
        return [
            (j.key, j.state)
            for j in s.scalars(select(Job).where(Job.kind == "oncall_handoff").order_by(Job.due_at))
        ]


def test_applying_a_schedule_schedules_its_next_handoff_once(
    ops: Api, db: Database, clock: ManualClock
) -> None:
    with db.read() as s:
        sid = service.get_schedule(s, "ops").id
    assert handoff_jobs(db) == [(f"handoff:{sid}:2026-03-03T09:00:00Z", "pending")]
    apply(ops, ops_config())  # unchanged: nothing new
    handoff_service.ensure_jobs(db, clock)  # startup: nothing new either
    assert len(handoff_jobs(db)) == 1
    # Nothing is due yet: running the engine writes no note.
    Worker(db, clock).run_due()
    assert ops.get("/api/v1/oncall/handoffs").json() == []


def test_startup_schedules_a_missing_handoff_job_and_a_removed_schedule_stops_it(
    ops: Api, db: Database, clock: ManualClock, store_url: str
) -> None:
    from warroom.runtime import open_store

    with db.session() as s:
        for job in s.scalars(select(Job).where(Job.kind == "oncall_handoff")):
            s.delete(job)
    store, _ = open_store(store_url, clock)
    store.dispose()
    assert handoff_jobs(db) == [(f"handoff:{_sid(db)}:2026-03-03T09:00:00Z", "pending")]
    # Without its schedule the job ends quietly and schedules nothing more.
    doc = ops_config()
    doc["schedules"] = []
    doc["escalation_policies"][0]["levels"] = [
        {"timeout_minutes": 15, "targets": [{"user": "alice"}]}
    ]
    apply(ops, doc)
    clock.set(utc(2026, 3, 3, 9))
    Worker(db, clock).run_due()
    assert [st for _, st in handoff_jobs(db)] == ["done"]


def test_the_engine_writes_the_note_at_the_handoff_from_what_happened(
    mon: Api, alice: Api, db: Database, clock: ManualClock
) -> None:
    engine = Worker(db, clock)
    # Monday 10:00 UTC (11:00 in Berlin): a critical alert opens INC-1 and pages alice.
    clock.advance(hours=1)
    fire(db, clock, "Checkout 5xx above 5%")
    engine.run_due()
    r = alice.post("/api/v1/incidents/INC-1/roles", json={"role": "commander", "user": "alice"})
    assert r.status_code == 200, r.text
    r = alice.post("/api/v1/incidents/INC-1/ack")
    assert r.status_code == 200, r.text
    # A deploy to api, and one to a service of another team (not in the note).
    for svc, what in (("api", "Deploy api 2026.3.2"), ("shop", "Deploy shop 7")):
        r = mon.post("/api/v1/changes", json={"summary": what, "service": svc, "kind": "deploy"})
        assert r.status_code == 201, r.text
    # Tuesday 01:00 in Berlin: a flaky disk alert fires three times; it opens INC-2 and
    # pages alice at night; she marks the alerts non-actionable.
    clock.set(utc(2026, 3, 3, 0))
    for i in range(3):
        fire(db, clock, "Disk 90% on db-1", "error", key=f"disk-{i}")
        engine.run_due()
    for a in mon.get("/api/v1/alerts", params={"incident": "INC-2"}).json()["items"]:
        r = alice.post(f"/api/v1/alerts/{a['id']}/noise", json={"reason": "not_actionable"})
        assert r.status_code == 200, r.text
    r = alice.post("/api/v1/incidents/INC-2/resolve", json={"summary": "flaky disk check"})
    assert r.status_code == 200, r.text
    # A silence in effect over the handoff.
    r = alice.post(
        "/api/v1/silences",
        json={
            "matchers": ["alertname=DiskFull"],
            "ends_at": z(utc(2026, 3, 3, 12)),
            "comment": "disk replacement",
        },
    )
    assert r.status_code == 201, r.text

    clock.set(utc(2026, 3, 3, 9))
    engine.run_due()
    (listed,) = mon.get("/api/v1/oncall/handoffs").json()
    assert (listed["schedule"], listed["level_name"], listed["outgoing"], listed["incoming"]) == (
        "ops",
        "primary",
        "alice",
        "bob",
    )
    assert listed["at"] == "2026-03-03T09:00:00Z"
    assert listed["shift"] == {"start": "2026-03-02T09:00:00Z", "end": "2026-03-03T09:00:00Z"}
    assert listed["summary"] == {
        "open_incidents": 1,
        "alerts": 4,
        "non_actionable_alerts": 3,
        "pages": 2,
        "off_hours_pages": 1,
        "changes": 1,
        "remarks": 0,
    }
    full = mon.get(f"/api/v1/oncall/handoffs/{listed['id']}").json()
    note = full["note"]
    (inc,) = note["incidents"]["open"]
    assert (inc["id"], inc["severity"], inc["status"], inc["commander"]) == (
        "INC-1",
        "SEV-1",
        "investigating",
        "alice",
    )
    assert (note["incidents"]["declared"], note["incidents"]["resolved"]) == (2, 1)
    assert note["services"] == ["api", "db"]
    top = note["alerts"]["top"]
    assert (top[0]["summary"], top[0]["alerts"], top[0]["non_actionable"]) == (
        "Disk 90% on db-1",
        3,
        3,
    )
    assert (note["alerts"]["actionable"], note["alerts"]["non_actionable"]) == (1, 3)
    pages = note["pages"]["items"]
    assert [(p["incident"], p["off_hours"], p["non_actionable"]) for p in pages] == [
        ("INC-1", False, False),
        ("INC-2", True, True),
    ]
    assert pages[0]["state"] == "acknowledged"
    assert [c["summary"] for c in note["changes"]["items"]] == ["Deploy api 2026.3.2"]
    assert any("INC-1 is still investigating" in p for p in note["prompts"])
    checklist = {i["key"]: i for i in full["checklist"]}
    # bob has no contact methods: pages would go to his account email only.
    assert checklist["reachable"]["status"] == "warning"
    assert "bob@example.test" in checklist["reachable"]["detail"]
    assert checklist["incidents"]["status"] == "check"
    assert "1 open incident" in checklist["incidents"]["detail"]
    assert "alertname=DiskFull" in checklist["silences"]["detail"]
    assert "ops-page" in checklist["escalation"]["detail"]
    assert "secondary: dave" in checklist["escalation"]["detail"]

    # The next handoff (Wednesday 09:00) is scheduled; running again writes nothing twice.
    assert [k for k, st in handoff_jobs(db) if st == "pending"] == [
        f"handoff:{_sid(db)}:2026-03-04T09:00:00Z"
    ]
    engine.run_due()
    with db.read() as s:
        made = handoff_service.draft(s, clock, service.get_schedule(s, "ops"), T0, clock.now())
    assert made == []
    assert len(mon.get("/api/v1/oncall/handoffs").json()) == 1


def _sid(db: Database) -> int:
    with db.read() as s:
        return service.get_schedule(s, "ops").id


def test_an_engine_that_was_down_catches_up_on_missed_handoffs(
    ops: Api, db: Database, clock: ManualClock
) -> None:
    clock.set(utc(2026, 3, 5, 12))
    Worker(db, clock).run_due()
    got = ops.get("/api/v1/oncall/handoffs").json()
    assert [(h["at"], h["outgoing"], h["incoming"]) for h in got] == [
        ("2026-03-05T09:00:00Z", "alice", "bob"),
        ("2026-03-04T09:00:00Z", "bob", "alice"),
        ("2026-03-03T09:00:00Z", "alice", "bob"),
    ]
    assert [k for k, st in handoff_jobs(db) if st == "pending"] == [
        f"handoff:{_sid(db)}:2026-03-06T09:00:00Z"
    ]


def test_an_override_schedules_the_handoffs_it_makes(
    ops: Api, alice: Api, db: Database, clock: ManualClock
) -> None:
    r = alice.post(
        "/api/v1/schedules/ops/overrides",
        json={
            "user": "erin",
            "covering": "alice",
            "start": z(utc(2026, 3, 2, 12)),
            "end": z(utc(2026, 3, 2, 14)),
        },
    )
    assert r.status_code == 201, r.text
    keys = [k for k, _ in handoff_jobs(db)]
    assert f"handoff:{_sid(db)}:2026-03-02T12:00:00Z" in keys
    clock.set(utc(2026, 3, 2, 14))
    Worker(db, clock).run_due()
    got = ops.get("/api/v1/oncall/handoffs", params={"user": "erin"}).json()
    assert [(h["outgoing"], h["incoming"]) for h in got] == [("erin", "alice"), ("alice", "erin")]
    assert ops.get("/api/v1/oncall/handoffs", params={"user": "bob"}).json() == []
    assert ops.get("/api/v1/oncall/handoffs", params={"schedule": "nope"}).status_code == 404


def test_remarks_are_for_the_two_people_and_admins(
    ops: Api,
    alice: Api,
    bob: Api,
    client: Any,
    people: dict[str, str],
    db: Database,
    clock: ManualClock,
) -> None:
    dave = Api(client, _token(db, clock, "dave"))
    clock.set(utc(2026, 3, 3, 9))
    Worker(db, clock).run_due()
    (h,) = ops.get("/api/v1/oncall/handoffs").json()
    url = f"/api/v1/oncall/handoffs/{h['id']}/remarks"
    r = alice.post(url, json={"text": "Watch the checkout error rate after the 18:00 deploy."})
    assert r.status_code == 201, r.text
    r = bob.post(url, json={"text": "Thanks. Is the disk alert on db-1 still flapping?"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert [(x["author"], x["role"]) for x in body["remarks"]] == [
        ("alice", "outgoing"),
        ("bob", "incoming"),
    ]
    assert body["summary"]["remarks"] == 2
    r = dave.post(url, json={"text": "me too"})
    assert r.status_code == 403 and "alice (outgoing)" in r.json()["error"]
    assert Api(client, people["carol"]).post(url, json={"text": "hi"}).status_code == 403
    assert alice.post(url, json={"text": "   "}).status_code == 422
    assert alice.post(url, json={}).status_code == 422
    assert ops.post(url, json={"text": "admin note"}).status_code == 201
    assert ops.get("/api/v1/oncall/handoffs").json()[0]["summary"]["remarks"] == 3
    assert alice.get("/api/v1/oncall/handoffs/999999").status_code == 404
    assert alice.get(f"/api/v1/oncall/handoffs/{h['id']}").json()["can_remark"] is True
    assert dave.get(f"/api/v1/oncall/handoffs/{h['id']}").json()["can_remark"] is False


def _token(db: Database, clock: ManualClock, user: str) -> str:
    from tests.conftest import make_token

    return make_token(db, clock, "responder", user)


def test_a_private_incident_is_counted_but_never_named(
    mon: Api, alice: Api, db: Database, clock: ManualClock
) -> None:
    clock.advance(hours=2)
    r = alice.post(
        "/api/v1/incidents",
        json={
            "title": "Leaked signing key",
            "severity": "SEV-2",
            "services": ["api"],
            "private": True,
        },
    )
    assert r.status_code == 201, r.text
    Worker(db, clock).run_due()
    clock.set(utc(2026, 3, 3, 9))
    Worker(db, clock).run_due()
    (h,) = mon.get("/api/v1/oncall/handoffs").json()
    full = mon.get(f"/api/v1/oncall/handoffs/{h['id']}").json()
    assert full["note"]["incidents"]["open"] == []
    assert full["note"]["incidents"]["private_open"] == 1
    assert full["note"]["pages"]["items"][0]["title"] == "a private incident"
    assert "Leaked" not in json.dumps(full)
    assert h["summary"]["open_incidents"] == 1


def test_a_webhook_page_that_arrived_shows_in_the_incoming_checklist(
    admin: Api, db: Database, clock: ManualClock
) -> None:
    receiver = WebhookReceiver().start()
    try:
        apply(admin, ops_config(hook=receiver.url + "/bob"))
        r = admin.post(
            "/api/v1/integrations", json={"name": "mon", "kind": "webhook", "service": "api"}
        )
        assert r.status_code == 201, r.text
        engine = Worker(db, clock)
        # Bob is paged (as the primary's replacement) before his shift and the page arrives.
        clock.advance(hours=1)
        r = admin.post(
            "/api/v1/schedules/ops/overrides",
            json={
                "user": "bob",
                "start": z(clock.now()),
                "end": z(clock.now() + timedelta(hours=1)),
            },
        )
        assert r.status_code == 201, r.text
        fire(db, clock, "Queue depth above 10k")
        engine.run_due()
        assert len(receiver.received) == 1
        clock.set(utc(2026, 3, 3, 9))
        engine.run_due()
    finally:
        receiver.server.shutdown()
    got = admin.get("/api/v1/oncall/handoffs", params={"user": "bob"}).json()
    last = next(h for h in got if h["incoming"] == "bob" and h["at"] == "2026-03-03T09:00:00Z")
    full = admin.get(f"/api/v1/oncall/handoffs/{last['id']}").json()
    reach = next(i for i in full["checklist"] if i["key"] == "reachable")
    assert reach["status"] == "check"
    assert "hook (webhook)" in reach["detail"] and "was delivered" in reach["detail"]


def test_preview_drafts_the_current_shift_without_keeping_it(
    mon: Api, db: Database, clock: ManualClock
) -> None:
    clock.advance(hours=3)
    fire(db, clock, "Checkout 5xx above 5%")
    Worker(db, clock).run_due()
    body = mon.get("/api/v1/oncall/handoffs/preview", params={"schedule": "ops"}).json()
    assert body["user"] == "alice" and body["note"]["pages"]["count"] == 1
    assert body["note"]["shift"]["start"] == "2026-03-02T09:00:00Z"
    assert mon.get("/api/v1/oncall/handoffs").json() == []
    r = mon.get("/api/v1/oncall/handoffs/preview", params={"schedule": "ops", "level": 3})
    assert r.status_code == 404


# --- CLI and web ----------------------------------------------------------------------------


def test_cli_lists_and_shows_handoffs_and_adds_remarks(
    live_server: LiveServer, people: dict[str, str], mon: Api, db: Database, clock: ManualClock
) -> None:
    clock.advance(hours=1)
    fire(db, clock, "Checkout 5xx above 5%")
    clock.set(utc(2026, 3, 3, 9))
    Worker(db, clock).run_due()

    def cli(*args: str, token: str = "alice", ok: bool = True) -> Any:
        env = {"WARROOM_URL": live_server.url, "WARROOM_TOKEN": people[token]}
        result = CliRunner().invoke(main, list(args), env=env)
        assert (result.exit_code == 0) is ok, result.output
        return result

    out = cli("oncall", "handoffs").stdout
    assert "alice → bob" in out and "ops" in out
    rows = json.loads(cli("oncall", "handoffs", "--schedule", "ops", "--json").stdout)
    hid = str(rows[0]["id"])
    cli("oncall", "remark", hid, "Watch INC-1; the fix ships at 10:00.")
    shown = cli("oncall", "handoff", hid).stdout
    for text in (
        "alice → bob",
        "INC-1",
        "Checkout 5xx above 5%",
        "Start-of-shift checklist for bob",
        "Watch INC-1; the fix ships at 10:00.",
    ):
        assert text in shown, text
    body = json.loads(cli("oncall", "handoff", hid, "--json").stdout)
    assert body["remarks"][0]["author"] == "alice"
    r = cli("oncall", "remark", hid, "hello", token="carol", ok=False)
    assert "HTTP 403" in r.output


def test_web_schedule_page_lists_handoffs_and_the_note_takes_remarks(
    client: Any, mon: Api, db: Database, clock: ManualClock
) -> None:
    clock.advance(hours=1)
    fire(db, clock, "Checkout 5xx above 5%")
    clock.set(utc(2026, 3, 3, 9))
    Worker(db, clock).run_due()
    give_password(db, "alice")
    login(client, "alice")
    page = text_of(client.get("/oncall").text)
    assert "Handoffs" in page and "alice → bob" in page
    (h,) = mon.get("/api/v1/oncall/handoffs").json()
    html = client.get(f"/oncall/handoffs/{h['id']}").text
    text = text_of(html)
    assert "INC-1" in text and "Start-of-shift checklist for bob" in text
    from tests.test_web import csrf_of

    r = client.post(
        f"/oncall/handoffs/{h['id']}/remarks",
        data={"csrf": csrf_of(html), "text": "All quiet after the rollback."},
    )
    assert r.status_code == 200
    assert "All quiet after the rollback." in text_of(r.text)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Handoff)) == 1
    assert client.get("/oncall/handoffs/424242").status_code == 404
