"""Who is acting: resolved from a bearer token or a web session."""

from __future__ import annotations

from dataclasses import dataclass

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
