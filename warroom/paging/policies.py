"""Escalation policies: who is paged in which order, how long each level waits, how
many passes, and which team's channel hears when nobody answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import NotFound
from warroom.org.models import Service, Team
from warroom.paging import rules
from warroom.paging.models import EscalationLevel, EscalationPolicy


def get_policy(session: Session, name: str) -> EscalationPolicy:
    """Returns the escalation policy named `name`; raises NotFound (404, field `policy`)."""
    row = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))
    if row is None:
        raise NotFound(f"no escalation policy named {name!r}", field="policy")
    return row


def list_policies(session: Session) -> list[EscalationPolicy]:
    """Returns every escalation policy, by name."""
    return list(session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))


def policy_plan(session: Session, policy: EscalationPolicy) -> rules.Plan:
    """Returns the policy as a pure plan: levels and targets in order, repeats, fallback team."""
    levels = session.scalars(
        select(EscalationLevel)
        .where(EscalationLevel.policy_id == policy.id)
        .order_by(EscalationLevel.position)
    )
    fallback = session.get(Team, policy.fallback_team_id) if policy.fallback_team_id else None
    return rules.Plan(
        levels=tuple(
            rules.Level(
                lv.timeout_minutes,
                tuple(
                    rules.Target(t["type"], t["name"], int(t.get("level", 1)))
                    for t in lv.targets or []
                ),
            )
            for lv in levels
        ),
        repeat=policy.repeat,
        fallback=fallback.name if fallback else None,
    )


def policy_dict(session: Session, policy: EscalationPolicy) -> dict[str, Any]:
    """Returns the API form of a policy, with its levels and the services that page through it."""
    plan = policy_plan(session, policy)
    services = list(
        session.scalars(
            select(Service.name)
            .where(Service.escalation_policy_id == policy.id)
            .order_by(Service.name)
        )
    )
    return {
        "name": policy.name,
        "description": policy.description,
        "repeat": plan.repeat,
        "fallback": plan.fallback,
        "levels": plan.to_json()["levels"],
        "services": services,
    }
