"""The ingestion hot path: key lookup cache, rate limits, and group commit.

Requests hand their parsed events to a writer thread, which applies everything
queued at that moment in one transaction (one fsync for many requests) and only
then releases the requests' 202 answers. If a batch fails, its items are retried
one by one, so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from warroom.alerts import service
from warroom.alerts.models import Integration
from warroom.alerts.parsers import ChangePayload, NormalizedEvent
from warroom.core.clock import Clock
from warroom.db.session import Database

log = logging.getLogger("warroom.ingest")
KEY_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class IntegrationRef:
    id: int
    name: str
    kind: str
    service_id: int | None
    hmac_secret: str | None
    mapping: dict[str, Any]
    rate_per_minute: int | None


@dataclass
class _Item:
    integration_id: int
    events: list[NormalizedEvent] = field(default_factory=list)
    change: ChangePayload | None = None
    future: Future[Any] = field(default_factory=Future)


class RateLimiter:
    """A token bucket per integration (per process)."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, ref: IntegrationRef, cost: int = 1) -> int | None:
        if not ref.rate_per_minute:
            return None
        rate = ref.rate_per_minute / 60.0
        capacity = float(ref.rate_per_minute)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(ref.id, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens >= cost:
                self._buckets[ref.id] = (tokens - cost, now)
                return None
            self._buckets[ref.id] = (tokens, now)
            return max(1, int((cost - tokens) / rate + 0.999))


class Ingestor:
    def __init__(self, db: Database, clock: Clock, max_batch: int = 512) -> None:
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self.limiter = RateLimiter()
        self._keys: dict[str, tuple[float, IntegrationRef | None]] = {}
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        writers = 1 if db.dialect == "sqlite" else 2
        self._threads = [
            threading.Thread(target=self._run, name=f"warroom-ingest-{i}", daemon=True)
            for i in range(writers)
        ]
        for t in self._threads:
            t.start()

    def lookup(self, key: str) -> IntegrationRef | None:
        now = time.monotonic()
        hit = self._keys.get(key)
        if hit and now - hit[0] < KEY_CACHE_SECONDS:
            return hit[1]
        with self.db.session() as s:
            row = service.integration_by_key(s, key)
            ref = _ref(row) if row else None
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[key] = (now, ref)
        return ref

    def forget_keys(self) -> None:
        self._keys.clear()

    async def submit(
        self,
        ref: IntegrationRef,
        events: list[NormalizedEvent] | None = None,
        change: ChangePayload | None = None,
    ) -> Any:
        item = _Item(ref.id, events or [], change)
        self._queue.put(item)
        return await asyncio.wrap_future(item.future)

    def close(self) -> None:
        """Stops the writer threads once the queue has drained."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for t in self._threads:
            t.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(_STOP)  # leave it for this thread's next round
                    break
                batch.append(nxt)
            try:
                results = self._apply(batch)
            except Exception:
                log.exception("ingest batch of %d failed; retrying one by one", len(batch))
                for item in batch:
                    try:
                        (result,) = self._apply([item])
                        item.future.set_result(result)
                    except Exception as exc:
                        item.future.set_exception(exc)
                continue
            for item, result in zip(batch, results, strict=True):
                item.future.set_result(result)

    def _apply(self, batch: list[_Item]) -> list[Any]:
        results: list[Any] = []
        with self.db.session() as s:
            integrations: dict[int, Integration] = {}
            for item in batch:
                integ = integrations.get(item.integration_id) or s.get(
                    Integration, item.integration_id
                )
                if integ is None:
                    raise LookupError("the integration was deleted")
                integrations[integ.id] = integ
                if item.change is not None:
                    row = service.record_change(
                        s,
                        self.clock,
                        change=item.change,
                        recorded_by=f"integration:{integ.name}",
                        service_id=integ.service_id,
                        integration_id=integ.id,
                    )
                    results.append(row.id)
                else:
                    results.append(service.ingest(s, self.clock, integ, item.events))
        return results


_STOP = _Item(integration_id=-1)


def _ref(row: Integration) -> IntegrationRef:
    return IntegrationRef(
        id=row.id,
        name=row.name,
        kind=row.kind,
        service_id=row.service_id,
        hmac_secret=row.hmac_secret,
        mapping=dict(row.mapping or {}),
        rate_per_minute=row.rate_per_minute,
    )
