"""The `status_components:` section of config as code: check, apply, export.

Components are matched by name; what the section omits is deleted (with its history).
Statuses are live state, not config: a new component starts operational and an apply
never changes a status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.org.models import Service
from warroom.statuspage.models import ComponentStatusChange, StatusComponent
from warroom.statuspage.page import bump
from warroom.statuspage.rules import new_code


def check(doc: Any, services: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
    items = doc.status_components
    if items is None:
        return []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    groups = {c.name for c in items if c.is_group}
    seen: set[str] = set()
    for i, c in enumerate(items):
        if c.name in seen:
            problems.append((("status_components", i, "name"), f"duplicate name {c.name!r}"))
        seen.add(c.name)
        if c.service is not None and c.service not in services:
            problems.append((("status_components", i, "service"), f"unknown service {c.service!r}"))
        if c.is_group and c.service is not None:
            problems.append(
                (("status_components", i, "service"), "a group has no service; its components do")
            )
        if c.group is not None:
            if c.is_group:
                problems.append((("status_components", i, "group"), "groups cannot be nested"))
            elif c.group not in groups:
                problems.append(
                    (
                        ("status_components", i, "group"),
                        f"{c.group!r} is not a group in status_components (add it with "
                        "is_group: true)",
                    )
                )
    return problems


def apply(session: Session, clock: Clock, doc: Any) -> None:
    items = doc.status_components
    assert items is not None
    wanted = {c.name: c for c in items}
    rows = {r.name: r for r in session.scalars(select(StatusComponent))}
    for name, gone in rows.items():
        if name not in wanted:
            for child in rows.values():
                if child.group_id == gone.id:
                    child.group_id = None
            session.delete(gone)
    session.flush()
    services = {name: sid for sid, name in session.execute(select(Service.id, Service.name))}
    now = clock.now()
    made: dict[str, StatusComponent] = {}
    for position, c in enumerate(items, start=1):
        row = rows.get(c.name)
        if row is None:
            row = StatusComponent(
                code=new_code(),
                name=c.name,
                status="operational",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        row.description = c.description
        row.is_group = c.is_group
        row.service_id = services.get(c.service) if c.service else None
        row.position = position
        row.only_show_if_degraded = c.only_show_if_degraded
        row.showcase = c.showcase
        made[c.name] = row
    session.flush()
    for c in items:
        row = made[c.name]
        row.group_id = made[c.group].id if c.group else None
        if c.name not in rows and not c.is_group:
            session.add(ComponentStatusChange(component_id=row.id, status="operational", at=now))
    session.flush()
    bump(session, clock)


def export(session: Session) -> list[dict[str, Any]]:
    rows = list(
        session.scalars(
            select(StatusComponent).order_by(StatusComponent.position, StatusComponent.id)
        )
    )
    names = {r.id: r.name for r in rows}
    services = {sid: name for sid, name in session.execute(select(Service.id, Service.name))}
    return [
        {
            "name": r.name,
            "description": r.description,
            "group": names.get(r.group_id) if r.group_id else None,
            "is_group": r.is_group,
            "service": services.get(r.service_id) if r.service_id else None,
            "only_show_if_degraded": r.only_show_if_degraded,
            "showcase": r.showcase,
        }
        for r in rows
    ]
