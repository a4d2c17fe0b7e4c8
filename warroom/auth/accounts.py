"""Accounts: tokens people can list and revoke, users admins can deactivate, passwords
people set themselves or through a one-time link, sign-in throttling, and the audit log.

Invariants:
- A token never acts above its user's current role (`auth.service.principal_for_token`
  takes the lower of the two); a deactivated user's tokens and web sessions act for
  nobody, and deactivating ends their sessions.
- Only admins list or revoke other people's tokens, (de)activate users, set another
  person's password or make a reset link; anyone may list and revoke their own tokens
  and change their own password. These checks live here, so the API, the CLI and the
  web pages cannot disagree.
- The last active admin cannot be deactivated or demoted by themselves here.
- A reset link works once, within RESET_LIFETIME, and only its hash is stored.
- Every action here, and every sign-in and failed sign-in, appends one audit entry;
  entries are never changed or deleted.
- After LOGIN_FAILURES failed sign-ins for one login name within LOGIN_WINDOW, sign-in
  for that name is refused, even with the right password, until the window has passed
  since the oldest of them. The count is read from the audit log, so it holds across
  server processes.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from warroom.auth.models import ApiToken, AuditEntry, PasswordReset, WebSession
from warroom.core.clock import Clock, ensure_utc, iso
from warroom.core.errors import Conflict, NotFound, ValidationFailed
from warroom.core.principal import Principal, require_role
from warroom.core.security import hash_token, verify_password
from warroom.org.models import User
from warroom.org.service import set_password, user_by_name

RESET_LIFETIME = timedelta(hours=24)
LOGIN_FAILURES = 5
LOGIN_WINDOW = timedelta(minutes=15)
MAX_AUDIT_PAGE = 500


# --- audit ------------------------------------------------------------------------------


def audit(
    session: Session,
    clock: Clock,
    actor: Principal | str,
    action: str,
    target: str = "",
    **detail: Any,
) -> None:
    """Appends one audit entry (in the caller's transaction): `actor` did `action` to
    `target`. `detail` must hold no secret."""
    name = actor if isinstance(actor, str) else actor.name
    actor_id = None if isinstance(actor, str) else actor.user_id
    session.add(
        AuditEntry(
            at=clock.now(),
            actor=name[:100],
            actor_id=actor_id,
            action=action,
            target=target[:200],
            detail=detail,
        )
    )


def list_audit(
    session: Session,
    principal: Principal,
    *,
    limit: int = 100,
    action: str | None = None,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """The newest audit entries first (`before_id` pages back). Needs the admin role
    (Forbidden, 403); ValidationFailed (422, field `limit`) outside 1-500. Reads only."""
    require_role(principal, "admin")
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise ValidationFailed(f"limit must be 1-{MAX_AUDIT_PAGE}", field="limit")
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        q = q.where(AuditEntry.action == action)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    return [
        {
            "id": e.id,
            "at": iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "detail": dict(e.detail or {}),
        }
        for e in session.scalars(q)
    ]


# --- sign-in throttling -----------------------------------------------------------------


def login_retry_after(session: Session, clock: Clock, login_name: str) -> int | None:
    """Seconds until `login_name` may try to sign in again, or None when it may now
    (see the module's invariants). Reads only."""
    now = clock.now()
    since = now - LOGIN_WINDOW
    rows = list(
        session.scalars(
            select(AuditEntry.at)
            .where(
                AuditEntry.action == "login.failed",
                AuditEntry.target == login_name.strip().lower()[:200],
                AuditEntry.at > since,
            )
            .order_by(AuditEntry.at.desc())
            .limit(LOGIN_FAILURES)
        )
    )
    if len(rows) < LOGIN_FAILURES:
        return None
    oldest = ensure_utc(rows[-1])
    return max(1, int((oldest + LOGIN_WINDOW - now).total_seconds()) + 1)


def login_failed(session: Session, clock: Clock, login_name: str, why: str) -> None:
    """Records a failed sign-in for `login_name` (counted by login_retry_after)."""
    audit(session, clock, "anonymous", "login.failed", login_name.strip().lower(), reason=why)


# --- tokens -----------------------------------------------------------------------------


def _token_dict(tok: ApiToken, user: str | None) -> dict[str, Any]:
    return {
        "id": tok.id,
        "name": tok.name,
        "role": tok.role,
        "user": user,
        "created_at": iso(tok.created_at),
        "revoked_at": iso(tok.revoked_at),
    }


def list_tokens(
    session: Session, principal: Principal, *, user: str | None = None, revoked: bool = False
) -> list[dict[str, Any]]:
    """Tokens, newest first, never their secrets: an admin sees everyone's (or `user`'s),
    anyone else only their own. Revoked ones only with `revoked`. Reads only."""
    require_role(principal, "viewer")
    q = (
        select(ApiToken, User.name)
        .outerjoin(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
    )
    if not principal.is_admin:
        if principal.user_id is None:
            return []
        q = q.where(ApiToken.user_id == principal.user_id)
    elif user:
        q = q.where(ApiToken.user_id == user_by_name(session, user).id)
    if not revoked:
        q = q.where(ApiToken.revoked_at.is_(None))
    return [_token_dict(tok, name) for tok, name in session.execute(q)]


def revoke_token(
    session: Session, clock: Clock, principal: Principal, token_id: int
) -> dict[str, Any]:
    """Revokes a token: it stops working at once. Admins revoke any token, others only
    their own (anyone else's is NotFound, 404, field `token`, as is an unknown id).
    Revoking a revoked token changes nothing. Audited."""
    require_role(principal, "viewer")
    tok = session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if tok is None or (not principal.is_admin and tok.user_id != principal.user_id):
        raise NotFound(f"no token {token_id}", field="token")
    if tok.revoked_at is None:
        tok.revoked_at = clock.now()
        audit(session, clock, principal, "token.revoked", f"token {tok.id}", name=tok.name)
    owner = session.get(User, tok.user_id) if tok.user_id else None
    return _token_dict(tok, owner.name if owner else None)


# --- users ------------------------------------------------------------------------------


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active)
        )
        or 0
    )


def set_active(
    session: Session, clock: Clock, principal: Principal, name: str, active: bool
) -> User:
    """Deactivates or reactivates a user. Needs the admin role (Forbidden, 403); NotFound
    (404, field `user`); Conflict (409, field `user`) for deactivating oneself or the
    last active admin. Deactivating ends the user's web sessions; their tokens stop
    acting (they are kept, so reactivating restores them). Audited."""
    require_role(principal, "admin")
    user = user_by_name(session, name)
    if user.active == active:
        return user
    if not active:
        if user.id == principal.user_id:
            raise Conflict("you cannot deactivate yourself", field="user")
        if user.role == "admin" and _active_admins(session) <= 1:
            raise Conflict(f"{user.name} is the last active admin", field="user")
        session.execute(
            WebSession.__table__.delete().where(WebSession.user_id == user.id)  # type: ignore[attr-defined]
        )
    user.active = active
    audit(
        session, clock, principal, "user.reactivated" if active else "user.deactivated", user.name
    )
    return user


def change_password(
    session: Session,
    clock: Clock,
    principal: Principal,
    name: str,
    new_password: str,
    *,
    current_password: str | None = None,
    keep_session: str | None = None,
) -> None:
    """Sets `name`'s password. An admin sets anyone's; others only their own, and a web
    form must also give `current_password` (checked when not None: Unauthorized-like
    ValidationFailed, 422, field `current_password`). ValidationFailed (422, field
    `password`) for fewer than 8 characters; NotFound (404, field `user`); Forbidden
    (403) for someone else's without the admin role. Ends the user's other web sessions
    (all but the one whose hash is `keep_session`). Audited, without the password."""
    require_role(principal, "viewer")
    user = user_by_name(session, name)
    if user.id != principal.user_id:
        require_role(principal, "admin")
    if current_password is not None and not verify_password(user.password_hash, current_password):
        raise ValidationFailed("the current password is not right", field="current_password")
    set_password(session, user, new_password)
    _end_sessions(session, user.id, keep_session)
    audit(session, clock, principal, "user.password_set", user.name)


def _end_sessions(session: Session, user_id: int, keep_hash: str | None) -> None:
    q = WebSession.__table__.delete().where(WebSession.user_id == user_id)  # type: ignore[attr-defined]
    if keep_hash:
        q = q.where(WebSession.session_hash != keep_hash)
    session.execute(q)


def make_reset_link(
    session: Session, clock: Clock, principal: Principal, name: str
) -> tuple[str, datetime]:
    """A one-time secret with which `name` sets a password at /password/reset/<secret>
    within RESET_LIFETIME; returns it (shown once) and its expiry. Earlier unused links
    of the user stop working. Needs the admin role (Forbidden, 403); NotFound (404,
    field `user`); Conflict (409, field `user`) for a deactivated user. Audited."""
    require_role(principal, "admin")
    user = user_by_name(session, name)
    if not user.active:
        raise Conflict(f"{user.name} is deactivated; reactivate them first", field="user")
    now = clock.now()
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    secret = secrets.token_urlsafe(32)
    expires = now + RESET_LIFETIME
    session.add(
        PasswordReset(
            token_hash=hash_token(secret),
            user_id=user.id,
            created_by=principal.name[:100],
            created_at=now,
            expires_at=expires,
        )
    )
    audit(session, clock, principal, "user.reset_link", user.name, expires_at=iso(expires))
    return secret, expires


def reset_user(session: Session, clock: Clock, secret: str) -> User | None:
    """The active user a live, unused reset link belongs to, else None. Reads only."""
    row = session.execute(
        select(PasswordReset, User)
        .join(User, User.id == PasswordReset.user_id)
        .where(PasswordReset.token_hash == hash_token(secret), PasswordReset.used_at.is_(None))
    ).first()
    if row is None:
        return None
    reset, user = row
    if ensure_utc(reset.expires_at) <= clock.now() or not user.active:
        return None
    return user


def use_reset_link(session: Session, clock: Clock, secret: str, new_password: str) -> User:
    """Sets the password of the reset link's user and uses the link up; ends the user's
    web sessions. ValidationFailed (422, field `password`) for a short password (the link
    stays usable), NotFound (404, field `link`) for an unknown, used or expired link.
    Audited."""
    user = reset_user(session, clock, secret)
    if user is None:
        raise NotFound("this reset link is unknown, used or expired; ask an admin", field="link")
    set_password(session, user, new_password)
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == hash_token(secret))
        .values(used_at=clock.now())
    )
    _end_sessions(session, user.id, None)
    audit(session, clock, user.name, "user.password_reset", user.name)
    return user
