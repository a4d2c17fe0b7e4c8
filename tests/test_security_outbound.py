"""Security of outbound messages (issue 11): chat and webhook credentials are shown whole
to admins only and redacted in every error text; webhooks and Apprise URLs reach only
public addresses unless an admin allow-lists them (checked when saved and at every send);
a contact test answers generic outcomes and is rate-limited; an email header made from
people's text is one line, and an email contact is one address.

The suite allow-lists 127.0.0.1 for its local receivers (tests/conftest.py); the tests of
the policy set WARROOM_OUTBOUND_ALLOW themselves. Host names that must resolve to a given
address are answered by a fake resolver (`channels.resolve`), never by real DNS.
"""

from __future__ import annotations

import email
import ipaddress
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Api, free_port
from tests.paging_support import apply, declare
from tests.receivers import WebhookReceiver
from warroom import settings
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker
from warroom.notify import channels
from warroom.paging.models import Notification

TOKEN = "s3cr3t-t0ken"
PUBLIC = ipaddress.ip_address("93.184.216.34")
LOOPBACK = ipaddress.ip_address("127.0.0.1")


def org(
    alice_methods: list[dict[str, Any]], channel_url: str = "", fallback: bool = True
) -> dict[str, Any]:
    """alice paged directly by the payments policy, whose fallback is the payments team."""
    return {
        "users": [
            {
                "name": "alice",
                "email": "alice@example.test",
                "contact_methods": alice_methods,
                "notification_rules": [{"method": m["name"]} for m in alice_methods],
            }
        ],
        "teams": [
            {
                "name": "payments",
                "channel": "#payments",
                "channel_url": channel_url,
                "members": ["alice"],
            }
        ],
        "services": [{"name": "checkout", "owner": "payments", "escalation_policy": "payments"}],
        "escalation_policies": [
            {
                "name": "payments",
                "fallback": "payments" if fallback else None,
                "levels": [{"timeout_minutes": 5, "targets": [{"user": "alice"}]}],
            }
        ],
    }


def put_contact(api: Api, *methods: dict[str, Any], user: str = "alice") -> Any:
    return api.client.put(
        f"/api/v1/users/{user}/contact",
        headers={"Authorization": f"Bearer {api.token}"},
        json={"contact_methods": list(methods), "notification_rules": []},
    )


def contact_test(api: Api, method: str, user: str = "alice") -> Any:
    return api.post(f"/api/v1/users/{user}/contact/test", json={"method": method})


@pytest.fixture
def no_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbound policy as shipped: nothing allow-listed."""
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "")


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """A fake resolver for the names a test puts in it; every other host resolves as usual."""
    names: dict[str, list[Any]] = {}
    real = channels.resolve

    def resolve(host: str, port: int | None) -> list[Any]:
        if host.lower() in names:
            return list(names[host.lower()])
        return real(host, port)

    monkeypatch.setattr(channels, "resolve", resolve)
    return names


# --- secrets shown to admins only, redacted everywhere else ------------------------------


def test_team_channel_urls_are_whole_for_admins_and_redacted_for_everyone_else(
    admin: Api, alice: Api, carol: Api
) -> None:
    urls = {
        "payments": f"https://hooks.slack.com/services/T000/B000/{TOKEN}",
        "search": "slack://TokenA/TokenB/TokenC/#search",
        "storage": f"https://bot:{TOKEN}@chat.example/hooks/abc?token={TOKEN}",
        "web": "",
    }
    apply(admin, {"teams": [{"name": n, "channel_url": u} for n, u in urls.items()]})
    shown = {
        "payments": "https://hooks.slack.com/***",
        "search": "slack://***",
        "storage": "https://***@chat.example/***",
        "web": "",
    }
    for api in (carol, alice):  # a viewer and a responder
        r = api.get("/api/v1/teams")
        assert r.status_code == 200
        assert {t["name"]: t["channel_url"] for t in r.json()} == shown
        assert TOKEN not in r.text and "TokenA" not in r.text
    assert {t["name"]: t["channel_url"] for t in admin.get("/api/v1/teams").json()} == urls
    exported = admin.get("/api/v1/config/export").text  # apply accepts it back unchanged
    assert urls["storage"] in exported and urls["search"] in exported


def test_failed_pages_and_updates_never_show_the_webhook_token(
    admin: Api,
    alice: Api,
    carol: Api,
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/dead/{TOKEN}"  # nothing listens there
    phone = f"{hooks['alice'].url}/hook/{TOKEN}?token={TOKEN}"
    chat = f"{hooks['channel'].url}/chat/{TOKEN}"
    methods = [
        {"name": "phone", "kind": "webhook", "address": phone},
        {"name": "dead", "kind": "webhook", "address": dead},
        {"name": "ap", "kind": "apprise", "address": chat.replace("http://", "json://")},
    ]
    apply(admin, org(methods, channel_url=chat))
    hooks["alice"].status = 503
    hooks["channel"].status = 503
    declare(alice)
    worker = Worker(db, clock)
    worker.run_due()
    r = alice.post(
        "/api/v1/incidents/1/updates",
        json={"template": "status", "extra": "Rolling back.", "audience": "internal"},
    )
    assert r.status_code in (200, 201), r.text
    clock.advance(minutes=5)  # the fallback to the team channel, and every retry so far
    worker.run_due()
    assert len(hooks["alice"].hits) >= 2 and len(hooks["channel"].hits) >= 3  # they failed

    page = carol.get("/api/v1/pages/1")
    incident = carol.get("/api/v1/incidents/1")
    web = carol.get("/api/v1/pages")
    for r in (page, incident, web):
        assert r.status_code == 200, r.text
        assert TOKEN not in r.text
    notes = page.json()["notifications"]
    errors = [n["last_error"] for n in notes] + [e["detail"] for n in notes for e in n["log"]]
    port = hooks["alice"].server.server_address[1]
    assert f"webhook http://127.0.0.1:{port}/***: HTTP 503" in errors
    assert any("http://127.0.0.1:" in e and "ConnectError" in e for e in errors)  # the dead one
    assert "Apprise could not deliver to json://***" in errors
    texts = [e["text"] for e in incident.json()["timeline"]]
    assert any(t.startswith("Delivering the update to #payments failed") for t in texts)
    assert any("failed (attempt 1 of" in t for t in texts)
    with db.read() as s:  # what is stored is redacted already
        for n in s.query(Notification):
            assert TOKEN not in n.last_error and TOKEN not in json.dumps(n.log)


def test_redaction_keeps_scheme_and_host_only() -> None:
    assert channels.redact_url(f"https://u:{TOKEN}@h.example:8443/p?q={TOKEN}#f") == (
        "https://***@h.example:8443/***"
    )
    assert channels.redact_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    assert channels.redact_url(f"tgram://{TOKEN}/123") == "tgram://***"
    text = f"webhook https://hooks.example/{TOKEN}: HTTP 404 (see http://x.example/?k={TOKEN})."
    assert channels.redact_text(text) == (
        "webhook https://hooks.example/***: HTTP 404 (see http://x.example/***)."
    )
    assert channels.redact_text(channels.redact_text(text)) == channels.redact_text(text)
    assert TOKEN not in str(channels.DeliveryFailed(f"webhook http://h.example/{TOKEN}: x"))


def test_httpx_does_not_log_webhook_urls(
    caplog: pytest.LogCaptureFixture, hooks: dict[str, WebhookReceiver]
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: everything that reaches it
    msg = channels.Message(key="k1", subject="s", text="t")
    url = f"{hooks['alice'].url}/hook/{TOKEN}"
    assert channels.send("webhook", url, "", msg) == "webhook answered HTTP 200"
    assert len(hooks["alice"].received) == 1
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() >= logging.WARNING
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


# --- outbound address policy -------------------------------------------------------------

REFUSED_WEBHOOKS = [
    "http://127.0.0.1:{port}/x",
    "http://localhost:{port}/x",
    "http://[::1]:{port}/x",
    "http://[::ffff:127.0.0.1]:{port}/x",  # IPv4-mapped IPv6
    "http://2130706433:{port}/x",  # 127.0.0.1 as one number
    "http://0.0.0.0:{port}/x",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.1.2.3/x",
    "http://192.168.1.1/x",
    "http://172.16.0.1/x",
    "http://100.64.0.1/x",  # shared (carrier-grade NAT)
    "http://[fe80::1]/x",
    "http://[fd00::1]/x",
    "http://224.0.0.1/x",
    "https://192.0.2.1/x",  # documentation range
]
REFUSED_APPRISE = [
    "json://127.0.0.1:{port}/x",
    "jsons://localhost:{port}/x",
    "form://10.0.0.5/x",
    "xml://[::1]:{port}/x",
    "ntfy://127.0.0.1:{port}/topic",
    "mmost://192.168.0.9/token",
    "mailtos://user:pw@example.com?smtp=127.0.0.1",
]


@pytest.mark.parametrize(
    "kind,address",
    [("webhook", a) for a in REFUSED_WEBHOOKS] + [("apprise", a) for a in REFUSED_APPRISE],
)
def test_a_contact_to_a_non_public_address_is_refused_when_saved(
    alice: Api, no_allow: None, kind: str, address: str
) -> None:
    address = address.format(port=free_port())
    r = put_contact(alice, {"name": "m", "kind": kind, "address": address})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "contact_methods[0].address"
    assert "not a public address" in r.json()["error"]
    assert "WARROOM_OUTBOUND_ALLOW" in r.json()["error"]
    assert alice.get("/api/v1/users/alice/contact").json()["contact_methods"] == []


@pytest.mark.parametrize(
    "kind,address",
    [
        ("webhook", "https://93.184.216.34/hook"),
        ("webhook", "https://[2606:2800:220:1:248:1893:25c8:1946]/hook"),
        ("apprise", "slack://TokenA/TokenB/TokenC/#pages"),  # tokens, no host
        ("apprise", "discord://1234567890/abcdefghijklmnop"),  # a number that is no host
        ("apprise", "json://93.184.216.34/hook"),
    ],
)
def test_a_contact_to_a_public_address_is_accepted(
    alice: Api, no_allow: None, kind: str, address: str
) -> None:
    r = put_contact(alice, {"name": "m", "kind": kind, "address": address})
    assert r.status_code == 200, r.text


def test_a_name_that_resolves_to_a_private_address_is_refused_and_checked_again_at_send(
    admin: Api,
    alice: Api,
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
    dns: dict[str, list[Any]],
    no_allow: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = hooks["alice"].server.server_address[1]
    hook = f"http://hooks.partner.test:{port}/alice"
    dns["hooks.partner.test"] = [PUBLIC, LOOPBACK]  # one bad address is enough
    r = put_contact(alice, {"name": "phone", "kind": "webhook", "address": hook})
    assert r.status_code == 422 and r.json()["field"] == "contact_methods[0].address"
    assert "hooks.partner.test (127.0.0.1) is not a public address" in r.json()["error"]

    dns["hooks.partner.test"] = [PUBLIC]
    assert put_contact(
        alice, {"name": "phone", "kind": "webhook", "address": hook}
    ).status_code == (200)
    apply(admin, org([{"name": "phone", "kind": "webhook", "address": hook}], fallback=False))
    dns["hooks.partner.test"] = [LOOPBACK]  # DNS changes after the check
    r = contact_test(alice, "phone")
    assert r.status_code == 502 and r.json()["error"] == "refused: address not allowed"
    declare(alice)
    Worker(db, clock).run_due()
    [note] = alice.get("/api/v1/pages/1").json()["notifications"]
    assert "hooks.partner.test (127.0.0.1) is not a public address" in note["last_error"]
    assert hooks["alice"].hits == []  # nothing ever reached the receiver

    # An admin allow-lists it: the send connects to the address it checked (real DNS does
    # not know the name).
    for allowed in ("127.0.0.1", "127.0.0.0/8", "hooks.partner.test", "*.partner.test"):
        monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", f"10.0.0.0/8, {allowed}")
        clock.advance(minutes=1)  # the contact test limit
        r = contact_test(alice, "phone")
        assert r.status_code == 200 and r.json()["outcome"] == "delivered", (allowed, r.text)
    assert [h.path for h in hooks["alice"].received] == ["/alice"] * 4
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "10.0.0.0/8, *.other.test")
    clock.advance(minutes=1)
    assert contact_test(alice, "phone").json()["error"] == "refused: address not allowed"


def test_apprise_destinations_are_checked_at_send(
    alice: Api,
    hooks: dict[str, WebhookReceiver],
    dns: dict[str, list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = hooks["alice"].server.server_address[1]
    dns["push.partner.test"] = [PUBLIC]
    address = f"json://push.partner.test:{port}/apprise"
    assert put_contact(
        alice, {"name": "ap", "kind": "apprise", "address": address}
    ).status_code == (200)
    dns["push.partner.test"] = [LOOPBACK]
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "")
    r = contact_test(alice, "ap")
    assert r.status_code == 502 and r.json()["error"] == "refused: address not allowed"
    assert hooks["alice"].hits == []


def test_team_channel_urls_go_through_the_same_check(
    admin: Api,
    alice: Api,
    db: Database,
    clock: ManualClock,
    hooks: dict[str, WebhookReceiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = hooks["channel"].url + "/chat"
    methods = [{"name": "phone", "kind": "webhook", "address": hooks["alice"].url + "/a"}]
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "")
    r = admin.post("/api/v1/config/apply", json={"config": org(methods, channel_url=chat)})
    assert r.status_code == 422
    problems = {p["location"]: p["message"] for p in r.json()["problems"]}
    assert "not a public address" in problems["teams[0].channel_url"]
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "127.0.0.1")
    apply(admin, org(methods, channel_url=chat))
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "")  # the admin takes it back
    declare(alice)
    worker = Worker(db, clock)
    worker.run_due()
    alice.post(
        "/api/v1/incidents/1/updates",
        json={"template": "status", "extra": "Rolling back.", "audience": "internal"},
    )
    clock.advance(minutes=5)  # the page is exhausted: the fallback goes to the channel
    worker.run_due()
    assert hooks["channel"].hits == [] and hooks["alice"].hits == []
    texts = [e["text"] for e in alice.get("/api/v1/incidents/1").json()["timeline"]]
    refused = [t for t in texts if "127.0.0.1 is not a public address" in t]
    assert any(t.startswith("Delivering the update to #payments failed") for t in refused)
    assert any("by webhook failed" in t for t in refused)  # alice's own page
    fallback = alice.get("/api/v1/pages/1").json()["notifications"][-1]
    assert fallback["user"] is None and "not a public address" in fallback["last_error"]


def test_every_address_family_trick_is_not_public() -> None:
    for a in (
        "127.0.0.1",
        "::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
        "0.0.0.0",
        "::",
        "255.255.255.255",
        "240.0.0.1",
        "ff02::1",
    ):
        assert not channels.is_public(ipaddress.ip_address(a)), a
    for a in ("93.184.216.34", "::ffff:93.184.216.34", "2606:4700::1111", "64:ff9b::5db8:d822"):
        assert channels.is_public(ipaddress.ip_address(a)), a


def test_the_allow_list_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", " 10.0.0.0/8, Hooks.Corp.Example ,,::1 ")
    assert settings.outbound_allow() == ["10.0.0.0/8", "hooks.corp.example", "::1"]
    monkeypatch.setenv("WARROOM_OUTBOUND_ALLOW", "10.0.0.0/33")
    with pytest.raises(settings.SettingsError, match="WARROOM_OUTBOUND_ALLOW"):
        settings.outbound_allow()
    monkeypatch.delenv("WARROOM_OUTBOUND_ALLOW")
    assert settings.outbound_allow() == []


# --- contact test: generic outcomes, rate limit ------------------------------------------


def test_contact_test_answers_generic_outcomes_only(
    alice: Api, hooks: dict[str, WebhookReceiver], clock: ManualClock
) -> None:
    dead_port = free_port()
    r = put_contact(
        alice,
        {"name": "ok", "kind": "webhook", "address": hooks["alice"].url + "/ok"},
        {"name": "down", "kind": "webhook", "address": hooks["bob"].url + "/down"},
        {"name": "dead", "kind": "webhook", "address": f"http://127.0.0.1:{dead_port}/x"},
        {"name": "slow", "kind": "apprise", "address": f"json://127.0.0.1:{dead_port}/x"},
    )
    assert r.status_code == 200, r.text
    hooks["bob"].status = 404
    assert contact_test(alice, "ok").json()["outcome"] == "delivered"
    bodies = []
    for method in ("down", "dead", "slow"):
        r = contact_test(alice, method)
        assert r.status_code == 502
        assert r.json()["error"] == "failed: the receiver did not accept the message"
        bodies.append({k: v for k, v in r.json().items() if k != "method"})
        for detail in ("404", "ConnectError", "refused", str(dead_port), "http"):
            assert detail not in r.text, (method, r.text)
    assert bodies[0] == bodies[1] == bodies[2] | {"kind": "webhook"}  # nothing tells them apart


def test_contact_tests_are_rate_limited_per_user(
    alice: Api, bob: Api, hooks: dict[str, WebhookReceiver], clock: ManualClock
) -> None:
    put_contact(alice, {"name": "ok", "kind": "webhook", "address": hooks["alice"].url})
    for _ in range(5):
        assert contact_test(alice, "ok").status_code == 200
    r = contact_test(alice, "ok")
    assert r.status_code == 429 and r.json()["field"] == "method"
    assert r.headers["retry-after"] == "60"
    assert len(hooks["alice"].received) == 5  # the sixth was not sent
    put_contact(bob, {"name": "ok", "kind": "webhook", "address": hooks["bob"].url}, user="bob")
    assert contact_test(bob, "ok", user="bob").status_code == 200  # bob has his own count
    clock.advance(seconds=30)
    assert contact_test(alice, "ok").headers["retry-after"] == "30"
    clock.advance(seconds=30)
    assert contact_test(alice, "ok").status_code == 200


# --- email: one-line headers, one address ------------------------------------------------


class smtp_server:  # noqa: N801 (used as a context manager)
    """A real SMTP server on 127.0.0.1 (aiosmtpd) collecting (recipients, raw bytes)."""

    def __enter__(self) -> tuple[int, list[tuple[list[str], bytes]]]:
        from aiosmtpd.controller import Controller

        inbox: list[tuple[list[str], bytes]] = []
        lock = threading.Lock()

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                with lock:
                    inbox.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
                return "250 OK"

        port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        return port, inbox

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[list[str], bytes]]]:
    with smtp_server() as (port, inbox):
        monkeypatch.setenv("WARROOM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("WARROOM_SMTP_PORT", str(port))
        yield inbox


def header_lines(raw: bytes, name: bytes) -> list[bytes]:
    """The logical lines (continuations unfolded) of the header block that start `name:`."""
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    logical: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and logical:
            logical[-1] += line
        else:
            logical.append(line)
    return [x for x in logical if x.lower().startswith(name.lower() + b":")]


def test_a_line_break_in_an_incident_title_still_pages_by_email(
    admin: Api,
    alice: Api,
    db: Database,
    clock: ManualClock,
    smtp: list[tuple[list[str], bytes]],
) -> None:
    mail = [{"name": "mail", "kind": "email", "address": "alice@example.test"}]
    apply(admin, org(mail, fallback=False))
    declare(alice, title="Checkout\r\nBcc: victim@evil.test\n\tis down")
    Worker(db, clock).run_due()
    [(rcpt, raw)] = smtp
    assert rcpt == ["alice@example.test"]
    [subject] = header_lines(raw, b"Subject")
    assert subject == b"Subject: [SEV-1] INC-1 Checkout Bcc: victim@evil.test is down"
    assert header_lines(raw, b"Bcc") == []
    assert email.message_from_bytes(raw)["Subject"] == (
        "[SEV-1] INC-1 Checkout Bcc: victim@evil.test is down"
    )
    [note] = alice.get("/api/v1/pages/1").json()["notifications"]
    assert note["state"] == "sent", note


def test_a_line_break_in_an_alert_summary_or_a_method_name_is_one_header_line(
    smtp: list[tuple[list[str], bytes]],
) -> None:
    msg = channels.Message(key="alert:1", subject="[alert] disk\nfull\r\non db-1", text="t")
    channels.send("email", "alice@example.test", "", msg)
    [(_, raw)] = smtp
    assert header_lines(raw, b"Subject") == [b"Subject: [alert] disk full on db-1"]
    assert channels.header_text("a \r\n\t b\x00c\u2028d") == "a b c d"
    # An address stored before addresses were checked is not sent to at all.
    with pytest.raises(channels.DeliveryFailed, match="is not one email address"):
        channels.send("email", "a@b.test,victim@x.test", "", msg)
    assert len(smtp) == 1


@pytest.mark.parametrize(
    "address",
    [
        "a@b.test,victim@x.test",
        "a@b.test;victim@x.test",
        "Alice <a@b.test>",
        "a@b.test victim@x.test",
        "a@b.test\r\nBcc: victim@x.test",
        "a@b.test\nvictim@x.test",
        '"a b"@b.test',
        "a@@b.test",
        "@b.test",
        "a@",
        "a@b.test.",
        "a..b@b.test",
        "a@-b.test",
        "a@b.test>",
    ],
)
def test_an_email_contact_is_exactly_one_address(alice: Api, address: str) -> None:
    r = put_contact(alice, {"name": "mail", "kind": "email", "address": address})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "contact_methods[0].address"


@pytest.mark.parametrize(
    "address", ["alice@example.test", "alice+pages@mail.example.test", "o'brien@x.example"]
)
def test_ordinary_email_contacts_are_accepted(alice: Api, address: str) -> None:
    r = put_contact(alice, {"name": "mail", "kind": "email", "address": address})
    assert r.status_code == 200, r.text


def test_a_line_break_in_a_status_incident_name_is_one_subject_line(
    admin: Api,
    alice: Api,
    db: Database,
    clock: ManualClock,
    smtp: list[tuple[list[str], bytes]],
) -> None:
    apply(admin, {"services": [{"name": "checkout"}]})
    admin.client.post("/status/subscribe", data={"email": "ops@example.test"})
    worker = Worker(db, clock)
    worker.run_due()
    [(_, optin)] = smtp
    link = re.search(rb"/status/subscribers/confirm/\S+", optin.replace(b"=\r\n", b""))
    assert link is not None
    assert admin.client.get(link.group(0).decode()).status_code == 200
    ref = declare(alice)["id"]
    r = alice.post(
        "/api/v1/status/incidents",
        json={"incident": ref, "name": "Payments\r\nBcc: victim@evil.test\nfailing", "body": "x"},
    )
    assert r.status_code == 201, r.text
    worker.run_due()
    [(rcpt, raw)] = smtp[1:]
    assert rcpt == ["ops@example.test"]
    assert header_lines(raw, b"Subject") == [
        b"Subject: [Status status] Investigating: Payments Bcc: victim@evil.test failing"
    ]
    assert header_lines(raw, b"Bcc") == []
