"""`warroom page|escalation|contact` against a real HTTP server; pages land on a real local
webhook receiver. The engine is run by hand; time is moved, never slept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Api, LiveServer, make_token
from tests.paging_support import SECRET, Receiver, apply, declare, organisation
from warroom.cli.main import main
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker


@pytest.fixture
def org(admin: Api) -> Iterator[Receiver]:
    with Receiver() as hook:
        apply(admin, organisation(hook))
        yield hook


@pytest.fixture
def worker(db: Database, clock: ManualClock) -> Worker:
    return Worker(db, clock)


@pytest.fixture
def cli(live_server: LiveServer, people: dict[str, str]) -> Any:
    def run(who: str, *args: str, ok: bool = True) -> Result:
        env = {"WARROOM_URL": live_server.url, "WARROOM_TOKEN": people.get(who, who)}
        result = CliRunner().invoke(main, list(args), env=env)
        assert (result.exit_code == 0) is ok, result.output
        return result

    return run


def test_list_show_ack_and_resolve_pages(
    cli: Any, bob: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    declare(bob)
    worker.run_due()
    lines = cli("alice", "page", "list").output.splitlines()
    assert " ".join(lines[0].split()) == "ID STATE PAGED FOR POLICY LEVEL NEXT STEP"
    assert " ".join(lines[1].split()) == (
        "1 triggered INC-1 Card payments fail payments 1/2 pass 1/1 2026-03-02 09:05 UTC"
    )
    [row] = json.loads(cli("alice", "page", "list", "--json").output)
    assert row["id"] == 1 and row["state"] == "triggered"
    assert cli("alice", "page", "list", "--state", "resolved").output.endswith("(none)\n")
    assert "INC-1" in cli("alice", "page", "list", "--user", "alice").output
    assert "(none)" in cli("alice", "page", "list", "--user", "bob").output
    assert "INC-1" in cli("alice", "page", "list", "--incident", "INC-1").output
    r = cli("alice", "page", "list", "--user", "nobody", ok=False)
    assert "no user named 'nobody' (HTTP 404)" in r.output

    shown = cli("alice", "page", "show", "1").output
    assert shown.startswith("page 1  INC-1 Card payments fail\n")
    assert "  state            triggered\n" in shown
    assert "  level            1/2 pass 1/1\n" in shown
    assert (
        "  notification 1: alice by webhook [sent] level 1, pass 1 (schedule payments)\n"
        "    attempt 1 2026-03-02 09:00:00 UTC ok: webhook answered HTTP 200\n"
    ) in shown
    assert "notification 2: alice by webhook [pending]" in shown
    assert json.loads(cli("alice", "page", "show", "1", "--json").output)["notifications"]

    clock.advance(minutes=1)
    r = cli("alice", "page", "ack", "1")
    assert r.output == "page 1 acknowledged by alice: INC-1 Card payments fail\n"
    assert "skipped: acknowledged by alice" in cli("alice", "page", "show", "1").output
    assert cli("carol", "page", "resolve", "1", ok=False).output.endswith("(HTTP 403)\n")
    assert cli("alice", "page", "resolve", "1").output.startswith("page 1 resolved")
    r = cli("alice", "page", "ack", "1", ok=False)
    assert "page 1 is already resolved (HTTP 409)" in r.output
    assert "page 99 not found (HTTP 404)" in cli("alice", "page", "show", "99", ok=False).output


def test_paging_people_for_an_incident(cli: Any, alice: Api, org: Receiver, worker: Worker) -> None:
    declare(alice, services=[])
    r = cli("alice", "page", "incident", "INC-1", "--user", "bob", "--user", "alice")
    assert r.output == "Paging bob, alice for INC-1 (page 1)\n"
    worker.run_due()
    assert len(org.at("/bob")) == 1 and len(org.at("/alice")) == 1
    r = cli("alice", "page", "incident", "INC-1", "--policy", "payments", "--json")
    assert json.loads(r.output)["policy"] == "payments"
    assert (
        "give either --policy or --user" in cli("alice", "page", "incident", "1", ok=False).output
    )
    r = cli("alice", "page", "incident", "1", "--policy", "nope", ok=False)
    assert "no escalation policy named 'nope' (HTTP 404)" in r.output
    r = cli("alice", "page", "incident", "INC-7", "--user", "bob", ok=False)
    assert "incident INC-7 not found (HTTP 404)" in r.output


def test_escalation_list_and_show(cli: Any, org: Receiver) -> None:
    lines = cli("carol", "escalation", "list").output.splitlines()
    assert " ".join(lines[1].split()) == "payments 2 0 payments checkout Checkout and payments"
    shown = cli("carol", "escalation", "show", "payments").output
    assert shown == (
        "escalation policy payments: Checkout and payments\n"
        "  level 1: schedule payments; after 5 min escalate\n"
        "  level 2: user bob; after 10 min escalate\n"
        "  repeat           0 more pass(es) after the last level\n"
        "  fallback         payments\n"
        "  services         checkout\n"
    )
    [policy] = json.loads(cli("carol", "escalation", "list", "--json").output)
    assert policy["name"] == "payments"
    assert "(HTTP 404)" in cli("carol", "escalation", "show", "nope", ok=False).output


def test_contact_show_and_test(
    cli: Any, db: Database, clock: ManualClock, org: Receiver, people: dict[str, str]
) -> None:
    shown = cli("alice", "contact", "show").output
    assert shown.startswith("contact methods of alice:\n")
    assert f"phone  webhook  {org.url}/alice" in shown and "signed" in shown
    assert "  after 0 min: phone\n  after 5 min: pager\n" in shown
    assert json.loads(cli("alice", "contact", "show", "--json").output)["contact_methods"][0][
        "secret"
    ] == (SECRET)
    r = cli("bob", "contact", "show", "alice", ok=False)
    assert "only admins may read another user's contact methods (HTTP 403)" in r.output
    shown = cli("admin", "contact", "show", "dave").output
    assert "(no methods: pages go to the account email dave@example.test)" in shown
    unbound = make_token(db, clock, "admin")
    r = cli(unbound, "contact", "show", ok=False)
    assert "this token acts for no user" in r.output

    r = cli("alice", "contact", "test", "phone")
    assert r.output.startswith("Sent a test notification to alice by webhook (phone):\n")
    assert "  delivered\n" in r.output
    [hit] = org.at("/alice")
    assert hit.signed_by(SECRET) and hit.json()["event"] == "test"
    assert f"idempotency key: {hit.headers['idempotency-key']}" in r.output
    org.failing["/alice"] = 503
    r = cli("alice", "contact", "test", "phone", ok=False)
    assert (
        "test notification through 'phone': failed: the receiver did not accept the message"
        in r.output
    )
    r = cli("alice", "contact", "test", "sms", ok=False)
    assert "no contact method named 'sms'" in r.output
    assert "delivered" in cli("admin", "contact", "test", "hook", "--user", "bob").output
    assert len(org.at("/bob")) == 1
