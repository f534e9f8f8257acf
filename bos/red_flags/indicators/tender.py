"""Tender-phase and timing indicators: R003 short submission period, R018 single bid, R010 non-competitive method
above its ceiling, R031 award close to the estimate (HPS), R061/R062 decision period anomalies."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bos.red_flags.indicators.base import (
    NUMBER_TYPES,
    BaselineInput,
    Outcome,
    Params,
    ProcessResult,
    active_awards,
    as_dict,
    as_list,
    bid_prices,
    days_between,
    matches_procurement_method,
    money,
    nonblank,
    org_id,
    parse_datetime,
    parse_rfc3339,
    peer_baseline,
    split_pipe,
    submitted_bids,
    supplier_ids,
    tender_of,
    tenderer_ids,
    whole_days,
)
from bos.red_flags.indicators.indonesia import (
    INDONESIAN_FIELDS,
    estimate_value,
    indonesian_method,
    pl_ceiling,
    procurement_category,
)

# ---------------------------------------------------------------------------------------------------------------
# R003 Short submission period (Cardinal)
# ---------------------------------------------------------------------------------------------------------------

R003_FIELDS = ["tender/tenderPeriod/startDate", "tender/tenderPeriod/endDate", "tender/procurementMethodDetails"]


def evaluate_r003(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    result = ProcessResult("R003", release, R003_FIELDS)
    tender = tender_of(release)
    methods = split_pipe(params.get("procurement_methods"))
    if not matches_procurement_method(tender, methods):
        return result.not_applicable(
            "procurement method not in procurement_methods", procurement_methods=sorted(methods)
        )
    period = as_dict(tender.get("tenderPeriod"))
    missing = [f"tender/tenderPeriod/{k}" for k in ("startDate", "endDate") if not isinstance(period.get(k), str)]
    if missing:
        return result.insufficient(missing, "submission period dates missing")
    start, end = parse_rfc3339(period["startDate"]), parse_rfc3339(period["endDate"])
    if start is None or end is None:
        # A date that is not RFC 3339 (e.g. offset "+07" or none) skips the process (RED_FLAGS.md).
        return result.insufficient(
            [f for f, d in zip(R003_FIELDS[:2], (start, end), strict=True) if d is None],
            "date is not RFC 3339",
            start=period["startDate"],
            end=period["endDate"],
        )
    days = whole_days(start, end)
    details = tender.get("procurementMethodDetails")
    per_details = as_dict(params.get("procurement_method_details"))
    threshold = per_details.get(details, params["threshold"]) if isinstance(details, str) else params["threshold"]
    evidence = {"days": days, "threshold": threshold, "source": "config", "comparison": "days < threshold"}
    # A negative length (end before start) counts as short, as in Cardinal.
    if days < threshold:
        return result.flagged(1.0, evidence)
    return result.not_flagged(0.0, evidence)


# ---------------------------------------------------------------------------------------------------------------
# R018 Single bid received (Cardinal)
# ---------------------------------------------------------------------------------------------------------------

R018_FIELDS = ["tender/numberOfTenderers", "tender/procurementMethod"]


def _counted_tenderers(release: Mapping[str, Any]) -> tuple[int, str] | None:
    """BOS Proposal (#46, #90): tenderers of submitted bids, else ``tender/tenderers``; with the source field."""
    bid_tenderers = {i for bid in submitted_bids(release) for i in tenderer_ids(bid)}
    if bid_tenderers:
        return len(bid_tenderers), "bids/details/tenderers"
    listed = as_list(tender_of(release).get("tenderers"))
    ids = {org_id(t) or nonblank(as_dict(t).get("name")) for t in listed if isinstance(t, dict)}
    ids.discard(None)
    if ids:
        return len(ids), "tender/tenderers"
    return None


def evaluate_r018(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    result = ProcessResult("R018", release, R018_FIELDS)
    tender = tender_of(release)
    methods = split_pipe(params.get("procurement_methods"))
    if not matches_procurement_method(tender, methods):
        return result.not_applicable(
            "procurement method is not competitive (procurement_methods)", procurement_methods=sorted(methods)
        )
    count = tender.get("numberOfTenderers")
    if isinstance(count, NUMBER_TYPES) and not isinstance(count, bool):
        # Only the JSON integer 1 flags (RED_FLAGS.md): 1.0 is a float and is not flagged.
        evidence = {"number_of_tenderers": count, "source_field": "tender/numberOfTenderers", "threshold": 1}
        if isinstance(count, int) and count == 1:
            return result.flagged(1.0, evidence)
        return result.not_flagged(0.0, evidence)
    if params.get("fallback_tenderers"):
        counted = _counted_tenderers(release)
        if counted is not None:
            evidence = {"number_of_tenderers": counted[0], "source_field": counted[1], "threshold": 1}
            return result.flagged(1.0, evidence) if counted[0] == 1 else result.not_flagged(0.0, evidence)
    return result.insufficient(["tender/numberOfTenderers"], "number of tenderers not published")


# ---------------------------------------------------------------------------------------------------------------
# R010 Non-competitive method above threshold (Indonesian law)
# ---------------------------------------------------------------------------------------------------------------


def evaluate_r010(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Pengadaan Langsung above its category ceiling (Perpres 16/2018 Pasal 38, 41), or Penunjukan Langsung
    without a published rationale."""
    result = ProcessResult("R010", release, INDONESIAN_FIELDS)
    method = indonesian_method(release, params)
    if method == "penunjukan_langsung":
        rationale = nonblank(tender_of(release).get("procurementMethodRationale"))
        evidence = {"method": method, "rationale": rationale, "source": "law", "rule": "rationale required"}
        return result.not_flagged(0.0, evidence) if rationale else result.flagged(1.0, evidence)
    if method != "pengadaan_langsung":
        return result.not_applicable("not Pengadaan Langsung or Penunjukan Langsung", method=method)
    category = procurement_category(release)
    if category is None:
        return result.insufficient(["tender/mainProcurementCategory"], "procurement category not published")
    value = estimate_value(release)
    if value is None:
        return result.insufficient(["tender/value"], "estimate (HPS) not published")
    amount, currency, source_field = value
    if currency != params["ceiling_currency"]:
        return result.not_applicable(f"ceilings are in {params['ceiling_currency']}", currency=currency)
    ceiling = pl_ceiling(params, category)
    evidence = {
        "method": method,
        "category": category,
        "amount": str(amount),
        "amount_field": source_field,
        "threshold": str(ceiling),
        "source": "law",
        "comparison": "amount > ceiling",
    }
    ratio = float(amount / ceiling)
    return result.flagged(ratio, evidence) if amount > ceiling else result.not_flagged(ratio, evidence)


# ---------------------------------------------------------------------------------------------------------------
# R031 Award at or above the estimate (HPS)
# ---------------------------------------------------------------------------------------------------------------

R031_FIELDS = ["awards/value/amount", "tender/value/amount", "bids/details/value", "planning/budget/amount"]


def otn_hps_band(ratio: float) -> int:
    """OTN U-shaped band (1-5) on the discount 1 - award/HPS; middle bands (12-20%) to verify."""
    discount = 1 - ratio
    for upper, band in (
        (0.0, 5),
        (0.01, 5),
        (0.02, 4),
        (0.03, 3),
        (0.04, 2),
        (0.08, 1),
        (0.12, 2),
        (0.16, 3),
        (0.20, 4),
    ):
        if discount < upper:
            return band
    return 5


def evaluate_r031(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Flag award / HPS >= ``ratio_threshold`` (0.98, OTN band >= 4) or a submitted bid equal to the HPS.

    An award above the HPS breaches Pasal 26(5)(b). No HPS is required for E-purchasing or pagu <= Rp10 juta
    (Pasal 26(7)): not applicable.
    """
    result = ProcessResult("R031", release, R031_FIELDS)
    budget = money(as_dict(as_dict(release.get("planning")).get("budget")).get("amount"))
    if indonesian_method(release, params) == "e_purchasing":
        return result.not_applicable("no HPS required for E-purchasing")
    if budget is not None and budget[1] == "IDR" and budget[0] <= Decimal(str(params["no_hps_budget_ceiling"])):
        return result.not_applicable("no HPS required for a pagu <= Rp10 juta", budget=str(budget[0]))
    hps = money(tender_of(release).get("value"))
    if hps is None or hps[0] <= 0:
        return result.insufficient(["tender/value/amount"], "estimate (HPS) not published")
    awards = active_awards(release)
    if not awards:
        return result.not_applicable("no active award")
    values = [money(a.get("value")) for a in awards]
    if any(v is None or v[1] != hps[1] for v in values):
        return result.insufficient(["awards/value/amount"], "active award value missing or not in the HPS currency")
    awarded = sum((v[0] for v in values if v), Decimal(0))
    ratio = float(awarded / hps[0])
    equal_bids = [str(amount) for _b, amount, cur in bid_prices(release) if cur == hps[1] and amount == hps[0]]
    band = otn_hps_band(ratio)
    evidence = {
        "award_amount": str(awarded),
        "hps": str(hps[0]),
        "currency": hps[1],
        "ratio": ratio,
        "otn_band": band,
        "bids_equal_to_hps": len(equal_bids),
        "threshold": params["ratio_threshold"],
        "source": "config",
        "above_hps": ratio > 1,
    }
    score = 1.0 if ratio > 1 or equal_bids else (band - 1) / 4
    if ratio >= float(params["ratio_threshold"]) or equal_bids:
        winners = [s for a in awards for s in supplier_ids(a)]
        return result.flagged(ratio, evidence, marked=winners, score=score)
    return result.not_flagged(ratio, evidence, score=score)


# ---------------------------------------------------------------------------------------------------------------
# R061 / R062 Decision period anomaly (peers by procurement method)
# ---------------------------------------------------------------------------------------------------------------

DECISION_FIELDS = ["tender/tenderPeriod/endDate", "tender/awardPeriod/startDate", "awards/date", "awards/status"]


def decision_days(release: Mapping[str, Any]) -> float | None:
    """Days from the submission deadline (else award period start) to the first active award."""
    tender = tender_of(release)
    start = parse_datetime(as_dict(tender.get("tenderPeriod")).get("endDate")) or parse_datetime(
        as_dict(tender.get("awardPeriod")).get("startDate")
    )
    dates = [d for d in (parse_datetime(a.get("date")) for a in active_awards(release)) if d is not None]
    if start is None or not dates:
        return None
    return days_between(start, min(dates))


def peer_key_method(release: Mapping[str, Any], params: Params) -> str:
    value = tender_of(release).get(str(params.get("stratify_by", "procurementMethod")))
    return value if isinstance(value, str) else ""


def measure_decision(release: Mapping[str, Any], params: Params) -> list[float]:
    days = decision_days(release)
    return [] if days is None else [days]


def peer_keys_decision(release: Mapping[str, Any], params: Params) -> list[str]:
    return [peer_key_method(release, params)] * len(measure_decision(release, params))


def _evaluate_decision(
    code: str, high: bool, release: Mapping[str, Any], params: Params, baseline: BaselineInput
) -> list[Outcome]:
    result = ProcessResult(code, release, DECISION_FIELDS)
    if not active_awards(release):
        return result.not_applicable("no active award")
    days = decision_days(release)
    if days is None:
        return result.insufficient(["tender/tenderPeriod/endDate", "awards/date"], "deadline or award date missing")
    key = peer_key_method(release, params)
    peers = peer_baseline(baseline, key)
    if peers is None or peers.n < int(params["min_fence_n"]) or peers.iqr <= 0:
        return result.insufficient([], "too few peers or no spread (IQR = 0)", days=days, peer_key=key)
    fence = peers.upper if high else peers.lower
    evidence = {"days": days, "threshold": fence, "source": "fence", "peer_key": key, "peers": peers.summary()}
    hit = days >= fence if high else days <= fence
    return result.flagged(days, evidence) if hit else result.not_flagged(days, evidence)


def evaluate_r061(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Decision period <= the lower fence of its method's peers (decided unusually fast)."""
    return _evaluate_decision("R061", False, release, params, baseline)


def evaluate_r062(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Decision period >= the upper fence of its method's peers (decided unusually slowly)."""
    return _evaluate_decision("R062", True, release, params, baseline)
