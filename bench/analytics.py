"""Analytics at 100,000 incidents: the summary and a 3-year weekly timeseries, p99 per store.

Starts a real `warroom serve --no-engine` on a fresh SQLite file and a fresh PostgreSQL
database (bench/api.py's Server), loads bench/api.py's organisation, bulk-inserts its
3-year history (the same fill: mixed severities and detection sources, 2% drills, 10%
private), rebuilds the analytics facts as migration 0017 does for an existing store, then
times sequential GETs over real HTTP as an admin and as a responder (who
also pays for the private-incident visibility rule):

- summary, 3 years: /api/v1/analytics/summary?from=<3 years ago>  (every incident)
- summary, 30 days: /api/v1/analytics/summary                     (the default range)
- timeseries count: /api/v1/analytics/timeseries?metric=count&interval=week&from=<3 years ago>
- timeseries mttr:  /api/v1/analytics/timeseries?metric=mttr&interval=week&from=<3 years ago>

    python bench/analytics.py                     # both stores
    python bench/analytics.py --store sqlite --requests 100
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

from bench.api import (  # noqa: E402
    BENCH_USER,
    DEFAULT_PG,
    ORG_CONFIG,
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
from warroom.analytics.facts import backfill  # noqa: E402


def shapes(now: datetime) -> list[tuple[str, str, dict[str, str]]]:
    three_years = (now - timedelta(days=3 * 365 + 2)).date().isoformat()
    return [
        ("summary, 3 years", "/api/v1/analytics/summary", {"from": three_years}),
        ("summary, 30 days", "/api/v1/analytics/summary", {}),
        (
            "timeseries count, 3 years weekly",
            "/api/v1/analytics/timeseries",
            {"metric": "count", "interval": "week", "from": three_years},
        ),
        (
            "timeseries mttr, 3 years weekly",
            "/api/v1/analytics/timeseries",
            {"metric": "mttr", "interval": "week", "from": three_years},
        ),
    ]


def measure(
    client: httpx.Client, path: str, params: dict[str, str], n: int, warm: int
) -> list[float]:
    for _ in range(warm):
        client.get(path, params=params).raise_for_status()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path, params=params)
        out.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return out


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    log(f"\n=== {store} ===")
    url = prepare_store(store, args, workdir)
    res = StoreResult(store=store, url=url)
    server = Server(url, workdir)
    engine = bench_engine(url)
    rows: list[dict[str, Any]] = []
    try:
        server.start()
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            trust_env=False,
            timeout=120,
        ) as admin:
            admin.post("/api/v1/config/apply", json={"config": ORG_CONFIG}).raise_for_status()
            admin.post(
                "/api/v1/users",
                json={"name": BENCH_USER, "email": "bench@bench.example", "role": "responder"},
            ).raise_for_status()
            r = admin.post("/api/v1/tokens", json={"role": "responder", "user": BENCH_USER})
            r.raise_for_status()
            responder_token = r.json()["token"]
            fill_phase(engine, args, res)
            # The fill writes past the lifecycle, as an upgrade finds a store's history:
            # migration 0017's backfill rebuilds the facts, then the store settles again.
            t = time.perf_counter()
            with engine.begin() as conn:
                backfill(conn)
            log(f"  facts rebuilt (migration 0017's backfill) in {time.perf_counter() - t:.1f} s")
            analyze(engine, args, res)
            body = admin.get("/api/v1/analytics/summary", params=shapes(datetime.now(UTC))[0][2])
            log(f"  summary over 3 years counts {body.json()['incident_count']:,} incidents")
            with httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {responder_token}"},
                trust_env=False,
                timeout=120,
            ) as responder:
                for who, client in (("admin", admin), ("responder", responder)):
                    for label, path, params in shapes(datetime.now(UTC)):
                        ms = measure(client, path, params, args.requests, args.warmup)
                        row = {
                            "store": store,
                            "who": who,
                            "shape": label,
                            "p50": pct(ms, 50),
                            "p99": pct(ms, 99),
                            "max": max(ms),
                        }
                        rows.append(row)
                        log(
                            f"  {who:9} {label:34} p50 {row['p50']:7.1f} ms  "
                            f"p99 {row['p99']:7.1f} ms  max {row['max']:7.1f} ms"
                        )
    finally:
        engine.dispose()
        server.stop()
        if not args.keep:
            drop_store(store, url, args)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--list-size", type=int, default=100_000, help="incidents in the store")
    p.add_argument("--requests", type=int, default=200, help="timed GETs per shape and caller")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--fill-batch", type=int, default=5000)
    p.add_argument("--fill-events", type=int, default=0, help="timeline events per filled row")
    p.add_argument("--pg-url", default=DEFAULT_PG)
    p.add_argument("--no-pg-analyze", dest="pg_analyze", action="store_false")
    p.add_argument("--sqlite-analyze", action="store_true")
    p.add_argument("--target-ms", type=float, default=300.0)
    p.add_argument("--keep", action="store_true", help="keep the stores (with --workdir)")
    p.add_argument("--workdir", help="where the SQLite store and server log go (default: temp)")
    args = p.parse_args(argv)
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    rows: list[dict[str, Any]] = []
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        for store in stores:
            rows += run_store(store, args, Path(args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="warroom-bench-analytics-") as tmp:
            for store in stores:
                rows += run_store(store, args, Path(tmp))
    print("\n| store | caller | request | p50 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['store']} | {r['who']} | {r['shape']} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {r['max']:.1f} |"
        )
    slow = [r for r in rows if r["p99"] >= args.target_ms]
    print(f"\np99 target {args.target_ms:g} ms: {'met' if not slow else f'missed by {len(slow)}'}")
    return 0 if not slow else 1


if __name__ == "__main__":
    raise SystemExit(main())
