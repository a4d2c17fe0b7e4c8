"""Triage on both stores: suggestions resolved to the organisation's policies and people,
the `triage:` section of config as code, dependency cycles refused, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import Api, LiveServer
from tests.paging_support import Receiver, apply, organisation
from warroom.cli.main import main


def org_doc(hook: Receiver) -> dict[str, Any]:
    doc = organisation(hook)
    doc["teams"][0]["lead"] = "bob"
    doc["services"] = [
        {"name": "checkout", "owner": "payments", "escalation_policy": "payments"},
        {"name": "storefront", "depends_on": ["checkout"]},
        {"name": "mobile-app", "depends_on": ["storefront"]},
    ]
    return doc


@pytest.fixture
def org(admin: Api) -> Iterator[Receiver]:
    with Receiver() as hook:
        apply(admin, org_doc(hook))
        yield hook


def suggest(api: Api, **params: str) -> Any:
    return api.get("/api/v1/triage/suggest", params=params)


def test_a_breach_pages_everyone_the_ladder_names_and_says_what_is_missing(
    admin: Api, carol: Api, org: Receiver
) -> None:
    r = suggest(
        carol,
        impact="degraded",
        scope="limited",
        blast_radius="security_breach",
        service="checkout",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["severity"] == "SEV-1"
    assert "assume the worst: SEV-1" in body["why"]
    page = {p["audience"]: p for p in body["page"]}
    assert list(page) == [
        "owning_team",
        "incident_commander",
        "engineering_management",
        "security",
        "ciso",
        "legal",
    ]
    assert page["owning_team"]["escalation_policy"] == "payments"
    assert page["ciso"]["missing"] == "name it in config: triage.audiences.ciso"
    assert body["dependents"] == ["mobile-app", "storefront"]
    # once config names them, the same question names them
    apply(
        admin,
        {
            "triage": {
                "audiences": {
                    "ciso": {"users": ["alice"]},
                    "security": {"escalation_policy": "payments"},
                }
            }
        },
    )
    page = {p["audience"]: p for p in suggest(carol, blast_radius="security_breach").json()["page"]}
    assert (
        page["ciso"]["users"] == ["alice"] and page["security"]["escalation_policy"] == "payments"
    )


def test_a_core_workflow_pages_the_owning_team_and_its_lead(carol: Api, org: Receiver) -> None:
    body = suggest(carol, blast_radius="core_workflow", service="checkout").json()
    assert body["severity"] == "SEV-2"
    assert [
        (p["audience"], p.get("users") or p.get("escalation_policy")) for p in body["page"]
    ] == [
        ("owning_team", "payments"),
        ("team_lead", ["bob"]),
    ]
    # a service without a team or policy is answered, with what to set
    body = suggest(carol, blast_radius="core_workflow", service="storefront").json()
    assert body["page"][0]["missing"] == "storefront has no escalation_policy in config"


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"impact": "degraded"}, "scope", 422),
        ({}, "impact", 422),
        ({"impact": "meh", "scope": "limited"}, "impact", 422),
        ({"blast_radius": "all_users", "service": "nope"}, "service", 404),
    ],
)
def test_bad_answers_are_refused_naming_the_field(
    carol: Api, org: Receiver, params: dict[str, str], field: str, status: int
) -> None:
    r = suggest(carol, **params)
    assert r.status_code == status, r.text
    assert field in r.text


def test_the_triage_section_overrides_rungs_and_the_matrix_and_exports_as_applied(
    admin: Api, carol: Api, org: Receiver
) -> None:
    matrix = {
        i: {s: "SEV-2" for s in ("widespread", "limited", "minimal")}
        for i in ("complete_loss", "degraded", "inconvenience")
    }
    section = {
        "matrix": matrix,
        "blast_radius": {"single_user": {"severity": "SEV-4", "page": ["owning_team"]}},
    }
    apply(admin, {"triage": section})
    assert suggest(carol, impact="inconvenience", scope="minimal").json()["severity"] == "SEV-2"
    assert suggest(carol, blast_radius="single_user").json()["severity"] == "SEV-4"
    exported = yaml.safe_load(admin.get("/api/v1/config/export").text)["triage"]
    r = admin.post("/api/v1/config/apply", json={"config": {"triage": exported}, "dry_run": True})
    assert r.json()["changes"] == []
    apply(admin, {"triage": None})  # back to the seeds
    assert suggest(carol, impact="inconvenience", scope="minimal").json()["severity"] == "SEV-4"
    assert "triage" not in yaml.safe_load(admin.get("/api/v1/config/export").text)


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"matrix": {"degraded": {"limited": "SEV-3"}}}, "triage.matrix.complete_loss"),
        (
            {"blast_radius": {"all_users": {"severity": "SEV-9", "page": ["owning_team"]}}},
            "triage.blast_radius.all_users.severity",
        ),
        ({"audiences": {"legal": {"users": ["nobody"]}}}, "triage.audiences.legal.users[0]"),
        ({"audiences": {"legal": {}}}, "triage.audiences.legal"),
        ({"blast_radius": {"moon": {"severity": "SEV-1", "page": ["owning_team"]}}}, "moon"),
    ],
)
def test_a_bad_triage_section_is_refused_naming_where(
    admin: Api, org: Receiver, section: dict[str, Any], where: str
) -> None:
    r = admin.post("/api/v1/config/apply", json={"config": {"triage": section}})
    assert r.status_code == 422, r.text
    assert where in r.text


def test_a_dependency_cycle_is_refused_naming_the_cycle(admin: Api, org: Receiver) -> None:
    services = [
        {
            "name": "checkout",
            "owner": "payments",
            "escalation_policy": "payments",
            "depends_on": ["mobile-app"],
        },
        {"name": "storefront", "depends_on": ["checkout"]},
        {"name": "mobile-app", "depends_on": ["storefront"]},
    ]
    r = admin.post("/api/v1/config/apply", json={"config": {"services": services}})
    assert r.status_code == 422
    assert (
        "services depend on each other in a cycle: checkout -> mobile-app -> storefront -> checkout"
        in r.text
    )


def test_the_cli_suggests_with_json(live_server: LiveServer, people: dict[str, str]) -> None:
    env = {"WARROOM_URL": live_server.url, "WARROOM_TOKEN": people["carol"]}
    r = CliRunner().invoke(
        main,
        ["triage", "suggest", "--impact", "complete_loss", "--scope", "widespread", "--json"],
        env=env,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (
        out["severity"] == "SEV-1" and "why" in out and out["page"][0]["audience"] == "owning_team"
    )
    r = CliRunner().invoke(main, ["triage", "suggest", "--blast-radius", "single_feature"], env=env)
    assert r.exit_code == 0 and r.output.startswith("Suggested severity: SEV-3")
    r = CliRunner().invoke(main, ["triage", "suggest", "--impact", "degraded"], env=env)
    assert r.exit_code != 0 and "scope" in r.output
