"""Escalation and notification delivery: a real local webhook receiver, time moved with a
ManualClock and the engine run by hand. Nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import Api
from tests.receivers import WebhookReceiver
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.core.errors import ValidationFailed
from warroom.db.session import Database
from warroom.engine.worker import Worker
from warroom.notify import channels
from warroom.paging import links, rules
from warroom.paging.models import Escalation, Notification

SECRET = "alice-webhook-secret-0123456789"


def paging_config(hooks: dict[str, WebhookReceiver], **policy: Any) -> dict[str, Any]:
    return {
        "users": [
            {
                "name": "alice",
                "email": "alice@example.test",
                "timezone": "Europe/Berlin",
                "contact_methods": [
                    {
                        "name": "phone",
                        "kind": "webhook",
                        "address": hooks["alice"].url + "/alice",
                        "secret": SECRET,
                    },
                    {"name": "pager", "kind": "webhook", "address": hooks["alice2"].url},
                ],
                "notification_rules": [
                    {"method": "phone", "after_minutes": 0},
                    {"method": "pager", "after_minutes": 3},
                ],
            },
            {
                "name": "bob",
                "email": "bob@example.test",
                "contact_methods": [
                    {"name": "hook", "kind": "webhook", "address": hooks["bob"].url}
                ],
            },
        ],
        "teams": [
            {
                "name": "payments",
                "channel": "#team-payments",
                "channel_url": hooks["channel"].url + "/channel",
                "members": ["alice", "bob"],
            }
        ],
        "services": [{"name": "checkout", "owner": "payments", "escalation_policy": "payments"}],
        "schedules": [
            {
                "name": "payments",
                "team": "payments",
                "layers": [
                    {
                        "name": "primary",
                        "members": ["alice", "bob", "dave", "erin", "frank"],
                        "shift": "weekly",
                        "handoff": "Monday 09:00",
                        "start": "2026-03-02",
                    }
                ],
            }
        ],
        "escalation_policies": [
            {
                "name": "payments",
                "repeat": 1,
                "fallback": "payments",
                "levels": [
                    {"timeout_minutes": 5, "targets": [{"schedule": "payments"}]},
                    {"timeout_minutes": 10, "targets": [{"user": "bob"}]},
                ],
                **policy,
            }
        ],
    }


@pytest.fixture
def paging(
    db: Database, clock: ManualClock, people: dict[str, str], hooks: dict[str, WebhookReceiver]
) -> Worker:
    with db.session() as s:
        config.apply(s, clock, paging_config(hooks))
    return Worker(db, clock)


def declare(api: Api) -> str:
    r = api.post(
        "/api/v1/incidents",
        json={"title": "Card payments fail", "severity": "SEV-1", "services": ["checkout"]},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def page_lines(api: Api, ref: str) -> list[str]:
    tl = api.get(f"/api/v1/incidents/{ref}").json()["timeline"]
    return [e["text"] for e in tl if e["kind"] == "page"]


def run_for(worker: Worker, clock: ManualClock, minutes: float, step: float = 0.5) -> None:
    """Moves time forward in small steps, running what falls due at each."""
    end = clock.now() + timedelta(minutes=minutes)
    while clock.now() < end:
        worker.run_due()
        clock.advance(minutes=step)
    worker.run_due()


# --- the state machine -------------------------------------------------------------------

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def plan(*timeouts: int, repeat: int = 0) -> rules.Plan:
    return rules.Plan(
        tuple(rules.Level(t, (rules.Target("user", f"u{i}"),)) for i, t in enumerate(timeouts)),
        repeat=repeat,
    )


def test_walk_pages_each_level_then_repeats_then_exhausts() -> None:
    steps = rules.walk(plan(5, 10, repeat=1), T)
    assert [(s.pass_no, s.level) for s in steps if isinstance(s, rules.Step)] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert [s.at - T for s in steps] == [
        timedelta(0),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=20),
        timedelta(minutes=30),
    ]
    assert isinstance(steps[-1], rules.Exhausted)


@given(
    st.lists(st.integers(1, rules.MAX_TIMEOUT_MINUTES), min_size=1, max_size=6),
    st.integers(0, rules.MAX_REPEAT),
)
def test_walk_length_and_deadline(timeouts: list[int], repeat: int) -> None:
    steps = rules.walk(plan(*timeouts, repeat=repeat), T)
    assert len(steps) == len(timeouts) * (repeat + 1) + 1
    assert all(a.at <= b.at for a, b in zip(steps, steps[1:], strict=False))
    assert steps[-1].at - T == timedelta(minutes=sum(timeouts) * (repeat + 1))


def test_transitions() -> None:
    assert rules.transition("triggered", "acknowledge") == "acknowledged"
    assert rules.transition("exhausted", "acknowledge") == "acknowledged"
    assert rules.transition("acknowledged", "resolve") == "resolved"
    with pytest.raises(ValueError, match="cannot acknowledge an escalation that is resolved"):
        rules.transition("resolved", "acknowledge")
    with pytest.raises(ValueError):
        rules.transition("acknowledged", "exhaust")


def test_contact_plan_and_fall_through() -> None:
    r = [rules.Rule("sms", 5), rules.Rule("push", 0)]
    assert [x.method for x in rules.contact_plan(r, ["push", "sms", "email"])] == ["push", "sms"]
    assert [x.method for x in rules.contact_plan([], ["push", "email"])] == ["push", "email"]
    assert rules.fall_through(r, ["push", "sms", "email"], {"push"}) == "sms"
    assert rules.fall_through(r, ["push", "sms", "email"], {"push", "sms"}) == "email"
    assert rules.fall_through(r, ["push", "sms"], {"push", "sms"}) is None


# --- paging end to end through the engine ------------------------------------------------


def test_unacknowledged_page_walks_levels_repeats_and_reaches_the_fallback(
    paging: Worker, alice: Api, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    ref = declare(alice)
    paging.run_due()
    # Level 1: the schedule's primary (alice), by her immediate method.
    assert len(hooks["alice"].received) == 1
    got = hooks["alice"].received[0]
    body = got.json()
    assert got.path == "/alice"
    assert got.headers["x-warroom-signature"] == channels.signature(SECRET, got.body)
    assert got.headers["idempotency-key"] == body["idempotency_key"]
    assert body["event"] == "page" and body["recipient"] == "alice"
    assert body["incident"]["title"] == "Card payments fail"
    assert body["incident"]["severity"] == "SEV-1"
    assert body["escalation"]["level"] == 1 and body["escalation"]["pass"] == 1
    assert "schedule payments" in body["reason"]
    assert hooks["bob"].received == [] and hooks["alice2"].received == []
    lines = page_lines(alice, ref)
    assert lines[0].startswith("Paging started (payments): 2 level(s), 2 pass(es)")
    assert lines[1].startswith("Paging level 1 of 2, pass 1 of 2: alice (schedule payments)")
    assert any(x.startswith("Notified alice by webhook") for x in lines)

    run_for(paging, clock, 3.5)  # alice's second method after 3 minutes
    assert len(hooks["alice2"].received) == 1
    assert hooks["bob"].received == []
    run_for(paging, clock, 2)  # level 2 at 5 minutes: bob
    assert len(hooks["bob"].received) == 1
    assert hooks["bob"].bodies()[0]["escalation"]["level"] == 2
    run_for(paging, clock, 10)  # pass 2, level 1 at 15 minutes
    assert len(hooks["alice"].received) == 2
    assert hooks["alice"].bodies()[1]["escalation"]["pass"] == 2
    keys = {r.headers["idempotency-key"] for r in hooks["alice"].received}
    assert len(keys) == 2  # a new pass is a new page, not a repeat
    assert hooks["channel"].received == []
    run_for(paging, clock, 16)  # level 2 at 20, exhausted at 30
    assert len(hooks["bob"].received) == 2
    assert len(hooks["channel"].received) == 1
    fb = hooks["channel"].bodies()[0]
    assert fb["event"] == "fallback" and fb["recipient"] == "the fallback channel"
    lines = page_lines(alice, ref)
    assert any(
        x.startswith("Nobody acknowledged the page after 2 pass(es) of payments")
        and "#team-payments" in x
        for x in lines
    )
    esc = alice.get(f"/api/v1/incidents/{ref}").json()
    assert esc["status"] == "investigating"


def test_acknowledging_stops_the_escalation_and_cancels_delayed_methods(
    paging: Worker, alice: Api, bob: Api, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    ref = declare(alice)
    paging.run_due()
    clock.advance(minutes=1)
    r = alice.post(f"/api/v1/incidents/{ref}/ack")
    assert r.status_code in (200, 204), r.text
    run_for(paging, clock, 60)
    assert len(hooks["alice"].received) == 1
    assert hooks["alice2"].received == []  # the 3-minute method never went out
    assert hooks["bob"].received == [] and hooks["channel"].received == []
    lines = page_lines(alice, ref)
    assert any(
        x.startswith("Page acknowledged by alice; escalation stopped")
        and "1 pending notification(s) cancelled" in x
        for x in lines
    )


def test_resolving_stops_everything(
    paging: Worker, alice: Api, db: Database, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    ref = declare(alice)
    paging.run_due()
    alice.post(f"/api/v1/incidents/{ref}/resolve", json={"summary": "Fixed."})
    run_for(paging, clock, 60)
    assert len(hooks["alice"].received) == 1
    assert hooks["bob"].received == [] and hooks["channel"].received == []
    with db.read() as s:
        esc = s.query(Escalation).one()
        assert esc.state == "resolved"
        states = sorted(n.state for n in s.query(Notification))
    assert states == ["sent", "skipped"]


def test_a_failing_method_retries_with_backoff_and_falls_through(
    paging: Worker, alice: Api, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    hooks["alice"].status = 503  # her phone hook is down
    ref = declare(alice)
    paging.run_due()
    paging.run_due()  # the fall-through notification is due at once
    # The next method (pager) was used at once instead of waiting 3 minutes.
    assert len(hooks["alice2"].received) == 1
    body = hooks["alice2"].bodies()[0]
    assert "fall-through after webhook failed" in body["reason"]
    lines = page_lines(alice, ref)
    failed = [
        x
        for x in lines
        if x.startswith(f"Notifying alice by webhook failed (attempt 1 of {rules.MAX_ATTEMPTS})")
    ]
    assert failed and "HTTP 503" in failed[0] and "falling through to webhook (pager)" in failed[0]
    # The receiver comes back: the retry delivers with the same idempotency key.
    clock.advance(seconds=1)
    paging.run_due()
    hooks["alice"].status = 200
    clock.advance(seconds=30)
    paging.run_due()
    assert len(hooks["alice"].received) == 1
    lines = page_lines(alice, ref)
    assert any(x.startswith("Notified alice by webhook") and "(attempt" not in x for x in lines)
    # The pager method at 3 minutes is a separate, scheduled message of its own.
    assert len({r.headers["idempotency-key"] for r in hooks["alice2"].received}) == len(
        hooks["alice2"].received
    )


def test_a_method_that_never_recovers_gives_up_after_max_attempts(
    paging: Worker, alice: Api, db: Database, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    hooks["alice"].status = 500
    hooks["alice2"].status = 500
    ref = declare(alice)
    n = rules.MAX_ATTEMPTS
    for _ in range(220):  # 220 minutes: longer than every backoff together
        paging.run_due()
        clock.advance(minutes=1)
    lines = page_lines(alice, ref)
    assert any(f"attempt {n} of {n}" in x and f"gave up after {n} attempts" in x for x in lines)
    with db.read() as s:
        phone = (
            s.query(Notification)
            .filter(Notification.address == hooks["alice"].url + "/alice")
            .order_by(Notification.id)
            .first()
        )
        assert phone is not None
        assert phone.state == "failed" and phone.attempts == n and len(phone.log) == n


def test_every_attempt_is_recorded_and_signed_links_act(
    paging: Worker,
    alice: Api,
    db: Database,
    hooks: dict[str, WebhookReceiver],
) -> None:
    declare(alice)
    paging.run_due()
    body = hooks["alice"].bodies()[0]
    ack = body["links"]["acknowledge"]
    token = ack.rsplit("/page/", 1)[1]
    with db.read() as s:
        key = links.signing_key(s)
        n = s.query(Notification).filter(Notification.key == body["idempotency_key"]).one()
        assert links.verify(key, token) == (n.id, "ack")
        assert links.verify(key, token[:-2] + "xx") is None
        assert links.verify(key, f"{n.id + 1}.ack.{token.split('.')[2]}") is None
        assert n.log[0]["ok"] is True and n.log[0]["attempt"] == 1


def test_alert_rule_that_pages_without_an_incident_and_source_ack_stops_it(
    db: Database,
    clock: ManualClock,
    people: dict[str, str],
    hooks: dict[str, WebhookReceiver],
    alice: Api,
    client: Any,
) -> None:
    cfg = paging_config(hooks)
    cfg["integrations"] = [{"name": "pd", "kind": "pagerduty", "service": "checkout"}]
    cfg["alert_rules"] = [
        {
            "name": "disk",
            "matchers": ["source=db-1"],
            "service": "checkout",
            "open_incident": False,
            "page": True,
        }
    ]
    with db.session() as s:
        changes = config.apply(s, clock, cfg)
    key = next(c.key for c in changes if c.kind == "integrations")
    worker = Worker(db, clock)
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "disk-1",
        "payload": {"summary": "db-1 disk 91% full", "source": "db-1", "severity": "warning"},
    }
    assert client.post("/v2/enqueue", json=event).status_code == 202
    worker.run_due()
    assert alice.get("/api/v1/incidents").json()["items"] == []
    assert len(hooks["alice"].received) == 1
    body = hooks["alice"].bodies()[0]
    assert body["incident"] is None and body["alert"]["summary"] == "db-1 disk 91% full"
    r = client.post("/v2/enqueue", json={**event, "event_action": "acknowledge"})
    assert r.status_code == 202
    run_for(worker, clock, 40)
    assert len(hooks["alice"].received) == 1 and hooks["bob"].received == []
    with db.read() as s:
        esc = s.query(Escalation).one()
        assert esc.state == "acknowledged" and esc.acknowledged_by == "integration:pd"


def test_people_without_contact_methods_are_paged_by_account_email(
    db: Database,
    clock: ManualClock,
    people: dict[str, str],
    hooks: dict[str, WebhookReceiver],
    alice: Api,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = paging_config(
        hooks,
        levels=[{"timeout_minutes": 5, "targets": [{"user": "dave"}]}],
    )
    with db.session() as s:
        config.apply(s, clock, cfg)
    monkeypatch.setenv("WARROOM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("WARROOM_SMTP_PORT", "9")  # nothing listens: the attempt fails
    ref = declare(alice)
    Worker(db, clock).run_due()
    lines = page_lines(alice, ref)
    assert any(
        x.startswith(
            f"Notifying dave by email failed (attempt 1 of {rules.MAX_ATTEMPTS}): SMTP 127.0.0.1:9"
        )
        for x in lines
    )


def test_config_errors_name_the_field(
    db: Database, clock: ManualClock, people: dict[str, str], hooks: dict[str, WebhookReceiver]
) -> None:
    cfg = paging_config(hooks)
    cfg["escalation_policies"][0]["levels"][1]["targets"] = [{"user": "nobody"}]
    cfg["escalation_policies"][0]["levels"][0]["targets"] = [{"user": "bob", "team": "payments"}]
    cfg["services"][0]["escalation_policy"] = "missing"
    cfg["users"][1]["contact_methods"][0]["address"] = "ftp://example"
    cfg["users"][0]["notification_rules"][0]["method"] = "carrier-pigeon"
    with db.session() as s, pytest.raises(ValidationFailed) as err:
        config.apply(s, clock, cfg)
    found = {p["location"]: p["message"] for p in err.value.extra["problems"]}
    assert found["escalation_policies[0].levels[1].targets[0].user"] == "unknown user 'nobody'"
    assert found["escalation_policies[0].levels[0].targets[0]"] == (
        "give exactly one of user, schedule or team"
    )
    assert found["services[0].escalation_policy"] == "unknown escalation policy 'missing'"
    assert "http:// or https://" in found["users[1].contact_methods[0].address"]
    assert found["users[0].notification_rules[0].method"] == (
        "unknown contact method 'carrier-pigeon'"
    )


def test_paging_config_round_trips(
    admin: Api, db: Database, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    with db.session() as s:
        config.apply(s, clock, paging_config(hooks))
    with db.session() as s:
        exported = config.export_data(s)
        assert config.apply(s, clock, exported) == []
    pol = exported["escalation_policies"][0]
    assert pol["repeat"] == 1 and pol["fallback"] == "payments"
    assert pol["levels"][0]["targets"][0]["schedule"] == "payments"
    alice = next(u for u in exported["users"] if u["name"] == "alice")
    assert [m["name"] for m in alice["contact_methods"]] == ["phone", "pager"]
    assert alice["notification_rules"][1] == {"method": "pager", "after_minutes": 3}
    assert exported["services"][0]["escalation_policy"] == "payments"
    # Deleting the policy unhooks its services.
    cfg = paging_config(hooks)
    cfg["services"][0]["escalation_policy"] = None
    cfg["escalation_policies"] = []
    with db.session() as s:
        config.apply(s, clock, cfg)
    with db.read() as s:
        assert config.export_data(s)["services"][0]["escalation_policy"] is None


def test_apprise_urls_deliver_through_apprise(
    db: Database,
    clock: ManualClock,
    people: dict[str, str],
    hooks: dict[str, WebhookReceiver],
    alice: Api,
) -> None:
    # Apprise's json:// target posts to a plain HTTP receiver, which stands in for the
    # chat services Apprise speaks to (Slack, Teams, ntfy, ...).
    apprise_url = hooks["bob"].url.replace("http://", "json://") + "/apprise"
    cfg = paging_config(hooks)
    cfg["users"][1]["contact_methods"] = [
        {"name": "chat", "kind": "apprise", "address": apprise_url}
    ]
    cfg["escalation_policies"][0]["levels"] = [{"timeout_minutes": 5, "targets": [{"user": "bob"}]}]
    with db.session() as s:
        config.apply(s, clock, cfg)
    ref = declare(alice)
    Worker(db, clock).run_due()
    assert len(hooks["bob"].received) == 1
    got = hooks["bob"].received[0]
    assert got.path == "/apprise"
    body = got.json()
    assert body["title"].startswith("[SEV-1] INC-") and "Card payments fail" in body["title"]
    assert "Acknowledge: " in body["message"] and "ref: page:" in body["message"]
    assert any(x.startswith("Notified bob by apprise") for x in page_lines(alice, ref))


def test_unknown_apprise_urls_are_refused_with_the_field(
    db: Database, clock: ManualClock, people: dict[str, str], hooks: dict[str, WebhookReceiver]
) -> None:
    cfg = paging_config(hooks)
    cfg["users"][1]["contact_methods"] = [
        {"name": "chat", "kind": "apprise", "address": "nosuchservice://token@host"}
    ]
    with db.session() as s, pytest.raises(ValidationFailed) as err:
        config.apply(s, clock, cfg)
    found = {p["location"]: p["message"] for p in err.value.extra["problems"]}
    assert "Apprise does not understand" in found["users[1].contact_methods[0].address"]


def test_config_without_contact_settings_leaves_them_alone(
    db: Database, clock: ManualClock, people: dict[str, str], hooks: dict[str, WebhookReceiver]
) -> None:
    with db.session() as s:
        config.apply(s, clock, paging_config(hooks))
    cfg = paging_config(hooks)
    for u in cfg["users"]:
        del u["contact_methods"]
        u.pop("notification_rules", None)
    with db.session() as s:
        changes = config.apply(s, clock, cfg)
    assert [c for c in changes if c.kind == "users"] == []
    with db.read() as s:
        alice = next(u for u in config.export_data(s)["users"] if u["name"] == "alice")
    assert [m["name"] for m in alice["contact_methods"]] == ["phone", "pager"]
