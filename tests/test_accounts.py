"""Accounts as an admin and a user meet them: a demoted user's token loses the old role,
tokens are listed and revoked, users deactivated and reactivated, passwords set by the
user, by an admin, or through a one-time link; sign-in is throttled after repeated
failures and does not reveal which names exist; every such action is in the audit log."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_web import csrf_of, give_password, login, text_of
from warroom.auth import accounts
from warroom.auth import service as auth_service
from warroom.core.clock import ManualClock
from warroom.core.errors import Unauthorized
from warroom.db.session import Database


def test_a_demoted_users_token_acts_with_the_new_role(
    admin: Api, alice: Api, clock: ManualClock
) -> None:
    assert alice.get("/api/v1/me").json()["role"] == "responder"
    r = admin.post(
        "/api/v1/config/apply",
        json={
            "config": {
                "users": [{"name": "alice", "email": "alice@example.test", "role": "viewer"}]
            }
        },
    )
    assert r.status_code == 200, r.text
    assert alice.get("/api/v1/me").json()["role"] == "viewer"
    r = alice.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-2"})
    assert r.status_code == 403
    # Promoting the user back does not lift a token above the role it was made with.
    admin.post(
        "/api/v1/config/apply",
        json={
            "config": {"users": [{"name": "alice", "email": "alice@example.test", "role": "admin"}]}
        },
    )
    assert alice.get("/api/v1/me").json()["role"] == "responder"


def test_tokens_are_listed_without_secrets_and_revoked(
    admin: Api, alice: Api, bob: Api, people: dict[str, str]
) -> None:
    mine = alice.get("/api/v1/tokens").json()
    assert [t["user"] for t in mine] == ["alice"] and "token" not in mine[0]
    everyone = admin.get("/api/v1/tokens").json()
    assert {t["user"] for t in everyone} >= {"alice", "bob", "carol", "admin"}
    bobs = next(t for t in everyone if t["user"] == "bob")
    # alice cannot revoke bob's token, nor learn that it exists.
    r = alice.delete(f"/api/v1/tokens/{bobs['id']}")
    assert r.status_code == 404 and r.json()["field"] == "token"
    assert bob.get("/api/v1/me").status_code == 200
    r = admin.delete(f"/api/v1/tokens/{bobs['id']}")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert bob.get("/api/v1/me").status_code == 401
    # Revoking one's own token works too, and the token stops at once.
    r = alice.delete(f"/api/v1/tokens/{mine[0]['id']}")
    assert r.status_code == 200
    assert alice.get("/api/v1/me").status_code == 401
    revoked = {t["id"] for t in admin.get("/api/v1/tokens?revoked=true").json() if t["revoked_at"]}
    assert revoked == {mine[0]["id"], bobs["id"]}
    assert not revoked & {t["id"] for t in admin.get("/api/v1/tokens").json()}
    log = admin.get("/api/v1/audit?action=token.revoked").json()
    assert [(e["actor"], e["target"]) for e in log] == [
        ("alice", f"token {mine[0]['id']}"),
        ("admin", f"token {bobs['id']}"),
    ]


def test_deactivating_a_user_ends_their_sessions_and_tokens(
    admin: Api, alice: Api, client: TestClient, db: Database
) -> None:
    give_password(db, "alice")
    login(client, "alice")
    assert client.get("/incidents").url.path == "/incidents"
    r = alice.post("/api/v1/users/bob/active", json={"active": False})
    assert r.status_code == 403  # only admins
    r = admin.post("/api/v1/users/alice/active", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert alice.get("/api/v1/me").status_code == 401
    assert client.get("/incidents").url.path == "/login"
    assert "Unknown user or wrong password" in text_of(login(client, "alice").text)
    r = admin.post("/api/v1/users/alice/active", json={"active": True})
    assert r.json()["active"] is True and alice.get("/api/v1/me").status_code == 200
    r = admin.post("/api/v1/users/admin/active", json={"active": False})
    assert r.status_code == 409 and r.json()["field"] == "user"
    actions = [e["action"] for e in admin.get("/api/v1/audit").json()]
    assert actions[:3] == ["user.reactivated", "login.failed", "user.deactivated"]


def test_passwords_set_by_oneself_by_an_admin_and_through_a_reset_link(
    admin: Api, alice: Api, client: TestClient, db: Database, clock: ManualClock
) -> None:
    r = alice.post("/api/v1/users/alice/password", json={"password": "short"})
    assert r.status_code == 422 and r.json()["field"] == "password"
    assert (
        alice.post("/api/v1/users/bob/password", json={"password": "long enough"}).status_code
        == 403
    )
    assert (
        alice.post("/api/v1/users/alice/password", json={"password": "alice's own"}).status_code
        == 204
    )
    assert login(client, "alice", "alice's own").url.path == "/incidents"
    # An admin's reset link: shown once, works once, and ends the sessions it replaces.
    r = admin.post("/api/v1/users/alice/reset-link")
    assert r.status_code == 201, r.text
    path = "/password/reset/" + r.json()["url"].rsplit("/", 1)[1]
    assert client.get("/incidents").url.path == "/incidents"  # making a link ends nothing
    with TestClient(client.app) as stranger:
        page = stranger.get(path)
        assert page.status_code == 200 and "alice" in text_of(page.text)
        r = stranger.post(path, data={"csrf": csrf_of(page.text), "password": "brand new pw"})
        assert "Your password is set" in text_of(r.text), r.text
        again = stranger.get(path)
        assert again.status_code == 404 and "unknown, used or expired" in text_of(again.text)
    assert client.get("/incidents").url.path == "/login"  # using it ended alice's sessions
    assert login(client, "alice", "brand new pw").url.path == "/incidents"
    bobs = admin.post("/api/v1/users/bob/reset-link").json()["url"].rsplit("/", 1)[1]
    with TestClient(client.app) as stranger:
        assert stranger.get(f"/password/reset/{bobs}").status_code == 200
        clock.advance(seconds=accounts.RESET_LIFETIME.total_seconds() + 1)
        assert stranger.get(f"/password/reset/{bobs}").status_code == 404  # expired


def test_sign_in_is_throttled_after_repeated_failures_even_with_the_right_password(
    client: TestClient, db: Database, people: dict[str, str], clock: ManualClock
) -> None:
    give_password(db, "alice")
    for _ in range(accounts.LOGIN_FAILURES):
        assert "wrong password" in text_of(login(client, "alice", "guess-guess").text)
    r = login(client, "alice")  # the right password
    assert "too many failed sign-ins" in text_of(r.text).lower()
    assert r.url.path == "/login"
    clock.advance(seconds=accounts.LOGIN_WINDOW.total_seconds() + 1)
    assert login(client, "alice").url.path == "/incidents"


def test_unknown_names_cost_the_same_password_work(
    db: Database, clock: ManualClock, people: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    real = auth_service.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    give_password(db, "alice")
    for name in ("alice", "nobody-here"):
        with db.session() as s, pytest.raises(Unauthorized):
            auth_service.login(s, clock, name, "wrong password")
    # argon2 ran for the unknown name too, against a real hash.
    assert len(calls) == 2 and all(h and h.startswith("$argon2") for h in calls)
