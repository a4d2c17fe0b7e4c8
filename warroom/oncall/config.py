"""The `schedules:` section of config as code: checks, apply, export and warnings."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.clock import Clock, ensure_utc
from warroom.core.problems import Problem
from warroom.oncall import rules
from warroom.oncall.models import LayerMember, Schedule, ScheduleLayer
from warroom.oncall.service import (
    WARN_DAYS,
    build_layer,
    layer_dict,
    layer_rows,
    list_schedules,
    parse_business_hours,
    schedule_changed,
)
from warroom.org.models import Team, User
from warroom.org.service import valid_timezone

if TYPE_CHECKING:
    from warroom.config.schema import ConfigDoc, ScheduleDoc


def check(session: Session, doc: ConfigDoc, users: set[str], teams: set[str]) -> list[Problem]:

    problems: list[Problem] = []
    if doc.schedules is None:
        if doc.teams is not None:
            for name, team in session.execute(
                select(Schedule.name, Team.name)
                .join(Team, Team.id == Schedule.team_id)
                .order_by(Schedule.name)
            ):
                if team not in teams:
                    problems.append(
                        Problem(
                            ("teams",), f"team {team!r} owns schedule {name!r}; remove it first"
                        )
                    )
        return problems
    seen: set[str] = set()
    for i, s in enumerate(doc.schedules):
        at: tuple[str | int, ...] = ("schedules", i)
        if s.name in seen:
            problems.append(Problem((*at, "name"), f"duplicate name {s.name!r}"))
        seen.add(s.name)
        if s.team not in teams:
            problems.append(Problem((*at, "team"), f"unknown team {s.team!r}"))
        if not valid_timezone(s.timezone):
            problems.append(Problem((*at, "timezone"), f"{s.timezone!r} is not an IANA time zone"))
        if s.compensation is not None:
            try:
                parse_business_hours(s.compensation.business_hours)
            except ValueError as exc:
                problems.append(Problem((*at, "compensation", "business_hours"), str(exc)))
        layer_names: set[str] = set()
        for j, layer in enumerate(s.layers):
            lat = (*at, "layers", j)
            if layer.name in layer_names:
                problems.append(Problem((*lat, "name"), f"duplicate layer {layer.name!r}"))
            layer_names.add(layer.name)
            for k, m in enumerate(layer.members):
                if m not in users:
                    problems.append(Problem((*lat, "members", k), f"unknown user {m!r}"))
            try:
                _layer(s, j, s.timezone if valid_timezone(s.timezone) else "UTC")
            except ValueError as exc:
                field, _, message = str(exc).partition(": ")
                path: tuple[str | int, ...] = (*lat, field.split("[")[0])
                if field.startswith("restrictions["):
                    path = (*path, int(field.split("[")[1].rstrip("]")))
                problems.append(Problem(path, message))
    return problems


def _layer(s: ScheduleDoc, j: int, default_zone: str | None = None) -> rules.Layer:
    layer = s.layers[j]
    return build_layer(
        **{
            **layer.model_dump(exclude={"restrictions"}),
            "restrictions": [r.model_dump() for r in layer.restrictions],
        },
        default_zone=default_zone or s.timezone,
    )


def apply(session: Session, clock: Clock, doc: ConfigDoc) -> None:
    assert doc.schedules is not None
    wanted = {s.name: s for s in doc.schedules}
    for old_row in list_schedules(session):
        if old_row.name not in wanted:
            session.delete(old_row)
    session.flush()
    teams = {t.name: t.id for t in session.scalars(select(Team))}
    users = {u.name: u.id for u in session.scalars(select(User))}
    for s in doc.schedules:
        row = session.scalar(select(Schedule).where(Schedule.name == s.name))
        if row is None:
            row = Schedule(name=s.name, created_at=clock.now(), team_id=teams[s.team])
            session.add(row)
        row.team_id = teams[s.team]
        row.description = s.description
        row.timezone = s.timezone
        row.compensation = s.compensation.model_dump() if s.compensation else {}
        session.flush()
        for old in session.scalars(
            select(ScheduleLayer).where(ScheduleLayer.schedule_id == row.id)
        ):
            session.delete(old)
        session.flush()
        for position, layer in enumerate(s.layers):
            lrow = ScheduleLayer(
                schedule_id=row.id,
                position=position,
                name=layer.name,
                level=layer.level,
                timezone=layer.timezone,
                shift=layer.shift,
                handoff=layer.handoff,
                start=date.fromisoformat(layer.start) if layer.start else None,
                offset_shifts=layer.offset,
                restrictions=[r.model_dump() for r in layer.restrictions],
            )
            session.add(lrow)
            session.flush()
            for k, m in enumerate(layer.members):
                session.add(LayerMember(layer_id=lrow.id, position=k, user_id=users[m]))
        session.flush()
        schedule_changed(session, clock, row)


def export(session: Session) -> list[dict[str, Any]]:
    teams = {t.id: t.name for t in session.scalars(select(Team))}
    return [
        {
            "name": row.name,
            "team": teams.get(row.team_id),
            "description": row.description,
            "timezone": row.timezone,
            "compensation": dict(row.compensation) if row.compensation else None,
            "layers": [layer_dict(x, m) for x, m in layer_rows(session, row)],
        }
        for row in list_schedules(session)
    ]


def warnings(clock: Clock, doc: ConfigDoc) -> list[str]:
    """Gaps in the next four weeks and rotations with fewer than 5 people."""
    out: list[str] = []
    start = ensure_utc(clock.now())
    end = start + timedelta(days=WARN_DAYS)
    for s in doc.schedules or []:
        layers = tuple(_layer(s, j) for j in range(len(s.layers)))
        sched = rules.Schedule(s.name, layers, (), s.timezone)
        out.extend(w.message for w in rules.health(sched, start, end))
    return out
