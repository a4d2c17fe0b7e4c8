"""Serving the public page: rendered once per change, served from process memory.

Each process keeps every public body (HTML, feeds, v2 JSON) in memory with its ETag.
A request costs no store query: at most about once a second one request checks the
page's `version` row (a one-row primary-key read) and, when another replica changed the
page, re-renders. Writes in this process mark the cache stale on commit, so the writer
sees its own change on the next request. The UTC day rolling over also re-renders (the
uptime bars move).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import date
from typing import Any

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import event
from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.core.errors import DomainError
from warroom.db.session import Database
from warroom.http import clock as clock_of
from warroom.http import db as db_of
from warroom.statuspage import subscriptions
from warroom.statuspage.page import current_version, page_name
from warroom.statuspage.render import JSON_PATHS, PAGE_PATHS, Body, env, render_all

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("warroom.statuspage")
CACHE_CONTROL = b"public, max-age=5"
# The page has no script at all; even injected markup could not run or frame it.
CSP = (
    b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'"
)
SERVED = {p: p for p in JSON_PATHS + PAGE_PATHS} | {"/status/": "/status"}
_caches: weakref.WeakSet[StatusCache] = weakref.WeakSet()


class StatusCache:
    def __init__(self, db: Database, clock: Clock, check_seconds: float = 1.0) -> None:
        self.db = db
        self.clock = clock
        self.check_seconds = check_seconds
        self.bodies: dict[str, Body] = {}
        self.version: int | None = None
        self.day: date | None = None
        self.checked = 0.0
        self.dirty = True
        self.renders = 0
        self._lock = threading.Lock()
        _caches.add(self)
        _watch(db)

    def stale(self) -> bool:
        return (
            self.dirty
            or time.monotonic() - self.checked >= self.check_seconds
            or self.clock.now().date() != self.day
        )

    def invalidate(self) -> None:
        self.dirty = True

    def refresh(self) -> None:
        """Checks the stored version; re-renders when it (or the day) changed."""
        with self._lock:
            if not self.stale():
                return  # another thread refreshed while this one waited
            forced, self.dirty = self.dirty, False
            today = self.clock.now().date()
            try:
                with self.db.read() as s:
                    version = current_version(s)
                    if forced or version != self.version or today != self.day or not self.bodies:
                        _, bodies = render_all(s, self.clock)
                        self.bodies = bodies
                        self.version = version
                        self.day = today
                        self.renders += 1
            finally:
                self.checked = time.monotonic()

    def get(self, path: str) -> Body:
        if self.stale():
            self.refresh()
        return self.bodies[path]


def _watch(db: Database) -> None:
    """Marks this process's caches stale when a transaction that changed the page commits."""
    maker = db.sessionmaker
    if getattr(maker, "_statuspage_watched", False):
        return

    def after_commit(session: Session) -> None:
        if session.info.pop("statuspage_changed", False):
            for cache in list(_caches):
                if cache.db is db:
                    cache.invalidate()

    def after_rollback(session: Session) -> None:
        session.info.pop("statuspage_changed", None)

    event.listen(maker, "after_commit", after_commit)
    event.listen(maker, "after_soft_rollback", lambda s, _t: after_rollback(s))
    maker._statuspage_watched = True  # type: ignore[attr-defined]


def cache_for(app: Any) -> StatusCache:
    cache: StatusCache | None = getattr(app.state, "status_cache", None)
    if cache is None:
        cache = StatusCache(app.state.db, app.state.clock)
        app.state.status_cache = cache
    return cache


class StatusPageMiddleware:
    """Answers the public paths before routing: bytes from memory, ETag, 304s."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self._refreshing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = SERVED.get(scope.get("path", "")) if scope["type"] == "http" else None
        if path is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        cache = cache_for(scope["app"])
        if cache.stale() and (not cache.bodies or cache.dirty or not self._refreshing):
            # One request refreshes (off the event loop); the rest keep serving the
            # bodies they have until the new ones are in.
            self._refreshing = True
            try:
                await anyio.to_thread.run_sync(cache.refresh)
            except Exception:
                # The store is unreachable: keep answering with what was last rendered
                # (a status page must outlive the outage it reports); retry next second.
                if not cache.bodies:
                    raise
                log.warning("status page: refresh failed; serving the last render", exc_info=True)
            finally:
                self._refreshing = False
        body = cache.bodies[path]
        inm = None
        packed = False
        for k, v in scope["headers"]:
            if k == b"if-none-match":
                inm = v
            elif k == b"accept-encoding" and body.gzip is not None and b"gzip" in v:
                packed = True
        content = body.gzip if packed and body.gzip is not None else body.content
        etag = body.etag.encode()
        if packed:
            etag = etag[:-1] + b'-gz"'
        headers = [
            (b"etag", etag),
            (b"cache-control", CACHE_CONTROL),
            (b"x-content-type-options", b"nosniff"),
            (b"vary", b"Accept-Encoding"),
        ]
        if inm is not None and etag in [t.strip() for t in inm.split(b",")]:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [
            (b"content-type", body.media_type.encode()),
            (b"content-length", str(len(content)).encode()),
        ]
        if packed:
            headers.append((b"content-encoding", b"gzip"))
        if path.endswith(".json"):
            headers.append((b"access-control-allow-origin", b"*"))
        elif body.media_type.startswith("text/html"):
            headers.append((b"content-security-policy", CSP))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {
                "type": "http.response.body",
                "body": b"" if scope["method"] == "HEAD" else content,
            }
        )


# --- subscriptions (not cached: each one writes) ----------------------------------------

router = APIRouter(include_in_schema=False)


def _message(request: Request, title: str, text: str, status: int = 200) -> Response:
    with db_of(request).read() as s:
        page = page_name(s)
    html = env.get_template("message.html").render(
        page={"name": page}, title=title, text=text, rendered_at="", rendered_iso=""
    )
    return HTMLResponse(html, status_code=status)


@router.post("/status/subscribe")
def subscribe(request: Request, email: str = Form("")) -> Response:
    """Email only: webhooks are added by admins (a public form that made the server POST to
    any URL would let anyone aim it at internal addresses)."""
    try:
        with db_of(request).session() as s:
            subscriptions.subscribe(s, clock_of(request), kind="email", address=email)
    except DomainError as exc:
        return _message(request, "Subscription failed", exc.message, exc.status_code)
    text = "Check your inbox: we sent a link to confirm the subscription."
    return _message(request, "Almost done", text)


@router.get("/status/subscribers/confirm/{token}")
def confirm(token: str, request: Request) -> Response:
    try:
        with db_of(request).session() as s:
            subscriptions.confirm(s, clock_of(request), token)
    except DomainError as exc:
        return _message(request, "Link not valid", exc.message, exc.status_code)
    return _message(request, "Subscribed", "You will receive an email for every update.")


@router.get("/status/subscribers/unsubscribe/{token}")
def unsubscribe_page(token: str, request: Request) -> Response:
    html = env.get_template("unsubscribe.html").render(
        page={"name": _page_name(request)}, token=token, rendered_at="", rendered_iso=""
    )
    return HTMLResponse(html)


@router.post("/status/subscribers/unsubscribe/{token}")
def unsubscribe(token: str, request: Request) -> Response:
    """One click (RFC 8058 List-Unsubscribe-Post) or the page's button."""
    try:
        with db_of(request).session() as s:
            subscriptions.unsubscribe(s, clock_of(request), token)
    except DomainError as exc:
        return _message(request, "Link not valid", exc.message, exc.status_code)
    return _message(request, "Unsubscribed", "You will not receive further updates.")


def _page_name(request: Request) -> str:
    with db_of(request).read() as s:
        return page_name(s)
