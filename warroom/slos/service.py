"""SLOs in the store: their declarations, the budget incidents spend, the release gate and
its exceptions.

Invariants:
- An incident spends budget of an SLO when it is customer-facing, not a drill, and linked
  to the SLO's service: from its impact start (`started_at`, else `detected_at`, else
  `declared_at`) to `mitigated_at` (else `resolved_at`, else `closed_at`; still open: up
  to now), at its `affected_percent` (100% when none was recorded; `weighted` says so).
  Overlaps are counted once (rules.bad_minutes).
- Incident-sourced SLOs are computed from the incidents at every read, so the gate never
  lags a resolve. Prometheus-sourced SLOs are read from their last evaluation
  (`Slo.last`), which the engine refreshes every `EVALUATE_EVERY` (warroom.slos.evaluator);
  one never evaluated has no status, and the gate says so rather than guessing "go".
- Granting and revoking an exception needs the admin role, or the responder role and
  membership of the team that owns the service. Both go into the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from warroom.auth.accounts import audit
from warroom.core.clock import Clock, ensure_utc, iso, parse_utc
from warroom.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from warroom.core.principal import Principal, require_responder
from warroom.incidents.models import Incident, IncidentService
from warroom.incidents.rules import short_id
from warroom.org.models import Service, TeamMember
from warroom.slos import promrules, rules
from warroom.slos.models import Slo, SloException

EXCEPTION_KINDS = ("p0", "security")
MAX_EXCEPTION = timedelta(days=30)


# --- declarations ----------------------------------------------------------------------


def spec_of(row: Slo, service: str) -> rules.SloSpec:
    """The pure declaration of a stored SLO (its `spec` is the config entry as written)."""
    return spec_from_entry({**row.spec, "name": row.name, "objective": row.objective}, service)


def spec_from_entry(d: dict[str, Any], service: str) -> rules.SloSpec:
    """The pure declaration of a config entry (raises ValidationFailed for its window)."""
    prom = d.get("prometheus") or {}
    threshold = prom.get("threshold") or {}
    return rules.SloSpec(
        name=str(d["name"]),
        service=service,
        objective=float(d["objective"]),
        window=rules.parse_window(d.get("window"), d.get("calendar")),
        source=d.get("source") or "incidents",
        budgeting=d.get("budgeting") or "occurrences",
        description=d.get("description") or "",
        good=prom.get("good"),
        bad=prom.get("bad"),
        total=prom.get("total"),
        threshold_query=threshold.get("query"),
        threshold_op=threshold.get("op"),
        threshold_value=threshold.get("value"),
    )


def check_entry(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with one config entry beyond its schema, as (field, message)."""
    problems: list[tuple[str, str]] = []
    try:
        rules.parse_window(entry.get("window"), entry.get("calendar"))
    except ValidationFailed as exc:
        problems.append((exc.field or "window", exc.message))
    prom = entry.get("prometheus")
    if entry.get("source") == "prometheus":
        if not prom:
            problems.append(("prometheus", "a prometheus SLO needs prometheus: {url, ...}"))
        else:
            url = str(prom.get("url") or "")
            if not url.startswith(("http://", "https://")):
                problems.append(("prometheus.url", "url must be an http:// or https:// URL"))
            ratio = prom.get("total") is not None
            threshold = prom.get("threshold") is not None
            if ratio == threshold:
                problems.append(
                    ("prometheus", "give either total with good or bad, or a threshold")
                )
            elif ratio and (prom.get("good") is None) == (prom.get("bad") is None):
                problems.append(("prometheus", "give exactly one of good and bad with total"))
            elif not problems:
                # the queries as the rules and the evaluator will use them
                try:
                    promrules.check(spec_from_entry(entry, str(entry.get("service"))))
                except ValidationFailed as exc:
                    problems.append((exc.field or "prometheus", exc.message))
    elif prom:
        problems.append(("prometheus", "prometheus queries need source: prometheus"))
    return problems


def _service_names(session: Session) -> dict[int, str]:
    return {sid: name for sid, name in session.execute(select(Service.id, Service.name))}


def list_slos(
    session: Session, service: str | None = None, source: str | None = None
) -> list[tuple[Slo, str]]:
    """Every SLO with its service's name, by name; only `service`'s when given (NotFound,
    404, field `service`, for an unknown service), only those of `source` when given."""
    q = select(Slo, Service.name).join(Service, Service.id == Slo.service_id).order_by(Slo.name)
    if source is not None:
        q = q.where(Slo.source == source)
    if service is not None:
        _service(session, service)
        q = q.where(Service.name == service)
    return [(row, name) for row, name in session.execute(q)]


def get_slo(session: Session, name: str) -> tuple[Slo, str]:
    """The SLO named `name` and its service; NotFound (404, field `slo`)."""
    found = session.execute(
        select(Slo, Service.name)
        .join(Service, Service.id == Slo.service_id)
        .where(Slo.name == name)
    ).first()
    if found is None:
        raise NotFound(f"no SLO named {name!r}", field="slo")
    return found[0], found[1]


def _service(session: Session, name: str) -> Service:
    svc = session.scalar(select(Service).where(Service.name == name))
    if svc is None:
        raise NotFound(f"unknown service {name!r}", field="service")
    return svc


# --- budget spent by incidents ----------------------------------------------------------


@dataclass(frozen=True)
class Spend:
    """Bad time of one incident on one service."""

    incident_id: int
    service_id: int
    interval: rules.Interval
    weighted: bool  # an affected share was recorded


def _impact_start() -> Any:
    return func.coalesce(Incident.started_at, Incident.detected_at, Incident.declared_at)


def _impact_end() -> Any:
    return func.coalesce(Incident.mitigated_at, Incident.resolved_at, Incident.closed_at)


def incident_spends(
    session: Session, service_ids: Iterable[int], since: datetime, now: datetime
) -> dict[int, list[Spend]]:
    """{service_id: spends} of the customer-facing, non-drill incidents on those services
    whose impact overlaps [since, now]. One query for any number of services."""
    ids = sorted(set(service_ids))
    if not ids:
        return {}
    end = _impact_end()
    q = (
        select(
            Incident.id,
            IncidentService.service_id,
            _impact_start(),
            end,
            Incident.affected_percent,
        )
        .join(IncidentService, IncidentService.incident_id == Incident.id)
        .where(
            Incident.customer_facing.is_(True),
            Incident.drill.is_(False),
            _impact_start() < now,
            or_(end.is_(None), end > since),
        )
    )
    if len(ids) < 500:
        q = q.where(IncidentService.service_id.in_(ids))
    wanted = set(ids)
    out: dict[int, list[Spend]] = defaultdict(list)
    for inc_id, sid, start, stop, share in session.execute(q):
        if sid not in wanted:
            continue
        weight = share / 100.0 if share is not None else 1.0
        out[sid].append(
            Spend(
                incident_id=inc_id,
                service_id=sid,
                interval=rules.Interval(
                    ensure_utc(start), ensure_utc(stop) if stop else None, weight, inc_id
                ),
                weighted=share is not None,
            )
        )
    return out


def _earliest_start(specs: Iterable[rules.SloSpec], now: datetime) -> datetime:
    starts = [s.window.bounds(now)[0] for s in specs]
    # burn spans reach back three days even when the window is shorter
    return min([*starts, now - timedelta(days=3)])


@dataclass(frozen=True)
class SloView:
    """An SLO with where it stands (None: a Prometheus SLO not evaluated yet)."""

    row: Slo
    spec: rules.SloSpec
    status: rules.Status | None
    spends: list[Spend]


def statuses(session: Session, rows: list[tuple[Slo, str]], now: datetime) -> list[SloView]:
    """Each SLO's status at `now`: incident-sourced from the incidents (one query for all),
    Prometheus-sourced from its last evaluation."""
    specs = [(row, spec_of(row, svc)) for row, svc in rows]
    inc = [(row, spec) for row, spec in specs if row.source == "incidents"]
    by_service: dict[int, list[Spend]] = {}
    if inc:
        by_service = incident_spends(
            session,
            (row.service_id for row, _ in inc),
            _earliest_start((s for _, s in inc), now),
            now,
        )
    out = []
    bad: dict[int, rules.BadTime] = {}  # one sweep per service, shared by its SLOs
    for row, spec in specs:
        if row.source == "incidents":
            spends = by_service.get(row.service_id, [])
            if row.service_id not in bad:
                bad[row.service_id] = rules.BadTime([s.interval for s in spends], now)
            status = rules.status_from_intervals(spec, bad[row.service_id], now)
            out.append(SloView(row, spec, status, spends))
        else:
            out.append(SloView(row, spec, _stored_status(row, spec, now), []))
    return out


def _stored_status(row: Slo, spec: rules.SloSpec, now: datetime) -> rules.Status | None:
    last = row.last or {}
    if "window_bad_ratio" not in last or row.evaluated_at is None:
        return None
    at = ensure_utc(row.evaluated_at)
    return rules.status_from_ratios(
        spec, float(last["window_bad_ratio"]), dict(last.get("span_bad_ratios") or {}), at
    )


def view(session: Session, name: str, now: datetime) -> SloView:
    """The SLO named `name` with its status at `now`; NotFound (404, field `slo`)."""
    row, svc = get_slo(session, name)
    return statuses(session, [(row, svc)], now)[0]


# --- what one incident spent --------------------------------------------------------------


def incident_spend(session: Session, incident: Incident, now: datetime) -> list[dict[str, Any]]:
    """What the incident spent of each SLO on its services, as dicts with `slo`, `minutes`,
    `budget_minutes`, `percent`, `weighted` and `text` ("1.2 minutes, 30% of the monthly
    budget"); empty when it is not customer-facing, is a drill, or no SLO covers it."""
    if not incident.customer_facing or incident.drill:
        return []
    service_ids = list(
        session.scalars(
            select(IncidentService.service_id).where(IncidentService.incident_id == incident.id)
        )
    )
    if not service_ids:
        return []
    rows = list(
        session.execute(
            select(Slo, Service.name)
            .join(Service, Service.id == Slo.service_id)
            .where(Slo.service_id.in_(service_ids), Slo.source == "incidents")
            .order_by(Slo.name)
        )
    )
    start = incident.started_at or incident.detected_at or incident.declared_at
    end = incident.mitigated_at or incident.resolved_at or incident.closed_at
    share = incident.affected_percent
    iv = rules.Interval(
        ensure_utc(start), ensure_utc(end) if end else None, share / 100.0 if share else 1.0
    )
    out = []
    for row, svc in rows:
        spec = spec_of(row, svc)
        # the budget of the window the incident's impact started in
        at = min(ensure_utc(end) if end else now, now)
        w_start, w_end = spec.window.bounds(at)
        budget = rules.budget_minutes(spec.objective, (w_end - w_start).total_seconds() / 60.0)
        minutes = rules.interval_minutes(iv, now)
        pct = minutes / budget * 100.0 if budget > 0 else 0.0
        out.append(
            {
                "slo": row.name,
                "service": svc,
                "minutes": round(minutes, 3),
                "budget_minutes": round(budget, 3),
                "percent": round(pct, 2),
                "weighted": share is not None,
                "affected_percent": share,
                "text": rules.spend_summary(minutes, budget, spec.window),
            }
        )
    return out


def covers(session: Session, incident: Incident) -> bool:
    """Whether an incident-sourced SLO covers one of the incident's services."""
    return (
        session.scalar(
            select(Slo.id)
            .join(IncidentService, IncidentService.service_id == Slo.service_id)
            .where(IncidentService.incident_id == incident.id, Slo.source == "incidents")
            .limit(1)
        )
        is not None
    )


def max_spend_percent(session: Session, incident: Incident, now: datetime) -> float | None:
    """The largest share of one SLO's budget the incident spent (None: no SLO covers it)."""
    spends = incident_spend(session, incident, now)
    return max((s["percent"] for s in spends), default=None)


# --- the gate and its exceptions ----------------------------------------------------------


def _grants(session: Session, service_id: int) -> list[SloException]:
    return list(
        session.scalars(
            select(SloException)
            .where(SloException.service_id == service_id)
            .order_by(SloException.id)
        )
    )


def _grant(ex: SloException) -> rules.Grant:
    return rules.Grant(
        id=ex.id,
        granted_by=ex.granted_by,
        reason=ex.reason,
        kind=ex.kind,
        expires_at=ensure_utc(ex.expires_at),
        revoked=ex.revoked_at is not None,
    )


def gate(session: Session, service: str, now: datetime) -> dict[str, Any]:
    """The release decision for `service`, as the CLI and the API answer it: `go`,
    `state` (go, warn, freeze, exception, no-slo, unknown), `reasons` and each SLO's
    numbers. NotFound (404, field `service`) for an unknown service. A Prometheus SLO
    never evaluated makes the state `unknown` and go false: the gate does not guess."""
    svc = _service(session, service)
    views = statuses(session, list_slos(session, service), now)
    known = [v.status for v in views if v.status is not None]
    grants = [_grant(g) for g in _grants(session, svc.id)]
    decision = rules.gate(service, known, grants, now)
    unknown = [v.row.name for v in views if v.status is None]
    go, state, reasons = decision.go, decision.state, list(decision.reasons)
    if unknown and state in ("go", "warn", "no-slo"):
        go, state = False, "unknown"
        reasons.append(
            "not evaluated yet (Prometheus): " + ", ".join(unknown) + "; is the engine running?"
        )
    return {
        "service": service,
        "go": go,
        "state": state,
        "reasons": reasons,
        "exception": exception_dict(session, decision.exception.id) if decision.exception else None,
        "slos": [view_dict(v, now, with_incidents=False) for v in views],
        "at": iso(now),
    }


def _may_grant(session: Session, principal: Principal, svc: Service) -> None:
    require_responder(principal)
    if principal.is_admin:
        return
    member = (
        svc.owner_team_id is not None
        and principal.user_id is not None
        and session.scalar(
            select(TeamMember.id).where(
                and_(
                    TeamMember.team_id == svc.owner_team_id, TeamMember.user_id == principal.user_id
                )
            )
        )
        is not None
    )
    if not member:
        raise Forbidden(
            f"only an admin or a member of the team owning {svc.name} may grant or revoke "
            "a freeze exception"
        )


def grant_exception(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    service: str,
    kind: str,
    reason: str,
    expires_at: datetime | str,
) -> SloException:
    """Lets releases of a frozen service through until `expires_at` (after now, at most 30
    days ahead) for a P0 or security fix. Needs the admin role or the responder role and
    membership of the owning team (Forbidden, 403). Raises NotFound (404, `service`) and
    ValidationFailed (422) naming `kind`, `reason` or `expires_at`. Audited; runs in the
    caller's transaction."""
    svc = _service(session, service)
    _may_grant(session, principal, svc)
    if kind not in EXCEPTION_KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(EXCEPTION_KINDS)} (a P0 or a security fix)",
            field="kind",
        )
    reason = (reason or "").strip()
    if not reason or len(reason) > 2000:
        raise ValidationFailed("a reason of 1-2000 characters is required", field="reason")
    if isinstance(expires_at, str):
        try:
            expires_at = parse_utc(expires_at)
        except ValueError:
            raise ValidationFailed(
                "expires_at must be an ISO 8601 time, e.g. 2026-12-02T18:00:00Z",
                field="expires_at",
            ) from None
    now = clock.now()
    expires_at = ensure_utc(expires_at)
    if expires_at <= now:
        raise ValidationFailed("expires_at must be in the future", field="expires_at")
    if expires_at - now > MAX_EXCEPTION:
        raise ValidationFailed("an exception lasts at most 30 days", field="expires_at")
    ex = SloException(
        service_id=svc.id,
        kind=kind,
        reason=reason,
        granted_by_id=principal.user_id,
        granted_by=principal.name,
        granted_at=now,
        expires_at=expires_at,
        revoked_by="",
    )
    session.add(ex)
    session.flush()
    audit(
        session,
        clock,
        principal,
        "slo.exception.grant",
        f"service:{svc.name}",
        id=ex.id,
        kind=kind,
        reason=reason,
        expires_at=iso(expires_at),
    )
    return ex


def revoke_exception(
    session: Session, clock: Clock, principal: Principal, exception_id: int
) -> SloException:
    """Ends an exception now (kept, stamped revoked). Same roles as granting; NotFound
    (404, field `exception`); Conflict (409) when it was revoked already. Audited."""
    ex = session.get(SloException, exception_id)
    if ex is None:
        raise NotFound(f"no exception #{exception_id}", field="exception")
    svc = session.get(Service, ex.service_id)
    assert svc is not None
    _may_grant(session, principal, svc)
    if ex.revoked_at is not None:
        raise Conflict(f"exception #{exception_id} was revoked already", field="exception")
    ex.revoked_at = clock.now()
    ex.revoked_by = principal.name
    audit(session, clock, principal, "slo.exception.revoke", f"service:{svc.name}", id=ex.id)
    return ex


def exceptions(session: Session, service: str) -> list[dict[str, Any]]:
    """Every exception of the service, newest first."""
    svc = _service(session, service)
    return [exception_dict(session, ex.id) for ex in reversed(_grants(session, svc.id))]


def exception_dict(session: Session, exception_id: int) -> dict[str, Any]:
    """An exception as the API and the CLI print it."""
    ex = session.get(SloException, exception_id)
    assert ex is not None
    svc = session.get(Service, ex.service_id)
    return {
        "id": ex.id,
        "service": svc.name if svc else None,
        "kind": ex.kind,
        "reason": ex.reason,
        "granted_by": ex.granted_by,
        "granted_at": iso(ex.granted_at),
        "expires_at": iso(ex.expires_at),
        "revoked_at": iso(ex.revoked_at),
        "revoked_by": ex.revoked_by or None,
    }


# --- shapes -----------------------------------------------------------------------------


MAX_LISTED = 100  # incidents listed per SLO, newest first


def view_dict(v: SloView, now: datetime, with_incidents: bool = True) -> dict[str, Any]:
    """An SLO as `slo show --json` and the API print it; `with_incidents` adds the newest
    MAX_LISTED incidents that spent its window's budget (and how many there were)."""
    s = v.status
    d: dict[str, Any] = {
        "name": v.row.name,
        "service": v.spec.service,
        "objective": v.spec.objective,
        "window": v.spec.window.text,
        "source": v.row.source,
        "budgeting": v.spec.budgeting,
        "description": v.spec.description,
        "evaluated_at": iso(v.row.evaluated_at) if v.row.source != "incidents" else iso(now),
        "alert": v.row.alert_state or None,
        "error": v.row.last_error or None,
    }
    if s is None:
        d.update(
            budget_minutes=None,
            consumed_minutes=None,
            consumed_percent=None,
            remaining_minutes=None,
            remaining_percent=None,
            burn_rates={},
            exhausted=None,
        )
        return d
    d.update(
        window_start=iso(s.window_start),
        window_end=iso(s.window_end),
        budget_minutes=round(s.budget_minutes, 3),
        consumed_minutes=round(s.consumed_minutes, 3),
        consumed_percent=round(s.consumed_percent, 2),
        remaining_minutes=round(s.remaining_minutes, 3),
        remaining_percent=round(s.remaining_percent, 2),
        burn_rates={k: round(r, 3) for k, r in s.burn_rates.items()},
        exhausted=s.exhausted,
    )
    if v.row.source == "incidents":
        spent = [sp for sp in v.spends if _in_window(sp, s, now)]
        d["unweighted"] = any(not sp.weighted for sp in spent)
        d["incident_count"] = len(spent)
        if with_incidents:
            d["incidents"] = incidents_dict(v, now)
    return d


def _in_window(sp: Spend, s: rules.Status, now: datetime) -> bool:
    end = sp.interval.end or now
    return end > s.window_start and sp.interval.start < min(s.window_end, now)


def incidents_dict(v: SloView, now: datetime) -> list[dict[str, Any]]:
    """The incidents that spent this window's budget, newest first, with what each spent
    inside the window."""
    s = v.status
    assert s is not None
    out: list[dict[str, Any]] = []
    for sp in sorted(v.spends, key=lambda x: x.interval.start, reverse=True):
        if not _in_window(sp, s, now):
            continue
        if len(out) == MAX_LISTED:
            break
        start = max(sp.interval.start, s.window_start)
        end = min(sp.interval.end or now, s.window_end, now)
        minutes = max(0.0, (end - start).total_seconds() / 60.0) * sp.interval.weight
        out.append(
            {
                "incident": short_id(sp.incident_id),
                "impact_start": iso(sp.interval.start),
                "impact_end": iso(sp.interval.end),
                "weight_percent": round(sp.interval.weight * 100.0, 2),
                "weighted": sp.weighted,
                "minutes": round(minutes, 3),
                "percent": round(minutes / s.budget_minutes * 100.0, 2) if s.budget_minutes else 0,
            }
        )
    return out
