"""Bid-based indicators: the second-lowest bid ratio (R024, R058), R025 unsuccessful bids, R028 identical prices,
R030 late bid won, R035 all but the winner disqualified, R036 lowest bid disqualified, R038 disqualified bids, and
the BOS proposals BOS-01 (bid dispersion), BOS-03 (lowest valid bid not awarded), BOS-04 (bid equal to the HPS)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bos.red_flags.indicators.base import (
    FLAGGED,
    INSUFFICIENT,
    NOT_APPLICABLE,
    NOT_FLAGGED,
    BaselineInput,
    Contribution,
    Outcome,
    Params,
    ProcessResult,
    Status,
    active_awards,
    as_dict,
    as_list,
    as_str,
    awards_of,
    bid_details,
    bid_prices,
    fence_blocked,
    final_awards_and_bids,
    main_currency,
    money,
    org_id,
    org_outcome,
    parse_datetime,
    peer_baseline,
    single_baseline,
    single_supplier_final_award,
    split_pipe,
    submitted_bids,
    sum_by_subject,
    supplier_ids,
    tender_of,
    tenderer_ids,
    valid_single_tenderer_bids,
)
from bos.red_flags.stats import (
    Baseline,
    cardinal_lower_fence_usable,
    cardinal_upper_fence_usable,
    percentile,
    quartiles,
    tukey_fences,
)

# ---------------------------------------------------------------------------------------------------------------
# Second-lowest bid ratio d under eligibility E1, shared by R024 and R058
# ---------------------------------------------------------------------------------------------------------------

RATIO_FIELDS = [
    "bids/details/status",
    "bids/details/value",
    "bids/details/tenderers/id",
    "awards/status",
    "awards/suppliers/id",
]


@dataclass(frozen=True)
class BidRatio:
    ratio: float
    winner: str
    winner_amount: Decimal
    runner_up: str
    runner_up_amount: Decimal
    currency: str


def second_lowest_bid_ratio(release: Mapping[str, Any], params: Params) -> BidRatio | tuple[Status, str, list[str]]:
    """d = (runner-up - winner) / winner under E1, or (status, reason, missing fields) when not computable."""
    final = final_awards_and_bids(release)
    if final is None:
        missing = [
            f
            for f, ok in (
                ("awards", isinstance(release.get("awards"), list)),
                ("bids/details", bid_details(release) is not None),
            )
            if not ok
        ]
        if missing:
            return INSUFFICIENT, "awards or bids not published", missing
        return INSUFFICIENT, "an award is not final (pending or invalid status)", ["awards/status"]
    complete, _details = final
    if not complete:
        return NOT_APPLICABLE, "no active award", []
    if len(complete) > 1:
        return NOT_APPLICABLE, "several active awards: lots are not supported (cardinal-rs #14)", []
    suppliers = as_list(complete[0].get("suppliers"))
    if len(suppliers) > 1:
        return NOT_APPLICABLE, "award to several suppliers (consortium, cardinal-rs #17)", []
    e1 = single_supplier_final_award(release)
    if e1 is None:
        return INSUFFICIENT, "award supplier has no id", ["awards/suppliers/id"]
    supplier, details = e1
    currency = main_currency(release, params)
    winner_amount: Decimal | None = None
    runner_up: str | None = None
    runner_up_amount: Decimal | None = None
    for tenderer, amount, bid_currency in valid_single_tenderer_bids(details):
        if currency is None:
            currency = bid_currency
        if bid_currency != currency:
            continue  # Cardinal: amounts not in the main currency are skipped.
        if tenderer == supplier:
            # E1 clause 4: the winner's bid is the lowest of its own bids.
            if winner_amount is None or amount < winner_amount:
                winner_amount = amount
        elif runner_up_amount is None or amount < runner_up_amount:
            runner_up, runner_up_amount = tenderer, amount
    if winner_amount is None:
        return INSUFFICIENT, "no valid single-tenderer bid with an amount from the winner", list(RATIO_FIELDS[:3])
    if runner_up is None or runner_up_amount is None:
        return INSUFFICIENT, "no valid single-tenderer bid with an amount from another tenderer", RATIO_FIELDS[:3]
    if runner_up_amount < winner_amount:
        return NOT_APPLICABLE, "the lowest bid did not win: award criteria are not price-only", []
    if winner_amount <= 0:
        return INSUFFICIENT, "winning bid amount is not positive", ["bids/details/value/amount"]
    return BidRatio(
        ratio=float((runner_up_amount - winner_amount) / winner_amount),
        winner=supplier,
        winner_amount=winner_amount,
        runner_up=runner_up,
        runner_up_amount=runner_up_amount,
        currency=currency or "",
    )


def measure_bid_ratio(release: Mapping[str, Any], params: Params) -> list[float]:
    computed = second_lowest_bid_ratio(release, params)
    return [computed.ratio] if isinstance(computed, BidRatio) else []


def _number(value: Any, missing: float = math.nan) -> float:
    """A fence read back from JSON, where NaN and infinity were stored as null."""
    return missing if value is None else float(value)


def _ratio_evidence(computed: BidRatio) -> dict[str, Any]:
    return {
        "ratio": computed.ratio,
        "winner": computed.winner,
        "winner_amount": str(computed.winner_amount),
        "runner_up": computed.runner_up,
        "runner_up_amount": str(computed.runner_up_amount),
        "currency": computed.currency,
    }


def _not_computed(result: ProcessResult, computed: tuple[Status, str, list[str]]) -> list[Outcome]:
    status, reason, missing = computed
    if status == NOT_APPLICABLE:
        return result.not_applicable(reason)
    return result.insufficient(missing, reason)


#: Cardinal's Meta key of each bid-ratio fence and the Baseline attribute that holds it.
RATIO_FENCES = {"R024": ("lower_fence", "lower"), "R058": ("upper_fence", "upper")}


def ratio_fence_meta(code: str, peers: Baseline | None, threshold: Any = None) -> dict[str, float]:
    """Cardinal's Meta of R024 or R058: the configured ``threshold`` as the fence, else the peers' quartiles and
    fence (also read by the Cardinal export from the stored baseline)."""
    fence, attribute = RATIO_FENCES[code]
    if threshold is not None:
        return {fence: float(threshold)}
    if peers is None:
        raise ValueError(f"{code}: no threshold and no peers")
    return {"q1": peers.q1, "q3": peers.q3, fence: getattr(peers, attribute)}


def evaluate_r024(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Flag d <= lower fence Q1 - 1.5 IQR (or ``threshold``); the winner and runner-up are marked."""
    result = ProcessResult("R024", release, RATIO_FIELDS)
    computed = second_lowest_bid_ratio(release, params)
    if not isinstance(computed, BidRatio):
        return _not_computed(result, computed)
    evidence = _ratio_evidence(computed)
    threshold = params.get("threshold")
    if threshold is not None:
        lower, source, meta = float(threshold), "config", ratio_fence_meta("R024", None, threshold)
        usable = lower > 0
    else:
        peers = single_baseline(baseline)
        if peers is None:
            return result.insufficient([], "no peer baseline", **evidence)
        blocked = fence_blocked(peers, params)
        if blocked:
            return result.insufficient([], blocked, peers=peers.summary(), **evidence)
        lower, source, meta = peers.lower, "fence", ratio_fence_meta("R024", peers)
        evidence["peers"] = peers.summary()
        # Degenerate case (RED_FLAGS.md section 1): no lower fence when Q1 = 0 or the fence <= 0.
        usable = cardinal_lower_fence_usable(peers.q1, lower)
    evidence.update({"threshold": lower, "source": source, "comparison": "ratio <= threshold", "meta": meta})
    if not usable:
        return result.insufficient([], "degenerate fence (Q1 or lower fence <= 0)", **evidence)
    if computed.ratio <= lower:
        return result.flagged(computed.ratio, evidence, marked=(computed.winner, computed.runner_up))
    return result.not_flagged(computed.ratio, evidence)


def evaluate_r058(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Flag d >= upper fence Q3 + 1.5 IQR (or ``threshold``); the winner is marked."""
    result = ProcessResult("R058", release, RATIO_FIELDS)
    computed = second_lowest_bid_ratio(release, params)
    if not isinstance(computed, BidRatio):
        return _not_computed(result, computed)
    evidence = _ratio_evidence(computed)
    threshold = params.get("threshold")
    if threshold is not None:
        upper, source, meta = float(threshold), "config", ratio_fence_meta("R058", None, threshold)
    else:
        peers = single_baseline(baseline)
        if peers is None:
            return result.insufficient([], "no peer baseline", **evidence)
        blocked = fence_blocked(peers, params)
        if blocked:
            return result.insufficient([], blocked, peers=peers.summary(), **evidence)
        upper, source, meta = peers.upper, "fence", ratio_fence_meta("R058", peers)
        evidence["peers"] = peers.summary()
    evidence.update({"threshold": upper, "source": source, "comparison": "ratio >= threshold", "meta": meta})
    if not cardinal_upper_fence_usable(upper):
        return result.insufficient([], "degenerate fence (upper fence <= 0)", **evidence)
    if computed.ratio >= upper:
        return result.flagged(computed.ratio, evidence, marked=(computed.winner,))
    return result.not_flagged(computed.ratio, evidence)


# ---------------------------------------------------------------------------------------------------------------
# R025 Excessive unsuccessful bids (Cardinal, tenderer grain)
# ---------------------------------------------------------------------------------------------------------------


def contributions_r025(release: Mapping[str, Any], params: Params) -> list[Contribution]:
    """Per tenderer with a valid single-tenderer bid in an E1 process (clauses 1-3): won (0/1) of 1 process."""
    e1 = single_supplier_final_award(release)
    if e1 is None:
        return []
    supplier, details = e1
    tenderers: list[str] = []
    for bid in details:
        found = as_list(bid.get("tenderers"))
        if bid.get("status") == "valid" and len(found) == 1 and org_id(found[0]) is not None:
            tenderers.append(org_id(found[0]) or "")
    # The denominator is processes, not bids: dict.fromkeys keeps one row per tenderer.
    return [
        Contribution("R025", "tenderer", t, "", 1.0 if t == supplier else 0.0, 1.0, None, str(release["ocid"]))
        for t in dict.fromkeys(tenderers)
    ]


def evaluate_group_r025(contributions: Sequence[Contribution], params: Params) -> list[Outcome]:
    """Flag a tenderer whose process count >= p75 (``percentile``) and win ratio <= lower fence (or threshold)."""
    totals = sum_by_subject(c for c in contributions if c.code == "R025")
    if not totals:
        return []
    ratios = {k: wins / n for k, (wins, n, _o) in totals.items() if n > 0}
    # An incremental run evaluates the touched tenderers against the fences of the last full run (engine).
    pinned = (params.get("pinned") or {}).get("tenderer")
    if pinned:
        top_cut = _number(pinned["meta"].get("upper_fence"), math.inf)
    else:
        top_cut = percentile([n for (_w, n, _o) in totals.values()], float(params["percentile"])) or math.inf
    threshold = params.get("threshold")
    if threshold is not None:
        lower, q1, source, meta = float(threshold), 1.0, "config", {"lower_fence": float(threshold)}
    elif pinned:
        meta = {k: pinned["meta"].get(k) for k in ("q1", "q3", "lower_fence")}
        q1, lower, source = _number(meta["q1"]), _number(meta["lower_fence"]), "fence"
    else:
        q1, q3 = quartiles(list(ratios.values())) or (math.nan, math.nan)
        lower = tukey_fences(q1, q3)[0]
        source, meta = "fence", {"q1": q1, "q3": q3, "lower_fence": lower}
    meta["upper_fence"] = top_cut
    # Degenerate case (RED_FLAGS.md section 1): no lower fence when Q1 = 0 or the fence <= 0.
    usable = cardinal_lower_fence_usable(q1, lower)
    outcomes = []
    for subject, (wins, processes, ocids) in totals.items():
        ratio = ratios.get(subject)
        evidence = {
            "wins": wins,
            "processes": processes,
            "ratio": ratio,
            "threshold": lower,
            "source": source,
            "top_tenderer_cut": top_cut,
            "percentile": params["percentile"],
            "meta": meta,
            "ocids": ocids,
            "fields": RATIO_FIELDS,
        }
        if pinned:
            evidence["pinned"] = True
        if ratio is None or not usable:
            evidence["reason"] = "degenerate fence (Q1 or lower fence <= 0)" if usable is False else "no processes"
            outcomes.append(org_outcome("R025", "tenderer", subject, INSUFFICIENT, None, evidence))
        elif processes >= top_cut and ratio <= lower:
            outcomes.append(org_outcome("R025", "tenderer", subject, FLAGGED, ratio, evidence, marked=(subject,)))
        else:
            outcomes.append(org_outcome("R025", "tenderer", subject, NOT_FLAGGED, ratio, evidence))
    return outcomes


# ---------------------------------------------------------------------------------------------------------------
# R028 Identical bid prices (Cardinal)
# ---------------------------------------------------------------------------------------------------------------

R028_FIELDS = [
    "bids/details/status",
    "bids/details/value/amount",
    "bids/details/value/currency",
    "bids/details/tenderers/id",
]


def evaluate_r028(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Two submitted bids with equal amount and currency (exact Decimal) from different tenderer sets."""
    result = ProcessResult("R028", release, R028_FIELDS)
    if bid_details(release) is None:
        return result.insufficient(["bids/details"], "bids not published")
    bids = submitted_bids(release)
    prices: dict[tuple[Decimal, str], frozenset[str]] = {}
    marked: list[str] = []
    pairs: list[dict[str, Any]] = []
    usable = 0
    for bid in bids:
        price = money(bid.get("value"))
        ids = frozenset(tenderer_ids(bid))
        if price is None or not ids or not isinstance(bid.get("tenderers"), list):
            continue
        usable += 1
        other = prices.get(price)
        # Only different tenderer sets count: a tenderer repeating its own price is not flagged.
        if other is not None and ids != other:
            marked += sorted(ids) + sorted(other)
            pairs.append({"amount": str(price[0]), "currency": price[1], "tenderers": [sorted(other), sorted(ids)]})
        prices[price] = ids
    evidence = {"bids_compared": usable, "identical": pairs}
    if pairs:
        return result.flagged(1.0, evidence, marked=marked)
    if usable < 2:
        if len(bids) < 2:
            return result.not_applicable("fewer than two submitted bids", submitted_bids=len(bids))
        return result.insufficient(
            R028_FIELDS[1:], "fewer than two submitted bids with amount, currency and tenderer id"
        )
    return result.not_flagged(0.0, evidence)


# ---------------------------------------------------------------------------------------------------------------
# R030 Late bid won (Cardinal)
# ---------------------------------------------------------------------------------------------------------------

R030_FIELDS = ["bids/details/date", "bids/details/status", "tender/tenderPeriod/endDate", "awards/suppliers/id"]


def _is_later(bid_date: str, end_date: str, parse: bool) -> bool | None:
    if not parse:
        return bid_date > end_date  # Cardinal compares the strings.
    bid_at, end_at = parse_datetime(bid_date), parse_datetime(end_date)
    if bid_at is None or end_at is None:
        return None
    return bid_at > end_at


def evaluate_r030(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """A valid bid dated after the submission deadline from a supplier of an active award (assumes it won, #22)."""
    result = ProcessResult("R030", release, R030_FIELDS)
    end_date = as_dict(tender_of(release).get("tenderPeriod")).get("endDate")
    details = bid_details(release)
    missing = [
        f
        for f, ok in (
            ("tender/tenderPeriod/endDate", isinstance(end_date, str)),
            ("awards", isinstance(release.get("awards"), list)),
            ("bids/details", details is not None),
        )
        if not ok
    ]
    if missing:
        return result.insufficient(missing, "deadline, awards or bids not published")
    winners = {s for award in active_awards(release) for s in supplier_ids(award)}
    if not winners:
        return result.not_applicable("no active award with a supplier id")
    late: list[str] = []
    dated = 0
    for bid in details or []:
        bid_date = bid.get("date")
        if bid.get("status") != "valid" or not isinstance(bid_date, str) or not isinstance(bid.get("tenderers"), list):
            continue
        later = _is_later(bid_date, str(end_date), bool(params.get("parse_dates")))
        if later is None:
            continue
        dated += 1
        if later:
            late += [t for t in tenderer_ids(bid) if t in winners]
    evidence = {"deadline": end_date, "late_winners": sorted(set(late)), "dated_valid_bids": dated}
    if late:
        return result.flagged(1.0, evidence, marked=late)
    if dated == 0:
        return result.insufficient(["bids/details/date"], "no dated valid bid")
    return result.not_flagged(0.0, evidence)


# ---------------------------------------------------------------------------------------------------------------
# R035 All except winning bid disqualified (Cardinal)
# ---------------------------------------------------------------------------------------------------------------

R035_FIELDS = ["bids/details/status", "bids/details/tenderers/id", "awards/status", "awards/suppliers/id"]


def evaluate_r035(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """One tenderer with valid bids = the active-award suppliers, and >= ``threshold`` other tenderers have
    disqualified bids. Value: that number of other tenderers."""
    result = ProcessResult("R035", release, R035_FIELDS)
    final = final_awards_and_bids(release)
    if final is None:
        if not isinstance(release.get("awards"), list) or bid_details(release) is None:
            return result.insufficient(["awards", "bids/details"], "awards or bids not published")
        return result.insufficient(["awards/status"], "an award is not final (pending or invalid status)")
    complete, details = final
    winners = {s for award in complete for s in supplier_ids(award)}
    valid: set[str] = set()
    disqualified: set[str] = set()
    for bid in details:
        if bid.get("status") == "valid":
            valid.update(tenderer_ids(bid))
        elif bid.get("status") == "disqualified":
            disqualified.update(tenderer_ids(bid))
    others = sorted(disqualified - valid)
    threshold = max(int(params["threshold"]), 1)
    evidence = {
        "valid_tenderers": sorted(valid),
        "award_suppliers": sorted(winners),
        "disqualified_other_tenderers": others,
        "threshold": threshold,
        "source": "config",
    }
    if not valid:
        return result.insufficient(["bids/details/status"], "no valid bid with a tenderer id", **evidence)
    # Flag only the single-winner shape: one valid tenderer, and it is exactly the set of award suppliers.
    if len(valid) == 1 and valid == winners and len(others) >= threshold:
        return result.flagged(float(len(others)), evidence, marked=sorted(valid))
    return result.not_flagged(float(len(others)), evidence)


# ---------------------------------------------------------------------------------------------------------------
# R036 Lowest bid disqualified (Cardinal); BOS-03 lowest valid bid not awarded (Proposal)
# ---------------------------------------------------------------------------------------------------------------

R036_FIELDS = ["bids/details/status", "bids/details/value", "awards/status"]


def evaluate_r036(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """>= 1 active award, >= 1 valid bid with an amount, and the lowest submitted bid is disqualified.

    Cardinal does not read ``awardCriteria``; it relies on the price-comparison method lists.
    """
    result = ProcessResult("R036", release, R036_FIELDS)
    if not isinstance(release.get("awards"), list):
        return result.insufficient(["awards"], "awards not published")
    if not any(a.get("status") == "active" for a in awards_of(release)):
        return result.not_applicable("no active award")
    currency = main_currency(release, params)
    lowest: tuple[Decimal, str] | None = None
    has_valid = False
    for bid, amount, bid_currency in bid_prices(release):
        currency = currency or bid_currency
        if bid_currency != currency:
            continue
        # Strict "<": on a tie the first bid in the list stays the lowest, as in Cardinal.
        if lowest is None or amount < lowest[0]:
            lowest = (amount, str(bid.get("status")))
        has_valid = has_valid or bid.get("status") == "valid"
    if lowest is None or not has_valid:
        return result.insufficient(["bids/details/value/amount"], "no valid submitted bid with an amount")
    evidence = {"lowest_amount": str(lowest[0]), "lowest_status": lowest[1], "currency": currency}
    if lowest[1] == "disqualified":
        return result.flagged(1.0, evidence)
    return result.not_flagged(0.0, evidence)


def evaluate_bos03(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """BOS Proposal: the lowest valid bid is not from a supplier of the active award (price-only awards)."""
    result = ProcessResult("BOS-03", release, [*R036_FIELDS, "tender/awardCriteria", "bids/details/tenderers/id"])
    criteria = tender_of(release).get("awardCriteria")
    allowed = split_pipe(params.get("price_comparison_procurement_methods"))
    if isinstance(criteria, str) and criteria != "priceOnly":
        return result.not_applicable("award criteria are not price-only", award_criteria=criteria)
    if criteria is None and not allowed:
        return result.insufficient(["tender/awardCriteria"], "award criteria not published")
    final = final_awards_and_bids(release)
    if final is None:
        return result.insufficient(["awards/status", "bids/details"], "awards not final or bids not published")
    winners = {s for award in final[0] for s in supplier_ids(award)}
    if not winners:
        return result.not_applicable("no active award with a supplier id")
    currency = main_currency(release, params)
    valid = [(t, a) for t, a, c in valid_single_tenderer_bids(final[1]) if currency is None or c == currency]
    if not valid:
        return result.insufficient(["bids/details/value"], "no valid single-tenderer bid with an amount")
    lowest_amount = min(a for _t, a in valid)
    lowest_tenderers = sorted({t for t, a in valid if a == lowest_amount})
    evidence = {"lowest_amount": str(lowest_amount), "lowest_tenderers": lowest_tenderers, "winners": sorted(winners)}
    if not winners.intersection(lowest_tenderers):
        return result.flagged(1.0, evidence, marked=lowest_tenderers)
    return result.not_flagged(0.0, evidence)


# ---------------------------------------------------------------------------------------------------------------
# R038 Excessive disqualified bids (Cardinal, buyer / procuring entity / tenderer grain)
# ---------------------------------------------------------------------------------------------------------------

R038_FIELDS = ["bids/details/status", "buyer/id", "tender/procuringEntity/id", "bids/details/tenderers/id"]
_CARDINAL_GROUP: dict[str, str] = {
    "buyer": "Buyer",
    "procuring_entity": "ProcuringEntity",
    "tenderer": "Tenderer",
}


def contributions_r038(release: Mapping[str, Any], params: Params) -> list[Contribution]:
    """Disqualified of submitted bids, per buyer and procuring entity (per process) and per tenderer (per bid)."""
    bids = submitted_bids(release)
    if not bids:
        return []
    ocid = str(release["ocid"])
    disqualified = sum(1 for bid in bids if bid.get("status") == "disqualified")
    rows: list[Contribution] = []
    for grain, reference in (
        ("buyer", release.get("buyer")),
        ("procuring_entity", tender_of(release).get("procuringEntity")),
    ):
        subject = org_id(reference)
        if subject is not None:
            rows.append(Contribution("R038", grain, subject, "", float(disqualified), float(len(bids)), None, ocid))
    per_tenderer: dict[str, list[float]] = {}
    for bid in bids:
        for tenderer in tenderer_ids(bid):
            counts = per_tenderer.setdefault(tenderer, [0.0, 0.0])
            counts[0] += 1.0 if bid.get("status") == "disqualified" else 0.0
            counts[1] += 1.0
    rows += [Contribution("R038", "tenderer", t, "", d, n, None, ocid) for t, (d, n) in per_tenderer.items()]
    return rows


def evaluate_group_r038(contributions: Sequence[Contribution], params: Params) -> list[Outcome]:
    """Flag ratio >= upper fence Q3 + 1.5 IQR (or ``threshold``), per grain, among organisations with support.

    Minimum support compares pooled submitted bids (Cardinal's code) unless ``minimum_counts_processes`` (BOS
    Proposal: count processes, as Cardinal documents for buyers and procuring entities).
    """
    outcomes: list[Outcome] = []
    for grain, group in _CARDINAL_GROUP.items():
        totals = sum_by_subject(c for c in contributions if c.code == "R038" and c.grain == grain)
        if grain == "tenderer":
            minimum = int(params["minimum_submitted_bids"])
        else:
            minimum = int(params["minimum_contracting_processes"])

        def support(item: tuple[float, float, list[str]], grain: str = grain) -> float:
            if grain != "tenderer" and params.get("minimum_counts_processes"):
                return len(item[2])
            return item[1]

        eligible = {k: v[0] / v[1] for k, v in totals.items() if v[1] > 0 and support(v) >= minimum}
        threshold = params.get("threshold")
        pinned = (params.get("pinned") or {}).get(grain)
        if threshold is not None:
            upper, source, meta = float(threshold), "config", {f"{group}_upper_fence": float(threshold)}
        elif pinned:
            # An incremental run evaluates the touched organisations against the fence of the last full run.
            upper, source, meta = _number(pinned["threshold"]), "fence", dict(pinned["meta"])
        elif eligible:
            q1, q3 = quartiles(list(eligible.values())) or (math.nan, math.nan)
            upper = tukey_fences(q1, q3)[1]
            source = "fence"
            meta = {f"{group}_q1": q1, f"{group}_q3": q3, f"{group}_upper_fence": upper}
        else:
            upper, source, meta = math.nan, "fence", {}
        for subject, (disqualified, submitted, ocids) in totals.items():
            ratio = eligible.get(subject)
            evidence: dict[str, Any] = {
                "disqualified": disqualified,
                "submitted": submitted,
                "processes": len(ocids),
                "minimum": minimum,
                "threshold": upper,
                "source": source,
                "meta": meta,
                "ocids": ocids,
                "fields": R038_FIELDS,
            }
            if pinned and threshold is None:
                evidence["pinned"] = True
            if ratio is None:
                evidence["reason"] = "below minimum support"
                outcomes.append(org_outcome("R038", grain, subject, INSUFFICIENT, None, evidence))  # type: ignore[arg-type]
            elif not cardinal_upper_fence_usable(upper):
                # Degenerate case (RED_FLAGS.md section 1): an upper fence <= 0 is not used.
                evidence["reason"] = "degenerate fence (upper fence <= 0)"
                outcomes.append(org_outcome("R038", grain, subject, INSUFFICIENT, ratio, evidence))  # type: ignore[arg-type]
            else:
                status = FLAGGED if ratio >= upper else NOT_FLAGGED
                outcomes.append(
                    org_outcome(
                        "R038",
                        grain,
                        subject,
                        status,
                        ratio,
                        evidence,
                        marked=(subject,)  # type: ignore[arg-type]
                        if status == FLAGGED
                        else (),
                    )
                )
    return outcomes


# ---------------------------------------------------------------------------------------------------------------
# BOS-04 Bid exactly equal to the estimate
# ---------------------------------------------------------------------------------------------------------------


def evaluate_bos04(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """A submitted bid exactly equal to the HPS (exact Decimal comparison): the estimate may have leaked."""
    result = ProcessResult("BOS-04", release, ["tender/value", "bids/details/value", "bids/details/tenderers/id"])
    hps = money(tender_of(release).get("value"))
    if hps is None:
        return result.insufficient(["tender/value"], "estimate (HPS) not published")
    prices = bid_prices(release)
    if not prices:
        return result.insufficient(["bids/details/value"], "no submitted bid with an amount")
    equal = [bid for bid, amount, currency in prices if currency == hps[1] and amount == hps[0]]
    evidence = {"hps": str(hps[0]), "currency": hps[1], "bids_compared": len(prices), "equal_bids": len(equal)}
    if equal:
        return result.flagged(1.0, evidence, marked=[t for bid in equal for t in tenderer_ids(bid)])
    return result.not_flagged(0.0, evidence)


# ---------------------------------------------------------------------------------------------------------------
# BOS-01 Low bid dispersion (coefficient of variation, Imhof 2017)
# ---------------------------------------------------------------------------------------------------------------

BOS01_FIELDS = ["bids/details/value", "tender/procurementMethod", "tender/mainProcurementCategory"]


def _bid_cv(release: Mapping[str, Any], params: Params) -> float | None:
    currency = main_currency(release, params)
    amounts = [float(a) for _b, a, c in bid_prices(release) if currency is None or c == currency]
    if len(amounts) < int(params["min_bids"]):
        return None
    mean = sum(amounts) / len(amounts)
    if mean <= 0:
        return None
    variance = sum((a - mean) ** 2 for a in amounts) / len(amounts)
    return math.sqrt(variance) / mean


def peer_key_method_category(release: Mapping[str, Any], params: Params) -> str:
    tender = tender_of(release)
    return f"{as_str(tender.get('procurementMethod')) or ''}|{as_str(tender.get('mainProcurementCategory')) or ''}"


def measure_bos01(release: Mapping[str, Any], params: Params) -> list[float]:
    cv = _bid_cv(release, params)
    return [] if cv is None else [cv]


def peer_keys_bos01(release: Mapping[str, Any], params: Params) -> list[str]:
    return [peer_key_method_category(release, params)] * len(measure_bos01(release, params))


def evaluate_bos01(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Flag CV <= the 5th percentile of its method x category peers (bids suspiciously close together)."""
    result = ProcessResult("BOS-01", release, BOS01_FIELDS)
    cv = _bid_cv(release, params)
    if cv is None:
        return result.insufficient(
            ["bids/details/value"], f"fewer than {params['min_bids']} submitted bids with amounts"
        )
    key = peer_key_method_category(release, params)
    peers = peer_baseline(baseline, key)
    if peers is None or peers.n < int(params["min_fence_n"]):
        return result.insufficient([], "too few peers", cv=cv, peer_key=key, n=peers.n if peers else 0)
    evidence = {"cv": cv, "threshold": peers.p05, "source": "fence", "peer_key": key, "peers": peers.summary()}
    return result.flagged(cv, evidence) if cv <= peers.p05 else result.not_flagged(cv, evidence)
