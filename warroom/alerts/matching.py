"""Label matchers (Alertmanager style), pure."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

OPS = ("=", "!=", "=~", "!~")


def parse_matcher(text: str) -> dict[str, Any]:
    """`name=value`, `name!=value`, `name=~regex`, `name!~regex`."""
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", text)
    if not m:
        raise ValueError(f"{text!r} is not a matcher (use name=value, name!=value, name=~regex)")
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if op in ("=~", "!~"):
        _compile(value)
    return {"name": name, "op": op, "value": value}


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc


def matches(matchers: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    """All matchers must hold (an absent label counts as the empty string)."""
    for m in matchers:
        value = labels.get(m["name"], "")
        op = m.get("op", "=")
        if op == "=" and value != m["value"]:
            return False
        if op == "!=" and value == m["value"]:
            return False
        if op == "=~" and not _compile(f"(?:{m['value']})").fullmatch(value):
            return False
        if op == "!~" and _compile(f"(?:{m['value']})").fullmatch(value):
            return False
    return True


def format_matcher(m: dict[str, Any]) -> str:
    return f"{m['name']}{m.get('op', '=')}{m['value']}"


SEVERITY_FOR_SOURCE = {"critical": "SEV-1", "error": "SEV-2", "warning": "SEV-3", "info": "SEV-4"}


def is_flapping(recent_fires: int, threshold: int) -> bool:
    """An alert whose key fired `threshold` times within the window (counting this
    one) is flapping: it resolved and fired again threshold-1 times."""
    return threshold > 0 and recent_fires >= threshold
