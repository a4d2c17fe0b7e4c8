"""Helpers for end-to-end tests that talk to real programs over real sockets.

- `require_program`: skip when an external program is missing (fail under CI=true).
- `wait_until`: poll a condition with short waits, up to a deadline (no fixed sleeps).
- `serve`: warroom served by uvicorn in a thread on 127.0.0.1, over HTTP or HTTPS.
- `make_tls`: a throwaway CA and a server certificate for 127.0.0.1 (needs `cryptography`).
- `admin_token`: a bearer token of the built-in admin user.
- `Program`: a child process whose output goes to a log file, ended at teardown.
- `start_alertmanager`: Debian's Alertmanager with a given config, ready to use.
- `scraped_exporter`: Debian's Prometheus scraping a prometheus-client collector the test
  serves, once a PromQL count says it has scraped enough.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
import yaml

from tests.conftest import free_port
from warroom.auth.service import create_token
from warroom.core.clock import SystemClock
from warroom.db.session import Database
from warroom.org.service import user_by_name

T = TypeVar("T")
POLL_SECONDS = 0.2


def require_program(path: Path, package: str) -> None:
    """Skips the test when `path` is missing, naming the Debian package; fails under CI."""
    if path.exists() and os.access(path, os.X_OK):
        return
    msg = f"{path} is missing: install Debian's package `{package}` (apt-get install {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def wait_until(
    check: Callable[[], T | None],
    what: str,
    timeout: float = 30.0,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Calls `check` until it returns something truthy (returned) or `timeout` passes."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        pause.wait(POLL_SECONDS)
    extra = f"\n{diagnose()}" if diagnose else ""
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}{extra}")


def admin_token(db: Database) -> str:
    with db.session() as s:
        return create_token(s, SystemClock(), role="admin", user=user_by_name(s, "admin"))


@dataclass
class Tls:
    certfile: Path
    keyfile: Path
    client_context: ssl.SSLContext  # trusts only the throwaway CA


def make_tls(directory: Path) -> Tls:
    """A CA and a certificate for 127.0.0.1 and localhost signed by it, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name("warroom test CA"))
        .issuer_name(name("warroom test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    certfile, keyfile = directory / "server.pem", directory / "server.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(
        cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return Tls(certfile, keyfile, context)


@contextmanager
def serve(app: Any, tls: Tls | None = None) -> Iterator[str]:
    """Serves `app` on 127.0.0.1 (HTTPS when `tls` is given); yields its base URL.

    The lifespan runs, so the app's shutdown (which stops the ingest writer threads)
    happens before the caller's database is disposed."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(tls.certfile) if tls else None,
        ssl_keyfile=str(tls.keyfile) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="warroom-e2e-server", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the warroom server", 10)
    assert server.started, "the warroom server did not start"
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class Program:
    """A child process with its output in `log`; `stop()` ends it (TERM, then KILL)."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = args
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self, tail: int = 4000) -> str:
        text = self.log.read_text(errors="replace")
        return f"--- {Path(self.args[0]).name} output (exit {self.proc.poll()}) ---\n{text[-tail:]}"

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._out.close()


ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
AMTOOL = Path("/usr/bin/amtool")
ALERTMANAGER_PACKAGE = "prometheus-alertmanager"


def start_alertmanager(
    config: dict[str, Any], directory: Path, deadline: float
) -> tuple[Any, Program]:
    """Debian's Alertmanager with `config` (checked by amtool first), its data in
    `directory`, on a free port of 127.0.0.1, ready (`/-/ready`) within `deadline`
    seconds. Returns an httpx client for its API and the program; the caller stops both.
    Skips (fails under CI=true) when the package is missing."""
    import httpx
    import yaml

    require_program(ALERTMANAGER, ALERTMANAGER_PACKAGE)
    require_program(AMTOOL, ALERTMANAGER_PACKAGE)
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run(
        [str(AMTOOL), "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    storage = directory / "am-data"
    storage.mkdir()
    port = free_port()
    program = Program(
        [
            str(ALERTMANAGER),
            f"--config.file={path}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        directory / "alertmanager.log",
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, trust_env=False)

    def ready() -> bool:
        if not program.alive():
            raise AssertionError(f"alertmanager exited\n{program.output()}")
        try:
            return client.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, "alertmanager to be ready", deadline, program.output)
    except BaseException:
        client.close()
        program.stop()
        raise
    return client, program


PROMETHEUS = Path("/usr/bin/prometheus")


@contextmanager
def scraped_exporter(
    tmp: Path,
    collector: Any,
    *,
    job: str,
    ready: str,
    samples: int,
    timeout: float = 60.0,
) -> Iterator[tuple[str, Program]]:
    """Serves `collector` on a free port, starts Debian's Prometheus scraping it every
    second as `job`, and yields (Prometheus base URL, its Program) once the PromQL `ready`
    (a count) reaches `samples`. Stops both at the end."""
    from prometheus_client import CollectorRegistry, start_http_server

    require_program(PROMETHEUS, "prometheus")
    registry = CollectorRegistry()
    registry.register(collector)
    exporter_port = free_port()
    httpd, _ = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {
                        "job_name": job,
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                    }
                ],
            }
        )
    )
    program = Program(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp / "prometheus.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, trust_env=False, timeout=5) as c:

            def scraped() -> bool:
                if not program.alive():
                    raise AssertionError(f"prometheus exited\n{program.output()}")
                try:
                    r = c.get("/api/v1/query", params={"query": ready})
                except httpx.TransportError:
                    return False
                result = r.json()["data"]["result"] if r.status_code == 200 else []
                return bool(result) and float(result[0]["value"][1]) >= samples

            wait_until(scraped, f"{samples} scrapes of the exporter", timeout, program.output)
        yield base, program
    finally:
        program.stop()
        httpd.shutdown()
        httpd.server_close()
