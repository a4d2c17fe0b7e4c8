"""Config as code: validate a document, plan the changes, apply them, export live config.

Severities, teams and services are authoritative: what a section omits is deleted
(refused while incidents still use it). Users are never deleted by a config apply,
so an apply cannot lock the administrators out; deactivate users through the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.integrations import INTERNAL_KIND, heartbeat_dict
from warroom.alerts.matching import format_matcher, parse_matcher
from warroom.alerts.models import AlertRule, Integration
from warroom.comms import config as comms_config
from warroom.config import postmortems as postmortems_config
from warroom.config import reports as reports_config
from warroom.config import sso as sso_config
from warroom.config import triage as triage_config
from warroom.config.schema import KEEP_ABSENT, KINDS, USER_CONTACT_FIELDS, ConfigDoc
from warroom.core.clock import Clock
from warroom.core.errors import ValidationFailed
from warroom.core.problems import Problem, dotted
from warroom.heartbeats import config as heartbeats_config
from warroom.incidents.models import Incident, IncidentService
from warroom.oncall import config as oncall_config
from warroom.org import service as org
from warroom.org.models import Service, ServiceDependency, Severity, Team, TeamMember, User
from warroom.paging import config as paging_config
from warroom.slos import config as slos_config
from warroom.statuspage import config as statuspage_config
from warroom.triage.rules import find_cycle


@dataclass
class Change:
    action: str  # create | update | delete
    kind: str
    name: str
    fields: list[str] = field(default_factory=list)
    key: str | None = None  # a new integration's key, shown once

    def to_dict(self) -> dict[str, Any]:
        out = {"action": self.action, "kind": self.kind, "name": self.name, "fields": self.fields}
        if self.key:
            out["key"] = self.key
        return out


class ConfigInvalid(ValidationFailed):
    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{dotted(first.path)}: {first.message}",
            field=dotted(first.path),
            problems=[p.to_dict() for p in problems],
        )
        self.problems = problems


def parse(data: Any) -> ConfigDoc:
    """Returns the document validated against the config schema; cross-references are not checked.
    Raises ConfigInvalid (422) listing every schema problem, the first one as `field`. Reads
    nothing."""
    if not isinstance(data, dict):
        raise ConfigInvalid([Problem((), "the config must be a mapping")])
    try:
        return ConfigDoc.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(tuple(err["loc"]), err["msg"] + _allowed(err)) for err in exc.errors()]
        raise ConfigInvalid(problems) from exc


def _allowed(err: Any) -> str:
    expected = (err.get("ctx") or {}).get("expected")
    # Literal errors already name the allowed values in their message.
    return f" (allowed: {expected})" if expected and expected not in err["msg"] else ""


def _check(session: Session, doc: ConfigDoc) -> list[Problem]:
    """Cross-references and field rules that the schema alone cannot express."""
    problems: list[Problem] = []

    def dupes(kind: str, names: list[str]) -> None:
        seen: dict[str, int] = {}
        for i, n in enumerate(names):
            if n in seen:
                problems.append(Problem((kind, i, "name"), f"duplicate name {n!r}"))
            seen[n] = i

    live_emails = {u.email: u.name for u in session.scalars(select(User))}
    live_users = set(live_emails.values())
    live_teams = {t.name for t in session.scalars(select(Team))}
    live_services = {s.name for s in session.scalars(select(Service))}
    users = live_users | {u.name for u in doc.users or []}
    teams = {t.name for t in doc.teams} if doc.teams is not None else live_teams
    services = {s.name for s in doc.services} if doc.services is not None else live_services

    if doc.severities is not None:
        dupes("severities", [s.name for s in doc.severities])
        ranks: dict[int, str] = {}
        for i, sev in enumerate(doc.severities):
            if sev.rank in ranks:
                problems.append(Problem(("severities", i, "rank"), f"rank {sev.rank} used twice"))
            ranks[sev.rank] = sev.name
        if not doc.severities:
            problems.append(Problem(("severities",), "at least one severity is needed"))
    if doc.users is not None:
        dupes("users", [u.name for u in doc.users])
        emails: set[str] = set()
        for i, u in enumerate(doc.users):
            try:
                org.check_user_fields(u.name, u.email, u.timezone, u.role)
            except ValidationFailed as exc:
                problems.append(Problem(("users", i, exc.field or "name"), exc.message))
            if u.email in emails:
                problems.append(Problem(("users", i, "email"), f"email {u.email!r} used twice"))
            elif live_emails.get(u.email, u.name) != u.name:
                problems.append(
                    Problem(
                        ("users", i, "email"),
                        f"email {u.email!r} belongs to user {live_emails[u.email]!r}",
                    )
                )
            emails.add(u.email)
    if doc.teams is not None:
        dupes("teams", [t.name for t in doc.teams])
        for i, t in enumerate(doc.teams):
            for j, m in enumerate(t.members):
                if m not in users:
                    problems.append(Problem(("teams", i, "members", j), f"unknown user {m!r}"))
            if t.lead and t.lead not in users:
                problems.append(Problem(("teams", i, "lead"), f"unknown user {t.lead!r}"))
    if doc.teams is not None and doc.services is None:
        # Without a services section the live services keep their owners.
        owned: dict[str, list[str]] = {}
        for svc_name, team_name in session.execute(
            select(Service.name, Team.name)
            .join(Team, Team.id == Service.owner_team_id)
            .order_by(Service.name)
        ):
            if team_name not in teams:
                owned.setdefault(team_name, []).append(svc_name)
        for team_name, svcs in owned.items():
            problems.append(
                Problem(
                    ("teams",),
                    f"team {team_name!r} owns services ({', '.join(svcs)}); "
                    "give them another owner first",
                )
            )
    if doc.services is not None:
        dupes("services", [s.name for s in doc.services])
        for i, svc in enumerate(doc.services):
            if svc.owner is not None and svc.owner not in teams:
                problems.append(Problem(("services", i, "owner"), f"unknown team {svc.owner!r}"))
            for j, d in enumerate(svc.depends_on):
                if d not in services:
                    problems.append(
                        Problem(("services", i, "depends_on", j), f"unknown service {d!r}")
                    )
                elif d == svc.name:
                    problems.append(
                        Problem(
                            ("services", i, "depends_on", j), "a service cannot depend on itself"
                        )
                    )
        cycle = find_cycle(
            {svc.name: [d for d in svc.depends_on if d != svc.name] for svc in doc.services}
        )
        if cycle:
            at = next(i for i, svc in enumerate(doc.services) if svc.name == cycle[0])
            problems.append(
                Problem(
                    ("services", at, "depends_on"),
                    "services depend on each other in a cycle: " + " -> ".join(cycle),
                )
            )
    problems += _check_alerting(session, doc, services)
    problems += reports_config.check(doc, teams)
    problems += oncall_config.check(session, doc, users, teams)
    problems += [Problem(p, m) for p, m in paging_config.check(session, doc, users, teams)]
    problems += [Problem(p, m) for p, m in statuspage_config.check(doc, services)]
    severities = (
        {s.name for s in doc.severities}
        if doc.severities is not None
        else {s.name for s in org.severities(session)}
    )
    problems += [Problem(p, m) for p, m in comms_config.check(doc, severities, services)]
    problems += [Problem(p, m) for p, m in heartbeats_config.check(doc, services)]
    problems += [Problem(p, m) for p, m in slos_config.check(doc, services)]
    problems += [Problem(p, m) for p, m in triage_config.check(session, doc)]
    monitors = heartbeats_config.names(session, doc)
    for i, item in enumerate(doc.integrations or []):
        if item.heartbeat is None:
            continue
        if item.kind not in ("alertmanager", "grafana"):
            problems.append(
                Problem(
                    ("integrations", i, "heartbeat"), "heartbeat is for alertmanager and grafana"
                )
            )
        elif item.heartbeat.monitor not in monitors:
            problems.append(
                Problem(
                    ("integrations", i, "heartbeat", "monitor"),
                    f"unknown heartbeat monitor {item.heartbeat.monitor!r}",
                )
            )
    problems += [Problem(p, m) for p, m in sso_config.check(doc)]
    return problems


def _check_alerting(session: Session, doc: ConfigDoc, services: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    severities = (
        {s.name for s in doc.severities}
        if doc.severities is not None
        else {s.name for s in org.severities(session)}
    )
    for kind in ("integrations", "alert_rules"):
        items = getattr(doc, kind)
        if items is None:
            continue
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                problems.append(Problem((kind, i, "name"), f"duplicate name {item.name!r}"))
            seen.add(item.name)
            if item.service is not None and item.service not in services:
                problems.append(Problem((kind, i, "service"), f"unknown service {item.service!r}"))
    for i, rule in enumerate(doc.alert_rules or []):
        for j, text in enumerate(rule.matchers):
            try:
                parse_matcher(text)
            except ValueError as exc:
                problems.append(Problem(("alert_rules", i, "matchers", j), str(exc)))
        if rule.severity is not None and rule.severity not in severities:
            problems.append(
                Problem(("alert_rules", i, "severity"), f"unknown severity {rule.severity!r}")
            )
    return problems


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in new if old.get(k) != new[k])


def _live(session: Session) -> dict[str, dict[str, dict[str, Any]]]:
    exported = export_data(session)
    return {kind: {_key(kind, item): item for item in exported.get(kind, [])} for kind in KINDS}


def _key(kind: str, item: dict[str, Any]) -> str:
    if kind == "templates":  # one name may be overridden per severity and service
        return comms_config.key(item["name"], item.get("severity"), item.get("service"))
    return str(item["name"])


def _norm(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    if kind == "severities":
        targets = {k: v for k, v in item["targets"].items() if v is not None}
        item = {**item, "targets": targets}
    if kind == "teams":
        item = {**item, "members": sorted(set(item["members"]))}
    if kind == "services":
        item = {**item, "depends_on": sorted(set(item["depends_on"]))}
    if kind == "users":  # absent contact settings are left as they are
        item = {k: v for k, v in item.items() if k not in USER_CONTACT_FIELDS or v is not None}
    return item


def plan(session: Session, data: Any) -> tuple[ConfigDoc, list[Change]]:
    """Returns the validated document and the changes applying it would make; writes nothing.
    Raises ConfigInvalid (422) listing every problem: schema, cross-references, and deleting
    severities or services that incidents, integrations or alert rules still use. A section left
    out changes nothing; users and integrations left out of their section are kept. Checks no role
    (the API requires admin)."""
    doc = parse(data)
    problems = _check(session, doc)
    live = _live(session)
    changes: list[Change] = []
    for kind in KINDS:
        items = getattr(doc, kind)
        if items is None:
            continue
        wanted = {_key(kind, i.model_dump()): _norm(kind, i.model_dump()) for i in items}
        for name, item in wanted.items():
            if name not in live[kind]:
                changes.append(Change("create", kind, name))
            else:
                fields = _diff(live[kind][name], item)
                if fields:
                    changes.append(Change("update", kind, name, fields))
        if kind in KEEP_ABSENT:
            continue
        for name in live[kind]:
            if name not in wanted:
                changes.append(Change("delete", kind, name))
    changes += [Change(a, "sso", name, fields) for a, name, fields in sso_config.plan(session, doc)]
    changes += [Change(a, "postmortems", n, f) for a, n, f in postmortems_config.plan(session, doc)]
    changes += [Change(a, "triage", n, f) for a, n, f in triage_config.plan(session, doc)]
    changes += [Change(a, "reports", n, f) for a, n, f in reports_config.plan(session, doc)]
    problems += _delete_problems(session, doc, changes)
    if problems:
        raise ConfigInvalid(problems)
    return doc, changes


def _service_users(session: Session, doc: ConfigDoc, service: str) -> list[tuple[str, str]]:
    """Integrations and alert rules that will still point at a service after the apply."""
    integrations: dict[str, str | None] = {
        name: svc
        for name, svc in session.execute(
            select(Integration.name, Service.name).join(
                Service, Service.id == Integration.service_id
            )
        )
    }
    integrations.update({i.name: i.service for i in doc.integrations or []})
    rules: dict[str, str | None]
    if doc.alert_rules is not None:
        rules = {r.name: r.service for r in doc.alert_rules}
    else:
        rules = {
            name: svc
            for name, svc in session.execute(
                select(AlertRule.name, Service.name).join(
                    Service, Service.id == AlertRule.service_id
                )
            )
        }
    monitors = heartbeats_config.service_users(session, doc)
    slos = slos_config.service_users(session, doc)
    return (
        [("integration", n) for n, s in sorted(integrations.items()) if s == service]
        + [("alert rule", n) for n, s in sorted(rules.items()) if s == service]
        + [("heartbeat monitor", n) for n, s in sorted(monitors.items()) if s == service]
        + [("SLO", n) for n, s in sorted(slos.items()) if s == service]
    )


def _delete_problems(session: Session, doc: ConfigDoc, changes: list[Change]) -> list[Problem]:
    problems = []
    for ch in changes:
        if ch.action != "delete":
            continue
        if ch.kind == "severities":
            used = session.scalar(select(Incident.id).where(Incident.severity == ch.name).limit(1))
            if used is not None:
                problems.append(
                    Problem(("severities",), f"severity {ch.name!r} is used by incidents")
                )
        if ch.kind == "services":
            used = session.scalar(
                select(IncidentService.id)
                .join(Service, Service.id == IncidentService.service_id)
                .where(Service.name == ch.name)
                .limit(1)
            )
            if used is not None:
                problems.append(Problem(("services",), f"service {ch.name!r} has incidents"))
            for what, users_of in _service_users(session, doc, ch.name):
                problems.append(
                    Problem(("services",), f"service {ch.name!r} is used by {what} {users_of!r}")
                )
    return problems


def apply(session: Session, clock: Clock, data: Any, dry_run: bool = False) -> list[Change]:
    """Makes the live config match the document and returns the changes, as `plan` lists them.
    With `dry_run`, or when nothing differs, writes nothing. Raises ConfigInvalid (422) as `plan`
    does, before writing. Entries a given section omits are deleted, except users and
    integrations; a new integration's key is in its change, shown once. Publishes ScheduleChanged
    for every schedule in the document. Checks no role (the API requires admin); runs in the
    caller's transaction, so a failure leaves nothing behind."""
    doc, changes = plan(session, data)
    if dry_run or not changes:
        return changes
    if doc.severities is not None:
        _apply_severities(session, doc, changes)
    if doc.users is not None:
        for u in doc.users:
            existing = session.scalar(select(User).where(User.name == u.name))
            fields = u.model_dump(exclude=USER_CONTACT_FIELDS)
            if existing is None:
                org.create_user(session, clock, **fields)
            else:
                for k, v in fields.items():
                    setattr(existing, k, v)
        session.flush()
        paging_config.apply_users(session, doc)
    if doc.teams is not None:
        _apply_teams(session, doc)
    if doc.services is not None:
        _apply_services(session, doc)
    if doc.integrations is not None:
        _apply_integrations(session, clock, doc, changes)
    if doc.alert_rules is not None:
        _apply_alert_rules(session, doc)
    if doc.heartbeats is not None:
        for name, token in heartbeats_config.apply(session, clock, doc).items():
            for c in changes:
                if c.kind == "heartbeats" and c.action == "create" and c.name == name:
                    c.key = token
    if doc.slos is not None:
        slos_config.apply(session, clock, doc)
    if doc.schedules is not None:
        oncall_config.apply(session, clock, doc)
    if doc.escalation_policies is not None:
        paging_config.apply_policies(session, clock, doc)
    if doc.services is not None:
        paging_config.apply_services(session, doc)
    if doc.status_components is not None:
        statuspage_config.apply(session, clock, doc)
    if doc.templates is not None:
        comms_config.apply(session, doc)
    sso_config.apply(session, doc)
    postmortems_config.apply(session, doc)
    triage_config.apply(session, doc)
    reports_config.apply(session, clock, doc)
    # Services go once integrations and rules no longer point at them.
    if doc.services is not None:
        keep_services = {s.name for s in doc.services}
        for svc in session.scalars(select(Service)):
            if svc.name not in keep_services:
                session.delete(svc)
        session.flush()
    # Teams may only be deleted once services no longer point at them.
    if doc.teams is not None:
        keep = {t.name for t in doc.teams}
        for team in session.scalars(select(Team)):
            if team.name not in keep:
                owned = session.scalar(select(Service.id).where(Service.owner_team_id == team.id))
                if owned is not None:
                    raise ConfigInvalid([Problem(("teams",), f"team {team.name!r} owns services")])
                session.delete(team)
    session.flush()
    return changes


def _apply_severities(session: Session, doc: ConfigDoc, changes: list[Change]) -> None:
    assert doc.severities is not None
    wanted = {s.name: s for s in doc.severities}
    existing = {s.name: s for s in session.scalars(select(Severity))}
    for name, sev in existing.items():
        if name not in wanted:
            session.delete(sev)
        else:
            sev.rank = -sev.id  # free ranks before reassigning them
    session.flush()
    for name, s in wanted.items():
        targets = s.targets.model_dump(exclude_none=True)
        row = existing.get(name)
        if row is None:
            session.add(
                Severity(
                    name=name,
                    rank=s.rank,
                    label=s.label,
                    description=s.description,
                    targets=targets,
                )
            )
        else:
            row.rank, row.label, row.description, row.targets = (
                s.rank,
                s.label,
                s.description,
                targets,
            )
    session.flush()


def _apply_teams(session: Session, doc: ConfigDoc) -> None:
    assert doc.teams is not None
    users = {u.name: u.id for u in session.scalars(select(User))}
    for t in doc.teams:
        team = session.scalar(select(Team).where(Team.name == t.name))
        if team is None:
            team = Team(name=t.name)
            session.add(team)
        team.description, team.channel, team.channel_url = t.description, t.channel, t.channel_url
        team.lead_id = users[t.lead] if t.lead else None
        session.flush()
        for m in session.scalars(select(TeamMember).where(TeamMember.team_id == team.id)):
            session.delete(m)
        session.flush()
        for member in dict.fromkeys(t.members):
            session.add(TeamMember(team_id=team.id, user_id=users[member]))
    session.flush()


def _apply_services(session: Session, doc: ConfigDoc) -> None:
    assert doc.services is not None
    teams = {t.name: t.id for t in session.scalars(select(Team))}
    wanted = {s.name: s for s in doc.services}
    rows = {s.name: s for s in session.scalars(select(Service)) if s.name in wanted}
    for name, s in wanted.items():
        row = rows.get(name)
        if row is None:
            row = Service(name=name)
            session.add(row)
            rows[name] = row
        row.description = s.description
        row.owner_team_id = teams.get(s.owner) if s.owner else None
        row.tier = s.tier
        row.runbooks = list(s.runbooks)
    session.flush()
    for dep in session.scalars(select(ServiceDependency)):
        session.delete(dep)
    session.flush()
    for name, s in wanted.items():
        for d in dict.fromkeys(s.depends_on):
            session.add(ServiceDependency(service_id=rows[name].id, depends_on_id=rows[d].id))
    session.flush()


def _apply_integrations(
    session: Session, clock: Clock, doc: ConfigDoc, changes: list[Change]
) -> None:
    from warroom.alerts import integrations as alerts

    assert doc.integrations is not None
    created = {c.name: c for c in changes if c.kind == "integrations" and c.action == "create"}
    services = {s.name: s.id for s in session.scalars(select(Service))}
    for item in doc.integrations:
        row = session.scalar(select(Integration).where(Integration.name == item.name))
        if row is None:
            _, key = alerts.create_integration(session, clock, **item.model_dump())
            if item.name in created:
                created[item.name].key = key
            continue
        row.kind = item.kind
        row.service_id = services[item.service] if item.service else None
        row.rate_per_minute = item.rate_per_minute
        row.mapping = dict(item.mapping)
        alerts.set_heartbeat(row, item.heartbeat.model_dump() if item.heartbeat else None)
    session.flush()


def _apply_alert_rules(session: Session, doc: ConfigDoc) -> None:
    assert doc.alert_rules is not None
    wanted = {r.name: r for r in doc.alert_rules}
    rows = {r.name: r for r in session.scalars(select(AlertRule))}
    for name, row in rows.items():
        if name not in wanted:
            session.delete(row)
    session.flush()
    services = {s.name: s.id for s in session.scalars(select(Service))}
    for position, rule in enumerate(doc.alert_rules):
        existing = rows.get(rule.name)
        row = existing if existing is not None else AlertRule(name=rule.name)
        if existing is None:
            session.add(row)
        row.position = position
        row.matchers = [parse_matcher(m) for m in rule.matchers]
        row.service_id = services[rule.service] if rule.service else None
        row.severity = rule.severity
        row.open_incident = rule.open_incident
        row.page = rule.page
        row.group_window_minutes = rule.group_window_minutes
        row.flap_count = rule.flap_count
        row.flap_window_minutes = rule.flap_window_minutes
    session.flush()


def export_data(session: Session) -> dict[str, Any]:
    """Returns the live config as one document, every section filled (`sso` only while single
    sign-on is configured), in the form `apply` accepts. Includes the secrets of contact methods;
    integration keys, HMAC secrets and the SSO client secret are never in it.
    Checks no role (the API requires admin); reads only."""
    svc_names = {sid: name for sid, name in session.execute(select(Service.id, Service.name))}
    policy_of = paging_config.service_policy_names(session)
    out: dict[str, Any] = {
        "severities": [
            {
                "name": s.name,
                "rank": s.rank,
                "label": s.label,
                "description": s.description,
                "targets": dict(s.targets or {}),
            }
            for s in org.severities(session)
        ],
        "teams": org.list_teams(session),
        "users": [
            {
                **{k: v for k, v in org.user_dict(u).items() if k not in ("id", "active")},
                **paging_config.export_user_contact(session, u),
            }
            for u in org.list_users(session)
        ],
        "services": [
            {
                "name": v.service.name,
                "description": v.service.description,
                "owner": v.owner,
                "tier": v.service.tier,
                "depends_on": v.depends_on,
                "runbooks": list(v.service.runbooks or []),
                "escalation_policy": policy_of.get(v.service.id),
            }
            for v in org.list_services(session)
        ],
        "integrations": [
            {
                "name": i.name,
                "kind": i.kind,
                "service": svc_names.get(i.service_id) if i.service_id else None,
                "rate_per_minute": i.rate_per_minute,
                "mapping": dict(i.mapping or {}),
                "heartbeat": heartbeat_dict(i),
            }
            for i in session.scalars(
                select(Integration)
                .where(Integration.kind != INTERNAL_KIND)
                .order_by(Integration.name)
            )
        ],
        "alert_rules": [
            {
                "name": r.name,
                "matchers": [format_matcher(m) for m in r.matchers or []],
                "service": svc_names.get(r.service_id) if r.service_id else None,
                "severity": r.severity,
                "open_incident": r.open_incident,
                "page": r.page,
                "group_window_minutes": r.group_window_minutes,
                "flap_count": r.flap_count,
                "flap_window_minutes": r.flap_window_minutes,
            }
            for r in session.scalars(select(AlertRule).order_by(AlertRule.position, AlertRule.id))
        ],
        "heartbeats": heartbeats_config.export(session),
        "slos": slos_config.export(session),
        "schedules": oncall_config.export(session),
        "escalation_policies": paging_config.export_policies(session),
        "status_components": statuspage_config.export(session),
        "templates": comms_config.export(session),
    }
    sso = sso_config.export(session)
    if sso is not None:  # only while single sign-on is configured
        out["sso"] = sso
    triage_section = triage_config.export(session)
    if triage_section is not None:  # only while a triage section is kept
        out["triage"] = triage_section
    pm_rules = postmortems_config.export(session)
    if pm_rules is not None:  # only while rules other than the defaults are kept
        out["postmortems"] = pm_rules
    reports = reports_config.export(session)
    if reports is not None:  # only while a scheduled review exists
        out["reports"] = reports
    return out


def export_yaml(session: Session) -> str:
    """Returns `export_data` as YAML, sections in the schema's order; reads only."""
    return yaml.safe_dump(export_data(session), sort_keys=False, allow_unicode=True)
