"""The `warroom` CLI against a real HTTP server."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.conftest import LiveServer, free_port
from warroom.cli.main import main
from warroom.config import service as config
from warroom.config.loader import load
from warroom.core.clock import ManualClock
from warroom.db.session import Database

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme"

Run = Callable[..., Result]


@pytest.fixture
def cli(live_server: LiveServer, people: dict[str, str]) -> Run:
    """Runs `warroom ARGS` as TOKEN (a name from `people`, or a raw token)."""

    def run(
        *args: str, token: str = "alice", ok: bool = True, input: str | None = None, **env: str
    ) -> Result:
        environ = {
            "WARROOM_URL": live_server.url,
            "WARROOM_TOKEN": people.get(token, token),
            **env,
        }
        result = CliRunner().invoke(main, list(args), env=environ, input=input)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
            # A handled error: a message on stderr, no traceback.
            assert isinstance(result.exception, SystemExit), result.exception
            assert "Traceback" not in result.output
            # Commands that open the store first say which one.
            err = (
                result.stderr.split("\n", 1)[-1]
                if result.stderr.startswith("warroom store:")
                else result.stderr
            )
            assert err.startswith(("Error: ", "Usage: ")), result.stderr
        return result

    return run


@pytest.fixture
def org(db: Database, clock: ManualClock, people: dict[str, str]) -> None:
    """The example organisation (teams, services) on top of the `people` users."""
    with db.session() as s:
        config.apply(s, clock, load(EXAMPLE).data)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def declare(cli: Run, title: str = "Checkout errors", *args: str) -> dict[str, Any]:
    data: dict[str, Any] = as_json(cli("incident", "declare", title, *args, "--json"))
    return data


# --- incidents ------------------------------------------------------------------------------


def test_declare_with_every_option(cli: Run, org: None) -> None:
    out = cli(
        "incident",
        "declare",
        "Checkout errors for card payments",
        "--severity",
        "SEV-2",
        "--service",
        "checkout",
        "--service",
        "payments-api",
        "--impact",
        "Card payments fail for 20% of users",
        "--private",
        "--drill",
        "--started-at",
        "2026-03-02T08:30:00Z",
    ).stdout
    assert out.splitlines() == [
        "Declared INC-1 (SEV-2): Checkout errors for card payments",
        "War room: #inc-2026-03-02-checkout-errors-for-card-payments",
    ]
    inc = as_json(cli("incident", "show", "INC-1", "--json"))
    assert inc["services"] == ["checkout", "payments-api"]
    assert inc["private"] is True and inc["drill"] is True
    assert inc["impact_summary"] == "Card payments fail for 20% of users"
    assert inc["milestones"]["started"] == "2026-03-02T08:30:00Z"
    assert inc["milestones"]["declared"] == "2026-03-02T09:00:00Z"

    text = cli("incident", "show", "1").stdout
    assert "flags     private, drill" in text
    assert "services  checkout, payments-api" in text


def test_started_at_without_offset_is_utc(cli: Run) -> None:
    inc = declare(cli, "Slow search", "--severity", "SEV-3", "--started-at", "2026-03-02T08:15")
    assert inc["milestones"]["started"] == "2026-03-02T08:15:00Z"
    inc = declare(
        cli, "Slow login", "--severity", "SEV-3", "--started-at", "2026-03-02T10:15:00+02:00"
    )
    assert inc["milestones"]["started"] == "2026-03-02T08:15:00Z"


def test_declare_errors(cli: Run, org: None) -> None:
    r = cli("incident", "declare", "x", "--severity", "SEV-9", ok=False)
    assert "severity 'SEV-9' is not one of SEV-1, SEV-2, SEV-3, SEV-4" in r.stderr
    r = cli("incident", "declare", "x", "--severity", "SEV-2", "--service", "ledger", ok=False)
    assert "unknown service(s): ledger" in r.stderr
    r = cli("incident", "declare", "x", "--severity", "SEV-2", "--started-at", "soon", ok=False)
    assert "--started-at" in r.stderr
    r = cli("incident", "declare", "x", "--severity", "SEV-2", token="carol", ok=False)
    assert "needs the responder role" in r.stderr
    assert as_json(cli("incident", "list", "--json")) == []


def test_list_filters_table_and_json(cli: Run, org: None) -> None:
    declare(cli, "Checkout errors", "--severity", "SEV-2", "--service", "checkout")
    declare(cli, "Search is slow", "--severity", "SEV-3", "--service", "search")
    declare(cli, "Kafka lag", "--severity", "SEV-1")
    cli("incident", "resolve", "INC-2", "--summary", "Reindexed")

    lines = cli("incident", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "SEV", "STATUS", "TITLE", "SERVICES", "COMMANDER", "DECLARED"]
    assert [line.split()[0] for line in lines[1:]] == ["INC-3", "INC-2", "INC-1"]
    assert lines[3].split()[:5] == ["INC-1", "SEV-2", "investigating", "Checkout", "errors"]
    assert "checkout" in lines[3]

    rows = as_json(cli("incident", "list", "--status", "resolved", "--json"))
    assert [(i["id"], i["title"], i["status"]) for i in rows] == [
        ("INC-2", "Search is slow", "resolved")
    ]
    rows = as_json(cli("incident", "list", "--severity", "SEV-1", "--json"))
    assert [i["id"] for i in rows] == ["INC-3"]
    out = cli("incident", "list", "--status", "investigating", "--severity", "SEV-2").stdout
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["INC-1"]
    assert cli("incident", "list", "--severity", "SEV-4").stdout.splitlines()[-1] == "(none)"

    r = cli("incident", "list", "--status", "sleeping", ok=False)
    assert "status must be one of" in r.stderr


def test_list_pages_with_all(cli: Run) -> None:
    for n in range(3):
        declare(cli, f"Incident {n}", "--severity", "SEV-4")
    out = cli("incident", "list", "--limit", "2").stdout
    assert "(more: --all" in out
    rows = as_json(cli("incident", "list", "--limit", "2", "--all", "--json"))
    assert [i["id"] for i in rows] == ["INC-3", "INC-2", "INC-1"]


def test_show_text_and_json(cli: Run) -> None:
    declare(cli, "Checkout errors", "--severity", "SEV-2")
    text = cli("incident", "show", "INC-1").stdout
    assert text.splitlines()[0] == "INC-1  Checkout errors"
    assert "severity  SEV-2    status  investigating" in text
    assert "timeline" in text
    for ref in ("INC-1", "1", "inc-1"):
        inc = as_json(cli("incident", "show", ref, "--json"))
        assert inc["id"] == "INC-1"
        assert inc["title"] == "Checkout errors"
        assert inc["severity"] == "SEV-2"
        assert inc["status"] == "investigating"
        assert inc["timeline"][0]["actor"] == "alice"
    r = cli("incident", "show", "INC-42", ok=False)
    assert "HTTP 404" in r.stderr
    r = cli("incident", "show", "banana", ok=False)
    assert "HTTP 422" in r.stderr


def test_incident_lifecycle(cli: Run, org: None, clock: ManualClock) -> None:
    declare(cli, "Checkout errors", "--severity", "SEV-2", "--started-at", "2026-03-02T08:30:00Z")

    clock.advance(minutes=3)
    assert cli("incident", "role", "INC-1", "commander", "bob").stdout == (
        "INC-1: bob is commander\n"
    )
    cli("incident", "role", "1", "scribe", "dave")
    r = cli("incident", "role", "1", "boss", "dave", ok=False)
    assert "'boss' is not one of" in r.stderr
    r = cli("incident", "role", "1", "tech", "mallory", ok=False)
    assert "no user named 'mallory'" in r.stderr

    out = cli("incident", "log", "INC-1", "Rolling back the deploy", "--kind", "decision").stdout
    assert out.startswith("Logged event ") and "2026-03-02T09:03:00Z" in out

    assert cli("incident", "status", "1", "identified", "--note", "bad deploy").stdout == (
        "INC-1 is identified\n"
    )
    assert cli("incident", "severity", "1", "SEV-1").stdout == "INC-1 is SEV-1\n"
    r = cli("incident", "severity", "1", "SEV-3", ok=False)
    assert r.stderr == (
        "Error: downgrading from SEV-1 to SEV-3 needs a reason (when in doubt, escalate):"
        " pass --reason TEXT\n"
    )
    assert as_json(cli("incident", "show", "1", "--json"))["severity"] == "SEV-1"
    out = cli("incident", "severity", "1", "SEV-3", "--reason", "only EU affected").stdout
    assert out == "INC-1 is SEV-3\n"

    clock.advance(minutes=42)
    out = cli("incident", "resolve", "INC-1", "--summary", "Rolled back").stdout
    assert out == "INC-1 resolved after 75 min\n"

    inc = as_json(cli("incident", "show", "INC-1", "--json"))
    assert inc["status"] == "resolved"
    assert inc["severity"] == "SEV-3"
    assert inc["roles"]["commander"] == "bob"
    assert inc["roles"]["scribe"] == "dave"
    kinds = {(e["kind"], e["text"]) for e in inc["timeline"]}
    assert ("decision", "Rolling back the deploy") in kinds
    texts = " | ".join(e["text"] for e in inc["timeline"])
    assert "only EU affected" in texts
    assert "Rolled back" in texts
    text = cli("incident", "show", "INC-1").stdout
    assert "commander bob" in text
    assert "decision" in text and "Rolling back the deploy" in text


# --- users, services, tokens ----------------------------------------------------------------


def test_user_create_and_list(cli: Run) -> None:
    out = cli(
        "user",
        "create",
        "zoe",
        "--email",
        "zoe@example.test",
        "--role",
        "viewer",
        "--timezone",
        "Europe/Paris",
        token="admin",
    ).stdout
    assert out == "Created user zoe (viewer)\n"
    lines = cli("user", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "EMAIL", "TIMEZONE", "ROLE", "ACTIVE"]
    assert ["zoe", "zoe@example.test", "Europe/Paris", "viewer", "True"] in [
        line.split() for line in lines
    ]
    users = {u["name"]: u for u in as_json(cli("user", "list", "--json"))}
    assert users["zoe"]["role"] == "viewer"

    r = cli("user", "create", "zoe", "--email", "z2@example.test", token="admin", ok=False)
    assert "a user named 'zoe' exists already" in r.stderr
    r = cli("user", "create", "zed", "--email", "zed@example.test", ok=False)
    assert "needs the admin role" in r.stderr
    r = cli(
        "user",
        "create",
        "yan",
        "--email",
        "yan@x.test",
        "--timezone",
        "Moon",
        token="admin",
        ok=False,
    )
    assert "timezone 'Moon' is not an IANA time zone" in r.stderr
    r = cli("user", "create", "yan", "--email", "yan@x.test", "--role", "root", ok=False)
    assert "'root' is not one of" in r.stderr


def test_service_list_and_show(cli: Run, org: None) -> None:
    lines = cli("service", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "OWNER", "TIER", "DEPENDS", "ON"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["checkout"] == ["payments", "1", "payments-api,postgres-main"]
    assert rows["kafka"] == ["platform", "1"]
    assert len(rows) == 6

    kafka = cli("service", "show", "kafka").stdout.splitlines()
    assert kafka[0] == "kafka  (tier 1, owner platform)"
    assert "  used by     notifications, payments-api, search" in kafka
    checkout = cli("service", "show", "checkout").stdout
    assert "  depends on  payments-api, postgres-main" in checkout
    assert "  runbook     https://runbooks.acme.example/checkout" in checkout
    data = as_json(cli("service", "show", "checkout", "--json"))
    assert data["depends_on"] == ["payments-api", "postgres-main"]

    r = cli("service", "show", "ledger", ok=False)
    assert "no service named 'ledger'" in r.stderr


def test_token_create_against_the_store(cli: Run, store_url: str, live_server: LiveServer) -> None:
    r = cli(
        "token",
        "create",
        "--role",
        "responder",
        "--user",
        "alice",
        "--json",
        token="",
        WARROOM_DATABASE_URL=store_url,
    )
    data = as_json(r)
    assert data["role"] == "responder" and data["user"] == "alice"
    tok = data["token"]
    inc = declare_as(cli, tok)
    assert inc["timeline"][0]["actor"] == "alice"

    tok = cli("token", "create", "--role", "viewer", token="", WARROOM_DATABASE_URL=store_url)
    viewer = tok.stdout.strip()
    assert [i["id"] for i in as_json(cli("incident", "list", "--json", token=viewer))] == ["INC-1"]
    r = cli("incident", "declare", "x", "--severity", "SEV-4", token=viewer, ok=False)
    assert "needs the responder role; the token has viewer" in r.stderr

    r = cli(
        "token",
        "create",
        "--role",
        "admin",
        "--user",
        "mallory",
        WARROOM_DATABASE_URL=store_url,
        ok=False,
    )
    assert "no user named 'mallory'" in r.stderr


def declare_as(cli: Run, token: str) -> dict[str, Any]:
    r = cli("incident", "declare", "Via a new token", "--severity", "SEV-3", "--json", token=token)
    data: dict[str, Any] = json.loads(r.stdout)
    return data


# --- config as code -------------------------------------------------------------------------


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """The example organisation without its alerting, on-call, paging and status page
    sections (tested on their own)."""
    target = tmp_path / "conf"
    shutil.copytree(EXAMPLE, target)
    (target / "alerting.yaml").unlink()
    (target / "oncall.yaml").unlink()
    (target / "paging.yaml").unlink()
    (target / "statuspage.yaml").unlink()
    services = target / "services.yaml"
    lines = services.read_text().splitlines(keepends=True)
    services.write_text("".join(x for x in lines if "escalation_policy:" not in x))
    return target


def test_apply_plan_then_apply(cli: Run, conf: Path) -> None:
    out = cli("apply", str(conf), "--dry-run", token="admin").stdout
    lines = out.splitlines()
    assert "  + create team payments" in lines
    assert "  + create service checkout" in lines
    assert "  ~ update user alice (email, full_name, role)" in lines
    assert "  + create SLO checkout-availability" in lines
    assert lines[-1].startswith("Plan: 13 to create, ")  # 11, and the example's two SLOs
    assert as_json(cli("service", "list", "--json")) == []

    out = cli("apply", str(conf), token="admin").stdout
    assert out.splitlines()[-1] == lines[-1].replace("Plan: ", "Applied: ")
    assert len(as_json(cli("service", "list", "--json"))) == 6

    out = cli("apply", str(conf), token="admin").stdout
    assert out == "No changes: the live config matches.\n"

    services = conf / "services.yaml"
    services.write_text(
        services.read_text()
        .replace("    tier: 3\n", "    tier: 2\n")
        .replace("    description: Event bus\n", "")
    )
    data = as_json(cli("apply", str(conf), "--dry-run", "--json", token="admin"))
    assert data["applied"] is False
    assert {(c["action"], c["name"], tuple(c["fields"])) for c in data["changes"]} == {
        ("update", "notifications", ("tier",)),
        ("update", "kafka", ("description",)),
    }
    out = cli("apply", str(services), token="admin").stdout
    assert "  ~ update service notifications (tier)" in out
    assert out.splitlines()[-1] == "Applied: 2 to update"


def test_apply_reports_file_line_and_field(cli: Run, conf: Path, org: None) -> None:
    services = conf / "services.yaml"
    original = services.read_text()
    before = cli("export", token="admin").stdout

    services.write_text(original.replace("owner: discovery", "owner: discovry"))
    r = cli("apply", str(conf), token="admin", ok=False)
    assert r.stderr.splitlines() == [
        "Error: config is invalid, nothing was changed:",
        f"{services}:16: services[2].owner: unknown team 'discovry'",
    ]

    services.write_text(original.replace("    tier: 3\n", "    tier: three\n"))
    r = cli("apply", str(conf), "--dry-run", token="admin", ok=False)
    assert f"{services}:23: services[3].tier: Input should be a valid integer" in r.stderr

    people = conf / "people.yaml"
    people.write_text(people.read_text().replace("Asia/Singapore", "Asia/Atlantis"))
    services.write_text(original.replace("[kafka]", "[kafka, redis]"))
    r = cli("apply", str(conf), token="admin", ok=False)
    assert f"{people}:4: users[2].timezone: timezone 'Asia/Atlantis'" in r.stderr
    assert f"{services}:18: services[2].depends_on[1]: unknown service 'redis'" in r.stderr
    assert cli("export", token="admin").stdout == before


def test_apply_reports_yaml_errors_and_unknown_sections(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  - name: api\n    depends_on: [db\n  - name: db\n")
    r = cli("apply", str(bad), token="admin", ok=False)
    assert f"{bad}:4: invalid YAML" in r.stderr

    bad.write_text("services: []\nalerts:\n  - name: x\n")
    r = cli("apply", str(bad), token="admin", ok=False)
    assert f"{bad}:2: unknown section 'alerts'" in r.stderr

    r = cli("apply", str(tmp_path / "missing.yaml"), token="admin", ok=False)
    assert "no such file or folder" in r.stderr


def test_apply_refuses_to_delete_a_service_with_incidents(cli: Run, conf: Path, org: None) -> None:
    declare(cli, "Emails delayed", "--severity", "SEV-3", "--service", "notifications")
    services = conf / "services.yaml"
    doc = yaml.safe_load(services.read_text())
    doc["services"] = [s for s in doc["services"] if s["name"] != "notifications"]
    services.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = cli("apply", str(conf), token="admin", ok=False)
    assert f"{services}:1: services: service 'notifications' has incidents" in r.stderr
    assert cli("service", "show", "notifications").stdout.startswith("notifications")


def test_apply_needs_admin(cli: Run, conf: Path) -> None:
    r = cli("apply", str(conf), ok=False)
    assert "needs the admin role" in r.stderr


def test_export_then_apply_is_a_no_op(cli: Run, org: None, tmp_path: Path) -> None:
    text = cli("export", token="admin").stdout
    exported = yaml.safe_load(text)
    assert {s["name"] for s in exported["services"]} >= {"checkout", "kafka"}
    out_file = tmp_path / "live.yaml"
    assert cli("export", "-o", str(out_file), token="admin").stdout == f"Wrote {out_file}\n"
    assert out_file.read_text() == text
    out = cli("apply", str(out_file), token="admin").stdout
    assert out == "No changes: the live config matches.\n"


# --- errors ---------------------------------------------------------------------------------


def test_readable_errors(cli: Run) -> None:
    r = cli("incident", "list", token="", ok=False)
    assert "WARROOM_TOKEN is not set" in r.stderr
    r = cli("incident", "list", token="wr_not-a-token", ok=False)
    assert "the bearer token is not valid (HTTP 401)" in r.stderr
    closed = f"http://127.0.0.1:{free_port()}"
    r = cli("incident", "list", WARROOM_URL=closed, ok=False)
    assert f"cannot reach warroom at {closed}" in r.stderr
    r = cli("incident", "nonsense", ok=False)
    assert "No such command 'nonsense'" in r.stderr


def test_token_create_with_an_unreachable_store(cli: Run) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://warroom:secret@127.0.0.1:{port}/warroom"
    r = cli("token", "create", "--role", "admin", WARROOM_DATABASE_URL=url, ok=False)
    assert r.stderr.startswith(
        f"Error: cannot open the store postgresql://warroom:***@127.0.0.1:{port}/warroom"
    )
    assert "secret" not in r.stderr
    r = cli("token", "create", "--role", "admin", WARROOM_DATABASE_URL="nonsense", ok=False)
    assert "cannot open the store 'nonsense'" in r.stderr


def test_apply_prints_new_integration_keys_once(cli: Run, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "acme")
    out = cli("apply", str(tmp_path / "acme"), token="admin").stdout
    keys = [line for line in out.splitlines() if "key for integration" in line]
    assert len(keys) == 2 and "prometheus (shown once): " in keys[0]
    assert len(keys[0].rsplit(" ", 1)[1]) == 32
    pings = [line for line in out.splitlines() if "heartbeat ping secret" in line]
    assert len(pings) == 2 and all(line.rsplit(" ", 1)[1].startswith("hb_") for line in pings)
    again = cli("apply", str(tmp_path / "acme"), token="admin").stdout
    assert again == "No changes: the live config matches.\n"
