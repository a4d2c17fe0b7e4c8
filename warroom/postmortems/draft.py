"""The first draft of a postmortem, from recorded facts only.

Invariants:
- Every fact comes from the store (the incident, its timeline, alerts, pages, status-page
  components, the severity's targets); a fact that was not recorded renders as a visible
  `[not recorded: <fact>]` placeholder through the comms template machinery
  (`comms.templates.Missing`), never as an invented value. The affected share and the
  error budget are never recorded yet, so a fresh impact section always holds
  placeholders until a person fills them in (and the review gate says so).
- The draft reads only; it writes nothing.
- Events marked `starred` in the room come first in the drafted timeline, then the rest
  in time order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.comms import service as comms_facts
from warroom.comms import templates as tpl
from warroom.core.clock import Clock, ensure_utc
from warroom.incidents import rules as incident_rules
from warroom.incidents.models import Incident
from warroom.incidents.timeline import timeline
from warroom.org.service import severity_by_name
from warroom.paging.models import Escalation, Notification
from warroom.postmortems.stars import starred_ids
from warroom.slos import service as slo_service
from warroom.statuspage.models import PublicIncident, StatusComponent

TIMELINE_KINDS = (
    "status",
    "severity",
    "role",
    "decision",
    "action",
    "milestone",
    "communication",
    "page",
    "alert",
    "note",
)

SUMMARY = """\
{{ id }} ({{ severity }}, {{ severity_label }}): {{ title }}.
Impact started {{ started_at }} and was resolved {{ resolved_at }} ({{ duration }}).
{{ impact_summary }}
Resolution: {{ resolution_summary }}"""

IMPACT = """\
- Who was affected: {{ impact_summary }}
- How many: {{ affected_share }}
- How long: {{ duration }} (impact started {{ started_at }}, resolved {{ resolved_at }})
- Services: {{ services }}
- Status-page components: {{ components }}
- Customer-facing: {{ customer_facing_text }}
- Alerts: {{ alert_count }}; pages sent: {{ page_count }}
- Error budget spent: {{ error_budget }}"""

TIMELINE = """\
| Time (UTC) | Event | Actor |
|---|---|---|
{% for e in events %}| {{ e.at }} | {{ e.text }} | {{ e.actor }} |
{% endfor %}"""

PHASES = """\
| Phase | Took | Target |
|---|---|---|
{% for p in phases %}| {{ p.name }} | {{ p.took }} | {{ p.target }} |
{% endfor %}"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")[:300]


def _minutes(a: datetime | None, b: datetime | None) -> int | None:
    if a is None or b is None:
        return None
    return int((ensure_utc(b) - ensure_utc(a)).total_seconds() // 60)


def phases(session: Session, inc: Incident, seen: list[str]) -> list[dict[str, Any]]:
    """Detect, acknowledge, mitigate and resolve: how long each took against the
    severity's target (placeholders where a milestone was not recorded)."""
    sev = severity_by_name(session, inc.severity)
    targets = sev.targets or {}
    start = inc.started_at or inc.declared_at
    rows = [
        ("Detect (impact start to detection)", start, inc.detected_at, None),
        (
            "Acknowledge (declared to acknowledged)",
            inc.declared_at,
            inc.acknowledged_at,
            "ack_minutes",
        ),
        ("Assign an IC (declared to IC)", inc.declared_at, inc.ic_assigned_at, "ic_minutes"),
        ("Mitigate (impact start to mitigation)", start, inc.mitigated_at, None),
        ("Resolve (impact start to resolution)", start, inc.resolved_at, None),
    ]
    out = []
    for name, a, b, target in rows:
        took = _minutes(a, b)
        goal = targets.get(target) if target else None
        took_text: Any = (
            comms_facts.fmt_duration(took * 60)
            if took is not None
            else tpl.Missing(f"{name.split(' (')[0].lower()} time", seen)
        )
        if goal:
            verdict = "met" if took is not None and took <= goal else "missed"
            target_text = f"{goal} min ({verdict})" if took is not None else f"{goal} min"
        else:
            target_text = "no target"
        out.append({"name": name, "took": took_text, "target": target_text})
    return out


def facts(session: Session, clock: Clock, inc: Incident) -> dict[str, Any]:
    """The incident's facts as the comms templates see them, plus what a postmortem
    adds: components, alert and page counts, the timeline and the phases."""
    f = comms_facts.facts(session, clock, inc)
    seen: list[str] = f["_seen"]
    # The duration of impact ends at resolution, not now.
    end = inc.resolved_at or clock.now()
    start = inc.started_at or inc.declared_at
    f["duration"] = comms_facts.fmt_duration(
        int((ensure_utc(end) - ensure_utc(start)).total_seconds())
    )
    comp_ids: set[int] = set()
    for ids in session.scalars(
        select(PublicIncident.components).where(PublicIncident.incident_id == inc.id)
    ):
        comp_ids.update(int(i) for i in ids or [])
    names = (
        sorted(
            session.scalars(select(StatusComponent.name).where(StatusComponent.id.in_(comp_ids)))
        )
        if comp_ids
        else []
    )
    f["components"] = ", ".join(names) if names else tpl.Missing("status-page components", seen)
    f["customer_facing_text"] = "yes" if inc.customer_facing else "no"
    f["alert_count"] = (
        session.scalar(select(func.count(Alert.id)).where(Alert.incident_id == inc.id)) or 0
    )
    f["page_count"] = (
        session.scalar(
            select(func.count(Notification.id))
            .join(Escalation, Escalation.id == Notification.escalation_id)
            .where(Escalation.incident_id == inc.id)
        )
        or 0
    )
    # What the incident spent of each SLO on its services, up to its resolution; with no
    # SLO covering it the share is never guessed.
    spent = slo_service.incident_spend(session, inc, ensure_utc(end))
    f["error_budget"] = (
        "; ".join(
            f"{s['slo']}: {s['text']}" + ("" if s["weighted"] else " (at 100%: no affected share)")
            for s in spent
        )
        if spent
        else tpl.Missing("error budget spent", seen)
    )
    events = [e for e in timeline(session, inc.id) if e.kind in TIMELINE_KINDS]
    stars = starred_ids(session, inc.id)
    events.sort(
        key=lambda e: (not (e.id in stars or bool((e.data or {}).get("starred"))), e.at, e.id)
    )
    f["events"] = [
        {"at": f"{ensure_utc(e.at):%Y-%m-%d %H:%M}", "text": _cell(e.text), "actor": _cell(e.actor)}
        for e in events
    ]
    f["phases"] = phases(session, inc, seen)
    return f


def draft(session: Session, clock: Clock, inc: Incident) -> dict[str, Any]:
    """The drafted content of a new postmortem: every section, drafted ones filled from
    facts and the rest empty for people to write."""
    f = facts(session, clock, inc)
    out: dict[str, Any] = {
        "title": f"Postmortem: {incident_rules.short_id(inc.id)} {inc.title}",
        "summary": tpl.render_shipped("postmortem_summary", SUMMARY, f).text,
        "impact": tpl.render_shipped("postmortem_impact", IMPACT, f).text,
        "timeline": tpl.render_shipped("postmortem_timeline", TIMELINE, f).text,
        "phases": tpl.render_shipped("postmortem_phases", PHASES, f).text,
        "whys": [],
        "root_cause": "",
        "factors": [],
        "factors_text": "",
        "went_well": "",
        "went_wrong": "",
        "lucky": "",
        "lessons": "",
        "no_actions_reason": "",
    }
    return out
