"""Shared readers in bos.red_flags.indicators.base."""

from __future__ import annotations

from bos.red_flags.indicators import (
    parse_rfc3339,
    whole_days,
)


def test_whole_days_truncates_toward_zero_like_chrono() -> None:
    start = parse_rfc3339("2000-01-02T00:00:00Z")
    assert start is not None
    end = parse_rfc3339("2000-01-01T12:00:00Z")
    assert end is not None
    assert whole_days(start, end) == 0
