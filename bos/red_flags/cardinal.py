"""Export outcomes in Cardinal's ``indicators`` JSON shape, and read compiled releases from files.

Cardinal's output: ``{"OCID": {ocid: {code: value}}, "Buyer": {...}, "ProcuringEntity": {...}, "Tenderer": {...},
"Meta": {code: {"q1": ..., "q3": ..., "lower_fence"|"upper_fence": ...}}}`` with only raised flags, Meta rounded to
4 decimals, and a tenderer marked by a process flag reported with a fixed value (0.0 for R024/R035/R058, 1.0 for
R028/R030).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bos.red_flags.indicators import FLAGGED, REGISTRY, Outcome
from bos.red_flags.indicators.base import NUMBER_TYPES

logger = logging.getLogger(__name__)

CARDINAL_GROUPS = {
    "process": "OCID",
    "buyer": "Buyer",
    "procuring_entity": "ProcuringEntity",
    "tenderer": "Tenderer",
}


def _round4(value: Any) -> float | None:
    """Cardinal rounds Meta to 4 decimals; a NaN (no data) serialises as null."""
    if value is None or not isinstance(value, NUMBER_TYPES) or not math.isfinite(value):
        return None
    return round(float(value) * 10_000) / 10_000


def to_cardinal(
    outcomes: Iterable[Outcome],
    *,
    include_meta: bool = True,
    include_maps: bool = False,
    cardinal_only: bool = True,
    base_meta: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Cardinal's result object from outcomes (only ``flagged`` ones become results; Meta from any evaluated one).

    ``cardinal_only`` keeps the codes that follow Cardinal's definitions; BOS-only codes of process or plain
    organisation grain are added otherwise (buyer x supplier outcomes have no Cardinal group and are skipped).
    """
    results: dict[str, dict[str, dict[str, float]]] = {}
    # Meta known without an outcome carrying it (stored fences of codes with no row left), outcomes' own on top.
    meta: dict[str, dict[str, float | None]] = {
        code: {k: _round4(v) for k, v in values.items()} for code, values in (base_meta or {}).items()
    }
    maps: dict[str, dict[str, list[str]]] = {}
    for outcome in outcomes:
        indicator = REGISTRY.get(outcome.code)
        if indicator is None or (cardinal_only and not indicator.cardinal):
            continue
        group = CARDINAL_GROUPS.get(outcome.grain)
        if group is None:
            continue
        evidence_meta = outcome.evidence.get("meta") if isinstance(outcome.evidence, Mapping) else None
        if include_meta and isinstance(evidence_meta, Mapping):
            meta.setdefault(outcome.code, {}).update({k: _round4(v) for k, v in evidence_meta.items()})
        if outcome.status != FLAGGED or outcome.value is None:
            continue
        results.setdefault(group, {}).setdefault(outcome.subject, {})[outcome.code] = float(outcome.value)
        if outcome.grain == "process" and indicator.cardinal_tenderer_value is not None:
            for tenderer in outcome.marked:
                tenderers = results.setdefault("Tenderer", {}).setdefault(tenderer, {})
                tenderers[outcome.code] = indicator.cardinal_tenderer_value
            if include_maps and outcome.marked:
                maps.setdefault(f"ocid_tenderer_{outcome.code.lower()}", {})[outcome.subject] = sorted(outcome.marked)
    document: dict[str, Any] = dict(results)
    if include_meta:
        document["Meta"] = meta
    if include_maps:
        document["Maps"] = maps
    return document


def compiled_releases_from(data: Any) -> Iterator[dict[str, Any]]:
    """Compiled releases in a parsed JSON value: a compiled release, a record (``compiledRelease``), a record
    package (``records[].compiledRelease``) or a list of any of these. Anything else yields nothing."""
    if isinstance(data, list):
        for entry in data:
            yield from compiled_releases_from(entry)
    elif isinstance(data, dict):
        if isinstance(data.get("records"), list):
            yield from compiled_releases_from(data["records"])
        elif isinstance(data.get("compiledRelease"), dict):
            yield data["compiledRelease"]
        elif "ocid" in data:
            yield data


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Compiled releases from a JSON Lines file (one compiled release, record or record package per line).

    Blank lines are skipped; invalid JSON lines are logged and skipped, as Cardinal does.
    """
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                logger.warning("Line %d is invalid JSON, skipping. [%s]", number, error)
                continue
            yield from compiled_releases_from(data)


def read_json(path: str | Path) -> list[dict[str, Any]]:
    """Compiled releases from one JSON file (record, record package, compiled release or list)."""
    with Path(path).open(encoding="utf-8") as handle:
        return list(compiled_releases_from(json.load(handle)))
