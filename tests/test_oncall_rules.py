"""Schedule expansion (pure): rotations, layers, restrictions, overrides, daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.oncall import rules
from warroom.oncall.rules import (
    BUSINESS_HOURS,
    Layer,
    Override,
    Schedule,
    Window,
    health,
    layer_spans,
    localize,
    make_anchor,
    on_call_at,
    shifts_between,
    split_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
FIVE = ("alice", "bob", "carol", "dave", "erin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def weekly(name: str = "primary", members: tuple[str, ...] = FIVE, **kw: object) -> Layer:
    anchor = make_anchor(date(2026, 1, 5), str(kw.pop("handoff", "Monday 10:00")))
    return Layer(name, members, str(kw.pop("zone", "Europe/Berlin")), anchor, **kw)  # type: ignore[arg-type]


def test_weekly_rotation_hands_off_monday_10_local_and_secondary_is_offset() -> None:
    primary = weekly()
    secondary = weekly("secondary", offset=3, level=2)
    sched = Schedule("payments", (primary, secondary))
    t = utc(2026, 1, 7, 12)  # Wednesday of the first week
    assert [(s.level, s.user) for s in on_call_at(sched, t)] == [(1, "alice"), (2, "dave")]
    tl = shifts_between(sched, utc(2026, 1, 5), utc(2026, 2, 9))
    starts = [s.start for s in tl.final[1]]
    assert starts[1:] == [utc(2026, 1, 5, 9) + timedelta(weeks=k) for k in range(1, 5)]
    assert [s.user for s in tl.final[1]] == list(FIVE)
    assert [s.user for s in tl.final[2]][:3] == ["dave", "erin", "alice"]
    # Before the first handoff of a rotation nobody from it is on call.
    assert tl.gaps[1] == [(utc(2026, 1, 5), utc(2026, 1, 5, 9))]
    assert tl.final[1][0].start == utc(2026, 1, 5, 9)


def test_weekly_handoff_stays_at_10_local_across_both_dst_changes() -> None:
    sched = Schedule("payments", (weekly(),))
    tl = shifts_between(sched, utc(2026, 3, 16), utc(2026, 11, 3))
    starts = [s.start for s in tl.final[1]]
    assert utc(2026, 3, 23, 9) in starts  # 10:00 CET
    assert utc(2026, 3, 30, 8) in starts  # 10:00 CEST, after Berlin springs forward
    assert utc(2026, 10, 19, 8) in starts and utc(2026, 10, 26, 9) in starts  # and back
    assert {s.astimezone(BERLIN).strftime("%a %H:%M") for s in starts[1:]} == {"Mon 10:00"}
    lengths = {s.end - s.start for s in tl.final[1][1:-1]}
    assert lengths == {timedelta(hours=167), timedelta(hours=168), timedelta(hours=169)}
    # New York moves three weeks earlier: the same rotation there keeps 10:00 New York time.
    ny = weekly(zone="America/New_York")
    spans = shifts_between(Schedule("ny", (ny,)), utc(2026, 3, 2), utc(2026, 3, 17)).final[1]
    assert [s.start.astimezone(NEW_YORK).strftime("%H:%M") for s in spans[1:]] == ["10:00"] * 3
    assert spans[1].end - spans[1].start == timedelta(hours=167)


def test_shift_lengths_daily_custom_hours_and_days() -> None:
    assert rules.parse_shift("daily") == timedelta(days=1)
    assert rules.parse_shift("weekly") == timedelta(weeks=1)
    assert rules.parse_shift("12h") == timedelta(hours=12)
    assert rules.parse_shift("3 days") == timedelta(days=3)
    assert rules.parse_shift("2w") == timedelta(weeks=2)
    for bad in ("0h", "fortnightly", "30m", ""):
        with pytest.raises(ValueError):
            rules.parse_shift(bad)
    twelve = Layer("x", ("a", "b"), "UTC", datetime(2026, 1, 1, 8), timedelta(hours=12))
    spans = layer_spans(twelve, utc(2026, 1, 1), utc(2026, 1, 2, 12))
    assert [(s.start.hour, s.user) for s in spans] == [(8, "a"), (20, "b"), (8, "a")]


def test_handoff_and_days_parsing() -> None:
    assert rules.parse_handoff("Monday 10:00") == (0, time(10))
    assert rules.parse_handoff("fri 17:30") == (4, time(17, 30))
    assert rules.parse_handoff("09:00") == (None, time(9))
    assert make_anchor(date(2026, 1, 7), "Monday 10:00") == datetime(2026, 1, 12, 10)
    assert rules.parse_days("weekdays") == frozenset(range(5))
    assert rules.parse_days(["sat", "sun"]) == frozenset({5, 6})
    assert rules.parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    for bad in ("Moonday 10:00", "25:00", "10", "Monday 10:00 extra"):
        with pytest.raises(ValueError):
            rules.parse_handoff(bad)


def test_restrictions_business_hours_and_overnight_windows() -> None:
    layer = Layer(
        "biz",
        ("a",),
        "Europe/Berlin",
        datetime(2026, 1, 5, 0, 0),
        timedelta(weeks=1),
        windows=(BUSINESS_HOURS,),
    )
    spans = layer_spans(layer, utc(2026, 1, 5), utc(2026, 1, 12))
    assert len(spans) == 5  # Monday to Friday
    assert spans[0].start == utc(2026, 1, 5, 8) and spans[0].end == utc(2026, 1, 5, 16)
    night = Window(frozenset({4}), time(22), time(6))  # Friday night into Saturday
    layer2 = Layer("n", ("b",), "UTC", datetime(2026, 1, 5), timedelta(weeks=1), windows=(night,))
    [span] = layer_spans(layer2, utc(2026, 1, 5), utc(2026, 1, 12))
    assert (span.start, span.end) == (utc(2026, 1, 9, 22), utc(2026, 1, 10, 6))


def test_follow_the_sun_layers_cover_the_day_and_later_layers_win() -> None:
    def region(name: str, people: tuple[str, ...], zone: str, start: int, end: int) -> Layer:
        return Layer(
            name,
            people,
            zone,
            datetime(2026, 1, 5, start),
            timedelta(weeks=1),
            windows=(Window(frozenset(range(7)), time(start), time(end)),),
        )

    sched = Schedule(
        "platform",
        (
            region("apac", ("carol",), "Asia/Singapore", 7, 17),
            region("emea", ("dave", "alice"), "Europe/Lisbon", 7, 17),
            region("americas", ("erin", "bob"), "America/New_York", 11, 20),
        ),
    )
    # A whole year: winter, summer and the weeks where only one side has moved.
    tl = shifts_between(sched, utc(2026, 1, 12), utc(2027, 1, 11))
    assert tl.gaps[1] == []
    assert on_call_at(sched, utc(2026, 1, 14, 3))[0].user == "carol"
    assert on_call_at(sched, utc(2026, 1, 14, 12))[0].user == "alice"
    # 16:00 UTC: Lisbon's window (to 17:00) and New York's (from 11:00 = 16:00 UTC)
    # overlap; the later layer wins.
    assert on_call_at(sched, utc(2026, 1, 14, 16, 30))[0].layer == "americas"
    kinds = [w.kind for w in health(sched, utc(2026, 1, 12), utc(2026, 2, 9), tl=None)]
    assert kinds == ["burnout", "burnout", "burnout"]


def test_overrides_cover_a_person_or_take_a_level_and_fill_gaps() -> None:
    primary = weekly()
    secondary = weekly("secondary", offset=3, level=2)
    o1 = Override(utc(2026, 1, 6, 18), utc(2026, 1, 7, 6), "frank", covering="alice", id=1)
    o2 = Override(utc(2026, 1, 8, 0), utc(2026, 1, 8, 1), "grace", id=2)  # takes primary
    o3 = Override(utc(2026, 1, 5), utc(2026, 1, 5, 9), "heidi", id=3)  # fills the early gap
    sched = Schedule("s", (primary, secondary), (o1, o2, o3))
    at = on_call_at(sched, utc(2026, 1, 6, 20))
    assert [(s.user, s.override, s.covering) for s in at] == [
        ("frank", 1, "alice"),
        ("dave", None, None),
    ]
    assert [(s.user, s.covering) for s in on_call_at(sched, utc(2026, 1, 8, 0, 30))] == [
        ("grace", "alice"),
        ("dave", None),
    ]
    tl = shifts_between(sched, utc(2026, 1, 5), utc(2026, 1, 12))
    assert tl.gaps[1] == []
    assert tl.final[1][0].user == "heidi"


def test_health_reports_gaps_and_small_rotations() -> None:
    small = Layer(
        "biz",
        ("a", "b", "c"),
        "UTC",
        datetime(2026, 1, 5, 9),
        timedelta(days=1),
        windows=(BUSINESS_HOURS,),
    )
    out = health(Schedule("s", (small,)), utc(2026, 1, 5), utc(2026, 1, 12))
    assert [w.kind for w in out] == ["burnout", "gap"]
    assert "3 people" in out[0].message
    assert "nobody on call" in out[1].message
    assert health(Schedule("ok", (weekly(),)), utc(2026, 1, 6), utc(2026, 2, 6)) == []


def test_split_hours_weekday_off_hours_weekend_in_the_persons_zone() -> None:
    # Friday 00:00 UTC to Monday 00:00 UTC, seen from Berlin (winter, UTC+1).
    hours = split_hours(utc(2026, 1, 9), utc(2026, 1, 12), BERLIN)
    assert hours == {"weekday": 8.0, "off_hours": 16.0, "weekend": 48.0}
    assert sum(split_hours(utc(2026, 3, 28), utc(2026, 3, 30), BERLIN).values()) == 48.0


# --- daylight saving ------------------------------------------------------------------------

ZONES = st.sampled_from(["Europe/Berlin", "America/New_York"])
TRANSITIONS = [
    date(2026, 3, 8),  # New York springs forward
    date(2026, 3, 29),  # Berlin springs forward
    date(2026, 10, 25),  # Berlin falls back
    date(2026, 11, 1),  # New York falls back
    date(2027, 3, 14),
    date(2027, 3, 28),
    date(2027, 10, 31),
    date(2027, 11, 7),
]


@st.composite
def rotations(draw: st.DrawFn) -> tuple[Layer, datetime, datetime]:
    zone = draw(ZONES)
    # Handoffs at any quarter hour, including 02:xx (skipped in spring, repeated in autumn).
    at = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    shift = draw(st.sampled_from(["daily", "weekly", "2d", "3d", "12h", "8h", "6h"]))
    around = draw(st.sampled_from(TRANSITIONS))
    start = around - timedelta(days=draw(st.integers(0, 20)))
    members = tuple(f"u{i}" for i in range(draw(st.integers(1, 7))))
    layer = Layer(
        "l",
        members,
        zone,
        datetime.combine(start, at),
        rules.parse_shift(shift),
        offset=draw(st.integers(0, 6)),
    )
    begin = localize(datetime.combine(start, time(0)), ZoneInfo(zone)) + timedelta(
        hours=draw(st.integers(0, 48))
    )
    return layer, begin, begin + timedelta(days=draw(st.integers(1, 40)))


def exists(naive: datetime, tz: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


@settings(max_examples=300, deadline=None)
@given(rotations())
def test_handoffs_at_local_wall_clock_time_without_gap_or_overlap(
    case: tuple[Layer, datetime, datetime],
) -> None:
    layer, begin, end = case
    tz = layer.tz
    tl = shifts_between(Schedule("s", (layer,)), begin, end)
    first = rules.handoff(layer, 0)
    # No gap and no overlap: the shifts, and the final view, tile
    # [max(begin, first handoff), end) exactly.
    for covered in (tl.layers["l"], tl.final[1]):
        assert covered[0].start == max(begin, first)
        assert covered[-1].end == end
        for a, b in zip(covered, covered[1:], strict=False):
            assert a.end == b.start
    covered = tl.layers["l"]
    # Every handoff is at the configured wall-clock time, or, when that time does not
    # exist that day (spring forward), at the first instant after the skipped hour.
    boundaries = {rules.handoff(layer, n) for n in range(0, 200)}
    expected_time = layer.anchor.time()
    for n in range(0, 200):
        b = rules.handoff(layer, n)
        if not begin < b < end:
            continue
        wall = layer.anchor + n * layer.step
        local = b.astimezone(tz)
        if exists(wall, tz):
            assert local.replace(tzinfo=None) == wall
            assert local.fold == 0  # the first of a repeated hour
            if layer.step % timedelta(days=1) == timedelta(0):
                assert local.time() == expected_time
        else:
            assert (b - timedelta(seconds=1)).astimezone(tz).utcoffset() != local.utcoffset()
            assert local.replace(tzinfo=None) > wall
    # Each member's turn is exactly one shift: the person changes at every boundary.
    for s in covered:
        n = rules.shift_index(layer, s.start)
        assert n is not None and s.user == rules.member(layer, n)
        assert s.end <= rules.handoff(layer, n + 1) and s.start >= rules.handoff(layer, n)
    assert boundaries


@settings(max_examples=200, deadline=None)
@given(
    ZONES,
    st.sampled_from(TRANSITIONS),
    st.integers(0, 23),
    st.integers(0, 24 * 60 * 4),
)
def test_daily_shift_lasts_a_local_day_across_transitions(
    zone: str, around: date, hour: int, minute_offset: int
) -> None:
    tz = ZoneInfo(zone)
    layer = Layer("d", ("a", "b"), zone, datetime.combine(around - timedelta(days=3), time(hour)))
    layer = rules.replace(layer, step=timedelta(days=1))
    t = localize(datetime.combine(around - timedelta(days=1), time(0)), tz) + timedelta(
        minutes=minute_offset
    )
    [span] = on_call_at(Schedule("s", (layer,)), t, context=timedelta(days=2))
    length = span.end - span.start
    assert length in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))
    if exists(datetime.combine(span.start.astimezone(tz).date(), time(hour)), tz):
        assert span.start.astimezone(tz).hour == hour


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 24 * 14), st.integers(1, 72), st.sampled_from(FIVE + ("zed",))),
        max_size=5,
    ),
    st.integers(0, 24 * 14),
)
def test_final_view_partitions_time_and_agrees_with_on_call_at(
    raw: list[tuple[int, int, str]], probe: int
) -> None:
    base = utc(2026, 3, 1)
    overrides = tuple(
        Override(
            base + timedelta(hours=s),
            base + timedelta(hours=s + d),
            u,
            covering="bob" if i % 2 else None,
            id=i + 1,
        )
        for i, (s, d, u) in enumerate(raw)
    )
    biz = Layer("biz", ("x", "y"), "America/New_York", datetime(2026, 1, 5, 9), timedelta(days=1))
    biz = rules.replace(biz, windows=(BUSINESS_HOURS,))
    sched = Schedule("s", (weekly(), biz), overrides)
    start, end = base, base + timedelta(days=16)
    tl = shifts_between(sched, start, end)
    pieces = sorted([(s.start, s.end) for s in tl.final[1]] + list(tl.gaps[1]), key=lambda p: p[0])
    assert pieces[0][0] == start and pieces[-1][1] == end
    for (_, e), (s, _) in zip(pieces, pieces[1:], strict=False):
        assert e == s
    t = base + timedelta(hours=probe, minutes=17)
    now = on_call_at(sched, t, level=1)
    inside = [s for s in tl.final[1] if s.start <= t < s.end]
    assert [s.user for s in now] == [s.user for s in inside]
