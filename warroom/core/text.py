"""Text that requests bring in: no NUL character, and JSON nested at most MAX_DEPTH levels.

PostgreSQL cannot store U+0000 in a text column, and Python's JSON encoder (the store's JSON
columns, the API's answers) recurses once per level, so a NUL or a deeply nested document
that got in failed later with a 500, on PostgreSQL after part of the work was done. These
checks run before any handler, so such input is a 4xx naming the field and nothing is
written.

Invariants:
- `problem` finds, in a decoded JSON value, the first string or object key (in document
  order) that contains U+0000, or the first array or object nested deeper than MAX_DEPTH
  levels (the top-level value is level 1), and says where as a path of keys and indexes.
  It does not recurse, so no input is too deep for the check itself.
- `RefuseBadText` (ASGI middleware, added by the app factory) answers 422 with the API's
  error body (`error`, `field`) for a request whose path, query parameters, JSON body
  (`application/json`, `*+json`, or no content type) or form body (urlencoded or
  multipart) holds such text; every other request reaches the app unchanged, with its
  body replayed exactly as it was read. It checks no role and touches no store.
- The alert intake is answered before middleware (`warroom.alerts.intake`); its parsers
  apply `problem` themselves.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import orjson

from warroom.core.problems import Path_, dotted

MAX_DEPTH = 32
NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (U+0000)"
DEPTH_MESSAGE = f"nests deeper than {MAX_DEPTH} levels"
MAX_FIELD = 200  # characters of a field's path quoted back in an answer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def problem(value: Any, max_depth: int = MAX_DEPTH) -> tuple[Path_, str] | None:
    """(where, what) of the first NUL in a string or key, or of the first container nested
    deeper than `max_depth`, in a decoded JSON value; None when there is neither."""
    if _clean(value, max_depth):
        return None
    return _locate(value, max_depth)


def _clean(value: Any, max_depth: int) -> bool:
    # Level by level, without paths: the common answer (nothing wrong) at the least cost.
    level = [value]
    depth = 0
    while level:
        below: list[Any] = []
        containers = False
        for item in level:
            kind = type(item)
            if kind is str:
                if NUL in item:
                    return False
            elif kind is dict:
                containers = True
                for key in item:
                    if type(key) is str and NUL in key:
                        return False
                below.extend(item.values())
            elif kind is list:
                containers = True
                below.extend(item)
            elif isinstance(item, (str, dict, list)):  # subclasses: the slow path names them
                return False
        if containers:
            depth += 1
            if depth > max_depth:
                return False
        level = below
    return True


def _locate(value: Any, max_depth: int) -> tuple[Path_, str] | None:
    stack: list[tuple[Any, Path_]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path, NUL_MESSAGE
        elif isinstance(item, dict):
            if len(path) >= max_depth:
                return path, DEPTH_MESSAGE
            children: list[tuple[Any, Path_]] = []
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return (*path, key), "is a name that " + NUL_MESSAGE
                children.append((child, (*path, key)))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            if len(path) >= max_depth:
                return path, DEPTH_MESSAGE
            stack.extend((item[i], (*path, i)) for i in range(len(item) - 1, -1, -1))
    return None


def may_have_problem(raw: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """False when JSON text `raw` cannot decode to a value `problem` refuses: it has no
    `\\u0000` escape (JSON has no other way to carry a NUL) and fewer brackets than the
    depth limit. A cheap filter run before the walk."""
    if b"\\u0000" in raw:
        return True
    return raw.count(b"{") + raw.count(b"[") > max_depth


def field_name(path: Path_, root: str = "body") -> str:
    """The path as people read it (`payload.custom_details`, `alerts[0].labels`), cut to
    MAX_FIELD characters; `root` for the top-level value."""
    name = dotted(tuple(p if isinstance(p, int) else str(p).replace(NUL, "\\u0000") for p in path))
    if not name:
        return root
    return name if len(name) <= MAX_FIELD else name[: MAX_FIELD - 1] + "…"


def decode_json(raw: bytes) -> tuple[Any, bool]:
    """(value, True), or (None, False) when `raw` is not JSON this server would read."""
    try:
        return orjson.loads(raw), True
    except orjson.JSONDecodeError:
        pass
    try:  # what orjson refuses but the framework's parser reads (NaN, odd escapes)
        return json.loads(raw), True
    except (ValueError, RecursionError):
        return None, False


def json_problem(raw: bytes) -> tuple[str, str] | None:
    """(field, message) for a JSON body this server would read but must refuse; None for
    every other body (valid or not: the app answers invalid JSON itself)."""
    if not may_have_problem(raw):
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc).lower():
            return "body", DEPTH_MESSAGE
        value, ok = decode_json(raw)
        if not ok:
            return None
    found = problem(value)
    if found is None:
        return None
    return field_name(found[0]), found[1]


def _pairs_problem(pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
    for key, value in pairs:
        if NUL in key:
            return field_name((key,)), "is a name that " + NUL_MESSAGE
        if NUL in value:
            return field_name((key,)), NUL_MESSAGE
    return None


def query_problem(query: bytes) -> tuple[str, str] | None:
    """(parameter, message) for a query string with a NUL in a name or value."""
    if b"%00" not in query and b"\x00" not in query:
        return None
    return _pairs_problem(parse_qsl(query.decode("latin-1"), keep_blank_values=True))


def form_problem(content_type: str, raw: bytes) -> tuple[str, str] | None:
    """(field, message) for an urlencoded or multipart form body with a NUL in a field."""
    if "multipart/form-data" in content_type:
        if b"\x00" not in raw:
            return None
        head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
        try:
            message = BytesParser(policy=HTTP).parsebytes(head + raw)
            parts = message.iter_parts() if message.is_multipart() else iter(())
            for part in parts:
                name = part.get_param("name", header="content-disposition") or "body"
                payload = part.get_payload(decode=True) or b""
                if b"\x00" in payload or NUL in str(name):
                    return field_name((str(name),)), NUL_MESSAGE
        except Exception:  # a body the framework cannot parse either
            return None
        return "body", NUL_MESSAGE
    if b"%00" not in raw and b"\x00" not in raw:
        return None
    return _pairs_problem(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


def _content_type(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            text: str = value.decode("latin-1").lower()
            return text
    return None


def _body_kind(content_type: str | None) -> str | None:
    if content_type is None:
        return "json"  # the framework reads a body without a content type as JSON
    media = content_type.split(";", 1)[0].strip()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return "json"
    if media in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return "form"
    return None


def refusal(field: str, message: str) -> bytes:
    """The 422 body: the API's error shape."""
    return orjson.dumps({"error": f"{field}: {message}", "field": field})


class RefuseBadText:
    """ASGI middleware: 422 naming the field for NUL characters in the path, the query and
    JSON or form bodies, and for JSON nested deeper than MAX_DEPTH (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if NUL in scope.get("path", ""):
            await _refuse(send, "path", NUL_MESSAGE)
            return
        found = query_problem(scope.get("query_string", b""))
        if found:
            await _refuse(send, *found)
            return
        content_type = _content_type(scope)
        kind = _body_kind(content_type)
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or kind is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if kind == "json":
            found = json_problem(raw) if raw else None
        else:
            found = form_problem(content_type or "", raw)
        if found:
            await _refuse(send, *found)
            return
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, field: str, message: str) -> None:
    body = refusal(field, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
