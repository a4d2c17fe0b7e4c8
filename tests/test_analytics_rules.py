"""Analytics rules at their boundaries, with hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.analytics import rules

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def test_metric_anchors() -> None:
    ms = {
        "started": m(0),
        "detected": m(4),
        "acknowledged": m(7),
        "mitigated": m(24),
        "resolved": m(64),
    }
    assert rules.metric_minutes("mttd", ms) == 4.0
    assert rules.metric_minutes("mtta", ms) == 3.0
    assert rules.metric_minutes("mttm", ms) == 20.0
    assert rules.metric_minutes("mttr", ms) == 60.0


def test_missing_or_reversed_milestones_do_not_count() -> None:
    assert rules.metric_minutes("mttd", {"detected": m(4)}) is None
    assert rules.metric_minutes("mtta", {"detected": m(4), "acknowledged": m(3)}) is None
    assert rules.metric_minutes("mtta", {"detected": m(4), "acknowledged": m(4)}) == 0.0


def test_empty_set() -> None:
    assert rules.stats([]) == rules.Stats(0, None, None, None)
    assert rules.stats([None, None]) == rules.Stats(0, None, None, None)
    block = rules.metric_block(rules.stats([]), 5.0)
    assert block == {
        "n": 0,
        "mean_minutes": None,
        "median_minutes": None,
        "p90_minutes": None,
        "target_minutes": 5.0,
        "met": None,
    }


def test_one_value() -> None:
    assert rules.stats([7.0]) == rules.Stats(1, 7.0, 7.0, 7.0)


def test_odd_count() -> None:
    # 1 2 3 4 100: mean 22, median 3; p90: h = 4 * 0.9 = 3.6 -> 4 + 0.6 * 96 = 61.6
    s = rules.stats([100, 3, 1, 4, 2])
    assert s.n == 5
    assert s.mean == 22.0
    assert s.median == 3.0
    assert s.p90 == pytest.approx(61.6)


def test_even_count() -> None:
    # 1 2 3 10: median (2 + 3) / 2 = 2.5; p90: h = 2.7 -> 3 + 0.7 * 7 = 7.9
    s = rules.stats([10, 1, 3, 2])
    assert s.median == 2.5
    assert s.p90 == pytest.approx(7.9)
    assert s.mean == 4.0


def test_ten_values_p90_interpolates() -> None:
    # 1..10: h = 9 * 0.9 = 8.1 -> x[8] = 9, x[9] = 10 -> 9.1
    assert rules.stats(range(1, 11)).p90 == pytest.approx(9.1)  # type: ignore[arg-type]
    assert rules.quantile_ranks(10, 0.9) == (8, pytest.approx(0.1))
    assert rules.quantile_ranks(1, 0.9) == (0, 0.0)


def test_none_values_are_left_out() -> None:
    assert rules.stats([None, 2.0, None, 4.0]) == rules.Stats(2, 3.0, 3.0, 3.8)


def test_targets_default_to_the_seeds() -> None:
    assert rules.target_for("mttd", "SEV-3") == 5.0
    assert rules.target_for("mtta", "SEV-1") == 5.0
    assert rules.target_for("mttm", "SEV-1") == 30.0
    assert rules.target_for("mttr", "SEV-2") == 60.0
    assert rules.target_for("mttr", "SEV-1") is None
    assert rules.target_for("mttr", "SEV-2", {"mttr_minutes": 45}) == 45.0
    assert rules.target_for("mttd", "SEV-2", {"mttd_minutes": 2}) == 2.0
    assert rules.target_for("mttd", "SEV-2", {"mttd_minutes": True}) == 5.0


def test_common_target() -> None:
    sevs = {"SEV-1": {}, "SEV-2": {}}
    assert rules.common_target("mttd", sevs) == 5.0
    assert rules.common_target("mttr", sevs) is None
    assert rules.common_target("mttr", {"SEV-2": None}) == 60.0
    assert rules.common_target("mttd", {}) is None


def test_met_is_strictly_below() -> None:
    assert rules.met(4.99, 5.0) is True
    assert rules.met(5.0, 5.0) is False
    assert rules.met(None, 5.0) is None
    assert rules.met(3.0, None) is None


def test_rates() -> None:
    assert rules.rate(1, 3) == 33.3
    assert rules.rate(0, 0) is None
    assert rules.rate_met("customer_detected_rate", 9.9) is True
    assert rules.rate_met("customer_detected_rate", 10.0) is False
    assert rules.rate_met("postmortem_completion_rate", 90.0) is False
    assert rules.rate_met("postmortem_completion_rate", None) is None


def test_mtbf() -> None:
    assert rules.mtbf_hours(m(0), m(600), 3) == 5.0
    assert rules.mtbf_hours(m(0), m(0), 1) is None


def test_trend() -> None:
    assert rules.trend([5, 4, 9, 1, 2]) == "down"  # 9 vs 3, the middle left out
    assert rules.trend([1, 3]) == "up"
    assert rules.trend([2, 2]) == "flat"
    assert rules.trend([3]) is None


def test_period_ranges() -> None:
    wed = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    assert rules.period_range(wed, "week") == (
        datetime(2026, 2, 23, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    )
    monday = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    assert rules.period_range(monday, "week")[1] == monday
    assert rules.period_range(wed, "month") == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    jan = datetime(2026, 1, 15, tzinfo=UTC)
    assert rules.period_range(jan, "month") == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert rules.period_range(jan, "quarter") == (
        datetime(2025, 10, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert rules.period_range(datetime(2026, 5, 31, tzinfo=UTC), "quarter") == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    with pytest.raises(KeyError):
        rules.period_range(wed, "day")
