"""Every public module-level function of the service layer says in a docstring what it
guarantees its caller: what it returns or changes, which role it needs, what it refuses,
what it publishes. This test names each module and function that lacks one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "warroom"

# The service-layer modules, by file name, wherever they live in the package.
SERVICE_MODULES = (
    "service.py",
    "queries.py",
    "subscribers.py",
    "ingestion.py",
    "integrations.py",
    "silences.py",
    "changes.py",
    "timeline.py",
    "targets.py",
    "policies.py",
    "contacts.py",
    "handoff_service.py",
    "health_service.py",
)
# Status page modules named by what they hold.
SERVICE_MODULES += tuple(
    f"statuspage/{name}.py"
    for name in ("common", "page", "components", "incidents", "maintenance", "subscriptions")
)

# Packages not checked yet, each with why. Nothing else is skipped.
EXCLUDED: tuple[str, ...] = ()


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _excluded(path: Path) -> bool:
    rel = _relative(path)
    return any(rel == x or rel.startswith(x + "/") for x in EXCLUDED)


def _modules() -> list[Path]:
    return sorted(p for name in SERVICE_MODULES for p in PACKAGE.rglob(name) if not _excluded(p))


def _undocumented(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
        and not (ast.get_docstring(node) or "").strip()
    ]


def test_the_exclusions_name_existing_packages() -> None:
    for x in EXCLUDED:
        assert (ROOT / x).is_dir(), f"{x} is excluded but does not exist: drop it from EXCLUDED"


def test_service_modules_are_found() -> None:
    found = {_relative(p) for p in _modules()}
    assert "warroom/incidents/service.py" in found
    assert "warroom/paging/subscribers.py" in found
    assert not any(_excluded(ROOT / f) for f in found)


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_public_functions_have_docstrings(path: Path) -> None:
    module = _relative(path)[: -len(".py")].replace("/", ".")
    missing = _undocumented(path)
    assert not missing, "no docstring on: " + ", ".join(f"{module}.{name}" for name in missing)
