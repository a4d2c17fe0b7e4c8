"""Redacting URLs in text that people see: a URL's path, query, fragment and user info
can hold credentials (a chat webhook's token, an Apprise URL's keys).

Invariants:
- `redact_url` keeps a URL's scheme and, for http and https, its host and port; every
  other part becomes `***` (an Apprise URL keeps its scheme only: its first part is
  often a token). It is idempotent.
- `redact_text` redacts every `scheme://…` in a text and keeps the punctuation after it.
- Pure functions: no store, no settings, no role.
"""

from __future__ import annotations

import re

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s'\"<>]*")
_TRAILING = ".,:;!?)]}"


def redact_url(url: str) -> str:
    """`url` with only its scheme and, for http(s), its host and port: the rest (path,
    query, fragment, user info, an Apprise URL's tokens) becomes `***`."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return "***"
    if scheme.lower() not in ("http", "https"):
        return f"{scheme}://***"
    netloc = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
    _, at, hostport = netloc.rpartition("@")
    shown = ("***@" if at else "") + hostport
    return f"{scheme}://{shown}/***" if len(netloc) < len(rest) or at else f"{scheme}://{shown}"


def _redact_match(m: re.Match[str]) -> str:
    url = m.group(0)
    core = url.rstrip(_TRAILING)
    return redact_url(core) + url[len(core) :]


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (redact_url); punctuation after a URL stays."""
    return _URL.sub(_redact_match, text)
