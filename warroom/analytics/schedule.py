"""Scheduled delivery of the operational review through the engine (config `reports:`).

Invariants:
- Each schedule has one `analytics_report` job at a time, due at its next delivery instant
  (`rules.next_report_at`, in the schedule's zone) and keyed by the schedule's name, a
  fingerprint of its entry and that instant: applying a changed entry starts a new chain,
  and a job whose fingerprint no longer matches (or whose schedule is gone) does nothing.
- A run enqueues one delivery job per recipient, keyed by the run and the recipient, and
  then the next run (after now: an engine that was down sends the review that was due
  once, not a burst); a crash or retry sends nothing twice.
- The review is of the last complete period before the run's due instant
  (`rules.period_range`), computed when it is delivered from the store, as a reader who
  sees no private incident would see it: a channel or mailbox is never told of one.
- Delivery (`analytics_report_deliver`) runs outside a transaction through notify.channels
  (email, signed webhook, Apprise for a team's channel); a failure raises and the engine
  retries it with backoff under the same idempotency key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.analytics import queries, report, rules
from warroom.analytics.models import ReportSchedule
from warroom.comms.deliver import channel_kind
from warroom.core.clock import Clock, ensure_utc, iso, parse_utc
from warroom.core.principal import Principal
from warroom.db.session import Database
from warroom.engine.queue import enqueue
from warroom.notify import channels
from warroom.org.models import Team

JOB = "analytics_report"
DELIVER_JOB = "analytics_report_deliver"
log = logging.getLogger(__name__)
# Who a delivered review is computed for: sees every public incident and no private one.
READER = Principal(role="viewer", user_id=None, name="warroom reports")


def fingerprint(data: dict[str, Any]) -> str:
    """A short, stable digest of a schedule's entry."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def save(session: Session, clock: Clock, entries: list[dict[str, Any]]) -> None:
    """Replaces every schedule with `entries` (config apply; checked by its schema) and
    enqueues each one's next run. Runs in the caller's transaction."""
    session.execute(delete(ReportSchedule))
    session.flush()
    for entry in entries:
        session.add(ReportSchedule(name=entry["name"], data=entry))
    session.flush()
    schedule_all(session, clock)


def entries(session: Session) -> list[dict[str, Any]]:
    """The schedules as applied, by name. Reads only."""
    rows = session.scalars(select(ReportSchedule).order_by(ReportSchedule.name))
    return [dict(row.data) for row in rows]


def schedule_next(
    session: Session, clock: Clock, row: ReportSchedule, after: datetime | None = None
) -> datetime:
    """Enqueues the schedule's next run after `after` (default now); returns its due time.
    Idempotent: the key names the schedule, its fingerprint and the instant."""
    now = ensure_utc(clock.now())
    data = dict(row.data)
    due = rules.next_report_at(
        ensure_utc(after or now), data["period"], data["at"], ZoneInfo(data["zone"])
    )
    fp = fingerprint(data)
    enqueue(
        session,
        kind=JOB,
        key=f"report:{row.name}:{fp}:{iso(due)}",
        due_at=due,
        payload={"name": row.name, "fingerprint": fp, "at": iso(due)},
        now=now,
    )
    return due


def schedule_all(session: Session, clock: Clock) -> None:
    """Enqueues the next run of every schedule (a no-op for those already queued)."""
    for row in session.scalars(select(ReportSchedule)):
        schedule_next(session, clock, row)


def ensure_jobs(db: Database, clock: Clock) -> None:
    """At startup: every schedule has its next run queued. Processes starting together may
    race; the loser's insert fails on the unique key and changes nothing."""
    try:
        with db.session() as s:
            schedule_all(s, clock)
    except IntegrityError:
        log.info("report jobs were scheduled by another process")


def recipients(session: Session, data: dict[str, Any]) -> list[dict[str, str]]:
    """The schedule's recipients as (recipient key, kind, address, secret env) entries."""
    to = data.get("to") or {}
    out = [
        {"recipient": f"email:{addr}", "kind": "email", "address": addr, "secret_env": ""}
        for addr in to.get("email") or []
    ]
    if to.get("webhook"):
        out.append(
            {
                "recipient": "webhook",
                "kind": "webhook",
                "address": to["webhook"],
                "secret_env": to.get("webhook_secret_env") or "",
            }
        )
    for name in to.get("team_channel") or []:
        out.append({"recipient": f"team:{name}", "kind": "team", "address": name, "secret_env": ""})
    return out


def run_job(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine handler of JOB: enqueues the review's deliveries for the run's instant, then
    the schedule's next run. Does nothing for a removed or changed schedule."""
    row = session.get(ReportSchedule, str(payload["name"]))
    if row is None or fingerprint(dict(row.data)) != payload.get("fingerprint"):
        return
    due = parse_utc(str(payload["at"]))
    now = ensure_utc(clock.now())
    run = f"report:{row.name}:{payload['fingerprint']}:{iso(due)}"
    for r in recipients(session, dict(row.data)):
        enqueue(
            session,
            kind=DELIVER_JOB,
            key=f"{run}:{r['recipient']}",
            due_at=now,
            payload={"name": row.name, "run": run, "at": iso(due), **r},
            now=now,
        )
    schedule_next(session, clock, row, after=max(now, due))


def compose(session: Session, clock: Clock, data: dict[str, Any], due: datetime) -> dict[str, Any]:
    """The review a run at `due` delivers: its summary, title and Markdown. Reads only."""
    start, end = rules.period_range(due, data["period"])
    f = queries.filters(
        session,
        clock,
        start=iso(start),
        end=iso(end),
        severity=data.get("severity"),
        service=data.get("service"),
        team=data.get("team"),
    )
    summary = queries.summary(session, READER, f)
    title = f"Operational review: {data['period']} of {start.date().isoformat()}"
    return {"title": title, "summary": summary, "markdown": report.markdown(summary, title)}


def deliver(
    db: Database, clock: Clock, payload: dict[str, Any]
) -> Callable[[Session], None] | None:
    """Engine handler of DELIVER_JOB (outside a transaction): sends the review to one
    recipient; raises DeliveryFailed for the engine to retry."""
    with db.read() as s:
        row = s.get(ReportSchedule, str(payload["name"]))
        if row is None:
            return None
        data = dict(row.data)
        kind, address, secret = str(payload["kind"]), str(payload["address"]), ""
        if kind == "team":
            team = s.scalar(select(Team).where(Team.name == address))
            if team is None or not team.channel_url:
                return None
            kind, address = channel_kind(team.channel_url), team.channel_url
        if payload.get("secret_env"):
            secret = os.environ.get(str(payload["secret_env"]), "")
        review = compose(s, clock, data, parse_utc(str(payload["at"])))
    msg = channels.Message(
        key=str(payload["run"]) + ":" + str(payload["recipient"]),
        subject=review["title"],
        text=review["markdown"],
        data={
            "event": "operational_review",
            "report": data["name"],
            "period": data["period"],
            "title": review["title"],
            "markdown": review["markdown"],
            "summary": review["summary"],
        },
    )
    channels.send(kind, address, secret, msg)
    return None
