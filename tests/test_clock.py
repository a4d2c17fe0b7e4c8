"""parse_utc: the one parser for ISO 8601 instants that come from users and payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from warroom.core.clock import parse_utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T09:00:00Z", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("2026-03-02T09:00:00z", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("2026-03-02T09:00:00+00:00", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("2026-03-02T09:00:00+02:00", datetime(2026, 3, 2, 7, 0, tzinfo=UTC)),
        ("2026-03-02T09:00:00", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),  # naive is UTC
        ("2026-03-02T09:00Z", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),
        ("  2026-03-02T09:00:00Z\n", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        # an offset can move the instant into the next day, month and year
        ("2026-12-31T23:30:00-01:00", datetime(2027, 1, 1, 0, 30, tzinfo=UTC)),
        ("2027-01-01T00:30:00+01:00", datetime(2026, 12, 31, 23, 30, tzinfo=UTC)),
    ],
)
def test_parse_utc_gives_an_aware_utc_instant(text: str, expected: datetime) -> None:
    value = parse_utc(text)
    assert value == expected
    assert value.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "2026-13-01T00:00Z",
        "2026-03-02T25:00Z",
        "2026-03-02T09:00+25:00",
        "ZZ",
        # representable with their offset, but not as UTC: a ValueError, not an OverflowError
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
    ],
)
def test_parse_utc_rejects_anything_else_with_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_utc(text)
