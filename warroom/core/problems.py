"""Problems found in a document (config as code): where, as a path of keys and list
indexes, and what is wrong. Validation collects them all, so one run names every
mistake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Path_ = tuple[str | int, ...]


@dataclass
class Problem:
    path: Path_
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": list(self.path), "location": dotted(self.path), "message": self.message}


def dotted(path: Path_) -> str:
    """`schedules[0].layers[1].members`: a path as people read it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
