"""Account pages: set a password through a one-time reset link (no session needed),
and change one's own password. The rules and their checks are in
`warroom.auth.accounts`; these pages only render and post.

Invariants: opening a reset link changes nothing (a mail scanner may fetch it); only
the form's POST, with the CSRF token the page set as a cookie, uses it up."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from warroom.auth import accounts
from warroom.core.errors import DomainError
from warroom.core.security import constant_equals, hash_token
from warroom.http import clock, db
from warroom.web.routes import (
    PRE_CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_ok,
    csrf_rejected,
    current,
    error_page,
    secure_cookies,
    templates,
)

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _reset_form(request: Request, secret: str, name: str, error: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    resp = templates.TemplateResponse(
        request,
        "password_reset.html",
        {"user": None, "csrf": token, "name": name, "error": error, "action": request.url.path},
        status_code=422 if error else 200,
        headers=NO_STORE,
    )
    resp.set_cookie(
        PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(request)
    )
    return resp


@router.get("/password/reset/{secret}", response_class=HTMLResponse)
def reset_page(request: Request, secret: str) -> Response:
    with db(request).read() as s:
        user = accounts.reset_user(s, clock(request), secret)
        name = user.name if user else None
    if name is None:
        return error_page(
            request, "This reset link is unknown, used or expired; ask an admin for a new one.", 404
        )
    return _reset_form(request, secret, name)


@router.post("/password/reset/{secret}", response_class=HTMLResponse)
def reset_submit(
    request: Request, secret: str, password: str = Form(""), csrf: str = Form("")
) -> Response:
    pre = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not pre or not csrf or not constant_equals(pre, csrf):
        return error_page(request, "This form expired; open the link again.", 403)
    try:
        with db(request).session() as s:
            user = accounts.use_reset_link(s, clock(request), secret, password)
            name = user.name
    except DomainError as exc:
        if exc.field == "password":
            with db(request).read() as s:
                found = accounts.reset_user(s, clock(request), secret)
                again = found.name if found else ""
            return _reset_form(request, secret, again, exc.message)
        return error_page(request, exc.message, exc.status_code)
    resp = templates.TemplateResponse(
        request,
        "password_reset.html",
        {"user": None, "csrf": "", "name": name, "done": True, "error": ""},
        headers=NO_STORE,
    )
    resp.delete_cookie(PRE_CSRF_COOKIE)
    return resp


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, error: str = "", done: str = "") -> Response:
    who, csrf = current(request)
    return templates.TemplateResponse(
        request,
        "account_password.html",
        {"user": who, "csrf": csrf, "error": error, "done": bool(done)},
        status_code=422 if error else 200,
    )


@router.post("/account/password", response_class=HTMLResponse)
def password_submit(
    request: Request,
    current_password: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    who, expected = current(request)
    if not csrf_ok(expected, csrf):
        return csrf_rejected(request, who)
    try:
        with db(request).session() as s:
            accounts.change_password(
                s,
                clock(request),
                who,
                who.name,
                password,
                current_password=current_password,
                keep_session=hash_token(request.cookies.get(SESSION_COOKIE, "")),
            )
    except DomainError as exc:
        return password_page(request, error=exc.message)
    return password_page(request, done="1")
