"""`warroom serve --tls-cert FILE --tls-key FILE` serves HTTPS itself, and `--public-url`
is where every absolute link points.

The server is the real command in a child process, with a self-signed certificate made
here; httpx verifies it against exactly that certificate. The refusals run the command
in-process: they must stop before a store is opened.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import free_port
from tests.e2e._programs import Program, wait_until
from warroom.cli.main import main

PUBLIC = "https://warroom.example"


@dataclass
class SelfSigned:
    cert: Path
    key: Path
    pem: str


def self_signed(directory: Path) -> SelfSigned:
    """A certificate for 127.0.0.1 signed by its own key, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSigned(directory / "cert.pem", directory / "key.pem", pem.decode())


def _env(store: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WARROOM_") or k == "WARROOM_TEST_STORES"
    }
    env["WARROOM_DATABASE_URL"] = f"sqlite:///{store}"
    return env


@dataclass
class Served:
    url: str
    token: str
    password: str
    context: ssl.SSLContext


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    tls = self_signed(tmp_path)
    port = free_port()
    program = Program(
        [
            sys.executable,
            "-m",
            "warroom.cli.main",
            "serve",
            "--port",
            str(port),
            "--no-engine",
            "--tls-cert",
            str(tls.cert),
            "--tls-key",
            str(tls.key),
            "--public-url",
            PUBLIC + "/",
        ],
        tmp_path / "serve.log",
        env=_env(tmp_path / "warroom.db"),
    )
    context = ssl.create_default_context(cadata=tls.pem)
    url = f"https://127.0.0.1:{port}"

    def up() -> bool:
        if not program.alive():
            raise AssertionError(program.output())
        try:
            return httpx.get(f"{url}/healthz", verify=context, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, "warroom serve over HTTPS", diagnose=program.output)
        out = program.output()
        token = re.search(r"WARROOM_TOKEN=(\S+)", out)
        password = re.search(r"user: admin\s+password: (\S+)", out)
        assert token and password, out
        assert f"Serving on {url}" in out and f"Public URL: {PUBLIC}" in out
        assert f"export WARROOM_URL={PUBLIC} " in out
        yield Served(url, token.group(1), password.group(1), context)
    finally:
        program.stop()


def test_serves_https_with_the_certificate_and_links_use_the_public_url(served: Served) -> None:
    with httpx.Client(base_url=served.url, verify=served.context, trust_env=False) as http:
        login = http.get("/login")
        assert login.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf
        form = {"login": "admin", "password": served.password, "csrf": csrf.group(1)}
        signed_in = http.post("/login", data=form)
        assert signed_in.status_code == 303, signed_in.text
        # An HTTPS site's session cookie is Secure.
        session = [c for c in signed_in.headers.get_list("set-cookie") if "wr_session=" in c]
        assert session and "secure" in session[0].lower(), session
        rss = http.get("/status/history.rss")
        assert rss.status_code == 200
        assert f"<link>{PUBLIC}/status</link>" in rss.text
        assert f'href="{PUBLIC}/status/history.rss"' in rss.text
        summary = http.get("/api/v2/summary.json").json()
        assert summary["page"]["url"] == f"{PUBLIC}/status"
        made = http.post(
            "/api/v1/integrations",
            json={"name": "prometheus", "kind": "alertmanager"},
            headers={"Authorization": f"Bearer {served.token}"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["endpoint"].startswith(f"{PUBLIC}/integrations/alertmanager/")
    # Plain HTTP is not served on that port, and a client that does not trust the
    # certificate refuses it.
    with pytest.raises(httpx.TransportError):
        httpx.get(served.url.replace("https:", "http:") + "/healthz", trust_env=False)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{served.url}/healthz", trust_env=False)


def _serve(tmp_path: Path, *args: str) -> tuple[int, str]:
    store = tmp_path / "warroom.db"
    result = CliRunner().invoke(main, ["serve", "--port", "1", *args], env=_env(store))
    assert not store.exists(), "the store was opened before the flags were checked"
    assert "password" not in result.output
    return result.exit_code, result.output


def test_a_missing_certificate_or_key_stops_serve_before_anything_starts(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    missing = str(tmp_path / "nope.pem")
    code, out = _serve(tmp_path, "--tls-cert", missing, "--tls-key", str(tls.key))
    assert code == 2 and "Invalid value for '--tls-cert'" in out and "nope.pem" in out
    code, out = _serve(tmp_path, "--tls-cert", str(tls.cert), "--tls-key", missing)
    assert code == 2 and "Invalid value for '--tls-key'" in out and "nope.pem" in out
    code, out = _serve(tmp_path, "--tls-cert", str(tls.cert))
    assert code == 2 and "--tls-cert needs --tls-key" in out
    code, out = _serve(tmp_path, "--tls-cert", str(tmp_path), "--tls-key", str(tls.key))
    assert code == 2 and "'--tls-cert'" in out


def test_an_unusable_certificate_or_public_url_stops_serve(tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    code, out = _serve(tmp_path, "--tls-cert", str(garbage), "--tls-key", str(tls.key))
    assert code == 2 and "'--tls-cert' / '--tls-key'" in out and "garbage.pem" in out
    (tmp_path / "other").mkdir()
    other = self_signed(tmp_path / "other")  # a key that is not the certificate's
    code, out = _serve(tmp_path, "--tls-cert", str(tls.cert), "--tls-key", str(other.key))
    assert code == 2 and "not a PEM certificate and its private key" in out
    before = os.environ.get("WARROOM_PUBLIC_URL")
    code, out = _serve(tmp_path, "--public-url", "warroom.example")
    assert code == 2 and "Invalid value for '--public-url'" in out
    # The refused value is not left in the environment for what runs next.
    assert os.environ.get("WARROOM_PUBLIC_URL") == before
