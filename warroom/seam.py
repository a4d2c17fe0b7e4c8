"""The seam through which domains react to what happened in another domain.

The domain that owns a change publishes a small typed event (a frozen dataclass of ids
and from/to values, defined in that domain's `events.py`) in the transaction that made
the change. Other domains subscribe to event types in their `subscribers.py`; the
composition root (`warroom.wiring`) registers them. Two kinds of subscriber:

- **in the transaction** (`on`): runs before `publish` returns, inside the caller's
  transaction, in registration order. For invariants that must hold atomically with the
  change: paging stops in the transaction that resolves the incident. An exception
  rolls the whole change back.
- **durable** (`later`): `publish` enqueues one engine job per subscriber, keyed by the
  subscriber and the event, in the same transaction (the transactional outbox). The
  engine runs it afterwards, at least once, in a transaction of its own. For side
  effects that must not slow or fail the change: reminders, notifications, drafts.

Invariants:
- Publishing is part of the change: nothing is delivered for a change that rolls back,
  and a committed change has every durable reaction recorded as a job.
- A domain never imports another domain's services to make it react; it publishes.
- Publishing before `wiring.wire()` ran is an error, never a silent no-op: a missing
  subscriber would mean a page that is never sent.
- Subscribers may publish in turn; a reaction that would repeat itself must be a no-op
  the second time (stopping a stopped escalation changes nothing).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from warroom.core.clock import Clock, iso, parse_utc
from warroom.engine.queue import enqueue


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event: what happened, and when (UTC)."""

    at: datetime

    def key(self) -> str:
        """Identifies this occurrence: the event type and its fields."""
        parts = [type(self).__name__]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            parts.append(iso(value) or "" if isinstance(value, datetime) else str(value))
        return ":".join(parts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = iso(value) if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_json(cls: type[E], data: dict[str, Any]) -> E:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "at" or (isinstance(value, str) and f.name.endswith("_at")):
                value = parse_utc(value)
            values[f.name] = value
        return cls(**values)


E = TypeVar("E", bound=Event)
Reaction = Callable[[Session, Clock, Any], None]


@dataclasses.dataclass(frozen=True)
class _Durable:
    name: str
    fn: Reaction
    event_type: type[Event]


_NOW: dict[type[Event], list[Reaction]] = {}
_LATER: dict[type[Event], list[_Durable]] = {}
_DURABLE_BY_NAME: dict[str, _Durable] = {}
_wired = False

JOB = "seam"  # the engine job kind of every durable reaction


def on(event_type: type[E], fn: Callable[[Session, Clock, E], None]) -> None:
    """Registers a reaction that runs inside the publisher's transaction."""
    if fn not in _NOW.setdefault(event_type, []):
        _NOW[event_type].append(fn)


def later(event_type: type[E], name: str, fn: Callable[[Session, Clock, E], None]) -> None:
    """Registers a durable reaction: an engine job named `name` per published event."""
    existing = _DURABLE_BY_NAME.get(name)
    if existing is not None:
        if existing.fn is not fn or existing.event_type is not event_type:
            raise ValueError(f"durable reaction {name!r} is registered twice")
        return
    durable = _Durable(name, fn, event_type)
    _DURABLE_BY_NAME[name] = durable
    _LATER.setdefault(event_type, []).append(durable)


def mark_wired() -> None:
    """Allows `publish` from now on; `wiring.wire()` calls it once every subscriber is registered.
    Idempotent; there is no way back."""
    global _wired
    _wired = True


def publish(session: Session, clock: Clock, event: Event) -> None:
    """Runs the in-transaction reactions to `event`, then records its durable ones."""
    if not _wired:
        raise RuntimeError(
            f"{type(event).__name__} published before warroom.wiring.wire() registered "
            "the subscribers"
        )
    for fn in list(_NOW.get(type(event), ())):
        fn(session, clock, event)
    durable = _LATER.get(type(event), ())
    if not durable:
        return
    now = clock.now()
    for d in durable:
        enqueue(
            session,
            kind=JOB,
            key=_job_key(d.name, event),
            due_at=now,
            payload={"reaction": d.name, "event": event.to_json()},
            now=now,
        )


def _job_key(name: str, event: Event) -> str:
    key = f"seam:{name}:{event.key()}"
    if len(key) <= 200:  # the jobs table's key column
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[:160]}:{digest}"


def run_durable(session: Session, clock: Clock, payload: dict[str, Any]) -> None:
    """Engine handler of `JOB`: runs one durable reaction to one event."""
    d = _DURABLE_BY_NAME.get(str(payload.get("reaction")))
    if d is None:
        raise LookupError(f"no durable reaction named {payload.get('reaction')!r}")
    d.fn(session, clock, d.event_type.from_json(dict(payload["event"])))
