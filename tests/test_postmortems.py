"""Postmortems through the API on both stores: required on resolve (via the seam and the
engine), drafted from recorded facts with placeholders, reviewed, gated, published,
reopened as revisions and exported. Time is moved, never slept."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker

WHYS = [
    {"why": "Why was checkout down?", "because": "Payment pods crash-looped."},
    {"why": "Why did they crash?", "because": "An unexpected gateway response was not handled."},
    {"why": "Why was it not handled?", "because": "Tests mocked the gateway response."},
]


def declare(api: Api, **kw: Any) -> dict[str, Any]:
    body = {"title": "Checkout errors", "severity": "SEV-1", **kw}
    r = api.post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def resolve(api: Api, db: Database, clock: ManualClock, ref: str = "1", minutes: int = 45) -> None:
    clock.advance(minutes=minutes)
    r = api.post(f"/api/v1/incidents/{ref}/resolve", json={"summary": "Rolled back release 42."})
    assert r.status_code == 200, r.text
    Worker(db, clock).run_due()


def pm(api: Api, ref: str = "1") -> dict[str, Any]:
    r = api.get(f"/api/v1/postmortems/{ref}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_required_on_resolve_with_the_commander_as_owner_and_the_policy_due(
    alice: Api, bob: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "bob"})
    clock.advance(minutes=45)
    alice.post("/api/v1/incidents/1/resolve", json={"summary": "Rolled back release 42."})
    # A durable reaction: nothing until the engine runs it.
    assert alice.get("/api/v1/postmortems/1").status_code == 404
    Worker(db, clock).run_due()
    d = pm(alice)
    assert d["status"] == "draft" and d["requirement"] == "required"
    assert d["owner"] == "bob"
    assert d["due_at"] == "2026-03-04T09:45:00Z"  # SEV-1: 48 h after resolution
    assert "SEV-1 policy: required" in d["reasons"]
    assert "lasted 45 min, longer than 30 min" in d["reasons"]
    notes = [e["text"] for e in alice.get("/api/v1/incidents/1").json()["timeline"]]
    assert any(t.startswith("Postmortem required") and "owner bob" in t for t in notes)
    # Running the reaction again (a retry, a second resolve) keeps the one document.
    alice.post("/api/v1/incidents/1/status", json={"status": "monitoring"})
    resolve(alice, db, clock, minutes=5)
    assert pm(alice)["id"] == d["id"] and pm(alice)["due_at"] == d["due_at"]


def test_without_a_commander_whoever_resolved_owns_it(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, severity="SEV-2")
    resolve(alice, db, clock)
    d = pm(alice)
    assert d["owner"] == "alice" and d["due_at"] == "2026-03-05T09:45:00Z"  # 72 h


def test_recommended_is_offered_in_the_room_and_started_on_request(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, severity="SEV-3")
    resolve(alice, db, clock, minutes=30)  # exactly 30 min: the length rule does not apply
    assert alice.get("/api/v1/postmortems/1").status_code == 404
    notes = [e["text"] for e in alice.get("/api/v1/incidents/1").json()["timeline"]]
    assert any("A postmortem is recommended (SEV-3 policy: recommended)" in t for t in notes)
    r = alice.post("/api/v1/postmortems", json={"incident": "INC-1"})
    assert r.status_code == 201, r.text
    assert r.json()["requirement"] == "recommended" and r.json()["owner"] == "alice"


def test_config_rules_make_a_long_sev3_required_and_a_customer_report_too(
    admin: Api, alice: Api, db: Database, clock: ManualClock
) -> None:
    with db.session() as s:
        config.apply(s, clock, {"postmortems": {"longer_than_minutes": 20}})
    declare(alice, severity="SEV-3")
    resolve(alice, db, clock, minutes=25)
    assert pm(alice)["requirement"] == "required"
    assert "lasted 25 min, longer than 20 min" in pm(alice)["reasons"]
    declare(alice, severity="SEV-4", detection_source="customer_report")
    resolve(alice, db, clock, ref="2", minutes=5)
    assert pm(alice, "2")["reasons"][-1] == "detected by a customer report"
    out = admin.get("/api/v1/config/export").text
    assert "postmortems:" in out and "longer_than_minutes: 20" in out


def test_the_draft_holds_recorded_facts_and_visible_placeholders(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    with db.session() as s:
        config.apply(s, clock, {"services": [{"name": "payments"}]})
    declare(alice, services=["payments"], impact_summary="Card payments fail for EU customers.")
    alice.post("/api/v1/incidents/1/roles", json={"role": "commander", "user": "alice"})
    alice.post("/api/v1/incidents/1/events", json={"kind": "decision", "text": "Roll back 42"})
    resolve(alice, db, clock, minutes=60)
    c = pm(alice)["content"]
    assert "Card payments fail for EU customers." in c["impact"]
    assert "Services: payments" in c["impact"]
    assert "How long: 1 h" in c["impact"]
    # Not recorded: shown, never invented.
    assert "[not recorded: affected share]" in c["impact"]
    assert "[not recorded: error budget spent]" in c["impact"]
    assert "[not recorded: status-page components]" in c["impact"]
    assert "Roll back 42" in c["timeline"] and "| Time (UTC) | Event | Actor |" in c["timeline"]
    print(c["phases"])
    assert "| Acknowledge (declared to acknowledged) | 0 min | 5 min (met) |" in c["phases"]
    assert "Resolve (impact start to resolution) | 1 h | no target" in c["phases"]
    assert "Resolution: Rolled back release 42." in c["summary"]
    assert "affected share" in pm(alice)["placeholders"]
    md = alice.get("/api/v1/postmortems/1/export").text
    assert "## Impact" in md and "[not recorded: affected share]" in md


def complete(api: Api) -> None:
    r = api.patch(
        "/api/v1/postmortems/1",
        json={
            "content": {
                "impact": "- 15% of EU card payments failed for 60 minutes",
                "whys": WHYS,
                "root_cause": "No contract test against the real gateway.",
                "factors": ["dependency-roulette"],
                "went_well": "Rollback took two minutes.",
            }
        },
    )
    assert r.status_code == 200, r.text
    r = api.post(
        "/api/v1/action-items",
        json={
            "incident": "INC-1",
            "title": "Add contract tests for the gateway",
            "owner": "alice",
            "due": "2026-03-20",
            "priority": "P0",
            "kind": "prevent",
        },
    )
    assert r.status_code == 201, r.text


def test_review_gate_revisions_and_publishing(
    alice: Api, bob: Api, admin: Api, carol: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    resolve(alice, db, clock)
    # A viewer reads but does not write.
    assert carol.patch("/api/v1/postmortems/1", json={"content": {"lucky": "x"}}).status_code == 403
    alice.patch("/api/v1/postmortems/1", json={"content": {"went_wrong": "Dave forgot the flag."}})
    assert alice.post("/api/v1/postmortems/1/submit").json()["status"] == "in_review"
    # The owner cannot approve their own.
    r = alice.post("/api/v1/postmortems/1/reviews", json={"verdict": "approve"})
    assert r.status_code == 403 and r.json()["field"] == "verdict"
    r = bob.post(
        "/api/v1/postmortems/1/reviews",
        json={"verdict": "request_changes", "comment": "Fill in the impact and the 5 Whys."},
    )
    assert r.json()["status"] == "draft"
    complete(alice)
    alice.post("/api/v1/postmortems/1/submit")
    bob.post("/api/v1/postmortems/1/reviews", json={"verdict": "approve", "comment": "Good"})
    # The gate still refuses: one blameless finding.
    r = alice.post("/api/v1/postmortems/1/publish")
    assert r.status_code == 409, r.text
    assert r.json()["field"] == "blameless"
    assert [p["field"] for p in r.json()["problems"]] == ["blameless"]
    finding = pm(alice)["findings"][0]
    assert finding["section"] == "went_wrong" and finding["rule"] == "named-failure"
    # The owner cannot override; a reviewer can, with a reason.
    r = alice.post("/api/v1/postmortems/1/overrides", json={"key": finding["key"], "reason": "x"})
    assert r.status_code == 403
    r = bob.post("/api/v1/postmortems/1/overrides", json={"key": finding["key"], "reason": ""})
    assert r.status_code == 422
    bob.post(
        "/api/v1/postmortems/1/overrides",
        json={"key": finding["key"], "reason": "Dave asked for his own words to stay."},
    )
    assert pm(alice)["gate"] == []
    r = bob.post("/api/v1/postmortems/1/publish")  # not the owner
    assert r.status_code == 403
    r = alice.post("/api/v1/postmortems/1/publish")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "published" and d["published_at"] and not d["overdue"]
    assert [r["event"] for r in d["revisions"]] == ["submitted", "submitted", "published"]
    # Published: edited only after a reopen, which starts revision 2 and keeps revision 1.
    assert alice.patch("/api/v1/postmortems/1", json={"content": {"lucky": "x"}}).status_code == 409
    d = alice.post("/api/v1/postmortems/1/reopen").json()
    assert d["status"] == "draft" and d["revision"] == 2
    alice.patch("/api/v1/postmortems/1", json={"content": {"lessons": "Test the real thing."}})
    old = alice.get("/api/v1/postmortems/1/revisions/1?event=published").json()
    assert old["status"] == "published" and old["content"]["lessons"] == ""
    assert pm(alice)["content"]["lessons"] == "Test the real thing."
    # The approval was for revision 1: revision 2 needs its own (an admin may skip it).
    alice.post("/api/v1/postmortems/1/submit")
    assert alice.post("/api/v1/postmortems/1/publish").json()["field"] == "reviews"
    assert admin.post("/api/v1/postmortems/1/publish").json()["status"] == "published"
    assert [p["status"] for p in alice.get("/api/v1/postmortems?status=published").json()] == [
        "published"
    ]


def test_export_as_markdown_and_printable_html(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    resolve(alice, db, clock)
    complete(alice)
    alice.patch(
        "/api/v1/postmortems/1",
        json={"content": {"lessons": "<script>alert(1)</script> [x](javascript:alert(1))"}},
    )
    md = alice.get("/api/v1/postmortems/1/export?format=markdown")
    assert md.headers["content-type"].startswith("text/markdown")
    assert "### 5 Whys" in md.text and "**Because:** Tests mocked the gateway response." in md.text
    assert "| P0 | Add contract tests for the gateway | prevent | alice | 2026-03-20 | open |" in (
        md.text
    )
    assert "**dependency-roulette**" in md.text
    page = alice.get("/api/v1/postmortems/1/export?format=html")
    assert page.headers["content-type"].startswith("text/html")
    assert "<h2>Impact</h2>" in page.text and "<table>" in page.text
    assert "<script>" not in page.text and 'href="javascript:' not in page.text
    assert alice.get("/api/v1/postmortems/1/export?format=pdf").status_code == 422


def test_lint_endpoint_answers_spans(alice: Api, carol: Api) -> None:
    r = carol.post("/api/v1/postmortems/lint", json={"text": "Who approved this? bob forgot."})
    assert r.status_code == 200, r.text
    found = r.json()["findings"]
    assert [(f["rule"], f["phrase"], f["start"], f["end"]) for f in found] == [
        ("who-question", "Who approved", 0, 12),
        ("named-failure", "bob forgot", 19, 29),  # bob is a known user
    ]
    assert all(f["suggestion"] for f in found)
    assert alice.post("/api/v1/postmortems/lint", json={}).status_code == 422
    assert alice.post("/api/v1/postmortems/lint", json={"text": 5}).status_code == 422


def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice)
    r = alice.post("/api/v1/postmortems", json={"incident": "INC-1"})
    assert r.status_code == 409 and r.json()["field"] == "incident_id"  # not resolved yet
    resolve(alice, db, clock)
    before = pm(alice)
    r = alice.patch("/api/v1/postmortems/1", json={"content": {"factors": ["bad-luck"]}})
    assert r.status_code == 422 and r.json()["field"] == "factors[0]"
    r = alice.patch("/api/v1/postmortems/1", json={"owner": "nobody-here"})
    assert r.status_code == 404 and r.json()["field"] == "user"
    r = alice.patch("/api/v1/postmortems/1", json={"content": {"whys": [{"why": 1}]}})
    assert r.status_code == 422
    assert pm(alice)["content"] == before["content"]
    assert alice.post("/api/v1/postmortems/1/reviews", json={"verdict": "maybe"}).status_code == 422
    assert alice.get("/api/v1/postmortems/INC-x").status_code == 422
    assert alice.get("/api/v1/postmortems/99").status_code == 404
    assert alice.get("/api/v1/postmortems/1/revisions/7").json()["field"] == "number"
    assert alice.get(f"/api/v1/postmortems/1/revisions/{2**40}").status_code == 404
    r = alice.patch("/api/v1/postmortems/1", json={"due_at": "2026-03-09T10:00:00"})
    assert r.status_code == 422 and r.json()["field"] == "due_at"


def test_a_private_incidents_postmortem_is_invisible(
    alice: Api, bob: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, private=True)
    resolve(alice, db, clock)
    assert pm(alice)["status"] == "draft"
    assert bob.get("/api/v1/postmortems/1").status_code == 404
    assert bob.get("/api/v1/postmortems").json() == []
    assert bob.post("/api/v1/postmortems/lint", json={"text": "fine"}).status_code == 200
