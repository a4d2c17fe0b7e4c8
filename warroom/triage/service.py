"""Triage in the store: the organisation's matrix, ladder and audiences (the `triage:`
section), and suggestions resolved to the people and policies to page.

Invariants:
- A store without a `triage:` section uses the seeds' matrix and ladder (triage.rules).
  The section's `blast_radius` replaces single rungs; its `matrix` replaces all nine cells.
- The owning team's on-call is the escalation policy of the affected service; the team
  lead is its owning team's lead. The other audiences are what the section names. An
  audience nobody has named is still listed, with what to configure: a suggestion never
  silently drops someone who should be paged.
- Suggesting reads only and needs the viewer role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import NotFound, ValidationFailed
from warroom.core.principal import Principal, require_role
from warroom.org.models import Service, ServiceDependency, Team, User
from warroom.org.service import severities
from warroom.paging.models import EscalationPolicy
from warroom.triage import rules
from warroom.triage.models import TriageSettings

DEFAULT_AUDIENCE_HINT = "name it in config: triage.audiences.{audience}"


def settings(session: Session) -> dict[str, Any]:
    """The stored `triage:` section ({} while the defaults apply)."""
    row = session.get(TriageSettings, 1)
    return dict(row.data) if row else {}


def save(session: Session, data: Mapping[str, Any] | None) -> None:
    """Keeps the section (None: back to the defaults)."""
    row = session.get(TriageSettings, 1)
    if data is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(TriageSettings(id=1, data=dict(data)))
    else:
        row.data = dict(data)
    session.flush()


def matrix_and_ladder(
    data: Mapping[str, Any],
) -> tuple[Mapping[str, Mapping[str, str]], dict[str, rules.Rung]]:
    """The effective matrix and ladder of a section."""
    matrix = data.get("matrix") or rules.DEFAULT_MATRIX
    ladder = dict(rules.DEFAULT_LADDER)
    for key, rung in (data.get("blast_radius") or {}).items():
        ladder[key] = rules.Rung(rung["severity"], tuple(rung["page"]))
    return matrix, ladder


def check(
    data: Mapping[str, Any], severity_names: set[str], users: set[str], policies: set[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """What the section names that does not exist, and a matrix missing cells."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    matrix = data.get("matrix")
    if matrix is not None:
        for impact in rules.IMPACTS:
            for scope in rules.SCOPES:
                sev = (matrix.get(impact) or {}).get(scope)
                if sev is None:
                    problems.append(
                        (("triage", "matrix", impact), f"the matrix has no {scope} cell")
                    )
                elif sev not in severity_names:
                    problems.append(
                        (("triage", "matrix", impact, scope), f"unknown severity {sev!r}")
                    )
    for key, rung in (data.get("blast_radius") or {}).items():
        if rung["severity"] not in severity_names:
            problems.append(
                (
                    ("triage", "blast_radius", key, "severity"),
                    f"unknown severity {rung['severity']!r}",
                )
            )
    for key, who in (data.get("audiences") or {}).items():
        policy = who.get("escalation_policy")
        if policy is not None and policy not in policies:
            problems.append(
                (("triage", "audiences", key, "escalation_policy"), f"unknown policy {policy!r}")
            )
        for i, name in enumerate(who.get("users") or []):
            if name not in users:
                problems.append(
                    (("triage", "audiences", key, "users", i), f"unknown user {name!r}")
                )
        if policy is None and not who.get("users"):
            problems.append((("triage", "audiences", key), "name an escalation_policy or users"))
    return problems


def _ranks(session: Session) -> dict[str, int]:
    return {s.name: s.rank for s in severities(session)}


def suggest(
    session: Session,
    principal: Principal,
    *,
    impact: str | None = None,
    scope: str | None = None,
    blast_radius: str | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """`{"severity", "page": [...], "why", ...}` for the answers given; with `service`, the
    page list names the service's escalation policy and its team's lead, and
    `dependents` lists the services that depend on it. Needs the viewer role (Forbidden,
    403); ValidationFailed (422) names `impact`, `scope` or `blast_radius` when one is
    unknown or only one of impact and scope is given; NotFound (404, `service`)."""
    require_role(principal, "viewer")
    data = settings(session)
    matrix, ladder = matrix_and_ladder(data)
    try:
        got = rules.suggest(
            impact=impact,
            scope=scope,
            blast_radius=blast_radius,
            ranks=_ranks(session),
            matrix=matrix,
            ladder=ladder,
        )
    except ValueError as exc:
        field = str(exc)
        choices = {
            "impact": rules.IMPACTS,
            "scope": rules.SCOPES,
            "blast_radius": rules.BLAST_RADII,
        }[field]
        raise ValidationFailed(
            f"give {field} as one of {', '.join(choices)}"
            + (" (impact and scope go together)" if field in ("impact", "scope") else ""),
            field=field,
        ) from None
    svc = None
    if service is not None:
        svc = session.scalar(select(Service).where(Service.name == service))
        if svc is None:
            raise NotFound(f"unknown service {service!r}", field="service")
    audiences = data.get("audiences") or {}
    page = [_resolve(session, a, svc, audiences) for a in got.page]
    out: dict[str, Any] = {
        "severity": got.severity,
        "page": page,
        "why": got.why,
        "answers": {"impact": impact, "scope": scope, "blast_radius": blast_radius},
        "nudge": "Assume the worst; downgrade later.",
    }
    if svc is not None:
        out["service"] = svc.name
        out["dependents"] = dependents(session, [svc.name])
    return out


def _resolve(
    session: Session, audience: str, svc: Service | None, audiences: Mapping[str, Any]
) -> dict[str, Any]:
    item: dict[str, Any] = {"audience": audience, "label": rules.label(audience)}
    if audience == "owning_team":
        if svc is None:
            item["missing"] = "give the affected service to name its escalation policy"
        elif svc.escalation_policy_id is None:
            item["missing"] = f"{svc.name} has no escalation_policy in config"
        else:
            pol = session.get(EscalationPolicy, svc.escalation_policy_id)
            item["escalation_policy"] = pol.name if pol else None
        return item
    if audience == "team_lead":
        team = session.get(Team, svc.owner_team_id) if svc and svc.owner_team_id else None
        lead = session.get(User, team.lead_id) if team and team.lead_id else None
        if lead is not None:
            item["users"] = [lead.name]
        elif svc is None:
            item["missing"] = "give the affected service to name its team's lead"
        else:
            item["missing"] = (
                f"{team.name if team else svc.name + ' has no owning team; its team'} has no lead"
            )
        return item
    who = audiences.get(audience)
    if not who:
        item["missing"] = DEFAULT_AUDIENCE_HINT.format(audience=audience)
        return item
    if who.get("escalation_policy"):
        item["escalation_policy"] = who["escalation_policy"]
    if who.get("users"):
        item["users"] = list(who["users"])
    return item


def depends_on_map(session: Session) -> dict[str, list[str]]:
    """{service: the services it depends on}."""
    names = {sid: n for sid, n in session.execute(select(Service.id, Service.name))}
    out: dict[str, list[str]] = {n: [] for n in names.values()}
    for sid, dep in session.execute(
        select(ServiceDependency.service_id, ServiceDependency.depends_on_id)
    ):
        if sid in names and dep in names:
            out[names[sid]].append(names[dep])
    return out


def dependents(session: Session, affected: list[str]) -> list[str]:
    """The services that depend, directly or not, on the affected ones."""
    return rules.dependents(depends_on_map(session), affected)
