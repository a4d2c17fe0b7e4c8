"""Label matchers (Alertmanager style), pure.

Invariants:
- Regex matchers (`=~`, `!~`) are anchored, as in Alertmanager: the pattern must match
  the whole label value (`service=~check.*` holds for `checkout`, not for `xcheckout`).
- Regexes run on RE2 (PyPI `google-re2`), as Alertmanager's do: matching takes time
  linear in the label value, whatever the pattern. `(a+)+b` cannot backtrack.
- A pattern RE2 cannot compile (backreferences such as `(a)\\1`, lookaround such as
  `(?=a)`, `\\Z`) is refused when a matcher is parsed, with a ValueError naming the
  pattern; callers turn it into a 422 naming their field.
- A pattern compiles once per process (an LRU cache), not once per alert.
- A stored regex matcher that RE2 refuses (written before RE2) never holds: a silence
  with one suppresses nothing and a routing rule with one routes nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

OPS = ("=", "!=", "=~", "!~")

_NAME_OP = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)")


def parse_matcher(text: str) -> dict[str, Any]:
    """`name=value`, `name!=value`, `name=~regex`, `name!~regex`. Raises ValueError for
    anything else and for a regex RE2 cannot compile."""
    # Hand-split rather than one backtracking regex over the whole text: linear time.
    stripped = text.strip()
    m = _NAME_OP.match(stripped)
    value = stripped[m.end() :].lstrip() if m else ""
    if not m or "\n" in value:
        raise ValueError(f"{text!r} is not a matcher (use name=value, name!=value, name=~regex)")
    name, op = m.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if op in ("=~", "!~"):
        _compile(value)
    return {"name": name, "op": op, "value": value}


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's 422, not a server log line
    return options


_OPTIONS = _options()


@lru_cache(maxsize=512)
def _compile(pattern: str) -> Any:
    """The RE2 program for a matcher's pattern (used with fullmatch: anchored at both
    ends); ValueError if RE2 refuses it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(
            f"{pattern!r} is not a regular expression warroom can match in linear time "
            f"(RE2 syntax; no backreferences or lookaround): {reason}"
        ) from exc


def check_pattern(pattern: str) -> None:
    """Raises ValueError (naming the pattern and RE2's reason) unless RE2 compiles it."""
    _compile(pattern)


def _holds(pattern: str, value: str) -> bool | None:
    try:
        return _compile(pattern).fullmatch(value) is not None
    except ValueError:
        return None


def matches(matchers: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    """All matchers must hold (an absent label counts as the empty string). Regexes are
    anchored and matched by RE2; one RE2 refuses never holds."""
    for m in matchers:
        value = labels.get(m["name"], "")
        op = m.get("op", "=")
        if op == "=" and value != m["value"]:
            return False
        if op == "!=" and value == m["value"]:
            return False
        if op in ("=~", "!~"):
            found = _holds(m["value"], value)
            if found is None or found != (op == "=~"):
                return False
    return True


def format_matcher(m: dict[str, Any]) -> str:
    return f"{m['name']}{m.get('op', '=')}{m['value']}"


SEVERITY_FOR_SOURCE = {"critical": "SEV-1", "error": "SEV-2", "warning": "SEV-3", "info": "SEV-4"}


def is_flapping(recent_fires: int, threshold: int) -> bool:
    """An alert whose key fired `threshold` times within the window (counting this
    one) is flapping: it resolved and fired again threshold-1 times."""
    return threshold > 0 and recent_fires >= threshold
