"""Single sign-on pages: /login/sso sends the browser to the OpenID Connect provider,
/login/sso/callback brings it back signed in.

Invariants:
- Both answer 404 while no `sso:` section is configured.
- The pending sign-in (state, nonce, PKCE verifier, the page to go to) lives only in the
  cookie `wr_sso`: HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET
  from another site, which Lax lets carry it), path /login/sso, 10 minutes, Secure like the
  session cookie. The callback deletes it whatever the outcome, so a state is used once.
- A successful callback sets the same session cookie as password login and goes only to a
  local path. Every refusal is an error page with the 4xx (or 502) the sign-in raised; no
  request to the provider is made inside a store transaction.
- The redirect URI registered at the provider is the public URL followed by
  /login/sso/callback (settings.public_url).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from warroom import settings
from warroom.auth import oidc
from warroom.config import sso as sso_config
from warroom.core.errors import DomainError
from warroom.http import clock, db
from warroom.web.routes import PRE_CSRF_COOKIE, SESSION_COOKIE, error_page

router = APIRouter(include_in_schema=False)
SSO_COOKIE = "wr_sso"
SSO_PATH = "/login/sso"
CALLBACK_PATH = "/login/sso/callback"


def callback_url(request: Request) -> str:
    """The redirect URI: where the provider sends the browser back to."""
    return settings.public_url(str(request.base_url)) + CALLBACK_PATH


def local_path(target: str) -> str:
    """`target` when it is a path on this site, else /incidents (no open redirect)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/incidents"


def _secure(request: Request) -> bool:
    return bool(getattr(request.app.state, "secure_cookies", False))


def _configured(request: Request) -> oidc.OidcSettings | None:
    with db(request).read() as s:
        return sso_config.settings(s)


def _now(request: Request) -> int:
    return int(clock(request).now().timestamp())


@router.get(SSO_PATH)
def sso_start(request: Request, next: str = "/incidents") -> Response:
    cfg = _configured(request)
    if cfg is None:
        return error_page(request, "Single sign-on is not configured here.", 404)
    try:
        url, pending = oidc.begin(cfg, callback_url(request), local_path(next), _now(request))
    except DomainError as exc:
        return error_page(request, exc.message, exc.status_code)
    resp = RedirectResponse(url, status_code=303)
    resp.set_cookie(
        SSO_COOKIE,
        pending.encode(),
        max_age=oidc.PENDING_SECONDS,
        path=SSO_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return resp


@router.get(CALLBACK_PATH)
def sso_callback(request: Request) -> Response:
    cfg = _configured(request)
    if cfg is None:
        return error_page(request, "Single sign-on is not configured here.", 404)
    raw = request.cookies.get(SSO_COOKIE, "")
    pending = oidc.Pending.decode(raw) if raw else None
    try:
        identity = oidc.finish(
            cfg, pending, dict(request.query_params), callback_url(request), _now(request)
        )
        try:
            with db(request).session() as s:
                signed_in = oidc.sign_in(s, clock(request), cfg, identity)
        except IntegrityError:
            # The same person's first sign-in in two tabs at once: the other one made the
            # user, which this try now finds.
            with db(request).session() as s:
                signed_in = oidc.sign_in(s, clock(request), cfg, identity)
    except DomainError as exc:
        resp = error_page(request, f"Single sign-on failed: {exc.message}", exc.status_code)
        resp.delete_cookie(SSO_COOKIE, path=SSO_PATH)
        return resp
    assert pending is not None  # finish refuses a callback without one
    resp = RedirectResponse(local_path(pending.next), status_code=303)
    resp.set_cookie(
        SESSION_COOKIE, signed_in.secret, httponly=True, samesite="lax", secure=_secure(request)
    )
    resp.delete_cookie(SSO_COOKIE, path=SSO_PATH)
    resp.delete_cookie(PRE_CSRF_COOKIE)
    return resp
