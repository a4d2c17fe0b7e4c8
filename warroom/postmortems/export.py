"""Exporting a postmortem: one Markdown document, and a printable HTML page.

Invariants:
- The export is the document as stored (placeholders stay visible); it reads only.
- The HTML page renders the Markdown with raw HTML disabled and unsafe link schemes
  refused (markdown-it's CommonMark with `html` off), so a section cannot inject
  markup or script; the page carries no script at all.
"""

from __future__ import annotations

import html
from typing import Any

from markdown_it import MarkdownIt

from warroom.postmortems import rules

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

SECTIONS = (
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("timeline", "Timeline"),
    ("phases", "Phase durations"),
)
LATER = (
    ("went_well", "What went well"),
    ("went_wrong", "What went wrong"),
    ("lucky", "Where we got lucky"),
)


def markdown(d: dict[str, Any]) -> str:
    """The postmortem (its `queries.detail` form) as one Markdown document."""
    c = d["content"]
    inc = d["incident"]
    out = [
        f"# {c.get('title') or 'Postmortem: ' + inc['id']}",
        "",
        f"**Incident:** {inc['id']} {inc['title']}  ",
        f"**Severity:** {inc['severity']}  ",
        f"**Status:** {d['status']} (revision {d['revision']})  ",
        f"**Owner:** {d['owner'] or '[no owner]'}  ",
        f"**Due:** {d['due_at'] or '[no due date]'}",
        "",
    ]
    for key, title in SECTIONS:
        out += [f"## {title}", "", str(c.get(key, "")).strip() or "_(empty)_", ""]
    out += ["## Root cause", ""]
    whys = c.get("whys") or []
    if whys:
        out += ["### 5 Whys", ""]
        for n, w in enumerate(whys, 1):
            out += [f"{n}. **Why?** {w.get('why', '')}", f"   **Because:** {w.get('because', '')}"]
        out.append("")
    out += [str(c.get("root_cause", "")).strip() or "_(empty)_", ""]
    out += ["## Contributing factors", ""]
    for tag in c.get("factors") or []:
        out.append(f"- **{tag}**: {rules.PATTERNS.get(tag, '')}")
    if c.get("factors_text"):
        out += ["", str(c["factors_text"]).strip()]
    out.append("")
    for key, title in LATER:
        out += [f"## {title}", "", str(c.get(key, "")).strip() or "_(empty)_", ""]
    out += ["## Action items", ""]
    items = d.get("action_items") or []
    if items:
        out += ["| Priority | Action | Kind | Owner | Due | Status |", "|---|---|---|---|---|---|"]
        for i in items:
            cells = [
                i["priority"] or "-",
                i["title"],
                i["kind"],
                i["owner"] or "-",
                (i["due_at"] or "-")[:10],
                i["status"],
            ]
            out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    elif c.get("no_actions_reason"):
        out.append(f"No actions, because {c['no_actions_reason']}")
    else:
        out.append("_(none yet)_")
    out += ["", "## Lessons learned", "", str(c.get("lessons", "")).strip() or "_(empty)_", ""]
    return "\n".join(out)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; color: #111; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #999; padding: .2rem .5rem; }}
@media print {{ body {{ margin: 0; }} }}
</style></head>
<body>
{body}
</body></html>
"""


def render_markdown(text: str) -> str:
    """Markdown to safe HTML (raw HTML escaped, unsafe links refused)."""
    return str(_MD.render(text))


def html_page(d: dict[str, Any]) -> str:
    """The postmortem as a printable HTML page (no script)."""
    title = html.escape(str(d["content"].get("title") or d["incident"]["id"]))
    return PAGE.format(title=title, body=render_markdown(markdown(d)))
