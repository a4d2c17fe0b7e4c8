"""The `heartbeats:` section of config as code: check, apply, export.

Entries are matched by name; what the section omits is deleted (its open alert
resolves). A new monitor's ping URL secret is in its change of the apply, shown once;
an export never contains it, so applying an export changes no URL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.heartbeats import rules, service
from warroom.heartbeats.models import Heartbeat
from warroom.org.models import Service

Problems = list[tuple[tuple[str | int, ...], str]]


def _duration(text: str) -> timedelta | None:
    try:
        return rules.parse_duration(text)
    except ValueError:
        return None


def check(doc: Any, services: set[str]) -> Problems:
    """Names used twice, unknown services and durations that do not parse or are out of range."""
    items = doc.heartbeats
    if items is None:
        return []
    problems: Problems = []
    seen: set[str] = set()
    for i, hb in enumerate(items):
        if hb.name in seen:
            problems.append((("heartbeats", i, "name"), f"duplicate name {hb.name!r}"))
        seen.add(hb.name)
        if "/" in hb.name:
            problems.append((("heartbeats", i, "name"), "name must not contain '/'"))
        if hb.service not in services:
            problems.append((("heartbeats", i, "service"), f"unknown service {hb.service!r}"))
        for field, low in (("interval", rules.MIN_INTERVAL), ("grace", timedelta(0))):
            value = _duration(getattr(hb, field))
            if value is None or value < low or value > rules.MAX_INTERVAL:
                problems.append(
                    (
                        ("heartbeats", i, field),
                        f"{field} must be a duration like 90s, 5m, 2h or 1d, at least "
                        f"{rules.format_duration(low)} and at most 366d",
                    )
                )
    return problems


def names(session: Session, doc: Any) -> set[str]:
    """The monitors there will be after the apply."""
    if doc.heartbeats is not None:
        return {hb.name for hb in doc.heartbeats}
    return set(session.scalars(select(Heartbeat.name)))


def service_users(session: Session, doc: Any) -> dict[str, str]:
    """{monitor: service} after the apply, so a service still watched is not deleted."""
    if doc.heartbeats is not None:
        return {hb.name: hb.service for hb in doc.heartbeats}
    return {
        name: svc
        for name, svc in session.execute(
            select(Heartbeat.name, Service.name).join(Service, Service.id == Heartbeat.service_id)
        )
    }


def apply(session: Session, clock: Clock, doc: Any) -> dict[str, str]:
    """Creates, changes and deletes monitors to match the section; returns {name: secret} of
    the monitors it created."""
    assert doc.heartbeats is not None
    wanted = {hb.name: hb for hb in doc.heartbeats}
    created: dict[str, str] = {}
    for hb in list(service.list_monitors(session)):
        if hb.name not in wanted:
            service.delete_monitor(session, clock, hb)
    session.flush()
    existing = {hb.name: hb for hb in service.list_monitors(session)}
    for name, item in wanted.items():
        fields = {
            "service": item.service,
            "interval": rules.parse_duration(item.interval),
            "grace": rules.parse_duration(item.grace),
            "severity": item.severity,
            "description": item.description,
            "paused": item.paused,
        }
        row = existing.get(name)
        if row is None:
            _, token = service.create_monitor(session, clock, name=name, **fields)
            created[name] = token
        else:
            service.update_monitor(session, clock, row, **fields)
    session.flush()
    return created


def export(session: Session) -> list[dict[str, Any]]:
    """The section as apply takes it, by name; never a secret."""
    names_of = {sid: name for sid, name in session.execute(select(Service.id, Service.name))}
    return [
        {
            "name": hb.name,
            "service": names_of.get(hb.service_id),
            "interval": rules.format_duration(timedelta(seconds=hb.interval_seconds)),
            "grace": rules.format_duration(timedelta(seconds=hb.grace_seconds)),
            "severity": hb.severity,
            "description": hb.description,
            "paused": hb.paused,
        }
        for hb in service.list_monitors(session)
    ]
