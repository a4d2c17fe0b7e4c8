"""The `postmortems:` section of config as code: when a postmortem is required beyond the
severity's policy (longer than N minutes, customer-detected, error budget spent, drills),
the review gate's depth of the 5 Whys, and the reminder timing.

Invariants:
- A document without `postmortems:` leaves the rules as they are; `postmortems: null`
  restores the defaults; a section replaces the whole previous one.
- `export` gives the section only while rules other than the defaults are kept, in the
  form `apply` accepts unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from warroom.config.schema import ConfigDoc, PostmortemsDoc
from warroom.postmortems import service as postmortems
from warroom.postmortems.models import PostmortemRules


def given(doc: ConfigDoc) -> bool:
    """Whether the document has a `postmortems:` section (null included)."""
    return "postmortems" in doc.model_fields_set


def export(session: Session) -> dict[str, Any] | None:
    """The live section, or None while the defaults apply. Reads only."""
    row = session.get(PostmortemRules, 1)
    if row is None:
        return None
    return PostmortemsDoc.model_validate(row.data).model_dump()


def plan(session: Session, doc: ConfigDoc) -> list[tuple[str, str, list[str]]]:
    """(action, name, fields) for the section: none when absent or unchanged. Reads only."""
    if not given(doc):
        return []
    live = export(session)
    if doc.postmortems is None:
        return [] if live is None else [("delete", "rules", [])]
    wanted = doc.postmortems.model_dump()
    if live is None:
        return [("create", "rules", [])]
    fields = sorted(k for k in wanted if live.get(k) != wanted[k])
    return [("update", "rules", fields)] if fields else []


def apply(session: Session, doc: ConfigDoc) -> None:
    """Keeps the document's section (the defaults for null); nothing when absent."""
    if not given(doc):
        return
    postmortems.save_rules(session, doc.postmortems.model_dump() if doc.postmortems else None)
