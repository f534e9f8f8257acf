"""Organisation-grain indicators (bos.red_flags.indicators.organisations): R048, R049, R040, R055."""

from __future__ import annotations

from typing import Any

from tests.red_flags.helpers import group, run
from tests.red_flags.helpers import pl_release as _pl


def test_r048_heterogeneous_supplier_needs_support() -> None:
    def award(ocid: str, supplier: str, *codes: str) -> dict:
        items = [{"classification": {"id": c}} for c in codes]
        return {"ocid": ocid, "awards": [{"status": "active", "suppliers": [{"id": supplier}], "items": items}]}

    releases = [award("F", "F", "10", "11", "12"), *(award(str(i), str(i), "10") for i in range(4))]
    outcomes = {o.subject: o for o in group("R048", releases, minimum_contracting_processes=1)}
    assert outcomes["F"].status == "flagged"
    assert outcomes["F"].value == 3.0
    assert outcomes["0"].status == "not_flagged"
    default = {o.subject: o.status for o in group("R048", releases)}
    assert default["F"] == "insufficient_data"  # fewer than 20 processes


def test_r049_value_just_below_ceiling() -> None:
    assert run("R049", _pl(195_000_000)).status == "flagged"
    assert run("R049", _pl(150_000_000)).status == "not_flagged"
    assert run("R049", _pl(185_000_000, "works")).status == "flagged"  # works band is 10%


def _award_release(ocid: str, supplier: str, amount: int, date: str, **tender: Any) -> dict:
    award = {
        "id": "a",
        "status": "active",
        "date": date,
        "suppliers": [{"id": supplier}],
        "value": {"amount": amount, "currency": "IDR"},
        "items": [{"classification": {"id": "4321"}}],
    }
    return {"ocid": ocid, "buyer": {"id": "B"}, "awards": [award], "tender": tender}


def test_r040_supplier_concentration() -> None:
    releases = [_award_release(f"s{i}", "S", 100, f"2024-0{i + 1}-01") for i in range(4)]
    releases.append(_award_release("o", "O", 100, "2024-06-01"))
    outcomes = {o.key: o for o in group("R040", releases)}
    assert outcomes["2024|S"].status == "flagged"
    assert outcomes["2024|S"].marked == ("B", "S")
    assert outcomes["2024|O"].status == "not_flagged"
    assert {o.status for o in group("R040", releases[:3])} == {"insufficient_data"}


def test_r055_split_purchases_within_a_window() -> None:
    pl = {"procurementMethodDetails": "Pengadaan Langsung", "mainProcurementCategory": "goods"}
    releases = [
        _award_release("p1", "S", 150_000_000, "2024-01-10", **pl),
        _award_release("p2", "S", 120_000_000, "2024-03-10", **pl),
        _award_release("q1", "T", 150_000_000, "2022-01-10", **pl),
        _award_release("q2", "T", 120_000_000, "2024-03-10", **pl),
    ]
    outcomes = {o.key: o for o in group("R055", releases)}
    assert outcomes["S|43"].status == "flagged"
    assert outcomes["S|43"].evidence["ocids"] == ["p1", "p2"]
    assert outcomes["T|43"].status == "not_flagged"  # more than 365 days apart
