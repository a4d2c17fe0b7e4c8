"""Alert ingestion benchmark: PagerDuty Events v2 endpoint under load, beside
Prometheus Alertmanager's own intake, plus a kill -9 durability check.

    python bench/ingest.py [--store sqlite|postgresql|both] [--duration 10]
                           [--warmup 2] [--connections 32] [--keys 5000] [--rate 1000]
                           [--no-crash]

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
                    "payload": {"summary": "crash probe", "source": "bench", "severity": "warning"},
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
    max_rate: WrkResult | None = None
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
    """`warroom serve --no-engine` with `--workers N` server processes."""

    workers = 1

    def command(self) -> list[str]:
        return [*super().command(), "--workers", str(self.workers)]


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> StoreFigures:
    figures = StoreFigures(store)
    url = prepare(store, workdir)
    IntakeServer.workers = args.workers
    server = IntakeServer(url, workdir)
    server.start()
    try:
        h = {"Authorization": f"Bearer {server.admin_token}"}
        key = httpx.post(
            f"{server.url}/api/v1/integrations",
            headers=h,
            trust_env=False,
            json={"name": "bench", "kind": "pagerduty"},
        ).json()["key"]
        log(f"[{store}] warm-up ({args.warmup}s) ...")
        run_wrk(
            server.url,
            PD_LUA.format(keys=args.keys, key=key, seed=1),
            args.connections,
            args.warmup,
            workdir,
        )
        log(
            f"[{store}] {args.connections} connections for {args.duration}s, {args.keys} dedup keys ..."
        )
        assert server.proc is not None
        cpu = cpu_seconds(server.proc.pid)
        figures.max_rate = run_wrk(
            server.url,
            PD_LUA.format(keys=args.keys, key=key, seed=2),
            args.connections,
            args.duration,
            workdir,
        )
        cpu = cpu_seconds(server.proc.pid) - cpu
        figures.cpu_us_per_event = cpu * 1e6 / max(figures.max_rate.requests, 1)
        log(
            f"[{store}] {figures.max_rate.rps:,.0f} events/s, server CPU "
            f"{figures.cpu_us_per_event:.0f} us/event, load average {loadavg()}"
        )
        log(f"[{store}] fixed rate {args.rate}/s for {args.fixed_seconds}s ...")
        fixed = run_paced(
            server.url,
            PD_LUA.format(keys=args.keys, key=key, seed=3),
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
        if args.crash:
            log(f"[{store}] kill -9 during load ...")
            figures.crash = crash_check(server, key, args.crash_seconds, url)
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
    return figures


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
        f"PagerDuty Events v2 /v2/enqueue, {args.workers} server process(es), "
        f"{args.connections} connections, {args.keys} dedup keys, "
        "202 only after commit\n"
    )
    print(f"{'':26}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/ev':>11}")
    for r in results:
        assert r.max_rate
        cells = r.max_rate.row()
        print(
            f"{'warroom ' + r.store:26}{cells[0]:>10}{cells[1]:>9}{cells[2]:>9}{cells[3]:>8}"
            f"{r.cpu_us_per_event:>11.0f}"
        )
    if am:
        cells = am.row()
        print(f"{'alertmanager (memory)':26}{cells[0]:>10}{cells[1]:>9}{cells[2]:>9}{cells[3]:>8}")
        for r in results:
            assert r.max_rate
            print(f"  warroom {r.store} / alertmanager = {r.max_rate.rps / am.rps:.2f}")
    print(f"\npaced at {args.rate} events/s for {args.fixed_seconds}s:")
    for r in results:
        f = r.fixed
        print(
            f"  {r.store:10} {f['rate']:,.0f} events/s sent  p50 {f['p50']:.1f} ms  "
            f"p99 {f['p99']:.1f} ms  errors {f['errors']:.0f}"
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
