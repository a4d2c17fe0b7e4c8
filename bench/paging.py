"""Paging benchmark: from an alert's 202 to the page arriving at a local webhook
receiver, with 1,000 escalations open; and step deadlines with 10,000 escalations pending.

    python bench/paging.py [--store sqlite|postgresql|both] [--open 1000] [--alerts 300]
                           [--rate 10] [--pending 10000] [--spread 300]

It starts `warroom serve` (API and engine in one process, as a user runs it) on a fresh
store, configures a service whose escalation policy pages one person by webhook, and:

1. opens `--open` escalations (one alert -> one incident -> one page each) and waits
   until every page arrived;
2. sends `--alerts` more alerts at `--rate` per second and measures, per alert, the time
   from the 202 answer to the page reaching the receiver (p50, p99, max);
3. writes `--pending` more escalations whose first step is due at an instant spread over
   `--spread` seconds, and measures how late each step fires (the page's creation time
   in the store minus the step's deadline: p50, p99, max).

Talks to 127.0.0.1 only and stops by itself. Prints its figures; the last recorded ones
are in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from api import HOST, Progress, Server, loadavg, pct  # noqa: E402
from ingest import pg_database  # noqa: E402

import warroom.tables  # noqa: E402, F401  (every table, for foreign keys)
from warroom.core.clock import SystemClock, ensure_utc  # noqa: E402
from warroom.db.session import Database  # noqa: E402
from warroom.engine.models import Job  # noqa: E402
from warroom.paging import rules  # noqa: E402
from warroom.paging import service as paging  # noqa: E402
from warroom.paging.models import Escalation, Notification  # noqa: E402

PG_DB = "warroom_bench_paging"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Receiver:
    """A webhook receiver that notes when each page arrived (perf_counter)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Hook(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.perf_counter()
                data = json.loads(body)
                title = (data.get("incident") or {}).get("title") or ""
                with receiver.lock:
                    receiver.count += 1
                    receiver.arrived.setdefault(title, now)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Hook)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{HOST}:{self.server.server_address[1]}/page"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PagingServer(Server):
    """`warroom serve` with its engine."""

    def command(self) -> list[str]:
        return [c for c in super().command() if c != "--no-engine"]


def prepare(store: str, workdir: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{workdir / 'paging.db'}"
    return pg_database(PG_DB)


def drop(store: str) -> None:
    if store == "postgresql":
        pg_database(PG_DB, create=False)


def configure(api: httpx.Client, hook: str) -> str:
    doc = {
        "users": [
            {
                "name": "oncall",
                "email": "oncall@example.test",
                "contact_methods": [{"name": "hook", "kind": "webhook", "address": hook}],
            }
        ],
        "teams": [{"name": "payments", "members": ["oncall"]}],
        "services": [{"name": "checkout", "owner": "payments", "escalation_policy": "payments"}],
        # Pages go to whoever the schedule says is on call, as in real use: every step
        # expands the schedule at its instant.
        "schedules": [
            {
                "name": "payments",
                "team": "payments",
                "timezone": "Europe/Berlin",
                "layers": [
                    {
                        "name": "primary",
                        "members": ["oncall"],
                        "shift": "weekly",
                        "handoff": "Monday 10:00",
                        "start": "2026-01-05",
                    }
                ],
            }
        ],
        "escalation_policies": [
            {
                "name": "payments",
                "levels": [{"timeout_minutes": 60, "targets": [{"schedule": "payments"}]}],
            }
        ],
        "integrations": [{"name": "monitoring", "kind": "pagerduty", "service": "checkout"}],
        "alert_rules": [
            {
                "name": "everything",
                "service": "checkout",
                "severity": "SEV-2",
                "group_window_minutes": 0,  # every alert its own incident and page
                "flap_count": 0,
            }
        ],
    }
    r = api.post("/api/v1/config/apply", json={"config": doc})
    r.raise_for_status()
    return next(c["key"] for c in r.json()["changes"] if c.get("key"))


def alert(client: httpx.Client, key: str, name: str) -> float:
    r = client.post(
        "/v2/enqueue",
        json={
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": name,
            "payload": {"summary": name, "source": "bench", "severity": "critical"},
        },
    )
    if r.status_code != 202:
        raise RuntimeError(f"alert {name}: HTTP {r.status_code} {r.text}")
    return time.perf_counter()


def wait_for(check: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        pause.wait(0.1)


def open_phase(client: httpx.Client, key: str, recv: Receiver, n: int) -> None:
    bar = Progress("opening escalations", n)
    for i in range(n):
        alert(client, key, f"open-{i}")
        bar.tick()
    wait_for(lambda: recv.count >= n, f"{n} pages", 600)


def latency_phase(
    client: httpx.Client, key: str, recv: Receiver, n: int, rate: float
) -> list[float]:
    sent: dict[str, float] = {}
    bar = Progress("paced alerts", n)
    start = time.perf_counter()
    pause = threading.Event()
    for i in range(n):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            pause.wait(wait)
        name = f"lat-{i}"
        sent[name] = alert(client, key, name)
        bar.tick()
    wait_for(lambda: all(k in recv.arrived for k in sent), "the paced pages", 120)
    return [(recv.arrived[k] - t) * 1000 for k, t in sent.items()]


def pending_phase(url: str, n: int, spread: float) -> tuple[list[float], float]:
    db = Database(url)
    clock = SystemClock()
    plan = rules.Plan((rules.Level(60, (rules.Target("schedule", "payments"),)),))
    first_due = datetime.now(UTC) + timedelta(seconds=15 + n / 500)
    bar = Progress("writing pending escalations", n)
    ids: list[int] = []
    batch = 500
    for lo in range(0, n, batch):
        with db.session() as s:
            made = []
            for _ in range(lo, min(n, lo + batch)):
                made.append(paging.start(s, clock, plan=plan, policy=None, title="pending"))
            s.flush()
            index = {f"esc:{e.id}:0:0": lo + j for j, e in enumerate(made)}
            for job in s.scalars(select(Job).where(Job.key.in_(list(index)))):
                job.due_at = first_due + timedelta(seconds=spread * index[job.key] / n)
            ids.extend(e.id for e in made)
        bar.tick(len(made))
    last_due = first_due + timedelta(seconds=spread)
    log(f"  steps due from {first_due:%H:%M:%S} to {last_due:%H:%M:%S} UTC")
    lo_id, hi_id = min(ids), max(ids)

    def fired() -> int:
        with db.read() as s:
            return int(
                s.scalar(
                    select(text("count(*)"))
                    .select_from(Notification)
                    .where(Notification.escalation_id.between(lo_id, hi_id))
                )
                or 0
            )

    bar2 = Progress("steps fired", n)
    seen = 0
    deadline = time.monotonic() + spread + 600
    pause = threading.Event()
    while seen < n:
        now_seen = fired()
        if now_seen > seen:
            bar2.tick(now_seen - seen)
            seen = now_seen
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {seen} of {n} steps fired")
        pause.wait(1.0)
    with db.read() as s:
        due = {
            int(k.split(":")[1]): ensure_utc(d)
            for k, d in s.execute(
                select(Job.key, Job.due_at).where(
                    Job.kind == paging.STEP_JOB, Job.key.like("esc:%:0:0")
                )
            )
            if lo_id <= int(k.split(":")[1]) <= hi_id
        }
        late = [
            (ensure_utc(created) - due[eid]).total_seconds() * 1000
            for eid, created in s.execute(
                select(Notification.escalation_id, Notification.created_at).where(
                    Notification.escalation_id.between(lo_id, hi_id)
                )
            )
        ]
        states = dict(
            s.execute(
                select(Escalation.state, text("count(*)"))
                .where(Escalation.id.between(lo_id, hi_id))
                .group_by(Escalation.state)
            ).all()
        )
    db.dispose()
    log(f"  escalations by state: {states}")
    return late, spread


def fmt(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 50):,.1f} ms, p99 {pct(values, 99):,.1f} ms, "
        f"max {max(values):,.1f} ms (n={len(values):,})"
    )


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    log(f"== {store} ==")
    url = prepare(store, workdir)
    recv = Receiver()
    server = PagingServer(url, workdir)
    server.start()
    out: dict[str, Any] = {"store": store}
    try:
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            trust_env=False,
            timeout=30,
        ) as api:
            key = configure(api, recv.url)
            t0 = time.perf_counter()
            open_phase(api, key, recv, args.open)
            log(f"  {args.open} escalations open ({time.perf_counter() - t0:.1f} s)")
            lat = latency_phase(api, key, recv, args.alerts, args.rate)
            out["latency"] = fmt(lat)
            out["load_after_latency"] = loadavg()
            log(f"  alert 202 -> page at the receiver: {out['latency']}  (load {loadavg()})")
        late, spread = pending_phase(url, args.pending, args.spread)
        out["pending"] = fmt(late)
        out["within_1s"] = sum(1 for x in late if x <= 1000) / len(late)
        out["load_after_pending"] = loadavg()
        log(
            f"  {args.pending:,} pending, due over {spread:g} s: step lateness {out['pending']}, "
            f"{out['within_1s']:.2%} within 1 s  (load {loadavg()})"
        )
    finally:
        server.stop()
        recv.stop()
        drop(store)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--open", type=int, default=1000, help="escalations open during phase 2")
    p.add_argument("--alerts", type=int, default=300, help="paced alerts measured")
    p.add_argument("--rate", type=float, default=10.0, help="paced alerts per second")
    p.add_argument("--pending", type=int, default=10_000, help="pending escalations")
    p.add_argument("--spread", type=float, default=300.0, help="seconds their deadlines span")
    args = p.parse_args()
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    results = []
    with tempfile.TemporaryDirectory(prefix="warroom-bench-paging-") as tmp:
        for store in stores:
            d = Path(tmp) / store
            d.mkdir()
            results.append(run_store(store, args, d))
    print(f"\nwarroom paging benchmark, {os.cpu_count()} CPUs, load {loadavg()}")
    for r in results:
        print(f"{r['store']}:")
        print(f"  alert 202 -> page at receiver, {args.open:,} open: {r['latency']}")
        print(
            f"  {args.pending:,} pending over {args.spread:g} s: step lateness {r['pending']}; "
            f"{r['within_1s']:.2%} within 1 s"
        )


if __name__ == "__main__":
    main()
