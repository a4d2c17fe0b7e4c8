"""Heartbeat deadline rules at their boundaries (pure: no store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.heartbeats import rules
from warroom.heartbeats.rules import Beat

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
US = timedelta(microseconds=1)
FIVE = timedelta(minutes=5)
TWO = timedelta(minutes=2)


def beat(**kw: object) -> Beat:
    base: dict[str, object] = {
        "since": T0,
        "interval": FIVE,
        "grace": TWO,
        "pinged": True,
    }
    base.update(kw)
    return Beat(**base)  # type: ignore[arg-type]


def test_deadline_is_interval_plus_grace_and_next_expected_the_interval() -> None:
    b = beat()
    assert rules.deadline(b) == T0 + FIVE + TWO
    assert rules.next_expected(b) == T0 + FIVE


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(0), "up"),  # equal times: the ping itself
        (FIVE - S, "up"),
        (FIVE, "up"),  # exactly at the interval: still on time
        (FIVE + US, "late"),
        (FIVE + S, "late"),
        (FIVE + TWO - S, "late"),
        (FIVE + TWO - US, "late"),
        (FIVE + TWO, "down"),  # exactly at interval + grace: missed
        (FIVE + TWO + S, "down"),
    ],
)
def test_state_around_the_interval_and_the_deadline(offset: timedelta, expected: str) -> None:
    assert rules.state(beat(), T0 + offset) == expected


def test_late_by_counts_from_the_expected_ping() -> None:
    assert rules.late_by(beat(), T0 + FIVE) == timedelta(0)
    assert rules.late_by(beat(), T0 + FIVE + S) == S
    assert rules.late_by(beat(), T0) == timedelta(0)


def test_never_pinged_is_new_until_late_and_zero_grace_goes_down_at_the_interval() -> None:
    assert rules.state(beat(pinged=False), T0 + FIVE) == "new"
    assert rules.state(beat(pinged=False), T0 + FIVE + S) == "late"
    b = beat(grace=timedelta(0))
    assert rules.state(b, T0 + FIVE - S) == "up"
    assert rules.state(b, T0 + FIVE) == "down"


def test_paused_has_no_deadline_and_is_never_down() -> None:
    b = beat(paused=True)
    assert rules.deadline(b) is None and rules.next_expected(b) is None
    assert rules.state(b, T0 + timedelta(days=3)) == "paused"
    assert rules.late_by(b, T0 + timedelta(days=3)) == timedelta(0)


def test_unpausing_starts_a_full_interval_from_the_resume() -> None:
    resumed = T0 + timedelta(hours=1)
    b = beat(since=resumed)
    assert rules.state(b, resumed + FIVE + TWO - S) == "late"
    assert rules.deadline(b) == resumed + FIVE + TWO


def test_a_window_starting_mid_interval_moves_the_deadline_past_its_end() -> None:
    window = (T0 + timedelta(minutes=3), T0 + timedelta(minutes=30))
    b = beat()
    assert rules.deadline(b, [window]) == window[1] + FIVE + TWO
    assert rules.state(b, T0 + timedelta(minutes=2), [window]) == "up"
    assert rules.state(b, window[0], [window]) == "maintenance"
    assert rules.state(b, T0 + timedelta(minutes=10), [window]) == "maintenance"
    # Ended mid-interval: a full interval after the end before it is late.
    assert rules.state(b, window[1], [window]) == "up"
    assert rules.state(b, window[1] + FIVE, [window]) == "up"
    assert rules.state(b, window[1] + FIVE + S, [window]) == "late"
    assert rules.state(b, window[1] + FIVE + TWO, [window]) == "down"


def test_window_boundaries_are_half_open() -> None:
    due = T0 + FIVE + TWO
    # Ends exactly at the deadline: moves nothing.
    assert rules.deadline(beat(), [(T0, due)]) == due
    # Starts exactly at the deadline: the deadline is inside it.
    assert rules.deadline(beat(), [(due, due + S)]) == due + S + FIVE + TWO
    # Starts one second after the deadline: too late, the monitor is down.
    assert rules.deadline(beat(), [(due + S, due + timedelta(hours=1))]) == due
    assert rules.state(beat(), due + timedelta(minutes=10), [(due + S, due + FIVE)]) == "down"


def test_back_to_back_windows_move_the_deadline_past_both() -> None:
    first = (T0 + timedelta(minutes=6), T0 + timedelta(minutes=20))
    second = (T0 + timedelta(minutes=25), T0 + timedelta(minutes=60))
    assert rules.deadline(beat(), [second, first]) == second[1] + FIVE + TWO


def test_durations_parse_and_print() -> None:
    assert rules.parse_duration("5m") == FIVE
    assert rules.parse_duration("1h30m") == timedelta(minutes=90)
    assert rules.parse_duration("90") == timedelta(seconds=90)
    assert rules.format_duration(timedelta(minutes=90)) == "1h30m"
    assert rules.format_duration(timedelta(0)) == "0s"
    for bad in ("", "5x", "m5", "5m 3", "-5m", "9" * 30, "99999999999d", "1" * 40):
        with pytest.raises(ValueError):
            rules.parse_duration(bad)
    assert rules.human_minutes(timedelta(minutes=7, seconds=20)) == "7 min"
    assert rules.human_minutes(timedelta(seconds=40)) == "40 s"
    assert rules.human_minutes(timedelta(minutes=125)) == "2 h 5 min"


def test_intervals_between_pings() -> None:
    pings = [T0, T0 + FIVE, T0 + FIVE + TWO]
    assert rules.intervals(pings) == [FIVE, TWO]
    assert rules.intervals([T0]) == []
