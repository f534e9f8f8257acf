"""R017 unit-price outlier (bos.red_flags.indicators.prices)."""

from __future__ import annotations

from bos.red_flags.indicators import (
    evaluate_dataset,
)
from tests.red_flags.helpers import run


def _item_release(ocid: str, price: float) -> dict:
    item = {
        "classification": {"scheme": "KBKI", "id": "4321"},
        "unit": {"id": "pcs", "value": {"amount": price, "currency": "IDR"}},
        "quantity": 1,
    }
    return {"ocid": ocid, "awards": [{"status": "active", "suppliers": [{"id": "S"}], "items": [item]}]}


def test_r017_unit_price_outlier_with_peer_groups() -> None:
    releases = [_item_release(str(i), 1000 + 10 * (i % 7)) for i in range(25)] + [_item_release("X", 50_000)]
    outcomes = {o.ocid: o for o in evaluate_dataset(releases, codes=["R017"])}
    assert outcomes["X"].status == "flagged"
    assert outcomes["0"].status == "not_flagged"
    few = {o.ocid: o.status for o in evaluate_dataset(releases[:5], codes=["R017"])}
    assert set(few.values()) == {"insufficient_data"}  # fewer than min_peers=20
    assert run("R017", {"ocid": "e", "awards": []}).evidence["missing"]
