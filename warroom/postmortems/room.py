"""What the incident room shows of the after-incident half: the postmortem's state (none,
draft, in review, published), owner, due time and link; whether one is required,
recommended or optional once the incident is resolved; similar past incidents with their
postmortems and open action items; and the starred timeline events.

Invariants:
- Reads only. The room's buttons ("Start postmortem", the star toggles) call the same
  service functions as the API (`service.start`, `stars.set_star`), which check roles.
- Similar incidents are those the caller may see (`similar.similar`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.principal import Principal
from warroom.incidents import rules as incident_rules
from warroom.incidents.models import Incident
from warroom.org.models import User
from warroom.postmortems import rules, service, similar, stars

STATUS_TITLES = {"draft": "draft", "in_review": "in review", "published": "published"}


def panel(session: Session, clock: Clock, principal: Principal, inc: Incident) -> dict[str, Any]:
    """The room's postmortem panel for `inc` as `principal` sees it."""
    ref = incident_rules.short_id(inc.id)
    pm = service.for_incident(session, inc.id)
    ended = inc.status in ("resolved", "closed")
    out: dict[str, Any] = {
        "ref": ref,
        "link": f"/postmortems/{ref}",
        "postmortem": None,
        "requirement": None,
        "reasons": [],
        "can_start": False,
        "similar": similar.similar(session, principal, inc),
        "starred": stars.starred_ids(session, inc.id),
    }
    out["repeats_open"] = any(s["open_action_items"] for s in out["similar"])
    if pm is not None:
        owner = session.get(User, pm.owner_id) if pm.owner_id else None
        out["postmortem"] = {
            "status": pm.status,
            "status_title": STATUS_TITLES.get(pm.status, pm.status),
            "requirement": pm.requirement,
            "owner": owner.name if owner else None,
            "due_at": iso(pm.due_at),
            "overdue": rules.is_overdue(
                ensure_utc(pm.due_at) if pm.due_at else None,
                clock.now(),
                pm.status == "published",
            ),
            "link": out["link"],
        }
    elif ended:
        decision = service.decide(session, inc)
        out["requirement"] = decision.level
        out["reasons"] = list(decision.reasons)
        out["can_start"] = principal.can("responder")
    return out
