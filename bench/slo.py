"""The SLO engine cycle at 1,000 incident-sourced SLOs and 100,000 incidents, per store.

Starts a real `warroom serve --no-engine` on a fresh SQLite file and a fresh PostgreSQL
database (bench/api.py's Server), loads bench/api.py's organisation, bulk-inserts its
3-year history (bench/api.py's fill: 40% customer-facing, 2% drills), declares 1,000 SLOs
in config as code over its 8 services (objectives 99 to 99.95, rolling 7d/28d/30d and
calendar month), then, during an outage (a customer-facing SEV-1 on checkout declared
over HTTP, its impact started 10 minutes ago, so every checkout SLO burns fast), times:

- the engine cycle: `warroom.slos.evaluator.run`, the handler the engine runs every
  minute (reads every SLO, computes budgets and burn rates, raises or resolves burn
  alerts through the intake). The first cycle raises the checkout SLOs' alerts and
  tells the incident's room; the later ones find nothing changed.
- the release gate over HTTP: GET /api/v1/slos/gate?service=checkout (125 SLOs).
- the SLO list over HTTP: GET /api/v1/slos (all 1,000).

    python bench/slo.py                      # both stores
    python bench/slo.py --store sqlite --cycles 5

Target (issue 15): under 5 s per engine cycle on both stores. There is no peer to run
beside it here (Sloth and Pyrra generate rules for Prometheus; they evaluate nothing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.api  # noqa: E402
from bench.api import (  # noqa: E402
    BENCH_USER,
    DEFAULT_PG,
    ORG_CONFIG,
    SERVICE_NAMES,
    Server,
    StoreResult,
    analyze,
    bench_engine,
    drop_store,
    fill_phase,
    log,
    pct,
    prepare_store,
)
from warroom.core.clock import SystemClock  # noqa: E402
from warroom.db.session import Database  # noqa: E402
from warroom.slos import evaluator  # noqa: E402
from warroom.wiring import wire  # noqa: E402

# A database of its own, so it never drops another benchmark's.
bench.api.PG_DB = "warroom_bench_slo"

OBJECTIVES = [99.0, 99.5, 99.9, 99.95]
WINDOWS: list[dict[str, str]] = [
    {"window": "30d"},
    {"window": "28d"},
    {"window": "7d"},
    {"calendar": "month"},
]


def slos(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        svc = SERVICE_NAMES[i % len(SERVICE_NAMES)]
        out.append(
            {
                "name": f"{svc}-slo-{i:04d}",
                "service": svc,
                "objective": OBJECTIVES[i % len(OBJECTIVES)],
                **WINDOWS[(i // len(SERVICE_NAMES)) % len(WINDOWS)],
            }
        )
    return out


def timed_gets(client: httpx.Client, path: str, params: dict[str, str], n: int) -> list[float]:
    client.get(path, params=params).raise_for_status()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path, params=params)
        out.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return out


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    log(f"\n=== {store} ===")
    url = prepare_store(store, args, workdir)
    res = StoreResult(store=store, url=url)
    server = Server(url, workdir)
    engine = bench_engine(url)
    row: dict[str, Any] = {"store": store}
    try:
        server.start()
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            trust_env=False,
            timeout=300,
        ) as admin:
            admin.post("/api/v1/config/apply", json={"config": ORG_CONFIG}).raise_for_status()
            admin.post(
                "/api/v1/users",
                json={"name": BENCH_USER, "email": "bench@bench.example", "role": "responder"},
            ).raise_for_status()
            fill_phase(engine, args, res)
            t = time.perf_counter()
            r = admin.post("/api/v1/config/apply", json={"config": {"slos": slos(args.slos)}})
            r.raise_for_status()
            log(f"  {args.slos} SLOs applied in {time.perf_counter() - t:.1f} s")
            analyze(engine, args, res)
            started = datetime.now(UTC) - timedelta(minutes=10)
            r = admin.post(
                "/api/v1/incidents",
                json={
                    "title": "Checkout failing for card payments",
                    "severity": "SEV-1",
                    "services": ["checkout"],
                    "customer_facing": True,
                    "started_at": started.isoformat(),
                },
            )
            r.raise_for_status()
            incident = r.json()["id"]
            wire()
            db = Database(url)
            clock = SystemClock()
            cycles = []
            for i in range(args.cycles):
                t = time.perf_counter()
                evaluator.run(db, clock, {})
                cycles.append(time.perf_counter() - t)
                log(f"  engine cycle {i + 1}: {cycles[-1]:.2f} s")
            db.dispose()
            body = admin.get(f"/api/v1/incidents/{incident}").json()
            told = sum(1 for e in body["timeline"] if e["text"].startswith("Error budget:"))
            burning = [
                a
                for a in admin.get("/api/v1/alerts", params={"limit": 200}).json()["items"]
                if a["labels"].get("alertname") == "ErrorBudgetBurn"
            ]
            log(f"  burn alerts raised: {len(burning)}; room lines: {told}")
            gate_ms = timed_gets(admin, "/api/v1/slos/gate", {"service": "checkout"}, args.requests)
            list_ms = timed_gets(admin, "/api/v1/slos", {}, max(5, args.requests // 10))
            gate = admin.get("/api/v1/slos/gate", params={"service": "checkout"}).json()
            log(f"  gate for checkout: {gate['state']} ({len(gate['slos'])} SLOs)")
            row.update(
                first=cycles[0],
                later=max(cycles[1:]) if len(cycles) > 1 else cycles[0],
                gate_p50=pct(gate_ms, 50),
                gate_p99=pct(gate_ms, 99),
                list_p50=pct(list_ms, 50),
                list_p99=pct(list_ms, 99),
                alerts=len(burning),
            )
            log(
                f"  gate p50 {row['gate_p50']:.1f} ms p99 {row['gate_p99']:.1f} ms; "
                f"list p50 {row['list_p50']:.1f} ms p99 {row['list_p99']:.1f} ms"
            )
    finally:
        engine.dispose()
        server.stop()
        if not args.keep:
            drop_store(store, url, args)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--list-size", type=int, default=100_000, help="incidents in the store")
    p.add_argument("--slos", type=int, default=1000)
    p.add_argument("--cycles", type=int, default=5, help="engine cycles timed")
    p.add_argument("--requests", type=int, default=50, help="timed gate requests")
    p.add_argument("--fill-batch", type=int, default=5000)
    p.add_argument("--fill-events", type=int, default=0, help="timeline events per filled row")
    p.add_argument("--pg-url", default=DEFAULT_PG)
    p.add_argument("--no-pg-analyze", dest="pg_analyze", action="store_false")
    p.add_argument("--sqlite-analyze", action="store_true")
    p.add_argument("--target-s", type=float, default=5.0)
    p.add_argument("--keep", action="store_true", help="keep the stores (with --workdir)")
    p.add_argument("--workdir", help="where the SQLite store and server log go (default: temp)")
    args = p.parse_args(argv)
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    rows: list[dict[str, Any]] = []
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        for store in stores:
            rows.append(run_store(store, args, Path(args.workdir)))
    else:
        with tempfile.TemporaryDirectory(prefix="warroom-bench-slo-") as tmp:
            for store in stores:
                rows.append(run_store(store, args, Path(tmp)))
    print(
        "\n| store | first cycle s | later cycles (max) s | burn alerts | gate p50 ms "
        "| gate p99 ms | list p50 ms | list p99 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['store']} | {r['first']:.2f} | {r['later']:.2f} | {r['alerts']} "
            f"| {r['gate_p50']:.1f} | {r['gate_p99']:.1f} | {r['list_p50']:.1f} "
            f"| {r['list_p99']:.1f} |"
        )
    slow = [r for r in rows if max(r["first"], r["later"]) >= args.target_s]
    print(f"\ncycle target {args.target_s:g} s: {'met' if not slow else 'missed'}")
    return 0 if not slow else 1


if __name__ == "__main__":
    raise SystemExit(main())
