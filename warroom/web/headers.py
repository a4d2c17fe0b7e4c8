"""Security headers on every page the app serves.

Invariants:
- Every HTML response carries a Content-Security-Policy: scripts only from this origin
  (no inline script, no `eval`), no plugins, forms post only to this origin, and no
  `<base>` rewriting. Styles may be inline (the pages use style attributes).
- No page can be framed by another site (`frame-ancestors 'none'`,
  `X-Frame-Options: DENY`). The public status page sets its own, stricter policy
  (`warroom.statuspage.public`), which is kept.
- Every response says `X-Content-Type-Options: nosniff`; a header a route set itself
  is never replaced.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    b"form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """ASGI middleware adding the headers of the module's invariants."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                extra: list[tuple[bytes, bytes]] = []
                if b"x-content-type-options" not in have:
                    extra.append((b"x-content-type-options", b"nosniff"))
                if ctype.startswith(b"text/html"):
                    if b"content-security-policy" not in have:
                        extra.append((b"content-security-policy", POLICY))
                    if b"x-frame-options" not in have:
                        extra.append((b"x-frame-options", b"DENY"))
                    if b"referrer-policy" not in have:
                        extra.append((b"referrer-policy", b"same-origin"))
                if extra:
                    message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, sending)
