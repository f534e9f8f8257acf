"""Tender-phase and timing indicators (bos.red_flags.indicators.tender): R003, R018, R010, R031, R061/R062."""

from __future__ import annotations

from typing import Any

import pytest

from bos.red_flags.indicators import (
    evaluate_dataset,
)
from tests.red_flags.helpers import bid, process, run
from tests.red_flags.helpers import pl_release as _pl


def _period(start: str, end: str, **tender: Any) -> dict:
    return {"ocid": "p", "tender": {"tenderPeriod": {"startDate": start, "endDate": end}, **tender}}


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        ("2024-01-01T00:00:00Z", "2024-01-10T00:00:00Z", "flagged"),
        ("2024-01-01T00:00:00+07:00", "2024-01-16T00:00:00+07:00", "not_flagged"),
        ("2024-01-10T00:00:00Z", "2024-01-01T00:00:00Z", "flagged"),  # end before start counts as short
        ("2024-01-01T00:00:00+07", "2024-01-05T00:00:00+07", "insufficient_data"),  # not RFC 3339
        ("2024-01-01", "2024-01-05", "insufficient_data"),
    ],
)
def test_r003(start: str, end: str, status: str) -> None:
    assert run("R003", _period(start, end)).status == status


def test_r003_missing_dates_are_named() -> None:
    outcome = run("R003", {"ocid": "p", "tender": {"tenderPeriod": {"startDate": "2024-01-01T00:00:00Z"}}})
    assert outcome.status == "insufficient_data"
    assert outcome.evidence["missing"] == ["tender/tenderPeriod/endDate"]


@pytest.mark.parametrize(
    ("tender", "status"),
    [
        ({"numberOfTenderers": 1, "procurementMethod": "open"}, "flagged"),
        ({"numberOfTenderers": 1.0, "procurementMethod": "open"}, "not_flagged"),  # Cardinal: only the integer 1
        ({"numberOfTenderers": 3, "procurementMethod": "selective"}, "not_flagged"),
        ({"numberOfTenderers": 1, "procurementMethod": "direct"}, "not_applicable"),
        ({"procurementMethod": "open"}, "insufficient_data"),
    ],
)
def test_r018(tender: dict, status: str) -> None:
    assert run("R018", {"ocid": "p", "tender": tender}).status == status


def test_r018_fallback_counts_tenderers_and_names_the_source() -> None:
    release = {"ocid": "p", "tender": {"procurementMethod": "open", "tenderers": [{"id": "T1"}]}}
    outcome = run("R018", release, fallback_tenderers=True)
    assert outcome.status == "flagged"
    assert outcome.evidence["source_field"] == "tender/tenderers"


@pytest.mark.parametrize(
    ("release", "status"),
    [
        (_pl(250_000_000), "flagged"),
        (_pl(200_000_000), "not_flagged"),  # at the ceiling is allowed
        (_pl(150_000_000, "services", additionalProcurementCategories=["consultingServices"]), "flagged"),
        (_pl(150_000_000, "works"), "not_flagged"),
        (_pl(None), "insufficient_data"),
        ({"ocid": "d", "tender": {"procurementMethodDetails": "Penunjukan Langsung"}}, "flagged"),
        (
            {
                "ocid": "d",
                "tender": {"procurementMethodDetails": "Penunjukan Langsung", "procurementMethodRationale": "Bencana"},
            },
            "not_flagged",
        ),
        (
            {"ocid": "t", "tender": {"procurementMethod": "open", "procurementMethodDetails": "Tender"}},
            "not_applicable",
        ),
    ],
)
def test_r010(release: dict, status: str) -> None:
    assert run("R010", release).status == status


def _hps(award: Any, hps: Any = 1_000_000_000, bids: list[dict] | None = None) -> dict:
    release = process(bids=bids, tender={"value": {"amount": hps, "currency": "IDR"}})
    release["awards"][0]["value"] = {"amount": award, "currency": "IDR"}
    return release


def test_r031_award_close_to_hps() -> None:
    assert run("R031", _hps(990_000_000)).status == "flagged"
    assert run("R031", _hps(1_010_000_000)).evidence["above_hps"] is True
    assert run("R031", _hps(900_000_000)).status == "not_flagged"
    assert run("R031", _hps(900_000_000, bids=[bid("X", 1_000_000_000)])).status == "flagged"
    assert run("R031", _hps(900_000_000, hps=None)).status == "insufficient_data"
    epurchasing = _hps(1)
    epurchasing["tender"]["procurementMethodDetails"] = "E-purchasing"
    assert run("R031", epurchasing).status == "not_applicable"


def _decision(ocid: str, days: int) -> dict:
    release = process(ocid, tender={"procurementMethod": "open", "tenderPeriod": {"endDate": "2024-01-01T00:00:00Z"}})
    release["awards"][0]["date"] = f"2024-{1 + days // 28:02d}-{1 + days % 28:02d}T00:00:00Z"
    return release


def test_r061_r062_decision_period_fences() -> None:
    releases = [_decision(str(i), 20 + i % 10) for i in range(30)] + [_decision("slow", 200), _decision("fast", 0)]
    outcomes = {(o.code, o.ocid): o.status for o in evaluate_dataset(releases, codes=["R061", "R062"])}
    assert outcomes[("R062", "slow")] == "flagged"
    assert outcomes[("R061", "fast")] == "flagged"
    assert outcomes[("R061", "5")] == "not_flagged"
    assert run("R062", process(tender={"procurementMethod": "open"})).status == "insufficient_data"
