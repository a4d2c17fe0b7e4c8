"""Secrets: API tokens (stored as SHA-256), passwords (argon2), CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "responder", "admin")
ROLE_RANK = {name: i for i, name in enumerate(ROLES)}

_hasher = PasswordHasher()


def new_token() -> str:
    return "wr_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def constant_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def role_allows(have: str, need: str) -> bool:
    return ROLE_RANK.get(have, -1) >= ROLE_RANK[need]
