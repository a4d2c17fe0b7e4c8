"""The `sso:` section of config as code: validated, planned, applied, exported, turned off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import Api, make_token
from warroom.config.loader import ConfigFileError, load
from warroom.core.clock import ManualClock
from warroom.db.session import Database

SSO: dict[str, Any] = {
    "name": "Acme SSO",
    "issuer": "https://login.acme.example",
    "client_id": "warroom",
    "client_secret_env": "WARROOM_OIDC_SECRET",
    "scopes": ["openid", "email", "profile", "groups"],
    "roles": {"claim": "groups", "map": {"sre-admins": "admin", "sre": "responder"}},
}


@pytest.fixture
def api(client: TestClient, db: Database, clock: ManualClock) -> Api:
    return Api(client, make_token(db, clock, "admin", "admin"))


def apply(api: Api, doc: dict[str, Any]) -> Any:
    return api.post("/api/v1/config/apply", json={"config": doc})


def changes(api: Api, doc: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    r = apply(api, doc)
    assert r.status_code == 200, r.text
    return [(c["action"], c["kind"], c["name"], c["fields"]) for c in r.json()["changes"]]


def exported(api: Api) -> dict[str, Any]:
    r = api.get("/api/v1/config/export")
    assert r.status_code == 200
    doc: dict[str, Any] = yaml.safe_load(r.text)
    return doc


def test_apply_export_update_and_turn_off(api: Api, client: TestClient) -> None:
    assert "sso" not in exported(api)
    assert changes(api, {"sso": SSO}) == [("create", "sso", "Acme SSO", [])]
    assert changes(api, {"sso": SSO}) == []
    live = exported(api)
    assert live["sso"]["issuer"] == SSO["issuer"]
    assert live["sso"]["create_users"] is True and live["sso"]["roles"]["default"] == "viewer"
    assert changes(api, live) == []  # the export applies unchanged
    assert "Sign in with Acme SSO" in client.get("/login").text

    changed = {**SSO, "roles": {"claim": "roles", "map": {"ops": "admin"}}, "create_users": False}
    assert changes(api, {"sso": changed}) == [
        ("update", "sso", "Acme SSO", ["create_users", "roles"])
    ]
    assert exported(api)["sso"]["roles"]["map"] == {"ops": "admin"}
    # A document without the section leaves it alone; null turns it off.
    assert changes(api, {"teams": []}) == []
    assert changes(api, {"sso": None}) == [("delete", "sso", "Acme SSO", [])]
    assert "sso" not in exported(api)
    assert changes(api, {"sso": None}) == []
    assert "Sign in with" not in client.get("/login").text
    assert client.get("/login/sso", follow_redirects=False).status_code == 404


@pytest.mark.parametrize(
    "section,field,message",
    [
        ({**SSO, "client_secret": "hunter2"}, "sso", "client_secret_env"),
        ({**SSO, "issuer": "http://login.acme.example"}, "sso.issuer", "https"),
        ({**SSO, "issuer": "login.acme.example"}, "sso.issuer", "https"),
        ({**SSO, "scopes": ["email"]}, "sso.scopes", "openid"),
        ({**SSO, "client_secret_env": "not a name"}, "sso.client_secret_env", "pattern"),
        ({**SSO, "roles": {"map": {"sre": "root"}}}, "sso.roles.map.sre", "viewer"),
        ({**SSO, "roles": {"map": {"g" * 190: "admin"}}}, "sso.roles.map." + "g" * 190, "long"),
        ({k: v for k, v in SSO.items() if k != "issuer"}, "sso.issuer", "required"),
    ],
)
def test_a_bad_section_is_refused_naming_the_field(
    api: Api, section: dict[str, Any], field: str, message: str
) -> None:
    r = apply(api, {"sso": section})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert message in r.json()["error"]
    assert "sso" not in exported(api)


def test_the_loader_takes_one_sso_mapping(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"sso": SSO}, sort_keys=False))
    (tmp_path / "b.yaml").write_text("teams: []\n")
    loaded = load(tmp_path)
    assert loaded.data["sso"] == SSO
    assert loaded.locate(("sso", "issuer")) == (str(tmp_path / "a.yaml"), 3)
    (tmp_path / "c.yaml").write_text("sso:\n  issuer: https://x.example\n")
    with pytest.raises(ConfigFileError, match="sso is given twice"):
        load(tmp_path)
    (tmp_path / "c.yaml").write_text("sso: [1]\n")
    with pytest.raises(ConfigFileError, match="sso must be a mapping"):
        load(tmp_path)
    (tmp_path / "c.yaml").write_text("sso:\n")
    with pytest.raises(ConfigFileError, match="sso is given twice"):
        load(tmp_path)
