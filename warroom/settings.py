"""Settings read from WARROOM_* environment variables."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

NOTIFY_SENDER = "warroom@localhost"  # From: of pages when WARROOM_SMTP_FROM is unset
STATUS_SENDER = "status@localhost"  # From: of status page emails when it is unset


class SettingsError(ValueError):
    """A WARROOM_* variable holds a value that cannot be used; the message names it."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'warroom.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    secure_cookies: bool

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("WARROOM_DATABASE_URL") or default_database_url(),
            secure_cookies=os.environ.get("WARROOM_SECURE_COOKIES", "") in ("1", "true", "yes"),
        )


# Read at each call, so a change to the environment (or a test's monkeypatch) applies.


def base_url() -> str:
    """WARROOM_BASE_URL without a trailing slash; "" when unset (links are then relative)."""
    return os.environ.get("WARROOM_BASE_URL", "").rstrip("/")


def public_url(request_base: str = "") -> str:
    """The base of every absolute link warroom makes (in pages, API answers, notifications,
    emails, the status page and the single sign-on redirect), without a trailing slash:
    WARROOM_PUBLIC_URL (`warroom serve --public-url`) when set, for a warroom behind a proxy;
    else `request_base`, where the request being answered came in, when there is one; else
    WARROOM_BASE_URL (the older name, which `serve` defaults to its own address); else "" (links
    are then relative). Raises SettingsError when WARROOM_PUBLIC_URL is not an http(s) URL."""
    public = os.environ.get("WARROOM_PUBLIC_URL", "").strip()
    if public:
        parts = urlsplit(public)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
            raise SettingsError(f"WARROOM_PUBLIC_URL must be an http(s) URL, not {public!r}")
        return public.rstrip("/")
    return request_base.rstrip("/") or base_url()


def default_base_url(url: str) -> None:
    """Makes `url` the base URL unless WARROOM_BASE_URL is set. It is written to the
    environment so that server worker processes started afterwards inherit it."""
    os.environ.setdefault("WARROOM_BASE_URL", url)


def status_page_name() -> str:
    return os.environ.get("WARROOM_STATUS_PAGE_NAME", "Status")


def smtp_host() -> str:
    return os.environ.get("WARROOM_SMTP_HOST", "")


def smtp_port() -> int:
    return _int("WARROOM_SMTP_PORT", 25)


def smtp_sender(default: str = NOTIFY_SENDER) -> str:
    return os.environ.get("WARROOM_SMTP_FROM", default)


def outbound_allow() -> list[str]:
    """WARROOM_OUTBOUND_ALLOW: comma-separated networks (`10.0.0.0/8`, `127.0.0.1`, `::1`) and
    host names (`hooks.corp.example`, `*.corp.example`) that webhooks and Apprise URLs may
    reach although they are not public; lower-cased, blanks dropped. [] when unset. Raises
    SettingsError for an entry with a `/` that is not a network."""
    entries = [e.strip().lower() for e in os.environ.get("WARROOM_OUTBOUND_ALLOW", "").split(",")]
    for entry in entries:
        if "/" in entry:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(
                    f"WARROOM_OUTBOUND_ALLOW: {entry!r} is not a network (e.g. 10.0.0.0/8)"
                ) from None
    return [e for e in entries if e]


def max_alert_body() -> int:
    """The largest alert intake request body in bytes (default 1 MiB)."""
    return _int("WARROOM_MAX_ALERT_BODY", 1024 * 1024)


def ready_max_lag_seconds() -> float:
    """WARROOM_READY_MAX_LAG_SECONDS: how long the oldest due engine job may wait before
    `/readyz` answers 503 (default 60). Raises SettingsError unless a positive number."""
    raw = os.environ.get("WARROOM_READY_MAX_LAG_SECONDS", "60")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SettingsError(
            f"WARROOM_READY_MAX_LAG_SECONDS must be a positive number of seconds, not {raw!r}"
        )
    return value


def api_url() -> str:
    """Where the CLI finds the server (WARROOM_URL), without a trailing slash."""
    return (os.environ.get("WARROOM_URL") or "http://127.0.0.1:8080").rstrip("/")


def api_token() -> str:
    """The CLI's API token (WARROOM_TOKEN); "" when unset."""
    return os.environ.get("WARROOM_TOKEN") or ""
