"""The `triage:` section of config as code: the severity matrix, blast-radius rungs and
who the audiences are (docs/triage.md).

Invariants:
- A document without `triage:` leaves triage as it is; `triage: null` restores the
  seeds' defaults; a section replaces the whole previous one.
- `export` gives the section only while one is kept, in the form `apply` accepts unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.config.schema import ConfigDoc, TriageDoc
from warroom.org.models import Severity, User
from warroom.paging.models import EscalationPolicy
from warroom.triage import service as triage

Problems = list[tuple[tuple[str | int, ...], str]]


def given(doc: ConfigDoc) -> bool:
    """Whether the document has a `triage:` section (null included)."""
    return "triage" in doc.model_fields_set


def check(session: Session, doc: ConfigDoc) -> Problems:
    """Severities, users and policies the section names that will not exist after the apply."""
    if not given(doc) or doc.triage is None:
        return []
    sevs = (
        {s.name for s in doc.severities}
        if doc.severities is not None
        else set(session.scalars(select(Severity.name)))
    )
    users = set(session.scalars(select(User.name))) | {u.name for u in doc.users or []}
    policies = (
        {p.name for p in doc.escalation_policies}
        if doc.escalation_policies is not None
        else set(session.scalars(select(EscalationPolicy.name)))
    )
    return triage.check(doc.triage.model_dump(), sevs, users, policies)


def export(session: Session) -> dict[str, Any] | None:
    """The live section, or None while the defaults apply. Reads only."""
    data = triage.settings(session)
    return TriageDoc.model_validate(data).model_dump() if data else None


def plan(session: Session, doc: ConfigDoc) -> list[tuple[str, str, list[str]]]:
    """(action, name, fields) for the section: none when absent or unchanged. Reads only."""
    if not given(doc):
        return []
    live = export(session)
    if doc.triage is None:
        return [] if live is None else [("delete", "triage", [])]
    wanted = doc.triage.model_dump()
    if live is None:
        return [("create", "triage", [])]
    fields = sorted(k for k in wanted if live.get(k) != wanted[k])
    return [("update", "triage", fields)] if fields else []


def apply(session: Session, doc: ConfigDoc) -> None:
    """Keeps the document's section (the defaults for null); nothing when absent."""
    if given(doc):
        triage.save(session, doc.triage.model_dump() if doc.triage else None)
