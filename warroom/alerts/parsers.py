"""One parser per alert format, as pure functions over decoded JSON.

Each returns normalised events or raises `InvalidEvent` with a list of messages
naming the offending fields. No parser touches the store.

Every parser first refuses, naming the field, a body with a NUL character (U+0000) in any
string or key (PostgreSQL stores none) or nested deeper than `warroom.core.text.MAX_DEPTH`
levels (the store's JSON encoder recurses once per level): such a body never reaches the
store, so it is a 400, never a 500.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warroom.core.text import field_name, problem

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
KEY_LENGTH = 32
MAX_DEDUP = 255
MAX_SUMMARY = 1024


class InvalidEvent(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class NormalizedEvent:
    action: str  # trigger | acknowledge | resolve
    dedup_key: str
    summary: str = ""
    source: str = ""
    severity: str = "error"  # critical | error | warning | info
    timestamp: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    group: str | None = None


@dataclass
class ChangePayload:
    summary: str
    source: str = ""
    timestamp: datetime | None = None
    links: list[dict[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    kind: str = "deploy"
    service: str | None = None


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 to an aware UTC datetime; Go's zero time and junk give None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Go prints nanoseconds; Python takes microseconds.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        rest = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year < 1971:
        return None
    return parsed.astimezone(UTC)


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def _links(value: Any) -> list[dict[str, str]]:
    out = []
    if isinstance(value, list):
        for item in value[:20]:
            if isinstance(item, dict) and isinstance(item.get("href"), str):
                out.append({"href": item["href"], "text": str(item.get("text") or item["href"])})
    return out


def refuse_bad_text(body: Any) -> None:
    """Raises InvalidEvent naming the field for a NUL character in a string or key of the
    decoded body, or for nesting deeper than `warroom.core.text.MAX_DEPTH` levels."""
    found = problem(body)
    if found is not None:
        path, message = found
        raise InvalidEvent([f"'{field_name(path)}' {message}"])


def key_error(routing_key: Any, name: str = "routing_key") -> str | None:
    if not isinstance(routing_key, str) or not routing_key.strip():
        return f"'{name}' is missing or blank"
    if len(routing_key) != KEY_LENGTH:
        return f"Length of '{name}' is incorrect (should be {KEY_LENGTH} characters)"
    return None


# --- PagerDuty Events API v2 ----------------------------------------------------------


def parse_pagerduty(body: Any) -> tuple[str, NormalizedEvent]:
    """Returns (routing_key, event), following the Events API v2 validation rules."""
    refuse_bad_text(body)
    if not isinstance(body, dict):
        raise InvalidEvent(["Event object is not a JSON object"])
    errors: list[str] = []
    routing_key = body.get("routing_key")
    err = key_error(routing_key)
    if err:
        errors.append(err)
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        errors.append(
            "'event_action' is missing or invalid (must be one of: trigger, acknowledge, resolve)"
        )
    dedup = body.get("dedup_key")
    if dedup is not None and not isinstance(dedup, str):
        errors.append("'dedup_key' must be a string")
        dedup = None
    if isinstance(dedup, str) and len(dedup) > MAX_DEDUP:
        errors.append(f"'dedup_key' is longer than {MAX_DEDUP} characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append(f"'dedup_key' is required for event_action '{action}'")
    payload = body.get("payload")
    event = NormalizedEvent(action=str(action), dedup_key=dedup or uuid.uuid4().hex)
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            summary, source, severity = (
                payload.get("summary"),
                payload.get("source"),
                payload.get("severity"),
            )
            if not isinstance(summary, str) or not summary.strip():
                errors.append("'payload.summary' is missing or blank")
            if not isinstance(source, str) or not source.strip():
                errors.append("'payload.source' is missing or blank")
            if severity not in PD_SEVERITIES:
                errors.append(
                    "'payload.severity' is missing or invalid "
                    "(must be one of: critical, error, warning, info)"
                )
            ts = payload.get("timestamp")
            if ts is not None and parse_time(ts) is None:
                errors.append("'payload.timestamp' is not an ISO-8601 timestamp")
            details = payload.get("custom_details")
            if details is not None and not isinstance(details, (dict, str)):
                errors.append("'payload.custom_details' must be an object")
            if not errors:
                event.summary = str(summary)[:MAX_SUMMARY]
                event.source = str(source)[:255]
                event.severity = str(severity)
                event.timestamp = parse_time(ts)
                labels = {
                    k: str(payload[k]) for k in ("component", "group", "class") if payload.get(k)
                }
                event.labels = labels
                event.group = labels.get("group")
                if isinstance(details, dict):
                    event.details = details
                elif isinstance(details, str):
                    event.details = {"details": details}
                event.links = _links(body.get("links"))
                for image in body.get("images") or []:
                    if isinstance(image, dict) and isinstance(image.get("href"), str):
                        event.links.append({"href": image["href"], "text": "image"})
                if isinstance(body.get("client_url"), str):
                    event.links.append(
                        {"href": body["client_url"], "text": str(body.get("client") or "source")}
                    )
    if errors:
        raise InvalidEvent(errors)
    return str(routing_key), event


def parse_pagerduty_change(body: Any) -> tuple[str, ChangePayload]:
    refuse_bad_text(body)
    if not isinstance(body, dict):
        raise InvalidEvent(["Event object is not a JSON object"])
    errors: list[str] = []
    routing_key = body.get("routing_key")
    err = key_error(routing_key)
    if err:
        errors.append(err)
    payload = body.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object")
        raise InvalidEvent(errors)
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    ts = payload.get("timestamp")
    if ts is not None and parse_time(ts) is None:
        errors.append("'payload.timestamp' is not an ISO-8601 timestamp")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        errors.append("'payload.custom_details' must be an object")
    if errors:
        raise InvalidEvent(errors)
    details = details or {}
    kind = details.get("change_type") if isinstance(details.get("change_type"), str) else "deploy"
    return str(routing_key), ChangePayload(
        summary=str(summary)[:MAX_SUMMARY],
        source=str(payload.get("source") or "")[:255],
        timestamp=parse_time(ts),
        links=_links(body.get("links")),
        details=details,
        kind=kind if kind in ("deploy", "config", "feature_flag", "other") else "other",
    )


# --- Prometheus Alertmanager (webhook payload version 4) and Grafana ---------------------

AM_SEVERITY = {
    "critical": "critical",
    "page": "critical",
    "high": "error",
    "error": "error",
    "major": "error",
    "warning": "warning",
    "warn": "warning",
    "minor": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
}


def fingerprint(labels: dict[str, str]) -> str:
    raw = "\x00".join(f"{k}\x01{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class GroupedPayload:
    events: list[NormalizedEvent]
    group_key: str | None
    truncated: int
    receiver: str = ""


def parse_alertmanager(body: Any, *, grafana: bool = False) -> GroupedPayload:
    refuse_bad_text(body)
    if not isinstance(body, dict):
        raise InvalidEvent(["body must be a JSON object"])
    if grafana and "alerts" not in body and "ruleName" in body:
        return _parse_grafana_legacy(body)
    alerts = body.get("alerts")
    errors: list[str] = []
    if not isinstance(alerts, list):
        raise InvalidEvent(["'alerts' is missing or not a list"])
    version = body.get("version")
    if not grafana and version is not None and str(version) != "4":
        errors.append(f"'version' {version!r} is not supported (expected \"4\")")
    truncated = body.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        errors.append("'truncatedAlerts' must be a non-negative integer")
        truncated = 0
    group_key = body.get("groupKey") if isinstance(body.get("groupKey"), str) else None
    common = _str_map(body.get("commonLabels"))
    external = body.get("externalURL") if isinstance(body.get("externalURL"), str) else None
    events = []
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            errors.append(f"'alerts[{i}]' is not an object")
            continue
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            errors.append(f"'alerts[{i}].status' must be 'firing' or 'resolved'")
            continue
        labels = _str_map(alert.get("labels")) or dict(common)
        if not labels:
            errors.append(f"'alerts[{i}].labels' is missing or empty")
            continue
        annotations = _str_map(alert.get("annotations"))
        fp = alert.get("fingerprint")
        dedup = fp if isinstance(fp, str) and fp else fingerprint(labels)
        summary = (
            annotations.get("summary")
            or annotations.get("title")
            or annotations.get("description")
            or labels.get("alertname")
            or "alert"
        )
        links = []
        for key, text in (
            ("generatorURL", "source"),
            ("dashboardURL", "dashboard"),
            ("panelURL", "panel"),
            ("silenceURL", "silence"),
        ):
            if isinstance(alert.get(key), str) and alert[key]:
                links.append({"href": alert[key], "text": text})
        for key in ("runbook_url", "runbook", "dashboard", "dashboard_url"):
            if annotations.get(key):
                links.append({"href": annotations[key], "text": key.split("_")[0]})
        details: dict[str, Any] = {}
        if grafana and isinstance(alert.get("valueString"), str):
            details["value"] = alert["valueString"]
        if external:
            details["external_url"] = external
        events.append(
            NormalizedEvent(
                action="trigger" if status == "firing" else "resolve",
                dedup_key=dedup[:MAX_DEDUP],
                summary=summary[:MAX_SUMMARY],
                source=labels.get("instance")
                or labels.get("job")
                or ("grafana" if grafana else "alertmanager"),
                severity=AM_SEVERITY.get(labels.get("severity", "").lower(), "error"),
                timestamp=parse_time(alert.get("startsAt")),
                labels=labels,
                annotations=annotations,
                links=links,
                details=details,
                group=group_key,
            )
        )
    if errors:
        raise InvalidEvent(errors)
    receiver = body.get("receiver") if isinstance(body.get("receiver"), str) else ""
    return GroupedPayload(events, group_key, int(truncated), receiver or "")


def _parse_grafana_legacy(body: dict[str, Any]) -> GroupedPayload:
    state = body.get("state")
    if state not in ("alerting", "ok", "no_data", "pending", "paused"):
        raise InvalidEvent(["'state' must be one of alerting, ok, no_data, pending, paused"])
    rule = str(body.get("ruleName") or "")
    if not rule:
        raise InvalidEvent(["'ruleName' is missing or blank"])
    if state in ("pending", "paused"):
        return GroupedPayload([], None, 0)
    dedup = str(body.get("ruleId") or rule)
    tags = _str_map(body.get("tags"))
    links = (
        [{"href": body["ruleUrl"], "text": "rule"}] if isinstance(body.get("ruleUrl"), str) else []
    )
    event = NormalizedEvent(
        action="resolve" if state == "ok" else "trigger",
        dedup_key=f"grafana-rule-{dedup}"[:MAX_DEDUP],
        summary=(str(body.get("title") or rule))[:MAX_SUMMARY],
        source="grafana",
        severity=AM_SEVERITY.get(tags.get("severity", "").lower(), "error"),
        labels={"alertname": rule, **tags},
        annotations={"message": str(body.get("message") or "")},
        links=links,
    )
    return GroupedPayload([event], None, 0)


# --- Generic JSON webhook with a field mapping ------------------------------------------

DEFAULT_MAPPING = {
    "title": "title",
    "dedup_key": "id",
    "severity": "severity",
    "status": "status",
}
RESOLVED_VALUES = ("resolved", "ok", "closed", "recovered", "resolve")
ACK_VALUES = ("acknowledged", "ack", "acknowledge")


def dig(body: Any, path: str) -> Any:
    cur = body
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def parse_webhook(body: Any, mapping: dict[str, Any]) -> NormalizedEvent:
    refuse_bad_text(body)
    if not isinstance(body, dict):
        raise InvalidEvent(["body must be a JSON object"])
    m = {**DEFAULT_MAPPING, **{k: v for k, v in mapping.items() if isinstance(v, str)}}
    title = dig(body, m["title"])
    if not isinstance(title, (str, int, float)) or not str(title).strip():
        raise InvalidEvent([f"field '{m['title']}' (the title) is missing or blank"])
    dedup = dig(body, m["dedup_key"])
    dedup_key = str(dedup) if isinstance(dedup, (str, int)) and str(dedup) else None
    status = str(dig(body, m["status"]) or "").lower()
    resolved = [str(v).lower() for v in mapping.get("resolved_values") or RESOLVED_VALUES]
    acked = [str(v).lower() for v in mapping.get("acknowledged_values") or ACK_VALUES]
    action = "resolve" if status in resolved else "acknowledge" if status in acked else "trigger"
    if action != "trigger" and not dedup_key:
        raise InvalidEvent([f"field '{m['dedup_key']}' (the dedup key) is needed to {action}"])
    raw_sev = str(dig(body, m["severity"]) or "").lower()
    raw_map = mapping.get("severity_map")
    sev_map: dict[str, Any] = raw_map if isinstance(raw_map, dict) else {}
    severity = str(sev_map.get(raw_sev) or AM_SEVERITY.get(raw_sev, "error"))
    labels_path = mapping.get("labels")
    labels = _str_map(dig(body, labels_path)) if isinstance(labels_path, str) else {}
    return NormalizedEvent(
        action=action,
        dedup_key=(dedup_key or hashlib.sha256(str(title).encode()).hexdigest()[:16])[:MAX_DEDUP],
        summary=str(title)[:MAX_SUMMARY],
        source=str(dig(body, str(mapping.get("source", "source"))) or "webhook")[:255],
        severity=severity if severity in PD_SEVERITIES else "error",
        labels=labels,
        details={"body": body} if len(str(body)) < 8000 else {},
    )
