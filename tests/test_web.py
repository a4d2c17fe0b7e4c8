"""The server-rendered web pages, driven like a browser would: forms, cookies, redirects."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom.db.session import Database
from warroom.org.models import Service
from warroom.org.service import set_password, user_by_name

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')


def give_password(db: Database, name: str, password: str = PASSWORD) -> None:
    with db.session() as s:
        set_password(s, user_by_name(s, name), password)


def csrf_of(page: str) -> str:
    m = CSRF_RE.search(page)
    assert m, "the page has no form with a CSRF token"
    return m.group(1)


def text_of(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    body = page.split("<body>", 1)[-1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def role_holder(page: str, role: str) -> str:
    m = re.search(rf'<dd data-role="{role}">([^<]*)</dd>', page)
    assert m, f"no {role} in the roles list"
    return html.unescape(m.group(1))


def badge(page: str, ident: str) -> str:
    m = re.search(rf'id="{ident}">([^<]*)<', page)
    assert m, f"no #{ident} badge"
    return m.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD, next: str = "") -> Any:
    page = client.get("/login" + (f"?next={next}" if next else ""))
    assert page.status_code == 200
    form = {"login": name, "password": password, "csrf": csrf_of(page.text)}
    if next:
        form["next"] = next
    return client.post("/login", data=form)


class Browser:
    """A logged-in TestClient that submits the forms found on the last page it loaded."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.page = ""

    def get(self, path: str) -> Any:
        r = self.client.get(path)
        self.page = r.text
        return r

    def submit(self, action: str, **fields: Any) -> Any:
        data = {"csrf": csrf_of(self.page), **fields}
        r = self.client.post(action, data=data)
        self.page = r.text
        return r

    @property
    def text(self) -> str:
        return text_of(self.page)


@pytest.fixture
def web_client(app: Any) -> Any:
    """A second, independent browser (its own cookie jar)."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def as_alice(client: TestClient, db: Database, people: dict[str, str]) -> Browser:
    give_password(db, "alice")
    r = login(client, "alice")
    assert r.url.path == "/incidents", r.text
    b = Browser(client)
    b.page = r.text
    return b


def declare_in_room(b: Browser, **fields: Any) -> Any:
    b.get("/incidents")
    form = {"title": "Checkout failing", "severity": "SEV-2", **fields}
    r = b.submit("/incidents", **form)
    assert r.status_code == 200, r.text
    return r


# --- login -----------------------------------------------------------------------------


def test_unauthenticated_pages_redirect_to_login(client: TestClient, people: Any) -> None:
    r = client.get("/incidents", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/incidents"
    r = client.get("/incidents/1", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/incidents/1"
    r = client.get("/incidents")
    assert r.url.path == "/login"
    assert "Log in" in text_of(r.text)
    assert "Declare an incident" not in r.text


def test_login_with_password_lands_on_the_incident_list(
    client: TestClient, db: Database, people: Any
) -> None:
    give_password(db, "alice")
    r = login(client, "alice")
    assert r.status_code == 200
    assert r.url.path == "/incidents"
    page = text_of(r.text)
    assert "alice (responder)" in page
    assert "Declare an incident" in page
    assert "No incidents match." in page
    # the session cookie is HttpOnly: page scripts cannot read it
    cookie = next(h for h in r.history[0].headers.get_list("set-cookie") if "wr_session" in h)
    assert "httponly" in cookie.lower()


def test_login_by_email_returns_to_the_page_asked_for(
    client: TestClient, db: Database, alice: Api
) -> None:
    alice.post("/api/v1/incidents", json={"title": "Disk full", "severity": "SEV-3"})
    give_password(db, "bob")
    r = client.get("/incidents/1")
    assert r.url.path == "/login"
    r = login(client, "bob@example.test", next="/incidents/1")
    assert r.url.path == "/incidents/1"
    assert "INC-1 Disk full" in text_of(r.text)


def test_login_failure_says_so_and_grants_nothing(
    client: TestClient, db: Database, people: Any
) -> None:
    give_password(db, "alice")
    for name, password in (("alice", "wrong password"), ("nobody", PASSWORD)):
        r = login(client, name, password)
        assert r.url.path == "/login"
        assert "Unknown user or wrong password." in text_of(r.text)
        assert "wr_session" not in client.cookies
        assert client.get("/incidents").url.path == "/login"
    # a user without a password (token-only) cannot log in with an empty one
    r = login(client, "bob", "")
    assert r.url.path == "/login"
    assert client.get("/incidents").url.path == "/login"


def test_login_form_needs_its_csrf_token(client: TestClient, db: Database, people: Any) -> None:
    give_password(db, "alice")
    client.get("/login")
    r = client.post("/login", data={"login": "alice", "password": PASSWORD, "csrf": "forged"})
    assert "Your login form expired" in text_of(r.text)
    assert client.get("/incidents").url.path == "/login"


def test_login_next_cannot_leave_the_site(client: TestClient, db: Database, people: Any) -> None:
    give_password(db, "alice")
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "login": "alice",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/incidents"


def test_logout_needs_csrf_and_ends_the_session(as_alice: Browser) -> None:
    client = as_alice.client
    r = client.post("/logout", data={"csrf": "wrong"})
    assert r.status_code == 403
    assert client.get("/incidents").url.path == "/incidents"  # still logged in
    r = as_alice.submit("/logout")
    assert r.url.path == "/login"
    assert client.get("/incidents").url.path == "/login"


# --- declaring and the room ------------------------------------------------------------


def test_declare_through_the_form_opens_the_room(as_alice: Browser, db: Database) -> None:
    with db.session() as s:
        s.add_all([Service(name="checkout"), Service(name="payments")])
    r = declare_in_room(
        as_alice,
        title="Card payments failing",
        severity="SEV-1",
        services=["checkout", "payments"],
        impact_summary="Customers cannot pay by card",
        customer_facing="on",
    )
    assert r.url.path == "/incidents/1"
    page = as_alice.text
    assert "INC-1 Card payments failing" in page
    assert badge(as_alice.page, "severity") == "SEV-1"
    assert badge(as_alice.page, "status") == "investigating"
    assert "customer-facing" in page
    assert "services: checkout, payments" in page
    assert "Customers cannot pay by card" in page
    assert "#inc-2026-03-02-card-payments-failing" in page
    assert "Declared SEV-1 (Critical): Card payments failing" in page
    assert "2026-03-02 09:00:00 UTC" in page
    for title in ("Incident Commander", "Scribe", "Communications Lead"):
        assert title in page
    assert role_holder(as_alice.page, "commander") == "—"
    # the list shows it too
    as_alice.get("/incidents")
    assert "Card payments failing" in as_alice.text
    assert "INC-1" in as_alice.text


def test_declare_with_a_bad_field_shows_the_error_and_creates_nothing(
    as_alice: Browser, alice: Api
) -> None:
    r = declare_in_room(as_alice, title="   ")
    assert r.url.path == "/incidents"
    assert 'role="alert"' in as_alice.page
    assert "title" in as_alice.text.lower()
    assert alice.get("/api/v1/incidents").json()["items"] == []


def test_forms_without_or_with_a_wrong_csrf_token_change_nothing(
    as_alice: Browser, alice: Api, web_client: TestClient, db: Database
) -> None:
    client = as_alice.client
    for data in ({"title": "Forged"}, {"title": "Forged", "csrf": "nope"}):
        r = client.post("/incidents", data={"severity": "SEV-1", **data})
        assert r.status_code == 403
        assert "nothing was changed" in text_of(r.text)
    assert alice.get("/api/v1/incidents").json()["items"] == []

    declare_in_room(as_alice)
    # another user's (valid) token does not work in alice's session either
    give_password(db, "bob")
    bobs = login(web_client, "bob")
    bob_csrf = csrf_of(bobs.text)
    before = alice.get("/api/v1/incidents/1").json()
    attempts = [
        ("events", {"text": "forged note"}),
        ("roles", {"role": "commander", "user": "bob"}),
        ("status", {"status": "resolved"}),
        ("severity", {"severity": "SEV-4", "reason": "forged"}),
        ("resolve", {"summary": "forged"}),
    ]
    for action, fields in attempts:
        for token in ("", "wrong", bob_csrf):
            r = client.post(f"/incidents/1/{action}", data={**fields, "csrf": token})
            assert r.status_code == 403, (action, token)
    after = alice.get("/api/v1/incidents/1").json()
    assert after["timeline"] == before["timeline"]
    assert (after["status"], after["severity"], after["roles"]) == (
        before["status"],
        before["severity"],
        before["roles"],
    )


def test_room_forms_assign_roles_change_status_and_log(as_alice: Browser, clock: Any) -> None:
    declare_in_room(as_alice)
    clock.advance(minutes=3)
    r = as_alice.submit("/incidents/1/roles", role="commander", user="bob")
    assert r.url.path == "/incidents/1"
    assert role_holder(as_alice.page, "commander") == "bob"
    assert "bob is now Incident Commander" in as_alice.text
    as_alice.submit("/incidents/1/roles", role="sme", user="dave")
    as_alice.submit("/incidents/1/roles", role="sme", user="erin")
    assert role_holder(as_alice.page, "sme") == "dave, erin"

    as_alice.submit("/incidents/1/status", status="identified", note="bad deploy 4711")
    assert badge(as_alice.page, "status") == "identified"
    assert "Status investigating → identified: bad deploy 4711" in as_alice.text

    as_alice.submit("/incidents/1/events", kind="decision", text="Roll back to 4710")
    page = as_alice.text
    assert "decision" in page and "Roll back to 4710" in page
    # the timeline is in order: declaration first, the decision last
    assert page.index("Declared SEV-2") < page.index("Roll back to 4710")
    assert "09:03:00 UTC" in page


def test_logged_text_is_shown_as_text_not_markup(as_alice: Browser) -> None:
    declare_in_room(as_alice)
    as_alice.submit("/incidents/1/events", text="<script>alert(1)</script> & <b>bold</b>")
    assert "<script>alert(1)</script>" not in as_alice.page
    assert "<b>bold</b>" not in as_alice.page
    assert "<script>alert(1)</script> & <b>bold</b>" in as_alice.text


def test_severity_escalate_and_downgrade_needs_a_reason(as_alice: Browser, alice: Api) -> None:
    declare_in_room(as_alice, severity="SEV-2")
    as_alice.submit("/incidents/1/severity", severity="SEV-1")
    assert badge(as_alice.page, "severity") == "SEV-1"
    assert "Escalated SEV-2 → SEV-1" in as_alice.text

    r = as_alice.submit("/incidents/1/severity", severity="SEV-3", reason="  ")
    assert r.url.path == "/incidents/1"
    assert 'role="alert"' in as_alice.page
    assert "downgrading from SEV-1 to SEV-3 needs a reason" in as_alice.text
    assert badge(as_alice.page, "severity") == "SEV-1"
    assert "Downgraded" not in as_alice.text
    assert alice.get("/api/v1/incidents/1").json()["severity"] == "SEV-1"

    as_alice.submit("/incidents/1/severity", severity="SEV-3", reason="only one region")
    assert badge(as_alice.page, "severity") == "SEV-3"
    assert "Downgraded SEV-1 → SEV-3: only one region" in as_alice.text
    assert 'role="alert"' not in as_alice.page


def test_resolve_through_the_form(as_alice: Browser, alice: Api, clock: Any) -> None:
    declare_in_room(as_alice)
    clock.advance(minutes=42)
    as_alice.submit("/incidents/1/resolve", summary="Rolled back the deploy")
    assert badge(as_alice.page, "status") == "resolved"
    assert "Status investigating → resolved: Rolled back the deploy" in as_alice.text
    assert "42m 00s" in as_alice.text  # the duration stops at resolution
    # resolving and changing severity are offered no more; reopening is
    assert 'id="resolve-form"' not in as_alice.page
    assert 'id="severity-form"' not in as_alice.page
    assert "<option>investigating</option>" in as_alice.page
    inc = alice.get("/api/v1/incidents/1").json()
    assert inc["resolution_summary"] == "Rolled back the deploy"
    # an illegal move through a hand-made form shows why it failed
    as_alice.submit("/incidents/1/status", status="resolved")
    as_alice.submit("/incidents/1/status", status="closed")
    r = as_alice.submit("/incidents/1/status", status="monitoring")
    assert r.url.path == "/incidents/1"
    assert "INC-1 is closed; it can move to nothing" in as_alice.text


def test_viewer_sees_the_room_without_forms(
    as_alice: Browser, web_client: TestClient, db: Database
) -> None:
    declare_in_room(as_alice, title="Search slow")
    give_password(db, "carol")
    r = login(web_client, "carol", next="/incidents/1")
    page = text_of(r.text)
    assert "Search slow" in page and "carol (viewer)" in page
    assert "Assign a role" not in page and "Declare an incident" not in page
    assert 'id="log-form"' not in r.text
    # a hand-made form is refused and changes nothing
    r = web_client.post(
        "/incidents/1/events", data={"text": "viewer note", "csrf": csrf_of(r.text)}
    )
    assert "this action needs the responder role" in text_of(r.text)
    assert "viewer note" not in text_of(web_client.get("/incidents/1").text)


def test_private_incidents_are_hidden_from_non_participants(
    as_alice: Browser, web_client: TestClient, db: Database, people: dict[str, str]
) -> None:
    declare_in_room(as_alice, title="Public outage")
    declare_in_room(as_alice, title="Suspected breach", private="on")
    assert "private" in as_alice.text
    as_alice.get("/incidents")
    assert "Suspected breach" in as_alice.text and "Public outage" in as_alice.text

    give_password(db, "bob")
    r = login(web_client, "bob")
    page = text_of(r.text)
    assert "Public outage" in page
    assert "Suspected breach" not in page and "INC-2" not in page
    assert "Suspected breach" not in text_of(web_client.get("/incidents?q=breach").text)
    r = web_client.get("/incidents/2")
    assert r.status_code == 404
    assert "Suspected breach" not in r.text
    assert "INC-2 not found" in text_of(r.text)
    assert web_client.get("/incidents/2/stream").status_code == 404

    # once alice adds bob to the incident, bob sees it
    as_alice.get("/incidents/2")
    as_alice.submit("/incidents/2/roles", role="scribe", user="bob")
    assert "Suspected breach" in text_of(web_client.get("/incidents").text)
    assert web_client.get("/incidents/2").status_code == 200


def test_unknown_incident_page_is_a_readable_404(as_alice: Browser) -> None:
    r = as_alice.get("/incidents/99")
    assert r.status_code == 404
    assert "INC-99 not found" in as_alice.text
    assert "Back to the incident list" in as_alice.text


# --- the live stream -------------------------------------------------------------------


def sse_events(body: str) -> list[dict[str, Any]]:
    out = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "timeline":
            out.append({"id": int(fields["id"]), **json.loads(fields["data"])})
    return out


def test_stream_sends_new_events_and_resumes_after_last_event_id(
    as_alice: Browser, app: Any, alice: Api
) -> None:
    # each stream ends after its lifetime (here: after one look at the store)
    app.state.sse_max_seconds = 0
    declare_in_room(as_alice)
    alice.post("/api/v1/incidents/1/events", json={"text": "first note"})
    r = as_alice.client.get("/incidents/1/stream")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.text.startswith("retry: ")
    events = sse_events(r.text)
    assert [e["text"] for e in events][-1] == "first note"
    assert 'id="event-' in events[-1]["html"]
    assert events[-1]["incident"]["status"] == "investigating"

    last = events[-1]["id"]
    alice.post("/api/v1/incidents/1/events", json={"text": "second note"})
    r = as_alice.client.get("/incidents/1/stream", headers={"Last-Event-ID": str(last)})
    assert [e["text"] for e in sse_events(r.text)] == ["second note"]
    r = as_alice.client.get(f"/incidents/1/stream?after={last + 1}")
    assert sse_events(r.text) == []
    # a garbled Last-Event-ID falls back to ?after=
    r = as_alice.client.get(f"/incidents/1/stream?after={last}", headers={"Last-Event-ID": "x"})
    assert [e["text"] for e in sse_events(r.text)] == ["second note"]


def test_stream_needs_a_session(client: TestClient, people: Any) -> None:
    r = client.get("/incidents/1/stream", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
