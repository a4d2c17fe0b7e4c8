"""Who is acting: resolved from a bearer token or a web session."""

from __future__ import annotations

from dataclasses import dataclass

from warroom.core.errors import Forbidden
from warroom.core.security import role_allows


@dataclass(frozen=True)
class Principal:
    role: str
    user_id: int | None
    name: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can(self, need: str) -> bool:
        return role_allows(self.role, need)


SYSTEM = Principal(role="admin", user_id=None, name="warroom")


def require_role(principal: Principal, role: str) -> None:
    """Raises Forbidden (403) unless the principal holds `role` or a higher one."""
    if not principal.can(role):
        raise Forbidden(f"this action needs the {role} role; the token has {principal.role}")


def require_responder(principal: Principal) -> None:
    """Raises Forbidden (403) unless the principal may respond to incidents."""
    require_role(principal, "responder")
