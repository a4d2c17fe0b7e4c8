"""Config as code for paging: `escalation_policies:`, each service's
`escalation_policy`, and each user's `contact_methods` and `notification_rules`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.core.errors import ValidationFailed
from warroom.oncall.models import Schedule
from warroom.org.models import Service, Team, User
from warroom.paging import contacts, policies
from warroom.paging.models import EscalationLevel, EscalationPolicy

if TYPE_CHECKING:
    from warroom.config.schema import ConfigDoc

Path_ = tuple[str | int, ...]


def check(
    session: Session, doc: ConfigDoc, users: set[str], teams: set[str]
) -> list[tuple[Path_, str]]:
    problems: list[tuple[Path_, str]] = []
    schedules = (
        {s.name for s in doc.schedules}
        if doc.schedules is not None
        else set(session.scalars(select(Schedule.name)))
    )
    if doc.escalation_policies is not None:
        policies = {p.name for p in doc.escalation_policies}
    else:
        policies = set(session.scalars(select(EscalationPolicy.name)))
    seen: set[str] = set()
    for i, p in enumerate(doc.escalation_policies or []):
        at: Path_ = ("escalation_policies", i)
        if p.name in seen:
            problems.append(((*at, "name"), f"duplicate name {p.name!r}"))
        seen.add(p.name)
        if p.fallback is not None and p.fallback not in teams:
            problems.append(((*at, "fallback"), f"unknown team {p.fallback!r}"))
        for j, level in enumerate(p.levels):
            for k, t in enumerate(level.targets):
                tat: Path_ = (*at, "levels", j, "targets", k)
                kn = t.kind_name()
                if kn is None:
                    problems.append((tat, "give exactly one of user, schedule or team"))
                    continue
                kind, name = kn
                known = {"user": users, "schedule": schedules, "team": teams}[kind]
                if name not in known:
                    problems.append(((*tat, kind), f"unknown {kind} {name!r}"))
    for i, svc in enumerate(doc.services or []):
        if svc.escalation_policy is not None and svc.escalation_policy not in policies:
            problems.append(
                (
                    ("services", i, "escalation_policy"),
                    f"unknown escalation policy {svc.escalation_policy!r}",
                )
            )
    if doc.services is None and doc.escalation_policies is not None:
        for svc_name, pol in session.execute(
            select(Service.name, EscalationPolicy.name).join(
                EscalationPolicy, EscalationPolicy.id == Service.escalation_policy_id
            )
        ):
            if pol not in policies:
                problems.append(
                    (
                        ("escalation_policies",),
                        f"service {svc_name!r} uses escalation policy {pol!r}; "
                        "give it another first",
                    )
                )
    for i, team in enumerate(doc.teams or []):
        if team.channel_url:
            url = team.channel_url
            try:
                kind = "webhook" if url.startswith(("http://", "https://")) else "apprise"
                contacts.check_method(kind, url, "channel_url")
            except ValidationFailed as exc:
                problems.append((("teams", i, "channel_url"), exc.message))
    for i, u in enumerate(doc.users or []):
        names: set[str] = set()
        for j, m in enumerate(u.contact_methods or []):
            mat: Path_ = ("users", i, "contact_methods", j)
            if m.name in names:
                problems.append(((*mat, "name"), f"duplicate contact method {m.name!r}"))
            names.add(m.name)
            try:
                contacts.check_method(m.kind, m.address, "x")
            except ValidationFailed as exc:
                problems.append(((*mat, (exc.field or "x.address").split(".")[-1]), exc.message))
        for j, r in enumerate(u.notification_rules or []):
            if r.method not in names:
                problems.append(
                    (
                        ("users", i, "notification_rules", j, "method"),
                        f"unknown contact method {r.method!r}",
                    )
                )
    return problems


def apply_policies(session: Session, clock: Clock, doc: ConfigDoc) -> None:
    assert doc.escalation_policies is not None
    wanted = {p.name: p for p in doc.escalation_policies}
    for row in policies.list_policies(session):
        if row.name not in wanted:
            session.execute(
                update(Service)
                .where(Service.escalation_policy_id == row.id)
                .values(escalation_policy_id=None)
            )
            session.delete(row)
    session.flush()
    teams = {t.name: t.id for t in session.scalars(select(Team))}
    for p in doc.escalation_policies:
        found = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == p.name))
        row = found if found is not None else EscalationPolicy(name=p.name, created_at=clock.now())
        session.add(row)
        row.description = p.description
        row.repeat = p.repeat
        row.fallback_team_id = teams.get(p.fallback) if p.fallback else None
        session.flush()
        for old in session.scalars(
            select(EscalationLevel).where(EscalationLevel.policy_id == row.id)
        ):
            session.delete(old)
        session.flush()
        for position, level in enumerate(p.levels):
            targets = []
            for t in level.targets:
                kn = t.kind_name()
                assert kn is not None
                targets.append({"type": kn[0], "name": kn[1], "level": t.level})
            session.add(
                EscalationLevel(
                    policy_id=row.id,
                    position=position,
                    timeout_minutes=level.timeout_minutes,
                    targets=targets,
                )
            )
    session.flush()


def apply_services(session: Session, doc: ConfigDoc) -> None:
    assert doc.services is not None
    policy_ids = {p.name: p.id for p in policies.list_policies(session)}
    for s in doc.services:
        row = session.scalar(select(Service).where(Service.name == s.name))
        if row is not None:
            row.escalation_policy_id = (
                policy_ids[s.escalation_policy] if s.escalation_policy else None
            )
    session.flush()


def apply_users(session: Session, doc: ConfigDoc) -> None:
    assert doc.users is not None
    for u in doc.users:
        if u.contact_methods is None and u.notification_rules is None:
            continue  # managed through the API or CLI
        row = session.scalar(select(User).where(User.name == u.name))
        assert row is not None
        contacts.set_contact(
            session,
            row,
            [m.model_dump() for m in u.contact_methods or []],
            [r.model_dump() for r in u.notification_rules or []],
        )


def export_policies(session: Session) -> list[dict[str, Any]]:
    out = []
    for row in policies.list_policies(session):
        plan = policies.policy_plan(session, row)
        levels = []
        for lv in plan.levels:
            targets = []
            for t in lv.targets:
                item: dict[str, Any] = {"user": None, "schedule": None, "team": None}
                item[t.type] = t.name
                item["level"] = t.level
                targets.append(item)
            levels.append({"timeout_minutes": lv.timeout_minutes, "targets": targets})
        out.append(
            {
                "name": row.name,
                "description": row.description,
                "repeat": row.repeat,
                "fallback": plan.fallback,
                "levels": levels,
            }
        )
    return out


def export_user_contact(session: Session, user: User) -> dict[str, Any]:
    return {
        "contact_methods": [
            {"name": m.name, "kind": m.kind, "address": m.address, "secret": m.secret}
            for m in contacts.contact_methods(session, user.id)
        ],
        "notification_rules": [
            {"method": name, "after_minutes": r.after_minutes}
            for r, name in contacts.notification_rules(session, user.id)
        ],
    }


def service_policy_names(session: Session) -> dict[int, str]:
    return {
        sid: name
        for sid, name in session.execute(
            select(Service.id, EscalationPolicy.name).join(
                EscalationPolicy, EscalationPolicy.id == Service.escalation_policy_id
            )
        )
    }
