"""The incident lifecycle through the REST API."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def declare(api: Api, **kw: Any) -> dict[str, Any]:
    body = {"title": "Checkout failing", "severity": "SEV-2", **kw}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_declare_returns_short_id_channel_and_declaration_event(alice: Api) -> None:
    inc = declare(alice, title="Payments down: card auth failing!", severity="SEV-1")
    assert inc["id"] == "INC-1"
    assert inc["status"] == "investigating"
    assert inc["severity"] == "SEV-1"
    assert inc["channel"] == "#inc-2026-03-02-payments-down-card-auth-failing"
    assert inc["timeline"][0]["kind"] == "status"
    assert inc["timeline"][0]["actor"] == "alice"
    assert inc["timeline"][0]["at"].endswith("Z")
    assert inc["milestones"]["declared"] == "2026-03-02T09:00:00Z"
    assert inc["milestones"]["detected"] == "2026-03-02T09:00:00Z"
    assert inc["detection_source"] == "internal_report"


def test_show_accepts_both_id_forms(alice: Api) -> None:
    declare(alice)
    for ref in ("INC-1", "inc-1", "1"):
        r = alice.get(f"/api/v1/incidents/{ref}")
        assert r.status_code == 200
        assert r.json()["id"] == "INC-1"
    assert alice.get("/api/v1/incidents/INC-99").status_code == 404
    r = alice.get("/api/v1/incidents/banana")
    assert r.status_code == 422 and r.json()["field"] == "incident_id"


def test_backdated_start_and_duration(alice: Api, clock: Any) -> None:
    inc = declare(alice, started_at="2026-03-02T08:30:00Z")
    assert inc["milestones"]["started"] == "2026-03-02T08:30:00Z"
    assert inc["duration_seconds"] == 30 * 60
    clock.advance(minutes=15)
    assert alice.get("/api/v1/incidents/1").json()["duration_seconds"] == 45 * 60


def test_roles_history_and_ic_milestone(alice: Api, clock: Any) -> None:
    declare(alice)
    clock.advance(minutes=2)
    r = alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "bob"})
    assert r.status_code == 200, r.text
    assert r.json()["roles"]["commander"] == "bob"
    assert r.json()["milestones"]["ic_assigned"] == "2026-03-02T09:02:00Z"
    clock.advance(minutes=5)
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    alice.post("/api/v1/incidents/1/roles", json={"role": "sme", "user": "dave"})
    alice.post("/api/v1/incidents/1/roles", json={"role": "sme", "user": "erin"})
    inc = alice.get("/api/v1/incidents/1").json()
    assert inc["roles"]["commander"] == "alice"
    assert inc["roles"]["sme"] == ["dave", "erin"]
    hist = [(h["role"], h["user"], h["ended_at"]) for h in inc["role_history"]]
    assert hist[0] == ("commander", "bob", "2026-03-02T09:07:00Z")
    assert ("commander", "alice", None) in hist
    # IC assigned keeps the first assignment time
    assert inc["milestones"]["ic_assigned"] == "2026-03-02T09:02:00Z"
    texts = [e["text"] for e in inc["timeline"]]
    assert "alice is now Incident Commander (was bob)" in texts
    # events by the IC carry the role prefix
    r = alice.post("/api/v1/incidents/1/events", json={"text": "Rolling back", "kind": "decision"})
    assert r.json()["role"] == "commander"
    assert r.json()["role_title"] == "Incident Commander"


def test_span_of_control_warning(alice: Api) -> None:
    declare(alice)
    names = ["alice", "bob", "dave", "erin", "frank", "grace", "heidi"]
    for n in names:
        alice.post("/api/v1/incidents/1/roles", json={"role": "sme", "user": n})
    warnings = [
        e for e in alice.get("/api/v1/incidents/1").json()["timeline"] if e["kind"] == "warning"
    ]
    assert warnings == []
    alice.post("/api/v1/incidents/1/roles", json={"role": "sme", "user": "ivan"})
    inc = alice.get("/api/v1/incidents/1").json()
    warnings = [e for e in inc["timeline"] if e["kind"] == "warning"]
    assert len(warnings) == 1
    assert "8 active responders" in warnings[0]["text"]
    assert inc["active_responders"] == 8


def test_status_flow_sets_milestones_and_rejects_bad_moves(alice: Api, clock: Any) -> None:
    declare(alice)
    clock.advance(minutes=10)
    assert (
        alice.post("/api/v1/incidents/1/status", json={"status": "identified"}).status_code == 200
    )
    clock.advance(minutes=10)
    r = alice.post(
        "/api/v1/incidents/1/status", json={"status": "monitoring", "note": "rolled back"}
    )
    assert r.json()["milestones"]["mitigated"] == "2026-03-02T09:20:00Z"
    r = alice.post("/api/v1/incidents/1/status", json={"status": "closed"})
    assert r.status_code == 409
    assert "resolved" in r.json()["allowed"]
    clock.advance(minutes=10)
    r = alice.post("/api/v1/incidents/1/resolve", json={"summary": "Bad deploy rolled back"})
    inc = r.json()
    assert inc["status"] == "resolved"
    assert inc["milestones"]["resolved"] == "2026-03-02T09:30:00Z"
    assert inc["resolution_summary"] == "Bad deploy rolled back"
    assert inc["duration_seconds"] == 30 * 60
    r = alice.post("/api/v1/incidents/1/status", json={"status": "bogus"})
    assert r.status_code == 422
    assert r.json()["field"] == "status"
    assert "investigating" in r.json()["error"]


def test_severity_upgrade_free_downgrade_needs_reason(alice: Api) -> None:
    declare(alice, severity="SEV-3")
    r = alice.post("/api/v1/incidents/1/severity", json={"severity": "SEV-1"})
    assert r.status_code == 200 and r.json()["severity"] == "SEV-1"
    r = alice.post("/api/v1/incidents/1/severity", json={"severity": "SEV-2"})
    assert r.status_code == 422
    assert r.json()["field"] == "reason"
    assert alice.get("/api/v1/incidents/1").json()["severity"] == "SEV-1"
    r = alice.post("/api/v1/incidents/1/severity", json={"severity": "SEV-2", "reason": "only EU"})
    assert r.json()["severity"] == "SEV-2"
    events = [
        e for e in alice.get("/api/v1/incidents/1").json()["timeline"] if e["kind"] == "severity"
    ]
    assert [e["data"]["to"] for e in events] == ["SEV-1", "SEV-2"]
    assert events[1]["data"]["reason"] == "only EU"
    r = alice.post("/api/v1/incidents/1/severity", json={"severity": "SEV-9"})
    assert r.status_code == 422 and r.json()["allowed"] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]


def test_milestone_edit_is_recorded_with_who_and_what(alice: Api) -> None:
    declare(alice)
    r = alice.post(
        "/api/v1/incidents/1/milestones",
        json={"milestone": "started", "at": "2026-03-02T08:45:00Z"},
    )
    assert r.status_code == 200, r.text
    ev = alice.get("/api/v1/incidents/1").json()["timeline"][-1]
    assert ev["kind"] == "milestone"
    assert ev["actor"] == "alice"
    assert "started from 2026-03-02T09:00:00Z to 2026-03-02T08:45:00Z" in ev["text"]
    r = alice.post(
        "/api/v1/incidents/1/milestones",
        json={"milestone": "mitigated", "at": "2026-03-02T08:00:00Z"},
    )
    assert r.status_code == 422 and "before started" in r.json()["error"]


def test_correction_points_at_original_and_timeline_is_append_only(alice: Api) -> None:
    declare(alice)
    first = alice.post("/api/v1/incidents/1/events", json={"text": "DB at 100% CPU"}).json()
    fix = alice.post(
        "/api/v1/incidents/1/events", json={"text": "DB at 10% CPU (typo)", "corrects": first["id"]}
    ).json()
    assert fix["corrects"] == first["id"]
    tl = alice.get("/api/v1/incidents/1/events").json()
    assert [e["text"] for e in tl][-2:] == ["DB at 100% CPU", "DB at 10% CPU (typo)"]
    r = alice.post("/api/v1/incidents/1/events", json={"text": "x", "corrects": 9999})
    assert r.status_code == 422 and r.json()["field"] == "corrects"
    after = alice.get(f"/api/v1/incidents/1/events?after={first['id']}").json()
    assert [e["id"] for e in after] == [fix["id"]]


def test_list_filters_and_cursor_pagination(alice: Api) -> None:
    for i in range(7):
        declare(alice, title=f"Incident {i}", severity="SEV-1" if i % 2 else "SEV-3")
    alice.post("/api/v1/incidents/3/resolve", json={})
    page = alice.get("/api/v1/incidents?limit=3").json()
    assert [i["id"] for i in page["items"]] == ["INC-7", "INC-6", "INC-5"]
    page2 = alice.get(f"/api/v1/incidents?limit=3&cursor={page['next_cursor']}").json()
    assert [i["id"] for i in page2["items"]] == ["INC-4", "INC-3", "INC-2"]
    page3 = alice.get(f"/api/v1/incidents?limit=3&cursor={page2['next_cursor']}").json()
    assert [i["id"] for i in page3["items"]] == ["INC-1"] and page3["next_cursor"] is None
    sev1 = alice.get("/api/v1/incidents?severity=SEV-1").json()["items"]
    assert {i["id"] for i in sev1} == {"INC-2", "INC-4", "INC-6"}
    resolved = alice.get("/api/v1/incidents?status=resolved").json()["items"]
    assert [i["id"] for i in resolved] == ["INC-3"]
    found = alice.get("/api/v1/incidents?q=INCIDENT 5").json()["items"]
    assert [i["id"] for i in found] == ["INC-6"]
    r = alice.get("/api/v1/incidents?cursor=garbage!")
    assert r.status_code == 422 and r.json()["field"] == "cursor"
    assert alice.get("/api/v1/incidents?status=open").status_code == 422


def test_private_incident_invisible_to_non_participants(alice: Api, bob: Api, admin: Api) -> None:
    declare(alice, title="Public one")
    declare(alice, title="Credential leak", private=True)
    assert [i["title"] for i in bob.get("/api/v1/incidents").json()["items"]] == ["Public one"]
    assert bob.get("/api/v1/incidents?q=leak").json()["items"] == []
    assert bob.get("/api/v1/incidents/2").status_code == 404
    assert bob.get("/api/v1/incidents/counts").json()["investigating"] == 1
    assert admin.get("/api/v1/incidents/counts").json()["investigating"] == 2
    assert alice.get("/api/v1/incidents/2").status_code == 200
    # a role makes bob a participant
    alice.post("/api/v1/incidents/2/roles", json={"role": "scribe", "user": "bob"})
    assert bob.get("/api/v1/incidents/2").status_code == 200
    assert len(bob.get("/api/v1/incidents").json()["items"]) == 2


def test_auth_401_403(client: Any, carol: Api) -> None:
    r = client.get("/api/v1/incidents")
    assert r.status_code == 401 and "bearer" in r.json()["error"].lower()
    r = client.get("/api/v1/incidents", headers={"Authorization": "Bearer wr_nope"})
    assert r.status_code == 401
    assert carol.get("/api/v1/incidents").status_code == 200
    r = carol.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-1"})
    assert r.status_code == 403 and "responder" in r.json()["error"]


def test_bad_input_names_field_and_writes_nothing(alice: Api) -> None:
    cases = [
        ({"severity": "SEV-1"}, "title"),
        ({"title": "x", "severity": "SEV-7"}, "severity"),
        ({"title": "x", "severity": "SEV-1", "services": ["nope"]}, "services"),
        ({"title": "x", "severity": "SEV-1", "detection_source": "psychic"}, "detection_source"),
        ({"title": "x", "severity": "SEV-1", "private": "maybe"}, "private"),
        ({"title": "x", "severity": "SEV-1", "started_at": "yesterday"}, "started_at"),
        ({"title": "x", "severity": "SEV-1", "commander": "nobody"}, "user"),
        ({"title": "x", "severity": "SEV-1", "started_at": "2030-01-01T00:00:00Z"}, "started_at"),
        ({"title": "   ", "severity": "SEV-1"}, "title"),
        ({"title": "x", "severity": "SEV-1", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = alice.post("/api/v1/incidents", json=body)
        assert 400 <= r.status_code < 500, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
    r = alice.client.post(
        "/api/v1/incidents",
        content=b"{not json",
        headers={"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    assert alice.get("/api/v1/incidents").json()["items"] == []
    assert alice.get("/api/v1/incidents/counts").json()["investigating"] == 0


def test_failed_role_assignment_leaves_no_trace(alice: Api) -> None:
    declare(alice)
    before = alice.get("/api/v1/incidents/1").json()
    r = alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "ghost"})
    assert r.status_code == 404 and r.json()["field"] == "user"
    r = alice.post("/api/v1/incidents/1/roles", json={"role": "captain", "user": "bob"})
    assert r.status_code == 422 and r.json()["field"] == "role"
    assert alice.get("/api/v1/incidents/1").json() == before


def test_closed_incident_is_frozen(alice: Api) -> None:
    declare(alice)
    alice.post("/api/v1/incidents/1/resolve", json={})
    assert alice.post("/api/v1/incidents/1/status", json={"status": "closed"}).status_code == 200
    r = alice.post("/api/v1/incidents/1/severity", json={"severity": "SEV-1"})
    assert r.status_code == 409
    r = alice.post("/api/v1/incidents/1/roles", json={"role": "scribe", "user": "bob"})
    assert r.status_code == 409


def test_reopen_after_resolve(alice: Api) -> None:
    declare(alice)
    alice.post("/api/v1/incidents/1/resolve", json={})
    r = alice.post(
        "/api/v1/incidents/1/status", json={"status": "investigating", "note": "recurred"}
    )
    assert r.status_code == 200
    assert r.json()["resolved_at"] is None and r.json()["milestones"]["resolved"] is None


def test_openapi_lists_the_routes(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/roles",
        "/api/v1/incidents/{incident_id}/severity",
        "/api/v1/config/apply",
        "/api/v1/tokens",
        "/v2/enqueue",
        "/v2/change/enqueue",
        "/integrations/{kind}/{key}",
    ):
        assert path in spec["paths"], path
    body = spec["paths"]["/v2/enqueue"]["post"]["requestBody"]["content"]["application/json"]
    pd_event = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert pd_event["properties"]["event_action"]["enum"] == ["trigger", "acknowledge", "resolve"]


def test_out_of_range_numbers_are_4xx(alice: Api) -> None:
    declare(alice)
    assert alice.get("/api/v1/incidents/999999999999").status_code == 404
    r = alice.post("/api/v1/incidents/1/events", json={"text": "x", "corrects": 2**70})
    assert r.status_code == 422 and r.json()["field"] == "corrects"
    assert alice.get("/api/v1/incidents/1/events?after=99999999999999").status_code == 422
    assert alice.get("/api/v1/incidents?limit=99999999999999999999").status_code == 422
    big = __import__("base64").urlsafe_b64encode(b"id:99999999999999999").decode()
    assert alice.get(f"/api/v1/incidents?cursor={big}").status_code == 422
