"""Organisation-grain indicators: R048 heterogeneous supplier, R040 supplier concentration, R055 split purchases,
plus the process screen R049 (value just below the Pengadaan Langsung ceiling) that R055 complements."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bos.red_flags.indicators.base import (
    FLAGGED,
    INSUFFICIENT,
    NOT_FLAGGED,
    BaselineInput,
    Contribution,
    Outcome,
    Params,
    ProcessResult,
    active_awards,
    as_dict,
    as_list,
    as_str,
    main_currency,
    money,
    org_id,
    org_outcome,
    parse_datetime,
    supplier_ids,
    tender_of,
)
from bos.red_flags.indicators.indonesia import (
    INDONESIAN_FIELDS,
    estimate_value,
    indonesian_method,
    pl_ceiling,
    procurement_category,
)
from bos.red_flags.stats import (
    quartiles,
    tukey_fences,
)

# ---------------------------------------------------------------------------------------------------------------
# R048 Heterogeneous supplier (Cardinal, tenderer grain)
# ---------------------------------------------------------------------------------------------------------------

R048_FIELDS = ["awards/status", "awards/items/classification/id", "awards/suppliers/id"]


def contributions_r048(release: Mapping[str, Any], params: Params) -> list[Contribution]:
    """One row per (supplier, classification prefix of ``digits`` characters) of active single-supplier awards.

    Rows must not be pre-summed: a supplier's process count is its number of distinct ocids, its variety the
    number of distinct keys.
    """
    digits = int(params["digits"])
    ocid = str(release["ocid"])
    rows: dict[tuple[str, str], Contribution] = {}
    for award in active_awards(release):
        suppliers = as_list(award.get("suppliers"))
        # Only single-supplier awards (catalogue: "active single-supplier awards"): items cannot be split
        # among consortium members.
        if len(suppliers) != 1 or org_id(suppliers[0]) is None or not isinstance(award.get("items"), list):
            continue
        supplier = org_id(suppliers[0]) or ""
        for item in as_list(award.get("items")):
            classification = as_str(as_dict(as_dict(item).get("classification")).get("id"))
            if classification is not None:
                prefix = classification[:digits]
                rows[(supplier, prefix)] = Contribution("R048", "tenderer", supplier, prefix, 1.0, 1.0, None, ocid)
    return list(rows.values())


@dataclass(frozen=True)
class SupplierVariety:
    """What R048 needs of one supplier: its process count, its distinct classification prefixes and its processes
    (sorted; the first ones only when read from the database, ``processes`` keeps the count)."""

    processes: int
    prefixes: frozenset[str]
    ocids: tuple[str, ...]


def r048_varieties(contributions: Sequence[Contribution]) -> dict[str, SupplierVariety]:
    processes: dict[str, set[str]] = defaultdict(set)
    prefixes: dict[str, set[str]] = defaultdict(set)
    for row in contributions:
        if row.code == "R048":
            processes[row.subject].add(row.ocid)
            prefixes[row.subject].add(row.key)
    return {
        subject: SupplierVariety(len(ocids), frozenset(prefixes[subject]), tuple(sorted(ocids)))
        for subject, ocids in processes.items()
    }


def evaluate_group_r048(contributions: Sequence[Contribution], params: Params) -> list[Outcome]:
    """Flag a supplier (in >= ``minimum_contracting_processes``) whose distinct prefixes >= upper fence."""
    return evaluate_r048_varieties(r048_varieties(contributions), params)


def evaluate_r048_varieties(varieties: Mapping[str, SupplierVariety], params: Params) -> list[Outcome]:
    """R048 from per-supplier summaries: the same outcomes whether they were built from every contribution row or
    summed up by the database for the suppliers an incremental run touched (then ``threshold`` is the pinned fence)."""
    minimum = int(params["minimum_contracting_processes"])
    lengths = {s: float(len(v.prefixes)) for s, v in varieties.items() if v.processes >= minimum}
    threshold = params.get("threshold")
    if threshold is not None:
        upper, source, meta = float(threshold), "config", {"upper_fence": float(threshold)}
    else:
        q1, q3 = quartiles(list(lengths.values())) or (math.nan, math.nan)
        upper, source = tukey_fences(q1, q3)[1], "fence"
        meta = {"q1": q1, "q3": q3, "upper_fence": upper}
    outcomes = []
    for subject, variety in varieties.items():
        evidence = {
            "processes": variety.processes,
            "prefixes": sorted(variety.prefixes),
            "minimum": minimum,
            "threshold": upper,
            "source": source,
            "meta": meta,
            "ocids": list(variety.ocids),
            "ocid_count": variety.processes,
            "fields": R048_FIELDS,
        }
        length = lengths.get(subject)
        if length is None:
            evidence["reason"] = f"supplier in fewer than {minimum} processes"
            outcomes.append(org_outcome("R048", "tenderer", subject, INSUFFICIENT, None, evidence))
        elif length >= upper:  # Cardinal applies no degenerate-fence guard here.
            outcomes.append(org_outcome("R048", "tenderer", subject, FLAGGED, length, evidence, marked=(subject,)))
        else:
            outcomes.append(org_outcome("R048", "tenderer", subject, NOT_FLAGGED, length, evidence))
    return outcomes


# ---------------------------------------------------------------------------------------------------------------
# R049 Value just below the Pengadaan Langsung ceiling (split-purchase screen, BOS)
# ---------------------------------------------------------------------------------------------------------------


def evaluate_r049(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Pengadaan Langsung value in [L(1 - w), L): w = 5% goods/services, 10% works."""
    result = ProcessResult("R049", release, INDONESIAN_FIELDS)
    if indonesian_method(release, params) != "pengadaan_langsung":
        return result.not_applicable("not Pengadaan Langsung")
    category = procurement_category(release)
    value = estimate_value(release)
    if category is None or value is None:
        missing = [f for f, v in (("tender/mainProcurementCategory", category), ("tender/value", value)) if v is None]
        return result.insufficient(missing, "category or value not published")
    amount, currency, _field = value
    if currency != params["ceiling_currency"]:
        return result.not_applicable(f"ceilings are in {params['ceiling_currency']}", currency=currency)
    ceiling = pl_ceiling(params, category)
    width = Decimal(str(as_dict(params["band_width"]).get(category, 0.05)))
    floor = ceiling * (1 - width)
    evidence = {"amount": str(amount), "band": [str(floor), str(ceiling)], "category": category, "source": "law"}
    ratio = float(amount / ceiling)
    return result.flagged(ratio, evidence) if floor <= amount < ceiling else result.not_flagged(ratio, evidence)


# ---------------------------------------------------------------------------------------------------------------
# R040 Supplier concentration (buyer x supplier x year)
# ---------------------------------------------------------------------------------------------------------------


def _award_year(award: Mapping[str, Any]) -> str | None:
    date = parse_datetime(award.get("date"))
    return str(date.year) if date else None


def contributions_r040(release: Mapping[str, Any], params: Params) -> list[Contribution]:
    """Per active single-supplier award in the main currency: buyer, key "year|supplier", amount."""
    buyer = org_id(release.get("buyer"))
    if buyer is None:
        return []
    currency = main_currency(release, params)
    rows = []
    for award in active_awards(release):
        suppliers = supplier_ids(award)
        price = money(award.get("value"))
        year = _award_year(award)
        if len(suppliers) != 1 or price is None or year is None or (currency and price[1] != currency):
            continue
        rows.append(
            Contribution(
                "R040",
                "buyer_supplier",
                buyer,
                f"{year}|{suppliers[0]}",
                float(price[0]),
                1.0,
                float(price[0]),
                str(release["ocid"]),
                date=str(award.get("date")),
            )
        )
    return rows


def evaluate_group_r040(contributions: Sequence[Contribution], params: Params) -> list[Outcome]:
    """Flag a supplier holding >= ``min_share`` of a buyer's awarded value in a year with >= ``min_awards``."""
    per_supplier: dict[tuple[str, str, str], list[Any]] = {}
    per_year: dict[tuple[str, str], list[float]] = {}
    for row in contributions:
        if row.code != "R040":
            continue
        year, _sep, supplier = row.key.partition("|")
        entry = per_supplier.setdefault((row.subject, year, supplier), [0.0, 0.0, set()])
        entry[0] += row.numerator
        entry[1] += row.denominator
        entry[2].add(row.ocid)
        totals = per_year.setdefault((row.subject, year), [0.0, 0.0])
        totals[0] += row.numerator
        totals[1] += row.denominator
    outcomes = []
    for (buyer, year, supplier), (amount, awards, ocids) in per_supplier.items():
        total, year_awards = per_year[(buyer, year)]
        share = amount / total if total > 0 else None
        evidence = {
            "year": year,
            "buyer": buyer,
            "supplier": supplier,
            "supplier_amount": amount,
            "buyer_amount": total,
            "buyer_awards": year_awards,
            "supplier_awards": awards,
            "share": share,
            "threshold": params["min_share"],
            "min_awards": params["min_awards"],
            "source": "config",
            "ocids": sorted(ocids),
            "fields": ["buyer/id", "awards/suppliers/id", "awards/value", "awards/date"],
        }
        key = f"{year}|{supplier}"
        if share is None or year_awards < float(params["min_awards"]):
            evidence["reason"] = f"buyer has fewer than {params['min_awards']} awards that year"
            outcomes.append(org_outcome("R040", "buyer_supplier", buyer, INSUFFICIENT, share, evidence, key=key))
        elif share >= float(params["min_share"]):
            outcomes.append(
                org_outcome(
                    "R040", "buyer_supplier", buyer, FLAGGED, share, evidence, marked=(buyer, supplier), key=key
                )
            )
        else:
            outcomes.append(org_outcome("R040", "buyer_supplier", buyer, NOT_FLAGGED, share, evidence, key=key))
    return outcomes


# ---------------------------------------------------------------------------------------------------------------
# R055 Split purchases (buyer x supplier x classification division within a window)
# ---------------------------------------------------------------------------------------------------------------


def _division(release: Mapping[str, Any], award: Mapping[str, Any]) -> str:
    items = as_list(award.get("items")) or as_list(tender_of(release).get("items"))
    for item in items:
        code = as_str(as_dict(as_dict(item).get("classification")).get("id"))
        if code:
            return code[:2]
    return ""


def contributions_r055(release: Mapping[str, Any], params: Params) -> list[Contribution]:
    """Per active single-supplier IDR award of a non-competitive process (Proposal): amount, date, ceiling."""
    buyer = org_id(release.get("buyer")) or org_id(tender_of(release).get("procuringEntity"))
    method = indonesian_method(release, params)
    category = procurement_category(release)
    if buyer is None or category is None:
        return []
    if params.get("non_competitive_only") and method not in {"pengadaan_langsung", "penunjukan_langsung"}:
        return []
    rows = []
    for award in active_awards(release):
        suppliers = supplier_ids(award)
        price = money(award.get("value"))
        date = parse_datetime(award.get("date"))
        if len(suppliers) != 1 or price is None or date is None or price[1] != params["ceiling_currency"]:
            continue
        division = _division(release, award)
        rows.append(
            Contribution(
                "R055",
                "buyer_supplier",
                buyer,
                f"{suppliers[0]}|{division}",
                float(price[0]),
                1.0,
                float(price[0]),
                str(release["ocid"]),
                date=date.isoformat(),
                attrs={"ceiling": float(pl_ceiling(params, category)), "category": category},
            )
        )
    return rows


def evaluate_group_r055(contributions: Sequence[Contribution], params: Params) -> list[Outcome]:
    """Flag >= 2 awards, each below the ceiling, whose sum within ``window_days`` reaches it (Pasal 20(2)(d)).

    The lowest ceiling of the group's categories applies (cardinal-rs #87).
    """
    groups: dict[tuple[str, str], list[Contribution]] = defaultdict(list)
    for row in contributions:
        if row.code == "R055" and row.date:
            groups[(row.subject, row.key)].append(row)
    window = timedelta(days=float(params["window_days"]))
    outcomes = []
    for (buyer, key), rows in groups.items():
        ceiling = min(float(r.attrs.get("ceiling", math.inf)) for r in rows)
        below = sorted((r for r in rows if r.numerator < ceiling), key=lambda r: r.date or "")
        best: tuple[float, list[Contribution]] = (0.0, [])
        for start, first in enumerate(below):
            first_at = parse_datetime(first.date)
            members = [
                r for r in below[start:] if first_at and (parse_datetime(r.date) or first_at) - first_at <= window
            ]
            total = sum(r.numerator for r in members)
            if total > best[0]:
                best = (total, members)
        supplier = key.partition("|")[0]
        ocids = sorted({r.ocid for r in best[1]})
        evidence = {
            "supplier": supplier,
            "division": key.partition("|")[2],
            "sum": best[0],
            "ceiling": ceiling,
            "window_days": params["window_days"],
            "ocids": ocids,
            "source": "law",
            "fields": ["buyer/id", "awards/suppliers/id", "awards/value", "awards/date", "awards/items"],
        }
        value = best[0] / ceiling if ceiling not in {0, math.inf} else None
        if len(ocids) >= 2 and best[0] >= ceiling:
            outcomes.append(
                org_outcome(
                    "R055", "buyer_supplier", buyer, FLAGGED, value, evidence, marked=(buyer, supplier), key=key
                )
            )
        else:
            outcomes.append(org_outcome("R055", "buyer_supplier", buyer, NOT_FLAGGED, value, evidence, key=key))
    return outcomes
