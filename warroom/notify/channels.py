"""Delivery channels: SMTP email, HMAC-signed HTTP webhooks and Apprise URLs.

Each send carries the notification's idempotency key (the `Idempotency-Key` header, the
email's Message-ID and `X-Warroom-Idempotency-Key`, or a reference line for Apprise), so
a receiver recognises a repeat after a crash. A failure raises DeliveryFailed with a
message for the incident timeline.

Invariants:
- Outbound address policy: a webhook or an Apprise URL reaches only public addresses
  unless WARROOM_OUTBOUND_ALLOW (settings.outbound_allow) names the network or host.
  Every address a host name resolves to is checked (`is_public`: loopback, private,
  link-local, multicast, reserved, unspecified and shared addresses are not public, also
  inside IPv4-mapped, 6to4 and NAT64 IPv6 addresses). Webhooks are checked while
  connecting: the client of `outbound_client` resolves the host itself, checks, and
  connects only to an address it checked (no second look-up a DNS answer could change
  in between); environment proxies are not used. Apprise resolves on its own, so its
  destination host is checked just before the send (`check_destination`). A refusal
  raises AddressRefused.
- No full URL in a message: every DeliveryFailed text, and any text that is stored or
  shown after a send, goes through `redact_text` (warroom.core.redact, re-exported here),
  which keeps only a URL's scheme and (for http and https) its host and port; path,
  query and user info become `***`.
- `DeliveryFailed.public` is a generic outcome that names no connection detail (what a
  `contact test` answers, so that it is no port scanner).
- Email headers made from people's text are one line (`header_text`); an email goes to
  exactly one address (`one_email_address`, checked again at send).
- httpx and httpcore log at WARNING or above only (their INFO lines hold full URLs).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import re
import smtplib
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import orjson

from warroom import settings
from warroom.core.redact import redact_text as redact_text  # re-exported: one redaction
from warroom.core.redact import redact_url as redact_url

KINDS = ("email", "webhook", "apprise")
TIMEOUT_SECONDS = 10.0

DELIVERED = "delivered"
NOT_ACCEPTED = "failed: the receiver did not accept the message"
REFUSED = "refused: address not allowed"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DeliveryFailed(Exception):
    """A send that did not reach its receiver; the message says why (redacted), `public`
    says it without detail."""

    public = NOT_ACCEPTED

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


class AddressRefused(DeliveryFailed):
    """The destination is not a public address and not allow-listed."""

    public = REFUSED


class NotConfigured(DeliveryFailed):
    """This server cannot use the channel (email without WARROOM_SMTP_HOST)."""

    public = "failed: this server cannot send email (WARROOM_SMTP_HOST is not set)"


@dataclass(frozen=True)
class Message:
    key: str  # idempotency key
    subject: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)  # the webhook body


# --- headers ---------------------------------------------------------------------------

# One addr-spec: a dot-atom local part, @, a domain of dot-separated labels. No display
# name, no list, no blanks, no quotes, no line breaks.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
_LINE_BREAKS = re.compile(r"\s*[\x00-\x1f\x7f\x85\u2028\u2029]+\s*")


def one_email_address(address: str) -> bool:
    """Whether `address` is exactly one email address (`name@domain`, at most 254
    characters): no list, display name, quotes, blank or line break."""
    return len(address) <= 254 and _ADDR_SPEC.fullmatch(address) is not None


def header_text(text: str) -> str:
    """`text` fit for an email header: each run of line breaks, tabs and other control
    characters becomes one space, so the header is one line."""
    return _LINE_BREAKS.sub(" ", text).strip()


# --- the outbound address policy ---------------------------------------------------------

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _unwrapped(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address, else `ip`."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public(ip: IPAddress) -> bool:
    """Whether `ip` (or the IPv4 address inside it) is a public unicast address."""
    a = _unwrapped(ip)
    return not (
        a.is_private
        or a.is_loopback
        or a.is_link_local
        or a.is_multicast
        or a.is_reserved
        or a.is_unspecified
        or not a.is_global
    )


def resolve(host: str, port: int | None) -> list[IPAddress]:
    """The addresses `host` resolves to, in the resolver's order (an IP literal: itself).
    Raises OSError when it does not resolve."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in found:
            found.append(ip)
    return found


def _allowed_host(host: str, entries: list[str]) -> bool:
    name = host.lower().rstrip(".")
    return any(name == e or (e.startswith("*.") and name.endswith(e[1:])) for e in entries)


def _networks(entries: list[str]) -> list[IPNetwork]:
    nets: list[IPNetwork] = []
    for e in entries:
        with contextlib.suppress(ValueError):  # else a host name
            nets.append(ipaddress.ip_network(e, strict=False))
    return nets


def permitted_addresses(host: str, port: int | None) -> list[IPAddress]:
    """The addresses of `host` warroom may connect to: all of them, or AddressRefused when
    one is neither public nor in WARROOM_OUTBOUND_ALLOW (a host named there is allowed
    whatever it resolves to). Raises OSError when the host does not resolve."""
    entries = settings.outbound_allow()
    addresses = resolve(host, port)
    if _allowed_host(host, entries):
        return addresses
    nets = _networks(entries)
    for ip in addresses:
        if not is_public(ip) and not any(a in n for a in {ip, _unwrapped(ip)} for n in nets):
            what = host if host.strip("[]") == str(ip) else f"{host} ({ip})"
            raise AddressRefused(
                f"{what} is not a public address; an admin may allow it in WARROOM_OUTBOUND_ALLOW"
            )
    return addresses


def _apprise_hosts(url: str) -> list[str]:
    """The hosts an Apprise URL makes Apprise connect to: its host when the service's URL
    has one (json://, form://, ntfy://host, mmost://… but not slack://TokenA/…, whose
    first part is a token), and a mailto:// URL's SMTP server."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return []
    hosts = []
    templates = getattr(type(plugin), "templates", ()) or ()
    host = getattr(plugin, "host", None)
    if host and any("{host}" in t for t in templates):
        hosts.append(str(host).strip("[]"))
    smtp_host = getattr(plugin, "smtp_host", None)
    if smtp_host:
        hosts.append(str(smtp_host))
    return list(dict.fromkeys(hosts))


def _webhook_host(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError("no host")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def check_destination(kind: str, address: str) -> None:
    """Raises AddressRefused when a webhook's or an Apprise URL's host resolves to an
    address that is not allowed (see the module). A host that does not resolve passes:
    there is nothing to reach (and an Apprise token is no host); it is checked again when
    a message is sent."""
    hosts: list[tuple[str, int | None]]
    if kind == "webhook":
        try:
            hosts = [_webhook_host(address)]
        except ValueError:
            return  # check_webhook_url names the problem
    elif kind == "apprise":
        hosts = [(h, None) for h in _apprise_hosts(address)]
    else:
        return
    for host, port in hosts:
        try:
            permitted_addresses(host, port)
        except OSError:
            continue


def check_webhook_url(url: str) -> str | None:
    """None if `url` can be a webhook address (an http(s) URL naming a host), else why not."""
    if not url.startswith(("http://", "https://")):
        return "a webhook address must start with http:// or https://"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "a webhook address must not contain blanks or control characters"
    try:
        _webhook_host(url)
    except ValueError:
        return f"{redact_url(url)} is not a URL with a host (and a port from 1 to 65535)"
    return None


class _CheckingBackend(httpcore.SyncBackend):
    """Connects only to addresses that permitted_addresses allows, resolving once."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = permitted_addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for ip in addresses:
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error


class _CheckingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),  # SSL_CERT_FILE and SSL_CERT_DIR apply
            network_backend=_CheckingBackend(),
        )


def _quiet_http_logs() -> None:
    # httpx logs every request at INFO with its full URL (tokens included).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


_quiet_http_logs()


def outbound_client(timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    """An HTTP client for requests to addresses that people configured: it connects only
    to allowed addresses (see the module), follows no redirect and uses no environment
    proxy. Close it after use (`with outbound_client() as c:`)."""
    _quiet_http_logs()
    return httpx.Client(
        transport=_CheckingTransport(), timeout=timeout, trust_env=False, follow_redirects=False
    )


# --- channels ----------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """The X-Warroom-Signature header value: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def smtp_send(msg: EmailMessage) -> None:
    """Sends through WARROOM_SMTP_HOST:WARROOM_SMTP_PORT (default port 25)."""
    host = settings.smtp_host()
    if not host:
        raise NotConfigured("WARROOM_SMTP_HOST is not set; cannot send email")
    port = settings.smtp_port()
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {host}:{port}: {exc}") from exc


def sender_address() -> str:
    return settings.smtp_sender(settings.NOTIFY_SENDER)


def send_email(address: str, msg: Message) -> str:
    if not one_email_address(address):  # saved before addresses were checked, or an account's
        raise DeliveryFailed(f"{address!r} is not one email address; not sent")
    em = EmailMessage()
    em["Subject"] = header_text(msg.subject)
    em["From"] = sender_address()
    em["To"] = address
    domain = sender_address().rpartition("@")[2] or "warroom"
    em["Message-ID"] = make_msgid(idstring=msg.key.replace(":", "."), domain=domain)
    em["X-Warroom-Idempotency-Key"] = header_text(msg.key)
    em.set_content(msg.text)
    smtp_send(em)
    return f"email to {address} accepted"


def send_webhook(url: str, secret: str, msg: Message) -> str:
    body = orjson.dumps({**msg.data, "idempotency_key": msg.key})
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": msg.key,
        "User-Agent": "warroom",
    }
    if secret:
        headers["X-Warroom-Signature"] = signature(secret, body)
    try:
        with outbound_client() as client:
            resp = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 300:
        raise DeliveryFailed(f"webhook {url}: HTTP {resp.status_code}")
    return f"webhook answered HTTP {resp.status_code}"


def check_apprise_url(url: str) -> str | None:
    """None if Apprise understands the URL, else why not."""
    import apprise

    if apprise.Apprise.instantiate(url) is None:
        return f"Apprise does not understand {redact_url(url)!r}"
    return None


def send_apprise(url: str, msg: Message) -> str:
    import apprise

    check_destination("apprise", url)
    ap = apprise.Apprise()
    if not ap.add(url):
        raise DeliveryFailed(f"Apprise does not understand {redact_url(url)}")
    # The title becomes an email Subject for mailto:// and similar: one line.
    ok = ap.notify(title=header_text(msg.subject), body=f"{msg.text}\n\nref: {msg.key}")
    if not ok:
        raise DeliveryFailed(f"Apprise could not deliver to {redact_url(url)}")
    return f"delivered through Apprise ({redact_url(url)})"


def send(kind: str, address: str, secret: str, msg: Message) -> str:
    """Delivers one message; returns a short outcome (redacted), raises DeliveryFailed
    (AddressRefused for an address the outbound policy refuses)."""
    if kind == "email":
        return send_email(address, msg)
    if kind == "webhook":
        return send_webhook(address, secret, msg)
    if kind == "apprise":
        return send_apprise(address, msg)
    raise DeliveryFailed(f"unknown contact method kind {kind!r}")


def failure_text(exc: BaseException) -> str:
    """What to record for a send that raised: a DeliveryFailed's (redacted) message, or
    for any other exception its type and redacted text."""
    if isinstance(exc, DeliveryFailed):
        return str(exc)
    return redact_text(f"{type(exc).__name__}: {exc}")
