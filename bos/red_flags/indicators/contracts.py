"""Contract-phase indicators: R069 value raised by amendments, R064 many amendments, R063 contract not published,
R060 contract without award, R068 payments above the contract value."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bos.red_flags.indicators.base import (
    FLAGGED,
    BaselineInput,
    Outcome,
    Params,
    ProcessResult,
    active_awards,
    as_dict,
    as_list,
    awards_of,
    contracts_of,
    days_between,
    money,
    parse_datetime,
    supplier_ids,
)

# ---------------------------------------------------------------------------------------------------------------
# R069 / R064 Contract raised by amendments
# ---------------------------------------------------------------------------------------------------------------

R069_FIELDS = ["contracts/value", "contracts/awardID", "awards/value", "contracts/amendments"]


def _amendments(contract: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OCDS 1.1 ``amendments`` plus a 1.0 ``amendment`` object."""
    found = [a for a in as_list(contract.get("amendments")) if isinstance(a, dict)]
    single = contract.get("amendment")
    if isinstance(single, dict) and single not in found:
        found.append(single)
    return found


def _value_at_signing(contract: Mapping[str, Any], release: Mapping[str, Any]) -> tuple[Decimal, str, str] | None:
    """Earliest former value recorded in amendment ``changes``, else the related award's value."""
    for amendment in sorted(_amendments(contract), key=lambda a: str(a.get("date") or "")):
        for raw_change in as_list(amendment.get("changes")):
            change = as_dict(raw_change)
            if change.get("property") in {"value", "value/amount"}:
                former = change.get("former_value")
                price = money(former) if isinstance(former, dict) else None
                if price is not None:
                    return price[0], price[1], "contracts/amendments/changes/former_value"
    award_id = contract.get("awardID")
    for award in awards_of(release):
        if award_id is not None and str(award.get("id")) == str(award_id):
            price = money(award.get("value"))
            if price is not None:
                return price[0], price[1], "awards/value"
    return None


def evaluate_r069(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Flag contract value now / value at signing - 1 > ``max_increase`` (10%, Perpres 16/2018 Pasal 54(2))."""
    result = ProcessResult("R069", release, R069_FIELDS)
    contracts = contracts_of(release)
    if not contracts:
        return result.not_applicable("no contract")
    rows, missing = [], set()
    for contract in contracts:
        now = money(contract.get("value"))
        signing = _value_at_signing(contract, release)
        if now is None:
            missing.add("contracts/value")
            continue
        if signing is None or signing[1] != now[1] or signing[0] <= 0:
            missing.add("awards/value")
            continue
        rows.append(
            {
                "contract": str(contract.get("id")),
                "value": str(now[0]),
                "signing_value": str(signing[0]),
                "signing_field": signing[2],
                "increase": float(now[0] / signing[0] - 1),
            }
        )
    if not rows:
        return result.insufficient(sorted(missing), "contract value or value at signing not published")
    top = max(r["increase"] for r in rows)
    evidence = {"contracts": rows, "threshold": params["max_increase"], "source": "law"}
    if top > float(params["max_increase"]):
        return result.flagged(top, evidence)
    return result.not_flagged(top, evidence)


def _period_extensions(contract: Mapping[str, Any]) -> int:
    return sum(
        1
        for amendment in _amendments(contract)
        if any("period" in str(as_dict(c).get("property", "")) for c in as_list(amendment.get("changes")))
    )


def evaluate_r064(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Flag a contract with >= ``max_amendments`` amendments or >= ``max_period_extensions`` period changes."""
    result = ProcessResult("R064", release, ["contracts/amendments", "contracts/amendments/changes/property"])
    contracts = contracts_of(release)
    if not contracts:
        return result.not_applicable("no contract")
    counts = [len(_amendments(c)) for c in contracts]
    extensions = [_period_extensions(c) for c in contracts]
    evidence = {
        "amendments": max(counts),
        "period_extensions": max(extensions),
        "threshold": {"amendments": params["max_amendments"], "period_extensions": params["max_period_extensions"]},
        "source": "config",
    }
    if max(counts) >= int(params["max_amendments"]) or max(extensions) >= int(params["max_period_extensions"]):
        return result.flagged(float(max(counts)), evidence)
    return result.not_flagged(float(max(counts)), evidence)


# ---------------------------------------------------------------------------------------------------------------
# R063 / R060 / R068 Late or missing publication, payments above contract value
# ---------------------------------------------------------------------------------------------------------------


def _as_of(params: Params) -> datetime:
    configured = parse_datetime(params.get("as_of"))
    return configured or datetime.now(UTC)


def evaluate_r063(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """An active award older than ``grace_days`` (as of ``as_of``, default now) with no contract published."""
    result = ProcessResult("R063", release, ["awards/status", "awards/date", "awards/id", "contracts/awardID"])
    awards = active_awards(release)
    if not awards:
        return result.not_applicable("no active award")
    contracted = {str(c.get("awardID")) for c in contracts_of(release) if c.get("awardID") is not None}
    as_of = _as_of(params)
    grace = float(params["grace_days"])
    late, pending, undated = [], [], []
    for award in awards:
        if str(award.get("id")) in contracted:
            continue
        awarded_at = parse_datetime(award.get("date"))
        if awarded_at is None:
            undated.append(str(award.get("id")))
        elif days_between(awarded_at, as_of) > grace:
            late.append({"award": str(award.get("id")), "days": days_between(awarded_at, as_of)})
        else:
            late_after = (awarded_at + timedelta(days=grace)).isoformat()
            pending.append({"award": str(award.get("id")), "late_after": late_after})
    evidence = {"late_awards": late, "pending_awards": pending, "threshold": params["grace_days"], "source": "config"}
    if late:
        evidence["as_of"] = as_of.isoformat()
        return result.flagged(
            max(r["days"] for r in late), evidence, marked=[s for a in awards for s in supplier_ids(a)]
        )
    if undated:
        return result.insufficient(["awards/date"], "award without contract has no date", awards=undated)
    # No "as of" here: the day changes every night, the dates an award would turn late do not, so a pending
    # process's stored outcome stays the same (the nightly run rewrites nothing) until it is flagged.
    return result.not_flagged(0.0, evidence)


def r063_day_bound(outcome: Outcome) -> bool:
    """Late awards grow older every day and a pending one turns late on its date: both depend on the day."""
    return outcome.status == FLAGGED or bool(outcome.evidence.get("pending_awards"))


def evaluate_r060(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """A contract whose ``awardID`` matches no published award (the award was never published)."""
    result = ProcessResult("R060", release, ["contracts/awardID", "awards/id"])
    contracts = contracts_of(release)
    if not contracts:
        return result.not_applicable("no contract")
    award_ids = {str(a.get("id")) for a in awards_of(release) if a.get("id") is not None}
    orphans = [str(c.get("id")) for c in contracts if c.get("awardID") is None or str(c["awardID"]) not in award_ids]
    evidence = {"contracts_without_award": orphans, "source": "config"}
    return result.flagged(1.0, evidence) if orphans else result.not_flagged(0.0, evidence)


def evaluate_r068(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
    """Sum of a contract's transactions > contract value x (1 + ``tolerance``)."""
    result = ProcessResult("R068", release, ["contracts/value", "contracts/implementation/transactions/value"])
    contracts = [c for c in contracts_of(release) if as_list(as_dict(c.get("implementation")).get("transactions"))]
    if not contracts:
        return result.not_applicable("no transactions published")
    rows, missing = [], set()
    tolerance = Decimal(str(params["tolerance"]))
    for contract in contracts:
        value = money(contract.get("value"))
        if value is None:
            missing.add("contracts/value")
            continue
        paid = Decimal(0)
        for raw_transaction in as_list(as_dict(contract.get("implementation")).get("transactions")):
            transaction = as_dict(raw_transaction)
            # OCDS 1.1 ``value``; 1.0 ``amount``.
            price = money(transaction.get("value")) or money(transaction.get("amount"))
            if price is not None and price[1] == value[1]:
                paid += price[0]
        rows.append(
            {
                "contract": str(contract.get("id")),
                "paid": str(paid),
                "value": str(value[0]),
                "exceeds": paid > value[0] * (1 + tolerance),
                "ratio": float(paid / value[0]) if value[0] > 0 else None,
            }
        )
    if not rows:
        return result.insufficient(sorted(missing), "contract value not published")
    evidence = {"contracts": rows, "threshold": str(tolerance), "source": "config"}
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    top = max(ratios) if ratios else None
    if any(r["exceeds"] for r in rows):
        return result.flagged(top if top is not None else 1.0, evidence)
    return result.not_flagged(top, evidence)
