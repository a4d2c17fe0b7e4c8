"""Schemathesis against warroom's own OpenAPI document: for every operation, requests
generated from the schema, as an admin on a store with an incident in it, are never
answered with a server error. Bounded: six examples per operation, derandomized (the
same requests on every run), no deadline."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import Api


@pytest.fixture
def api_schema(app: Any, admin: Api, people: dict[str, str]) -> Any:
    r = admin.post("/api/v1/incidents", json={"title": "Checkout down", "severity": "SEV-2"})
    assert r.status_code == 201, r.text
    app.state.fuzz_token = people["admin"]
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case: Any, app: Any) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {app.state.fuzz_token}"}
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
