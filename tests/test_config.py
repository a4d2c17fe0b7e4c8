"""Config as code: apply, plan, export and the YAML loader."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import Api, make_token
from warroom.config.loader import ConfigFileError, load
from warroom.core.clock import ManualClock
from warroom.db.session import Database

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme"

Doc = dict[str, Any]


@pytest.fixture
def api(client: TestClient, db: Database, clock: ManualClock) -> Api:
    """An admin on a fresh store: default severities and the first-run admin only."""
    return Api(client, make_token(db, clock, "admin", "admin"))


def acme() -> Doc:
    """The example organisation; its alerting, on-call, paging and status page sections
    have tests of their own."""
    data = load(EXAMPLE).data
    skip = (
        "integrations",
        "alert_rules",
        "schedules",
        "escalation_policies",
        "status_components",
        "heartbeats",
    )
    doc = {k: v for k, v in data.items() if k not in skip}
    doc["services"] = [
        {k: v for k, v in s.items() if k != "escalation_policy"} for s in doc["services"]
    ]
    return doc


def apply(api: Api, doc: Doc, dry_run: bool = False) -> Any:
    return api.post("/api/v1/config/apply", json={"config": doc, "dry_run": dry_run})


def apply_ok(api: Api, doc: Doc, dry_run: bool = False) -> list[tuple[str, str, str, list[str]]]:
    r = apply(api, doc, dry_run)
    assert r.status_code == 200, r.text
    assert r.json()["applied"] is (not dry_run)
    return [(c["action"], c["kind"], c["name"], c["fields"]) for c in r.json()["changes"]]


def export(api: Api) -> str:
    r = api.get("/api/v1/config/export")
    assert r.status_code == 200, r.text
    return str(r.text)


def service(api: Api, name: str) -> dict[str, Any]:
    r = api.get(f"/api/v1/services/{name}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def declare(api: Api, **kw: Any) -> dict[str, Any]:
    r = api.post("/api/v1/incidents", json={"title": "Checkout failing", "severity": "SEV-2", **kw})
    assert r.status_code == 201, r.text
    return dict(r.json())


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in items}


# --- apply ----------------------------------------------------------------------------------


def test_apply_example_creates_what_it_declares(api: Api) -> None:
    doc = acme()
    changes = apply_ok(api, doc)
    created = {(kind, name) for action, kind, name, _ in changes if action == "create"}
    assert ("teams", "payments") in created
    assert ("users", "alice") in created
    assert ("services", "checkout") in created
    assert all(action == "create" for action, *_ in changes)

    severities = api.get("/api/v1/severities").json()
    assert [s["name"] for s in severities] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    for live, declared in zip(severities, doc["severities"], strict=True):
        assert live["rank"] == declared["rank"]
        assert live["label"] == declared["label"]
        assert live["description"] == declared["description"]
        assert live["targets"] == declared["targets"]

    teams = by_name(api.get("/api/v1/teams").json())
    assert set(teams) == {"payments", "platform", "discovery"}
    assert teams["payments"]["members"] == ["alice", "bob", "dave"]
    assert teams["payments"]["channel"] == "#team-payments"
    assert teams["platform"]["description"].startswith("Databases, queues")

    users = by_name(api.get("/api/v1/users").json())
    assert set(users) == {"admin", "alice", "bob", "carol", "dave", "erin", "frank"}
    assert users["alice"]["email"] == "alice@acme.example"
    assert users["alice"]["full_name"] == "Alice Martin"
    assert users["alice"]["timezone"] == "Europe/Berlin"
    assert users["alice"]["role"] == "admin"
    assert users["frank"]["role"] == "viewer"
    assert users["carol"]["timezone"] == "Asia/Singapore"

    checkout = service(api, "checkout")
    assert checkout["owner"] == "payments"
    assert checkout["tier"] == 1
    assert checkout["description"] == "Web and mobile checkout flow"
    assert checkout["depends_on"] == ["payments-api", "postgres-main"]
    assert checkout["runbooks"] == ["https://runbooks.acme.example/checkout"]
    kafka = service(api, "kafka")
    assert kafka["dependents"] == ["notifications", "payments-api", "search"]
    assert kafka["runbooks"] == []
    assert service(api, "notifications")["tier"] == 3


def test_new_severity_is_created(api: Api) -> None:
    doc = acme()
    doc["severities"].append(
        {"name": "SEV-5", "rank": 5, "label": "Trivial", "targets": {"postmortem": "optional"}}
    )
    assert ("create", "severities", "SEV-5", []) in apply_ok(api, doc)
    sev5 = by_name(api.get("/api/v1/severities").json())["SEV-5"]
    assert sev5["label"] == "Trivial"
    assert sev5["targets"]["postmortem"] == "optional"


def test_second_apply_is_a_no_op(api: Api) -> None:
    apply_ok(api, acme())
    before = export(api)
    assert apply_ok(api, acme()) == []
    assert apply_ok(api, acme(), dry_run=True) == []
    assert export(api) == before


def test_export_is_yaml_that_applies_unchanged(api: Api) -> None:
    # A fresh store (defaults only) round-trips too.
    assert apply_ok(api, yaml.safe_load(export(api))) == []
    apply_ok(api, acme())
    r = api.get("/api/v1/config/export")
    assert r.headers["content-type"].startswith("application/yaml")
    exported = yaml.safe_load(r.text)
    assert set(exported) == {
        "severities",
        "teams",
        "users",
        "services",
        "integrations",
        "alert_rules",
        "heartbeats",
        "slos",
        "schedules",
        "escalation_policies",
        "status_components",
        "templates",
    }
    assert "admin" in {u["name"] for u in exported["users"]}
    assert by_name(exported["services"])["checkout"]["owner"] == "payments"
    assert apply_ok(api, exported) == []
    assert export(api) == r.text


def test_export_needs_admin(api: Api, people: dict[str, str], client: TestClient) -> None:
    alice = Api(client, people["alice"])
    assert alice.get("/api/v1/config/export").status_code == 403
    assert apply(alice, acme()).status_code == 403


def test_changed_fields_show_as_updates(api: Api) -> None:
    apply_ok(api, acme())
    doc = acme()
    checkout = doc["services"][0]
    checkout["tier"] = 2
    checkout["runbooks"].append("https://runbooks.acme.example/checkout-db")
    doc["users"][1]["timezone"] = "Europe/London"  # bob
    doc["teams"][0]["members"].remove("dave")  # payments
    doc["severities"][3]["label"] = "Cosmetic"  # SEV-4

    plan = apply_ok(api, doc, dry_run=True)
    assert sorted(plan) == sorted(
        [
            ("update", "services", "checkout", ["runbooks", "tier"]),
            ("update", "users", "bob", ["timezone"]),
            ("update", "teams", "payments", ["members"]),
            ("update", "severities", "SEV-4", ["label"]),
        ]
    )
    assert service(api, "checkout")["tier"] == 1  # dry run changed nothing

    assert sorted(apply_ok(api, doc)) == sorted(plan)
    checkout_live = service(api, "checkout")
    assert checkout_live["tier"] == 2
    assert checkout_live["runbooks"][-1] == "https://runbooks.acme.example/checkout-db"
    assert by_name(api.get("/api/v1/users").json())["bob"]["timezone"] == "Europe/London"
    assert by_name(api.get("/api/v1/teams").json())["payments"]["members"] == ["alice", "bob"]
    assert by_name(api.get("/api/v1/severities").json())["SEV-4"]["label"] == "Cosmetic"
    assert apply_ok(api, doc) == []


def test_member_and_dependency_order_and_repeats_are_not_changes(api: Api) -> None:
    apply_ok(api, acme())
    doc = acme()
    doc["teams"][0]["members"] = ["dave", "bob", "alice", "bob"]
    doc["services"][0]["depends_on"] = ["postgres-main", "payments-api", "postgres-main"]
    assert apply_ok(api, doc) == []


def test_swapping_severity_ranks(api: Api) -> None:
    apply_ok(api, acme())
    doc = acme()
    doc["severities"][0]["rank"], doc["severities"][1]["rank"] = 2, 1
    assert sorted(apply_ok(api, doc)) == [
        ("update", "severities", "SEV-1", ["rank"]),
        ("update", "severities", "SEV-2", ["rank"]),
    ]
    assert [s["name"] for s in api.get("/api/v1/severities").json()][:2] == ["SEV-2", "SEV-1"]


def test_removing_a_service_deletes_it(api: Api) -> None:
    apply_ok(api, acme())
    doc = acme()
    doc["services"] = [s for s in doc["services"] if s["name"] != "notifications"]
    assert apply_ok(api, doc, dry_run=True) == [("delete", "services", "notifications", [])]
    assert service(api, "notifications")["name"] == "notifications"
    assert apply_ok(api, doc) == [("delete", "services", "notifications", [])]
    assert api.get("/api/v1/services/notifications").status_code == 404
    assert service(api, "kafka")["dependents"] == ["payments-api", "search"]
    assert apply_ok(api, doc) == []


def test_removing_a_team_and_its_services_together(api: Api) -> None:
    apply_ok(api, acme())
    doc = acme()
    doc["teams"] = [t for t in doc["teams"] if t["name"] != "discovery"]
    doc["services"] = [s for s in doc["services"] if s["name"] != "search"]
    assert sorted(apply_ok(api, doc)) == [
        ("delete", "services", "search", []),
        ("delete", "teams", "discovery", []),
    ]
    assert "discovery" not in by_name(api.get("/api/v1/teams").json())


def test_removing_a_team_that_owns_services_is_refused_even_in_a_dry_run(api: Api) -> None:
    apply_ok(api, acme())
    before = export(api)
    doc = {"teams": [t for t in acme()["teams"] if t["name"] != "platform"]}
    for dry_run in (True, False):
        r = apply(api, doc, dry_run=dry_run)
        assert r.status_code == 422, r.text
        assert "'platform' owns services" in r.json()["error"]
        assert "kafka" in r.json()["error"]
        assert r.json()["problems"][0]["path"] == ["teams"]
    assert export(api) == before


def test_deleting_a_service_with_incidents_is_refused(api: Api) -> None:
    apply_ok(api, acme())
    declare(api, services=["notifications"])
    before = export(api)
    doc = acme()
    doc["services"] = [s for s in doc["services"] if s["name"] != "notifications"]
    doc["services"][0]["tier"] = 3  # another change that must not be applied either
    for dry_run in (True, False):
        r = apply(api, doc, dry_run=dry_run)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "services: service 'notifications' has incidents"
        assert r.json()["problems"][0]["path"] == ["services"]
    assert export(api) == before
    assert service(api, "checkout")["tier"] == 1


def test_deleting_a_severity_with_incidents_is_refused(api: Api) -> None:
    apply_ok(api, acme())
    declare(api, severity="SEV-4")
    before = export(api)
    doc = acme()
    doc["severities"] = doc["severities"][:3]
    r = apply(api, doc)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "severities: severity 'SEV-4' is used by incidents"
    assert export(api) == before
    assert len(api.get("/api/v1/severities").json()) == 4


def test_deleting_an_unused_severity(api: Api) -> None:
    apply_ok(api, acme())
    declare(api, severity="SEV-2")
    doc = acme()
    doc["severities"] = doc["severities"][:3]
    assert apply_ok(api, doc) == [("delete", "severities", "SEV-4", [])]
    assert [s["name"] for s in api.get("/api/v1/severities").json()] == ["SEV-1", "SEV-2", "SEV-3"]
    r = api.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-4"})
    assert r.status_code == 422


def test_dry_run_changes_nothing(api: Api) -> None:
    before = export(api)
    plan = apply_ok(api, acme(), dry_run=True)
    assert len(plan) == 3 + 6 + 6 + 2  # teams, users, services, SLOs
    assert export(api) == before
    assert api.get("/api/v1/services").json() == []
    assert apply_ok(api, acme()) == plan


def test_users_are_never_deleted_by_apply(api: Api) -> None:
    apply_ok(api, acme())
    doc = acme()
    doc["users"] = doc["users"][:1]
    assert apply_ok(api, doc) == []
    assert len(api.get("/api/v1/users").json()) == 7


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _append(section: str, item: Callable[[Doc], dict[str, Any]]) -> Callable[[Doc], None]:
    return lambda doc: doc[section].append(item(doc))


INVALID: dict[str, tuple[Callable[[Doc], None], list[Any], str]] = {
    "unknown team owner": (
        _set(("services", 2, "owner"), "marketing"),
        ["services", 2, "owner"],
        "unknown team 'marketing'",
    ),
    "unknown dependency": (
        _set(("services", 0, "depends_on"), ["payments-api", "redis"]),
        ["services", 0, "depends_on", 1],
        "unknown service 'redis'",
    ),
    "self dependency": (
        _set(("services", 4, "depends_on"), ["postgres-main"]),
        ["services", 4, "depends_on", 0],
        "cannot depend on itself",
    ),
    "bad timezone": (
        _set(("users", 2, "timezone"), "Mars/Olympus_Mons"),
        ["users", 2, "timezone"],
        "'Mars/Olympus_Mons' is not an IANA time zone",
    ),
    "bad email": (
        _set(("users", 0, "email"), "alice-at-acme"),
        ["users", 0, "email"],
        "is not an email address",
    ),
    "wrong type": (
        _set(("services", 1, "tier"), "high"),
        ["services", 1, "tier"],
        "integer",
    ),
    "out of range": (
        _set(("services", 1, "tier"), 9),
        ["services", 1, "tier"],
        "less than or equal to 4",
    ),
    "bad role": (
        _set(("users", 3, "role"), "boss"),
        ["users", 3, "role"],
        "'viewer', 'responder' or 'admin'",
    ),
    "unknown field": (
        _set(("services", 3, "colour"), "blue"),
        ["services", 3, "colour"],
        "Extra inputs are not permitted",
    ),
    "unknown target": (
        _set(("severities", 0, "targets", "pager_minutes"), 5),
        ["severities", 0, "targets", "pager_minutes"],
        "Extra inputs are not permitted",
    ),
    "unknown section": (_set(("alerts",), []), ["alerts"], "Extra inputs are not permitted"),
    "missing name": (
        _append("services", lambda d: {"owner": "platform"}),
        ["services", 6, "name"],
        "Field required",
    ),
    "duplicate service": (
        _append("services", lambda d: {"name": "kafka"}),
        ["services", 6, "name"],
        "duplicate name 'kafka'",
    ),
    "duplicate team": (
        _append("teams", lambda d: {"name": "payments"}),
        ["teams", 3, "name"],
        "duplicate name 'payments'",
    ),
    "duplicate user": (
        _append("users", lambda d: {"name": "bob", "email": "bob2@acme.example"}),
        ["users", 6, "name"],
        "duplicate name 'bob'",
    ),
    "duplicate email": (
        _append("users", lambda d: {"name": "bobby", "email": "bob@acme.example"}),
        ["users", 6, "email"],
        "'bob@acme.example' used twice",
    ),
    "duplicate severity rank": (
        _set(("severities", 3, "rank"), 1),
        ["severities", 3, "rank"],
        "rank 1 used twice",
    ),
    "unknown team member": (
        _set(("teams", 1, "members"), ["carol", "mallory"]),
        ["teams", 1, "members", 1],
        "unknown user 'mallory'",
    ),
    "no severities": (_set(("severities",), []), ["severities"], "at least one severity"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_document_is_refused_with_the_path(api: Api, case: str) -> None:
    mutate, path, message = INVALID[case]
    apply_ok(api, acme())
    before = export(api)
    doc = acme()
    doc["services"][0]["description"] = "changed alongside the error"
    mutate(doc)
    for dry_run in (True, False):
        r = apply(api, doc, dry_run=dry_run)
        assert r.status_code == 422, r.text
        body = r.json()
        problem = next((p for p in body["problems"] if p["path"] == path), None)
        assert problem is not None, body
        assert message in problem["message"]
        assert body["field"] == body["problems"][0]["location"]
    assert export(api) == before


def test_every_problem_is_reported_at_once(api: Api) -> None:
    doc = acme()
    doc["services"][0]["owner"] = "nobody"
    doc["users"][0]["timezone"] = "Nowhere/Town"
    r = apply(api, doc)
    assert r.status_code == 422
    locations = {p["location"] for p in r.json()["problems"]}
    assert {"services[0].owner", "users[0].timezone"} <= locations
    assert api.get("/api/v1/services").json() == []


def test_email_of_another_live_user_is_refused(api: Api) -> None:
    apply_ok(api, acme())
    before = export(api)
    for users in (
        [{"name": "bob", "email": "alice@acme.example"}],  # moved onto a live user's address
        [{"name": "zed", "email": "admin@warroom.local"}],  # a new user with a taken address
    ):
        r = apply(api, {"users": users}, dry_run=True)
        assert r.status_code == 422, r.text
        assert r.json()["problems"][0]["path"] == ["users", 0, "email"]
        assert "belongs to user" in r.json()["error"]
        assert apply(api, {"users": users}).status_code == 422
    assert export(api) == before


def test_config_that_is_not_a_mapping(api: Api) -> None:
    r = api.post("/api/v1/config/apply", json={"config": ["services"]})
    assert r.status_code == 422
    assert r.json()["field"] == "config"


def test_partial_documents_leave_other_sections_alone(api: Api) -> None:
    apply_ok(api, acme())
    services = [s for s in acme()["services"] if s["name"] != "search"]
    assert apply_ok(api, {"services": services}) == [("delete", "services", "search", [])]
    assert len(api.get("/api/v1/teams").json()) == 3


# --- loader ---------------------------------------------------------------------------------


def test_load_example_folder_merges_files() -> None:
    loaded = load(EXAMPLE)
    assert set(loaded.data) == {
        "severities",
        "teams",
        "users",
        "services",
        "integrations",
        "alert_rules",
        "schedules",
        "escalation_policies",
        "status_components",
        "heartbeats",
        "slos",
    }
    assert len(loaded.data["users"]) == 6
    file, line = loaded.locate(("services", 0, "owner")) or ("", 0)
    assert file.endswith("services.yaml") and line == 4
    file, line = loaded.locate(("users", 2, "timezone")) or ("", 0)
    assert file.endswith("people.yaml") and line == 4
    # A path without a recorded location falls back to its closest parent.
    assert loaded.locate(("services", 3, "runbooks")) == loaded.locate(("services", 3))


def test_same_section_in_several_files_is_concatenated(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("services:\n  - name: api\n    tier: 1\n")
    sub = tmp_path / "more"
    sub.mkdir()
    (sub / "b.yml").write_text("# more\nservices:\n  - name: db\n\n    tier: 2\n")
    (tmp_path / "notes.txt").write_text("not: [config")
    loaded = load(tmp_path)
    assert loaded.data == {"services": [{"name": "api", "tier": 1}, {"name": "db", "tier": 2}]}
    assert loaded.locate(("services", 0, "tier")) == (str(tmp_path / "a.yaml"), 3)
    assert loaded.locate(("services", 1, "tier")) == (str(sub / "b.yml"), 5)


def test_empty_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    (tmp_path / "teams.yaml").write_text("teams:\n  - name: sre\n")
    assert load(tmp_path).data == {"teams": [{"name": "sre"}]}


def _error(target: Path) -> ConfigFileError:
    with pytest.raises(ConfigFileError) as info:
        load(target)
    return info.value


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text("services:\n  - name: api\n    depends_on: [db, cache\n  - name: db\n")
    err = _error(path)
    assert err.file == str(path)
    assert err.line == 4
    assert str(err).startswith(f"{path}:4: invalid YAML")


def test_unknown_section_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("teams: []\n")
    path = tmp_path / "b.yaml"
    path.write_text("# alerts live elsewhere\n\nalerts:\n  - name: x\n")
    err = _error(tmp_path)
    assert (err.file, err.line) == (str(path), 3)
    assert "unknown section 'alerts'" in str(err)
    assert "severities, teams, users, services" in str(err)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("services:\n  name: api\n", 1, "services must be a list"),
        ("- services\n", 1, "the top level must be a mapping"),
        ("teams: []\nteams: []\n", 2, "duplicate key 'teams'"),
        ("services:\n  - name: a\n    tier: 1\n    tier: 2\n", 4, "duplicate key 'tier'"),
    ],
)
def test_structural_errors_name_the_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    err = _error(path)
    assert err.line == line
    assert message in err.message


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "archive.yaml").mkdir()  # a folder named like a file is not a config file
    (tmp_path / "teams.yaml").write_text("teams: []\n")
    assert load(tmp_path).data == {"teams": []}
    latin = tmp_path / "users.yaml"
    latin.write_bytes("users:\n  - name: jos\xe9\n".encode("latin-1"))
    err = _error(tmp_path)
    assert err.file == str(latin)
    assert "not UTF-8 text" in str(err)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    assert "no such file or folder" in str(_error(tmp_path / "nope.yaml"))
    assert "no .yaml or .yml files" in str(_error(tmp_path))


def test_loaded_locations_point_at_offending_fields(api: Api, tmp_path: Path) -> None:
    """The API's problem paths resolve to lines in the files that were loaded."""
    target = tmp_path / "conf"
    target.mkdir()
    for f in EXAMPLE.iterdir():
        (target / f.name).write_text(f.read_text())
    services = target / "services.yaml"
    services.write_text(services.read_text().replace("owner: discovery", "owner: discovry"))
    loaded = load(target)
    r = apply(api, copy.deepcopy(loaded.data))
    assert r.status_code == 422
    problem = r.json()["problems"][0]
    assert problem["location"] == "services[2].owner"
    assert loaded.locate(tuple(problem["path"])) == (str(services), 18)


def test_alerting_sections_apply_export_and_route(api: Api, client: Any) -> None:
    full = load(EXAMPLE).data
    r = apply(api, full)
    assert r.status_code == 200, r.text
    created = {c["name"]: c for c in r.json()["changes"] if c["kind"] == "integrations"}
    assert set(created) == {"prometheus", "deploys"} and len(created["deploys"]["key"]) == 32
    assert apply_ok(api, full) == []
    exported = yaml.safe_load(api.get("/api/v1/config/export").text)
    assert [r["name"] for r in exported["alert_rules"]] == [
        "database-pages",
        "search-latency",
        "warnings-are-tickets",
    ]
    assert exported["alert_rules"][0]["matchers"] == ["service=~postgres.*", "severity=critical"]
    assert apply_ok(api, exported) == []
    # the first matching rule routes the alert: service, severity
    key = created["deploys"]["key"]
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "db",
        "payload": {
            "summary": "PG replica lag",
            "source": "pg",
            "severity": "critical",
            "custom_details": {},
        },
    }
    body["payload"]["component"] = "x"
    r = client.post("/v2/enqueue", json=body)
    assert r.status_code == 202
    # labels from PagerDuty events do not carry `service`, so no rule matched: integration's service
    alert = api.get("/api/v1/alerts").json()["items"][0]
    assert alert["service"] == "payments-api" and alert["rule"] is None
    # a warning is routed by "warnings-are-tickets": stored, no incident
    body["dedup_key"], body["payload"]["severity"] = "warn", "warning"
    client.post("/v2/enqueue", json=body)
    alert = api.get("/api/v1/alerts").json()["items"][0]
    assert alert["rule"] == "warnings-are-tickets" and alert["incident"] is None


def test_alerting_section_errors_name_the_field(api: Api) -> None:
    apply_ok(api, acme())
    bad = {
        "alert_rules": [
            {"name": "a", "matchers": ["nonsense"], "severity": "SEV-9", "service": "nope"},
            {"name": "a"},
        ],
        "integrations": [{"name": "i", "kind": "nagios"}],
    }
    r = apply(api, bad)
    assert r.status_code == 422
    assert r.json()["field"] == "integrations[0].kind"
    del bad["integrations"]
    locations = {p["location"] for p in apply(api, bad).json()["problems"]}
    assert locations == {
        "alert_rules[0].matchers[0]",
        "alert_rules[0].severity",
        "alert_rules[0].service",
        "alert_rules[1].name",
    }


def test_service_used_by_a_rule_cannot_be_removed_unless_the_rule_goes_too(api: Api) -> None:
    full = load(EXAMPLE).data
    apply_ok(api, full)
    without_search = [s for s in full["services"] if s["name"] != "search"]
    r = apply(api, {**full, "services": without_search})
    assert r.status_code == 422 and "search-latency" in r.text
    rules = [x for x in full["alert_rules"] if x["name"] != "search-latency"]
    # The status page component standing for search goes too.
    components = [c for c in full["status_components"] if c.get("service") != "search"]
    changes = apply_ok(
        api,
        {
            **full,
            "services": without_search,
            "alert_rules": rules,
            "status_components": components,
        },
    )
    assert ("delete", "services", "search", []) in changes
    assert ("delete", "alert_rules", "search-latency", []) in changes
