"""Facts for templates, template selection, posting updates and the update cadence.

A posted internal update goes to the chat channels of the teams that own the incident's
services (warroom/comms/deliver.py); external updates reach customers through the status
page, which stays an explicit step.

Invariant: an update of a private incident is never queued for a team channel (a channel
is read by the whole team, not only by those who may see the incident); it reaches the
incident's participants through its timeline, which only they and admins can read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom import seam
from warroom.comms import events as comms_events
from warroom.comms import templates as tpl
from warroom.comms.deliver import queue_update, team_channels
from warroom.comms.models import CommsTemplate
from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import ValidationFailed
from warroom.core.principal import Principal, require_responder
from warroom.engine.queue import enqueue
from warroom.incidents import queries as incident_queries
from warroom.incidents import rules
from warroom.incidents import rules as incident_rules
from warroom.incidents import timeline as incident_timeline
from warroom.incidents.models import Incident, TimelineEvent
from warroom.org.service import severity_by_name

MAX_EXTRA = 5_000
NO_CHANNEL = (
    "recorded in the timeline only: no team owning the incident's services has a channel_url"
)
EXTERNAL_NOTE = "recorded in the timeline; publish it on the status page to reach customers"
PRIVATE_NOTE = (
    "recorded in the timeline only: the incident is private, so its updates reach its "
    "participants there and are not posted to team channels"
)


def fmt_time(value: datetime | None) -> str | None:
    """Returns a time as 'YYYY-MM-DD HH:MM UTC', or None for None."""
    return f"{ensure_utc(value):%Y-%m-%d %H:%M} UTC" if value else None


def fmt_duration(seconds: int) -> str:
    """Returns a length in seconds as days, hours and minutes ('1 d 2 h', '5 min', '0 min').
    Seconds are dropped; zero parts are left out."""
    minutes = seconds // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


def interval_minutes(session: Session, severity: str, audience: str) -> int | None:
    """Returns the severity's update interval in minutes for an audience, or None if it sets none.
    Raises ValidationFailed (422, field `severity`) for an unknown severity."""
    targets = severity_by_name(session, severity).targets or {}
    value = targets.get(f"{audience}_update_minutes")
    return value if isinstance(value, int) and value > 0 else None


def last_update_at(session: Session, inc: Incident, audience: str) -> datetime | None:
    """The newest posted update for an audience (a `communication` event)."""
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == inc.id, TimelineEvent.kind == "communication")
        .order_by(TimelineEvent.id.desc())
    )
    for ev in events:
        # Communications logged by hand (no audience) count as internal updates.
        if (ev.data or {}).get("audience", "internal") == audience:
            return ensure_utc(ev.at)
    return None


def next_update_due(session: Session, inc: Incident, audience: str) -> datetime | None:
    """Returns when the next update for an audience is due, or None (inactive, or no interval).
    Due one interval after the audience's last update, or after declaration. Reads only."""
    if inc.status not in rules.ACTIVE_STATUSES:
        return None
    minutes = interval_minutes(session, inc.severity, audience)
    if minutes is None:
        return None
    last = last_update_at(session, inc, audience) or ensure_utc(inc.declared_at)
    return last + timedelta(minutes=minutes)


def facts(
    session: Session,
    clock: Clock,
    inc: Incident,
    *,
    audience: str = "internal",
    extra: str = "",
    after_posting: bool = False,
) -> dict[str, Any]:
    """Recorded facts only; anything not recorded is a Missing placeholder."""
    seen: list[str] = []
    d = incident_queries.detail(session, clock, inc, with_timeline=False)
    sev = severity_by_name(session, inc.severity)

    def have(value: Any, label: str) -> Any:
        return value if value not in (None, "", []) else tpl.Missing(label, seen)

    ms = incident_queries.milestones(inc)
    now = clock.now()
    if after_posting and inc.status in rules.ACTIVE_STATUSES:
        minutes = interval_minutes(session, inc.severity, audience)
        nxt = now + timedelta(minutes=minutes) if minutes else None
    else:
        nxt = next_update_due(session, inc, audience)
    out: dict[str, Any] = {
        "_seen": seen,
        "id": d["id"],
        "title": inc.title,
        "severity": sev.name,
        "severity_label": sev.label,
        "status": inc.status,
        "services": have(", ".join(d["services"]), "services"),
        "service_list": list(d["services"]),
        "impact_summary": have(inc.impact_summary, "impact summary"),
        # warroom records no affected share yet: it is never guessed.
        "affected_share": tpl.Missing("affected share", seen),
        "resolution_summary": have(inc.resolution_summary, "resolution summary"),
        "commander": have(d["roles"].get("commander"), "incident commander"),
        "comms_lead": have(d["roles"].get("comms"), "communications lead"),
        "duration": fmt_duration(incident_queries.duration_seconds(inc, now)),
        "duration_minutes": incident_queries.duration_seconds(inc, now) // 60,
        "next_update_at": have(fmt_time(nxt), "next update time"),
        "channel": have(inc.channel, "channel"),
        "bridge_url": have(inc.bridge_url, "bridge"),
        "customer_facing": inc.customer_facing,
        "audience": audience,
        "extra": extra,
        "now": fmt_time(now),
    }
    for name, value in ms.items():
        out[f"{name}_at"] = have(fmt_time(value), f"{name.replace('_', ' ')} time")
    return out


def choose(session: Session, name: str, inc: Incident) -> tuple[str, str, str]:
    """(audience, body, source): the most specific override wins (severity and service,
    then service, then severity, then an unscoped override), else the default."""
    if name not in tpl.DEFAULTS:
        raise ValidationFailed(
            f"template must be one of {', '.join(tpl.NAMES)}",
            field="template",
            allowed=list(tpl.NAMES),
        )
    audience, body = tpl.DEFAULTS[name]
    services = set(incident_queries.summarize(session, [inc])[0]["services"])
    best: tuple[int, int, CommsTemplate] | None = None
    for row in session.scalars(
        select(CommsTemplate).where(CommsTemplate.name == name).order_by(CommsTemplate.position)
    ):
        if row.severity is not None and row.severity != inc.severity:
            continue
        if row.service is not None and row.service not in services:
            continue
        score = (2 if row.service else 0) + (1 if row.severity else 0)
        if best is None or score > best[0]:
            best = (score, row.position, row)
    if best is None:
        return audience, body, "default"
    row = best[2]
    scope = ", ".join(
        x
        for x in (
            f"severity {row.severity}" if row.severity else "",
            f"service {row.service}" if row.service else "",
        )
        if x
    )
    return (
        audience,
        row.body,
        f"config templates[{row.position}]" + (f" ({scope})" if scope else ""),
    )


def render_update(
    session: Session,
    clock: Clock,
    inc: Incident,
    *,
    template: str,
    audience: str | None = None,
    extra: str = "",
    after_posting: bool = True,
) -> tpl.Rendered:
    """Returns an update rendered from recorded facts (warnings name what is missing).
    Raises ValidationFailed (422) for an unknown template (field `template`), an audience outside
    AUDIENCES (`audience`), `extra` over 5,000 characters (`extra`) or a template that does not
    render (`template`). Checks no role; writes nothing."""
    default_audience, body, source = choose(session, template, inc)
    aud = audience or default_audience
    if aud not in tpl.AUDIENCES:
        raise ValidationFailed(
            f"audience must be one of {', '.join(tpl.AUDIENCES)}",
            field="audience",
            allowed=list(tpl.AUDIENCES),
        )
    extra = (extra or "").strip()
    if len(extra) > MAX_EXTRA:
        raise ValidationFailed(f"extra is longer than {MAX_EXTRA} characters", field="extra")
    values = facts(session, clock, inc, audience=aud, extra=extra, after_posting=after_posting)
    try:
        return tpl.render(template, aud, body, values, source)
    except tpl.RenderError as exc:
        raise ValidationFailed(f"{exc.message} ({source})", field="template") from exc


def post_update(
    session: Session,
    clock: Clock,
    principal: Principal,
    inc: Incident,
    *,
    template: str,
    audience: str | None = None,
    extra: str = "",
    preview: bool = False,
) -> dict[str, Any]:
    """Records an update in the timeline, queues it for team channels if internal, and returns it.
    Needs the responder role (Forbidden, 403); raises Conflict (409) for a closed incident unless
    `preview`, and render_update's ValidationFailed. Internal updates are queued for the channels of
    the teams owning the incident's services, except for a private incident (its participants read
    it in the timeline; `delivery_note` says so); external ones are only recorded (the status page
    is a step of its own). With `preview`, returns the same answer and writes and queues nothing.
    Reschedules the update cadence; an external update publishes ExternalUpdatePosted (the
    incident's customers_informed milestone); runs in the caller's transaction."""
    require_responder(principal)
    if not preview and inc.status == "closed":
        incident_rules.require_open(inc.id, inc.status, "posting updates")
    rendered = render_update(session, clock, inc, template=template, audience=audience, extra=extra)
    out = rendered.to_dict()
    out["preview"] = preview
    internal = rendered.audience == "internal"
    # A team channel is the whole team's: never the place for a private incident.
    teams = team_channels(session, inc.id) if internal and not inc.private else []
    if teams:
        out["delivery"] = "queued"
        out["channels"] = [t.channel or t.name for t in teams]
        out["delivery_note"] = "queued for " + ", ".join(out["channels"])
    else:
        out["delivery"] = "none"
        out["channels"] = []
        if not internal:
            out["delivery_note"] = EXTERNAL_NOTE
        else:
            out["delivery_note"] = PRIVATE_NOTE if inc.private else NO_CHANNEL
    if preview:
        out["event"] = None
        return out
    ev = incident_timeline.record(
        session,
        clock,
        inc,
        kind="communication",
        text=rendered.text,
        actor=principal,
        data={
            "template": rendered.name,
            "audience": rendered.audience,
            "source": rendered.source,
            "warnings": rendered.warnings,
            "delivery": out["delivery"],
            "channels": out["channels"],
            "delivery_note": out["delivery_note"],
        },
    )
    queue_update(session, clock, ev, teams)
    if not internal:
        seam.publish(
            session,
            clock,
            comms_events.ExternalUpdatePosted(
                at=clock.now(), incident_id=inc.id, by=principal.name
            ),
        )
    out["event"] = incident_timeline.event_dict(ev)
    schedule_cadence(session, clock, inc)
    return out


# --- cadence ----------------------------------------------------------------------------


def schedule_cadence(session: Session, clock: Clock, inc: Incident) -> None:
    """Enqueues the next cadence check for each audience the severity sets an interval
    for. Called on declare, severity change, reopen and after each posted update; the
    job key names the due time, so scheduling twice adds nothing."""
    now = clock.now()
    for audience in tpl.AUDIENCES:
        due = next_update_due(session, inc, audience)
        if due is None:
            continue
        at = max(due, now)
        enqueue(
            session,
            kind="comms_cadence",
            key=f"cadence:{inc.id}:{inc.severity}:{audience}:{iso(at)}",
            due_at=at,
            payload={"incident_id": inc.id, "severity": inc.severity, "audience": audience},
            now=now,
        )


def check_cadence(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """An update may be due: remind the Communications Lead (else the IC) once per
    interval while it is overdue. Idempotent per (severity, audience, last update,
    round); stops once the incident is resolved or its severity changed."""
    inc = session.get(Incident, int(payload["incident_id"]))
    if inc is None or inc.status not in rules.ACTIVE_STATUSES:
        return
    if inc.severity != payload["severity"]:
        return  # the new severity's cadence took over
    audience = payload["audience"]
    if audience == "external" and not inc.customer_facing:
        # Not customer-facing (yet): no external updates are owed; look again later.
        _requeue(session, clock, inc, audience)
        return
    minutes = interval_minutes(session, inc.severity, audience)
    due = next_update_due(session, inc, audience)
    if minutes is None or due is None:
        return
    now = clock.now()
    if now < due:
        _requeue(session, clock, inc, audience)
        return
    rnd = int((now - due).total_seconds() // (minutes * 60))
    last = last_update_at(session, inc, audience)
    key = f"{inc.severity}:{audience}:{iso(last) or 'none'}:{rnd}"
    already = session.scalar(
        select(TimelineEvent.id).where(
            TimelineEvent.incident_id == inc.id,
            TimelineEvent.kind == "warning",
            TimelineEvent.data["cadence_key"].as_string() == key,
        )
    )
    if already is None:
        d = incident_queries.detail(session, clock, inc, with_timeline=False)
        who, role = (d["roles"].get("comms"), "Communications Lead")
        if not who:
            who, role = (d["roles"].get("commander"), "Incident Commander")
        since = (
            f"last {audience} update {int((now - last).total_seconds() // 60)} min ago"
            if last
            else f"no {audience} update since declaration "
            f"{int((now - ensure_utc(inc.declared_at)).total_seconds() // 60)} min ago"
        )
        head = (
            f"{audience.capitalize()} update due"
            if rnd == 0
            else (f"{audience.capitalize()} update overdue")
        )
        target = f"reminder to {who} ({role})" if who else "nobody holds Communications Lead or IC"
        incident_timeline.record(
            session,
            clock,
            inc,
            kind="warning",
            text=f"{head}: {since} ({inc.severity} cadence: every {minutes} min); {target}",
            actor=None,
            data={
                "warning": "update_cadence",
                "audience": audience,
                "cadence_key": key,
                "round": rnd,
                "remind": who,
            },
        )
    nxt = due + timedelta(minutes=minutes * (rnd + 1))
    enqueue(
        session,
        kind="comms_cadence",
        key=f"cadence:{inc.id}:{inc.severity}:{audience}:{iso(nxt)}",
        due_at=nxt,
        payload=dict(payload),
        now=now,
    )


def _requeue(session: Session, clock: Clock, inc: Incident, audience: str) -> None:
    now = clock.now()
    due = next_update_due(session, inc, audience)
    minutes = interval_minutes(session, inc.severity, audience)
    if due is None or minutes is None:
        return
    at = due if due > now else now + timedelta(minutes=minutes)
    enqueue(
        session,
        kind="comms_cadence",
        key=f"cadence:{inc.id}:{inc.severity}:{audience}:{iso(at)}",
        due_at=at,
        payload={"incident_id": inc.id, "severity": inc.severity, "audience": audience},
        now=now,
    )
