"""`warroom incident update` against a live server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import LiveServer
from warroom.cli.main import main

Run = Callable[..., Result]


@pytest.fixture
def cli(live_server: LiveServer, people: dict[str, str]) -> Run:
    def run(*args: str, ok: bool = True, token: str = "alice") -> Result:
        env = {"WARROOM_URL": live_server.url, "WARROOM_TOKEN": people[token]}
        result = CliRunner().invoke(main, list(args), env=env)
        assert (result.exit_code == 0) == ok, result.output
        return result

    return run


def test_update_previews_then_posts(cli: Run) -> None:
    cli("incident", "declare", "Checkout errors", "--severity", "SEV-2", "--json")
    r = cli("incident", "update", "INC-1", "--template", "status", "--preview")
    assert r.stdout.startswith("INC-1 update (SEV-2, investigating): Checkout errors")
    assert "warning: not recorded: impact summary" in r.stderr
    assert "nothing was posted" in r.stderr
    shown = json.loads(cli("incident", "show", "1", "--json").stdout)
    assert [e for e in shown["timeline"] if e["kind"] == "communication"] == []

    r = cli("incident", "update", "1", "--template", "status", "--text", "Rolling back.", "--json")
    out = json.loads(r.stdout)
    assert out["preview"] is False and "Rolling back." in out["text"]
    assert out["event"]["kind"] == "communication" and out["event"]["data"]["template"] == "status"
    assert out["delivery"] == "none"
    r = cli("incident", "update", "1", "--template", "tweet", ok=False)
    assert "Invalid value for '--template'" in r.stderr


def test_config_apply_names_file_line_and_field_of_a_broken_template(
    cli: Run, tmp_path: Path
) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(
        "templates:\n"
        "  - name: status\n"
        "    body: |\n"
        "      {{ id }}\n"
        "      {% for x in service_list %}{{ x }}\n"
    )
    r = cli("apply", str(path), ok=False, token="admin")
    assert f"{path}:3: templates[0].body: template does not compile" in r.stderr
    assert "(line 2 of the body)" in r.stderr
    path.write_text("templates:\n  - name: status\n    body: '{{ title }}: {{ impact_summary }}'\n")
    cli("apply", str(path), token="admin")
    r = cli("incident", "declare", "Down", "--severity", "SEV-3", "--json")
    r = cli("incident", "update", "1", "--preview")
    assert r.stdout.strip() == "Down: [not recorded: impact summary]"
