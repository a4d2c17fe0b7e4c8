"""Heartbeat benchmark: 10,000 monitors with 1-minute intervals, the engine running, a
share of them missing their beat; how late their deadlines fire.

    python bench/heartbeats.py [--store sqlite|postgresql|both] [--monitors 10000]
                               [--miss 0.1] [--interval 60] [--grace 30] [--spread 60]

For each store (a fresh SQLite file, or the PostgreSQL database `warroom_bench_heartbeats`
at 127.0.0.1, dropped at the end) it runs in one process, on real time:

1. migrates, configures one service with no escalation policy, and creates `--monitors`
   monitors through `heartbeats.service.create_monitor` (as `warroom apply` does: an
   internal integration, the monitor and its timer job each);
2. back-dates each monitor's interval so that the deadlines fall evenly over the next
   `--spread` seconds (about 10,000 a minute, as 1-minute monitors would), then starts
   the engine (`start_engine`, one state-changing thread, as `warroom serve` does);
3. pings every monitor but a `--miss` share shortly before its deadline, one ping per
   transaction through `heartbeats.service.ping` (the ping URL's own code path), from a
   pinger thread at the rate the deadlines fall due: each ping moves the timer in place;
4. waits until every missed monitor is down and reports, per missed deadline, how late it
   fired: the alert's first_seen (stamped by the engine's job) minus the deadline stored in
   the outage (p50, p99, max), how many pinged monitors went down (should be none), and
   the ping transaction's own p50/p99.

Prints its figures; the last recorded ones are in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest import pg_database  # noqa: E402

import warroom.tables  # noqa: E402, F401  (every table, for foreign keys)
from warroom.alerts.models import Alert  # noqa: E402
from warroom.config import service as config  # noqa: E402
from warroom.core.clock import SystemClock, ensure_utc  # noqa: E402
from warroom.engine.models import Job  # noqa: E402
from warroom.engine.worker import start_engine  # noqa: E402
from warroom.heartbeats import service  # noqa: E402
from warroom.heartbeats.models import Heartbeat, HeartbeatOutage  # noqa: E402
from warroom.runtime import open_store  # noqa: E402

PG_DB = "warroom_bench_heartbeats"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(store: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url = f"sqlite:///{workdir / 'hb.db'}" if store == "sqlite" else pg_database(PG_DB)
    clock = SystemClock()
    db, _ = open_store(url, clock)
    try:
        return _run(db, clock, store, args)
    finally:
        db.dispose()
        if store == "postgresql":
            pg_database(PG_DB, create=False)


def _run(db: Any, clock: SystemClock, store: str, args: argparse.Namespace) -> dict[str, Any]:
    with db.session() as s:
        config.apply(s, clock, {"teams": [{"name": "ops"}], "services": [{"name": "batch"}]})
    interval, grace = timedelta(seconds=args.interval), timedelta(seconds=args.grace)
    tokens: list[str] = []
    started = time.perf_counter()
    batch = 500
    for first in range(0, args.monitors, batch):
        with db.session() as s:
            for i in range(first, min(first + batch, args.monitors)):
                _, token = service.create_monitor(
                    s, clock, name=f"m{i:05d}", service="batch", interval=interval, grace=grace
                )
                tokens.append(token)
    log(f"{store}: {args.monitors} monitors created in {time.perf_counter() - started:.1f}s")

    # Deadlines evenly over the next --spread seconds, from a lead-in of 15 s.
    t0 = clock.now() + timedelta(seconds=15)
    period = interval + grace
    rng = random.Random(7)
    order = list(range(args.monitors))
    rng.shuffle(order)
    deadlines: dict[int, datetime] = {}
    with db.session() as s:
        rows = list(s.execute(select(Heartbeat.id, Heartbeat.name, Heartbeat.job_key)))
        by_name = {name: (hid, key) for hid, name, key in rows}
        for rank, i in enumerate(order):
            hid, key = by_name[f"m{i:05d}"]
            due = t0 + timedelta(seconds=args.spread * rank / args.monitors)
            deadlines[i] = due
            s.execute(update(Heartbeat).where(Heartbeat.id == hid).values(since=due - period))
            s.execute(update(Job).where(Job.key == key).values(due_at=due))
    missed = set(rng.sample(range(args.monitors), int(args.monitors * args.miss)))
    log(f"{store}: {len(missed)} of them will miss; deadlines from {t0:%H:%M:%S}")

    workers = start_engine(db, clock, poll_seconds=0.2, deliveries=1)
    ping_ms: list[float] = []
    stop = threading.Event()

    def pinger() -> None:
        # Each pinged monitor is pinged `--lead` seconds before its deadline.
        plan = sorted((deadlines[i] - timedelta(seconds=args.lead), i) for i in deadlines)
        for when, i in plan:
            if i in missed:
                continue
            wait = (when - clock.now()).total_seconds()
            if wait > 0 and stop.wait(wait):
                return
            t = time.perf_counter()
            with db.session() as s:
                assert service.ping(s, clock, tokens[i], "GET")
            ping_ms.append((time.perf_counter() - t) * 1000)

    thread = threading.Thread(target=pinger, daemon=True)
    thread.start()
    end_by = t0 + timedelta(seconds=args.spread + 60)
    down = 0
    while clock.now() < end_by:
        time.sleep(1)
        with db.read() as s:
            down = len(list(s.scalars(select(HeartbeatOutage.id))))
        if down >= len(missed) and clock.now() > t0 + timedelta(seconds=args.spread + 2):
            break
    stop.set()
    thread.join(timeout=10)
    for w in workers:
        w.stop()

    with db.read() as s:
        names = {hid: name for hid, name in s.execute(select(Heartbeat.id, Heartbeat.name))}
        integ = {hid: iid for hid, iid in s.execute(select(Heartbeat.id, Heartbeat.integration_id))}
        fired = {
            iid: ensure_utc(seen)
            for iid, seen in s.execute(
                select(Alert.integration_id, Alert.first_seen).where(
                    Alert.dedup_key.like("heartbeat:%")
                )
            )
        }
        outages = list(s.execute(select(HeartbeatOutage.heartbeat_id, HeartbeatOutage.started_at)))
    late: list[float] = []
    false_down = 0
    for hid, deadline in outages:
        i = int(names[hid][1:])
        if i not in missed:
            false_down += 1
            continue
        seen = fired.get(integ[hid])
        if seen is not None:
            late.append((seen - ensure_utc(deadline)).total_seconds())
    result = {
        "store": store,
        "monitors": args.monitors,
        "missed": len(missed),
        "fired": len(late),
        "false_down": false_down,
        "late_p50_s": pct(late, 50),
        "late_p99_s": pct(late, 99),
        "late_max_s": max(late) if late else float("nan"),
        "pings": len(ping_ms),
        "ping_p50_ms": pct(ping_ms, 50),
        "ping_p99_ms": pct(ping_ms, 99),
    }
    log(f"{store}: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--miss", type=float, default=0.1, help="share that never pings")
    parser.add_argument("--interval", type=int, default=60, help="seconds")
    parser.add_argument("--grace", type=int, default=30, help="seconds")
    parser.add_argument("--spread", type=int, default=60, help="seconds the deadlines span")
    parser.add_argument("--lead", type=float, default=20.0, help="ping this long before")
    args = parser.parse_args()
    stores = ("sqlite", "postgresql") if args.store == "both" else (args.store,)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for store in stores:
            results.append(run(store, args, Path(tmp)))
    print(f"nproc {os.cpu_count()}  load {os.getloadavg()}  at {datetime.now(UTC):%Y-%m-%d %H:%M}Z")
    print(
        f"{'store':<11} {'monitors':>8} {'missed':>6} {'fired':>6} {'false':>5} "
        f"{'late p50':>9} {'late p99':>9} {'late max':>9} {'pings':>6} {'ping p50':>9} "
        f"{'ping p99':>9}"
    )
    for r in results:
        print(
            f"{r['store']:<11} {r['monitors']:>8} {r['missed']:>6} {r['fired']:>6} "
            f"{r['false_down']:>5} {r['late_p50_s']:>8.3f}s {r['late_p99_s']:>8.3f}s "
            f"{r['late_max_s']:>8.3f}s {r['pings']:>6} {r['ping_p50_ms']:>7.2f}ms "
            f"{r['ping_p99_ms']:>7.2f}ms"
        )


if __name__ == "__main__":
    main()
