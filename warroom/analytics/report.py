"""The operational review: a summary (queries.summary's form) rendered as Markdown, HTML or
JSON.

Invariants:
- Pure: renders only what the summary holds, so the CLI, the web and a scheduled delivery
  show the same figures for the same range.
- Every figure is labelled with what it measures (docs/analytics.md); a figure without
  data reads "no data", never 0.
- HTML escapes every value from the store and is a standalone document with no script.
"""

from __future__ import annotations

import html
import json
from typing import Any

from warroom.analytics.rules import METRIC_LABELS, PHASE_LABELS

FORMATS = ("markdown", "html", "json")
RATE_LABELS = {
    "customer_detected_rate": "Customer-detected rate",
    "postmortem_completion_rate": "Postmortem completion (required, published)",
    "postmortem_on_time_rate": "Postmortems published by their due time",
    "action_item_completion_rate": "Action items done within 30 days",
    "repeat_rate": "Repeats (marked as a repeat of an earlier incident)",
}


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "no data"
    if isinstance(value, float):
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return f"{text}{unit}"
    return f"{value}{unit}"


def _met(value: bool | None) -> str:
    return {True: "met", False: "missed", None: "-"}[value]


def _target(minutes: float | None) -> str:
    return "-" if minutes is None else f"< {_num(minutes)} min"


def sections(summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Returns the review's tables as (title, headers, rows of text): the metrics, the rates,
    and the breakdowns by severity, service, team and detection source."""
    out: list[tuple[str, list[str], list[list[str]]]] = []
    rows = []
    for key, m in summary["metrics"].items():
        rows.append(
            [
                f"{key.upper()} ({METRIC_LABELS[key].lower()})",
                str(m["n"]),
                _num(m["mean_minutes"]),
                _num(m["median_minutes"]),
                _num(m["p90_minutes"]),
                _target(m["target_minutes"]),
                _met(m["met"]),
            ]
        )
    out.append(
        ("Response times (minutes)", ["metric", "n", "mean", "median", "p90", "target", ""], rows)
    )
    rates = []
    for key, label in RATE_LABELS.items():
        r = summary["rates"].get(key)
        if r is None:
            continue
        rates.append(
            [
                label,
                _num(r["percent"], "%"),
                f"{r['part']} of {r['whole']}",
                r["target"] or "-",
                _met(r["met"]),
            ]
        )
    if "action_items_overdue" in summary["rates"]:
        rates.append(
            ["Action items overdue now", str(summary["rates"]["action_items_overdue"]), "", "", ""]
        )
    out.append(("Rates", ["", "value", "of", "target", ""], rates))
    sev_rows = []
    for row in summary["by_severity"]:
        m = row["metrics"]
        sev_rows.append(
            [
                row["severity"],
                str(row["count"]),
                f"{_num(m['mtta']['median_minutes'])} ({_met(m['mtta']['met'])})",
                f"{_num(m['mttm']['median_minutes'])} ({_met(m['mttm']['met'])})",
                f"{_num(m['mttr']['median_minutes'])} ({_met(m['mttr']['met'])})",
            ]
        )
    out.append(
        (
            "By severity (medians in minutes; met or missed judges the mean)",
            ["severity", "incidents", "MTTA", "MTTM", "MTTR"],
            sev_rows,
        )
    )
    phase_rows = []
    for row in summary["by_severity"]:
        ph = row.get("phases") or {}
        cells = [row["severity"]]
        for key in PHASE_LABELS:
            p = ph.get(key)
            if p is None:
                cells.append("-")
                continue
            cells.append(
                f"{_num(p['mean_minutes'])} / {_target(p['target_minutes'])} ({_met(p['met'])})"
            )
        phase_rows.append(cells)
    out.append(
        (
            "Phase durations by severity (mean / target in minutes)",
            ["severity", *(label.lower() for label in PHASE_LABELS.values())],
            phase_rows,
        )
    )
    out.append(
        (
            "By service",
            ["service", "incidents", "MTBF (hours)"],
            [[r["service"], str(r["count"]), _num(r["mtbf_hours"])] for r in summary["by_service"]],
        )
    )
    out.append(
        (
            "By team",
            ["team", "incidents"],
            [[r["team"], str(r["count"])] for r in summary["by_team"]],
        )
    )
    out.append(
        (
            "By detection source",
            ["source", "incidents"],
            [[r["detection_source"], str(r["count"])] for r in summary["by_detection_source"]],
        )
    )
    return out


def _headline(summary: dict[str, Any], title: str) -> list[str]:
    lines = [
        f"{summary['incident_count']} incidents declared from {summary['from']} to "
        f"{summary['to']} (drills left out: {summary['drills_left_out']})."
    ]
    if summary.get("not_measured"):
        lines.append("Not measured: " + ", ".join(summary["not_measured"]) + ".")
    return [title, *lines]


def markdown(summary: dict[str, Any], title: str = "Operational review") -> str:
    """Returns the review as Markdown: a headline, then one table per section."""
    head = _headline(summary, title)
    parts = [f"# {head[0]}", "", *head[1:], ""]
    for name, headers, rows in sections(summary):
        parts += [f"## {name}", ""]
        if not rows:
            parts += ["None.", ""]
            continue
        parts.append("| " + " | ".join(headers) + " |")
        parts.append("|" + "---|" * len(headers))
        for row in rows:
            parts.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        parts.append("")
    return "\n".join(parts)


def html_document(summary: dict[str, Any], title: str = "Operational review") -> str:
    """Returns the review as a standalone HTML document (no script, every value escaped)."""
    esc = html.escape
    head = _headline(summary, title)
    body = [f"<h1>{esc(head[0])}</h1>", *[f"<p>{esc(line)}</p>" for line in head[1:]]]
    for name, headers, rows in sections(summary):
        body.append(f"<h2>{esc(name)}</h2>")
        if not rows:
            body.append("<p>None.</p>")
            continue
        body.append("<table><thead><tr>")
        body += [f"<th>{esc(h)}</th>" for h in headers]
        body.append("</tr></thead><tbody>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        body.append("</tbody></table>")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
        "text-align:left}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def render(summary: dict[str, Any], fmt: str, title: str = "Operational review") -> str:
    """Returns the review in `fmt` (markdown, html or json: the summary itself). Raises
    KeyError for another format."""
    if fmt == "json":
        return json.dumps(summary, indent=2, sort_keys=False) + "\n"
    if fmt == "markdown":
        return markdown(summary, title)
    if fmt == "html":
        return html_document(summary, title)
    raise KeyError(fmt)
