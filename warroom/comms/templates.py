"""Default update templates and sandboxed rendering.

Templates see recorded facts only. A fact that is not recorded is a `Missing` value:
it renders as `[not recorded: <fact>]` and names itself in the render's warnings, so
an update never carries an invented value. Templates may test a fact with
`{% if mitigated_at %}` (a missing fact is false) to leave a sentence out instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

AUDIENCES = ("internal", "external")
MAX_OUTPUT = 20_000  # characters; a runaway loop stops here

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


_ENV = SandboxedEnvironment(
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
    "mitigated_at",
    "resolved_at",
)


def compile_problem(body: str) -> RenderError | None:
    """None if the template compiles and uses known facts only, else the error (with
    the line inside the body when there is one)."""
    try:
        ast = _ENV.parse(body)
    except TemplateSyntaxError as exc:
        return RenderError(f"template does not compile: {exc.message}", exc.lineno)
    unknown = sorted(meta.find_undeclared_variables(ast) - set(FACTS) - set(_ENV.globals))
    if unknown:
        return RenderError(
            f"unknown fact(s) {', '.join(unknown)}; templates may use {', '.join(FACTS)}"
        )
    return None


def render(name: str, audience: str, body: str, facts: dict[str, Any], source: str) -> Rendered:
    """Renders a body in the sandbox. `facts` may hold Missing values made with
    `facts["_seen"]`, the list that collects the names of placeholders rendered."""
    seen: list[str] = facts.get("_seen", [])
    try:
        template = _ENV.from_string(body)
        parts: list[str] = []
        size = 0
        for chunk in template.generate({k: v for k, v in facts.items() if k != "_seen"}):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderError(
                    f"template {name!r} renders more than {MAX_OUTPUT} characters; "
                    "an update should be short"
                )
        text = "".join(parts)
    except RenderError:
        raise
    except SecurityError as exc:
        raise RenderError(f"template {name!r} tried an unsafe operation: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise RenderError(f"template {name!r} does not compile: {exc.message}", exc.lineno) from exc
    except TemplateError as exc:
        raise RenderError(f"template {name!r} failed: {exc}") from exc
    except Exception as exc:  # a user template must never turn into a 500
        raise RenderError(f"template {name!r} failed: {type(exc).__name__}: {exc}") from exc
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return Rendered(name, audience, "\n".join(lines), source, [f"not recorded: {s}" for s in seen])
