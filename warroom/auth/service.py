"""Bearer tokens for the API and CLI; password login and sessions for the web."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.auth import accounts
from warroom.auth.models import ApiToken, WebSession
from warroom.core.clock import Clock
from warroom.core.errors import TooManyRequests, Unauthorized, ValidationFailed
from warroom.core.principal import Principal
from warroom.core.security import (
    ROLE_RANK,
    ROLES,
    hash_password,
    hash_token,
    new_token,
    verify_password,
)
from warroom.org.models import User

SESSION_LIFETIME = timedelta(hours=12)


def create_token(
    session: Session, clock: Clock, *, role: str, user: User | None = None, name: str = ""
) -> str:
    """Creates an API token with `role` (for `user` if given) and returns its secret, shown once.
    Raises ValidationFailed (422, field `role`) for an unknown role. Checks no role itself and does
    not cap the token's role at its user's (the admin API and the CLI decide); stored hashed, in
    the caller's transaction."""
    if role not in ROLES:
        raise ValidationFailed(
            f"role must be one of {', '.join(ROLES)}", field="role", allowed=list(ROLES)
        )
    token = new_token()
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            name=name,
            role=role,
            user_id=user.id if user else None,
            created_at=clock.now(),
        )
    )
    session.flush()
    return token


def principal_for_token(session: Session, token: str) -> Principal:
    """Returns who a bearer token acts as: its role, and its user's id and name (else its name).
    Raises Unauthorized (401) for an unknown or revoked token or a deactivated user. The role
    is the token's, or its user's current one when that is lower. Reads only."""
    row = session.execute(
        select(ApiToken, User)
        .outerjoin(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        raise Unauthorized("the bearer token is not valid")
    tok, user = row
    if user is not None and not user.active:
        raise Unauthorized("the token's user is deactivated")
    name = user.name if user else (tok.name or f"token-{tok.id}")
    role = tok.role
    if user is not None and ROLE_RANK.get(user.role, -1) < ROLE_RANK.get(role, -1):
        role = user.role  # a token never acts above its user's current role
    return Principal(role=role, user_id=user.id if user else None, name=name)


# Verified against when the user is unknown, so that a wrong name takes as long as a
# wrong password (user names cannot be found by timing).
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def login(session: Session, clock: Clock, login_name: str, password: str) -> tuple[str, str]:
    """Returns (session secret for the cookie, CSRF token). Raises TooManyRequests (429)
    while the login name is throttled (`accounts.login_retry_after`), even for the right
    password, and Unauthorized (401) for an unknown user, a deactivated one or a wrong
    password, after the same argon2 work in every case. The caller records a failure
    with `accounts.login_failed` in a transaction of its own (this one rolls back).
    A sign-in is audited."""
    wait = accounts.login_retry_after(session, clock, login_name)
    if wait is not None:
        raise TooManyRequests(
            f"too many failed sign-ins for {login_name!r}; try again in {wait} s",
            retry_after=wait,
            field="login",
        )
    user = session.scalar(
        select(User).where((User.name == login_name) | (User.email == login_name))
    )
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not user.active or not ok or not user.password_hash:
        raise Unauthorized("unknown user or wrong password")
    accounts.audit(session, clock, Principal(user.role, user.id, user.name), "login", user.name)
    return start_session(session, clock, user)


def principal_for_session(
    session: Session, clock: Clock, secret: str
) -> tuple[Principal, str] | None:
    """Returns the principal and CSRF token of a live web session, or None if unknown or expired.
    Also None for a deactivated user; the role is the user's current one. Reads only."""
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.session_hash == hash_token(secret))
    ).first()
    if row is None:
        return None
    web, user = row
    if web.expires_at <= clock.now() or not user.active:
        return None
    return Principal(role=user.role, user_id=user.id, name=user.name), web.csrf_token


def logout(session: Session, secret: str) -> None:
    """Ends the web session with this secret; an unknown secret changes nothing (idempotent)."""
    web = session.scalar(select(WebSession).where(WebSession.session_hash == hash_token(secret)))
    if web is not None:
        session.delete(web)


def start_session(session: Session, clock: Clock, user: User) -> tuple[str, str]:
    """Opens a web session for `user` (`login` calls it once the password is right) and returns
    (session secret for the cookie, CSRF token). For sign-ins that proved who the user is
    elsewhere (single sign-on: the caller verified the provider's ID token). Raises Unauthorized
    (401) for a deactivated user. Checks no credentials and no role; runs in the caller's
    transaction."""
    if not user.active:
        raise Unauthorized("the user is deactivated")
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        WebSession(
            session_hash=hash_token(secret),
            csrf_token=csrf,
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return secret, csrf
