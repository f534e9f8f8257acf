"""Whole-dataset evaluation: main currency, peer baselines, then every indicator over every release."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from bos.red_flags.indicators.base import (
    Indicator,
    Outcome,
    Params,
    fallback_currency_seen,
    first_currency_seen,
    global_exclusion,
)
from bos.red_flags.indicators.registry import (
    GLOBAL_DEFAULTS,
    REGISTRY,
    effective_params,
)
from bos.red_flags.stats import Baseline


def build_baselines(
    indicator: Indicator, releases: Iterable[Mapping[str, Any]], params: Params
) -> Baseline | dict[str, Baseline] | None:
    """Peer statistics of ``indicator`` over ``releases``: one Baseline, or one per peer key when stratified."""
    if indicator.measure is None:
        return None
    if indicator.peer_keys is None:
        values = [v for release in releases for v in indicator.measure(release, params)]
        return Baseline.from_measures(values, k=indicator.fence_k)
    grouped: dict[str, list[float]] = defaultdict(list)
    for release in releases:
        for key, value in zip(indicator.peer_keys(release, params), indicator.measure(release, params), strict=False):
            grouped[key].append(value)
    baselines = {key: Baseline.from_measures(values, k=indicator.fence_k, key=key) for key, values in grouped.items()}
    return {key: baseline for key, baseline in baselines.items() if baseline is not None}


def resolve_main_currency(
    releases: Iterable[Mapping[str, Any]], overrides: Mapping[str, Any] | None = None
) -> str | None:
    """The configured currency, else the first currency Cardinal would see in input order."""
    params = {**GLOBAL_DEFAULTS, **{k: v for k, v in (overrides or {}).items() if k in GLOBAL_DEFAULTS}}
    if params.get("currency"):
        return str(params["currency"])
    fallback = None
    for release in releases:
        if global_exclusion(release, params) is not None:
            continue
        seen = first_currency_seen(release, params)
        if seen:
            return seen
        fallback = fallback or fallback_currency_seen(release)
    return fallback


def evaluate_dataset(
    releases: Iterable[Mapping[str, Any]],
    overrides: Mapping[str, Any] | None = None,
    codes: Iterable[str] | None = None,
) -> list[Outcome]:
    """Evaluate a whole dataset (one compiled release per ocid, one publisher) in two passes.

    Process grain: measures -> baselines -> evaluate each release. Organisation grain: contributions -> group
    evaluation. Releases Cardinal excludes globally (ocid not a string, tender cancelled, excluded method
    details) produce no outcome, as in Cardinal. The main currency is resolved once (configured, else first
    seen) and passed to every indicator.
    """
    dataset = [r for r in releases if isinstance(r, Mapping)]
    currency = resolve_main_currency(dataset, overrides)
    outcomes: list[Outcome] = []
    for code in codes or REGISTRY:
        indicator = REGISTRY[code]
        params = {**effective_params(code, overrides), "currency": currency}
        included = [r for r in dataset if global_exclusion(r, params) is None]
        if indicator.evaluate is not None:
            baselines = build_baselines(indicator, included, params)
            for release in included:
                outcomes += indicator.evaluate(release, params, baselines)
        elif indicator.contributions is not None and indicator.evaluate_group is not None:
            rows = [row for release in included for row in indicator.contributions(release, params)]
            outcomes += indicator.evaluate_group(rows, params)
    return outcomes
