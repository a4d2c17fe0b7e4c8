"""Scheduled delivery of the operational review through the engine, on both stores: time
moved with the injected clock, the engine run with Worker.run_due(), the review received
by a real SMTP server (aiosmtpd), a signed webhook and a team's channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import Api
from tests.receivers import WebhookReceiver
from tests.test_paging_api import smtp_server
from warroom.analytics import rules
from warroom.config import service as config
from warroom.config.service import ConfigInvalid
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.worker import Worker

KEY = "report-hook-secret-0123456789"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[list[str], str]]]:
    with smtp_server() as (port, inbox):
        monkeypatch.setenv("WARROOM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("WARROOM_SMTP_PORT", str(port))
        monkeypatch.setenv("REPORT_KEY", KEY)
        yield inbox


def org(hooks: dict[str, WebhookReceiver], at: str = "MON 09:00") -> dict[str, Any]:
    return {
        "teams": [{"name": "payments", "channel_url": hooks["channel"].url}],
        "services": [{"name": "checkout", "owner": "payments"}],
        "reports": [
            {
                "name": "weekly",
                "period": "week",
                "at": at,
                "zone": "Europe/Berlin",
                "to": {
                    "email": ["ops@example.test"],
                    "webhook": hooks["bob"].url,
                    "webhook_secret_env": "REPORT_KEY",
                    "team_channel": "payments",
                },
            }
        ],
    }


def report_jobs(db: Database) -> list[tuple[str, datetime]]:
    with db.read() as s:
        rows = s.execute(
            select(Job.key, Job.due_at).where(
                Job.kind == "analytics_report", Job.state == "pending"
            )
        )
        return [(k, d.replace(tzinfo=UTC) if d.tzinfo is None else d) for k, d in rows]


def test_weekly_review_is_delivered_by_email_webhook_and_channel(
    db: Database,
    clock: ManualClock,
    alice: Api,
    hooks: dict[str, WebhookReceiver],
    smtp: list[tuple[list[str], str]],
) -> None:
    with db.session() as s:
        config.apply(s, clock, org(hooks))
    # T0 is Monday 2026-03-02 09:00 UTC (10:00 in Berlin): the next Monday 09:00 in
    # Berlin is 2026-03-09 08:00 UTC (CET)
    [(key, due)] = report_jobs(db)
    assert due == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    alice.post("/api/v1/incidents", json={"title": "Checkout slow", "severity": "SEV-2"})
    alice.post(
        "/api/v1/incidents", json={"title": "Secret thing", "severity": "SEV-1", "private": True}
    )
    worker = Worker(db, clock)
    clock.set(datetime(2026, 3, 9, 7, 59, tzinfo=UTC))
    worker.run_due()
    assert smtp == [] and hooks["bob"].hits == [] and hooks["channel"].hits == []

    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    worker.run_due()
    [(to, mail)] = smtp
    assert to == ["ops@example.test"]
    assert "Subject: Operational review: week of 2026-03-02" in mail
    # the private incident is never told to a mailbox or a channel
    assert "1 incidents declared from 2026-03-02T00:00:00Z to 2026-03-09T00:00:00Z" in mail
    [hit] = hooks["bob"].hits
    assert hit.signed_by(KEY)
    body = hit.json()
    assert body["event"] == "operational_review" and body["report"] == "weekly"
    assert body["summary"]["incident_count"] == 1
    assert body["summary"]["from"] == "2026-03-02T00:00:00Z"
    assert body["title"] == "Operational review: week of 2026-03-02"
    [chan] = hooks["channel"].hits
    assert "Operational review: week of 2026-03-02" in chan.body.decode()
    # the next run is a week later; running again sends nothing twice
    assert [d for _, d in report_jobs(db)] == [datetime(2026, 3, 16, 8, 0, tzinfo=UTC)]
    worker.run_due()
    assert len(smtp) == 1 and len(hooks["bob"].hits) == 1 and len(hooks["channel"].hits) == 1

    # the engine was down for two weeks: one review (the one due), then the next after now
    clock.set(datetime(2026, 3, 25, 12, 0, tzinfo=UTC))
    worker.run_due()
    assert len(smtp) == 2
    assert "week of 2026-03-09" in smtp[1][1]
    # 2026-03-30 is summer time in Berlin: 09:00 there is 07:00 UTC
    assert [d for _, d in report_jobs(db)] == [datetime(2026, 3, 30, 7, 0, tzinfo=UTC)]


def test_a_changed_schedule_starts_a_new_chain_and_a_removed_one_stops(
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
    smtp: list[tuple[list[str], str]],
    admin: Api,
) -> None:
    with db.session() as s:
        config.apply(s, clock, org(hooks))
    with db.session() as s:
        changes = config.apply(s, clock, org(hooks, at="TUE 10:30"))
    assert [(c.action, c.kind, c.name) for c in changes if c.kind == "reports"] == [
        ("update", "reports", "weekly")
    ]
    worker = Worker(db, clock)
    clock.set(datetime(2026, 3, 3, 9, 30, tzinfo=UTC))  # Tuesday 10:30 in Berlin
    worker.run_due()
    assert len(smtp) == 1 and "week of 2026-02-23" in smtp[0][1]
    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    worker.run_due()  # the Monday job of the old entry does nothing
    assert len(smtp) == 1
    clock.set(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    worker.run_due()
    assert len(smtp) == 2 and "week of 2026-03-02" in smtp[1][1]
    # export gives the section back as apply takes it
    exported = admin.get("/api/v1/config/export").text
    assert "reports:" in exported and "at: TUE 10:30" in exported
    with db.session() as s:
        config.apply(s, clock, {"reports": []})
    clock.set(datetime(2026, 3, 17, 9, 30, tzinfo=UTC))
    worker.run_due()
    assert len(smtp) == 2
    assert "reports:" not in admin.get("/api/v1/config/export").text


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"zone": "Mars/Olympus"}, "reports[0].zone"),
        ({"at": "MONDAY 9"}, "reports[0].at"),
        ({"period": "month", "at": "31 09:00"}, "reports[0].at"),
        ({"to": {}}, "reports[0]"),
        ({"to": {"team_channel": ["nobody"]}}, "reports[0].to.team_channel[0]"),
        ({"to": {"email": ["a@x.test, b@x.test"]}}, "reports[0].to.email[0]"),
        ({"to": {"webhook": "ftp://x"}}, "reports[0].to.webhook"),
    ],
)
def test_bad_report_entries_name_the_field(admin: Api, entry: dict[str, Any], field: str) -> None:
    doc = {"reports": [{"name": "r", "to": {"email": ["ops@example.test"]}, **entry}]}
    r = admin.post("/api/v1/config/apply", json={"config": doc})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field, r.text


def test_next_report_at() -> None:
    monday_10 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    assert rules.next_report_at(monday_10, "week", "MON 09:00", BERLIN) == datetime(
        2026, 3, 9, 8, 0, tzinfo=UTC
    )
    assert rules.next_report_at(monday_10, "week", "mon 11:00", BERLIN) == datetime(
        2026, 3, 2, 10, 0, tzinfo=UTC
    )
    # exactly at the instant: the next one
    at = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert rules.next_report_at(at, "week", "MON 09:00", BERLIN) == datetime(
        2026, 3, 16, 8, 0, tzinfo=UTC
    )
    assert rules.next_report_at(monday_10, "month", "09:00", BERLIN) == datetime(
        2026, 4, 1, 7, 0, tzinfo=UTC
    )
    assert rules.next_report_at(monday_10, "month", "2 11:00", BERLIN) == datetime(
        2026, 3, 2, 10, 0, tzinfo=UTC
    )
    assert rules.next_report_at(monday_10, "quarter", "1 09:00", BERLIN) == datetime(
        2026, 4, 1, 7, 0, tzinfo=UTC
    )
    december = datetime(2026, 12, 15, tzinfo=UTC)
    assert rules.next_report_at(december, "quarter", "08:00", UTC) == datetime(
        2027, 1, 1, 8, 0, tzinfo=UTC
    )
    for period, at in (("week", "09:00"), ("week", "MON 24:00"), ("month", "0 09:00")):
        with pytest.raises(ValueError):
            rules.parse_report_at(period, at)
    with pytest.raises(ConfigInvalid):
        config.parse({"reports": [{"name": "r", "at": "x", "to": {"email": ["a@b.test"]}}]})
