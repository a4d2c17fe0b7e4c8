"""Single sign-on with an OpenID Connect provider: the authorization code flow with PKCE.

Invariants:
- `begin` makes a fresh `state`, `nonce` and PKCE verifier (S256) for every sign-in. They are
  kept only in the pending sign-in that the browser holds between the two redirects (a
  short-lived cookie), never in the store, and `finish` goes on only when the callback's
  `state` equals the pending one (compared in constant time) and the sign-in began less than
  PENDING_SECONDS ago.
- An ID token is accepted only when its signature verifies with a key of the provider's JWKS
  (found through `{issuer}/.well-known/openid-configuration`, whose `issuer` must be the
  configured one) under an asymmetric algorithm the provider announces (never `none`, never
  HMAC), and its `iss` is the issuer, its `aud` holds the client id (with `azp` the client id
  when it names several audiences or an `azp`), `exp` has not passed, `iat` and `sub` are
  present and `nonce` is the pending one. An `iss` in the callback must be the issuer too.
- Userinfo claims are used only when their `sub` is the ID token's; the ID token's claims win.
- A person is matched by email, case-insensitively, and only by a verified email unless
  `require_verified_email` is off. A deactivated user never gets a session. A user is created
  only when `create_users` is on, with the role the mapping gives (else the default, viewer);
  an existing user's role changes only when `roles.sync` is on.
- No request to the provider is made while a store transaction is open: `begin` and `finish`
  take no session, `sign_in` makes no request.
- The client secret is read from the environment variable the settings name, when the code is
  exchanged; it is never stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.auth import accounts
from warroom.auth.service import start_session
from warroom.core.clock import Clock
from warroom.core.errors import DomainError, Forbidden, Unauthorized
from warroom.core.principal import Principal
from warroom.core.security import ROLE_RANK, ROLES, constant_equals
from warroom.org.models import User
from warroom.org.service import NAME_RE, create_user, valid_timezone

PENDING_SECONDS = 600  # a sign-in must come back from the provider within 10 minutes
LEEWAY_SECONDS = 60  # clock skew allowed for exp, iat and nbf
HTTP_TIMEOUT_SECONDS = 10
METADATA_SECONDS = 3600  # discovery documents and key sets are kept this long
JWKS_REFETCH_SECONDS = 30  # an unknown key id refetches the key set at most this often
# Signature algorithms accepted for ID tokens: asymmetric only (HS* would make the client
# secret a verification key; `none` verifies nothing).
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)


class BadCallback(DomainError):
    """The provider's callback does not belong to the sign-in begun, or lacks a part (400)."""

    status_code = 400


class ProviderUnavailable(DomainError):
    """The identity provider did not answer, or answered something unusable (502)."""

    status_code = 502


@dataclass(frozen=True)
class RoleMapping:
    """How a role comes from the provider's claims: the values of `claim` (a string or a
    list; a dotted name reaches into nested objects) mapped through `map`, the highest role
    winning; with an empty map, values that are role names are taken as they are."""

    claim: str = "groups"
    map: Mapping[str, str] = field(default_factory=dict)
    default: str = "viewer"
    sync: bool = False


@dataclass(frozen=True)
class OidcSettings:
    """One identity provider, as the `sso:` config section gives it."""

    issuer: str
    client_id: str
    name: str = ""
    client_secret_env: str = ""
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    create_users: bool = True
    require_verified_email: bool = True
    roles: RoleMapping = RoleMapping()

    @property
    def display_name(self) -> str:
        """What the login page calls the provider: its name, else the issuer's host."""
        return self.name or urlsplit(self.issuer).hostname or self.issuer

    def client_secret(self) -> str:
        """The client secret from the environment ("" for a public client). Raises
        ProviderUnavailable (502, field `sso.client_secret_env`) when the variable is named but
        unset in the server's environment."""
        if not self.client_secret_env:
            return ""
        value = os.environ.get(self.client_secret_env, "")
        if not value:
            raise ProviderUnavailable(
                f"single sign-on is not usable: the server's environment has no "
                f"{self.client_secret_env} (sso.client_secret_env)",
                field="sso.client_secret_env",
            )
        return value


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class Pending:
    """A sign-in between `begin` and `finish`, kept by the browser."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: int  # seconds since the epoch

    def encode(self) -> str:
        raw = json.dumps(
            {
                "s": self.state,
                "n": self.nonce,
                "v": self.verifier,
                "x": self.next,
                "t": self.started,
            },
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Pending | None:
        """The pending sign-in in a cookie value, or None for anything malformed."""
        try:
            data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            pending = cls(data["s"], data["n"], data["v"], data["x"], data["t"])
        except (ValueError, TypeError, KeyError):
            return None
        texts = (pending.state, pending.nonce, pending.verifier, pending.next)
        if not all(isinstance(x, str) for x in texts) or not isinstance(pending.started, int):
            return None
        return pending


@dataclass(frozen=True)
class Identity:
    """Who the provider vouched for: the verified ID token's claims, with userinfo's."""

    subject: str
    email: str
    email_verified: bool
    name: str
    username: str
    role_values: tuple[str, ...]
    zoneinfo: str = ""


@dataclass(frozen=True)
class SignedIn:
    user: User
    secret: str  # the web session's secret, for the cookie
    csrf: str
    created: bool


# --- the provider's documents --------------------------------------------------------------

_lock = threading.Lock()
_metadata: dict[str, tuple[float, ProviderMetadata]] = {}
_keys: dict[str, tuple[float, KeySet]] = {}


def _get_json(url: str, what: str, **kwargs: Any) -> Any:
    try:
        resp = httpx.get(url, timeout=HTTP_TIMEOUT_SECONDS, **kwargs)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(
            f"the identity provider's {what} ({url}) did not answer: {exc}"
        ) from None
    if resp.status_code != 200:
        raise ProviderUnavailable(
            f"the identity provider's {what} ({url}) answered HTTP {resp.status_code}"
        )
    try:
        return resp.json()
    except ValueError:
        raise ProviderUnavailable(f"the identity provider's {what} ({url}) is not JSON") from None


def discovery_url(issuer: str) -> str:
    """Where the provider's metadata is: the issuer followed by
    /.well-known/openid-configuration."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def provider_metadata(issuer: str) -> ProviderMetadata:
    """The provider's discovery document, fetched (and kept METADATA_SECONDS) without a store
    transaction. Raises ProviderUnavailable (502) when it cannot be read, names another issuer,
    lacks an endpoint or announces no asymmetric ID token algorithm."""
    now = time.monotonic()
    with _lock:
        cached = _metadata.get(issuer)
    if cached and now - cached[0] < METADATA_SECONDS:
        return cached[1]
    doc = _get_json(discovery_url(issuer), "discovery document")
    if not isinstance(doc, dict):
        raise ProviderUnavailable("the identity provider's discovery document is not an object")
    if doc.get("issuer") != issuer:
        raise ProviderUnavailable(
            f"the discovery document names the issuer {doc.get('issuer')!r}, "
            f"not {issuer!r} (sso.issuer must be exactly the provider's)"
        )
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = doc.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise ProviderUnavailable(f"the discovery document has no usable {name}")
        endpoints[name] = value
    announced = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(a for a in ASYMMETRIC_ALGORITHMS if a in announced)
    if not algorithms:
        raise ProviderUnavailable(
            f"the provider signs ID tokens only with {announced}; warroom accepts "
            f"{', '.join(ASYMMETRIC_ALGORITHMS)}"
        )
    methods = doc.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise ProviderUnavailable("the provider does not support PKCE with S256")
    userinfo = doc.get("userinfo_endpoint")
    meta = ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        userinfo_endpoint=userinfo if isinstance(userinfo, str) and userinfo else None,
        algorithms=algorithms,
        token_auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or ()),
    )
    with _lock:
        _metadata[issuer] = (now, meta)
    return meta


def _key_set(meta: ProviderMetadata, refresh: bool = False) -> KeySet:
    now = time.monotonic()
    with _lock:
        cached = _keys.get(meta.jwks_uri)
    if cached and now - cached[0] < (JWKS_REFETCH_SECONDS if refresh else METADATA_SECONDS):
        return cached[1]
    doc = _get_json(meta.jwks_uri, "key set (jwks_uri)")
    raw = doc.get("keys") if isinstance(doc, dict) else None
    usable = [
        k
        for k in raw or []
        if isinstance(k, dict)
        and k.get("kty") in ("RSA", "EC", "OKP")
        and k.get("use", "sig") == "sig"
    ]
    try:
        keys = KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError) as exc:
        raise ProviderUnavailable(
            f"the provider's key set has no usable signing key: {exc}"
        ) from None
    with _lock:
        _keys[meta.jwks_uri] = (now, keys)
    return keys


def forget_provider_documents() -> None:
    """Drops the kept discovery documents and key sets (a provider's keys are fetched anew)."""
    with _lock:
        _metadata.clear()
        _keys.clear()


# --- the flow ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def code_challenge(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def begin(cfg: OidcSettings, redirect_uri: str, next_path: str, now: int) -> tuple[str, Pending]:
    """Starts a sign-in: returns the provider's authorization URL (code flow, PKCE S256, a
    new state and nonce) and the pending sign-in for the browser to keep. Fetches the
    provider's metadata; raises ProviderUnavailable (502) as `provider_metadata` does. Checks
    no role (anyone may try to sign in); touches no store."""
    meta = provider_metadata(cfg.issuer)
    pending = Pending(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        next=next_path,
        started=now,
    )
    params = {
        "response_type": "code",
        "client_id": cfg.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(cfg.scopes),
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": code_challenge(pending.verifier),
        "code_challenge_method": "S256",
    }
    sep = "&" if "?" in meta.authorization_endpoint else "?"
    return meta.authorization_endpoint + sep + urlencode(params), pending


def finish(
    cfg: OidcSettings,
    pending: Pending | None,
    params: Mapping[str, str],
    redirect_uri: str,
    now: int,
) -> Identity:
    """Finishes a sign-in from the provider's callback `params`: checks `state` against the
    pending sign-in, exchanges the code (with the PKCE verifier and the client secret),
    verifies the ID token as the module says and returns the identity. Raises BadCallback
    (400, field `state`) for a missing, expired or different state, and (field `code`) for a
    missing or refused code; Forbidden (403) when the provider reports an error such as
    access_denied; Unauthorized (401) for an ID token that does not verify; ProviderUnavailable
    (502) when the provider cannot be reached. Checks no role; touches no store."""
    state = params.get("state", "")
    if pending is None:
        raise _bad(
            "no sign-in was started in this browser (or its cookie is gone); start again",
            "state",
        )
    if not state or not constant_equals(state, pending.state):
        raise _bad("state does not match the sign-in this browser started; start again", "state")
    if not 0 <= now - pending.started <= PENDING_SECONDS:
        raise _bad("the sign-in took too long (state expired); start again", "state")
    if params.get("error"):
        detail = params.get("error_description", "")
        raise Forbidden(
            f"the identity provider did not sign you in: {params['error']}"
            + (f" ({detail})" if detail else ""),
            field="error",
        )
    meta = provider_metadata(cfg.issuer)
    if "iss" in params and params["iss"] != meta.issuer:
        raise _bad(f"the callback comes from issuer {params['iss']!r}, not {meta.issuer!r}", "iss")
    code = params.get("code", "")
    if not code:
        raise _bad("the callback has no code", "code")
    tokens = _exchange(cfg, meta, code, redirect_uri, pending.verifier)
    claims = verify_id_token(cfg, meta, tokens.get("id_token"), nonce=pending.nonce, now=now)
    access_token = tokens.get("access_token")
    if meta.userinfo_endpoint and isinstance(access_token, str) and access_token:
        claims = {**_userinfo(meta, access_token, claims["sub"]), **claims}
    return identity_from_claims(cfg, claims)


def _bad(message: str, field_name: str) -> BadCallback:
    return BadCallback(message, field=field_name)


def _exchange(
    cfg: OidcSettings, meta: ProviderMetadata, code: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    secret = cfg.client_secret()
    auth: tuple[str, str] | None = None
    if not secret:
        data["client_id"] = cfg.client_id
    elif meta.token_auth_methods and "client_secret_basic" not in meta.token_auth_methods:
        data.update(client_id=cfg.client_id, client_secret=secret)
    else:  # RFC 6749 2.3.1: both form-encoded inside HTTP Basic
        auth = (quote(cfg.client_id, safe=""), quote(secret, safe=""))
    try:
        resp = httpx.post(
            meta.token_endpoint,
            data=data,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(
            f"the identity provider's token endpoint did not answer: {exc}"
        ) from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(
            f"the identity provider's token endpoint answered HTTP {resp.status_code}, not JSON"
        )
    if resp.status_code != 200:
        error = str(body.get("error", f"HTTP {resp.status_code}"))
        detail = str(body.get("error_description", ""))
        raise _bad(
            f"the identity provider refused the code: {error}" + (f" ({detail})" if detail else ""),
            "code",
        )
    return body


def verify_id_token(
    cfg: OidcSettings, meta: ProviderMetadata, raw: Any, *, nonce: str, now: int
) -> dict[str, Any]:
    """Returns the claims of an ID token once it verifies as the module says. Raises
    Unauthorized (401, field `id_token`) naming what failed, ProviderUnavailable (502) when the
    key set cannot be read. Touches no store."""
    if not isinstance(raw, str) or not raw:
        raise Unauthorized("the identity provider sent no ID token", field="id_token")
    try:
        try:
            token = jwt.decode(raw, _key_set(meta), algorithms=list(meta.algorithms))
        except InvalidKeyIdError:  # the provider may have rotated its keys
            token = jwt.decode(raw, _key_set(meta, refresh=True), algorithms=list(meta.algorithms))
        jwt.JWTClaimsRegistry(
            now=now,
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": meta.issuer},
            aud={"essential": True, "value": cfg.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise Unauthorized(
            f"the ID token did not verify: {exc.__class__.__name__}: {exc}", field="id_token"
        ) from None
    claims = dict(token.claims)
    aud = claims["aud"]
    azp = claims.get("azp")
    if (isinstance(aud, list) and len(aud) > 1 or azp is not None) and azp != cfg.client_id:
        raise Unauthorized("the ID token's azp is not this client", field="id_token")
    if not isinstance(claims["sub"], str):
        raise Unauthorized("the ID token's sub is not a string", field="id_token")
    return claims


def _userinfo(meta: ProviderMetadata, access_token: str, subject: str) -> dict[str, Any]:
    assert meta.userinfo_endpoint is not None
    info = _get_json(
        meta.userinfo_endpoint,
        "userinfo endpoint",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    if not isinstance(info, dict) or info.get("sub") != subject:
        raise Unauthorized(
            "the userinfo answer is about another subject than the ID token", field="id_token"
        )
    return info


def _claim(claims: Mapping[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def identity_from_claims(cfg: OidcSettings, claims: Mapping[str, Any]) -> Identity:
    """The identity in verified claims: email, whether it is verified (true, or the text
    "true" as some providers send it), name, preferred user name and the role claim's
    values. Reads nothing."""
    values = _claim(claims, cfg.roles.claim)
    if isinstance(values, str):
        values = [values]
    role_values = tuple(v for v in values if isinstance(v, str)) if isinstance(values, list) else ()

    def text(name: str) -> str:
        value = claims.get(name)
        return value.strip() if isinstance(value, str) else ""

    return Identity(
        subject=str(claims["sub"]),
        email=text("email"),
        email_verified=claims.get("email_verified") in (True, "true"),
        name=text("name"),
        username=text("preferred_username"),
        role_values=role_values,
        zoneinfo=text("zoneinfo"),
    )


def role_for(roles: RoleMapping, values: tuple[str, ...]) -> str:
    """The highest role the claim's values map to, else the default. Reads nothing."""
    if roles.map:
        mapped = [roles.map[v] for v in values if v in roles.map]
    else:
        mapped = [v for v in values if v in ROLES]
    return max(mapped, key=lambda r: ROLE_RANK[r], default=roles.default)


def _free_name(session: Session, identity: Identity) -> str:
    local = identity.email.partition("@")[0]
    candidates = [identity.username, re.sub(r"[^A-Za-z0-9._-]+", "-", local).strip("._-")]
    base = next((c[:90] for c in candidates if c and NAME_RE.match(c[:90])), "user")
    taken = set(
        session.scalars(select(User.name).where((User.name == base) | User.name.like(f"{base}-%")))
    )
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def sign_in(session: Session, clock: Clock, cfg: OidcSettings, identity: Identity) -> SignedIn:
    """Finds the identity's user by email (case-insensitively) or creates it, and opens a web
    session for it as password login does. Raises Forbidden (403) for a missing or unverified
    email (field `email`), an unknown email when `create_users` is off, and a deactivated user
    (field `user`); ValidationFailed (422) when the provider's email is not an address. A new
    user gets a free name (preferred_username, else the email's local part) and the mapped
    role; an existing user's role follows the mapping only with `roles.sync`. Checks no role:
    the caller verified the provider's ID token. Runs in the caller's transaction and makes no
    request."""
    if not identity.email:
        raise Forbidden("the identity provider sent no email address (scope email)", field="email")
    if cfg.require_verified_email and not identity.email_verified:
        raise Forbidden(
            f"the identity provider has not verified the email {identity.email!r}", field="email"
        )
    user = session.scalar(select(User).where(User.email == identity.email))
    if user is None:
        user = session.scalar(
            select(User)
            .where(func.lower(User.email) == identity.email.lower())
            .order_by(User.id)
            .limit(1)
        )
    role = role_for(cfg.roles, identity.role_values)
    created = False
    if user is None:
        if not cfg.create_users:
            raise Forbidden(
                f"no warroom user has the email {identity.email!r} (sso.create_users is off)",
                field="email",
            )
        user = create_user(
            session,
            clock,
            name=_free_name(session, identity),
            email=identity.email,
            full_name=identity.name[:200],
            timezone=identity.zoneinfo if valid_timezone(identity.zoneinfo) else "UTC",
            role=role,
        )
        created = True
    if not user.active:
        raise Forbidden(f"user {user.name!r} is deactivated", field="user")
    previous_role = user.role
    if cfg.roles.sync and user.role != role:
        user.role = role
    secret, csrf = start_session(session, clock, user)
    accounts.audit(
        session,
        clock,
        Principal(role=user.role, user_id=user.id, name=user.name),
        "login.sso",
        user.name,
        issuer=cfg.issuer,
        created=created,
        **(
            {"role_from": previous_role, "role_to": user.role} if previous_role != user.role else {}
        ),
    )
    return SignedIn(user=user, secret=secret, csrf=csrf, created=created)
