"""Settings read from WARROOM_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'warroom.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    base_url: str
    secure_cookies: bool

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("WARROOM_DATABASE_URL") or default_database_url(),
            base_url=os.environ.get("WARROOM_BASE_URL", ""),
            secure_cookies=os.environ.get("WARROOM_SECURE_COOKIES", "") in ("1", "true", "yes"),
        )
