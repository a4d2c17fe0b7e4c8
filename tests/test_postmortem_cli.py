"""`warroom postmortem ...` and `warroom action ...` against a live server: write,
review, publish, export, lint; action items; --json everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import LiveServer
from warroom.cli.main import main
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker

Run = Callable[..., Result]


@pytest.fixture
def cli(live_server: LiveServer, people: dict[str, str]) -> Run:
    def run(*args: str, ok: bool = True, token: str = "alice", stdin: str | None = None) -> Result:
        env = {"WARROOM_URL": live_server.url, "WARROOM_TOKEN": people[token]}
        result = CliRunner().invoke(main, list(args), env=env, input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_write_review_publish_and_export_from_the_cli(
    cli: Run, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    cli("incident", "declare", "Checkout errors", "--severity", "SEV-1")
    clock.advance(minutes=40)
    cli("incident", "resolve", "INC-1", "--summary", "Rolled back")
    Worker(db, clock).run_due()
    d = json.loads(cli("postmortem", "show", "INC-1", "--json").output)
    assert d["status"] == "draft" and d["owner"] == "alice"
    assert d["due_at"] == "2026-03-04T09:40:00Z"
    assert "[not recorded: affected share]" in d["content"]["impact"]
    impact = tmp_path / "impact.md"
    impact.write_text("- 12% of checkouts failed for 40 minutes\n")
    out = cli(
        "postmortem",
        "edit",
        "INC-1",
        "--file",
        f"impact={impact}",
        "--set",
        "root_cause=The canary stage was off for config changes.",
        "--why",
        "Why did checkout fail? => A bad config shipped.",
        "--why",
        "Why did it ship? => Config skips the canary.",
        "--why",
        "Why does it skip? => The pipeline treats config as data.",
        "--factor",
        "config-bomb",
        "--json",
    ).output
    assert json.loads(out)["gate"] == [
        {"field": "action_items", "message": json.loads(out)["gate"][0]["message"]}
    ]
    item = json.loads(
        cli(
            "action",
            "create",
            "INC-1",
            "Canary for config",
            "--owner",
            "alice",
            "--due",
            "2026-03-20",
            "--priority",
            "P1",
            "--kind",
            "prevent",
            "--json",
        ).output
    )
    assert item["priority"] == "P1" and item["due_at"] == "2026-03-20T23:59:59Z"
    assert "postmortem in_review (revision 1)" in cli("postmortem", "submit", "INC-1").output
    again = cli("postmortem", "submit", "INC-1", ok=False)
    assert again.exit_code != 0 and "only a draft is submitted (HTTP 409)" in again.output
    cli("postmortem", "approve", "INC-1", "--comment", "Clear", token="bob")
    r = cli("postmortem", "publish", "INC-1")
    assert "published" in r.output
    assert (
        json.loads(cli("postmortem", "list", "--status", "published", "--json").output)[0][
            "incident"
        ]
        == "INC-1"
    )
    md = cli("postmortem", "export", "INC-1", "--format", "markdown").output
    assert "## Impact" in md and "12% of checkouts failed" in md
    page = tmp_path / "pm.html"
    cli("postmortem", "export", "INC-1", "--format", "html", "-o", str(page))
    assert "<h2>Impact</h2>" in page.read_text()


def test_lint_a_file_or_stdin_exits_1_on_findings(cli: Run, tmp_path: Path) -> None:
    f = tmp_path / "draft.md"
    f.write_text("Dave rolled back at 14:32.\nKim broke the build.\n")
    r = cli("postmortem", "lint", str(f), ok=False)
    assert r.exit_code == 1
    assert f'{f}:2:1: named-failure: "Kim broke"' in r.output
    r = cli("postmortem", "lint", "-", "--json", ok=False, stdin="Who approved this deploy?")
    assert r.exit_code == 1
    assert json.loads(r.output)["findings"][0]["rule"] == "who-question"
    assert (
        "no blaming language"
        in cli("postmortem", "lint", "-", stdin="We should add a check.").output
    )


def test_action_items_list_and_done(cli: Run) -> None:
    cli("incident", "declare", "Disk full", "--severity", "SEV-3")
    cli(
        "action",
        "create",
        "INC-1",
        "Disk alerts at 80%",
        "--owner",
        "alice",
        "--due",
        "2026-03-01",
        "--priority",
        "P2",
    )
    cli("action", "create", "INC-1", "Log rotation", "--owner", "bob")
    rows = json.loads(cli("action", "list", "--owner", "alice", "--json").output)
    assert [r["title"] for r in rows] == ["Disk alerts at 80%"] and rows[0]["overdue"]
    assert len(json.loads(cli("action", "list", "--overdue", "--json").output)) == 1
    out = cli("action", "done", str(rows[0]["id"])).output
    assert "(done;" in out
    assert json.loads(cli("action", "list", "--overdue", "--json").output) == []
    r = cli("action", "create", "INC-1", "x", "--priority", "P9", ok=False)
    assert r.exit_code != 0 and "P9" in r.output
