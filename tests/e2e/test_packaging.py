"""A plain install behaves like a checkout: the wheel that `python -m build` makes,
installed into a fresh virtual environment, runs `warroom serve --demo` from a folder
outside the repository and serves the demo incidents and the public status page.

The wheel is built once per session, from a copy of the checkout. To be fast and
offline-safe, the virtual environment sees this interpreter's packages
(`--system-site-packages`: the dependencies, and pip, so it is made `--without-pip`) and
only the wheel itself is installed (`pip install --no-deps --no-index`): nothing is
downloaded. The test checks that the venv imports the installed copy, not the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e._programs import Program, wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
STARTUP = 60.0  # seconds the installed server may take to migrate, load the demo and listen


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a fresh clone would not hold: caches, virtual environments, stores, and old
    build output (a stale *.egg-info/SOURCES.txt would add files the package data misses)."""
    return {
        n
        for n in names
        if n.startswith(".")
        or n.endswith((".egg-info", ".db", ".db-wal", ".db-shm"))
        or n in ("build", "dist", "__pycache__", "test-artifacts")
    }


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel (and the sdist it is built from) of the checkout as it is now."""
    source = tmp_path_factory.mktemp("source") / "warroom"
    shutil.copytree(REPO, source, symlinks=True, ignore=_not_sources)
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend comes from the test extra, so nothing is
    # downloaded. As by default, the wheel is built from the sdist, so a file missing
    # from the sdist is missing from the wheel too.
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), "."], source)
    assert len(list(out.glob("warroom-*.tar.gz"))) == 1
    (built,) = out.glob("warroom-*.whl")
    return built


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would point Python or warroom elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WARROOM_", "PYTHON", "PIP_")) and k != "VIRTUAL_ENV"
    }
    return {**env, "PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


@pytest.fixture
def venv(wheel: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh virtual environment with the wheel installed; yields its bin folder."""
    root = tmp_path / "venv"
    run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)],
        tmp_path,
    )
    python = root / "bin" / "python"
    if sys.prefix != sys.base_prefix:
        # The tests run in a virtual environment themselves (scripts/test's .venv), whose
        # packages --system-site-packages does not reach: name its folders in a .pth file.
        purelib = run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
        )
        Path(purelib.strip(), "_outer_packages.pth").write_text(
            "\n".join(site.getsitepackages()) + "\n"
        )
    # --force-reinstall: the checkout's own editable install of the same version is
    # visible here, and pip would otherwise count it as installed.
    run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--force-reinstall",
            "--root-user-action=ignore",
            str(wheel),
        ],
        tmp_path,
        clean_env(),
    )
    yield root / "bin"


def test_the_wheel_serves_the_demo_from_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert not elsewhere.resolve().is_relative_to(REPO)
    env = clean_env(WARROOM_DATABASE_URL=f"sqlite:///{elsewhere / 'demo.db'}")

    # The venv imports the installed copy, not the checkout.
    imported = run(
        [str(venv / "python"), "-c", "import warroom.demo; print(warroom.demo.__file__)"],
        elsewhere,
        env,
    ).strip()
    site_packages = (venv.parent / "lib").resolve()
    assert Path(imported).resolve().is_relative_to(site_packages), imported
    assert not Path(imported).resolve().is_relative_to(REPO), imported
    shown = run([str(venv / "warroom"), "example"], elsewhere, env).strip()
    assert Path(shown).resolve().is_relative_to(site_packages), shown
    run([str(venv / "warroom"), "example", "acme"], elsewhere, env)
    assert (elsewhere / "acme" / "statuspage.yaml").is_file()

    port = free_port()
    server = Program(
        [str(venv / "warroom"), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        tmp_path / "serve.log",
        cwd=elsewhere,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as http:

            def answers() -> httpx.Response | None:
                assert server.alive(), server.output()
                try:
                    r = http.get("/status")
                except httpx.TransportError:
                    return None
                return r if r.status_code == 200 else None

            page = wait_until(answers, "the installed warroom to serve", STARTUP, server.output)
            log = server.log.read_text()
            assert "Demo organisation loaded (3 sample incidents added)." in log, log
            token = re.search(r"WARROOM_TOKEN=(\S+)", log)
            assert token, log
            auth = {"Authorization": f"Bearer {token.group(1)}"}

            items = http.get("/api/v1/incidents", headers=auth).json()["items"]
            assert [i["title"] for i in items] == [
                "Delayed order confirmation emails",
                "Search latency above 2 s in eu-west",
                "Checkout API returning 503 for card payments",
            ]
            for name in (
                "Online store",
                "Checkout",
                "Payments",
                "Card payments",
                "Card payments failing",
            ):
                assert name in page.text, name
            components = http.get("/api/v2/components.json").json()["components"]
            assert {c["name"] for c in components} >= {"Online store", "Checkout", "PayPal"}
            public = http.get("/api/v2/incidents.json").json()["incidents"]
            assert [(p["name"], p["status"]) for p in public] == [
                ("Card payments failing", "resolved")
            ]
            assert len(public[0]["incident_updates"]) == 4
    finally:
        server.stop()
    assert (elsewhere / "demo.db").exists()
