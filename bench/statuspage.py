"""Status page benchmark: wrk against /status and /api/v2/summary.json while updates
arrive every second, compared with Debian's nginx serving the same bytes from a file.

    python bench/statuspage.py                 # 20 s per target, 64 connections
    python bench/statuspage.py --duration 10 --json /tmp/statuspage.json

Needs `wrk` and `nginx` (Debian packages `wrk`, `nginx`). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

NGINX = "/usr/sbin/nginx"
TARGETS = ("/status", "/api/v2/summary.json")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def start_warroom(tmp: Path, port: int) -> tuple[subprocess.Popen[str], str, str]:
    db_url = f"sqlite:///{tmp / 'warroom.db'}"
    env = {**os.environ, "WARROOM_DATABASE_URL": db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom.cli.main", "serve", "--no-engine", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    token = None
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"WARROOM_TOKEN=(\S+)", line)
        if m:
            token = m.group(1)
        if line.startswith("Serving on"):
            break
    if token is None:
        proc.kill()
        raise SystemExit("warroom serve did not print a first-run token")
    threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc, token, db_url


def seed(base: str, token: str, db_url: str) -> str:
    """12 components in 3 groups with 90 days of history, an active incident with
    updates, and upcoming maintenance. Returns the public incident's code."""
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        for g, names in {
            "Core": ["API", "Web app", "Login", "Webhooks"],
            "Payments": ["Checkout", "Billing", "Invoices", "Card processing"],
            "Regions": ["EU West", "US East", "US West", "Asia Pacific"],
        }.items():
            c.post("/api/v1/status/components", json={"name": g, "is_group": True})
            for n in names:
                r = c.post("/api/v1/status/components", json={"name": n, "group": g})
                r.raise_for_status()
        inc = c.post(
            "/api/v1/incidents",
            json={"title": "Checkout errors", "severity": "SEV-2", "customer_facing": True},
        ).json()
        pub = c.post(
            "/api/v1/status/incidents",
            json={
                "incident": inc["id"],
                "name": "Elevated error rates on checkout",
                "body": "We are investigating elevated error rates for card payments.",
                "components": {"Checkout": "partial_outage", "Card processing": "major_outage"},
            },
        ).json()
        start = datetime.now(UTC) + timedelta(days=3)
        c.post(
            "/api/v1/status/maintenances",
            json={
                "name": "Database upgrade",
                "body": "The primary database moves to new hardware.",
                "scheduled_for": start.isoformat(),
                "scheduled_until": (start + timedelta(hours=2)).isoformat(),
                "components": ["API", "Billing"],
                "auto_transition": False,
            },
        ).raise_for_status()
    # 90 days of recorded history, written straight into the store
    from sqlalchemy import select

    import warroom.tables  # noqa: F401  (every table, for the foreign keys)
    from warroom.db.session import Database
    from warroom.statuspage.models import ComponentStatusChange, StatusComponent

    rng = random.Random(7)
    db = Database(db_url)
    with db.session() as s:
        comps = list(s.scalars(select(StatusComponent).where(StatusComponent.is_group.is_(False))))
        now = datetime.now(UTC)
        for comp in comps:
            comp.created_at = now - timedelta(days=120)
            s.add(
                ComponentStatusChange(
                    component_id=comp.id, status="operational", at=now - timedelta(days=120)
                )
            )
            for _ in range(rng.randint(0, 4)):
                at = now - timedelta(days=rng.uniform(1, 89))
                bad = rng.choice(["degraded_performance", "partial_outage", "major_outage"])
                s.add(ComponentStatusChange(component_id=comp.id, status=bad, at=at))
                s.add(
                    ComponentStatusChange(
                        component_id=comp.id,
                        status="operational",
                        at=at + timedelta(minutes=rng.randint(5, 240)),
                    )
                )
    db.dispose()
    return str(pub["id"])


class Updater(threading.Thread):
    """Posts one public update a second (alternating incident updates and component
    status changes), as an incident in full swing would."""

    def __init__(self, base: str, token: str, code: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.code = code
        self.stop = threading.Event()
        self.sent = 0
        self.errors = 0
        self.last_body = ""

    def run(self) -> None:
        n = 0
        start = time.monotonic()
        while not self.stop.wait(max(0.0, start + n + 1 - time.monotonic())):
            n += 1
            try:
                if n % 2:
                    self.last_body = f"Update {n}: still working on it."
                    r = self.client.post(
                        f"/api/v1/status/incidents/{self.code}/updates",
                        json={"status": "identified", "body": self.last_body},
                    )
                else:
                    status = "degraded_performance" if n % 4 else "partial_outage"
                    r = self.client.post(
                        "/api/v1/status/components/EU West/status", json={"status": status}
                    )
                r.raise_for_status()
                self.sent += 1
            except httpx.HTTPError:
                self.errors += 1


def start_replica(db_url: str, port: int) -> subprocess.Popen[bytes]:
    """A second `warroom serve --no-engine` on the same store: another replica."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom.cli.main", "serve", "--no-engine", "--port", str(port)],
        env={**os.environ, "WARROOM_DATABASE_URL": db_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def propagation(base: str, replica: str, token: str, code: str, n: int) -> list[float]:
    """Posts n updates to one replica and times how long until the other one serves
    them in summary.json (polling every 10 ms)."""
    out = []
    h = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=base, headers=h, timeout=30) as a,
        httpx.Client(base_url=replica, timeout=30) as b,
    ):
        b.get("/api/v2/summary.json")
        for i in range(n):
            body = f"Replica check {i}: {random.random()}"
            a.post(
                f"/api/v1/status/incidents/{code}/updates",
                json={"status": "identified", "body": body},
            ).raise_for_status()
            t0 = time.monotonic()
            while body not in b.get("/api/v2/summary.json").text:
                if time.monotonic() - t0 > 10:
                    raise SystemExit("the other replica did not see an update within 10 s")
                time.sleep(0.01)
            out.append((time.monotonic() - t0) * 1000)
            time.sleep(random.uniform(0.1, 0.5))
    return out


def to_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, duration: int, connections: int, threads: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-H",
            "Accept-Encoding: identity",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": 1.0 if sock else 0.0,
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of processes (from /proc), which other load does not inflate."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def measured(pids: list[int], url: str, args: argparse.Namespace) -> dict[str, float]:
    before = cpu_seconds(pids)
    r = wrk(url, args.duration, args.connections, args.threads)
    used = cpu_seconds(pids) - before
    r["server_cpu_us_per_request"] = used * 1e6 / max(1.0, r["rps"] * args.duration)
    return r


def start_nginx(tmp: Path, files: dict[str, bytes]) -> tuple[subprocess.Popen[bytes], int]:
    prefix = tmp / "nginx"
    www = prefix / "www"
    tmp.chmod(0o755)  # nginx's workers run as an unprivileged user and must read the files
    (prefix / "logs").mkdir(parents=True)
    for rel, content in files.items():
        path = www / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""daemon off;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  types {{ application/json json; text/html html; }}
  client_body_temp_path {prefix}/tmp_body;
  proxy_temp_path {prefix}/tmp_proxy;
  fastcgi_temp_path {prefix}/tmp_fastcgi;
  uwsgi_temp_path {prefix}/tmp_uwsgi;
  scgi_temp_path {prefix}/tmp_scgi;
  server {{
    listen 127.0.0.1:{port};
    root {www};
    location = /status {{ default_type text/html; try_files /status.html =404; }}
  }}
}}
"""
    )
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf)])
    wait_http(f"http://127.0.0.1:{port}/api/v2/summary.json")
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    for tool in ("wrk", NGINX):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install {Path(tool).name}")

    tmp = Path(tempfile.mkdtemp(prefix="warroom-bench-status-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server, token, db_url = start_warroom(tmp, port)
    nginx = None
    results: dict[str, Any] = {"nproc": os.cpu_count(), "load_before": os.getloadavg()}
    try:
        code = seed(base, token, db_url)
        httpx.post(
            f"{base}/api/v1/status/components/API/status",
            headers={"Authorization": f"Bearer {token}"},
            json={"status": "operational"},
        )
        files = {p: httpx.get(base + p).content for p in TARGETS}
        results["bytes"] = {p: len(b) for p, b in files.items()}
        for target in TARGETS:
            updater = Updater(base, token, code)
            before = httpx.get(base + target).headers["etag"]
            updater.start()
            r = measured([server.pid], base + target, args)
            updater.stop.set()
            updater.join()
            after = httpx.get(base + "/api/v2/summary.json")
            r["updates_sent"] = updater.sent
            r["update_errors"] = updater.errors
            r["etag_changed"] = httpx.get(base + target).headers["etag"] != before
            r["last_update_visible"] = updater.last_body in after.text
            results[f"warroom {target}"] = r
            print(
                f"warroom {target:<22} {r['rps']:>9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                f"p99 {r['p99_ms']:6.2f} ms  cpu {r['server_cpu_us_per_request']:5.1f} us/req  "
                f"({updater.sent} updates during the run, "
                f"{updater.errors} failed; newest visible: {r['last_update_visible']})",
                flush=True,
            )
        # a second replica on the same store learns of changes through the version row
        rport = free_port()
        replica = start_replica(db_url, rport)
        try:
            waits = sorted(propagation(base, f"http://127.0.0.1:{rport}", token, code, 10))
        finally:
            replica.send_signal(signal.SIGINT)
            replica.wait(timeout=15)
        results["replica_propagation_ms"] = waits
        print(
            f"replica: an update made on one process is served by another after "
            f"median {waits[len(waits) // 2]:.0f} ms, max {waits[-1]:.0f} ms "
            f"({len(waits)} updates; the version check runs at most once a second)",
            flush=True,
        )
        # nginx serving the same bytes from files
        files = {"/status.html": files["/status"], "/api/v2/summary.json": files[TARGETS[1]]}
        nginx, nport = start_nginx(tmp, files)
        for rel, content in files.items():
            got = httpx.get(f"http://127.0.0.1:{nport}{rel.removesuffix('.html')}")
            if got.status_code != 200 or got.content != content:
                raise SystemExit(f"nginx does not serve {rel} as written: {got.status_code}")
        for target in TARGETS:
            r = measured(
                [nginx.pid, *children(nginx.pid)], f"http://127.0.0.1:{nport}{target}", args
            )
            results[f"nginx {target}"] = r
            ratio = results[f"warroom {target}"]["rps"] / r["rps"]
            results[f"ratio {target}"] = ratio
            print(
                f"nginx   {target:<22} {r['rps']:>9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                f"p99 {r['p99_ms']:6.2f} ms  cpu {r['server_cpu_us_per_request']:5.1f} us/req  "
                f"warroom/nginx = {ratio:.3f} (1/{1 / ratio:.1f})",
                flush=True,
            )
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=10)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    print(
        f"nproc {results['nproc']}, load average before {results['load_before'][0]:.2f}, "
        f"after {results['load_after'][0]:.2f}; bytes: {results['bytes']}"
    )
    for key, r in results.items():
        if isinstance(r, dict) and r.get("non_2xx"):
            print(f"WARNING: {key}: {r['non_2xx']:.0f} non-2xx responses; its figures are void")
    ok = all(
        results[f"warroom {t}"]["rps"] >= 5000 and results[f"warroom {t}"]["p99_ms"] < 50
        for t in TARGETS
    )
    print("targets (>= 5,000 req/s and p99 < 50 ms):", "met" if ok else "NOT met")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
