"""Default update templates and sandboxed rendering.

Templates see recorded facts only. A fact that is not recorded is a `Missing` value:
it renders as `[not recorded: <fact>]` and names itself in the render's warnings, so
an update never carries an invented value. Templates may test a fact with
`{% if mitigated_at %}` (a missing fact is false) to leave a sentence out instead.

Limits (a template from config must not freeze or balloon the server):
- Operators are bounded in the sandbox: `**` and `*` refuse to make a number over
  MAX_NUMBER_DIGITS digits, `*` and `+` refuse to build a string or sequence over
  MAX_SEQUENCE characters or items, `%` refuses a width or precision over MAX_SEQUENCE,
  `range()` stops at jinja's MAX_RANGE items. Intercepted operators are never folded at
  compile time, so `{{ 9**(9**7) }}` is refused, not computed while compiling.
- A template other than a shipped default compiles and renders in a child process with
  RENDER_SECONDS of time and RENDER_MEMORY_MB of address space beyond its start; it is
  killed when the time is up, so a runaway loop stops whatever it does. The child is a
  fork of a render host, a helper process that loads only this module (forking the
  threaded server itself would not be safe). At most RENDER_SLOTS such renders run at
  once per server process. (Where the platform cannot fork, the operator bounds alone.)
- Output stops at MAX_OUTPUT characters.
- Hitting a limit is a RenderError naming the limit: the caller's 422 (`template` on
  preview and post, `templates[N].body` on a config check, which renders each body once
  with every fact a placeholder), never a 500 and never a frozen server.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import re
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.runtime import Context
from jinja2.sandbox import MAX_RANGE, SandboxedEnvironment, SecurityError, safe_range

AUDIENCES = ("internal", "external")
MAX_OUTPUT = 20_000  # characters; a runaway loop stops here
MAX_SEQUENCE = 100_000  # characters or items one operator may build
MAX_NUMBER_DIGITS = 1_000  # digits of a number one operator may make
RENDER_SECONDS = 2.0  # a user template's compile and render, in its own process
RENDER_MEMORY_MB = 256  # memory a user template's render may take beyond its start
RENDER_SLOTS = 4  # user-template renders at once per server process

DEFAULTS: dict[str, tuple[str, str]] = {
    # name: (audience, body)
    "declaration": (
        "internal",
        """\
{{ id }} declared: {{ title }}
Severity: {{ severity }} ({{ severity_label }}). Status: {{ status }}.
Services: {{ services }}
Impact: {{ impact_summary }}
{% if affected_share %}Affected: {{ affected_share }}
{% endif %}Impact started: {{ started_at }}. Detected: {{ detected_at }}. \
Declared: {{ declared_at }}.
Incident Commander: {{ commander }}. Communications Lead: {{ comms_lead }}.
Channel: {{ channel }}{% if bridge_url %}. Bridge: {{ bridge_url }}{% endif %}
Next update: {{ next_update_at }}
{% if extra %}
{{ extra }}
{% endif %}""",
    ),
    "status": (
        "internal",
        """\
{{ id }} update ({{ severity }}, {{ status }}): {{ title }}
Impact: {{ impact_summary }}
Services: {{ services }}
Impact started {{ started_at }}; ongoing for {{ duration }}.
{% if mitigated_at %}Mitigated at {{ mitigated_at }}.
{% endif %}{% if extra %}{{ extra }}
{% endif %}IC: {{ commander }}. Comms: {{ comms_lead }}. Channel: {{ channel }}
Next update: {{ next_update_at }}
""",
    ),
    "resolution": (
        "internal",
        """\
{{ id }} resolved: {{ title }}
Severity: {{ severity }} ({{ severity_label }}). Services: {{ services }}
Impact: {{ impact_summary }}
Impact started {{ started_at }}, mitigated {{ mitigated_at }}, resolved {{ resolved_at }}.
Duration of impact: {{ duration }}.
Resolution: {{ resolution_summary }}
{% if extra %}{{ extra }}
{% endif %}A postmortem follows per the {{ severity }} policy.
""",
    ),
    "statuspage_investigating": (
        "external",
        """\
We are investigating a problem affecting {{ services }}. {{ impact_summary }}
{% if extra %}{{ extra }}
{% endif %}We will post the next update by {{ next_update_at }}.
""",
    ),
    "statuspage_identified": (
        "external",
        """\
We have identified the cause of the problem affecting {{ services }} and are working \
on a fix. {{ impact_summary }}
{% if extra %}{{ extra }}
{% endif %}We will post the next update by {{ next_update_at }}.
""",
    ),
    "statuspage_monitoring": (
        "external",
        """\
A fix is in place for the problem affecting {{ services }} and we are monitoring the \
results. The impact began at {{ started_at }} and was mitigated at {{ mitigated_at }}.
{% if extra %}{{ extra }}
{% endif %}We will post the next update by {{ next_update_at }}.
""",
    ),
    "statuspage_resolved": (
        "external",
        """\
This incident is resolved. {{ services }} was affected from {{ started_at }} to \
{{ resolved_at }} ({{ duration }}). {{ impact_summary }}
{% if extra %}{{ extra }}
{% endif %}We will publish a summary of what happened and what we are changing.
""",
    ),
    "customer_email": (
        "external",
        """\
Subject: [{{ status }}] {{ title }}

Hello,

{% if resolved_at %}From {{ started_at }} to {{ resolved_at }} ({{ duration }}), \
{{ services }} did not work as it should.{% else %}Since {{ started_at }} ({{ duration }} so \
far), {{ services }} has not been working as it should.{% endif %}
{{ impact_summary }}
{% if affected_share %}Share of customers affected: {{ affected_share }}.
{% endif %}
Current status: {{ status }}.
{% if extra %}
{{ extra }}
{% endif %}
{% if resolved_at %}We will send a summary of what happened and what we are changing.\
{% else %}We will write again by {{ next_update_at }}.{% endif %} We are sorry for the \
disruption.
""",
    ),
    "executive_summary": (
        "internal",
        """\
{{ id }}: {{ title }} ({{ severity }}, {{ severity_label }})
Status: {{ status }}
Customer impact: {{ impact_summary }}
{% if affected_share %}Affected: {{ affected_share }}
{% endif %}Services: {{ services }}
Duration: {{ duration }} (started {{ started_at }}, \
{% if resolved_at %}resolved {{ resolved_at }}{% else %}still open{% endif %})
Incident Commander: {{ commander }}
{% if extra %}{{ extra }}
{% endif %}{% if not resolved_at %}Next update: {{ next_update_at }}{% endif %}
""",
    ),
}
NAMES = tuple(DEFAULTS)


class Missing:
    """A fact that is not recorded: renders as a visible placeholder and warns."""

    def __init__(self, label: str, seen: list[str]) -> None:
        self.label = label
        self._seen = seen

    def __str__(self) -> str:
        if self.label not in self._seen:
            self._seen.append(self.label)
        return f"[not recorded: {self.label}]"

    def __bool__(self) -> bool:
        return False

    def __html__(self) -> str:
        return str(self)


class RenderError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Rendered:
    name: str
    audience: str
    text: str
    source: str  # "default" or a description of the config override
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.name,
            "audience": self.audience,
            "text": self.text,
            "source": self.source,
            "warnings": list(self.warnings),
        }


class LimitExceeded(Exception):
    """A template asked for more than the sandbox allows: an operator's result, a range,
    time or memory."""


_MAX_BITS = math.ceil(MAX_NUMBER_DIGITS * math.log2(10))
# A printf conversion's width and precision (`%-10.3f`, `%*d`); linear, no backtracking.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+)?)?")


def _int(value: Any) -> bool:
    return isinstance(value, int)


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _too_many_digits(operator: str) -> LimitExceeded:
    return LimitExceeded(
        f"`{operator}` would make a number of more than {MAX_NUMBER_DIGITS} digits"
    )


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Raises LimitExceeded if `left operator right` would make a number over
    MAX_NUMBER_DIGITS digits or a string or sequence over MAX_SEQUENCE; decides from the
    operands' sizes, without computing the result."""
    if operator == "**":
        big = _int(left) and _int(right) and right > 0 and abs(left) > 1
        # |left| >= 2: an exponent over _MAX_BITS is too big before any float arithmetic.
        if big and (right > _MAX_BITS or right * math.log2(abs(left)) > _MAX_BITS):
            raise _too_many_digits("**")
    elif operator == "*":
        for seq, times in ((left, right), (right, left)):
            size = _size(seq)
            if size is not None and _int(times) and size * times > MAX_SEQUENCE:
                what = "string" if isinstance(seq, str) else "sequence"
                raise LimitExceeded(
                    f"`*` would make a {what} of {size * times} "
                    f"{'characters' if what == 'string' else 'items'} (at most {MAX_SEQUENCE})"
                )
        if _int(left) and _int(right) and left.bit_length() + right.bit_length() > _MAX_BITS:
            raise _too_many_digits("*")
    elif operator == "+":
        a, b = _size(left), _size(right)
        if a is not None and b is not None and a + b > MAX_SEQUENCE:
            raise LimitExceeded(f"`+` would make a value of {a + b} (at most {MAX_SEQUENCE})")
    elif operator == "%" and isinstance(left, str):
        for m in _PRINTF.finditer(left):
            for part in m.groups():
                if part == "*" or (part and (len(part) > 6 or int(part) > MAX_SEQUENCE)):
                    raise LimitExceeded(
                        f"`%` formatting with a width or precision over {MAX_SEQUENCE}"
                    )


def _range(*args: int) -> range:
    try:
        return safe_range(*args)
    except OverflowError as exc:
        raise LimitExceeded(f"range() would have more than {MAX_RANGE} items") from exc


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with bounded operators (check_binop) and range()."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.globals["range"] = _range

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)


_ENV = BoundedSandbox(
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=False,
    trim_blocks=False,
)


FACTS = (
    "id",
    "title",
    "severity",
    "severity_label",
    "status",
    "services",
    "service_list",
    "impact_summary",
    "affected_share",
    "resolution_summary",
    "commander",
    "comms_lead",
    "duration",
    "duration_minutes",
    "next_update_at",
    "channel",
    "bridge_url",
    "customer_facing",
    "audience",
    "extra",
    "now",
    "started_at",
    "detected_at",
    "acknowledged_at",
    "declared_at",
    "ic_assigned_at",
    "mitigation_started_at",
    "mitigated_at",
    "customers_informed_at",
    "resolved_at",
)


def compile_problem(body: str) -> RenderError | None:
    """None if the template compiles, uses known facts only and stays within the limits
    when rendered once with every fact a placeholder, else the error (with the line
    inside the body when there is one). Only limits fail that trial render: other
    failures depend on the facts and show at preview."""
    try:
        ast = _ENV.parse(body)
    except TemplateSyntaxError as exc:
        return RenderError(f"template does not compile: {exc.message}", exc.lineno)
    except RecursionError:
        return RenderError("template does not compile: it is nested too deeply")
    unknown = sorted(meta.find_undeclared_variables(ast) - set(FACTS) - set(_ENV.globals))
    if unknown:
        return RenderError(
            f"unknown fact(s) {', '.join(unknown)}; templates may use {', '.join(FACTS)}"
        )
    seen: list[str] = []
    placeholders: dict[str, Any] = {name: Missing(name, seen) for name in FACTS}
    placeholders["_seen"] = seen
    outcome = _render_isolated(body, placeholders)
    if outcome[0] == "limit":
        return RenderError(f"template exceeds a limit: {outcome[1]}")
    return None


def render(name: str, audience: str, body: str, facts: dict[str, Any], source: str) -> Rendered:
    """Renders a body in the bounded sandbox; a body other than the shipped default of
    `name` renders in its own process under RENDER_SECONDS and RENDER_MEMORY_MB. `facts`
    may hold Missing values made with `facts["_seen"]`, the list that collects the names
    of placeholders rendered. Raises RenderError for a template that does not compile,
    fails, tries an unsafe operation, renders over MAX_OUTPUT or exceeds a limit."""
    seen: list[str] = facts.get("_seen", [])
    if DEFAULTS.get(name, ("", ""))[1] == body:
        outcome = _attempt(body, facts)  # shipped code: trusted, renders here
    else:
        outcome = _render_isolated(body, facts)
    kind = outcome[0]
    if kind != "ok":
        message, line = outcome[1], outcome[2]
        raise RenderError(f"template {name!r} {_PREFIX[kind]}{message}", line)
    text, rendered_seen = outcome[1], outcome[2]
    for label in rendered_seen:
        if label not in seen:
            seen.append(label)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return Rendered(name, audience, "\n".join(lines), source, [f"not recorded: {s}" for s in seen])


def render_shipped(name: str, body: str, facts: dict[str, Any]) -> Rendered:
    """Renders a template that ships in warroom's own code (never one from config or a
    user) here, in the bounded sandbox, with the same placeholders and warnings as
    `render`. Raises RenderError as `render` does."""
    outcome = _attempt(body, facts)
    if outcome[0] != "ok":
        raise RenderError(f"template {name!r} {_PREFIX[outcome[0]]}{outcome[1]}", outcome[2])
    seen: list[str] = facts.get("_seen", [])
    lines = [line.rstrip() for line in outcome[1].strip().splitlines()]
    return Rendered(
        name, "internal", "\n".join(lines), "default", [f"not recorded: {s}" for s in seen]
    )


_PREFIX = {
    "output": "",
    "limit": "exceeds a limit: ",
    "unsafe": "tried an unsafe operation: ",
    "syntax": "does not compile: ",
    "failed": "failed: ",
}
Outcome = tuple[Any, ...]  # ("ok", text, seen) or (kind, message, line)


def _attempt(body: str, facts: dict[str, Any]) -> Outcome:
    """Compiles and renders here; never raises: the outcome says what happened."""
    seen: list[str] = facts.get("_seen", [])
    try:
        template = _ENV.from_string(body)
        parts: list[str] = []
        size = 0
        for chunk in template.generate({k: v for k, v in facts.items() if k != "_seen"}):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                message = f"renders more than {MAX_OUTPUT} characters; an update should be short"
                return ("output", message, None)
        return ("ok", "".join(parts), list(seen))
    except LimitExceeded as exc:
        return ("limit", str(exc), None)
    except MemoryError:
        return _out_of_memory(RENDER_MEMORY_MB)
    except SecurityError as exc:
        return ("unsafe", str(exc), None)
    except TemplateSyntaxError as exc:
        return ("syntax", exc.message, exc.lineno)
    except TemplateError as exc:
        return ("failed", str(exc), None)
    except Exception as exc:  # a user template must never turn into a 500
        return ("failed", f"{type(exc).__name__}: {exc}", None)


_SLOTS = threading.BoundedSemaphore(RENDER_SLOTS)
_POOL_LOCK = threading.Lock()
_IDLE: list[_Host] = []
_POOL_PID = os.getpid()
# The host starts clean: this module, jinja and the standard library, not the server.
_HOST_BOOT = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from warroom.comms.templates import _host; _host()"
)


class _Host:
    """A helper process of this module only. Being single-threaded, it can fork safely:
    it forks one child per render, gives it RENDER_SECONDS and kills it when they are up."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOST_BOOT, json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )

    def render(self, body: str, facts: dict[str, Any]) -> Outcome:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        request = pickle.dumps((RENDER_SECONDS, RENDER_MEMORY_MB, body, facts))
        stdin.write(request)
        stdin.flush()
        # The host enforces the limit; this wait only guards against a host that is gone.
        ready, _, _ = select.select([stdout], [], [], RENDER_SECONDS + 30)
        line = stdout.readline() if ready else b""
        if not line:
            raise OSError("the template render host did not answer")
        return tuple(json.loads(line))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def _render_isolated(body: str, facts: dict[str, Any]) -> Outcome:
    """_attempt in a child process under the time and memory limits (in-process, with
    the operator bounds only, where the platform cannot fork)."""
    if not hasattr(os, "fork"):
        return _attempt(body, facts)
    global _POOL_PID
    with _SLOTS:
        for attempt in (1, 2):
            with _POOL_LOCK:
                if os.getpid() != _POOL_PID:  # this server process was forked: not our hosts
                    _IDLE.clear()
                    _POOL_PID = os.getpid()
                host = _IDLE.pop() if _IDLE else None
            host = host or _Host()
            try:
                outcome = host.render(body, facts)
            except (OSError, ValueError):  # the host is gone: once more with a new one
                host.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                host.close()
                raise
            with _POOL_LOCK:
                _IDLE.append(host)
            return outcome
    raise AssertionError("unreachable")


def _host() -> None:
    """The render host's loop: a pickled request on stdin, a JSON outcome line on stdout."""
    stdin, stdout = sys.stdin.buffer, sys.stdout
    while True:
        try:
            seconds, memory_mb, body, facts = pickle.load(stdin)
        except EOFError:
            return
        outcome = _render_in_child(seconds, memory_mb, body, facts)
        stdout.write(json.dumps(outcome) + "\n")
        stdout.flush()


def _render_in_child(seconds: float, memory_mb: int, body: str, facts: dict[str, Any]) -> Outcome:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: render, write the outcome, exit without cleanup
        code = 0
        try:
            os.close(read_fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)  # nothing may reach the host's answer pipe but the host
            _limit_memory(memory_mb)
            outcome = _attempt(body, facts)
            try:
                data = json.dumps(outcome).encode()
            except MemoryError:
                data = json.dumps(_out_of_memory(memory_mb)).encode()
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return ("limit", f"rendering took longer than {seconds:g} seconds", None)
            ready, _, _ = select.select([read_fd], [], [], left)
            if ready:
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if not chunks:
        return ("limit", f"rendering stopped without an answer (over {memory_mb} MB?)", None)
    return tuple(json.loads(b"".join(chunks)))


def _out_of_memory(memory_mb: int) -> Outcome:
    return ("limit", f"rendering needs more than {memory_mb} MB of memory", None)


def _limit_memory(memory_mb: int) -> None:
    """Caps this process's address space at its size now plus `memory_mb` (Linux); where
    that cannot be done the time limit still applies."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = used + memory_mb * 2**20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass
