"""Bid-based indicators (bos.red_flags.indicators.bids): R024/R058, R025, R028, R030, R035, R036, R038, BOS-01/03/04."""

from __future__ import annotations

import pytest

from bos.red_flags.indicators import (
    REGISTRY,
    Baseline,
    Contribution,
    effective_params,
    evaluate_dataset,
)
from tests.red_flags.helpers import bid, group, process, run

RATIO_BASELINE = Baseline.from_measures([0.2, 0.21, 0.22, 0.23, 0.24, 0.25, 0.26, 0.27])


@pytest.mark.parametrize(
    ("code", "runner_up", "status"),
    [
        ("R024", 1001, "flagged"),  # d = 0.001 below the lower fence
        ("R024", 1200, "not_flagged"),
        ("R058", 3000, "flagged"),  # d = 2.0 above the upper fence
        ("R058", 1150, "not_flagged"),
    ],
)
def test_r024_r058_against_a_baseline(code: str, runner_up: int, status: str) -> None:
    release = process(bids=[bid("W", 1000), bid("L", runner_up)])
    outcome = run(code, release, RATIO_BASELINE)
    assert outcome.status == status
    assert outcome.evidence["source"] == "fence"
    if status == "flagged":
        assert "W" in outcome.marked


def test_r024_threshold_override_and_string_amounts() -> None:
    release = process(bids=[bid("W", "1000"), bid("L", "1020")])
    outcome = run("R024", release, None, threshold=0.05)
    assert outcome.status == "flagged"
    assert outcome.value == pytest.approx(0.02)
    assert outcome.marked == ("W", "L")
    assert outcome.evidence["source"] == "config"


@pytest.mark.parametrize(
    ("release", "status"),
    [
        (process(bids=[bid("W", 1000), bid("L", 900)]), "not_applicable"),  # lowest bid lost: not price-only
        (process(bids=[bid("W", 1000)]), "insufficient_data"),  # no runner-up
        (process(bids=[bid("W", 1000), bid("L", 1100)], awards=[{"status": "pending"}]), "insufficient_data"),
        ({"ocid": "p"}, "insufficient_data"),
    ],
)
def test_r024_exclusions(release: dict, status: str) -> None:
    assert run("R024", release, RATIO_BASELINE).status == status


def test_r024_degenerate_fence_is_insufficient() -> None:
    zeros = Baseline.from_measures([0.0] * 10)
    assert run("R024", process(bids=[bid("W", 1), bid("L", 1)]), zeros).status == "insufficient_data"


def test_r028_identical_prices_compare_exact_decimals() -> None:
    flagged = run("R028", process(bids=[bid("A", 100), bid("B", "100.0")]))
    assert flagged.status == "flagged"
    assert set(flagged.marked) == {"A", "B"}
    assert run("R028", process(bids=[bid("A", 100), bid("B", 100.01)])).status == "not_flagged"
    assert run("R028", process(bids=[bid("A", 100), bid("A", 100)])).status == "not_flagged"
    missing = run("R028", process(bids=[bid(None, 100), bid(None, 100)]))
    assert missing.status == "insufficient_data"
    assert "bids/details/tenderers/id" in missing.evidence["missing"]
    assert run("R028", {"ocid": "p"}).status == "insufficient_data"


def test_bos04_bid_equal_to_estimate() -> None:
    release = process(bids=[bid("A", 500), bid("B", 480)], tender={"value": {"amount": "500", "currency": "IDR"}})
    assert run("BOS-04", release).status == "flagged"
    release["tender"]["value"]["amount"] = 501
    assert run("BOS-04", release).status == "not_flagged"
    assert run("BOS-04", process(bids=[bid("A", 500)])).status == "insufficient_data"


def test_r030_late_winning_bid() -> None:
    tender = {"tenderPeriod": {"endDate": "2024-03-15T00:00:00Z"}}
    late = process(bids=[bid("W", 1, date="2024-04-01T00:00:00Z")], tender=tender)
    assert run("R030", late).status == "flagged"
    on_time = process(bids=[bid("W", 1, date="2024-03-01T00:00:00Z")], tender=tender)
    assert run("R030", on_time).status == "not_flagged"
    assert run("R030", process(bids=[bid("W", 1)], tender=tender)).status == "insufficient_data"
    assert run("R030", process(bids=[bid("W", 1)])).evidence["missing"] == ["tender/tenderPeriod/endDate"]


def test_r035_all_but_winner_disqualified() -> None:
    flagged = run("R035", process(bids=[bid("W", 1), bid("D", 1, "disqualified"), bid("E", 1, "disqualified")]))
    assert (flagged.status, flagged.value, flagged.marked) == ("flagged", 2.0, ("W",))
    assert run("R035", process(bids=[bid("W", 1), bid("V", 1), bid("D", 1, "disqualified")])).status == "not_flagged"
    assert run("R035", process(bids=[bid("D", 1, "disqualified")])).status == "insufficient_data"


def test_r036_lowest_bid_disqualified() -> None:
    assert run("R036", process(bids=[bid("D", 90, "disqualified"), bid("W", 100)])).status == "flagged"
    assert run("R036", process(bids=[bid("D", 110, "disqualified"), bid("W", 100)])).status == "not_flagged"
    assert run("R036", process(bids=[bid("D", 90, "disqualified")])).status == "insufficient_data"
    assert run("R036", process(bids=[bid("W", 1)], awards=[{"status": "cancelled"}])).status == "not_applicable"
    npc = process(bids=[bid("D", 90, "disqualified"), bid("W", 100)], tender={"procurementMethodDetails": "X"})
    params = effective_params("R036", {"no_price_comparison_procurement_methods": "X"})
    assert REGISTRY["R036"].evaluate(npc, params, None)[0].status == "not_applicable"  # type: ignore[misc]


def test_bos03_lowest_valid_bid_not_awarded() -> None:
    tender = {"awardCriteria": "priceOnly"}
    assert run("BOS-03", process(bids=[bid("W", 100), bid("L", 90)], tender=tender)).status == "flagged"
    assert run("BOS-03", process(bids=[bid("W", 80), bid("L", 90)], tender=tender)).status == "not_flagged"
    assert run("BOS-03", process(bids=[bid("W", 100), bid("L", 90)])).status == "insufficient_data"
    best_value = {"awardCriteria": "bestValueToGovernment"}
    assert run("BOS-03", process(bids=[bid("W", 100)], tender=best_value)).status == "not_applicable"


def test_r025_contributions_can_be_swapped_per_process() -> None:
    release = process("x", bids=[bid("W", 1), bid("L", 2), bid("L", 3)])
    rows = REGISTRY["R025"].contributions(release, effective_params("R025"))  # type: ignore[misc]
    assert sorted((r.subject, r.numerator, r.denominator) for r in rows) == [("L", 0.0, 1.0), ("W", 1.0, 1.0)]


def test_r038_flags_high_disqualification_ratio_and_reports_support() -> None:
    releases = [
        process(
            str(i), bids=[bid("W", 1), bid("L", 2)], buyer={"id": f"B{i}"}, tender={"procuringEntity": {"id": "P"}}
        )
        for i in range(4)
    ]
    releases.append(process("x", bids=[bid("W", 1), bid("D", 2, "disqualified")], buyer={"id": "BX"}))
    outcomes = {(o.grain, o.subject): o for o in group("R038", releases)}
    assert outcomes[("buyer", "BX")].status == "flagged"
    assert outcomes[("buyer", "B0")].status == "not_flagged"
    assert outcomes[("tenderer", "D")].status == "insufficient_data"  # one bid < minimum_submitted_bids


def test_group_evaluation_accepts_pre_summed_rows() -> None:
    rows = [
        Contribution("R038", "buyer", "B", "", 5.0, 10.0, None, "x"),
        Contribution("R038", "buyer", "C", "", 0, 10, None, "y"),
    ]
    outcomes = REGISTRY["R038"].evaluate_group(rows, effective_params("R038", {"R038": {"threshold": 0.4}}))  # type: ignore[misc]
    assert {o.subject: o.status for o in outcomes} == {"B": "flagged", "C": "not_flagged"}


def test_bos01_low_dispersion_against_method_peers() -> None:
    spread = [process(str(i), bids=[bid("A", 100), bid("B", 110 + i), bid("C", 130 + 2 * i)]) for i in range(25)]
    tight = process("T", bids=[bid("A", 100), bid("B", 100.1), bid("C", 100.2)])
    outcomes = {o.ocid: o for o in evaluate_dataset([*spread, tight], codes=["BOS-01"])}
    assert outcomes["T"].status == "flagged"
    assert outcomes["20"].status == "not_flagged"
    assert run("BOS-01", process(bids=[bid("A", 1), bid("B", 2)])).status == "insufficient_data"
