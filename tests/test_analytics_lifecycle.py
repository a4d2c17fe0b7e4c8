"""Analytics kept by the lifecycle, on both stores: repeats, the phase milestones and their
durations against seed 003's targets, and facts that always equal a rebuild."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import T0, Api, LiveServer
from warroom.analytics import queries
from warroom.analytics.facts import backfill
from warroom.analytics.models import IncidentFact, IncidentFactMonth, IncidentFactService
from warroom.cli.main import main
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.org.models import Service

MIN = timedelta(minutes=1)


def declare(api: Api, **kw: Any) -> dict[str, Any]:
    body = {"title": "Checkout failing", "severity": "SEV-2", **kw}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def summary(api: Api, **params: str) -> dict[str, Any]:
    r = api.get(
        "/api/v1/analytics/summary",
        params={"from": "2026-03-01", "to": "2026-04-01", **params},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def facts_rows(db: Database) -> tuple[list[Any], list[Any]]:
    with db.session() as s:
        f = [
            tuple(getattr(r, c.name) for c in IncidentFact.__table__.columns)
            for r in s.scalars(select(IncidentFact).order_by(IncidentFact.incident_id))
        ]
        fs = [
            tuple(getattr(r, c.name) for c in IncidentFactService.__table__.columns)
            for r in s.scalars(
                select(IncidentFactService).order_by(
                    IncidentFactService.incident_id, IncidentFactService.service_id
                )
            )
        ]
    return f, fs


def month_rows(db: Database) -> list[Any]:
    """The monthly rollup without its empty rows (a fact moved away leaves zeros)."""
    with db.session() as s:
        rows = [
            tuple(
                round(getattr(r, c.name), 6)
                if isinstance(getattr(r, c.name), float)
                else getattr(r, c.name)
                for c in IncidentFactMonth.__table__.columns
            )
            for r in s.scalars(select(IncidentFactMonth))
        ]
    return sorted(r for r in rows if r[5] != 0)


def rounded(rows: list[Any]) -> list[Any]:
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows]


def test_repeat_mark_and_rate(alice: Api, carol: Api, admin: Api, clock: ManualClock) -> None:
    first = declare(alice, title="Disk full on db-1")
    clock.advance(hours=1)
    second = declare(alice, title="Disk full on db-1 again")
    third = declare(alice, title="Unrelated")
    path = f"/api/v1/incidents/{second['id']}/repeat"

    r = alice.patch(path, json={"of": first["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["repeat_of"] == "INC-1"
    events = alice.get(f"/api/v1/incidents/{second['id']}").json()["timeline"]
    assert events[-1]["text"] == "alice marked this a repeat of INC-1"
    assert events[-1]["data"] == {"repeat_of": "INC-1", "previous": None}
    # the same mark again writes nothing
    n = len(events)
    assert alice.patch(path, json={"of": "1"}).status_code == 200
    assert len(alice.get(f"/api/v1/incidents/{second['id']}").json()["timeline"]) == n

    # 1 of 3 incidents is a repeat
    rate = summary(carol)["rates"]["repeat_rate"]
    assert rate == {"percent": 33.3, "part": 1, "whole": 3, "target": None, "met": None}
    assert summary(carol)["not_measured"] == []

    # bad input: the field is named, nothing is written
    for body, status in (
        ({"of": second["id"]}, 422),  # itself
        ({"of": third["id"]}, 422),  # declared after it
        ({"of": "INC-99"}, 404),
        ({"of": "banana"}, 422),
    ):
        r = alice.patch(path, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["field"] == "of"
    assert alice.patch(path, json={}).status_code == 422
    # a viewer may not mark: the service layer refuses
    r = carol.patch(path, json={"of": first["id"]})
    assert r.status_code == 403

    r = alice.patch(path, json={"of": None})
    assert r.status_code == 200 and r.json()["repeat_of"] is None
    last = alice.get(f"/api/v1/incidents/{second['id']}").json()["timeline"][-1]
    assert last["text"] == "alice cleared the repeat mark (was INC-1)"
    assert summary(carol)["rates"]["repeat_rate"]["part"] == 0


def test_phase_milestones_and_durations(
    alice: Api, carol: Api, admin: Api, clock: ManualClock
) -> None:
    # SEV-1: detected 3 min before declaration (triage 3 < 5: met); identified after
    # 20 min (mitigation started 20 > 15: missed); an external update 2 min later (2 < 5)
    three_before = "2026-03-02T08:57:00Z"
    inc = declare(alice, severity="SEV-1", started_at=three_before, detected_at=three_before)
    ref = inc["id"]
    clock.advance(minutes=20)
    r = alice.post(f"/api/v1/incidents/{ref}/status", json={"status": "identified"})
    assert r.status_code == 200, r.text
    assert r.json()["milestones"]["mitigation_started"] == "2026-03-02T09:20:00Z"
    clock.advance(minutes=2)
    r = alice.post(
        f"/api/v1/incidents/{ref}/updates", json={"template": "status", "audience": "external"}
    )
    assert r.status_code in (200, 201), r.text
    detail = alice.get(f"/api/v1/incidents/{ref}").json()
    assert detail["milestones"]["customers_informed"] == "2026-03-02T09:22:00Z"
    assert detail["timeline"][-1]["text"] == "Customers informed at 2026-03-02T09:22:00Z"
    # a later external update leaves the first one's time
    clock.advance(minutes=5)
    alice.post(
        f"/api/v1/incidents/{ref}/updates", json={"template": "status", "audience": "external"}
    )
    detail = alice.get(f"/api/v1/incidents/{ref}").json()
    assert detail["milestones"]["customers_informed"] == "2026-03-02T09:22:00Z"

    # SEV-1 again: triage 9 min (missed), mitigation started by hand 6 min after
    # declaration, customers told before it (counts as 0)
    clock.advance(minutes=60)
    base = clock.now()
    nine_before = (base - 9 * MIN).isoformat()
    other = declare(alice, severity="SEV-1", started_at=nine_before, detected_at=nine_before)["id"]
    clock.advance(minutes=10)
    for name, at in (
        ("customers_informed", base + 1 * MIN),
        ("mitigation_started", base + 6 * MIN),
    ):
        r = alice.post(
            f"/api/v1/incidents/{other}/milestones",
            json={"milestone": name, "at": at.isoformat()},
        )
        assert r.status_code == 200, r.text

    body = summary(carol, severity="SEV-1")
    sev1 = next(b for b in body["by_severity"] if b["severity"] == "SEV-1")
    assert sev1["phases"]["triage"] == {
        "n": 2,
        "mean_minutes": 6.0,
        "median_minutes": 6.0,
        "p90_minutes": 8.4,
        "target_minutes": 5.0,
        "met": False,
    }
    assert sev1["phases"]["mitigation_start"] == {
        "n": 2,
        "mean_minutes": 13.0,
        "median_minutes": 13.0,
        "p90_minutes": 18.6,
        "target_minutes": 15.0,
        "met": True,
    }
    assert sev1["phases"]["customer_comms"] == {
        "n": 2,
        "mean_minutes": 1.0,
        "median_minutes": 1.0,
        "p90_minutes": 1.8,
        "target_minutes": 5.0,
        "met": True,
    }
    # filtered to one severity, the overall phases carry its targets
    assert body["phases"]["triage"]["target_minutes"] == 5.0
    # mixed severities share no phase target
    everything = summary(carol)
    assert everything["phases"]["triage"]["target_minutes"] is None  # severities differ
    sev4 = next(b for b in everything["by_severity"] if b["severity"] == "SEV-4")
    assert sev4["phases"]["customer_comms"] == {
        "n": 0,
        "mean_minutes": None,
        "median_minutes": None,
        "p90_minutes": None,
        "target_minutes": None,  # seed 003: best effort
        "met": None,
    }
    assert sev4["phases"]["triage"]["target_minutes"] == 120.0


def test_phase_targets_are_config(admin: Api, alice: Api, carol: Api) -> None:
    cfg = yaml.safe_load(admin.get("/api/v1/config/export").text)
    for sev in cfg["severities"]:
        if sev["name"] == "SEV-2":
            sev.setdefault("targets", {})["phase_triage_minutes"] = 7
    r = admin.post("/api/v1/config/apply", json={"config": cfg})
    assert r.status_code == 200, r.text
    declare(alice)
    sev2 = next(b for b in summary(carol)["by_severity"] if b["severity"] == "SEV-2")
    assert sev2["phases"]["triage"]["target_minutes"] == 7.0
    assert sev2["phases"]["mitigation_start"]["target_minutes"] == 30.0
    cfg["severities"][0].setdefault("targets", {})["phase_triage_minutes"] = 0
    r = admin.post("/api/v1/config/apply", json={"config": cfg})
    assert r.status_code == 422 and "phase_triage_minutes" in r.text


def test_status_page_post_informs_customers(alice: Api, admin: Api, clock: ManualClock) -> None:
    ref = declare(alice, severity="SEV-2")["id"]
    clock.advance(minutes=4)
    r = alice.post(
        "/api/v1/status/incidents",
        json={"incident": ref, "body": "We are looking into failed checkouts."},
    )
    assert r.status_code in (200, 201), r.text
    ms = alice.get(f"/api/v1/incidents/{ref}").json()["milestones"]
    assert ms["customers_informed"] == "2026-03-02T09:04:00Z"


def test_facts_follow_every_change(
    db: Database, alice: Api, admin: Api, clock: ManualClock
) -> None:
    with db.session() as s:
        s.add_all([Service(name="api"), Service(name="web")])
    a = declare(alice, services=["api"], severity="SEV-3")["id"]
    b = declare(alice, services=["api", "web"], private=True)["id"]
    clock.advance(minutes=7)
    alice.post(f"/api/v1/incidents/{a}/ack")
    alice.post(f"/api/v1/incidents/{a}/status", json={"status": "monitoring"})
    alice.post(f"/api/v1/incidents/{b}/severity", json={"severity": "SEV-1"})
    alice.patch(f"/api/v1/incidents/{a}", json={"services": ["web", "api"], "private": True})
    alice.patch(f"/api/v1/incidents/{b}/repeat", json={"of": a})
    clock.advance(minutes=3)
    alice.post(f"/api/v1/incidents/{a}/resolve", json={"summary": "fixed"})
    alice.post(
        f"/api/v1/incidents/{b}/milestones",
        json={"milestone": "started", "at": (T0 - 30 * MIN).isoformat()},
    )
    live = facts_rows(db)
    live_months = month_rows(db)
    assert len(live[0]) == 2 and len(live[1]) == 4
    with db.session() as s:
        backfill(s.connection())
    rebuilt = facts_rows(db)
    assert rounded(live[0]) == rounded(rebuilt[0])
    assert live[1] == rebuilt[1]
    assert live_months == month_rows(db)
    by_id = {row[0]: row for row in live[0]}
    cols = [c.name for c in IncidentFact.__table__.columns]
    fa = dict(zip(cols, by_id[1], strict=True))
    assert fa["private"] is True and fa["mtta"] == 7.0 and fa["mttm"] == 7.0
    assert fa["mttr"] == 10.0 and fa["mitigation_start"] == 7.0
    fb = dict(zip(cols, by_id[2], strict=True))
    assert fb["severity"] == "SEV-1" and fb["is_repeat"] is True and fb["mttd"] == 30.0


def _run(server: LiveServer, token: str, *args: str) -> Any:
    return CliRunner().invoke(
        main, list(args), env={"WARROOM_URL": server.url, "WARROOM_TOKEN": token}
    )


def test_cli_repeat(live_server: LiveServer, people: dict[str, str], alice: Api) -> None:
    declare(alice)
    declare(alice)
    token = people["alice"]
    r = _run(live_server, token, "incident", "repeat", "INC-2", "--of", "INC-1")
    assert r.exit_code == 0, r.output
    assert r.output == "INC-2 repeats INC-1\n"
    r = _run(live_server, token, "incident", "repeat", "INC-2", "--clear", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["repeat_of"] is None
    r = _run(live_server, token, "incident", "repeat", "INC-1", "--of", "INC-2")
    assert r.exit_code != 0 and "declared after" in r.output
    r = _run(live_server, token, "incident", "repeat", "INC-1")
    assert r.exit_code != 0 and "--of" in r.output


@pytest.mark.parametrize("ref", ["INC-1"])
def test_cli_show_prints_the_repeat(
    live_server: LiveServer, people: dict[str, str], alice: Api, ref: str
) -> None:
    declare(alice)
    declare(alice)
    alice.patch("/api/v1/incidents/INC-2/repeat", json={"of": ref})
    r = _run(live_server, people["alice"], "incident", "show", "INC-2")
    assert r.exit_code == 0, r.output
    assert "  repeats   INC-1\n" in r.output


def test_whole_months_come_from_the_rollup(
    db: Database,
    alice: Api,
    bob: Api,
    admin: Api,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Incidents over four months (private ones among them, one moved to another month,
    one severity changed): a range of whole months and partial edges answers the same from
    the rollup as from the facts alone, for an admin and for a responder."""
    refs = []
    for k in range(9):
        clock.advance(hours=24 * 11 + 5)
        ref = declare(
            alice if k % 3 else bob,
            severity=("SEV-1", "SEV-2", "SEV-3")[k % 3],
            private=k % 4 == 0,
            detection_source=("customer_report", "automated_alert")[k % 2],
        )["id"]
        refs.append(ref)
        clock.advance(minutes=3 + k)
        alice.post(f"/api/v1/incidents/{ref}/ack") if k % 4 else bob.post(
            f"/api/v1/incidents/{ref}/ack"
        )
        if k % 2:
            clock.advance(minutes=20 + k)
            (alice if k % 4 else bob).post(
                f"/api/v1/incidents/{ref}/resolve", json={"summary": "ok"}
            )
    alice.post(f"/api/v1/incidents/{refs[2]}/severity", json={"severity": "SEV-1"})
    alice.post(
        f"/api/v1/incidents/{refs[3]}/milestones",
        json={"milestone": "declared", "at": "2026-03-03T10:00:00Z"},
    )
    alice.patch(f"/api/v1/incidents/{refs[5]}/repeat", json={"of": refs[1]})
    params = {"from": "2026-03-10T12:00:00Z", "to": "2026-06-20"}
    fast = {
        who: api.get("/api/v1/analytics/summary", params=params).json()
        for who, api in (("admin", admin), ("alice", alice))
    }
    monkeypatch.setattr(queries, "_whole_months", lambda start, end: None)
    slow = {
        who: api.get("/api/v1/analytics/summary", params=params).json()
        for who, api in (("admin", admin), ("alice", alice))
    }
    assert fast == slow
    assert fast["admin"]["incident_count"] > fast["alice"]["incident_count"] > 0
