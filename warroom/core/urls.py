"""Links that people click: only web addresses.

Invariants:
- A URL is a web URL when its scheme is http or https and it names a host; anything
  else (`javascript:`, `data:`, `vbscript:`, `file:`, scheme-relative `//host`) is not,
  whatever its case, surrounding blanks or embedded control characters.
- The UI renders a link as clickable only when `web_url` accepts it; values people
  write (a bridge URL) are refused at write time; values that come from monitoring
  (alert and change links) are kept as text, never dropped with their alert.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from warroom.core.errors import ValidationFailed

WEB_SCHEMES = ("http", "https")
# What browsers strip from a URL before parsing it: C0 controls and space at the ends,
# tab and newlines anywhere.
_STRIPPED = "".join(chr(c) for c in range(0x21))


def web_url(value: object) -> str | None:
    """`value` as a clickable web URL, or None when it is not one (see the module)."""
    if not isinstance(value, str):
        return None
    url = value.strip(_STRIPPED)
    if any(c in url for c in "\t\r\n") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return None
    return url


def require_web_url(value: str, field: str) -> str:
    """The stripped `value` when it is empty or a web URL; else ValidationFailed (422)
    naming `field`."""
    value = value.strip()
    if not value:
        return ""
    url = web_url(value)
    if url is None:
        raise ValidationFailed(
            f"{field} must be an http:// or https:// URL with a host", field=field
        )
    return url
