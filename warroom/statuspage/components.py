"""Status page components and component groups, and each component's status history.

Invariants:
- Component names are unique (Conflict on `name`); a component is found by its name or
  by its public code. A name may contain `/` (the API takes the rest of the path as the
  name).
- Groups are one level deep: a group is in no group and has no service (its components
  do); a component's group must be a group, and not the component itself.
- A group's status is not set: `set_status` refuses groups, and a group has no history.
- Every status a component takes, from its creation on, is appended to its history
  (ComponentStatusChange), the source of the uptime bars; setting the status it already
  has changes and records nothing.
- Editing components (create, update, delete) needs the admin role; setting a status
  needs the responder role (Forbidden otherwise). Every change bumps the page version,
  in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed
from warroom.core.principal import Principal, require_role
from warroom.org.models import Service
from warroom.org.service import services_by_names
from warroom.statuspage import rules
from warroom.statuspage.common import choice, clean_text, unique_code
from warroom.statuspage.models import ComponentStatusChange, StatusComponent
from warroom.statuspage.page import bump

NOT_NULL = ("position", "only_show_if_degraded", "showcase")


def component_by_name(session: Session, name: str) -> StatusComponent:
    """Read-only: the component or group with this name, else the one with this public
    code; NotFound on `component` when there is neither."""
    row = session.scalar(select(StatusComponent).where(StatusComponent.name == name))
    if row is None:
        row = session.scalar(select(StatusComponent).where(StatusComponent.code == name))
    if row is None:
        raise NotFound(f"no status page component named {name!r}", field="component")
    return row


def list_components(session: Session) -> list[StatusComponent]:
    """Read-only: every component and group, in page order (position, then id)."""
    return list(
        session.scalars(
            select(StatusComponent).order_by(StatusComponent.position, StatusComponent.id)
        )
    )


def _group(session: Session, name: str | None, *, exclude: int | None = None) -> int | None:
    if not name:
        return None
    grp = component_by_name(session, name)
    if not grp.is_group:
        raise ValidationFailed(f"{name!r} is a component, not a group", field="group")
    if exclude is not None and grp.id == exclude:
        raise ValidationFailed("a group cannot contain itself", field="group")
    return grp.id


def _service_id(session: Session, name: str | None) -> int | None:
    if not name:
        return None
    return services_by_names(session, [name], field="service")[0].id


def create_component(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    name: str,
    description: str = "",
    group: str | None = None,
    is_group: bool = False,
    service: str | None = None,
    position: int | None = None,
    status: str = "operational",
    only_show_if_degraded: bool = False,
    showcase: bool = True,
) -> StatusComponent:
    """Admin only: adds a component (or, with is_group, a group) at `position` (default:
    last) and returns it; a component's first status goes into its history; bumps the
    version.

    Errors: ValidationFailed on `name` (empty, over 100 characters), `status` (not a
    component status), `description` (over 2000), `group` (groups cannot be nested; the
    named group is a component) and `service` (a group has none; unknown service);
    Conflict on `name` (taken); NotFound on `component` (the named group does not
    exist)."""
    require_role(principal, "admin")
    name = clean_text(name, "name", 100)
    choice(status, rules.COMPONENT_STATUSES, "status")
    if session.scalar(select(StatusComponent.id).where(StatusComponent.name == name)):
        raise Conflict(f"a component named {name!r} exists", field="name")
    if is_group and group:
        raise ValidationFailed("groups cannot be nested", field="group")
    if is_group and service:
        raise ValidationFailed("a group has no service; its components do", field="service")
    now = clock.now()
    if position is None:
        position = len(list_components(session)) + 1
    row = StatusComponent(
        code=unique_code(session, StatusComponent),
        name=name,
        description=clean_text(description, "description", 2000, required=False),
        is_group=is_group,
        group_id=_group(session, group),
        service_id=_service_id(session, service),
        position=position,
        status=status,
        only_show_if_degraded=only_show_if_degraded,
        showcase=showcase,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    if not is_group:
        session.add(ComponentStatusChange(component_id=row.id, status=status, at=now))
    bump(session, clock)
    return row


def update_component(
    session: Session,
    clock: Clock,
    principal: Principal,
    name: str,
    changes: dict[str, Any],
) -> StatusComponent:
    """Admin only: applies `changes` to the named component or group and returns it;
    always bumps the version, even when nothing changed.

    Keys: name, description, group, service (empty clears), position,
    only_show_if_degraded, showcase, status (recorded in the history as by `set_status`);
    absent and unknown keys leave the row as it is. Errors: NotFound on `component` (no
    such component or group); Conflict on `name` (taken); ValidationFailed on `name`,
    `description`, `group`, `service`, `status`, on `position`, `only_show_if_degraded`
    and `showcase` when null (they always have a value; leave a key out to keep it), and
    on `component` when setting a group's status. Checks run as the changes are applied,
    so after an error the caller's transaction must roll back (the API's does)."""
    require_role(principal, "admin")
    for key in NOT_NULL:
        if key in changes and changes[key] is None:
            raise ValidationFailed(
                f"{key} must not be null (leave it out to keep its value)", field=key
            )
    row = component_by_name(session, name)
    if "name" in changes and changes["name"] != row.name:
        new = clean_text(changes["name"], "name", 100)
        if session.scalar(select(StatusComponent.id).where(StatusComponent.name == new)):
            raise Conflict(f"a component named {new!r} exists", field="name")
        row.name = new
    if "description" in changes:
        row.description = clean_text(changes["description"], "description", 2000, required=False)
    if "group" in changes:
        if row.is_group and changes["group"]:
            raise ValidationFailed("groups cannot be nested", field="group")
        row.group_id = _group(session, changes["group"], exclude=row.id)
    if "service" in changes:
        if row.is_group and changes["service"]:
            raise ValidationFailed("a group has no service; its components do", field="service")
        row.service_id = _service_id(session, changes["service"])
    for key in NOT_NULL:
        if key in changes:
            setattr(row, key, changes[key])
    row.updated_at = clock.now()
    if "status" in changes:
        set_status(session, clock, row, changes["status"])
    bump(session, clock)
    return row


def delete_component(session: Session, clock: Clock, principal: Principal, name: str) -> None:
    """Admin only: deletes the named component or group, with its history (the store
    cascades); a deleted group's components become ungrouped; bumps the version.
    NotFound on `component`."""
    require_role(principal, "admin")
    row = component_by_name(session, name)
    for child in session.scalars(select(StatusComponent).where(StatusComponent.group_id == row.id)):
        child.group_id = None
    session.delete(row)
    session.flush()
    bump(session, clock)


def set_status(session: Session, clock: Clock, row: StatusComponent, status: str) -> str | None:
    """Sets a component's status, appends it to its history and bumps the version;
    returns the old status, or None (changing nothing) when it already had that status.

    No role check: callers check. ValidationFailed on `status` (not a component status)
    and on `component` (the row is a group)."""
    choice(status, rules.COMPONENT_STATUSES, "status")
    if row.is_group:
        raise ValidationFailed(
            f"{row.name!r} is a group; set the status of its components", field="component"
        )
    if row.status == status:
        return None
    old = row.status
    now = clock.now()
    row.status = status
    row.updated_at = now
    session.add(ComponentStatusChange(component_id=row.id, status=status, at=now))
    bump(session, clock)
    return old


def set_component_status(
    session: Session, clock: Clock, principal: Principal, name: str, status: str
) -> StatusComponent:
    """Responder or above: sets the named component's status as `set_status` does (history,
    version; its current status changes nothing) and returns the component.

    NotFound on `component`; ValidationFailed on `status`, and on `component` for a
    group."""
    require_role(principal, "responder")
    row = component_by_name(session, name)
    set_status(session, clock, row, status)
    return row


def component_dict(session: Session, row: StatusComponent) -> dict[str, Any]:
    """Read-only: the component as the API shows it (its public code as id; its group and
    service by name)."""
    group = session.get(StatusComponent, row.group_id) if row.group_id else None
    svc = session.get(Service, row.service_id) if row.service_id else None
    return {
        "id": row.code,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "group": group.name if group else None,
        "is_group": row.is_group,
        "service": svc.name if svc else None,
        "position": row.position,
        "only_show_if_degraded": row.only_show_if_degraded,
        "showcase": row.showcase,
        "updated_at": iso(row.updated_at),
    }
