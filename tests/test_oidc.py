"""Single sign-on without a provider: what an ID token must be to be accepted, the
callback's state, the role mapping and how a person is matched, created or refused.
The whole flow against a real provider is tests/e2e/test_oidc.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from sqlalchemy import select

from warroom.auth import oidc
from warroom.auth.models import WebSession
from warroom.core.clock import ManualClock
from warroom.core.errors import DomainError
from warroom.db.session import Database
from warroom.org.models import User
from warroom.org.service import create_user

ISSUER = "https://idp.example"
CLIENT = "warroom"
NOW = 1_800_000_000
META = oidc.ProviderMetadata(
    issuer=ISSUER,
    authorization_endpoint=f"{ISSUER}/auth",
    token_endpoint=f"{ISSUER}/token",
    jwks_uri=f"{ISSUER}/jwks",
    userinfo_endpoint=None,
    algorithms=("RS256", "ES256"),
    token_auth_methods=("client_secret_basic",),
)
CFG = oidc.OidcSettings(issuer=ISSUER, client_id=CLIENT)


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})


@pytest.fixture
def verify(key: RSAKey, monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    """verify(token) with the provider's key set holding only `key`'s public half."""
    keys = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    monkeypatch.setattr(oidc, "_key_set", lambda meta, refresh=False: keys)

    def run(token: str, nonce: str = "n-1", now: int = NOW) -> dict[str, Any]:
        return oidc.verify_id_token(CFG, META, token, nonce=nonce, now=now)

    return run


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "user-1",
        "iat": NOW - 10,
        "exp": NOW + 300,
        "nonce": "n-1",
        "email": "lead@acme.test",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any, alg: str = "RS256", kid: str = "k1") -> str:
    return jwt.encode({"alg": alg, "kid": kid}, payload, key, algorithms=[alg])


def refused(run: Callable[[], object], status: int, field: str | None) -> str:
    with pytest.raises(DomainError) as err:
        run()
    assert (err.value.status_code, err.value.field) == (status, field), err.value.message
    return err.value.message


def test_a_genuine_id_token_is_accepted(verify: Any, key: RSAKey) -> None:
    got = verify(sign(claims(), key))
    assert (got["sub"], got["email"]) == ("user-1", "lead@acme.test")
    # Within the clock-skew leeway, exp may have just passed.
    assert verify(sign(claims(), key), now=NOW + 300 + oidc.LEEWAY_SECONDS - 1)["sub"]
    # Several audiences: accepted when azp is this client.
    assert verify(sign(claims(aud=[CLIENT, "other"], azp=CLIENT), key))["sub"]


@pytest.mark.parametrize(
    "payload,why",
    [
        (claims(iss="https://evil.example"), "another issuer"),
        (claims(aud="another-client"), "another audience"),
        (claims(aud=[CLIENT, "other"]), "several audiences without azp"),
        (claims(azp="another-client"), "azp of another client"),
        (claims(exp=NOW - oidc.LEEWAY_SECONDS - 1), "expired"),
        (claims(exp=None), "no exp"),
        (claims(iat=None), "no iat"),
        (claims(sub=None), "no sub"),
        (claims(nonce="another-nonce"), "another sign-in's nonce"),
        (claims(nonce=None), "no nonce"),
    ],
)
def test_an_id_token_with_wrong_claims_is_refused(
    verify: Any, key: RSAKey, payload: dict[str, Any], why: str
) -> None:
    refused(lambda: verify(sign(payload, key)), 401, "id_token")


def test_an_id_token_not_signed_by_the_providers_key_is_refused(verify: Any, key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    refused(lambda: verify(sign(claims(), stranger)), 401, "id_token")
    # An algorithm the provider does not announce, with a key it does not have.
    refused(lambda: verify(sign(claims(), ECKey.generate_key("P-384"), "ES384")), 401, "id_token")
    # HMAC with the client secret (or anything) as key, and no signature at all.
    secret = OctKey.import_key("s" * 32)
    refused(lambda: verify(sign(claims(), secret, "HS256")), 401, "id_token")
    genuine = sign(claims(), key)
    header, payload, _ = genuine.split(".")
    none_header = oidc._b64(b'{"alg":"none"}')
    unsigned = f"{none_header}.{payload}."
    refused(lambda: verify(unsigned), 401, "id_token")
    # The genuine header and signature over changed claims.
    forged_payload = oidc._b64(b'{"iss":"https://idp.example","aud":"warroom","sub":"admin"}')
    refused(lambda: verify(f"{header}.{forged_payload}.{genuine.split('.')[2]}"), 401, "id_token")
    refused(lambda: verify(""), 401, "id_token")
    refused(lambda: verify("not.a.jwt"), 401, "id_token")


def pending(**changes: Any) -> oidc.Pending:
    base = {"state": "s-1", "nonce": "n-1", "verifier": "v" * 64, "next": "/alerts"}
    base.update(changes)
    return oidc.Pending(started=NOW, **base)


def test_the_pending_sign_in_survives_its_cookie_and_garbage_is_none() -> None:
    p = pending()
    assert oidc.Pending.decode(p.encode()) == p
    for bad in ("", "%%%", "e30", oidc._b64(b'{"s":1,"n":"","v":"","x":"","t":0}')):
        assert oidc.Pending.decode(bad) is None


def test_pkce_challenge_is_s256_of_the_verifier() -> None:
    # RFC 7636, appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oidc.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_callback_must_carry_the_state_of_the_sign_in_begun() -> None:
    params = {"state": "s-1", "code": "c"}

    def finish(p: oidc.Pending | None, given: dict[str, str], now: int = NOW) -> object:
        return oidc.finish(CFG, p, given, "https://warroom.example/cb", now)

    # All refused before any request to the provider (there is none to reach).
    assert "no sign-in was started" in refused(lambda: finish(None, params), 400, "state")
    refused(lambda: finish(pending(state="s-2"), params), 400, "state")
    refused(lambda: finish(pending(), {"code": "c"}), 400, "state")
    refused(lambda: finish(pending(), params, NOW + oidc.PENDING_SECONDS + 1), 400, "state")
    denied = {"state": "s-1", "error": "access_denied", "error_description": "no"}
    assert "access_denied" in refused(lambda: finish(pending(), denied), 403, "error")


def test_roles_come_from_the_claim_through_the_mapping() -> None:
    mapping = oidc.RoleMapping(map={"sre-admins": "admin", "sre": "responder"})
    assert oidc.role_for(mapping, ("sre", "sre-admins")) == "admin"
    assert oidc.role_for(mapping, ("sre", "other")) == "responder"
    assert oidc.role_for(mapping, ("admin",)) == "viewer"  # only the map counts
    assert oidc.role_for(oidc.RoleMapping(default="responder"), ("x",)) == "responder"
    assert oidc.role_for(oidc.RoleMapping(), ("responder", "x")) == "responder"  # no map
    nested = oidc.OidcSettings(ISSUER, CLIENT, roles=oidc.RoleMapping(claim="realm.roles"))
    who = oidc.identity_from_claims(
        nested, {"sub": "1", "realm": {"roles": ["admin", 3]}, "email_verified": "true"}
    )
    assert who.role_values == ("admin",) and who.email_verified
    single = oidc.identity_from_claims(CFG, {"sub": "1", "groups": "sre"})
    assert single.role_values == ("sre",) and not single.email_verified


def person(email: str = "lead@acme.test", **changes: Any) -> oidc.Identity:
    base: dict[str, Any] = {
        "subject": "user-1",
        "email": email,
        "email_verified": True,
        "name": "Lee Lead",
        "username": "lead",
        "role_values": ("sre",),
    }
    base.update(changes)
    return oidc.Identity(**base)


MAPPED = oidc.OidcSettings(ISSUER, CLIENT, roles=oidc.RoleMapping(map={"sre": "responder"}))


def test_sign_in_creates_matches_and_refuses(db: Database, clock: ManualClock) -> None:
    with db.session() as s:
        first = oidc.sign_in(s, clock, MAPPED, person())
        assert first.created and (first.user.name, first.user.role) == ("lead", "responder")
        assert first.user.full_name == "Lee Lead" and first.user.password_hash is None
    with db.session() as s:
        again = oidc.sign_in(s, clock, MAPPED, person("LEAD@acme.test", username="other"))
        assert not again.created and again.user.name == "lead"
        sessions = s.scalars(select(WebSession).where(WebSession.user_id == again.user.id))
        assert len(list(sessions)) == 2
    # Another person whose preferred name is taken gets a free one.
    with db.session() as s:
        third = oidc.sign_in(s, clock, MAPPED, person("lee@other.test"))
        assert third.user.name == "lead-2"
    with db.session() as s:
        unverified = person("new@acme.test", email_verified=False)
        refused(lambda: oidc.sign_in(s, clock, MAPPED, unverified), 403, "email")
        refused(lambda: oidc.sign_in(s, clock, MAPPED, person("")), 403, "email")
        closed = oidc.OidcSettings(ISSUER, CLIENT, create_users=False)
        refused(lambda: oidc.sign_in(s, clock, closed, person("new@acme.test")), 403, "email")
    with db.read() as s:
        assert s.scalar(select(User).where(User.email == "new@acme.test")) is None


def test_a_deactivated_user_gets_no_session_and_roles_sync_only_when_asked(
    db: Database, clock: ManualClock
) -> None:
    with db.session() as s:
        create_user(s, clock, name="carol", email="carol@acme.test", role="admin")
    with db.session() as s:
        kept = oidc.sign_in(s, clock, MAPPED, person("carol@acme.test"))
        assert kept.user.role == "admin"
    synced = oidc.OidcSettings(
        ISSUER, CLIENT, roles=oidc.RoleMapping(map={"sre": "responder"}, sync=True)
    )
    with db.session() as s:
        assert oidc.sign_in(s, clock, synced, person("carol@acme.test")).user.role == "responder"
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == "carol"))
        assert user is not None
        user.active = False
    with db.session() as s:
        msg = refused(
            lambda: oidc.sign_in(s, clock, MAPPED, person("carol@acme.test")), 403, "user"
        )
        assert "deactivated" in msg
    with db.read() as s:
        user = s.scalar(select(User).where(User.name == "carol"))
        assert user is not None
        live = s.scalars(select(WebSession).where(WebSession.user_id == user.id))
        assert len(list(live)) == 2  # none added by the refused sign-in


def test_sso_pages_are_404_and_the_login_page_plain_while_unconfigured(client: TestClient) -> None:
    assert client.get("/login/sso", follow_redirects=False).status_code == 404
    assert client.get("/login/sso/callback?state=x&code=y").status_code == 404
    assert "Sign in with" not in client.get("/login").text


def test_the_kept_provider_documents_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[str] = []
    doc = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "id_token_signing_alg_values_supported": ["HS256", "RS256"],
    }

    def get_json(url: str, what: str, **_: Any) -> Any:
        fetched.append(url)
        return doc

    monkeypatch.setattr(oidc, "_get_json", get_json)
    oidc.forget_provider_documents()
    try:
        meta = oidc.provider_metadata(ISSUER)
        assert meta.algorithms == ("RS256",)  # HS256 is never accepted
        assert oidc.provider_metadata(ISSUER) is meta and len(fetched) == 1
        later = time.monotonic() + oidc.METADATA_SECONDS + 1
        monkeypatch.setattr(oidc.time, "monotonic", lambda: later)
        oidc.provider_metadata(ISSUER)
        assert len(fetched) == 2
        oidc.forget_provider_documents()
        doc["issuer"] = "https://other.example"
        refused(lambda: oidc.provider_metadata(ISSUER), 502, None)
        doc.update(issuer=ISSUER, id_token_signing_alg_values_supported=["HS256"])
        refused(lambda: oidc.provider_metadata(ISSUER), 502, None)
    finally:
        oidc.forget_provider_documents()
