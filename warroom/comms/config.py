"""The `templates:` section of config as code: check, apply, export.

An entry overrides one default template (`name`), optionally only for one severity
and/or one service. Entries are matched by (name, severity, service); what the
section omits is deleted, so the default wording comes back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.comms import templates as tpl
from warroom.comms.models import CommsTemplate

Problems = list[tuple[tuple[str | int, ...], str]]


def key(name: str, severity: str | None, service: str | None) -> str:
    """The plan/export name of an entry: `status`, `status@SEV-1`, `status@/api`, `status@SEV-1/api`."""
    scope = "/".join(x for x in (severity or "", service or "") if x)
    if severity is None and service:
        scope = f"/{service}"
    return f"{name}@{scope}" if scope else name


def check(doc: Any, severities: set[str], services: set[str]) -> Problems:
    items = doc.templates
    if items is None:
        return []
    problems: Problems = []
    seen: set[str] = set()
    for i, t in enumerate(items):
        if t.name not in tpl.DEFAULTS:
            problems.append(
                (
                    ("templates", i, "name"),
                    f"unknown template {t.name!r} (allowed: {', '.join(tpl.NAMES)})",
                )
            )
        k = key(t.name, t.severity, t.service)
        if k in seen:
            problems.append((("templates", i, "name"), f"template {k!r} is defined twice"))
        seen.add(k)
        if t.severity is not None and t.severity not in severities:
            problems.append((("templates", i, "severity"), f"unknown severity {t.severity!r}"))
        if t.service is not None and t.service not in services:
            problems.append((("templates", i, "service"), f"unknown service {t.service!r}"))
        err = tpl.compile_problem(t.body)
        if err is not None:
            where = f" (line {err.line} of the body)" if err.line else ""
            problems.append((("templates", i, "body"), err.message + where))
    return problems


def apply(session: Session, doc: Any) -> None:
    items = doc.templates
    assert items is not None
    for row in session.scalars(select(CommsTemplate)):
        session.delete(row)
    session.flush()
    for position, t in enumerate(items):
        session.add(
            CommsTemplate(
                name=t.name,
                severity=t.severity,
                service=t.service,
                body=t.body,
                position=position,
            )
        )
    session.flush()


def export(session: Session) -> list[dict[str, Any]]:
    return [
        {"name": r.name, "severity": r.severity, "service": r.service, "body": r.body}
        for r in session.scalars(
            select(CommsTemplate).order_by(CommsTemplate.position, CommsTemplate.id)
        )
    ]
