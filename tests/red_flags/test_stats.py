"""Statistics must match Cardinal's statrs 0.16 (Hyndman-Fan type 8), not numpy's or Python's defaults."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from bos.red_flags.stats import (
    Baseline,
    cardinal_lower_fence_usable,
    cardinal_upper_fence_usable,
    iqr_usable,
    mad,
    median,
    percentile,
    quantile,
    quartiles,
    robust_z,
    tukey_fences,
)


def test_quartiles_are_type_8() -> None:
    # n = 9: h = (9 + 1/3) p + 1/3 gives 2.667 for Q1 (2/3 of the way from the 2nd to the 3rd value) and 7.333 for
    # Q3 (1/3 of the way from the 7th to the 8th): 1 + 2/3 x (4 - 1) = 3 and 10 + 1/3 x (16 - 10) = 12.
    values = [0.0, 1.0, 4.0, 5.0, 6.0, 8.0, 10.0, 16.0, 40.0]
    q1, q3 = quartiles(values) or (0, 0)
    assert q1 == pytest.approx(3.0)
    assert q3 == pytest.approx(12.0)
    assert tukey_fences(q1, q3) == pytest.approx((-10.5, 25.5))


def test_type_8_differs_from_numpy_and_statistics_defaults() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    type8 = quantile(values, 0.25)
    assert type8 == pytest.approx(float(np.quantile(values, 0.25, method="median_unbiased")))
    assert type8 != pytest.approx(float(np.quantile(values, 0.25)))
    assert type8 != pytest.approx(statistics.quantiles(values, n=4)[0])


def test_type_8_hand_computed() -> None:
    # h = (n + 1/3) q + 1/3 = (4 + 1/3) 0.25 + 1/3 = 1.41667 -> x1 + 0.41667 (x2 - x1) = 1.41667
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.25) == pytest.approx(1.416667, abs=1e-6)
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.75) == pytest.approx(3.583333, abs=1e-6)


def test_small_and_empty_inputs() -> None:
    assert quantile([], 0.5) is None
    assert quartiles([]) is None
    assert quantile([7.0], 0.25) == 7.0  # statrs returns the minimum below the first order statistic
    assert quantile([float("nan"), 2.0], 0.5) == 2.0  # non-finite values are ignored
    assert median([]) is None
    assert mad([]) is None


def test_percentile_is_quantile_over_100() -> None:
    values = [1.0, 1.0, 2.0, 5.0, 9.0]
    assert percentile(values, 75) == quantile(values, 0.75)


def test_fences_are_inclusive_and_degenerate_cases_follow_cardinal() -> None:
    lower, upper = tukey_fences(2.0, 4.0)
    assert (lower, upper) == (-1.0, 7.0)
    assert not cardinal_lower_fence_usable(q1=0.0, lower_fence=1.0)
    assert not cardinal_lower_fence_usable(q1=1.0, lower_fence=0.0)
    assert cardinal_lower_fence_usable(q1=1.0, lower_fence=0.5)
    assert not cardinal_upper_fence_usable(0.0)
    assert cardinal_upper_fence_usable(0.1)
    assert not iqr_usable(0.0)


def test_median_mad_and_robust_z() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert median(values) == 3.0
    assert mad(values) == 1.0
    assert robust_z(100.0, 3.0, 1.0) == pytest.approx(0.6745 * 97)
    assert robust_z(5.0, 3.0, 0.0) is None


def test_baseline_round_trips_through_json() -> None:
    baseline = Baseline.from_measures([1.0, 2.0, 3.0, 4.0, 10.0], key="goods")
    assert baseline is not None
    restored = Baseline.from_dict(json.loads(json.dumps(baseline.to_dict())))
    assert restored == baseline
    assert baseline.n == 5
    assert baseline.iqr == pytest.approx(baseline.q3 - baseline.q1)
    assert baseline.lower == pytest.approx(baseline.q1 - 1.5 * baseline.iqr)
    assert baseline.upper == pytest.approx(baseline.q3 + 1.5 * baseline.iqr)
    assert baseline.median == 3.0
    assert baseline.mad == 1.0


def test_baseline_multiplier_and_empty() -> None:
    wide = Baseline.from_measures([1.0, 2.0, 3.0, 4.0], k=3.0)
    assert wide is not None
    assert wide.upper == pytest.approx(wide.q3 + 3 * wide.iqr)
    assert Baseline.from_measures([]) is None
    assert Baseline.from_measures([float("inf")]) is None
