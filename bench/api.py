#!/usr/bin/env python
"""End-to-end API benchmark for warroom, against a real `warroom serve` process.

For each store (SQLite file, PostgreSQL database `warroom_bench`):

  1. start `warroom serve --no-engine` on a free 127.0.0.1 port against a fresh store and
     read the first-run admin token it prints;
  2. declare --incidents incidents and log --events timeline events on each over HTTP with
     --workers concurrent clients (ops/s for declare, events and both together);
  3. fill the store to --list-size incidents with SQLAlchemy Core bulk inserts (history:
     mostly closed/resolved, some private, all severities, services, commanders,
     participants and a couple of timeline events each);
  4. measure GET /api/v1/incidents latency (sequential, after a warm-up) for several
     query shapes, as the admin and as a non-admin responder;
  5. stop the server and print a summary for all stores plus machine information.

Only 127.0.0.1 is contacted; the run stops by itself. See bench/README.md.

    python bench/api.py [--store sqlite|postgresql|both] [--incidents 1000] [--events 10]
                        [--list-size 100000] [--list-requests 500]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Table, create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
try:
    import warroom  # noqa: F401  (installed, or on PYTHONPATH: a patched copy wins)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from warroom.incidents.models import (  # noqa: E402
    Incident,
    IncidentParticipant,
    IncidentService,
    RoleAssignment,
    TimelineEvent,
)
from warroom.org.models import Service, User  # noqa: E402

HOST = "127.0.0.1"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
PG_DB = "warroom_bench"
TOKEN_RE = re.compile(r"CLI:\s+export WARROOM_URL=(\S+)\s+WARROOM_TOKEN=(\S+)")
SEVERITIES = ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
SEV_WEIGHTS = [3, 12, 35, 50]  # percent of incidents
# History is mostly finished work; a small share is still open.
HIST_STATUSES = ["investigating", "identified", "monitoring", "resolved", "closed"]
HIST_STATUS_WEIGHTS = [1.0, 0.5, 0.5, 8.0, 90.0]
PRIVATE_SHARE = 0.05
DETECTION = ["automated_alert", "synthetic", "internal_report", "customer_report", "other"]
DETECTION_WEIGHTS = [55, 10, 20, 10, 5]
EVENT_KINDS = ["note", "decision", "action", "communication"]
BENCH_USER = "bench-responder"

# Organisation loaded through POST /api/v1/config/apply before the write phase.
ORG_CONFIG: dict[str, Any] = {
    "teams": [
        {"name": "payments", "description": "Checkout and payments", "channel": "#team-payments"},
        {"name": "platform", "description": "Databases, queues, deploys", "channel": "#platform"},
        {"name": "discovery", "description": "Search", "channel": "#team-discovery"},
    ],
    "users": [
        {"name": n, "email": f"{n}@bench.example", "full_name": n.title(), "role": "responder"}
        for n in ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
    ],
    "services": [
        {"name": "checkout", "owner": "payments", "tier": 1},
        {"name": "payments-api", "owner": "payments", "tier": 1},
        {"name": "search", "owner": "discovery", "tier": 2},
        {"name": "notifications", "owner": "platform", "tier": 3},
        {"name": "postgres-main", "owner": "platform", "tier": 1},
        {"name": "kafka", "owner": "platform", "tier": 1},
        {"name": "cdn", "owner": "platform", "tier": 2},
        {"name": "auth", "owner": "platform", "tier": 1},
    ],
}
SERVICE_NAMES = [s["name"] for s in ORG_CONFIG["services"]]
USER_NAMES = [u["name"] for u in ORG_CONFIG["users"]]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def encode_cursor(last_id: int) -> str:
    # Same format as warroom.core.pagination.encode_cursor (opaque to API clients).
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


class Progress:
    """A single self-updating line on stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.lock = threading.Lock()
        self.tty = sys.stderr.isatty()

    def tick(self, n: int = 1) -> None:
        with self.lock:
            self.done += n
            now = time.perf_counter()
            if now - self.last < (0.25 if self.tty else 5.0) and self.done < self.total:
                return
            self.last = now
            rate = self.done / max(now - self.t0, 1e-9)
            line = f"  {self.label}: {self.done}/{self.total} ({rate:,.0f}/s)"
            if self.tty:
                sys.stderr.write("\r" + line + "   ")
                if self.done >= self.total:
                    sys.stderr.write("\n")
            else:
                sys.stderr.write(line + "\n")
            sys.stderr.flush()


# --- the server process ---------------------------------------------------------------


class Server:
    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.admin_token = ""
        self.output: list[str] = []
        self.log_path = workdir / "server.log"

    def command(self) -> list[str]:
        exe = Path(sys.executable).with_name("warroom")
        if not exe.exists():
            found = shutil.which("warroom")
            exe = Path(found) if found else None  # type: ignore[assignment]
        base = [str(exe)] if exe else [sys.executable, "-m", "warroom.cli.main"]
        return [*base, "serve", "--no-engine", "--host", HOST, "--port", str(self.port)]

    def start(self, timeout: float = 90.0) -> None:
        env = dict(os.environ, WARROOM_DATABASE_URL=self.database_url, PYTHONUNBUFFERED="1")
        env.pop("WARROOM_URL", None)
        env.pop("WARROOM_TOKEN", None)
        self._log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            self.command(),
            env=env,
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._drain, args=(ready,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    "server did not start:\n" + "".join(self.output) + self.log_path.read_text()
                )
        if not self.admin_token:
            self.stop()
            raise RuntimeError("no first-run admin token printed:\n" + "".join(self.output))
        with httpx.Client(base_url=self.url, trust_env=False, timeout=5) as c:
            while True:
                try:
                    if c.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("server never answered /healthz")
                time.sleep(0.1)

    def _drain(self, ready: threading.Event) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.output.append(line)
            m = TOKEN_RE.search(line)
            if m:
                self.admin_token = m.group(2)
            if line.startswith("Serving on"):
                ready.set()
        ready.set()

    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn: graceful shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._log.close()
        return self.proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def server_cpu_seconds(pid: int | None) -> float | None:
    """utime+stime of the server process (Linux), to show how busy it was."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# --- results --------------------------------------------------------------------------


@dataclass
class Latency:
    name: str
    path: str
    ms: list[float]
    items: int
    server_cpu_ms: float = float("nan")  # server process CPU per request (load-independent)

    def summary(self) -> dict[str, float]:
        return {
            "n": len(self.ms),
            "p50": pct(self.ms, 50),
            "p95": pct(self.ms, 95),
            "p99": pct(self.ms, 99),
            "max": max(self.ms) if self.ms else float("nan"),
            "mean": statistics.fmean(self.ms) if self.ms else float("nan"),
            "server_cpu_ms": self.server_cpu_ms,
        }


@dataclass
class StoreResult:
    store: str
    url: str
    write: dict[str, float] = field(default_factory=dict)
    fill: dict[str, float] = field(default_factory=dict)
    lists: list[Latency] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load: dict[str, str] = field(default_factory=dict)


# --- phase 2: concurrent writes -------------------------------------------------------


def run_concurrent(
    client: httpx.Client,
    label: str,
    calls: list[tuple[str, dict[str, Any]]],
    workers: int,
    expect: int,
) -> tuple[float, list[float], list[Any], list[str]]:
    """POSTs every (path, body) with `workers` threads; returns wall seconds, per-request
    ms, JSON bodies (in call order) and error strings."""
    prog = Progress(label, len(calls))
    results: list[Any] = [None] * len(calls)
    lat: list[float] = [0.0] * len(calls)
    errors: list[str] = []

    def one(i: int) -> None:
        path, body = calls[i]
        t = time.perf_counter()
        try:
            r = client.post(path, json=body)
        except httpx.HTTPError as exc:
            errors.append(f"{path}: {exc!r}")
            prog.tick()
            return
        lat[i] = (time.perf_counter() - t) * 1000
        if r.status_code != expect:
            errors.append(f"{path}: HTTP {r.status_code} {r.text[:200]}")
        else:
            results[i] = r.json()
        prog.tick()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for f in as_completed([pool.submit(one, i) for i in range(len(calls))]):
            f.result()
    wall = time.perf_counter() - t0
    return wall, lat, results, errors


def declare_bodies(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        body: dict[str, Any] = {
            "title": f"Bench incident {i + 1}: elevated error rate in " + rng.choice(SERVICE_NAMES),
            "severity": rng.choices(SEVERITIES, SEV_WEIGHTS)[0],
            "services": rng.sample(SERVICE_NAMES, rng.choice((1, 1, 2))),
            "impact_summary": "Some customers see errors at checkout.",
            "detection_source": rng.choices(DETECTION, DETECTION_WEIGHTS)[0],
            "customer_facing": rng.random() < 0.4,
            "private": rng.random() < PRIVATE_SHARE * 2,
        }
        if rng.random() < 0.3:
            body["commander"] = rng.choice(USER_NAMES)
        out.append(body)
    return out


def write_phase(
    server: Server, admin: httpx.Client, args: argparse.Namespace, res: StoreResult
) -> None:
    rng = random.Random(42)
    tok = admin.post("/api/v1/tokens", json={"role": "responder", "user": "admin", "name": "bench"})
    tok.raise_for_status()
    limits = httpx.Limits(max_connections=args.workers + 4, max_keepalive_connections=args.workers)
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {tok.json()['token']}"},
        trust_env=False,
        timeout=120,
        limits=limits,
    ) as client:
        n, e = args.incidents, args.events
        res.load["before_writes"] = loadavg()
        cpu0 = server_cpu_seconds(server.pid())
        calls = [("/api/v1/incidents", b) for b in declare_bodies(n, rng)]
        d_wall, d_lat, made, d_err = run_concurrent(client, "declare", calls, args.workers, 201)
        numbers = [m["number"] for m in made if m]
        ev_calls = []
        for k in range(e):  # round-robin over incidents: writers rarely share a row
            for num in numbers:
                ev_calls.append(
                    (
                        f"/api/v1/incidents/{num}/events",
                        {
                            "kind": EVENT_KINDS[(k + num) % len(EVENT_KINDS)],
                            "text": f"update {k + 1}: checked dashboards, error rate "
                            f"{rng.randint(1, 40)}%",
                        },
                    )
                )
        e_wall, e_lat, _, e_err = run_concurrent(client, "events", ev_calls, args.workers, 201)
        cpu1 = server_cpu_seconds(server.pid())
        res.load["after_writes"] = loadavg()
    for label, errs in (("declare", d_err), ("events", e_err)):
        if errs:
            res.notes.append(f"{len(errs)} {label} errors, first: {errs[0]}")
            log(f"  !! {len(errs)} {label} errors, first: {errs[0]}")
    ok_d, ok_e = n - len(d_err), len(ev_calls) - len(e_err)
    res.write = {
        "workers": args.workers,
        "declares": ok_d,
        "declare_s": d_wall,
        "declare_ops": ok_d / d_wall,
        "declare_p50": pct([x for x in d_lat if x], 50),
        "declare_p99": pct([x for x in d_lat if x], 99),
        "events": ok_e,
        "event_s": e_wall,
        "event_ops": ok_e / e_wall if e_wall else 0.0,
        "event_p50": pct([x for x in e_lat if x], 50),
        "event_p99": pct([x for x in e_lat if x], 99),
        "combined_ops": (ok_d + ok_e) / (d_wall + e_wall),
        "server_cpu_s": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else -1,
    }
    w = res.write
    log(
        f"  declare {w['declare_ops']:.1f} ops/s, events {w['event_ops']:.1f} ops/s, "
        f"combined {w['combined_ops']:.1f} ops/s"
    )


# --- phase 3: bulk fill ---------------------------------------------------------------


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def table_of(model: Any) -> Table:
    table: Table = model.__table__
    return table


def fill_phase(engine: Engine, args: argparse.Namespace, res: StoreResult) -> int:
    """Bulk-inserts history until the store holds args.list_size incidents.
    Returns the id of the bench user (a non-admin participant of some incidents)."""
    rng = random.Random(7)
    inc_t = table_of(Incident)
    with engine.connect() as conn:
        have = conn.scalar(select(func.count()).select_from(inc_t)) or 0
        start_id = (conn.scalar(select(func.max(inc_t.c.id))) or 0) + 1
        users = dict(conn.execute(select(User.name, User.id)).all())
        services = dict(conn.execute(select(Service.name, Service.id)).all())
    bench_uid = users[BENCH_USER]
    people = [users[n] for n in USER_NAMES] + [users["admin"]]
    svc_ids = list(services.values())
    todo = max(0, args.list_size - have)
    res.fill = {"existing": have, "inserted": 0, "seconds": 0.0, "rows_per_s": 0.0}
    if todo == 0:
        return bench_uid
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=3 * 365).total_seconds()
    prog = Progress("fill", todo)
    t0 = time.perf_counter()
    total_rows = 0
    batch = args.fill_batch
    for lo in range(0, todo, batch):
        ids = range(start_id + lo, start_id + min(lo + batch, todo))
        incs, evs, links, parts, roles = [], [], [], [], []
        for i in ids:
            # Older history gets lower ids: spread over the last three years.
            frac = (i - start_id) / max(todo, 1)
            declared = now - timedelta(seconds=span * (1 - frac) + 3600)
            status = rng.choices(HIST_STATUSES, HIST_STATUS_WEIGHTS)[0]
            done = status in ("resolved", "closed")
            sev = rng.choices(SEVERITIES, SEV_WEIGHTS)[0]
            private = rng.random() < PRIVATE_SHARE
            creator = rng.choice(people)
            svc = rng.choice(SERVICE_NAMES)
            title = f"{svc} {rng.choice(('latency', 'errors', 'outage', 'degraded'))} #{i}"
            resolved = declared + timedelta(minutes=rng.randint(10, 600)) if done else None
            incs.append(
                {
                    "id": i,
                    "title": title,
                    "severity": sev,
                    "status": status,
                    "impact_summary": "Customers affected; see timeline.",
                    "resolution_summary": "Rolled back the change." if done else "",
                    "detection_source": rng.choices(DETECTION, DETECTION_WEIGHTS)[0],
                    "customer_facing": rng.random() < 0.4,
                    "private": private,
                    "drill": rng.random() < 0.02,
                    "channel": f"#inc-{declared:%Y-%m-%d}-{svc}-{i}",
                    "bridge_url": "",
                    "created_by_id": creator,
                    "started_at": declared - timedelta(minutes=5),
                    "detected_at": declared - timedelta(minutes=2),
                    "acknowledged_at": declared + timedelta(minutes=3),
                    "declared_at": declared,
                    "ic_assigned_at": declared + timedelta(minutes=4),
                    "mitigated_at": resolved,
                    "resolved_at": resolved,
                    "closed_at": (
                        resolved + timedelta(days=2) if resolved and status == "closed" else None
                    ),
                    "updated_at": resolved or declared,
                }
            )
            for sid in rng.sample(svc_ids, rng.choice((1, 1, 1, 2))):
                links.append({"incident_id": i, "service_id": sid})
            members = {creator}
            if rng.random() < 0.85:
                ic = rng.choice(people)
                members.add(ic)
                roles.append(
                    {
                        "incident_id": i,
                        "role": "commander",
                        "user_id": ic,
                        "assigned_by_id": creator,
                        "assigned_at": declared + timedelta(minutes=4),
                        "ended_at": None,
                    }
                )
            if rng.random() < 0.02:  # the bench user took part in ~2% of incidents
                members.add(bench_uid)
            for uid in members:
                parts.append({"incident_id": i, "user_id": uid})
            for k in range(args.fill_events):
                evs.append(
                    {
                        "incident_id": i,
                        "at": declared + timedelta(minutes=k),
                        "kind": "status" if k == 0 else "note",
                        "actor_id": creator,
                        "actor": "history",
                        "role": None,
                        "text": f"Declared {sev}: {title}" if k == 0 else f"note {k}",
                        "data": {"status": "investigating", "severity": sev} if k == 0 else {},
                        "corrects_id": None,
                    }
                )
        with engine.begin() as conn:
            conn.execute(inc_t.insert(), incs)
            conn.execute(table_of(IncidentService).insert(), links)
            conn.execute(table_of(IncidentParticipant).insert(), parts)
            if roles:
                conn.execute(table_of(RoleAssignment).insert(), roles)
            if evs:
                conn.execute(table_of(TimelineEvent).insert(), evs)
        total_rows += len(incs) + len(links) + len(parts) + len(roles) + len(evs)
        prog.tick(len(incs))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # Explicit ids were inserted: move the serial past them for later declares.
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('incidents', 'id'), "
                    "(SELECT max(id) FROM incidents))"
                )
            )
    seconds = time.perf_counter() - t0
    res.fill.update(
        inserted=todo,
        seconds=seconds,
        rows_per_s=total_rows / seconds,
        incidents_per_s=todo / seconds,
        all_rows=total_rows,
    )
    log(f"  filled {todo:,} incidents ({total_rows:,} rows) in {seconds:.1f} s")
    analyze(engine, args, res)
    return bench_uid


def analyze(engine: Engine, args: argparse.Namespace, res: StoreResult) -> None:
    """PostgreSQL: autovacuum would analyze a table this size within a minute, so do it now
    for repeatable plans. SQLite: warroom never runs ANALYZE, so by default neither do we."""
    dialect = engine.dialect.name
    if dialect == "postgresql" and args.pg_analyze:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        res.notes.append("ran VACUUM ANALYZE after the fill (as autovacuum would)")
    if dialect == "sqlite" and args.sqlite_analyze:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        res.notes.append("ran ANALYZE after the fill (--sqlite-analyze)")
    # Settle: flush the bulk load to the main files so the timed reads do not race a
    # checkpoint triggered by it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if dialect == "postgresql":
            conn.execute(text("CHECKPOINT"))
        else:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


# --- phase 4: list latency ------------------------------------------------------------


def measure_list(
    client: httpx.Client, name: str, path: str, requests: int, warmup: int, pid: int | None
) -> Latency:
    for _ in range(warmup):
        client.get(path).raise_for_status()
    cpu0 = server_cpu_seconds(pid)
    ms: list[float] = []
    items = -1
    prog = Progress(name, requests)
    for _ in range(requests):
        t = time.perf_counter()
        r = client.get(path)
        ms.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {r.status_code} {r.text[:300]}")
        if items < 0:
            items = len(r.json()["items"])
        prog.tick()
    cpu1 = server_cpu_seconds(pid)
    lat = Latency(name, path, ms, items)
    if cpu0 is not None and cpu1 is not None:
        lat.server_cpu_ms = (cpu1 - cpu0) * 1000 / requests
    s = lat.summary()
    log(
        f"  {name:<34} p50 {s['p50']:6.1f}  p95 {s['p95']:6.1f}  p99 {s['p99']:6.1f}  "
        f"max {s['max']:6.1f} ms  server CPU {lat.server_cpu_ms:5.1f} ms/req  ({items} items)"
    )
    return lat


def list_phase(
    server: Server,
    admin: httpx.Client,
    responder_token: str,
    args: argparse.Namespace,
    res: StoreResult,
) -> None:
    deep_id = max(2, args.list_size // 20)  # ~95% of the way down the newest-first list
    deep = f"/api/v1/incidents?cursor={encode_cursor(deep_id)}"
    # A real cursor, from paging, must give the same answer shape.
    first = admin.get("/api/v1/incidents").json()
    assert first["next_cursor"], "expected more than one page"
    scenarios: list[tuple[str, str]] = [
        ("admin default", "/api/v1/incidents"),
        ("admin ?status=investigating", "/api/v1/incidents?status=investigating"),
        ("admin ?severity=SEV-1", "/api/v1/incidents?severity=SEV-1"),
        ("admin ?active=true", "/api/v1/incidents?active=true"),
        (f"admin deep cursor (<{deep_id})", deep),
        ("admin limit=500", "/api/v1/incidents?limit=500"),
        ("responder default", "/api/v1/incidents"),
        ("responder ?status=investigating", "/api/v1/incidents?status=investigating"),
        ("responder ?severity=SEV-1", "/api/v1/incidents?severity=SEV-1"),
        (f"responder deep cursor (<{deep_id})", deep),
    ]
    if args.quick_lists:
        scenarios = [s for s in scenarios if "limit=500" not in s[0]]
    res.load["before_lists"] = loadavg()
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {responder_token}"},
        trust_env=False,
        timeout=60,
    ) as responder:
        for name, path in scenarios:
            client = responder if name.startswith("responder") else admin
            n = args.list_requests if "limit=500" not in name else max(50, args.list_requests // 5)
            res.lists.append(measure_list(client, name, path, n, args.warmup, server.pid()))
    res.load["after_lists"] = loadavg()


# --- one store ------------------------------------------------------------------------


def prepare_store(store: str, args: argparse.Namespace, workdir: Path) -> str:
    if store == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    base = make_url(args.pg_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    return base.set(database=PG_DB).render_as_string(hide_password=False)


def drop_store(store: str, url: str, args: argparse.Namespace) -> None:
    if store == "postgresql":
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        admin.dispose()


def bench_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 60})
    return create_engine(url)


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> StoreResult:
    log(f"\n=== {store} ===")
    url = prepare_store(store, args, workdir)
    res = StoreResult(store=store, url=make_url(url).render_as_string(hide_password=True))
    server = Server(url, workdir)
    engine = bench_engine(url)
    try:
        t = time.perf_counter()
        server.start()
        log(f"  server pid {server.pid()} on {server.url} ready in {time.perf_counter() - t:.1f}s")
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            trust_env=False,
            timeout=60,
        ) as admin:
            r = admin.post("/api/v1/config/apply", json={"config": ORG_CONFIG})
            r.raise_for_status()
            r = admin.post(
                "/api/v1/users",
                json={"name": BENCH_USER, "email": "bench@bench.example", "role": "responder"},
            )
            r.raise_for_status()
            r = admin.post("/api/v1/tokens", json={"role": "responder", "user": BENCH_USER})
            r.raise_for_status()
            responder_token = r.json()["token"]

            log(
                f"  writes: {args.incidents} declares x {args.events} events, "
                f"{args.workers} workers"
            )
            write_phase(server, admin, args, res)
            fill_phase(engine, args, res)
            list_phase(server, admin, responder_token, args, res)
    finally:
        engine.dispose()
        rc = server.stop()
        log(f"  server stopped (exit {rc}); log: {server.log_path}")
        if not args.keep:
            drop_store(store, url, args)
    return res


# --- reporting ------------------------------------------------------------------------


def machine_info(args: argparse.Namespace) -> dict[str, str]:
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "warroom": code_identity(),
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"),
        "cpu_count": str(os.cpu_count()),
        "loadavg": loadavg(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem"] = f"{int(line.split()[1]) // 1024} MiB"
                break
    except OSError:
        pass
    if args.store in ("postgresql", "both"):
        try:
            eng = create_engine(make_url(args.pg_url).set(database="postgres"))
            with eng.connect() as conn:
                info["postgresql"] = str(conn.scalar(text("SHOW server_version")))
            eng.dispose()
        except Exception as exc:  # noqa: BLE001  (informational only)
            info["postgresql"] = f"unavailable ({exc.__class__.__name__})"
    return info


def code_identity() -> str:
    """Which warroom the server will import (PYTHONPATH may point at a patched copy)."""
    try:
        where = subprocess.run(
            [sys.executable, "-c", "import warroom, os; print(os.path.dirname(warroom.__file__))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd="/",
        ).stdout.strip()
        rev = subprocess.run(
            ["git", "-C", where, "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        return f"{where} ({rev or 'not a git checkout'})"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def report(results: list[StoreResult], info: dict[str, str], args: argparse.Namespace) -> None:
    stores = [r.store for r in results]
    print()
    print("warroom API benchmark")
    print(
        f"machine: nproc={info['nproc']} cpu={info.get('cpu', '?')} mem={info.get('mem', '?')}"
        f"  python {info['python']}, sqlite {info['sqlite']}, "
        f"postgresql {info.get('postgresql', '-')}"
    )
    print(f"code: {info['warroom']}")
    print(f"load average at start: {info['loadavg']}   at end: {loadavg()}")
    print(
        f"workload: {args.incidents} declares x {args.events} events ({args.workers} workers), "
        f"list at {args.list_size:,} incidents, {args.list_requests} sequential GETs each"
    )
    print()
    f1 = lambda v: f"{v:,.1f}"  # noqa: E731
    rows = [
        ["declare ops/s"] + [f1(r.write["declare_ops"]) for r in results],
        ["declare p50/p99 ms"]
        + [f"{r.write['declare_p50']:.0f}/{r.write['declare_p99']:.0f}" for r in results],
        ["event ops/s"] + [f1(r.write["event_ops"]) for r in results],
        ["event p50/p99 ms"]
        + [f"{r.write['event_p50']:.0f}/{r.write['event_p99']:.0f}" for r in results],
        ["combined ops/s"] + [f1(r.write["combined_ops"]) for r in results],
        ["server CPU s (writes)"] + [f1(r.write["server_cpu_s"]) for r in results],
        ["fill incidents/s"] + [f"{r.fill.get('incidents_per_s', 0):,.0f}" for r in results],
        ["fill rows/s"] + [f"{r.fill.get('rows_per_s', 0):,.0f}" for r in results],
    ]
    print(table(["writes"] + stores, rows))
    print()
    keys = ("p50", "p95", "p99", "max", "server_cpu_ms")
    short = {"server_cpu_ms": "cpu"}
    headers = ["GET /api/v1/incidents (ms)"] + [
        f"{s[:2] if len(stores) > 1 else s} {short.get(k, k)}" for s in stores for k in keys
    ]
    rows = []
    for i, lat in enumerate(results[0].lists):
        row = [lat.name]
        for r in results:
            s = r.lists[i].summary() if i < len(r.lists) else {}
            row += [f"{s.get(k, float('nan')):.1f}" for k in keys]
        rows.append(row)
    print(table(headers, rows))
    print("(sq = sqlite, po = postgresql; cpu = server process CPU ms per request, which the")
    print(" load from other processes does not inflate; p50..max are client wall-clock ms)")
    print()
    for r in results:
        # The target is for the default page size; limit=500 is shown for information.
        pages = [lat for lat in r.lists if "limit=500" not in lat.name]
        if not pages:
            continue
        worst = max(pages, key=lambda lat: lat.summary()["p99"])
        p99 = worst.summary()["p99"]
        verdict = "OK" if p99 < args.target_ms else "MISSED"
        print(
            f"target: list p99 < {args.target_ms:.0f} ms at {args.list_size:,} incidents "
            f"(limit 50): {r.store} worst p99 {p99:.1f} ms ({worst.name}) -> {verdict}"
        )
    for r in results:
        print(f"{r.store} load averages: " + ", ".join(f"{k} {v}" for k, v in r.load.items()))
        for note in r.notes:
            print(f"{r.store} note: {note}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--incidents", type=int, default=1000, help="incidents declared over HTTP")
    p.add_argument("--events", type=int, default=10, help="timeline events per declared incident")
    p.add_argument("--workers", type=int, default=8, help="concurrent HTTP clients for writes")
    p.add_argument("--list-size", type=int, default=100_000, help="incidents in the store")
    p.add_argument("--list-requests", type=int, default=500, help="timed GETs per list shape")
    p.add_argument("--warmup", type=int, default=20, help="untimed GETs per list shape")
    p.add_argument("--fill-batch", type=int, default=5000)
    p.add_argument("--fill-events", type=int, default=2, help="timeline events per filled row")
    p.add_argument("--pg-url", default=DEFAULT_PG, help="server URL; database is warroom_bench")
    p.add_argument("--no-pg-analyze", dest="pg_analyze", action="store_false")
    p.add_argument("--sqlite-analyze", action="store_true", help="run ANALYZE after the fill")
    p.add_argument("--quick-lists", action="store_true", help="skip the limit=500 shape")
    p.add_argument("--target-ms", type=float, default=100.0)
    p.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    p.add_argument("--json", dest="json_out", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.list_size < args.incidents + 100:
        p.error("--list-size must exceed --incidents by at least 100")
    if args.store != "sqlite" and make_url(args.pg_url).host != HOST:
        p.error(f"--pg-url must point at {HOST}: this benchmark talks to 127.0.0.1 only")

    info = machine_info(args)
    log(f"nproc {info['nproc']}, load average {info['loadavg']}")
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    results = []
    try:
        for store in stores:
            results.append(run_store(store, args, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}" + (f" and database {PG_DB}" if "postgresql" in stores else ""))
    report(results, info, args)
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "machine": info,
                    "args": vars(args),
                    "results": [
                        {
                            "store": r.store,
                            "write": r.write,
                            "fill": r.fill,
                            "lists": {lat.name: lat.summary() for lat in r.lists},
                            "load": r.load,
                            "notes": r.notes,
                        }
                        for r in results
                    ],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
