"""Organisation rules: users, teams, services, severities, first-run bootstrap.

Invariant: a team's `channel_url` holds the chat's credentials: `teams_for` (what the API
shows) gives it whole to admins only and redacted to everyone else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.core.errors import Conflict, NotFound, ValidationFailed
from warroom.core.principal import Principal
from warroom.core.redact import redact_url
from warroom.core.security import ROLES, hash_password, new_password
from warroom.org.models import Service, ServiceDependency, Severity, Team, TeamMember, User
from warroom.severity.levels import DEFAULT_SEVERITIES

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ZONES: set[str] | None = None


def valid_timezone(tz: str) -> bool:
    """Returns whether `tz` names an IANA time zone (or UTC)."""
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return tz in _ZONES


def check_user_fields(name: str, email: str, timezone: str, role: str) -> None:
    """Raises ValidationFailed (422) naming the field for a bad name, email, time zone or role."""
    if not NAME_RE.match(name):
        raise ValidationFailed(
            "name must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="name",
        )
    if not EMAIL_RE.match(email):
        raise ValidationFailed(f"email {email!r} is not an email address", field="email")
    if not valid_timezone(timezone):
        raise ValidationFailed(
            f"timezone {timezone!r} is not an IANA time zone (e.g. Europe/Berlin)",
            field="timezone",
        )
    if role not in ROLES:
        raise ValidationFailed(
            f"role must be one of {', '.join(ROLES)}", field="role", allowed=list(ROLES)
        )


def user_by_name(session: Session, name: str) -> User:
    """Returns the user with this name, else this email; raises NotFound (404, field `user`).
    Deactivated users are returned too."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        user = session.scalar(select(User).where(User.email == name))
    if user is None:
        raise NotFound(f"no user named {name!r}", field="user")
    return user


def create_user(
    session: Session,
    clock: Clock,
    *,
    name: str,
    email: str,
    full_name: str = "",
    timezone: str = "UTC",
    role: str = "responder",
    password: str | None = None,
) -> User:
    """Creates an active user and returns it; a password, if given, is stored hashed.
    Raises ValidationFailed (422) as check_user_fields does and Conflict (409, field `name` or
    `email`) when either is taken. Checks no role (the admin API and config apply decide) and no
    password length; runs in the caller's transaction."""
    check_user_fields(name, email, timezone, role)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"a user named {name!r} exists already", field="name")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email!r} exists already", field="email")
    user = User(
        name=name,
        email=email,
        full_name=full_name,
        timezone=timezone,
        role=role,
        password_hash=hash_password(password) if password else None,
        active=True,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Stores a new password for the user, hashed; needs at least 8 characters.
    Raises ValidationFailed (422, field `password`) for a shorter one. Checks no role; web sessions
    already open stay valid."""
    if len(password) < 8:
        raise ValidationFailed("password must have at least 8 characters", field="password")
    user.password_hash = hash_password(password)


def list_users(session: Session) -> list[User]:
    """Returns every user, deactivated ones included, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def user_dict(user: User, teams: list[str] | None = None) -> dict[str, Any]:
    """Returns the API form of a user, with `teams` only when given; never the password."""
    out: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "full_name": user.full_name,
        "email": user.email,
        "timezone": user.timezone,
        "role": user.role,
        "active": user.active,
    }
    if teams is not None:
        out["teams"] = teams
    return out


def severities(session: Session) -> list[Severity]:
    """Returns every severity, by rank."""
    return list(session.scalars(select(Severity).order_by(Severity.rank)))


def severity_by_name(session: Session, name: str) -> Severity:
    """Returns the severity named `name`; raises ValidationFailed (422, field `severity`) otherwise.
    The error lists the severities there are (`allowed`)."""
    sev = session.scalar(select(Severity).where(Severity.name == name))
    if sev is None:
        allowed = [s.name for s in severities(session)]
        raise ValidationFailed(
            f"severity {name!r} is not one of {', '.join(allowed)}",
            field="severity",
            allowed=allowed,
        )
    return sev


def severity_dict(sev: Severity) -> dict[str, Any]:
    """Returns the API form of a severity, with its targets."""
    return {
        "name": sev.name,
        "rank": sev.rank,
        "label": sev.label,
        "description": sev.description,
        "targets": dict(sev.targets or {}),
    }


def services_by_names(session: Session, names: list[str], field: str = "services") -> list[Service]:
    """Returns the named services in the given order, repeats dropped; [] for no names.
    Raises ValidationFailed (422, field `field`) naming every unknown one."""
    if not names:
        return []
    found = {s.name: s for s in session.scalars(select(Service).where(Service.name.in_(names)))}
    missing = [n for n in names if n not in found]
    if missing:
        raise ValidationFailed(f"unknown service(s): {', '.join(missing)}", field=field)
    return [found[n] for n in dict.fromkeys(names)]


@dataclass
class ServiceView:
    service: Service
    owner: str | None
    depends_on: list[str]
    dependents: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.service.id,
            "name": self.service.name,
            "description": self.service.description,
            "owner": self.owner,
            "tier": self.service.tier,
            "runbooks": list(self.service.runbooks or []),
            "depends_on": self.depends_on,
            "dependents": self.dependents,
        }


def _service_views(session: Session, services: list[Service]) -> list[ServiceView]:
    teams = {t.id: t.name for t in session.scalars(select(Team))}
    names = {s.id: s.name for s in session.scalars(select(Service))}
    deps: dict[int, list[str]] = {}
    rdeps: dict[int, list[str]] = {}
    for d in session.scalars(select(ServiceDependency)):
        deps.setdefault(d.service_id, []).append(names[d.depends_on_id])
        rdeps.setdefault(d.depends_on_id, []).append(names[d.service_id])
    return [
        ServiceView(
            s,
            teams.get(s.owner_team_id) if s.owner_team_id else None,
            sorted(deps.get(s.id, [])),
            sorted(rdeps.get(s.id, [])),
        )
        for s in services
    ]


def list_services(session: Session) -> list[ServiceView]:
    """Returns every service by name, with its owner team and its dependencies both ways."""
    return _service_views(session, list(session.scalars(select(Service).order_by(Service.name))))


def get_service(session: Session, name: str) -> ServiceView:
    """Returns the service named `name` with its owner and dependencies.
    Raises NotFound (404, field `service`) for an unknown name."""
    svc = session.scalar(select(Service).where(Service.name == name))
    if svc is None:
        raise NotFound(f"no service named {name!r}", field="service")
    return _service_views(session, [svc])[0]


def list_teams(session: Session) -> list[dict[str, Any]]:
    """Returns every team by name as a dict, with its members' names sorted, its lead's
    name ("" for none) and its whole `channel_url` (credentials: for admins and config export only; see `teams_for`)."""
    members: dict[int, list[str]] = {}
    rows = session.execute(
        select(TeamMember.team_id, User.name).join(User, User.id == TeamMember.user_id)
    )
    for team_id, user_name in rows:
        members.setdefault(team_id, []).append(user_name)
    names: dict[int, str] = {uid: name for uid, name in session.execute(select(User.id, User.name))}
    return [
        {
            "name": t.name,
            "description": t.description,
            "channel": t.channel,
            "channel_url": t.channel_url,
            "members": sorted(members.get(t.id, [])),
            "lead": names.get(t.lead_id, "") if t.lead_id else "",
        }
        for t in session.scalars(select(Team).order_by(Team.name))
    ]


def teams_for(session: Session, who: Principal) -> list[dict[str, Any]]:
    """Returns every team as `who` may see it: as list_teams does for an admin; for anyone
    else each `channel_url` (a chat webhook or Apprise URL, which holds credentials) is
    redacted to its scheme and host (core.redact.redact_url). Reads only."""
    teams = list_teams(session)
    if not who.is_admin:
        for t in teams:
            if t["channel_url"]:
                t["channel_url"] = redact_url(t["channel_url"])
    return teams


@dataclass
class Bootstrap:
    created: bool
    admin_name: str | None = None
    admin_password: str | None = None


def ensure_defaults(session: Session, clock: Clock) -> Bootstrap:
    """On an empty store: default severities and an admin with a one-time password."""
    if session.scalar(select(func.count()).select_from(Severity)) == 0:
        for level in DEFAULT_SEVERITIES:
            session.add(Severity(**level))
    if session.scalar(select(func.count()).select_from(User)) == 0:
        password = new_password()
        create_user(
            session,
            clock,
            name="admin",
            email="admin@warroom.local",
            full_name="Administrator",
            role="admin",
            password=password,
        )
        return Bootstrap(created=True, admin_name="admin", admin_password=password)
    return Bootstrap(created=False)
