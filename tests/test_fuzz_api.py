"""Arbitrary JSON against every write endpoint: a 4xx or a success, never a 500."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Api

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "title",
    "severity",
    "services",
    "status",
    "role",
    "user",
    "text",
    "kind",
    "reason",
    "summary",
    "milestone",
    "at",
    "corrects",
    "started_at",
    "private",
    "detection_source",
    "config",
    "dry_run",
    "email",
    "policy",
    "users",
    "timeout_minutes",
    "contact_methods",
    "notification_rules",
    "method",
    "incident",
    "content",
    "verdict",
    "due",
    "priority",
]
bodies = json_values | st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
ENDPOINTS = [
    ("POST", "/api/v1/incidents"),
    ("PATCH", "/api/v1/incidents/1"),
    ("POST", "/api/v1/incidents/1/events"),
    ("POST", "/api/v1/incidents/1/roles"),
    ("POST", "/api/v1/incidents/1/status"),
    ("POST", "/api/v1/incidents/1/severity"),
    ("POST", "/api/v1/incidents/1/resolve"),
    ("POST", "/api/v1/incidents/1/milestones"),
    ("POST", "/api/v1/incidents/1/participants"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/tokens"),
    ("POST", "/api/v1/config/apply"),
    ("POST", "/api/v1/incidents/1/page"),
    ("POST", "/api/v1/pages/1/ack"),
    ("POST", "/api/v1/pages/1/resolve"),
    ("PUT", "/api/v1/users/admin/contact"),
    ("POST", "/api/v1/users/admin/contact/test"),
    ("POST", "/api/v1/postmortems/lint"),
    ("POST", "/api/v1/postmortems"),
    ("PATCH", "/api/v1/postmortems/1"),
    ("POST", "/api/v1/postmortems/1/reviews"),
    ("POST", "/api/v1/postmortems/1/overrides"),
    ("POST", "/api/v1/action-items"),
    ("PATCH", "/api/v1/action-items/1"),
]
# A test notification the channel refuses is a 502 with the channel's message.
BAD_GATEWAY_OK = {"/api/v1/users/admin/contact/test"}


def test_no_body_makes_a_500(admin: Api) -> None:
    admin.post("/api/v1/incidents", json={"title": "Target", "severity": "SEV-2"})

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.sampled_from(ENDPOINTS), bodies)
    def check(endpoint: tuple[str, str], body: Any) -> None:
        method, path = endpoint
        r = admin.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {admin.token}"}
        )
        refused = r.status_code == 502 and path in BAD_GATEWAY_OK
        assert r.status_code < 500 or refused, (method, path, body, r.text)
        if r.status_code >= 400:
            assert r.json()["error"]

    check()
