"""The ingestion hot path: key lookup cache, rate limits, and group commit.

Requests hand their parsed events to a writer task, which applies everything
queued at that moment in one transaction (one fsync for many requests) and only
then releases the requests' 202 answers. If a batch fails, its items are retried
one by one, so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from warroom import seam
from warroom.alerts import changes, integrations, repeats
from warroom.alerts.events import HeartbeatAlertReceived
from warroom.alerts.models import Integration
from warroom.alerts.parsers import ChangePayload, NormalizedEvent
from warroom.core.clock import Clock
from warroom.db.session import Database

log = logging.getLogger("warroom.ingest")
KEY_CACHE_SECONDS = 5.0
# PostgreSQL: new alerts after which the writer refreshes the planner's statistics of
# the alerts table (and at least as many as the table held at the last refresh).
ANALYZE_AFTER = 1000
# How often an item is tried when it meets a concurrent writer on the same keys.
CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class IntegrationRef:
    id: int
    name: str
    kind: str
    service_id: int | None
    hmac_secret: str | None
    mapping: dict[str, Any]
    rate_per_minute: int | None
    heartbeat_alert: str | None = None  # the always-firing alert that is a ping


@dataclass
class _Item:
    integration_id: int
    events: list[NormalizedEvent] = field(default_factory=list)
    change: ChangePayload | None = None
    future: asyncio.Future[Any] | None = None
    incident_refs: bool = True
    heartbeat: bool = False  # the request carried the integration's heartbeat alert


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
    """Group commit on the event loop's own thread.

    The writer is an asyncio task, not a thread: a database thread competing with the
    busy event loop for the GIL would wait a switch interval after every statement
    (a convoy that made batches 20x slower). Each batch blocks the loop for the few
    milliseconds of its transaction, during which new requests queue up and form the
    next batch.
    """

    def __init__(
        self, db: Database, clock: Clock, max_batch: int = 512, analyze_after: int = ANALYZE_AFTER
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self.analyze_after = analyze_after
        self._created = 0
        self._rows_at_analyze = 0
        self._analyzing: asyncio.Future[None] | None = None
        self.limiter = RateLimiter()
        self._keys: dict[str, tuple[float, IntegrationRef | None]] = {}
        # One writer per event loop (a test may serve the same app from two loops).
        self._writers: dict[asyncio.AbstractEventLoop, _Writer] = {}

    def cached(self, key: str) -> tuple[bool, IntegrationRef | None]:
        hit = self._keys.get(key)
        if hit and time.monotonic() - hit[0] < KEY_CACHE_SECONDS:
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> IntegrationRef | None:
        found, ref = self.cached(key)
        if found:
            return ref
        with self.db.read() as s:
            row = integrations.integration_by_key(s, key)
            ref = _ref(row) if row else None
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[key] = (time.monotonic(), ref)
        return ref

    def forget_keys(self) -> None:
        self._keys.clear()

    async def submit(
        self,
        ref: IntegrationRef,
        events: list[NormalizedEvent] | None = None,
        change: ChangePayload | None = None,
        incident_refs: bool = True,
        heartbeat: bool = False,
    ) -> Any:
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None or writer.task.done():
            q: asyncio.Queue[_Item] = asyncio.Queue()
            writer = _Writer(q)
            writer.task = loop.create_task(self._run(writer))
            self._writers[loop] = writer
        future: asyncio.Future[Any] = loop.create_future()
        writer.queue.put_nowait(
            _Item(ref.id, events or [], change, future, incident_refs, heartbeat)
        )
        return await future

    async def close(self) -> None:
        """Finishes what is queued on this loop, then stops its writer task."""
        writer = self._writers.pop(asyncio.get_running_loop(), None)
        if writer is None:
            return
        if not writer.task.done():
            writer.queue.put_nowait(_STOP)
            await writer.task
        writer.close()
        analyzing = self._analyzing
        if analyzing is not None and analyzing.get_loop() is asyncio.get_running_loop():
            await analyzing

    async def _run(self, writer: _Writer) -> None:
        q = writer.queue
        while True:
            first = await q.get()
            if first is _STOP:
                return
            # Let requests that are already readable join this batch.
            await asyncio.sleep(0)
            batch = [first]
            stop = False
            while len(batch) < self.max_batch and not q.empty():
                nxt = q.get_nowait()
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch, writer)
            if stop:
                return

    def _commit(self, batch: list[_Item], writer: _Writer) -> None:
        bumped = self._bump_first(batch, writer) if self.db.dialect == "postgresql" else None
        try:
            results = self._apply(batch, bumped)
        except Exception as exc:
            if _conflict(exc):
                log.info("ingest batch of %d met a concurrent writer; retrying", len(batch))
            else:
                log.exception("ingest batch of %d failed; retrying one by one", len(batch))
            for item in batch:
                try:
                    (result,) = self._apply_retrying([item], bumped)
                    _settle(item, result=result)
                except Exception as exc:
                    _settle(item, error=exc)
            return
        for item, result in zip(batch, results, strict=True):
            _settle(item, result=result)
        if self.db.dialect == "postgresql":
            self._note_created(results)

    def _apply_retrying(
        self, batch: list[_Item], bumped: dict[int, repeats.Bumped] | None
    ) -> list[Any]:
        """`_apply`, again after a conflict with another writer on the same keys (another
        replica inserted the same new alert first, or the two deadlocked): by then the
        other transaction has ended, so the retry finds its alert and counts the event as
        a repeat. Other errors are not retried."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self._apply(batch, bumped)
            except Exception as exc:
                if not _conflict(exc) or attempt == CONFLICT_RETRIES - 1:
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    def _note_created(self, results: list[Any]) -> None:
        """PostgreSQL: a storm can grow the alerts table tenfold within autovacuum's
        minute between looks. Until its statistics catch up, the planner takes every
        integration for a small one and answers the dedup lookups of new alerts
        (`dedup_key IN (...)`) by reading all of the integration's alerts: about 2 ms
        per batch at 5,000 alerts, against 0.2 ms by the index. So the writer runs
        ANALYZE itself, in a worker thread, each time the table may have doubled."""
        self._created += sum(
            1
            for outcomes in results
            if isinstance(outcomes, list)
            for o in outcomes
            if o.action == "created"
        )
        if self._created < max(self.analyze_after, self._rows_at_analyze) or (
            self._analyzing is not None and not self._analyzing.done()
        ):
            return
        self._created = 0
        self._analyzing = asyncio.get_running_loop().run_in_executor(None, self._analyze)

    def _analyze(self) -> None:
        try:
            with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("ANALYZE alerts")
                rows = c.exec_driver_sql(
                    "SELECT reltuples FROM pg_class WHERE oid = 'alerts'::regclass"
                ).scalar()
            self._rows_at_analyze = int(rows or 0)
        except Exception:
            log.exception("ANALYZE alerts failed; leaving statistics to autovacuum")
            self.analyze_after = 2**62

    def _bump_first(self, batch: list[_Item], writer: _Writer) -> dict[int, repeats.Bumped]:
        """PostgreSQL: the batch's repeats of open alerts, one statement per integration,
        each committed on its own (autocommit) on a connection the writer keeps. For a
        batch of repeats only, the usual storm, that is one round trip in all, where a
        transaction takes a pool checkout with its ping, BEGIN, the statement and
        COMMIT."""
        events_of: dict[int, list[NormalizedEvent]] = {}
        for item in batch:
            if item.change is None:
                events_of.setdefault(item.integration_id, []).extend(item.events)
        now = self.clock.now()
        bumped: dict[int, repeats.Bumped] = {}
        if not events_of:
            return bumped
        try:
            conn = writer.connection(self.db)
            for integ_id, events in events_of.items():
                bumped[integ_id] = repeats.bump_open(
                    conn, integ_id, repeats.repeat_rows(events), now
                )
                conn.commit()  # ends SQLAlchemy's transaction; autocommit sends nothing
        except Exception:
            # The integrations not bumped have no entry: their repeats go the long way.
            log.exception("bumping the repeats of a batch failed; the transaction does it")
            writer.close()
        return bumped

    def _apply(
        self, batch: list[_Item], bumped: dict[int, repeats.Bumped] | None = None
    ) -> list[Any]:
        """One transaction for the batch, and one `ingest` call per integration: the
        events of all its requests are applied together (in arrival order), and each
        request gets back the outcomes of its own events."""
        results: list[Any] = [None] * len(batch)
        with self.db.session() as s:
            integrations: dict[int, Integration] = {}

            def integration(integ_id: int) -> Integration:
                """Loaded at most once per batch, and only when needed: repeats of
                open alerts go by the integration's id alone."""
                integ = integrations.get(integ_id) or s.get(Integration, integ_id)
                if integ is None:
                    raise LookupError("the integration was deleted")
                integrations[integ_id] = integ
                return integ

            alerts_of: dict[int, list[int]] = {}
            beats: set[int] = set()
            for i, item in enumerate(batch):
                if item.heartbeat:
                    beats.add(item.integration_id)
                if item.change is not None:
                    integ = integration(item.integration_id)
                    row = changes.record_change(
                        s,
                        self.clock,
                        change=item.change,
                        recorded_by=f"integration:{integ.name}",
                        service_id=integ.service_id,
                        integration_id=integ.id,
                    )
                    results[i] = row.id
                elif not item.events:
                    results[i] = []
                else:
                    alerts_of.setdefault(item.integration_id, []).append(i)
            # One ping per integration and batch, however many notifications carried it.
            for integ_id in sorted(beats):
                integ = integration(integ_id)
                if integ.heartbeat_monitor:
                    seam.publish(
                        s,
                        self.clock,
                        HeartbeatAlertReceived(
                            at=self.clock.now(),
                            integration_id=integ_id,
                            monitor=integ.heartbeat_monitor,
                        ),
                    )
            for integ_id, indexes in alerts_of.items():
                events = [ev for i in indexes for ev in batch[i].events]
                refs = any(batch[i].incident_refs for i in indexes)
                outcomes = repeats.ingest(
                    s,
                    self.clock,
                    integ_id,
                    events,
                    partial(integration, integ_id),
                    incident_refs=refs,
                    bumped=None if bumped is None else bumped.get(integ_id, {}),
                )
                at = 0
                for i in indexes:
                    n = len(batch[i].events)
                    results[i] = outcomes[at : at + n]
                    at += n
        return results


def _conflict(exc: BaseException) -> bool:
    """A unique violation on the open-alert key, a deadlock or a serialization failure:
    what two writers on the same keys at once run into, and a retry resolves."""
    if isinstance(exc, IntegrityError):
        return "uq_alerts_open_dedup" in str(exc.orig) or "UNIQUE constraint" in str(exc.orig)
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in ("40P01", "40001")
    return False


def _settle(item: _Item, result: Any = None, error: BaseException | None = None) -> None:
    if item.future is None or item.future.done():
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(result)


_STOP = _Item(integration_id=-1)


@dataclass
class _Writer:
    """One event loop's writer: its queue, its task and, on PostgreSQL, the connection
    it keeps for the repeats."""

    queue: asyncio.Queue[_Item]
    task: asyncio.Task[None] = field(init=False)
    conn: Connection | None = None

    def connection(self, db: Database) -> Connection:
        if self.conn is None:
            self.conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                conn.close()
            except Exception:
                log.exception("closing the writer's connection failed")


def _ref(row: Integration) -> IntegrationRef:
    return IntegrationRef(
        id=row.id,
        name=row.name,
        kind=row.kind,
        service_id=row.service_id,
        hmac_secret=row.hmac_secret,
        mapping=dict(row.mapping or {}),
        rate_per_minute=row.rate_per_minute,
        heartbeat_alert=row.heartbeat_alert if row.heartbeat_monitor else None,
    )
