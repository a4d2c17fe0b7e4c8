"""Template overrides in config as code, and the sandbox around user templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import Api
from warroom.config.loader import load

STATUS_SEV1 = "SEV-1 update for {{ id }}: {{ title }} ({{ status }}). Next: {{ next_update_at }}"


def apply(api: Api, doc: dict[str, Any], dry_run: bool = False) -> Any:
    return api.post("/api/v1/config/apply", json={"config": doc, "dry_run": dry_run})


def test_overrides_apply_by_severity_and_service_and_export(admin: Api, alice: Api) -> None:
    doc = {
        "services": [{"name": "api"}, {"name": "search"}],
        "templates": [
            {"name": "status", "body": "Plain: {{ title }}"},
            {"name": "status", "severity": "SEV-1", "body": STATUS_SEV1},
            {"name": "status", "service": "search", "body": "Search: {{ title }}"},
        ],
    }
    plan = apply(admin, doc, dry_run=True)
    assert plan.status_code == 200, plan.text
    names = sorted(c["name"] for c in plan.json()["changes"] if c["kind"] == "templates")
    assert names == ["status", "status@/search", "status@SEV-1"]
    assert apply(admin, doc).status_code == 200
    again = apply(admin, doc, dry_run=True).json()["changes"]
    assert [c for c in again if c["kind"] == "templates"] == []

    alice.post("/api/v1/incidents", json={"title": "Slow", "severity": "SEV-2"})
    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    alice.post(
        "/api/v1/incidents", json={"title": "Index", "severity": "SEV-1", "services": ["search"]}
    )

    def preview(ref: str) -> dict[str, Any]:
        r = alice.post(f"/api/v1/incidents/{ref}/updates", json={"preview": True})
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert preview("1")["text"] == "Plain: Slow"
    assert preview("2")["text"] == (
        "SEV-1 update for INC-2: Down (investigating). Next: 2026-03-02 09:30 UTC"
    )
    third = preview("3")  # the service scope is more specific than the severity scope
    assert third["text"] == "Search: Index" and "service search" in third["source"]
    listed = alice.get("/api/v1/incidents/1/updates/templates").json()
    assert {t["name"] for t in listed} >= {"declaration", "customer_email", "executive_summary"}

    exported = yaml.safe_load(admin.get("/api/v1/config/export").text)
    assert [t["body"] for t in exported["templates"]] == [
        "Plain: {{ title }}",
        STATUS_SEV1,
        "Search: {{ title }}",
    ]
    # Removing the section's entries brings the default wording back.
    assert apply(admin, {"templates": []}).status_code == 200
    assert preview("1")["text"].startswith("INC-1 update (SEV-2, investigating): Slow")


def test_a_template_that_does_not_compile_names_file_line_and_field(
    admin: Api, tmp_path: Path
) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(
        "templates:\n"
        "  - name: status\n"
        "    severity: SEV-9\n"
        "    body: |\n"
        "      {{ id }} is {{ status }}\n"
        "      {% if title %}unclosed\n"
    )
    loaded = load(path)
    r = apply(admin, loaded.data)
    assert r.status_code == 422
    problems = {p["location"]: p for p in r.json()["problems"]}
    assert "unknown severity 'SEV-9'" in problems["templates[0].severity"]["message"]
    body = problems["templates[0].body"]
    assert "does not compile" in body["message"] and "line 2 of the body" in body["message"]
    assert loaded.locate(tuple(body["path"])) == (str(path), 4)
    bad_name = apply(admin, {"templates": [{"name": "tweet", "body": "x"}]})
    assert "unknown template 'tweet'" in bad_name.json()["error"]


def test_user_templates_cannot_reach_python(admin: Api, alice: Api) -> None:
    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    for body in (
        "{{ ''.__class__.__mro__ }}",
        "{{ title.__class__.__mro__[1].__subclasses__() }}",
        "{{ id.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ):
        assert apply(admin, {"templates": [{"name": "status", "body": body}]}).status_code == 200
        r = alice.post("/api/v1/incidents/1/updates", json={"preview": True})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == "template"
        assert "unsafe" in r.json()["error"] or "failed" in r.json()["error"], r.text
    # A failing template posts nothing.
    r = alice.post("/api/v1/incidents/1/updates", json={})
    assert r.status_code == 422
    tl = alice.get("/api/v1/incidents/1").json()["timeline"]
    assert [e for e in tl if e["kind"] == "communication"] == []


def test_unknown_facts_are_config_errors(admin: Api, alice: Api, db: Any, clock: Any) -> None:
    r = apply(admin, {"templates": [{"name": "status", "body": "{{ titel }} {{ title }}"}]})
    assert r.status_code == 422
    assert r.json()["field"] == "templates[0].body"
    assert "unknown fact(s) titel" in r.json()["error"]
    # Every fact a template may name is one that rendering provides.
    from warroom.comms import service, templates
    from warroom.incidents.models import Incident

    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    with db.session() as s:
        inc = s.get(Incident, 1)
        keys = set(service.facts(s, clock, inc)) - {"_seen"}
    assert keys == set(templates.FACTS)


def test_a_runaway_template_stops_with_a_clear_error(admin: Api, alice: Api) -> None:
    alice.post("/api/v1/incidents", json={"title": "Down", "severity": "SEV-1"})
    body = "{% for i in range(100000) %}{{ title }}{% endfor %}"
    assert apply(admin, {"templates": [{"name": "status", "body": body}]}).status_code == 200
    r = alice.post("/api/v1/incidents/1/updates", json={"preview": True})
    assert r.status_code == 422 and "renders more than 20000 characters" in r.json()["error"]
