"""Handoffs, as plain functions over the schedule expansion and plain data.

A *duty* is what a person experiences as one stint on call at a level: consecutive spans
of the final schedule held by the same person, gaps between them included (a layer
restricted to business hours puts alice on call five mornings in a row; that is one
duty, not five). A *handoff* is where one duty ends and another person's begins: the
incoming person takes over at the instant their first span starts. Before that instant
the outgoing person gets a note drafted from what happened during their duty; the
incoming person gets the start-of-shift checklist.

Everything here takes and returns plain data; warroom.shifts.handoff_service gathers the
facts from the store and keeps the results.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from warroom.core.clock import ensure_utc
from warroom.oncall import rules

MIN_LOOKBACK = timedelta(days=8)
MAX_LOOKBACK = timedelta(days=366)
HORIZON = timedelta(days=35)  # how far ahead the next handoff is looked for
TOP_ALERTS = 5
MAX_ITEMS = 20  # pages and changes listed in a note (the counts are always complete)


@dataclass(frozen=True)
class Duty:
    user: str
    level: int
    start: datetime
    end: datetime  # the end of the person's last span in the duty


@dataclass(frozen=True)
class Handoff:
    at: datetime  # the instant the incoming person takes over
    level: int
    outgoing: str
    incoming: str
    shift_start: datetime  # when the outgoing duty began (as far back as was expanded)
    shift_end: datetime  # when the outgoing person's last span ended (<= at)


def duties(spans: Iterable[rules.Span]) -> list[Duty]:
    """One level's final spans folded into duties: a person's consecutive spans, gaps
    between them included, are one duty."""
    out: list[Duty] = []
    for sp in sorted(spans, key=lambda s: s.start):
        if out and out[-1].user == sp.user:
            out[-1] = replace(out[-1], end=max(out[-1].end, sp.end))
        else:
            out.append(Duty(sp.user, sp.level, sp.start, sp.end))
    return out


def handoffs(tl: rules.Timeline) -> list[Handoff]:
    """Every change of person at every level of an expanded timeline, in time order.
    The first duty of a level has no handoff before it (nobody is known to hand over)."""
    out: list[Handoff] = []
    for level, spans in tl.final.items():
        for a, b in pairwise(duties(spans)):
            out.append(Handoff(b.start, level, a.user, b.user, a.start, a.end))
    return sorted(out, key=lambda h: (h.at, h.level))


def lookback(schedule: rules.Schedule) -> timedelta:
    """How far back to expand so the duty before a handoff is seen whole: two of the
    longest shifts, at least 8 days, at most a year."""
    longest = max((x.step for x in schedule.layers), default=timedelta(weeks=1))
    return min(max(2 * longest, MIN_LOOKBACK), MAX_LOOKBACK)


def handoffs_between(schedule: rules.Schedule, start: datetime, end: datetime) -> list[Handoff]:
    """Handoffs with start <= at <= end."""
    if end < start:
        return []
    tl = rules.shifts_between(schedule, start - lookback(schedule), end + timedelta(seconds=1))
    return [h for h in handoffs(tl) if start <= h.at <= end]


def next_handoff(
    schedule: rules.Schedule, after: datetime, horizon: timedelta = HORIZON
) -> datetime | None:
    """The first handoff instant strictly after `after`, within the horizon."""
    found = handoffs_between(schedule, after, after + horizon)
    later = [h.at for h in found if h.at > after]
    return min(later) if later else None


def others_on_call(tl: rules.Timeline, at: datetime, level: int) -> dict[int, str]:
    """Who holds the other levels at an instant (the incoming primary's secondary)."""
    out: dict[int, str] = {}
    for lv, spans in sorted(tl.final.items()):
        if lv == level:
            continue
        for sp in spans:
            if sp.start <= at < sp.end:
                out[lv] = sp.user
    return out


# --- the outgoing note --------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFact:
    """Alerts that fired with one summary, for one service and incident (or none)."""

    summary: str
    service: str | None
    incident: str | None  # the incident's short id, if they joined one
    alerts: int = 1
    occurrences: int = 1  # firings, repeats included
    non_actionable: int = 0  # alerts marked non-actionable
    private: bool = False  # they belong to a private incident: counted, never named


def alert_summary(facts: Sequence[AlertFact], top: int = TOP_ALERTS) -> dict[str, Any]:
    """Counts, and the alerts that fired most (grouped by summary and service)."""
    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    for a in facts:
        if a.private:
            continue
        g = groups.setdefault(
            (a.summary, a.service),
            {
                "summary": a.summary,
                "service": a.service,
                "alerts": 0,
                "occurrences": 0,
                "non_actionable": 0,
                "incidents": [],
            },
        )
        g["alerts"] += a.alerts
        g["occurrences"] += a.occurrences
        g["non_actionable"] += a.non_actionable
        if a.incident and a.incident not in g["incidents"]:
            g["incidents"].append(a.incident)
    ranked = sorted(groups.values(), key=lambda g: (-g["alerts"], -g["occurrences"], g["summary"]))
    total = sum(a.alerts for a in facts)
    non_actionable = sum(a.non_actionable for a in facts)
    return {
        "total": total,
        "actionable": total - non_actionable,
        "non_actionable": non_actionable,
        "with_incident": sum(a.alerts for a in facts if a.incident),
        "top": ranked[:top],
    }


def prompts(note: dict[str, Any]) -> list[str]:
    """Questions the data raises, for the outgoing person to answer in a remark (the
    seeds' handoff template: was each alert real, what to watch, known risks)."""
    out: list[str] = []
    for inc in note["incidents"]["open"]:
        out.append(
            f"{inc['id']} is still {inc['status']} ({inc['severity']}): what should the "
            "next person watch for, and who to talk to?"
        )
    for g in note["alerts"]["top"]:
        unmarked = g["alerts"] - g["non_actionable"]
        if g["alerts"] >= 2 and unmarked and not g["incidents"]:
            out.append(
                f"“{g['summary']}” fired {g['alerts']} times and opened no incident: real, "
                "or noise to mark non-actionable?"
            )
    for c in note["changes"]["items"][:3]:
        out.append(f"{c['kind'].replace('_', ' ')} “{c['summary']}”: anything to watch?")
    out.append("Known risks ahead: upcoming deploys, provider maintenance, anything unusual?")
    return out


# --- the incoming checklist -----------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """How the incoming person can be reached."""

    methods: tuple[tuple[str, str], ...]  # (name, kind)
    email: str  # the account email, used when no method is set
    last_state: str | None = None  # the last page to them: sent | failed | pending | skipped
    last_at: datetime | None = None
    last_error: str = ""


@dataclass(frozen=True)
class SilenceFact:
    kind: str  # silence | maintenance
    what: str  # matchers or services, as text
    ends_at: datetime
    comment: str


def checklist(
    *,
    incoming: str,
    outgoing: str,
    level: int,
    reach: Reach,
    open_incidents: int,
    private_open: int,
    changes: int,
    silences: Sequence[SilenceFact],
    policies: Sequence[str],
    others: dict[int, str],
    schedule: str,
) -> list[dict[str, Any]]:
    """The start-of-shift checklist, each item with what the data says about it:
    `ok` (nothing to do but confirm), `check` (look at this), `warning` (fix this)."""
    items: list[dict[str, Any]] = []

    if reach.methods:
        how = ", ".join(f"{name} ({kind})" for name, kind in reach.methods)
        detail = f"Contact methods: {how}. Test one: warroom contact test {reach.methods[0][0]}."
        status = "check"
    else:
        detail = (
            f"No contact methods set: pages go to your account email {reach.email} only. "
            "Add a second way to reach you (contact_methods in the config)."
        )
        status = "warning"
    if reach.last_state == "failed":
        status = "warning"
        detail += f" The last page to you failed: {reach.last_error or 'no detail'}."
    elif reach.last_state == "sent" and reach.last_at is not None:
        detail += f" The last page to you was delivered ({_utc_text(reach.last_at)})."
    items.append(
        {
            "key": "reachable",
            "text": "Confirm you can be reached: contact methods set, send yourself a test "
            "notification and see it arrive",
            "status": status,
            "detail": detail,
        }
    )

    what = f"{open_incidents} open incident{'s' if open_incidents != 1 else ''}"
    if private_open:
        what += f" (and {private_open} private)"
    items.append(
        {
            "key": "incidents",
            "text": f"Review open incidents and {outgoing}'s handoff note",
            "status": "check" if open_incidents or private_open else "ok",
            "detail": f"{what} on this schedule's services at handoff.",
        }
    )
    items.append(
        {
            "key": "changes",
            "text": "Review recent deploys and config changes from the previous shift",
            "status": "check" if changes else "ok",
            "detail": f"{changes} change{'s' if changes != 1 else ''} recorded during "
            f"{outgoing}'s shift.",
        }
    )
    if silences:
        listed = "; ".join(
            f"{s.kind} on {s.what} until {_utc_text(s.ends_at)} ({s.comment})" for s in silences
        )
        detail, status = f"In effect: {listed}.", "check"
    else:
        detail, status = "No silences or maintenance windows in effect.", "ok"
    items.append(
        {
            "key": "silences",
            "text": "Check silences and maintenance windows in effect: alerts they match "
            "page nobody",
            "status": status,
            "detail": detail,
        }
    )
    who = ", ".join(f"{rules.level_name(lv)}: {name}" for lv, name in sorted(others.items()))
    if policies:
        detail = "Escalation: " + "; ".join(policies) + "."
        status = "check"
    else:
        detail = f"No escalation policy pages schedule {schedule}."
        status = "warning"
    detail += f" You are {rules.level_name(level)}." + (
        f" Also on call: {who}." if who else " Nobody else is on call at another level."
    )
    items.append(
        {
            "key": "escalation",
            "text": "Know the escalation policy and who else is on call (your secondary, "
            "whom to escalate to)",
            "status": status,
            "detail": detail,
        }
    )
    return items


def _utc_text(t: datetime) -> str:
    return ensure_utc(t).strftime("%Y-%m-%d %H:%M UTC")
