"""SLOs on both stores: config as code, budget spent by incidents (weights, drills,
overlaps), the gate and its exceptions with who may grant them, and the evaluator's
burn alerts through warroom's own intake, with the injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from tests.conftest import Api
from tests.paging_support import Receiver, apply, declare, organisation
from warroom.core.clock import ManualClock, iso
from warroom.db.session import Database
from warroom.engine.models import Job
from warroom.engine.worker import Worker

SLO = {"name": "checkout-availability", "service": "checkout", "objective": 99.9, "window": "30d"}


def org_with(hook: Receiver, *slos: dict[str, Any]) -> dict[str, Any]:
    doc = organisation(hook)
    doc["slos"] = list(slos)
    return doc


@pytest.fixture
def org(admin: Api) -> Iterator[Receiver]:
    with Receiver() as hook:
        apply(admin, org_with(hook, SLO))
        yield hook


@pytest.fixture
def worker(db: Database, clock: ManualClock) -> Worker:
    return Worker(db, clock)


def slo(api: Api, name: str = "checkout-availability") -> dict[str, Any]:
    r = api.get(f"/api/v1/slos/{name}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def gate(api: Api, service: str = "checkout") -> dict[str, Any]:
    r = api.get("/api/v1/slos/gate", params={"service": service})
    assert r.status_code == 200, r.text
    return dict(r.json())


def outage(api: Api, clock: ManualClock, minutes: float, **kw: Any) -> dict[str, Any]:
    """A customer-facing incident whose impact started `minutes` ago and is mitigated now."""
    started = clock.now() - timedelta(minutes=minutes)
    inc = declare(api, customer_facing=True, started_at=iso(started), **kw)
    r = api.post(
        f"/api/v1/incidents/{inc['id']}/milestones",
        json={"milestone": "mitigated", "at": iso(clock.now())},
    )
    assert r.status_code == 200, r.text
    return inc


def test_a_new_slo_has_the_seeds_budget_and_spends_nothing_yet(
    admin: Api, carol: Api, org: Receiver
) -> None:
    s = slo(carol)
    assert s["budget_minutes"] == 43.2 and s["consumed_minutes"] == 0
    assert s["remaining_percent"] == 100 and s["exhausted"] is False
    assert set(s["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert gate(carol)["state"] == "go"
    listed = carol.get("/api/v1/slos", params={"service": "checkout"}).json()
    assert [x["name"] for x in listed] == ["checkout-availability"]


def test_customer_facing_incidents_spend_at_their_affected_share(
    alice: Api, org: Receiver, clock: ManualClock
) -> None:
    inc = outage(alice, clock, 12)
    s = slo(alice)
    assert s["consumed_minutes"] == 12 and s["consumed_percent"] == pytest.approx(27.78)
    assert s["unweighted"] is True  # no share recorded: counted at 100%, and the page says so
    assert s["incidents"][0]["incident"] == inc["id"] and s["incidents"][0]["weighted"] is False
    r = alice.patch(f"/api/v1/incidents/{inc['id']}", json={"affected_percent": 25})
    assert r.status_code == 200 and r.json()["affected_percent"] == 25
    s = slo(alice)
    assert s["consumed_minutes"] == 3 and s["unweighted"] is False
    # clearing the share counts it in full again
    alice.patch(f"/api/v1/incidents/{inc['id']}", json={"affected_percent": None})
    assert slo(alice)["consumed_minutes"] == 12


@pytest.mark.parametrize("value", [0, -5, 100.5, "half", True])
def test_an_affected_share_out_of_range_is_refused_naming_the_field(
    alice: Api, org: Receiver, value: Any
) -> None:
    inc = declare(alice, customer_facing=True)
    r = alice.patch(f"/api/v1/incidents/{inc['id']}", json={"affected_percent": value})
    assert r.status_code == 422
    assert "affected_percent" in r.text
    assert alice.get(f"/api/v1/incidents/{inc['id']}").json()["affected_percent"] is None


def test_drills_internal_incidents_and_other_services_spend_nothing(
    admin: Api, alice: Api, org: Receiver, clock: ManualClock
) -> None:
    outage(alice, clock, 30, drill=True)
    started = iso(clock.now() - timedelta(minutes=30))
    declare(alice, started_at=started)  # not customer-facing
    assert slo(alice)["consumed_minutes"] == 0


def test_overlapping_incidents_spend_each_minute_once(
    alice: Api, org: Receiver, clock: ManualClock
) -> None:
    first = declare(
        alice, customer_facing=True, started_at=iso(clock.now() - timedelta(minutes=20))
    )
    second = declare(
        alice, customer_facing=True, started_at=iso(clock.now() - timedelta(minutes=10))
    )
    clock.advance(minutes=5)
    s = slo(alice)  # both still open: 25 minutes of impact, not 40
    assert s["consumed_minutes"] == 25
    assert {i["incident"] for i in s["incidents"]} == {first["id"], second["id"]}


def test_an_exhausted_budget_freezes_releases_until_an_exception_is_granted(
    admin: Api, alice: Api, bob: Api, carol: Api, org: Receiver, clock: ManualClock
) -> None:
    outage(alice, clock, 50)
    g = gate(carol)
    assert g["go"] is False and g["state"] == "freeze"
    assert "50.00 of 43.20 budget minutes spent (115.7%)" in g["reasons"][0]
    assert g["slos"][0]["exhausted"] is True
    until = iso(clock.now() + timedelta(hours=4))
    body = {"service": "checkout", "kind": "p0", "reason": "card fix", "expires_at": until}
    # a viewer may not, and neither may someone outside the owning team
    assert carol.post("/api/v1/slos/exceptions", json=body).status_code == 403
    r = alice.post("/api/v1/slos/exceptions", json={**body, "kind": "feature"})
    assert r.status_code == 422 and "kind" in r.text
    past = {**body, "expires_at": iso(clock.now() - timedelta(minutes=1))}
    r = alice.post("/api/v1/slos/exceptions", json=past)
    assert r.status_code == 422 and r.json()["field"] == "expires_at"
    r = alice.post("/api/v1/slos/exceptions", json=body)
    assert r.status_code == 201, r.text
    ex = r.json()
    assert ex["granted_by"] == "alice" and ex["expires_at"] == until
    g = gate(carol)
    assert g["go"] is True and g["state"] == "exception" and g["exception"]["id"] == ex["id"]
    assert any("granted by alice" in reason for reason in g["reasons"])
    # it ends at its expiry
    clock.advance(hours=4)
    assert gate(carol)["state"] == "freeze"
    # a second one, revoked, lets nothing through; revoking twice is a conflict
    body["expires_at"] = iso(clock.now() + timedelta(hours=1))
    ex2 = alice.post("/api/v1/slos/exceptions", json=body).json()
    assert gate(carol)["go"] is True
    r = bob.post(f"/api/v1/slos/exceptions/{ex2['id']}/revoke")
    assert r.status_code == 200 and r.json()["revoked_by"] == "bob"
    assert gate(carol)["state"] == "freeze"
    assert bob.post(f"/api/v1/slos/exceptions/{ex2['id']}/revoke").status_code == 409
    listed = carol.get("/api/v1/slos/exceptions", params={"service": "checkout"}).json()
    assert [e["id"] for e in listed] == [ex2["id"], ex["id"]]
    audit = admin.get("/api/v1/audit").json()
    actions = [e["action"] for e in (audit["items"] if isinstance(audit, dict) else audit)]
    assert "slo.exception.grant" in actions and "slo.exception.revoke" in actions


def test_a_service_without_slos_goes_and_an_unknown_one_is_a_404(
    admin: Api, carol: Api, org: Receiver
) -> None:
    apply(admin, {"services": [{"name": "checkout", "owner": "payments"}, {"name": "search"}]})
    g = gate(carol, "search")
    assert g["go"] is True and g["state"] == "no-slo"
    r = carol.get("/api/v1/slos/gate", params={"service": "nope"})
    assert r.status_code == 404 and r.json()["field"] == "service"
    assert carol.get("/api/v1/slos/nope").json()["field"] == "slo"


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({**SLO, "service": "nope"}, "slos[0].service"),
        ({**SLO, "window": "thirty days"}, "slos[0].window"),
        ({**SLO, "objective": 100}, "slos[0].objective"),
        ({**SLO, "source": "prometheus"}, "slos[0].prometheus"),
        (
            {**SLO, "source": "prometheus", "prometheus": {"url": "http://p", "total": "t"}},
            "slos[0].prometheus",
        ),
        (
            {**SLO, "prometheus": {"url": "http://p", "total": "t", "bad": "b"}},
            "slos[0].prometheus",
        ),
    ],
)
def test_bad_slo_config_is_refused_naming_the_entry_and_field(
    admin: Api, entry: dict[str, Any], where: str
) -> None:
    with Receiver() as hook:
        r = admin.post("/api/v1/config/apply", json={"config": org_with(hook, entry)})
    assert r.status_code == 422, r.text
    assert where in r.text
    assert admin.get("/api/v1/slos").json() == []


def test_export_applies_as_a_no_op_and_a_service_with_slos_is_not_deleted(
    admin: Api, org: Receiver
) -> None:
    exported = yaml.safe_load(admin.get("/api/v1/config/export").text)
    assert exported["slos"] == [
        {
            **SLO,
            "calendar": None,
            "source": "incidents",
            "budgeting": "occurrences",
            "description": "",
            "prometheus": None,
        }
    ]
    r = admin.post(
        "/api/v1/config/apply", json={"config": {"slos": exported["slos"]}, "dry_run": True}
    )
    assert r.status_code == 200 and r.json()["changes"] == [], r.text
    r = admin.post("/api/v1/config/apply", json={"config": {"services": [{"name": "search"}]}})
    assert r.status_code == 422 and "SLO" in r.text


def alerts(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/alerts").json()["items"])


def test_a_fast_burn_raises_an_alert_that_becomes_a_ticket_and_then_resolves(
    alice: Api, org: Receiver, worker: Worker, clock: ManualClock, db: Database
) -> None:
    inc = declare(alice, customer_facing=True, started_at=iso(clock.now()))
    clock.advance(minutes=10)
    worker.run_due()
    assert slo(alice)["alert"] == "page"
    burn = [a for a in alerts(alice) if a["labels"].get("alertname") == "ErrorBudgetBurn"]
    assert (
        len(burn) == 1 and burn[0]["labels"]["burn"] == "page" and burn[0]["status"] != "resolved"
    )
    assert "checkout-availability is burning its error budget fast" in burn[0]["summary"]
    # the outage is already an incident: the burn opens no second one, the room is told
    listed = alice.get("/api/v1/incidents").json()["items"]
    assert [i["id"] for i in listed] == [inc["id"]]
    notes = [e["text"] for e in alice.get(f"/api/v1/incidents/{inc['id']}").json()["timeline"]]
    assert any(
        t.startswith("Error budget: checkout-availability is burning 167x as fast") for t in notes
    )
    # mitigated: the short spans cool down first, the long ones keep a ticket open
    alice.post(
        f"/api/v1/incidents/{inc['id']}/milestones",
        json={"milestone": "mitigated", "at": iso(clock.now())},
    )
    for _ in range(40):
        clock.advance(minutes=1)
        worker.run_due()
    assert slo(alice)["alert"] == "ticket"
    burn = [a for a in alerts(alice) if a["labels"].get("alertname") == "ErrorBudgetBurn"]
    assert {a["labels"]["burn"] for a in burn if a["status"] != "resolved"} == {"ticket"}
    # three days later nothing burns: the alert resolves
    clock.advance(days=3)
    worker.run_due()
    clock.advance(minutes=1)
    worker.run_due()
    assert slo(alice)["alert"] is None
    assert all(a["status"] == "resolved" for a in alerts(alice) if a["labels"].get("slo"))
    with db.read() as s:  # one chain, and its finished runs do not pile up
        runs = s.scalar(select(func.count()).select_from(Job).where(Job.kind == "slo_evaluate"))
        pending = s.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == "slo_evaluate", Job.state == "pending")
        )
    assert pending == 1 and runs <= 3


def test_removing_every_slo_ends_the_chain_and_resolves_the_alert(
    admin: Api, alice: Api, org: Receiver, worker: Worker, clock: ManualClock, db: Database
) -> None:
    declare(alice, customer_facing=True, started_at=iso(clock.now()))
    clock.advance(minutes=10)
    worker.run_due()
    assert slo(alice)["alert"] == "page"
    apply(admin, {"slos": []})
    assert all(a["status"] == "resolved" for a in alerts(alice) if a["labels"].get("slo"))
    clock.advance(minutes=2)
    worker.run_due()
    with db.read() as s:
        pending = s.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == "slo_evaluate", Job.state == "pending")
        )
    assert pending == 0


def test_an_incident_spending_over_20_percent_needs_a_postmortem_with_a_p0_item(
    alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    # SEV-4 on its own needs no postmortem; 12 minutes at 100% is 27.8% of 43.2 minutes.
    inc = declare(
        alice,
        severity="SEV-4",
        customer_facing=True,
        started_at=iso(clock.now() - timedelta(minutes=12)),
    )
    r = alice.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"summary": "Rolled back."})
    assert r.status_code == 200, r.text
    worker.run_due()
    pm = alice.get(f"/api/v1/postmortems/{inc['id']}").json()
    assert pm["requirement"] == "required"
    assert "spent 27.78% of an error budget, more than 20%" in pm["reasons"]
    assert "checkout-availability: 12.0 minutes, 28% of the 30d budget" in pm["content"]["impact"]
    assert "(at 100%: no affected share)" in pm["content"]["impact"]
    assert any(
        p["field"] == "action_items" and p["message"].endswith("it needs a P0 action item")
        for p in pm["gate"]
    )
    r = alice.post(
        "/api/v1/action-items",
        json={
            "incident": inc["id"],
            "title": "Canary the checkout deploys",
            "owner": "alice",
            "due": "2026-03-20",
            "priority": "P1",
            "kind": "prevent",
        },
    )
    assert r.status_code == 201, r.text
    pm = alice.get(f"/api/v1/postmortems/{inc['id']}").json()
    assert any("P0 action item" in p["message"] for p in pm["gate"])
    alice.patch(f"/api/v1/action-items/{r.json()['id']}", json={"priority": "P0"})
    pm = alice.get(f"/api/v1/postmortems/{inc['id']}").json()
    assert not any("P0 action item" in p["message"] for p in pm["gate"])


def test_a_small_spend_adds_no_requirement(
    alice: Api, org: Receiver, worker: Worker, clock: ManualClock
) -> None:
    inc = declare(
        alice,
        severity="SEV-4",
        customer_facing=True,
        started_at=iso(clock.now() - timedelta(minutes=8)),  # 18.5%
    )
    alice.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"summary": "Rolled back."})
    worker.run_due()
    assert alice.get(f"/api/v1/postmortems/{inc['id']}").status_code == 404


def test_the_slo_pages_show_the_gate_budget_burndown_and_the_incidents(
    alice: Api, client: Any, org: Receiver, clock: ManualClock, db: Database
) -> None:
    from tests.test_web import give_password, login, text_of

    inc = outage(alice, clock, 50)
    alice.patch(f"/api/v1/incidents/{inc['id']}", json={"affected_percent": 50})
    clock.advance(hours=1)
    give_password(db, "alice")
    login(client, "alice")
    r = client.get("/slos")
    assert r.status_code == 200
    text = text_of(r.text)
    assert "checkout GO go 1 42.1%" in text  # 25 of 43.2 minutes spent (50% of 50 minutes)
    assert '<a href="/slos">SLOs</a>' in r.text
    page = client.get("/slos/checkout")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Release gate: GO (go)" in text
    assert "42.1% left : 25.00 of 43.20 minutes spent (57.9%)" in text
    assert f"{inc['id']}" in text and "50% 25.00 min (57.9%)" in text
    assert page.text.count('<svg class="burndown"') == 1
    assert f'<a href="/incidents/{inc["id"][4:]}"><rect' in page.text
    assert client.get("/slos/nope").status_code == 404


def test_declaring_an_outage_evaluates_at_once_and_drills_do_not(
    alice: Api, org: Receiver, worker: Worker, clock: ManualClock, db: Database
) -> None:
    worker.run_due()  # the chain's first run, started by the apply
    clock.advance(seconds=5)
    declare(
        alice, drill=True, customer_facing=True, started_at=iso(clock.now() - timedelta(minutes=30))
    )
    with db.read() as s:
        due = s.scalars(
            select(Job.due_at).where(Job.kind == "slo_evaluate", Job.state == "pending")
        ).all()
    assert [d > clock.now() for d in due] == [True]  # only the next minute's run
    inc = declare(alice, customer_facing=True, started_at=iso(clock.now() - timedelta(minutes=10)))
    worker.run_due()  # no time passes: the declaration brought the evaluation forward
    assert slo(alice)["alert"] == "page"
    notes = [e["text"] for e in alice.get(f"/api/v1/incidents/{inc['id']}").json()["timeline"]]
    assert any(t.startswith("Error budget: checkout-availability is burning") for t in notes)


def test_the_room_shows_what_the_incident_spent_and_takes_the_affected_share(
    alice: Api, carol: Api, client: Any, org: Receiver, clock: ManualClock, db: Database
) -> None:
    from tests.test_web import csrf_of, give_password, login, text_of

    inc = outage(alice, clock, 12)
    number = inc["id"][4:]
    give_password(db, "alice")
    login(client, "alice")
    page = client.get(f"/incidents/{number}")
    text = text_of(page.text)
    assert "Error budget checkout-availability : 12.0 minutes, 28% of the 30d budget" in text
    assert "(at 100%: no affected share recorded)" in text
    form = {"csrf": csrf_of(page.text), "affected_percent": "25%"}
    r = client.post(f"/incidents/{number}/affected", data=form)
    assert r.status_code in (200, 303)
    text = text_of(client.get(f"/incidents/{number}").text)
    assert "checkout-availability : 3.0 minutes, 7% of the 30d budget" in text
    assert "Changed affected share to 25%" in text
    form["affected_percent"] = "lots"
    r = client.post(f"/incidents/{number}/affected", data=form, follow_redirects=True)
    assert "affected_percent must be a number" in text_of(r.text)
    assert alice.get(f"/api/v1/incidents/{inc['id']}").json()["affected_percent"] == 25
