"""The SLO arithmetic at its boundaries: the seeds' budgets, overlaps counted once,
partial weights, rolling and calendar windows, burn rates and the gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.core.errors import ValidationFailed
from warroom.slos import rules
from warroom.slos.rules import Interval, SloSpec, Window

T = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def test_the_seeds_budgets_99_99_over_four_weeks_and_99_9_over_thirty_days() -> None:
    four_weeks = rules.parse_window("4w").minutes(T)
    assert four_weeks == 40320
    assert rules.budget_minutes(99.99, four_weeks) == pytest.approx(4.032, abs=1e-6)
    assert round(rules.budget_minutes(99.99, four_weeks), 2) == 4.03
    assert rules.budget_minutes(99.9, rules.parse_window("30d").minutes(T)) == pytest.approx(43.2)
    # a calendar month's budget is its own length: 31 days in December, 28 in February 2026
    dec = rules.parse_window(calendar="month").minutes(T)
    feb = rules.parse_window(calendar="month").minutes(datetime(2026, 2, 10, tzinfo=UTC))
    assert rules.budget_minutes(99.9, dec) == pytest.approx(44.64)
    assert rules.budget_minutes(99.9, feb) == pytest.approx(40.32)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        # December to January: the month ends at the new year, the quarter too
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 12, 1), datetime(2027, 1, 1)),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), datetime(2027, 1, 1), datetime(2027, 2, 1)),
        (datetime(2028, 2, 29, 8, 0, tzinfo=UTC), datetime(2028, 2, 1), datetime(2028, 3, 1)),
    ],
)
def test_calendar_months_hold_now_and_end_at_the_next_first(
    now: datetime, start: datetime, end: datetime
) -> None:
    got = rules.calendar_bounds("month", now)
    assert got == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_calendar_weeks_start_on_monday_and_quarters_on_their_first_month() -> None:
    sunday = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    monday = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    assert rules.calendar_bounds("week", sunday)[0] == datetime(2026, 11, 30, tzinfo=UTC)
    assert rules.calendar_bounds("week", monday) == (monday, monday + timedelta(days=7))
    assert rules.calendar_bounds("quarter", T) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert rules.calendar_bounds("quarter", datetime(2027, 3, 31, 23, tzinfo=UTC))[1] == datetime(
        2027, 4, 1, tzinfo=UTC
    )


def test_rolling_windows_end_now_and_calendar_ones_at_the_period_end() -> None:
    assert rules.parse_window("30d").bounds(T) == (T - timedelta(days=30), T)
    assert rules.parse_window("36h").rolling == timedelta(hours=36)
    assert rules.parse_window("calendar month") == Window(calendar="month")
    assert rules.parse_window(None) == Window(rolling=timedelta(days=30))


@pytest.mark.parametrize(
    ("window", "calendar", "field"),
    [
        ("30", None, "window"),
        ("0d", None, "window"),
        ("30m", None, "window"),
        ("401d", None, "window"),
        (None, "year", "calendar"),
        ("30d", "month", "window"),
    ],
)
def test_windows_that_do_not_parse_name_their_field(
    window: str | None, calendar: str | None, field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        rules.parse_window(window, calendar)
    assert err.value.field == field


def test_window_limits_are_inclusive() -> None:
    assert rules.parse_window("1h").rolling == timedelta(hours=1)
    assert rules.parse_window("400d").rolling == timedelta(days=400)


def test_overlapping_incidents_count_each_minute_once() -> None:
    a = Interval(at(0), at(10))
    b = Interval(at(5), at(15))
    assert rules.bad_minutes([a, b], at(-60), at(60), at(60)) == pytest.approx(15)
    # the same incident twice (two services' rows) is still 10 minutes
    assert rules.bad_minutes([a, a], at(-60), at(60), at(60)) == pytest.approx(10)
    # adjacent: end of one is the start of the next, nothing counted twice or lost
    c = Interval(at(10), at(20))
    assert rules.bad_minutes([a, c], at(-60), at(60), at(60)) == pytest.approx(20)


def test_partial_weights_take_the_largest_share_open_at_each_instant() -> None:
    half = Interval(at(0), at(20), 0.5)
    full = Interval(at(5), at(10), 1.0)
    # 5 min at 50%, 5 at 100%, 10 at 50%
    assert rules.bad_minutes([half, full], at(-60), at(60), at(60)) == pytest.approx(12.5)
    assert rules.bad_minutes([Interval(at(0), at(30), 0.3)], at(-1), at(60), at(60)) == (
        pytest.approx(9)
    )


def test_intervals_are_clipped_to_the_window_and_to_now() -> None:
    iv = Interval(at(-30), at(30))
    assert rules.bad_minutes([iv], at(0), at(60), at(60)) == pytest.approx(30)
    assert rules.bad_minutes([iv], at(-60), at(60), at(10)) == pytest.approx(40)
    still_open = Interval(at(0), None)
    assert rules.bad_minutes([still_open], at(-60), at(60), at(25)) == pytest.approx(25)
    # equal start and end spends nothing; a window that ends where it starts holds nothing
    assert rules.bad_minutes([Interval(at(5), at(5))], at(0), at(60), at(60)) == 0
    assert rules.bad_minutes([iv], at(0), at(0), at(60)) == 0
    assert rules.bad_minutes([], at(0), at(60), at(60)) == 0
    assert rules.interval_minutes(Interval(at(5), at(5)), at(60)) == 0
    assert rules.interval_minutes(Interval(at(0), None, 0.5), at(10)) == pytest.approx(5)


def spec(**kw: object) -> SloSpec:
    base: dict[str, object] = {"name": "checkout-availability", "service": "checkout"}
    base["objective"] = 99.9
    base.update(kw)
    return SloSpec(**base)  # type: ignore[arg-type]


def test_status_spends_minutes_and_percent_and_burns_over_each_span() -> None:
    s = rules.status_from_intervals(spec(), [Interval(at(-30), at(-18))], T)
    assert s.budget_minutes == pytest.approx(43.2)
    assert s.consumed_minutes == pytest.approx(12)
    assert s.consumed_percent == pytest.approx(12 / 43.2 * 100)
    assert s.remaining_minutes == pytest.approx(31.2)
    # 12 bad minutes in the last hour: 20% bad against 0.1% allowed = 200x
    assert s.burn_rates["1h"] == pytest.approx(200)
    assert s.burn_rates["5m"] == 0
    assert s.burn_rates["30m"] == pytest.approx(12 / 30 / 0.001)
    assert s.alerting() == "page"  # 6h and 30m both above 6x


def test_burn_alerts_fire_above_their_factor_and_not_at_it() -> None:
    def status(rates: dict[str, float]) -> rules.Status:
        return rules.Status("x", "s", 99.9, "30d", T, T, 43.2, 0, rates)

    assert status({"1h": 14.41, "5m": 14.41}).alerting() == "page"
    assert status({"1h": 14.4, "5m": 20}).alerting() is None
    assert status({"1h": 20, "5m": 14.4}).alerting() is None
    assert status({"6h": 6.01, "30m": 6.01}).alerting() == "page"
    assert status({"1d": 3.01, "2h": 3.01}).alerting() == "ticket"
    assert status({"3d": 1.01, "6h": 1.01}).alerting() == "ticket"
    assert status({"3d": 1.0, "6h": 5.0}).alerting() is None


def status_at(consumed: float, name: str = "a") -> rules.Status:
    return rules.Status(name, "checkout", 99.9, "30d", T, T, 100.0, consumed, {})


def test_the_gate_freezes_above_the_whole_budget_and_warns_above_80_percent() -> None:
    assert rules.gate("checkout", [status_at(100.0)], [], T).state == "warn"
    assert rules.gate("checkout", [status_at(100.0001)], [], T).go is False
    assert rules.gate("checkout", [status_at(80.0)], [], T).state == "go"
    assert rules.gate("checkout", [status_at(80.01)], [], T).state == "warn"
    frozen = rules.gate("checkout", [status_at(10), status_at(120, "b")], [], T)
    assert frozen.state == "freeze" and not frozen.go
    assert "b: 120.00 of 100.00 budget minutes spent (120.0%)" in frozen.reasons[0]
    none = rules.gate("checkout", [], [], T)
    assert none.go and none.state == "no-slo"


def test_an_exception_lets_a_frozen_service_through_until_it_expires() -> None:
    grant = rules.Grant(7, "alice", "card fix", "p0", T + timedelta(hours=1))
    passed = rules.gate("checkout", [status_at(150)], [grant], T)
    assert passed.go and passed.state == "exception" and passed.exception == grant
    assert "granted by alice" in passed.reasons[-1]
    # at its expiry it no longer holds; revoked it never does
    assert rules.gate("checkout", [status_at(150)], [grant], grant.expires_at).state == "freeze"
    revoked = rules.Grant(8, "alice", "x", "p0", T + timedelta(hours=1), revoked=True)
    assert rules.gate("checkout", [status_at(150)], [revoked], T).state == "freeze"


def test_prometheus_ratios_give_minutes_over_the_elapsed_window() -> None:
    s = rules.status_from_ratios(
        spec(window=Window(calendar="month")), 0.002, {"1h": 0.0144, "5m": 0.02}, T
    )
    elapsed = (T - datetime(2026, 12, 1, tzinfo=UTC)).total_seconds() / 60
    assert s.consumed_minutes == pytest.approx(0.002 * elapsed)
    assert s.budget_minutes == pytest.approx(44.64)
    assert s.burn_rates["1h"] == pytest.approx(14.4)
    assert "6h" not in s.burn_rates


def test_the_burndown_starts_full_and_falls_with_each_incident() -> None:
    sp = spec(window=Window(rolling=timedelta(hours=2)), objective=90.0)  # 12 budget minutes
    points = rules.burndown(sp, [Interval(at(-60), at(-54))], T, points=4)
    # at -120, -90, -60 (the incident starts), -30, now
    assert [round(p, 1) for _, p in points] == [100.0, 100.0, 100.0, 50.0, 50.0]
    assert points[0][0] == at(-120) and points[-1][0] == T


def test_spend_summary_says_minutes_and_share_of_the_named_budget() -> None:
    month = Window(calendar="month")
    assert rules.spend_summary(1.2, 4.0, month) == "1.2 minutes, 30% of the monthly budget"
    assert rules.spend_summary(2, 43.2, Window(rolling=timedelta(days=30))) == (
        "2.0 minutes, 5% of the 30d budget"
    )


# --- boundaries the first tests left open (found by mutation testing) ---


@pytest.mark.parametrize(
    ("window", "calendar", "message"),
    [
        ("30d", "month", "give either a rolling window or a calendar period"),
        (None, "year", "calendar must be one of week, month, quarter, not 'year'"),
        ("30x", None, "window must look like 30d, 4w or 36h (or calendar: month), not '30x'"),
        ("59m", None, "window must look like 30d, 4w or 36h (or calendar: month), not '59m'"),
        ("401d", None, "window must be between 1h and 400d"),
        ("58w", None, "window must be between 1h and 400d"),
    ],
)
def test_a_window_that_does_not_parse_says_what_would(
    window: str | None, calendar: str | None, message: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        rules.parse_window(window, calendar)
    assert err.value.message == message


def test_window_text_and_a_window_with_neither_part_is_the_calendar_month() -> None:
    assert rules.parse_window("4w").text == "28d"
    assert rules.parse_window("36h").text == "36h"
    assert rules.parse_window(" Calendar Quarter ").text == "calendar quarter"
    assert Window().bounds(T) == rules.calendar_bounds("month", T)
    assert Window().minutes(T) == 31 * 24 * 60


def test_calendar_periods_start_at_midnight_whatever_the_second() -> None:
    last_instant = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    assert rules.calendar_bounds("month", last_instant) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        new_year,
    )
    assert rules.calendar_bounds("week", last_instant) == (
        datetime(2026, 12, 28, tzinfo=UTC),
        datetime(2027, 1, 4, tzinfo=UTC),
    )
    # February in a leap year is 29 days, and its quarter runs January to March
    leap = datetime(2028, 2, 29, 8, 30, 15, tzinfo=UTC)
    assert rules.parse_window(calendar="month").minutes(leap) == 29 * 24 * 60
    assert rules.calendar_bounds("quarter", leap) == (
        datetime(2028, 1, 1, tzinfo=UTC),
        datetime(2028, 4, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("month", "first", "after"),
    [(1, 1, 4), (3, 1, 4), (4, 4, 7), (6, 4, 7), (7, 7, 10), (9, 7, 10), (11, 10, 1)],
)
def test_each_quarter_starts_on_its_first_month(month: int, first: int, after: int) -> None:
    now = datetime(2027, month, 15, tzinfo=UTC)
    start, end = rules.calendar_bounds("quarter", now)
    assert start == datetime(2027, first, 1, tzinfo=UTC)
    assert end == datetime(2027 if after > first else 2028, after, 1, tzinfo=UTC)


def test_an_unknown_calendar_unit_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="unknown calendar unit 'fortnight'"):
        rules.calendar_bounds("fortnight", T)


def test_separate_incidents_spend_their_own_minutes_and_not_the_gap() -> None:
    a = Interval(at(0), at(10))
    later = Interval(at(30), at(40))
    assert rules.bad_minutes([a, later], at(-60), at(60), at(60)) == pytest.approx(20)
    assert rules.bad_minutes([a, later], at(5), at(35), at(60)) == pytest.approx(10)
    assert rules.bad_minutes([a, later], at(10), at(30), at(60)) == 0


def test_an_interval_that_spends_nothing_does_not_hide_the_ones_after_it() -> None:
    empty = Interval(at(5), at(5))
    weightless = Interval(at(0), at(10), 0.0)
    ends_before_it_starts = Interval(at(10), at(0))
    real = Interval(at(20), at(30))
    got = rules.bad_minutes([empty, weightless, ends_before_it_starts, real], at(0), at(60), at(60))
    assert got == pytest.approx(10)


def test_part_of_the_sweep_reads_the_weight_of_each_segment() -> None:
    half = Interval(at(0), at(20), 0.5)
    full = Interval(at(5), at(10), 1.0)
    # 5 min at 50% then 2 of the 5 at 100%
    assert rules.bad_minutes([half, full], at(0), at(7), at(60)) == pytest.approx(4.5)
    assert rules.bad_minutes([half, full], at(7), at(15), at(60)) == pytest.approx(5.5)
    # a share just above 0 and just below 1 still counts at its own weight
    tiny = Interval(at(0), at(60), 0.001)
    almost = Interval(at(0), at(60), 0.999)
    assert rules.bad_minutes([tiny], at(0), at(60), at(60)) == pytest.approx(0.06)
    assert rules.bad_minutes([tiny, almost], at(0), at(60), at(60)) == pytest.approx(59.94)


def test_a_burn_rate_over_an_empty_span_or_a_zero_allowance_is_zero() -> None:
    assert rules.burn_rate(0.0, 0.0, 0.001) == 0
    assert rules.burn_rate(5.0, -1.0, 0.001) == 0
    assert rules.burn_rate(5.0, 60.0, 0.0) == 0
    # a one-minute span is a real span: 0.001 bad minutes of 0.1% allowed is 1x
    assert rules.burn_rate(0.001, 1.0, 0.001) == pytest.approx(1.0)
    assert rules.burn_rate(0.5, 0.5, 0.5) == pytest.approx(2.0)


def test_a_burn_alert_needs_both_of_its_spans() -> None:
    def status(rates: dict[str, float]) -> rules.Status:
        return rules.Status("x", "s", 99.9, "30d", T, T, 43.2, 0, rates)

    assert status({"1h": 100.0}).alerting() is None
    assert status({"5m": 100.0}).alerting() is None
    assert status({"3d": 2.0}).alerting() is None
    assert status({"6h": 2.0}).alerting() is None
    assert status({}).alerting() is None


def test_status_carries_the_slo_and_its_window_and_shares_one_sweep() -> None:
    sp = spec(window=Window(calendar="month"))
    intervals = [Interval(at(-30), at(-18))]
    s = rules.status_from_intervals(sp, intervals, T)
    assert (s.name, s.service, s.objective, s.window) == (
        "checkout-availability",
        "checkout",
        99.9,
        "calendar month",
    )
    assert (s.window_start, s.window_end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    # a BadTime built once for the service answers as the intervals do
    shared = rules.status_from_intervals(sp, rules.BadTime(intervals, T), T)
    assert shared == s


def test_prometheus_status_carries_the_slo_and_an_objective_of_100_burns_nothing() -> None:
    s = rules.status_from_ratios(spec(), 0.001, {"1h": 0.5}, T)
    assert (s.name, s.service, s.objective, s.window) == (
        "checkout-availability",
        "checkout",
        99.9,
        "30d",
    )
    assert (s.window_start, s.window_end) == (T - timedelta(days=30), T)
    assert s.consumed_minutes == pytest.approx(43.2)
    perfect = rules.status_from_ratios(spec(objective=100.0), 0.5, {"1h": 0.5, "5m": 0.0}, T)
    assert perfect.burn_rates == {"5m": 0.0, "1h": 0.0}
    assert perfect.budget_minutes == 0 and perfect.consumed_percent == 0


def test_the_burndown_has_61_points_by_default_and_two_for_one() -> None:
    sp = spec(window=Window(rolling=timedelta(hours=2)), objective=90.0)
    default = rules.burndown(sp, [], T)
    assert len(default) == 61 and default[1][0] == at(-118)
    one = rules.burndown(sp, [Interval(at(-60), at(-54))], T, points=1)
    assert one == [(at(-120), 100.0), (T, pytest.approx(50.0))]
    assert rules.burndown(sp, [], T, points=0) == [(at(-120), 100.0)]


def test_the_burndown_of_a_tiny_budget_and_of_no_budget() -> None:
    # 99.99% over an hour is 0.006 minutes: 0.003 bad minutes is half of it
    tiny = spec(window=Window(rolling=timedelta(hours=1)), objective=99.99)
    points = rules.burndown(tiny, [Interval(at(-1), at(-1 + 0.003))], T, points=1)
    assert [round(p, 1) for _, p in points] == [100.0, 50.0]
    # an objective of 100% has no budget to burn down: the chart stays at 100
    none = spec(window=Window(rolling=timedelta(hours=1)), objective=100.0)
    assert [p for _, p in rules.burndown(none, [Interval(at(-30), T)], T, points=2)] == [
        100.0,
        100.0,
        100.0,
    ]


def test_every_gate_names_its_service_and_says_why() -> None:
    none = rules.gate("checkout", [], [], T)
    assert none.service == "checkout"
    assert none.reasons == ["checkout has no SLO: nothing to gate on"]
    go = rules.gate("checkout", [status_at(25.0)], [], T)
    assert (go.service, go.go, go.state) == ("checkout", True, "go")
    assert go.reasons == ["a: 75.00 of 100.00 minutes remain (75.0%)"]
    warn = rules.gate("checkout", [status_at(90.0), status_at(10.0, "b")], [], T)
    assert (warn.service, warn.go, warn.state) == ("checkout", True, "warn")
    assert warn.reasons == [
        "a: 90.0% of the budget spent (10.00 minutes remain): approaching the limit"
    ]
    frozen = rules.gate("checkout", [status_at(120.0)], [], T)
    assert (frozen.service, frozen.go, frozen.exception) == ("checkout", False, None)
    assert frozen.reasons == [
        "a: 120.00 of 100.00 budget minutes spent (120.0%) over 30d: error budget exhausted",
        "release freeze: only P0 and security fixes, with an exception",
    ]


def test_the_gate_cites_the_exception_that_lasts_longest() -> None:
    later = rules.Grant(9, "bob", "db migration", "security", T + timedelta(hours=5))
    sooner = rules.Grant(7, "alice", "card fix", "p0", T + timedelta(hours=1))
    expired = rules.Grant(6, "carol", "old", "p0", T)
    passed = rules.gate("checkout", [status_at(150)], [later, expired, sooner], T)
    assert (passed.service, passed.state, passed.exception) == ("checkout", "exception", later)
    assert passed.reasons[-1] == (
        "exception #9 (security) granted by bob until 2026-12-15 17:00Z: db migration"
    )
    # an exception expiring exactly now is no longer in force; a second later it was
    assert not expired.in_force(T) and expired.in_force(T - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("minutes", "budget", "window", "words"),
    [
        (3.0, 4.0, Window(calendar="week"), "3.0 minutes, 75% of the weekly budget"),
        (0.3, 0.6, Window(calendar="quarter"), "0.3 minutes, 50% of the quarterly budget"),
        (1.0, 0.0, Window(calendar="month"), "1.0 minutes, 0% of the monthly budget"),
        (4.0, 4.0, Window(rolling=timedelta(hours=36)), "4.0 minutes, 100% of the 36h budget"),
    ],
)
def test_spend_summary_words_for_each_window(
    minutes: float, budget: float, window: Window, words: str
) -> None:
    assert rules.spend_summary(minutes, budget, window) == words


def test_spending_exactly_the_whole_budget_does_not_freeze() -> None:
    s = rules.status_from_intervals(spec(), [Interval(at(-43.2), T)], T)
    assert rules.gate("checkout", [s], [], T).state == "warn"


def test_burning_exactly_at_the_page_factor_does_not_page() -> None:
    s = rules.status_from_ratios(spec(), 0.0, {"1h": 0.0144, "5m": 0.0144}, T)
    assert s.alerting() is None
