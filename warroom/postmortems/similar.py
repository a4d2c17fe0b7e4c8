"""Repeats: past incidents similar to this one, with their postmortems and open action
items, and the note in the room when a new incident repeats one whose items are open.

Invariants:
- Similarity is explained, never a bare number: shared services, shared alert
  fingerprints (dedup keys), and the words of this incident's title and postmortem root
  cause that the store's own full-text search matched in the other's (SQLite FTS5 with
  porter stemming, PostgreSQL `to_tsvector('english')`: "timeouts" matches "timeout").
- Candidates are found through indexes over every incident, not a recent window: the
  incidents of the same services, of the same alert fingerprints, and the full-text
  index `incident_search` (migration 0016: its triggers keep it current when an incident
  is created or retitled and when a postmortem is written), `PER_TERM` hits per word.
- Only incidents the caller may see are compared; the room note (written by the engine)
  names only incidents of the same privacy: a public incident's room never names a
  private one.
- Reads only, except `note_repeat`, which appends one timeline note naming only past
  incidents no earlier note of this incident named (it runs when the incident is
  declared and again when an alert that shares a fingerprint with an incident that has
  open items joins it).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.core.clock import Clock
from warroom.core.principal import SYSTEM, Principal
from warroom.incidents import rules as incident_rules
from warroom.incidents import timeline as incident_timeline
from warroom.incidents.models import Incident, IncidentService
from warroom.incidents.queries import visible_clause
from warroom.org.models import Service, User
from warroom.postmortems.models import ActionItem, Postmortem

PER_TERM = 200  # the most recent matches of one word (or service, or fingerprint)
MAX_TERMS = 12  # words searched per field (title, root cause)
MIN_SCORE = 3
_STOP = frozenset(
    [
        "with",
        "from",
        "that",
        "this",
        "have",
        "were",
        "been",
        "into",
        "than",
        "then",
        "when",
        "what",
        "which",
        "while",
        "after",
        "before",
        "about",
        "errors",
        "error",
        "failed",
        "failing",
        "down",
        "issue",
        "problem",
        "incident",
        "outage",
    ]
)


def words(text: str) -> set[str]:
    """The significant words of a text (lowercase, four letters or more)."""
    return {w for w in re.findall(r"[a-z0-9][a-z0-9_-]{3,}", text.lower()) if w not in _STOP}


def _services(session: Session, ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {i: set() for i in ids}
    for iid, name in session.execute(
        select(IncidentService.incident_id, Service.name)
        .join(Service, Service.id == IncidentService.service_id)
        .where(IncidentService.incident_id.in_(ids))
    ):
        out[iid].add(name)
    return out


def _keys(session: Session, ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {i: set() for i in ids}
    for iid, key in session.execute(
        select(Alert.incident_id, Alert.dedup_key).where(Alert.incident_id.in_(ids))
    ):
        if iid is not None:
            out[iid].add(key)
    return out


def _cause(pm: Postmortem | None) -> str:
    if pm is None:
        return ""
    c = pm.content or {}
    parts = [str(c.get("root_cause", ""))] + [
        str(w.get("because", "")) for w in c.get("whys") or []
    ]
    return " ".join(parts)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _matches(session: Session, field: str, word: str) -> list[int]:
    """The incidents whose `field` ("title" or "cause") matches `word` in the store's
    full-text index, newest first (at most PER_TERM)."""
    if _dialect(session) == "sqlite":
        sql = (
            "SELECT rowid FROM incident_search WHERE incident_search MATCH :q"
            " ORDER BY rowid DESC LIMIT :n"
        )
        q = f'{field} : "{word}"'  # words() yields [a-z0-9_-] only: nothing to escape
    else:
        col = "title" if field == "title" else "cause"
        sql = (
            f"SELECT incident_id FROM incident_search WHERE {col} @@"
            " plainto_tsquery('english', :q) ORDER BY incident_id DESC LIMIT :n"
        )
        q = word
    return [int(r[0]) for r in session.execute(text(sql), {"q": q, "n": PER_TERM})]


def _terms(text_: str) -> list[str]:
    return sorted(words(text_), key=lambda w: (-len(w), w))[:MAX_TERMS]


def similar(
    session: Session, principal: Principal, inc: Incident, limit: int = 5
) -> list[dict[str, Any]]:
    """Past incidents like `inc`, most similar first, each with why, its postmortem's
    state and its open action items."""
    mine_services = _services(session, [inc.id])[inc.id]
    mine_keys = _keys(session, [inc.id])[inc.id]
    own = session.scalar(select(Postmortem).where(Postmortem.incident_id == inc.id))
    title_hits: dict[int, list[str]] = {}
    cause_hits: dict[int, list[str]] = {}
    for word in _terms(inc.title):
        for iid in _matches(session, "title", word):
            title_hits.setdefault(iid, []).append(word)
    for word in _terms(_cause(own)):
        for iid in _matches(session, "cause", word):
            cause_hits.setdefault(iid, []).append(word)
    found: set[int] = set(title_hits) | set(cause_hits)
    if mine_services:
        found.update(
            session.scalars(
                select(IncidentService.incident_id)
                .join(Service, Service.id == IncidentService.service_id)
                .where(Service.name.in_(mine_services))
                .order_by(IncidentService.incident_id.desc())
                .limit(PER_TERM * len(mine_services))
            )
        )
    if mine_keys:
        found.update(
            iid
            for iid in session.scalars(
                select(Alert.incident_id)
                .where(Alert.dedup_key.in_(mine_keys), Alert.incident_id.is_not(None))
                .order_by(Alert.incident_id.desc())
                .limit(PER_TERM * len(mine_keys))
            )
            if iid is not None
        )
    found.discard(inc.id)
    if not found:
        return []
    q = select(Incident).where(Incident.id.in_(found), visible_clause(principal))
    if principal is SYSTEM:  # the engine: stay within the incident's own privacy
        q = q.where(Incident.private == inc.private)
    others = list(session.scalars(q))
    if not others:
        return []
    ids = [o.id for o in others]
    services, keys = _services(session, ids), _keys(session, ids)
    pms = {
        p.incident_id: p
        for p in session.scalars(select(Postmortem).where(Postmortem.incident_id.in_(ids)))
    }
    scored = []
    for o in others:
        reasons: list[str] = []
        score = 0
        shared = mine_services & services[o.id]
        if shared:
            score += 3 * len(shared)
            reasons.append("same services: " + ", ".join(sorted(shared)))
        fps = mine_keys & keys[o.id]
        if fps:
            score += 3 * len(fps)
            reasons.append("same alerts: " + ", ".join(sorted(fps)[:3]))
        tw = set(title_hits.get(o.id, ()))
        if tw:
            score += 2 * len(tw)
            reasons.append("similar title: " + ", ".join(sorted(tw)))
        cw = set(cause_hits.get(o.id, ()))
        if cw:
            score += len(cw)
            reasons.append("similar root cause: " + ", ".join(sorted(cw)[:5]))
        if score >= MIN_SCORE:
            scored.append((score, o, reasons))
    scored.sort(key=lambda t: (-t[0], -t[1].id))
    out = []
    for score, o, reasons in scored[:limit]:
        pm = pms.get(o.id)
        items = list(
            session.execute(
                select(ActionItem, User.name)
                .outerjoin(User, User.id == ActionItem.owner_id)
                .where(
                    ActionItem.incident_id == o.id,
                    ActionItem.status.in_(("open", "in_progress")),
                )
                .order_by(ActionItem.id)
            )
        )
        out.append(
            {
                "incident": incident_rules.short_id(o.id),
                "title": o.title,
                "severity": o.severity,
                "status": o.status,
                "score": score,
                "reasons": reasons,
                "postmortem": {
                    "status": pm.status,
                    "link": f"/postmortems/{incident_rules.short_id(o.id)}",
                }
                if pm
                else None,
                "open_action_items": [
                    {"id": i.id, "title": i.title, "owner": owner, "status": i.status}
                    for i, owner in items
                ],
            }
        )
    return out


def _already_named(session: Session, incident_id: int) -> set[str]:
    named: set[str] = set()
    for ev in incident_timeline.timeline(session, incident_id):
        if ev.kind == "note" and isinstance((ev.data or {}).get("repeats"), list):
            named.update(str(x) for x in ev.data["repeats"])
    return named


def note_repeat(session: Session, clock: Clock, incident_id: int) -> None:
    """Says in the room when an incident repeats past ones whose action items are still
    open (naming them and the items); an incident a note already named is not named
    again, so a later look (an alert attached) adds only what is new."""
    inc = session.get(Incident, incident_id)
    if inc is None or inc.status in ("resolved", "closed"):
        return
    named = _already_named(session, inc.id)
    repeats = [
        s
        for s in similar(session, SYSTEM, inc)
        if s["open_action_items"] and s["incident"] not in named
    ]
    if not repeats:
        return
    parts = []
    for s in repeats[:3]:
        items = ", ".join(f"#{i['id']} {i['title']}" for i in s["open_action_items"][:3])
        parts.append(f"{s['incident']} ({'; '.join(s['reasons'])}), open action items: {items}")
    incident_timeline.record(
        session,
        clock,
        inc,
        kind="note",
        text="This looks like a repeat of " + " | ".join(parts),
        actor=None,
        data={"repeats": [s["incident"] for s in repeats]},
    )


def alert_may_repeat(session: Session, alert_id: int, incident_id: int) -> bool:
    """Whether an alert that joined `incident_id` shares its fingerprint (same integration
    and dedup key) with another incident that has open action items: one indexed look,
    so an alert storm costs little; only then is the full comparison worth running."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        return False
    hit = session.scalar(
        select(Alert.id)
        .join(ActionItem, ActionItem.incident_id == Alert.incident_id)
        .where(
            Alert.integration_id == alert.integration_id,
            Alert.dedup_key == alert.dedup_key,
            Alert.incident_id.is_not(None),
            Alert.incident_id != incident_id,
            ActionItem.status.in_(("open", "in_progress")),
        )
        .limit(1)
    )
    return hit is not None
