"""R017 unit-price outlier against peers of the same classification, unit and currency."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bos.red_flags.indicators.base import (
    BaselineInput,
    Outcome,
    Params,
    ProcessResult,
    as_dict,
    as_list,
    as_str,
    awards_of,
    contracts_of,
    money,
    nonblank,
    peer_baseline,
)
from bos.red_flags.stats import robust_z

# ---------------------------------------------------------------------------------------------------------------
# R017 Unit-price outlier
# ---------------------------------------------------------------------------------------------------------------

R017_FIELDS = ["awards/items/unit/value", "awards/items/unit/id", "awards/items/classification", "contracts/items"]


def _priced_items(release: Mapping[str, Any]) -> list[tuple[str, float, str]]:
    """(peer key scheme|id|unit|currency, log unit price, pointer) of items of active awards, else contracts."""
    sources = [("awards", i, a) for i, a in enumerate(awards_of(release)) if a.get("status") == "active"]
    if not any(as_list(a.get("items")) for _s, _i, a in sources):
        sources = [("contracts", i, c) for i, c in enumerate(contracts_of(release))]
    rows = []
    for section, index, parent in sources:
        for position, raw_item in enumerate(as_list(parent.get("items"))):
            item = as_dict(raw_item)
            unit = as_dict(item.get("unit"))
            classification = as_dict(item.get("classification"))
            price = money(unit.get("value"))
            unit_id = nonblank(unit.get("id")) or nonblank(unit.get("name"))
            scheme, code = nonblank(classification.get("scheme")), as_str(classification.get("id"))
            if price is None or price[0] <= 0 or not (unit_id and scheme and code):
                continue
            key = f"{scheme}|{code}|{unit_id}|{price[1]}"
            rows.append((key, math.log(float(price[0])), f"{section}/{index}/items/{position}"))
    return rows


def measure_r017(release: Mapping[str, Any], params: Params) -> list[float]:
    return [x for _k, x, _p in _priced_items(release)]


def peer_keys_r017(release: Mapping[str, Any], params: Params) -> list[str]:
    return [k for k, _x, _p in _priced_items(release)]


def evaluate_r017(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Flag an item whose log unit price has robust z >= 3.5 or >= Q3 + 3 IQR among >= ``min_peers`` peers of the
    same classification, unit and currency (MAD or IQR = 0: that test is skipped)."""
    result = ProcessResult("R017", release, R017_FIELDS)
    items = _priced_items(release)
    if not items:
        return result.insufficient(R017_FIELDS[:3], "no item with unit price, unit and classification")
    checked, flagged_items = [], []
    for key, x, pointer in items:
        peers = peer_baseline(baseline, key)
        if peers is None or peers.n < int(params["min_peers"]):
            continue
        z = robust_z(x, peers.median, peers.mad)
        over_fence = peers.iqr > 0 and x >= peers.upper
        row = {
            "item": pointer,
            "peer_key": key,
            "log_unit_price": x,
            "robust_z": z,
            "upper_fence": peers.upper,
            "peers": peers.summary(),
        }
        checked.append(row)
        if (z is not None and z >= float(params["z_threshold"])) or over_fence:
            flagged_items.append(row)
    if not checked:
        return result.insufficient([], f"no item has {params['min_peers']} peers", items=len(items))
    top = max((r["robust_z"] for r in checked if r["robust_z"] is not None), default=None)
    evidence = {"items": checked, "threshold": params["z_threshold"], "source": "fence"}
    if flagged_items:
        return result.flagged(top if top is not None else 1.0, evidence)
    return result.not_flagged(top, evidence)
