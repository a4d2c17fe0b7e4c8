"""The `sso:` section of config as code: single sign-on with one OpenID Connect provider.

Invariants:
- The section is kept in the store as rows of `instance_keys` named `sso.<setting>`, one per
  setting and one per role mapping entry (`sso.roles.map.<n>`), each value JSON of at most
  VALUE_LIMIT characters (`check` refuses longer ones, naming the field). No secret is kept:
  the client secret stays in the server's environment, under the name the section gives.
- A document without `sso:` leaves single sign-on as it is; `sso: null` turns it off (its rows
  are deleted); a section replaces the whole previous one.
- `export` gives the section only while single sign-on is configured, in the form `apply`
  accepts unchanged; `settings` gives what a sign-in needs, or None when it is off.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.auth.oidc import OidcSettings, RoleMapping
from warroom.config.schema import ConfigDoc, SsoDoc
from warroom.paging.models import InstanceKey

PREFIX = "sso."
MAP_PREFIX = "sso.roles.map."
VALUE_LIMIT = 200  # instance_keys.value

Path = tuple[str | int, ...]


def given(doc: ConfigDoc) -> bool:
    """Whether the document has an `sso:` section (null included)."""
    return "sso" in doc.model_fields_set


def _rows(sso: SsoDoc) -> dict[str, tuple[Path, str]]:
    """The rows for a section: name -> (the field it comes from, JSON value)."""
    data = sso.model_dump()
    roles = data.pop("roles")
    rows: dict[str, tuple[Path, str]] = {}
    for key, value in data.items():
        rows[PREFIX + key] = (("sso", key), json.dumps(value))
    for key in ("claim", "default", "sync"):
        rows[f"{PREFIX}roles.{key}"] = (("sso", "roles", key), json.dumps(roles[key]))
    for n, (group, role) in enumerate(sorted(roles["map"].items())):
        rows[f"{MAP_PREFIX}{n}"] = (("sso", "roles", "map", group), json.dumps([group, role]))
    return rows


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check(doc: ConfigDoc) -> list[tuple[Path, str]]:
    """Problems of the `sso:` section the schema cannot see: an issuer that is not an https
    URL (http only on loopback, for tests), scopes without openid, a value too long to keep.
    Reads nothing."""
    sso = doc.sso
    if sso is None:
        return []
    problems: list[tuple[Path, str]] = []
    parts = urlsplit(sso.issuer)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or (parts.scheme == "http" and not _loopback(parts.hostname))
    ):
        problems.append(
            (
                ("sso", "issuer"),
                "issuer must be the provider's https URL, without query or fragment "
                "(http only on localhost)",
            )
        )
    if "openid" not in sso.scopes:
        problems.append((("sso", "scopes"), "scopes must include openid"))
    for i, scope in enumerate(sso.scopes):
        if not scope or any(c.isspace() for c in scope):
            problems.append((("sso", "scopes", i), f"scope {scope!r} is empty or has a space"))
    for path, value in _rows(sso).values():
        if len(value) > VALUE_LIMIT:
            problems.append((path, f"too long to keep (at most about {VALUE_LIMIT} characters)"))
    return problems


def _live_rows(session: Session) -> dict[str, str]:
    return {
        r.name: r.value
        for r in session.scalars(select(InstanceKey).where(InstanceKey.name.startswith(PREFIX)))
    }


def export(session: Session) -> dict[str, Any] | None:
    """The live section as `apply` accepts it, or None while single sign-on is off. Reads only."""
    rows = _live_rows(session)
    if not rows:
        return None
    data: dict[str, Any] = {"roles": {"map": {}}}
    for name, value in rows.items():
        parsed = json.loads(value)
        if name.startswith(MAP_PREFIX):
            group, role = parsed
            data["roles"]["map"][group] = role
        elif name.startswith(PREFIX + "roles."):
            data["roles"][name.removeprefix(PREFIX + "roles.")] = parsed
        else:
            data[name.removeprefix(PREFIX)] = parsed
    return SsoDoc.model_validate(data).model_dump()


def plan(session: Session, doc: ConfigDoc) -> list[tuple[str, str, list[str]]]:
    """The change applying the document's section makes, as (action, name, fields): none when
    the section is absent or equal to the live one. Reads only."""
    if not given(doc):
        return []
    live = export(session)
    if doc.sso is None:
        return [] if live is None else [("delete", _name(live), [])]
    wanted = doc.sso.model_dump()
    if live is None:
        return [("create", _name(wanted), [])]
    fields = sorted(k for k in wanted if live.get(k) != wanted[k])
    return [("update", _name(wanted), fields)] if fields else []


def _name(section: dict[str, Any]) -> str:
    return str(section.get("name") or section.get("issuer") or "sso")


def apply(session: Session, doc: ConfigDoc) -> None:
    """Makes the kept section the document's (deleting it for `sso: null`); nothing when the
    section is absent. Checks no role (the config API requires admin); runs in the caller's
    transaction."""
    if not given(doc):
        return
    wanted = {name: value for name, (_, value) in _rows(doc.sso).items()} if doc.sso else {}
    for row in session.scalars(select(InstanceKey).where(InstanceKey.name.startswith(PREFIX))):
        if row.name not in wanted:
            session.delete(row)
        elif row.value != wanted[row.name]:
            row.value = wanted.pop(row.name)
        else:
            wanted.pop(row.name)
    for name, value in wanted.items():
        session.add(InstanceKey(name=name, value=value))
    session.flush()


def settings(session: Session) -> OidcSettings | None:
    """What a sign-in needs from the kept section, or None while single sign-on is off. Reads
    only."""
    live = export(session)
    if live is None:
        return None
    sso = SsoDoc.model_validate(live)
    return OidcSettings(
        issuer=sso.issuer,
        client_id=sso.client_id,
        name=sso.name,
        client_secret_env=sso.client_secret_env,
        scopes=tuple(sso.scopes),
        create_users=sso.create_users,
        require_verified_email=sso.require_verified_email,
        roles=RoleMapping(
            claim=sso.roles.claim,
            map=dict(sso.roles.map),
            default=sso.roles.default,
            sync=sso.roles.sync,
        ),
    )
