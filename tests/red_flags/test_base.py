"""Shared readers in bos.red_flags.indicators.base."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bos.red_flags.indicators import (
    parse_rfc3339,
    whole_days,
)
from bos.red_flags.indicators.base import as_decimal


def test_whole_days_truncates_toward_zero_like_chrono() -> None:
    start = parse_rfc3339("2000-01-02T00:00:00Z")
    assert start is not None
    end = parse_rfc3339("2000-01-01T12:00:00Z")
    assert end is not None
    assert whole_days(start, end) == 0


@pytest.mark.parametrize(
    ("first", "then", "expected"),
    [
        (1, 1.0, "1.0"),  # equal but typed apart
        (0.0, -0.0, "-0.0"),  # equal floats that convert differently
        (Decimal("100"), Decimal("1E+2"), "1E+2"),  # equal Decimals with other exponents
        ("1.50", "1.50", "1.50"),
    ],
)
def test_as_decimal_converts_each_value_as_it_is_whatever_came_before(first, then, expected) -> None:
    """as_decimal caches its conversions; a cached entry must never answer for a value that converts differently."""
    as_decimal(first)
    assert str(as_decimal(then)) == expected


@pytest.mark.parametrize("value", [True, "", "abc", float("nan"), float("inf"), Decimal("sNaN"), None, [1]])
def test_as_decimal_refuses_what_is_not_a_finite_amount(value) -> None:
    assert as_decimal(value) is None
