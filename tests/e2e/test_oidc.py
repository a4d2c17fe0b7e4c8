"""Single sign-on against a real OpenID Connect provider: npm's `oidc-provider` run by
Node.js (tests/e2e/oidc/provider.mjs), with its own login and consent pages.

The provider is at http://localhost:PORT and warroom at http://127.0.0.1:PORT, two sites, so
the state cookie crosses from one to the other as in production. httpx walks the redirects
and submits the provider's forms; one test does the same in Chromium (Debian's package,
driven by Playwright), clicking "Sign in with ..." on the login page.

Needs Node.js (Debian's package `nodejs`) and `npm ci` in tests/e2e/oidc (./scripts/test
runs it); a missing one skips, naming it, and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
import yaml
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, serve, stop
from tests.e2e._programs import Program, admin_token, wait_until
from warroom.app import create_app
from warroom.auth.oidc import forget_provider_documents
from warroom.core.clock import SystemClock
from warroom.db.session import Database
from warroom.org.models import User

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "warroom-e2e"
CLIENT_SECRET = "e2e-client-secret-0123456789"
SECRET_ENV = "WARROOM_TEST_OIDC_SECRET"
ACCOUNTS = {
    # The one person the test signs in as: an SRE lead, in the admins' group.
    "lead": {
        "email": "lead@acme.test",
        "email_verified": True,
        "name": "Lee Lead",
        "groups": ["sre-admins", "everyone"],
    },
    # Someone warroom already knows (alice, by email in other letter case).
    "asmith": {
        "email": "Alice@Example.test",
        "email_verified": True,
        "name": "Alice Smith",
        "groups": ["sre"],
    },
}


def _require(found: bool, msg: str) -> None:
    if found:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@dataclass
class OidcProvider:
    issuer: str
    program: Program


@dataclass
class Site:
    warroom: LiveServer
    provider: OidcProvider
    db: Database


@pytest.fixture
def site(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, people: dict[str, str]
) -> Iterator[Site]:
    node = shutil.which("node")
    _require(node is not None, "node is missing: install Debian's package `nodejs`")
    _require(
        (HERE / "node_modules" / "oidc-provider").is_dir(),
        f"npm's oidc-provider is missing: run `npm ci --prefix {HERE}` (./scripts/test does)",
    )
    assert node is not None
    forget_provider_documents()
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    monkeypatch.delenv("WARROOM_PUBLIC_URL", raising=False)
    # The real clock: the provider's tokens carry the real time.
    app = create_app(db, SystemClock())
    live = serve(app)
    port = free_port()
    issuer = f"http://localhost:{port}"
    config = tmp_path / "provider.json"
    config.write_text(
        json.dumps(
            {
                "issuer": issuer,
                "port": port,
                "client": {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [f"{live.url}/login/sso/callback"],
                },
                "accounts": ACCOUNTS,
            }
        )
    )
    program = Program([node, str(HERE / "provider.mjs"), str(config)], tmp_path / "provider.log")
    try:

        def discovery() -> bool:
            if not program.alive():
                raise AssertionError(program.output())
            try:
                url = f"{issuer}/.well-known/openid-configuration"
                return httpx.get(url, timeout=2, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(discovery, "the OpenID provider", diagnose=program.output)
        token = admin_token(db)
        sso = {
            "name": "Acme SSO",
            "issuer": issuer,
            "client_id": CLIENT_ID,
            "client_secret_env": SECRET_ENV,
            "scopes": ["openid", "email", "profile", "groups"],
            "create_users": True,
            "roles": {"claim": "groups", "map": {"sre-admins": "admin", "sre": "responder"}},
        }
        r = httpx.post(
            f"{live.url}/api/v1/config/apply",
            json={"config": {"sso": sso}},
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
        )
        assert r.status_code == 200, r.text
        assert [c["kind"] for c in r.json()["changes"]] == ["sso"]
        yield Site(live, OidcProvider(issuer, program), db)
    finally:
        stop(live)
        program.stop()
        forget_provider_documents()


def _client() -> httpx.Client:
    return httpx.Client(timeout=15, trust_env=False, follow_redirects=False)


def _form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The action and the hidden fields of the first form on a provider page."""
    m = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S)
    assert m, f"no form on {page.url}:\n{page.text[:2000]}"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', m.group(2)))
    return urljoin(str(page.url), unescape(m.group(1))), fields


def _walk(http: httpx.Client, resp: httpx.Response, stop_at: str) -> httpx.Response:
    """Follows redirects until one points at `stop_at` (not followed) or a page answers."""
    for _ in range(20):
        location = resp.headers.get("location")
        if resp.status_code not in (302, 303) or not location:
            return resp
        target = urljoin(str(resp.url), location)
        if target.startswith(stop_at):
            return resp
        resp = http.get(target)
    raise AssertionError("too many redirects")


def _to_callback(site: Site, http: httpx.Client, login: str = "lead") -> str:
    """Starts a sign-in at warroom, signs in and consents at the provider; returns the
    callback URL the provider sends the browser back to (not yet visited)."""
    callback = f"{site.warroom.url}/login/sso/callback"
    r = http.get(f"{site.warroom.url}/login/sso", params={"next": "/alerts"})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"{site.provider.issuer}/auth?")
    query = dict(parse_qsl(urlsplit(r.headers["location"]).query))
    assert query["code_challenge_method"] == "S256"
    assert query["state"] and query["nonce"] and query["code_challenge"]
    assert query["redirect_uri"] == callback
    r = _walk(http, r, callback)
    for _ in range(3):  # the login page, then the consent page
        if r.status_code in (302, 303):
            break
        assert r.status_code == 200, r.text
        action, fields = _form(r)
        if fields.get("prompt") == "login":
            fields.update(login=login, password="any password")
        r = _walk(http, http.post(action, data=fields), callback)
    assert r.status_code in (302, 303), r.text
    return urljoin(str(r.url), r.headers["location"])


def sign_in(site: Site, http: httpx.Client, login: str = "lead") -> httpx.Response:
    """A whole sign-in in one browser (`http`); returns warroom's answer to the callback."""
    return http.get(_to_callback(site, http, login))


def _user(db: Database, email: str) -> User | None:
    with db.read() as s:
        user = s.scalar(select(User).where(User.email == email))
        if user is not None:
            s.expunge(user)
        return user


def _count_users(db: Database) -> int:
    with db.read() as s:
        return len(list(s.scalars(select(User.id))))


def test_login_page_offers_the_provider(site: Site) -> None:
    r = httpx.get(f"{site.warroom.url}/login", trust_env=False)
    assert r.status_code == 200
    assert "Sign in with Acme SSO" in r.text


def test_first_sign_in_creates_the_user_with_the_mapped_role_and_the_second_matches(
    site: Site,
) -> None:
    before = _count_users(site.db)
    with _client() as http:
        r = sign_in(site, http)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/alerts"
        assert "wr_session" in http.cookies
        page = http.get(f"{site.warroom.url}/incidents")
        assert page.status_code == 200
        assert "lead (admin)" in page.text
    user = _user(site.db, "lead@acme.test")
    assert user is not None
    assert (user.name, user.full_name, user.role, user.active) == (
        "lead",
        "Lee Lead",
        "admin",
        True,
    )
    assert user.password_hash is None  # signs in through the provider only
    assert _count_users(site.db) == before + 1

    with _client() as http:
        r = sign_in(site, http)
        assert r.status_code == 303, r.text
        assert "lead (admin)" in http.get(f"{site.warroom.url}/incidents").text
    again = _user(site.db, "lead@acme.test")
    assert again is not None and again.id == user.id
    assert _count_users(site.db) == before + 1


def test_an_existing_user_is_matched_by_email_whatever_its_case(site: Site) -> None:
    before = _count_users(site.db)
    with _client() as http:
        r = sign_in(site, http, "asmith")
        assert r.status_code == 303, r.text
        # alice keeps her name and role: roles.sync is off.
        assert "alice (responder)" in http.get(f"{site.warroom.url}/incidents").text
    assert _count_users(site.db) == before


def test_a_wrong_state_is_refused(site: Site) -> None:
    with _client() as http:
        callback = _to_callback(site, http)
        parts = urlsplit(callback)
        query = dict(parse_qsl(parts.query))
        query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
        forged = urlunsplit(parts._replace(query=urlencode(query)))
        r = http.get(forged)
        assert r.status_code == 400, r.text
        assert "state" in r.text
        assert "wr_session" not in http.cookies
        # The state was for one use: the genuine callback no longer works either.
        r = http.get(callback)
        assert r.status_code == 400, r.text
        assert "wr_session" not in http.cookies
    # Another browser (without the sign-in's cookie) cannot use the callback.
    with _client() as http, _client() as other:
        callback = _to_callback(site, http)
        r = other.get(callback)
        assert r.status_code == 400
        assert "wr_session" not in other.cookies
    assert _user(site.db, "lead@acme.test") is None


def test_a_deactivated_user_cannot_sign_in(site: Site) -> None:
    with _client() as http:
        assert sign_in(site, http).status_code == 303
    with site.db.session() as s:
        user = s.scalar(select(User).where(User.email == "lead@acme.test"))
        assert user is not None
        user.active = False
    with _client() as http:
        r = sign_in(site, http)
        assert r.status_code == 403, r.text
        assert "deactivated" in r.text
        assert "wr_session" not in http.cookies
        assert http.get(f"{site.warroom.url}/incidents").status_code == 303  # to /login


def test_unknown_people_are_refused_when_users_are_not_created(site: Site) -> None:
    token = admin_token(site.db)
    r = httpx.get(
        f"{site.warroom.url}/api/v1/config/export",
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
    )
    sso: dict[str, Any] = yaml.safe_load(r.text)["sso"]
    assert sso["client_secret_env"] == SECRET_ENV
    assert "client_secret:" not in r.text and CLIENT_SECRET not in r.text
    sso["create_users"] = False
    r = httpx.post(
        f"{site.warroom.url}/api/v1/config/apply",
        json={"config": {"sso": sso}},
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    with _client() as http:
        r = sign_in(site, http)
        assert r.status_code == 403, r.text
        assert "create_users" in r.text
    assert _user(site.db, "lead@acme.test") is None


def test_sign_in_in_a_real_browser(site: Site) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS

    _require(
        CHROMIUM.exists(),
        f"{CHROMIUM} is missing: install Debian's package `chromium` (apt-get install chromium)",
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=site.warroom.url)
            context.set_default_timeout(WAIT_MS)
            page = context.new_page()
            page.goto("/incidents")
            page.get_by_role("link", name="Sign in with Acme SSO").click()
            expect(page).to_have_url(re.compile("^" + re.escape(site.provider.issuer)))
            page.locator("input[name=login]").fill("lead")
            page.locator("input[name=password]").fill("any password")
            page.get_by_role("button", name="Sign-in").click()
            page.get_by_role("button", name="Continue").click()
            expect(page).to_have_url(f"{site.warroom.url}/incidents")
            expect(page.locator(".who")).to_have_text("lead (admin)")
            cookies = {c["name"]: c for c in context.cookies(site.warroom.url)}
            assert cookies["wr_session"]["httpOnly"] is True
            assert "wr_sso" not in cookies
        finally:
            browser.close()
