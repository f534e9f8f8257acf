"""Robust statistics for red-flag indicators, matching Cardinal (cardinal-rs) exactly.

Cardinal computes quartiles with statrs 0.16, whose ``quantile`` is Hyndman-Fan type 8 ("approximately
median-unbiased"). numpy calls it ``method="median_unbiased"``; numpy's default (type 7) and
``statistics.quantiles`` give different fences (RED_FLAGS.md, "Reproducing Cardinal exactly").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Tukey's multiplier for the inclusive fences Q1 - 1.5 IQR and Q3 + 1.5 IQR.
TUKEY_K = 1.5
#: Scale that makes the median absolute deviation consistent with the standard deviation (Iglewicz-Hoaglin).
MAD_Z_SCALE = 0.6745


def _finite(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0 <= q <= 1), Hyndman-Fan type 8 as statrs 0.16; None for no values."""
    data = _finite(values)
    if not data:
        return None
    return float(np.quantile(np.asarray(data, dtype=float), q, method="median_unbiased"))


def percentile(values: Sequence[float], p: float) -> float | None:
    """statrs ``Data::percentile(p)`` = ``quantile(p / 100)`` (Cardinal R025's ``percentile`` setting)."""
    return quantile(values, p / 100)


def quartiles(values: Sequence[float]) -> tuple[float, float] | None:
    """(Q1, Q3), type 8; None for no values."""
    q1, q3 = quantile(values, 0.25), quantile(values, 0.75)
    if q1 is None or q3 is None:
        return None
    return q1, q3


def tukey_fences(q1: float, q3: float, k: float = TUKEY_K) -> tuple[float, float]:
    """(lower, upper) = (Q1 - k IQR, Q3 + k IQR). Comparisons against them are inclusive (<=, >=)."""
    iqr = q3 - q1
    return q1 - k * iqr, q3 + k * iqr


def median(values: Sequence[float]) -> float | None:
    data = _finite(values)
    if not data:
        return None
    return float(np.median(np.asarray(data, dtype=float)))


def mad(values: Sequence[float]) -> float | None:
    """Raw (unscaled) median absolute deviation from the median."""
    data = _finite(values)
    centre = median(data)
    if centre is None:
        return None
    return float(np.median(np.abs(np.asarray(data, dtype=float) - centre)))


def robust_z(x: float, centre: float, spread: float) -> float | None:
    """Iglewicz-Hoaglin modified z-score 0.6745 (x - median) / MAD; None when MAD is 0 (no spread to compare)."""
    if spread <= 0:
        return None
    return MAD_Z_SCALE * (x - centre) / spread


def is_low_outlier(x: float, lower_fence: float) -> bool:
    return x <= lower_fence


def is_high_outlier(x: float, upper_fence: float) -> bool:
    return x >= upper_fence


def cardinal_lower_fence_usable(q1: float, lower_fence: float) -> bool:
    """Cardinal (R024, R025) skips the lower fence when Q1 <= 0 or the fence <= 0.

    For non-negative measures this is the "75% of values are zero" case (changelog 0.0.6): otherwise 75% would be
    flagged.
    """
    return q1 > 0 and lower_fence > 0


def cardinal_upper_fence_usable(upper_fence: float) -> bool:
    """Cardinal (R038, R058) skips an upper fence <= 0 (all-zero ratios)."""
    return upper_fence > 0


def iqr_usable(iqr: float) -> bool:
    """BOS Proposal (RED_FLAGS.md section 1, "Degenerate case"): no fence when IQR = 0, even for a constant
    non-zero set, which Cardinal flags wholesale. Off by default for Cardinal codes."""
    return iqr > 0


@dataclass(frozen=True)
class Baseline:
    """Peer statistics of one measure (one peer group), stored once and read when evaluating a single process.

    ``k`` is the fence multiplier (1.5 for Tukey fences; R017 uses 3). ``p05``/``p95`` serve percentile screens
    (BOS-01). ``key`` names the peer group ("" for the whole dataset).
    """

    n: int
    q1: float
    q3: float
    iqr: float
    lower: float
    upper: float
    median: float
    mad: float
    p05: float
    p95: float
    k: float = TUKEY_K
    key: str = ""

    @classmethod
    def from_measures(cls, values: Iterable[float], k: float = TUKEY_K, key: str = "") -> Baseline | None:
        """Baseline of the finite values; None when there are none (no statistic can be computed)."""
        data = _finite(values)
        if not data:
            return None
        array = np.asarray(data, dtype=float)
        q1, q3 = (float(v) for v in np.quantile(array, [0.25, 0.75], method="median_unbiased"))
        p05, p95 = (float(v) for v in np.quantile(array, [0.05, 0.95], method="median_unbiased"))
        lower, upper = tukey_fences(q1, q3, k)
        centre = float(np.median(array))
        return cls(
            n=len(data),
            q1=q1,
            q3=q3,
            iqr=q3 - q1,
            lower=lower,
            upper=upper,
            median=centre,
            mad=float(np.median(np.abs(array - centre))),
            p05=p05,
            p95=p95,
            k=float(k),
            key=key,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (plain ints, floats and str), e.g. for a database row."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(
            n=int(data["n"]),
            q1=float(data["q1"]),
            q3=float(data["q3"]),
            iqr=float(data["iqr"]),
            lower=float(data["lower"]),
            upper=float(data["upper"]),
            median=float(data["median"]),
            mad=float(data["mad"]),
            p05=float(data.get("p05", data["q1"])),
            p95=float(data.get("p95", data["q3"])),
            k=float(data.get("k", TUKEY_K)),
            key=str(data.get("key", "")),
        )

    def summary(self) -> dict[str, Any]:
        """The peer statistics an outcome's evidence quotes."""
        return {
            "n": self.n,
            "q1": self.q1,
            "q3": self.q3,
            "iqr": self.iqr,
            "lower_fence": self.lower,
            "upper_fence": self.upper,
            "median": self.median,
            "mad": self.mad,
            "key": self.key,
        }
