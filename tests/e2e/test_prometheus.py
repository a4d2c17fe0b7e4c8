"""Debian's Prometheus scrapes `warroom serve --workers 2`: /metrics adds up both workers.

Runs the real `warroom` command on a SQLite store in a temporary folder, makes requests
that land on either worker, checks that every scrape (whichever worker answers it) reports
all of them, then lets a real Prometheus scrape warroom with a bearer token and queries it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.e2e._programs import Program, require_program, wait_until

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
DEADLINE = 60.0
SUMMARY = "/api/v1/analytics/summary"


def _summary_count(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "warroom_http_requests_total" and s.labels.get("route") == SUMMARY:
                total += s.value
    return total


def test_prometheus_scrapes_a_multiprocess_warroom(tmp_path: Path) -> None:
    require_program(PROMETHEUS, "prometheus")
    require_program(PROMTOOL, "prometheus")
    port = free_port()
    warroom_bin = shutil.which("warroom") or f"{sys.executable} -m warroom.cli.main"
    env = {
        **os.environ,
        "WARROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'warroom.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    server = Program(
        [*warroom_bin.split(), "serve", "--port", str(port), "--workers", "2", "--no-engine"],
        tmp_path / "warroom.log",
        cwd=tmp_path,
        env=env,
    )
    prom: Program | None = None
    try:
        token = wait_until(
            lambda: (re.findall(r"WARROOM_TOKEN=(\S+)", server.log.read_text()) or [None])[0],
            "the first-run token",
            DEADLINE,
            server.output,
        )
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, trust_env=False
        ) as w:

            def up() -> bool:
                try:
                    return w.get("/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(up, "warroom to answer", DEADLINE, server.output)
            for _ in range(30):
                assert w.get(SUMMARY).status_code == 200
            # Fresh connections, so both workers answer scrapes; each reports all 30.
            for _ in range(6):
                with httpx.Client(base_url=base, trust_env=False) as fresh:
                    text = fresh.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
                assert _summary_count(text) == 30, text
            check = subprocess.run(
                [str(PROMTOOL), "check", "metrics"],
                input=text,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert check.returncode == 0, check.stdout + check.stderr
        (tmp_path / "token").write_text(token)
        prom_port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "warroom",
                            "authorization": {"credentials_file": str(tmp_path / "token")},
                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                        }
                    ],
                }
            )
        )
        prom = Program(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        )
        with httpx.Client(base_url=f"http://127.0.0.1:{prom_port}", trust_env=False) as p:

            def query(q: str) -> list[dict[str, object]] | None:
                try:
                    r = p.get("/api/v1/query", params={"query": q})
                except httpx.TransportError:
                    return None
                if r.status_code != 200:
                    return None
                result = r.json()["data"]["result"]
                return result or None

            wait_until(
                lambda: query('up{job="warroom"} == 1'),
                "a successful scrape",
                DEADLINE,
                prom.output,
            )
            found = wait_until(
                lambda: query(f'sum(warroom_http_requests_total{{route="{SUMMARY}"}})'),
                "the request counter in Prometheus",
                DEADLINE,
                prom.output,
            )
            assert float(found[0]["value"][1]) >= 30  # type: ignore[index]
            assert wait_until(
                lambda: query("warroom_engine_queue_depth"),
                "the queue depth",
                DEADLINE,
                prom.output,
            )
    finally:
        if prom is not None:
            prom.stop()
        server.stop()
