"""Alert ingestion benchmark on the path of a real outage: `warroom serve --demo` (the
example organisation, with its engine), critical PagerDuty Events v2 alerts for a
service with an escalation policy opening one incident and piling into it (new dedup
keys, then repeats of 5,000 of them), the warning path (no incident) beside it, and
Prometheus Alertmanager's own intake in the same run; plus a kill -9 durability check
on the critical path.

    python bench/ingest.py [--store sqlite|postgresql|both] [--duration 10]
                           [--warmup 2] [--connections 32] [--keys 5000] [--rate 1000]
                           [--no-crash] [--no-engine]

Needs Debian's `wrk` and `prometheus-alertmanager` (installed with apt-get when run
as root). Talks to 127.0.0.1 only and stops by itself. Prints its figures; the last
recorded ones are in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import HOST, Server, free_port, loadavg  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "WARROOM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_DB = "warroom_bench_ingest"

PD_LUA = """
local counter = 0
local keys = {keys}
request = function()
  counter = counter + 1
  local k = (counter * 7919 + {seed}) % keys
  local body = string.format('{{"routing_key":"{key}","event_action":"trigger","dedup_key":"bench-%d","payload":{{"summary":"Disk almost full on host-%d","source":"host-%d","severity":"warning","component":"disk"}}}}', k, k, k)
  return wrk.format("POST", "/v2/enqueue", {{["Content-Type"]="application/json"}}, body)
end
"""

# Critical alerts, each with a dedup key never sent before: the onset of a storm, every
# event a new alert that joins the incident the first one opened. wrk's threads number
# themselves in setup(), so keys never repeat across threads.
CRIT_NEW_LUA = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{{"routing_key":"{key}","event_action":"trigger","dedup_key":"crit-{seed}-%d-%d","payload":{{"summary":"Checkout pod %d-%d failing","source":"k8s","severity":"critical","component":"checkout"}}}}', tid, counter, tid, counter)
  return wrk.format("POST", "/v2/enqueue", {{["Content-Type"]="application/json"}}, body)
end
"""

# Critical alerts again for keys the new-key run opened (thread 1's first `keys`).
CRIT_REPEAT_LUA = """
local counter = 0
request = function()
  counter = counter + 1
  local k = (counter * 7919) % {keys} + 1
  local body = string.format('{{"routing_key":"{key}","event_action":"trigger","dedup_key":"crit-{seed}-1-%d","payload":{{"summary":"Checkout pod 1-%d failing","source":"k8s","severity":"critical","component":"checkout"}}}}', k, k)
  return wrk.format("POST", "/v2/enqueue", {{["Content-Type"]="application/json"}}, body)
end
"""

AM_LUA = """
local counter = 0
request = function()
  counter = counter + 1
  local k = counter % {keys}
  local body = string.format('[{{"labels":{{"alertname":"DiskFull","instance":"host-%d","severity":"warning"}},"annotations":{{"summary":"Disk almost full on host-%d"}},"generatorURL":"http://prometheus/graph"}}]', k, k)
  return wrk.format("POST", "/api/v2/alerts", {{["Content-Type"]="application/json"}}, body)
end
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def need(program: str, package: str) -> str:
    found = shutil.which(program)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing Debian package {package} ...")
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", package], check=True, stdout=subprocess.DEVNULL
        )
        found = shutil.which(program)
    if not found:
        raise SystemExit(f"{program} is missing: install the Debian package {package}")
    return found


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def row(self) -> list[str]:
        return [f"{self.rps:,.0f}", f"{self.p50_ms:.1f}", f"{self.p99_ms:.1f}", f"{self.errors}"]


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return {"us": n / 1000, "ms": n, "s": n * 1000, "m": n * 60000}[unit]


def run_wrk(url: str, script: str, connections: int, duration: int, workdir: Path) -> WrkResult:
    path = workdir / f"wrk-{time.monotonic_ns()}.lua"
    path.write_text(script)
    out = subprocess.run(
        [
            need("wrk", "wrk"),
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(path),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, flags=re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return WrkResult(rps, _ms(lat.get("50", "nan")), _ms(lat.get("99", "nan")), total, errors)


# --- latency at a fixed rate -------------------------------------------------------------


def paced(script: str, delay_ms: float) -> str:
    """wrk sends as fast as it can; `delay()` makes each connection wait between its
    requests."""
    return script + f"\nfunction delay() return {max(delay_ms, 0.0):.3f} end\n"


def run_paced(
    url: str, script: str, rate: int, connections: int, seconds: int, workdir: Path
) -> WrkResult:
    """Each connection sends every delay + latency ms, so a short calibration run
    measures the latency and sets the delay that gives `rate` in total."""
    delay = connections * 1000.0 / rate
    probe = run_wrk(url, paced(script, delay), connections, 3, workdir)
    latency = connections * 1000.0 / max(probe.rps, 1.0) - delay
    return run_wrk(url, paced(script, delay - latency), connections, seconds, workdir)


# --- kill -9 durability -------------------------------------------------------------------


@dataclass
class CrashResult:
    acknowledged: int = 0
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


async def _send_until_killed(
    url: str, key: str, acked: list[str], stop: asyncio.Event, conns: int
) -> None:
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10, trust_env=False) as c:
        counter = iter(range(10**9))

        async def worker() -> None:
            while not stop.is_set():
                i = next(counter)
                dedup = f"crash-{i}"
                body = {
                    "routing_key": key,
                    "event_action": "trigger",
                    "dedup_key": dedup,
                    "payload": {
                        "summary": "crash probe",
                        "source": "bench",
                        "severity": "critical",
                    },
                }
                try:
                    r = await c.post("/v2/enqueue", json=body)
                except httpx.TransportError:
                    return
                if r.status_code == 202:
                    acked.append(dedup)

        await asyncio.gather(*(worker() for _ in range(conns)))


def crash_check(server: Server, key: str, seconds: float, store_url: str) -> CrashResult:
    acked: list[str] = []
    stop = asyncio.Event()

    async def run() -> None:
        task = asyncio.create_task(_send_until_killed(server.url, key, acked, stop, 32))
        await asyncio.sleep(seconds)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)  # mid-load, no warning
        log(f"  killed the server (kill -9) after {seconds:.0f}s, {len(acked)} events acknowledged")
        await asyncio.sleep(0.5)
        stop.set()
        await task

    asyncio.run(run())
    assert server.proc is not None
    server.proc.wait()
    result = CrashResult(acknowledged=len(acked))
    # Restart on the same store, as an operator would, then read what it kept.
    restarted = restart(store_url, server)
    try:
        engine = create_engine(store_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT dedup_key, count(*) FROM alerts WHERE dedup_key LIKE 'crash-%' GROUP BY dedup_key"
                )
            ).all()
        engine.dispose()
    finally:
        restarted.terminate()
        restarted.wait(20)
    counts = {k: n for k, n in rows}
    result.missing = [k for k in acked if k not in counts]
    result.duplicates = [k for k, n in counts.items() if n > 1]
    return result


def restart(store_url: str, old: Server) -> subprocess.Popen[bytes]:
    """Starts `warroom serve` again on the same store and waits until it answers."""
    cmd = old.command()
    env = dict(os.environ, WARROOM_DATABASE_URL=store_url)
    proc = subprocess.Popen(
        cmd, env=env, cwd=old.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{old.url}/healthz", trust_env=False).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not come back after the crash")


# --- per store ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class StoreFigures:
    store: str
    max_rate: WrkResult | None = None  # the warning path
    critical_new: WrkResult | None = None
    critical_repeats: WrkResult | None = None
    critical_incidents: int = 0
    cpu_critical_new: float = float("nan")
    replicas: dict[str, float] = field(default_factory=dict)
    cpu_critical_repeats: float = float("nan")
    # Server process CPU per event during the maximum-rate run: steadier than events/s
    # on a machine that does other work too.
    cpu_us_per_event: float = float("nan")
    fixed: dict[str, float] = field(default_factory=dict)
    crash: CrashResult | None = None
    stored_alerts: int = 0


def pg_database(name: str, create: bool = True) -> str:
    """(Re)creates a PostgreSQL database for a benchmark (or only drops it); its URL."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def prepare(store: str, workdir: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{workdir / 'ingest.db'}"
    return pg_database(PG_DB)


class IntakeServer(Server):
    """`warroom serve --demo` (the example organisation) with its engine, as people run
    it, and `--workers N` server processes; `--no-engine` when asked."""

    workers = 1
    engine = True

    def command(self) -> list[str]:
        cmd = [*super().command(), "--demo", "--workers", str(self.workers)]
        if self.engine:
            cmd.remove("--no-engine")
        return cmd


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> StoreFigures:
    figures = StoreFigures(store)
    url = prepare(store, workdir)
    IntakeServer.workers = args.workers
    IntakeServer.engine = args.engine
    server = IntakeServer(url, workdir)
    server.start()
    try:
        h = {"Authorization": f"Bearer {server.admin_token}"}

        def integration(name: str) -> str:
            r = httpx.post(
                f"{server.url}/api/v1/integrations",
                headers=h,
                trust_env=False,
                json={"name": name, "kind": "pagerduty", "service": "checkout"},
            )
            r.raise_for_status()
            return str(r.json()["key"])

        # checkout pages the payments escalation policy of the example organisation.
        crit_key, warn_key = integration("bench-critical"), integration("bench-warning")
        assert server.proc is not None
        pid = server.proc.pid
        log(f"[{store}] warm-up ({args.warmup}s, warnings) ...")
        run_wrk(
            server.url,
            PD_LUA.format(keys=args.keys, key=warn_key, seed=1),
            args.connections,
            args.warmup,
            workdir,
        )

        def measured(label: str, script: str) -> tuple[WrkResult, float]:
            log(f"[{store}] {label}: {args.connections} connections for {args.duration}s ...")
            cpu = cpu_seconds(pid)
            result = run_wrk(server.url, script, args.connections, args.duration, workdir)
            us = (cpu_seconds(pid) - cpu) * 1e6 / max(result.requests, 1)
            log(f"[{store}] {label}: {result.rps:,.0f} events/s, server CPU {us:.0f} us/event")
            return result, us

        figures.critical_new, figures.cpu_critical_new = measured(
            "critical, new keys", CRIT_NEW_LUA.format(key=crit_key, seed="a")
        )
        repeat_keys = max(1, min(args.keys, figures.critical_new.requests // 2 - 1))
        figures.critical_repeats, figures.cpu_critical_repeats = measured(
            f"critical, repeats of {repeat_keys} keys",
            CRIT_REPEAT_LUA.format(keys=repeat_keys, key=crit_key, seed="a"),
        )
        figures.max_rate, figures.cpu_us_per_event = measured(
            f"warnings over {args.keys} keys",
            PD_LUA.format(keys=args.keys, key=warn_key, seed=2),
        )
        log(f"[{store}] critical new keys paced at {args.rate}/s for {args.fixed_seconds}s ...")
        fixed = run_paced(
            server.url,
            CRIT_NEW_LUA.format(key=crit_key, seed="p"),
            args.rate,
            args.connections,
            args.fixed_seconds,
            workdir,
        )
        figures.fixed = {
            "rate": fixed.rps,
            "errors": fixed.errors,
            "p50": fixed.p50_ms,
            "p99": fixed.p99_ms,
        }
        with httpx.Client(base_url=server.url, headers=h, trust_env=False) as c:
            figures.stored_alerts = len(
                c.get("/api/v1/alerts", params={"limit": 500}).json()["items"]
            )
        engine = create_engine(url)
        with engine.connect() as conn:
            figures.critical_incidents = int(
                conn.execute(
                    text(
                        "SELECT count(DISTINCT incident_id) FROM alerts"
                        " WHERE dedup_key LIKE 'crit-%'"
                    )
                ).scalar()
                or 0
            )
        engine.dispose()
        if store == "postgresql" and args.replicas:
            figures.replicas = two_replicas(server, crit_key, url, args, workdir)
        if args.crash:
            log(f"[{store}] kill -9 during load (critical alerts) ...")
            figures.crash = crash_check(server, crit_key, args.crash_seconds, url)
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
    return figures


class Replica(Server):
    """`warroom serve --no-engine` on a store that is set up already (no first-run token)."""

    def start(self, timeout: float = 90.0) -> None:
        self.admin_token = "-"  # none is printed: the store has its administrator
        super().start(timeout)


def two_replicas(
    server: Server, key: str, url: str, args: argparse.Namespace, workdir: Path
) -> dict[str, float]:
    """A second `warroom serve --no-engine` on the same PostgreSQL store, and both driven
    at once with the same new critical keys in the same order (as a load balancer spreads
    one sender's retries, or two Alertmanagers of an HA pair send the same alerts): every
    key is raced. Counts the answers that were not 202, and what the store kept."""
    second = Replica(url, workdir)
    second.start()
    try:
        log(f"[postgresql] two replicas, the same new keys on both for {args.duration}s ...")
        script = CRIT_NEW_LUA.format(key=key, seed="r")
        results: list[WrkResult] = []

        def drive(target: str) -> None:
            results.append(run_wrk(target, script, args.connections // 2, args.duration, workdir))

        threads = [threading.Thread(target=drive, args=(t,)) for t in (server.url, second.url)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        second.stop()
    engine = create_engine(url)
    with engine.connect() as conn:
        alerts, occurrences = conn.execute(
            text("SELECT count(*), sum(occurrences) FROM alerts WHERE dedup_key LIKE 'crit-r-%'")
        ).one()
    engine.dispose()
    sent = sum(r.requests for r in results)
    errors = sum(r.errors for r in results)
    log(f"[postgresql] two replicas: {sent} events, {errors} not 202, {alerts} alerts kept")
    return {
        "events": sent,
        "errors": errors,
        "rate": sum(r.rps for r in results),
        "alerts": int(alerts or 0),
        "occurrences": int(occurrences or 0),
    }


def alertmanager_rate(args: argparse.Namespace, workdir: Path) -> WrkResult:
    binary = need("prometheus-alertmanager", "prometheus-alertmanager")
    port = free_port()
    conf = workdir / "am.yml"
    conf.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={conf}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://{HOST}:{port}/-/ready", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("alertmanager did not start")
            time.sleep(0.1)
        script = AM_LUA.format(keys=args.keys)
        run_wrk(f"http://{HOST}:{port}", script, args.connections, 2, workdir)
        return run_wrk(f"http://{HOST}:{port}", script, args.connections, args.duration, workdir)
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--duration", type=int, default=10, help="seconds of maximum-rate load")
    p.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="seconds of load before it: at 2 s some keys are still new in the measured run",
    )
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--keys", type=int, default=5000, help="distinct dedup keys")
    p.add_argument("--rate", type=int, default=1000, help="events/s for the latency run")
    p.add_argument("--fixed-seconds", type=int, default=10)
    p.add_argument("--crash-seconds", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=1, help="warroom server processes")
    p.add_argument("--no-crash", dest="crash", action="store_false")
    p.add_argument("--no-alertmanager", dest="alertmanager", action="store_false")
    p.add_argument(
        "--no-engine", dest="engine", action="store_false", help="serve without the engine"
    )
    p.add_argument(
        "--no-replicas",
        dest="replicas",
        action="store_false",
        help="skip the two-replica race (PostgreSQL)",
    )
    args = p.parse_args(argv)
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    results = []
    with tempfile.TemporaryDirectory(prefix="warroom-ingest-") as tmp:
        for store in stores:
            sub = Path(tmp) / store
            sub.mkdir()
            results.append(run_store(store, args, sub))
        am = alertmanager_rate(args, Path(tmp)) if args.alertmanager else None

    print(f"\nwarroom alert ingestion, {os.cpu_count()} cores, load average {loadavg()}")
    print(
        f"warroom serve --demo{'' if args.engine else ' --no-engine'}, {args.workers} server "
        f"process(es), PagerDuty Events v2 /v2/enqueue, {args.connections} connections, "
        "202 only after commit\n"
    )
    print(f"{'':40}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/ev':>11}")
    for r in results:
        for label, res, cpu in (
            ("critical, new keys (one incident)", r.critical_new, r.cpu_critical_new),
            ("critical, repeats", r.critical_repeats, r.cpu_critical_repeats),
            ("warning (no incident)", r.max_rate, r.cpu_us_per_event),
        ):
            assert res
            cells = res.row()
            print(
                f"{r.store + ': ' + label:40}{cells[0]:>10}{cells[1]:>9}{cells[2]:>9}"
                f"{cells[3]:>8}{cpu:>11.0f}"
            )
        print(f"  {r.store}: critical alerts went into {r.critical_incidents} incident(s)")
    if am:
        cells = am.row()
        print(
            f"{'alertmanager (memory), same run':40}{cells[0]:>10}{cells[1]:>9}{cells[2]:>9}{cells[3]:>8}"
        )
        for r in results:
            assert r.critical_new and r.critical_repeats and r.max_rate
            print(
                f"  {r.store} / alertmanager: critical new {r.critical_new.rps / am.rps:.2f}, "
                f"critical repeats {r.critical_repeats.rps / am.rps:.2f}, "
                f"warning {r.max_rate.rps / am.rps:.2f}"
            )
    print(f"\ncritical new keys paced at {args.rate} events/s for {args.fixed_seconds}s:")
    for r in results:
        f = r.fixed
        print(
            f"  {r.store:10} {f['rate']:,.0f} events/s sent  p50 {f['p50']:.1f} ms  "
            f"p99 {f['p99']:.1f} ms  errors {f['errors']:.0f}"
        )
    for r in results:
        if r.replicas:
            x = r.replicas
            print(
                f"\ntwo replicas on one {r.store} store, the same new keys on both at once: "
                f"{x['events']:,.0f} events ({x['rate']:,.0f}/s), {x['errors']:.0f} not "
                f"answered 202; {x['alerts']:,.0f} alerts kept for "
                f"{x['occurrences']:,.0f} events counted"
            )
    if args.crash:
        print("\nkill -9 during load, then restart on the same store:")
        for r in results:
            c = r.crash
            assert c
            verdict = "OK" if not c.missing and not c.duplicates else "LOST OR DUPLICATED"
            print(
                f"  {r.store:10} {c.acknowledged} events answered 202; missing after restart: "
                f"{len(c.missing)}; duplicated: {len(c.duplicates)}  -> {verdict}"
            )
    print(
        json.dumps(
            {
                "results": [
                    {
                        "store": r.store,
                        "critical_new_per_s": r.critical_new.rps if r.critical_new else None,
                        "critical_repeats_per_s": (
                            r.critical_repeats.rps if r.critical_repeats else None
                        ),
                        "critical_incidents": r.critical_incidents,
                        "events_per_s": r.max_rate.rps if r.max_rate else None,
                        "server_cpu_us_per_event": round(r.cpu_us_per_event, 1),
                        "fixed": r.fixed,
                        "crash_missing": len(r.crash.missing) if r.crash else None,
                    }
                    for r in results
                ],
                "alertmanager_per_s": am.rps if am else None,
            }
        )
    )
    bad = any(r.crash and (r.crash.missing or r.crash.duplicates) for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
