"""Status page security: components named with `/`, null for required settings, NUL in
public forms and links, subscriber tokens stored as hashes (and the migration that hashed
the old ones), and private incidents in the staff views and in team channels."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.conftest import Api
from tests.receivers import WebhookReceiver
from tests.test_statuspage import _Catcher, _drain, _mail, declare
from tests.test_web import Browser, give_password, login
from warroom.config import service as config
from warroom.core.clock import ManualClock
from warroom.core.security import hash_token
from warroom.db.session import Database

# --- components ---------------------------------------------------------------------------


def test_null_for_a_required_component_setting_is_a_422_that_changes_nothing(
    client: TestClient, admin: Api
) -> None:
    assert admin.post("/api/v1/status/components", json={"name": "API"}).status_code == 201
    raw = TestClient(client.app, raise_server_exceptions=False)
    for key in ("showcase", "position", "only_show_if_degraded"):
        r = raw.patch(
            "/api/v1/status/components/API",
            json={"description": "changed", key: None},
            headers={"Authorization": f"Bearer {admin.token}"},
        )
        assert r.status_code == 422, (key, r.text)
        assert r.json()["field"] == key and "null" in r.json()["error"]
    (api,) = admin.get("/api/v1/status/components").json()
    assert api["description"] == "" and api["showcase"] is True
    assert api["position"] == 1 and api["only_show_if_degraded"] is False
    r = admin.patch("/api/v1/status/components/API", json={"showcase": False, "position": 7})
    assert r.status_code == 200 and r.json()["showcase"] is False and r.json()["position"] == 7


def test_a_component_named_with_a_slash_can_be_changed(
    client: TestClient, admin: Api, alice: Api, db: Database
) -> None:
    r = admin.post("/api/v1/status/components", json={"name": "EU/West"})
    assert r.status_code == 201, r.text
    code = r.json()["id"]
    r = admin.patch("/api/v1/status/components/EU/West", json={"description": "Frankfurt"})
    assert r.status_code == 200 and r.json()["description"] == "Frankfurt"
    r = admin.patch("/api/v1/status/components/EU%2FWest", json={"position": 3})
    assert r.status_code == 200 and r.json()["position"] == 3
    r = alice.post("/api/v1/status/components/EU/West/status", json={"status": "major_outage"})
    assert r.status_code == 200 and r.json()["status"] == "major_outage"
    r = alice.post(f"/api/v1/status/components/{code}/status", json={"status": "operational"})
    assert r.status_code == 200 and r.json()["name"] == "EU/West"
    # a name that ends like the status route is still a name
    assert admin.post("/api/v1/status/components", json={"name": "x/status"}).status_code == 201
    r = admin.patch("/api/v1/status/components/x/status", json={"description": "d"})
    assert r.status_code == 200 and r.json()["name"] == "x/status"
    r = alice.post("/api/v1/status/components/x/status/status", json={"status": "major_outage"})
    assert r.status_code == 200 and r.json()["name"] == "x/status"
    # and from the staff web page
    give_password(db, "alice")
    login(client, "alice")
    b = Browser(client)
    b.get("/status-admin")
    r = b.submit("/status-admin/component/EU/West", status="partial_outage")
    assert "EU/West is now partial_outage" in r.text
    assert admin.delete("/api/v1/status/components/EU/West").status_code == 204
    names = [c["name"] for c in admin.get("/api/v1/status/components").json()]
    assert names == ["x/status"]


# --- NUL in what the public can send ------------------------------------------------------


def test_nul_in_the_subscribe_form_and_component_names_is_refused(
    client: TestClient, admin: Api
) -> None:
    """Checked where the text is used, so this holds with or without the app's middleware
    (which answers 422 before the handler)."""
    raw = TestClient(client.app, raise_server_exceptions=False)
    r = raw.post("/status/subscribe", data={"email": "ops\u0000@example.test"})
    assert r.status_code == 422, r.text
    r = raw.post(
        "/api/v1/status/components",
        json={"name": "A\u0000PI"},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert r.status_code == 422 and r.json()["field"] == "name"
    assert admin.get("/api/v1/status/components").json() == []
    assert admin.get("/api/v1/status/subscribers").json() == []


# --- subscriber tokens --------------------------------------------------------------------


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_subscriber_tokens_are_stored_only_as_hashes(
    client: TestClient, admin: Api, alice: Api, db: Database, clock: ManualClock
) -> None:
    from warroom.statuspage import subscriptions
    from warroom.statuspage.models import StatusSubscriber, StatusSubscriberToken

    assert client.post("/status/subscribe", data={"email": "ops@example.test"}).status_code == 200
    with db.session() as s:
        sub = s.scalar(select(StatusSubscriber))
        assert sub is not None
        first = subscriptions.delivery(s, clock, {"subscriber": sub.id, "confirm": True})
        second = subscriptions.delivery(s, clock, {"subscriber": sub.id, "confirm": True})
        assert first is not None and second is not None
        tokens = [_token(first["links"]["confirm"]), _token(second["links"]["confirm"])]
        assert tokens[0] != tokens[1]  # a new token for every message
        assert _token(first["links"]["unsubscribe"]) == tokens[0]
        hashes = list(s.scalars(select(StatusSubscriberToken.token_hash)))
        assert sorted(hashes) == sorted(hash_token(t) for t in tokens)
    # no copy of a token anywhere in the store
    with db.engine.connect() as conn:
        for table in ("status_subscribers", "status_subscriber_tokens", "jobs"):
            dump = " ".join(str(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
            assert not any(t in dump for t in tokens), table
    # every token sent keeps working
    assert client.get(f"/status/subscribers/confirm/{tokens[1]}").status_code == 200
    assert client.get(f"/status/subscribers/confirm/{tokens[0]}").status_code == 200
    assert client.get(f"/status/subscribers/confirm/{hash_token(tokens[0])}").status_code == 404
    # a link with a NUL is unknown (or refused before, by the app's middleware)
    raw = TestClient(client.app, raise_server_exceptions=False)
    for path in ("confirm/abc%00def", "unsubscribe/abc%00def"):
        assert raw.get(f"/status/subscribers/{path}").status_code in (200, 404, 422)
    assert raw.post("/status/subscribers/unsubscribe/abc%00def").status_code in (404, 422)
    assert client.post(f"/status/subscribers/unsubscribe/{tokens[0]}").status_code == 200
    assert client.get(f"/status/subscribers/confirm/{tokens[1]}").status_code == 404
    assert admin.get("/api/v1/status/subscribers").json()[0]["unsubscribed_at"] is not None


def test_update_emails_carry_working_links(
    client: TestClient, admin: Api, alice: Api, db: Database, clock: ManualClock, monkeypatch: Any
) -> None:
    from warroom.engine.worker import Worker

    catcher = _Catcher()
    try:
        monkeypatch.setenv("WARROOM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("WARROOM_SMTP_PORT", str(catcher.smtp.server_address[1]))
        client.post("/status/subscribe", data={"email": "ops@example.test"})
        worker = Worker(db, clock)
        _drain(worker)
        optin = re.search(r"/status/subscribers/confirm/\S+", _mail(catcher.mails[0]).get_content())
        assert optin is not None and client.get(optin.group(0)).status_code == 200
        alice.post("/api/v1/status/incidents", json={"incident": declare(alice), "body": "Look"})
        _drain(worker)
        mail = _mail(catcher.mails[1])
        unsub = re.search(r"(/status/subscribers/unsubscribe/[^>\s]+)", mail["List-Unsubscribe"])
        assert unsub is not None and _token(unsub.group(1)) != _token(optin.group(0))
        assert client.post(unsub.group(1)).status_code == 200
    finally:
        catcher.close()


def test_tokens_issued_before_the_upgrade_still_work_after_it(
    client: TestClient, db: Database
) -> None:
    """0011: a store from before, with plain-text tokens, comes out with only their hashes,
    and the links already sent still confirm and unsubscribe."""
    from alembic import command

    from warroom.db.migrate import alembic_config, upgrade

    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    with db.engine.begin() as conn:
        for i, token in (
            (1, "old-token-one-xxxxxxxxxxxxxxxxxxx"),
            (2, "old-token-two-yyyyyyyyyyy"),
        ):
            conn.execute(
                text(
                    "INSERT INTO status_subscribers (id, kind, address, token, confirmed_at,"
                    " unsubscribed_at, created_at) VALUES (:id, 'email', :address, :token,"
                    " NULL, NULL, '2026-03-01 09:00:00')"
                ),
                {"id": i, "address": f"sub{i}@example.test", "token": token},
            )
    upgrade(db.engine)
    with db.engine.connect() as conn:
        columns = list(conn.execute(text("SELECT * FROM status_subscribers")).keys())
        stored = sorted(conn.execute(text("SELECT token_hash FROM status_subscriber_tokens")))
    assert "token" not in columns
    assert [h for (h,) in stored] == sorted(
        hash_token(t) for t in ("old-token-one-xxxxxxxxxxxxxxxxxxx", "old-token-two-yyyyyyyyyyy")
    )
    r = client.get("/status/subscribers/confirm/old-token-one-xxxxxxxxxxxxxxxxxxx")
    assert r.status_code == 200 and "Subscribed" in r.text
    r = client.post("/status/subscribers/unsubscribe/old-token-two-yyyyyyyyyyy")
    assert r.status_code == 200 and "Unsubscribed" in r.text
    assert client.post("/status/subscribers/unsubscribe/old-token-one").status_code == 404


# --- private incidents --------------------------------------------------------------------


def test_a_published_incident_made_private_is_hidden_from_those_who_cannot_see_it(
    client: TestClient, admin: Api, alice: Api, bob: Api, carol: Api, db: Database
) -> None:
    ref = declare(alice, title="Payroll export leaks salaries")
    r = alice.post(
        "/api/v1/status/incidents",
        json={"incident": ref, "body": "Investigating exports of payroll data"},
    )
    assert r.status_code == 201, r.text
    code = r.json()["id"]
    assert alice.patch(f"/api/v1/incidents/{ref}", json={"private": True}).status_code == 200
    # those who may see the private incident (a participant, an admin) see it all
    for who in (alice, admin):
        (pub,) = who.get("/api/v1/status/incidents").json()
        assert pub["hidden"] is True and pub["incident"] == ref
        assert pub["name"] == "Payroll export leaks salaries" and len(pub["updates"]) == 1
        assert who.get(f"/api/v1/status/incidents/{ref}").json()["id"] == code
    # anyone else sees that a hidden public incident exists, and nothing of it
    for who in (bob, carol):
        (pub,) = who.get("/api/v1/status/incidents").json()
        assert pub["id"] == code and pub["hidden"] is True
        assert pub["incident"] is None and pub["updates"] == []
        assert "Payroll" not in str(pub) and "payroll" not in str(pub)
        assert who.get(f"/api/v1/status/incidents/{code}").json() == pub
        assert who.get(f"/api/v1/status/incidents/{ref}").status_code == 404
    r = bob.post(
        f"/api/v1/status/incidents/{ref}/updates", json={"status": "identified", "body": "x"}
    )
    assert r.status_code == 404
    # the staff web page shows bob no more than the API does
    give_password(db, "bob")
    login(client, "bob")
    page = client.get("/status-admin").text
    assert "Hidden: its incident is now private" in page
    assert "Payroll" not in page and "payroll" not in page and ref not in page
    # made public again, it is whole again
    assert alice.patch(f"/api/v1/incidents/{ref}", json={"private": False}).status_code == 200
    (pub,) = bob.get("/api/v1/status/incidents").json()
    assert pub["hidden"] is False and pub["incident"] == ref and len(pub["updates"]) == 1


def test_internal_updates_of_a_private_incident_stay_off_team_channels(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    from warroom.engine.models import Job

    with db.session() as s:
        config.apply(
            s,
            clock,
            {
                "teams": [
                    {"name": "payments", "channel": "#pay", "channel_url": "https://chat.test/x"}
                ],
                "services": [{"name": "checkout", "owner": "payments"}],
            },
        )
    secret = declare(alice, title="Card data exposed", services=["checkout"], private=True)
    r = alice.post(
        f"/api/v1/incidents/{secret}/updates",
        json={"template": "status", "extra": "Rotating keys.", "audience": "internal"},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["delivery"] == "none" and out["channels"] == []
    assert "private" in out["delivery_note"] and "participants" in out["delivery_note"]
    assert out["event"]["data"]["delivery"] == "none"
    preview = alice.post(
        f"/api/v1/incidents/{secret}/updates", json={"template": "status", "preview": True}
    ).json()
    assert preview["delivery"] == "none" and "private" in preview["delivery_note"]
    with db.session() as s:
        assert [j for j in s.scalars(select(Job)) if j.kind == "comms_deliver"] == []
    # the same update of a public incident goes to the team's channel
    public = declare(alice, title="Checkout slow", services=["checkout"])
    r = alice.post(
        f"/api/v1/incidents/{public}/updates",
        json={"template": "status", "audience": "internal"},
    )
    assert r.json()["delivery"] == "queued" and r.json()["channels"] == ["#pay"]


def test_an_update_queued_before_the_incident_is_made_private_is_not_posted(
    alice: Api, db: Database, clock: ManualClock, hooks: dict[str, WebhookReceiver]
) -> None:
    from warroom.engine.worker import Worker

    with db.session() as s:
        config.apply(
            s,
            clock,
            {
                "teams": [
                    {
                        "name": "payments",
                        "channel": "#pay",
                        "channel_url": hooks["channel"].url + "/pay",
                    }
                ],
                "services": [{"name": "checkout", "owner": "payments"}],
            },
        )
    ref = declare(alice, title="Card data exposed", services=["checkout"])
    r = alice.post(
        f"/api/v1/incidents/{ref}/updates",
        json={"template": "status", "extra": "Rotating keys.", "audience": "internal"},
    )
    assert r.json()["delivery"] == "queued"
    assert alice.patch(f"/api/v1/incidents/{ref}", json={"private": True}).status_code == 200
    Worker(db, clock).run_due()
    assert [h.path for h in hooks["channel"].hits] == []
