"""Contract-phase indicators (bos.red_flags.indicators.contracts): R069, R064, R063, R060, R068."""

from __future__ import annotations

from typing import Any

from tests.red_flags.helpers import process, run


def _contract(value: Any, award_value: Any = 100, **contract: Any) -> dict:
    release = process()
    release["awards"][0]["value"] = {"amount": award_value, "currency": "IDR"}
    release["contracts"] = [{"id": "c1", "awardID": "a1", "value": {"amount": value, "currency": "IDR"}, **contract}]
    return release


def test_r069_value_raised_over_ten_percent() -> None:
    assert run("R069", _contract(111)).status == "flagged"
    assert run("R069", _contract(110)).status == "not_flagged"
    assert run("R069", _contract(111, award_value=None)).status == "insufficient_data"
    assert run("R069", process()).status == "not_applicable"
    amended = _contract(
        120, amendments=[{"changes": [{"property": "value", "former_value": {"amount": 115, "currency": "IDR"}}]}]
    )
    assert run("R069", amended).status == "not_flagged"  # signing value taken from the amendment


def test_r064_many_amendments() -> None:
    assert run("R064", _contract(100, amendments=[{}, {}, {}])).status == "flagged"
    assert run("R064", _contract(100, amendments=[{}])).status == "not_flagged"


def test_r063_award_without_contract_after_grace_days() -> None:
    release = process()
    release["awards"][0]["date"] = "2024-01-01T00:00:00Z"
    assert run("R063", release, as_of="2024-03-01T00:00:00Z").status == "flagged"
    pending = run("R063", release, as_of="2024-01-15T00:00:00Z")
    assert pending.status == "not_flagged"
    assert pending.evidence["pending_awards"] == [
        {"award": release["awards"][0]["id"], "late_after": "2024-01-31T00:00:00+00:00"}
    ]
    # Stable from one day to the next, so the nightly run does not rewrite a pending process's outcome.
    assert run("R063", release, as_of="2024-01-16T00:00:00Z").evidence == pending.evidence
    del release["awards"][0]["date"]
    assert run("R063", release, as_of="2024-03-01T00:00:00Z").status == "insufficient_data"


def test_r060_contract_without_award() -> None:
    release = _contract(100)
    assert run("R060", release).status == "not_flagged"
    release["contracts"][0]["awardID"] = "missing"
    assert run("R060", release).status == "flagged"


def test_r068_payments_exceed_contract_value() -> None:
    paid = {
        "transactions": [{"value": {"amount": 60, "currency": "IDR"}}, {"amount": {"amount": 50, "currency": "IDR"}}]
    }
    assert run("R068", _contract(100, implementation=paid)).status == "flagged"
    assert run("R068", _contract(120, implementation=paid)).status == "not_flagged"
    assert run("R068", _contract(None, implementation=paid)).status == "insufficient_data"
