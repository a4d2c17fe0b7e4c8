"""Bad input is a 4xx naming the field, never a 500 or a half-written row: NUL characters
(PostgreSQL stores none), JSON nested ~1,000 deep (Python's encoder recursed into a
RecursionError) and a signature header that is not ASCII (hmac.compare_digest raised).

The alert intake is answered before the app's middleware, so it is checked on the plain
app; the rest of the API through `warroom.core.text.RefuseBadText`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import test_alerts_ingest
from tests.conftest import Api
from tests.test_alerts_ingest import integration
from warroom.alerts.parsers import (
    InvalidEvent,
    parse_alertmanager,
    parse_pagerduty,
    parse_pagerduty_change,
    parse_webhook,
)
from warroom.app import create_app
from warroom.core import text
from warroom.core.clock import ManualClock
from warroom.db.session import Database

SECRET = "a-signing-secret-of-some-length"
services = test_alerts_ingest.services  # the fixture: teams and services


def nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def deep(levels: int) -> str:
    """JSON text of `nested(levels)` (the JSON encoders recurse; this does not)."""
    return '{"a":' * levels + '"x"' + "}" * levels


def with_deep(body: dict[str, Any], levels: int) -> bytes:
    """`body` as JSON, its "DEEP" string replaced by `deep(levels)`."""
    return json.dumps(body).replace('"DEEP"', deep(levels)).encode()


def pd_body(key: str, **payload: Any) -> dict[str, Any]:
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "k1",
        "payload": {"summary": "Checkout 5xx", "source": "prom-1", "severity": "critical"}
        | payload,
    }


def raw(client: TestClient) -> TestClient:
    """The same app, answering a server error with a 500 instead of raising in the test."""
    return TestClient(client.app, raise_server_exceptions=False)


# --- the pure checks ----------------------------------------------------------------------


def test_problem_names_the_first_nul_and_the_depth_limit() -> None:
    assert text.problem({"a": [1, {"b": "ok"}], "c": "fine"}) is None
    assert text.problem({"a": [1, {"b": "x\x00y"}]}) == (("a", 1, "b"), text.NUL_MESSAGE)
    where, what = text.problem({"ok": 1, "bad\x00key": 2}) or ((), "")
    assert where == ("bad\x00key",) and "NUL" in what
    # the top level is level 1: 32 levels pass, 33 do not
    assert text.problem(nested(32)) is None
    assert text.problem(nested(33)) == (("a",) * 32, text.DEPTH_MESSAGE)
    # no input is too deep for the check itself (it does not recurse)
    assert text.problem(nested(100_000)) == (("a",) * 32, text.DEPTH_MESSAGE)
    assert text.field_name(("alerts", 0, "labels")) == "alerts[0].labels"
    assert text.field_name(()) == "body"
    assert len(text.field_name(("k" * 500,))) == text.MAX_FIELD


def test_json_form_and_query_checks() -> None:
    assert text.json_problem(b'{"title": "a\\u0000b"}') == ("title", text.NUL_MESSAGE)
    assert text.json_problem(b'{"title": "a\\\\u0000b"}') is None  # a backslash, then u0000
    # what orjson refuses but the framework reads is still checked
    assert text.json_problem(b'{"x": NaN, "title": "\\u0000"}') == ("title", text.NUL_MESSAGE)
    assert text.json_problem(b"[" * 2000 + b"]" * 2000) == ("body", text.DEPTH_MESSAGE)
    assert text.json_problem(b"not json \\u0000") is None  # the app answers invalid JSON
    assert text.query_problem(b"q=a%00b") == ("q", text.NUL_MESSAGE)
    assert text.query_problem(b"q=fine&n=1") is None
    urlencoded = "application/x-www-form-urlencoded"
    assert text.form_problem(urlencoded, b"email=a%00b") == ("email", text.NUL_MESSAGE)
    multipart = (
        b'--B\r\nContent-Disposition: form-data; name="login"\r\n\r\nok\r\n'
        b'--B\r\nContent-Disposition: form-data; name="password"\r\n\r\na\x00b\r\n--B--\r\n'
    )
    found = text.form_problem("multipart/form-data; boundary=B", multipart)
    assert found == ("password", text.NUL_MESSAGE)


def test_parsers_refuse_nul_and_deep_nesting_naming_the_field() -> None:
    key = "k" * 32
    cases: list[tuple[Any, Any, str]] = [
        (parse_pagerduty, pd_body(key, custom_details=nested(1000)), "'payload.custom_details.a"),
        (parse_pagerduty, pd_body(key, summary="a\x00b"), "'payload.summary'"),
        (
            parse_pagerduty_change,
            {"routing_key": key, "payload": {"summary": "d", "custom_details": nested(1000)}},
            "'payload.custom_details.a",
        ),
        (
            parse_alertmanager,
            {"alerts": [{"status": "firing", "labels": {"alertname": "x", "bad\x00": "1"}}]},
            "'alerts[0].labels.bad",
        ),
        (
            parse_alertmanager,
            {"alerts": [{"status": "firing", "labels": {"deep": nested(1000)}}]},
            "'alerts[0].labels.deep.a",
        ),
        (lambda b: parse_webhook(b, {}), {"title": "t", "extra": nested(5000)}, "'extra.a"),
    ]
    for parse, body, field in cases:
        with pytest.raises(InvalidEvent) as caught:
            parse(body)
        assert caught.value.errors[0].startswith(field), caught.value.errors


# --- the alert intake (its own fast path, before any middleware) ---------------------------


def test_non_ascii_signature_is_a_wrong_signature(
    client: TestClient, admin: Api, services: None, db: Database
) -> None:
    signed = integration(admin, "pagerduty", hmac_secret=SECRET)["key"]
    body = json.dumps(pd_body(signed)).encode()
    good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    c = raw(client)
    for header in ("sha256=é".encode(), ("\u00ff" * 71).encode("latin-1")):
        r = c.post("/v2/enqueue", content=body, headers={"X-Warroom-Signature": header})
        assert r.status_code == 401, r.text
        assert "X-Warroom-Signature" in r.json()["errors"][0]
    change = json.dumps({"routing_key": signed, "payload": {"summary": "deploy"}}).encode()
    r = c.post("/v2/change/enqueue", content=change, headers={"X-Warroom-Signature": b"\xe9"})
    assert r.status_code == 401
    hook = integration(admin, "webhook", hmac_secret=SECRET)["key"]
    r = c.post(
        f"/integrations/webhook/{hook}",
        content=b'{"title": "x"}',
        headers={"X-Warroom-Signature": b"sha256=\xe9"},
    )
    assert r.status_code == 401 and r.json()["field"] == "signature"
    assert admin.get("/api/v1/alerts").json()["items"] == []
    # the right signature still passes; an integration without a secret ignores the header
    r = c.post("/v2/enqueue", content=body, headers={"X-Warroom-Signature": good})
    assert r.status_code == 202, r.text
    plain = integration(admin, "pagerduty", service="search")["key"]
    r = c.post(
        "/v2/enqueue",
        content=json.dumps(pd_body(plain) | {"dedup_key": "k2"}).encode(),
        headers={"X-Warroom-Signature": b"\xe9"},
    )
    assert r.status_code == 202, r.text


def test_intake_refuses_deep_nesting_and_nul_without_storing(
    client: TestClient, admin: Api, services: None
) -> None:
    c = raw(client)
    pd = integration(admin, "pagerduty")["key"]
    r = c.post("/v2/enqueue", content=with_deep(pd_body(pd, custom_details="DEEP"), 1000))
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0].startswith("'payload.custom_details.a.a")
    assert "deeper than 32 levels" in r.json()["errors"][0]
    # beyond the JSON decoder's own limit (1,024) the answer is the same kind of 400
    r = c.post("/v2/enqueue", content=b'{"a":' * 1100 + b"1" + b"}" * 1100)
    assert r.status_code == 400 and "deeper than 32 levels" in r.json()["errors"][0]
    r = c.post("/v2/enqueue", json=pd_body(pd, summary="5xx\u0000 on checkout"))
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == ["'payload.summary' " + text.NUL_MESSAGE]
    r = c.post("/v2/enqueue", json=pd_body(pd) | {"routing_key": pd[:31] + "\u0000"})
    assert r.status_code == 400
    change = {"routing_key": pd, "payload": {"summary": "deploy", "custom_details": "DEEP"}}
    assert c.post("/v2/change/enqueue", content=with_deep(change, 999)).status_code == 400
    am = integration(admin, "alertmanager")["key"]
    alert = {"status": "firing", "labels": {"alertname": "HighErrors\u0000"}}
    r = c.post(f"/integrations/alertmanager/{am}", json={"version": "4", "alerts": [alert]})
    assert r.status_code == 400 and r.json()["error"].startswith("'alerts[0].labels.alertname'")
    hook = integration(admin, "webhook")["key"]
    r = c.post(f"/integrations/webhook/{hook}", content=with_deep({"title": "x", "b": "DEEP"}, 999))
    assert r.status_code == 400 and "deeper than 32 levels" in r.json()["error"]
    r = c.post(f"/integrations/webhook/{hook[:31]}%00", json={"title": "x"})
    assert r.status_code == 404
    assert admin.get("/api/v1/alerts").json()["items"] == []
    assert admin.get("/api/v1/changes").json() == []
    # nesting within the limit is accepted as before
    r = c.post("/v2/enqueue", json=pd_body(pd, custom_details=nested(20)))
    assert r.status_code == 202, r.text


# --- the rest of the API, through the middleware -------------------------------------------


@pytest.fixture
def guarded(db: Database, clock: ManualClock) -> Iterator[TestClient]:
    """The app with RefuseBadText, as the app factory adds it (added here unless it
    already is). Server errors come back as 500s."""
    app = create_app(db, clock)
    if not any(m.cls is text.RefuseBadText for m in app.user_middleware):
        app.add_middleware(text.RefuseBadText)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_json_api_refuses_nul_naming_the_field_and_writes_nothing(
    guarded: TestClient, people: dict[str, str]
) -> None:
    h = {"Authorization": f"Bearer {people['alice']}"}
    body = {"title": "Checkout\u0000 errors", "severity": "SEV-2"}
    r = guarded.post("/api/v1/incidents", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json() == {"error": "title: " + text.NUL_MESSAGE, "field": "title"}
    r = guarded.post(
        "/api/v1/incidents",
        json={"title": "ok", "severity": "SEV-2", "services\u0000": []},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "services\\u0000"
    assert guarded.get("/api/v1/incidents", headers=h).json()["items"] == []
    r = guarded.get("/api/v1/incidents?q=a%00", headers=h)
    assert r.status_code == 422 and r.json()["field"] == "q"
    r = guarded.get("/api/v1/incidents/INC-1%00", headers=h)
    assert r.status_code == 422 and r.json()["field"] == "path"
    # the same body without the NUL goes through, replayed exactly as sent
    r = guarded.post("/api/v1/incidents", json={"title": "Checkout errors", "severity": "SEV-2"})
    assert r.status_code == 401  # no token: refused, but not for its text
    r = guarded.post(
        "/api/v1/incidents", json={"title": "Checkout errors", "severity": "SEV-2"}, headers=h
    )
    assert r.status_code == 201, r.text


def test_json_api_refuses_deep_nesting(guarded: TestClient, people: dict[str, str]) -> None:
    """A mapping nested 500 deep was stored, then every list of integrations was a 500."""
    h = {"Authorization": f"Bearer {people['admin']}", "content-type": "application/json"}
    hook = {"name": "deep", "kind": "webhook", "mapping": {"title": "t", "x": "DEEP"}}
    r = guarded.post("/api/v1/integrations", content=with_deep(hook, 500), headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["field"].startswith("mapping.x.a.a") and "32 levels" in r.json()["error"]
    r = guarded.get("/api/v1/integrations", headers=h)
    assert r.status_code == 200 and r.json() == []
    r = guarded.post("/api/v1/config/apply", content=with_deep({"config": "DEEP"}, 1000), headers=h)
    assert r.status_code == 422 and r.json()["field"].startswith("config.a.a")
    r = guarded.post("/api/v1/config/apply", content=b"[" * 5000 + b"]" * 5000, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "body"


def test_forms_refuse_nul(guarded: TestClient, db: Database) -> None:
    from tests.test_web import give_password

    give_password(db, "admin")
    page = guarded.get("/login")
    r = guarded.post("/login", data={"login": "adm\u0000in", "password": "x", "csrf": "x"})
    assert r.status_code == 422 and r.json()["field"] == "login"
    r = guarded.post(
        "/login",
        files={"login": (None, "admin"), "password": (None, "x\u0000y")},
    )
    assert r.status_code == 422 and r.json()["field"] == "password"
    assert page.status_code == 200
    r = guarded.post("/status/subscribe", data={"email": "ops\u0000@example.test"})
    assert r.status_code == 422 and r.json()["field"] == "email"
    r = guarded.get("/status/subscribers/confirm/abc%00def")
    assert r.status_code == 422 and r.json()["field"] == "path"
