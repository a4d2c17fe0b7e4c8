"""The paging state machine as pure functions over plain data.

An escalation walks a policy's levels in order; each level pages its targets and waits
its timeout. After the last level the walk starts again from level 0 `repeat` more
times. When the last level of the last pass times out unacknowledged the escalation is
exhausted and the fallback (the team's channel) is notified. An acknowledgement stops
the walk; resolving stops everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STATES = ("triggered", "acknowledged", "exhausted", "resolved")
ACTIVE = ("triggered", "acknowledged", "exhausted")
TARGET_TYPES = ("user", "schedule", "team")
METHOD_KINDS = ("email", "webhook", "apprise")
MAX_LEVELS = 20
MAX_REPEAT = 10
MAX_TIMEOUT_MINUTES = 24 * 60
MAX_DELAY_MINUTES = 24 * 60
# A delivery is retried with exponential backoff (capped at 15 minutes) this many times
# before the method counts as failed: about two hours, so a receiver that is down for a
# while gets its pages once it is back (unless the page was acknowledged meanwhile).
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Target:
    type: str
    name: str
    level: int = 1  # the schedule level (1 primary, 2 secondary...)

    def label(self) -> str:
        if self.type == "schedule" and self.level != 1:
            return f"schedule {self.name} (level {self.level})"
        return f"{self.type} {self.name}"


@dataclass(frozen=True)
class Level:
    timeout_minutes: int
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Plan:
    levels: tuple[Level, ...]
    repeat: int = 0
    fallback: str | None = None  # a team name

    def to_json(self) -> dict[str, Any]:
        return {
            "levels": [
                {
                    "timeout_minutes": lv.timeout_minutes,
                    "targets": [
                        {"type": t.type, "name": t.name, "level": t.level} for t in lv.targets
                    ],
                }
                for lv in self.levels
            ],
            "repeat": self.repeat,
            "fallback": self.fallback,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            levels=tuple(
                Level(
                    int(lv["timeout_minutes"]),
                    tuple(
                        Target(t["type"], t["name"], int(t.get("level", 1))) for t in lv["targets"]
                    ),
                )
                for lv in data.get("levels", [])
            ),
            repeat=int(data.get("repeat", 0)),
            fallback=data.get("fallback"),
        )


@dataclass(frozen=True)
class Step:
    """Page level `level` in pass `pass_no` at `at`."""

    pass_no: int
    level: int
    at: datetime


@dataclass(frozen=True)
class Exhausted:
    at: datetime


def first_step(plan: Plan, start: datetime) -> Step | None:
    return Step(0, 0, start) if plan.levels else None


def after(plan: Plan, step: Step) -> Step | Exhausted:
    """What follows `step` if nobody acknowledges within its level's timeout."""
    deadline = step.at + timedelta(minutes=plan.levels[step.level].timeout_minutes)
    if step.level + 1 < len(plan.levels):
        return Step(step.pass_no, step.level + 1, deadline)
    if step.pass_no < plan.repeat:
        return Step(step.pass_no + 1, 0, deadline)
    return Exhausted(deadline)


def walk(plan: Plan, start: datetime) -> list[Step | Exhausted]:
    """Every step of an unacknowledged escalation, ending with its exhaustion."""
    out: list[Step | Exhausted] = []
    step = first_step(plan, start)
    while step is not None:
        out.append(step)
        nxt = after(plan, step)
        if isinstance(nxt, Exhausted):
            out.append(nxt)
            break
        step = nxt
    return out


def transition(state: str, event: str) -> str:
    """The state after an event; raises ValueError for a transition that cannot happen."""
    table = {
        ("triggered", "acknowledge"): "acknowledged",
        ("exhausted", "acknowledge"): "acknowledged",
        ("triggered", "exhaust"): "exhausted",
        ("triggered", "resolve"): "resolved",
        ("acknowledged", "resolve"): "resolved",
        ("exhausted", "resolve"): "resolved",
    }
    try:
        return table[(state, event)]
    except KeyError:
        raise ValueError(f"cannot {event} an escalation that is {state}") from None


@dataclass(frozen=True)
class Rule:
    method: str
    after_minutes: int


def contact_plan(rules: list[Rule], methods: list[str]) -> list[Rule]:
    """A person's notification rules, or every method at once when they set none."""
    if rules:
        return sorted(rules, key=lambda r: r.after_minutes)
    return [Rule(m, 0) for m in methods]


def fall_through(rules: list[Rule], methods: list[str], failed: set[str]) -> str | None:
    """The method to try when one fails: the next one not yet failed, in rule order, then
    any other method the person has."""
    order = [r.method for r in contact_plan(rules, methods)] + methods
    for m in dict.fromkeys(order):
        if m not in failed:
            return m
    return None
