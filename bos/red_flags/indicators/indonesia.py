"""Indonesian method classification and Pengadaan Langsung ceilings (RED_FLAGS.md section 3), used by R010,
R031, R049 and R055."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bos.red_flags.indicators.base import (
    Params,
    active_awards,
    as_dict,
    as_list,
    as_str,
    money,
    tender_of,
)

# ---------------------------------------------------------------------------------------------------------------
# Indonesian method classification (RED_FLAGS.md section 3) for R010, R031, R049, R055
# ---------------------------------------------------------------------------------------------------------------

INDONESIAN_FIELDS = [
    "tender/procurementMethod",
    "tender/procurementMethodDetails",
    "tender/procurementMethodRationale",
    "tender/mainProcurementCategory",
    "tender/additionalProcurementCategories",
    "tender/value",
]


def indonesian_method(release: Mapping[str, Any], params: Params) -> str | None:
    """ "pengadaan_langsung", "penunjukan_langsung", "e_purchasing", "swakelola" or None (competitive/unknown)."""
    tender = tender_of(release)
    details = (as_str(tender.get("procurementMethodDetails")) or "").lower()
    if "penunjukan langsung" in details:
        return "penunjukan_langsung"
    if "pengadaan langsung" in details:
        return "pengadaan_langsung"
    if "e-purchasing" in details or "epurchasing" in details or "katalog" in details:
        return "e_purchasing"
    if "swakelola" in details:
        return "swakelola"
    if not details and params.get("limited_is_pengadaan_langsung") and tender.get("procurementMethod") == "limited":
        return "pengadaan_langsung"
    return None


def procurement_category(release: Mapping[str, Any]) -> str | None:
    """goods, works, services or consultingServices (services with ``consultingServices`` listed, or a
    "konsultan" method name: Seleksi for consultancy, Pasal 41)."""
    tender = tender_of(release)
    main = as_str(tender.get("mainProcurementCategory"))
    additional = {c for c in as_list(tender.get("additionalProcurementCategories")) if isinstance(c, str)}
    details = (as_str(tender.get("procurementMethodDetails")) or "").lower()
    if main == "services" and ("consultingServices" in additional or "konsultan" in details):
        return "consultingServices"
    return main if main in {"goods", "works", "services"} else None


def estimate_value(release: Mapping[str, Any]) -> tuple[Decimal, str, str] | None:
    """(amount, currency, field) of the HPS (``tender/value``), else the sum of active award values."""
    hps = money(tender_of(release).get("value"))
    if hps is not None:
        return hps[0], hps[1], "tender/value"
    values = [money(a.get("value")) for a in active_awards(release)]
    if values and all(v is not None for v in values) and len({v[1] for v in values if v}) == 1:
        return sum((v[0] for v in values if v), Decimal(0)), values[0][1], "awards/value"  # type: ignore[index]
    return None


def pl_ceiling(params: Params, category: str) -> Decimal:
    return Decimal(str(as_dict(params["ceilings"])[category]))


#: Perpres 16/2018 Pasal 38 (goods, works, other services) and 41 (consultancy); to verify for Perpres 46/2025.
PL_CEILINGS_IDR = {
    "goods": 200_000_000,
    "services": 200_000_000,
    "works": 200_000_000,
    "consultingServices": 100_000_000,
}
INDONESIAN_PARAMS = {"ceilings": PL_CEILINGS_IDR, "ceiling_currency": "IDR", "limited_is_pengadaan_langsung": False}
