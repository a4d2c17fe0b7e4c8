"""The `reports:` section of config as code: operational reviews delivered on a schedule.

Invariants:
- A document without `reports:` leaves the schedules as they are; a list replaces them
  all (an empty list removes every one). Applying enqueues each schedule's next run.
- Names are unique; email addresses are single addresses; a team_channel names a team of
  the document (or of the store when the document has no `teams:`).
- `export` gives the section only while a schedule exists, in the form `apply` accepts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from warroom.analytics import schedule
from warroom.config.schema import ConfigDoc, ReportDoc
from warroom.core.clock import Clock
from warroom.core.problems import Problem
from warroom.notify.channels import one_email_address


def check(doc: ConfigDoc, teams: set[str]) -> list[Problem]:
    """Cross-references the schema cannot express: duplicate names, malformed email
    addresses, unknown teams."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, r in enumerate(doc.reports or []):
        if r.name in seen:
            problems.append(Problem(("reports", i, "name"), f"duplicate name {r.name!r}"))
        seen.add(r.name)
        for j, addr in enumerate(r.to.email):
            if not one_email_address(addr):
                problems.append(
                    Problem(("reports", i, "to", "email", j), f"{addr!r} is not one address")
                )
        for j, team in enumerate(r.to.team_channel):
            if team not in teams:
                problems.append(
                    Problem(("reports", i, "to", "team_channel", j), f"unknown team {team!r}")
                )
    return problems


def export(session: Session) -> list[dict[str, Any]] | None:
    """The live section, or None while no schedule exists. Reads only."""
    rows = schedule.entries(session)
    return [ReportDoc.model_validate(r).model_dump() for r in rows] or None


def plan(session: Session, doc: ConfigDoc) -> list[tuple[str, str, list[str]]]:
    """(action, name, fields) per schedule created, changed or removed. Reads only."""
    if doc.reports is None:
        return []
    live = {r["name"]: r for r in export(session) or []}
    wanted = {r.name: r.model_dump() for r in doc.reports}
    out: list[tuple[str, str, list[str]]] = []
    for name, entry in wanted.items():
        if name not in live:
            out.append(("create", name, []))
        else:
            fields = sorted(k for k in entry if live[name].get(k) != entry[k])
            if fields:
                out.append(("update", name, fields))
    out += [("delete", name, []) for name in live if name not in wanted]
    return out


def apply(session: Session, clock: Clock, doc: ConfigDoc) -> None:
    """Keeps the document's schedules and enqueues their next runs; nothing when absent."""
    if doc.reports is None:
        return
    schedule.save(session, clock, [r.model_dump() for r in doc.reports])
