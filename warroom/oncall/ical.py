"""iCalendar (RFC 5545) feeds of on-call shifts, for calendar programs, with the dated
items other domains provide to a person's feed (`feeds.FeedItem`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from icalendar import Calendar, Event

from warroom.oncall import feeds, rules


def feed(
    title: str,
    spans: list[tuple[str, rules.Span]],
    stamp: datetime,
    host: str = "warroom",
    items: Sequence[feeds.FeedItem] = (),
) -> bytes:
    """One VEVENT per on-call span (times in UTC), then one per provided item. UIDs are
    stable for a given span (and item), so a calendar that refreshes updates events
    instead of duplicating them."""
    cal = Calendar()
    cal.add("prodid", "-//warroom//on-call//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", title)
    cal.add("x-published-ttl", "PT1H")
    for schedule, span in spans:
        ev = Event()
        level = rules.level_name(span.level)
        uid_parts = [schedule, str(span.level), span.user, span.start.strftime("%Y%m%dT%H%M%SZ")]
        ev.add("uid", "-".join(uid_parts) + f"@{host}")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", span.start)
        ev.add("dtend", span.end)
        summary = f"On call: {span.user} ({schedule}, {level})"
        if span.override is not None:
            summary += " [override]"
        ev.add("summary", summary)
        lines = [f"Schedule: {schedule}", f"Level: {level}"]
        if span.layer:
            lines.append(f"Layer: {span.layer}")
        if span.covering:
            lines.append(f"Covering for: {span.covering}")
        ev.add("description", "\n".join(lines))
        ev.add("transp", "TRANSPARENT")
        ev.add("categories", ["on-call"])
        cal.add_component(ev)
    for item in items:
        ev = Event()
        ev.add("uid", f"{item.uid}@{host}")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", item.start)
        ev.add("dtend", item.end)
        ev.add("summary", item.summary)
        if item.description:
            ev.add("description", item.description)
        if item.url:
            ev.add("url", item.url)
        ev.add("transp", "TRANSPARENT")
        if item.categories:
            ev.add("categories", list(item.categories))
        cal.add_component(ev)
    return bytes(cal.to_ical())
