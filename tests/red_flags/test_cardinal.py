"""Cardinal-shaped output of the Cardinal codes BOS implements, on hand-built compiled releases.

Every case below is our own: the releases, ids, amounts and dates were written for BOS from the definitions in
RED_FLAGS.md (section 1, "Reproducing Cardinal exactly", and the catalogue), and each expected document was derived
by hand from those definitions; comments give the reasoning. Quartiles are Hyndman-Fan type 8: for n values the
p-quantile sits at rank h = (n + 1/3) p + 1/3, so the datasets are sized to land h between two equal values and
keep the arithmetic exact (dyadic fractions such as 0.0625 are exact in binary floating point).

Every run passes the two global settings below, so each dataset can also show the price-comparison switch and the
``[exclusions]`` setting. An optional conformance test, skipped unless ``CARDINAL_FIXTURES_DIR`` names a directory
of cardinal-rs fixtures (``*.jsonl`` with ``*.expected``), checks BOS against Cardinal's own fixtures in place; none
of their content is stored in this repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bos.red_flags.cardinal import compiled_releases_from, read_json, read_jsonl, to_cardinal
from bos.red_flags.indicators import Outcome, evaluate_dataset

#: Deny list of the price-comparison switch and the ``[exclusions]`` setting used by every run.
GLOBALS = {
    "no_price_comparison_procurement_methods": "Swakelola",
    "exclusions_procurement_method_details": "Uji Coba",
}


def cardinal(
    code: str,
    releases: Iterable[dict[str, Any]],
    settings: dict[str, Any] | None = None,
    *,
    meta: bool = False,
    maps: bool = False,
    **global_settings: Any,
) -> dict[str, Any]:
    """Cardinal's document for one indicator run alone over ``releases``."""
    overrides: dict[str, Any] = {**GLOBALS, **global_settings}
    if settings:
        overrides[code] = settings
    outcomes = evaluate_dataset(list(releases), overrides, codes=[code])
    return to_cardinal(outcomes, include_meta=meta, include_maps=maps)


def bid(
    tenderers: str | tuple[str, ...] | None,
    amount: Any = None,
    status: str | None = "valid",
    currency: str = "IDR",
    **extra: Any,
) -> dict[str, Any]:
    """A bid; ``tenderers`` None gives one tenderer with a name but no id, a tuple a joint bid."""
    names = (tenderers,) if isinstance(tenderers, str) else tenderers
    entry: dict[str, Any] = {
        "tenderers": [{"id": t, "name": t.upper()} for t in names] if names else [{"name": "TANPA ID"}],
        **extra,
    }
    if status is not None:
        entry["status"] = status
    if amount is not None:
        entry["value"] = {"amount": amount, "currency": currency}
    return entry


def award(*suppliers: str, status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"award-{status}-{'-'.join(suppliers)}",
        "status": status,
        "suppliers": [{"id": s} for s in suppliers],
        **extra,
    }


def release(
    ocid: str,
    bids: list[dict[str, Any]] | None = None,
    awards: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    compiled: dict[str, Any] = {"ocid": ocid, "date": "2024-06-30T00:00:00Z", **extra}
    if bids is not None:
        compiled["bids"] = {"details": bids}
    if awards is not None:
        compiled["awards"] = awards
    return compiled


# --- R003 Short submission period: whole days (end - start, truncated) < threshold (15) -------------------------


def period(ocid: str, start: str, end: str | None, **tender: Any) -> dict[str, Any]:
    dates = {"startDate": start} if end is None else {"startDate": start, "endDate": end}
    return release(ocid, tender={"tenderPeriod": dates, **tender})


def test_r003_whole_days_offsets_and_skipped_dates() -> None:
    releases = [
        period("jkt-14-hari", "2024-03-01T08:00:00Z", "2024-03-15T08:00:00Z"),  # 14 < 15: flag
        period("jkt-15-hari", "2024-03-01T08:00:00Z", "2024-03-16T08:00:00Z"),  # 15 is not < 15
        # 14 days 23:59:59 truncates to 14 whole days: flag although the period is a second short of 15 days.
        period("jkt-kurang-sedetik", "2024-03-01T08:00:00Z", "2024-03-16T07:59:59Z"),
        # Offsets are honoured: 2024-03-01T00:00+07:00 is 2024-02-29T17:00Z, so 15 days 3 hours: no flag.
        period("jkt-zona-waktu", "2024-03-01T00:00:00+07:00", "2024-03-15T20:00:00Z"),
        # End before start: -10 days, which is < 15, so the negative length counts as short.
        period("jkt-terbalik", "2024-03-20T08:00:00Z", "2024-03-10T08:00:00Z"),
        # No procurement-method filter by default: a direct award is evaluated too.
        period("jkt-langsung", "2024-03-01T08:00:00Z", "2024-03-05T08:00:00Z", procurementMethod="direct"),
        # Not RFC 3339 (offset without minutes, offset without colon, no offset, date only): skipped although short.
        period("jkt-offset-jam", "2024-03-01T08:00:00+07", "2024-03-05T08:00:00+07"),
        period("jkt-offset-rapat", "2024-03-01T08:00:00+0700", "2024-03-05T08:00:00+0700"),
        period("jkt-tanpa-offset", "2024-03-01T08:00:00", "2024-03-05T08:00:00"),
        period("jkt-tanggal-saja", "2024-03-01", "2024-03-05"),
        period("jkt-tanpa-akhir", "2024-03-01T08:00:00Z", None),  # no end date: skipped
        # Global exclusions: a cancelled tender, and method details listed in [exclusions].
        period("jkt-batal", "2024-03-01T08:00:00Z", "2024-03-05T08:00:00Z", status="cancelled"),
        period("jkt-uji", "2024-03-01T08:00:00Z", "2024-03-05T08:00:00Z", procurementMethodDetails="Uji Coba"),
    ]
    assert cardinal("R003", releases) == {
        "OCID": {
            "jkt-14-hari": {"R003": 1.0},
            "jkt-kurang-sedetik": {"R003": 1.0},
            "jkt-terbalik": {"R003": 1.0},
            "jkt-langsung": {"R003": 1.0},
        }
    }


def test_r003_procurement_methods_filter() -> None:
    # With a filter, only the listed methods are evaluated; a process without a method never matches it.
    releases = [
        period(f"sby-{method or 'tanpa'}", "2024-04-01T00:00:00Z", "2024-04-08T00:00:00Z", procurementMethod=method)
        for method in ("open", "selective", "limited", "direct")
    ]
    releases.append(period("sby-tanpa-metode", "2024-04-01T00:00:00Z", "2024-04-08T00:00:00Z"))
    document = cardinal("R003", releases, {"procurement_methods": "open|selective"})
    assert document == {"OCID": {"sby-open": {"R003": 1.0}, "sby-selective": {"R003": 1.0}}}


def test_r003_threshold_and_per_details_thresholds() -> None:
    # threshold = 10: 9 days is short, 10 days is not.
    releases = [
        period("mdn-9", "2024-05-01T00:00:00Z", "2024-05-10T00:00:00Z"),
        period("mdn-10", "2024-05-01T00:00:00Z", "2024-05-11T00:00:00Z"),
    ]
    assert cardinal("R003", releases, {"threshold": 10}) == {"OCID": {"mdn-9": {"R003": 1.0}}}
    # Per-details thresholds override the default (15) for their value only; other or no details keep 15.
    start = "2024-05-01T00:00:00Z"
    releases = [
        period("cepat-4", start, "2024-05-05T00:00:00Z", procurementMethodDetails="Tender Cepat"),  # 4 < 5
        period("cepat-5", start, "2024-05-06T00:00:00Z", procurementMethodDetails="Tender Cepat"),  # 5 = 5
        period("seleksi-19", start, "2024-05-20T00:00:00Z", procurementMethodDetails="Seleksi"),  # 19 < 20
        period("seleksi-20", start, "2024-05-21T00:00:00Z", procurementMethodDetails="Seleksi"),
        period("tender-14", start, "2024-05-15T00:00:00Z", procurementMethodDetails="Tender"),  # 14 < 15
        period("tender-15", start, "2024-05-16T00:00:00Z", procurementMethodDetails="Tender"),
        period("tanpa-14", start, "2024-05-15T00:00:00Z"),  # 14 < 15
    ]
    document = cardinal("R003", releases, {"procurement_method_details": {"Tender Cepat": 5, "Seleksi": 20}})
    assert set(document["OCID"]) == {"cepat-4", "seleksi-19", "tender-14", "tanpa-14"}


# --- R018 Single bid received: tender/numberOfTenderers is the integer 1, method open or selective ---------------


def test_r018_only_the_integer_one_in_competitive_methods() -> None:
    def tender(ocid: str, **fields: Any) -> dict[str, Any]:
        return release(ocid, tender=fields)

    releases = [
        tender("bdg-terbuka", numberOfTenderers=1, procurementMethod="open"),  # flag
        tender("bdg-terbatas", numberOfTenderers=1, procurementMethod="selective"),  # flag
        tender("bdg-pl", numberOfTenderers=1, procurementMethod="limited"),  # not a competitive method
        tender("bdg-penunjukan", numberOfTenderers=1, procurementMethod="direct"),
        tender("bdg-tanpa-metode", numberOfTenderers=1),  # no method: the default filter does not match
        tender("bdg-float", numberOfTenderers=1.0, procurementMethod="open"),  # 1.0 is not the integer 1
        tender("bdg-teks", numberOfTenderers="1", procurementMethod="open"),  # a string is not a number
        tender("bdg-boolean", numberOfTenderers=True, procurementMethod="open"),  # nor is true
        tender("bdg-dua", numberOfTenderers=2, procurementMethod="open"),
        tender("bdg-nol", numberOfTenderers=0, procurementMethod="open"),
        # Only numberOfTenderers is read: one submitted bid without the count is not flagged.
        release("bdg-satu-penawaran", [bid("cv-tunggal", 500)], tender={"procurementMethod": "open"}),
        tender("bdg-batal", numberOfTenderers=1, procurementMethod="open", status="cancelled"),  # excluded
    ]
    assert cardinal("R018", releases) == {"OCID": {"bdg-terbuka": {"R018": 1.0}, "bdg-terbatas": {"R018": 1.0}}}


# --- R024 / R058 second-lowest bid ratio d = (runner-up - winner) / winner under E1 -----------------------------

WINNER = "pt-andalas"


def ratio(ocid: str, runner_up: int, winner_bid: int = 1600, runner: str = "cv-borneo", **extra: Any) -> dict:
    """An E1 process: one active award to WINNER, its valid bid and one valid bid of another tenderer."""
    return release(ocid, [bid(WINNER, winner_bid), bid(runner, runner_up)], [award(WINNER)], **extra)


def e1_exclusions(prefix: str, runner_up: int) -> list[dict[str, Any]]:
    """Processes E1 leaves out; each has d = (runner_up - 1600) / 1600 and would change the fences if counted."""
    pair = [bid(WINNER, 1600), bid("cv-ekor", runner_up)]
    return [
        # Clause 1: an award status other than active, cancelled or unsuccessful.
        release(f"{prefix}-award-pending", pair, [award(WINNER), award("cv-ekor", status="pending")]),
        release(f"{prefix}-award-invalid", pair, [award(WINNER), award("cv-ekor", status="invalid")]),
        # Clause 2: two active awards (lots), or an award to a consortium.
        release(f"{prefix}-dua-award", pair, [award(WINNER), award(WINNER)]),
        release(f"{prefix}-konsorsium", pair, [award(WINNER, "pt-mitra")]),
        # Clause 3: only valid bids count, so the other tenderer's bid is not a runner-up.
        *(
            release(
                f"{prefix}-lawan-{status}", [bid(WINNER, 1600), bid("cv-ekor", runner_up, status)], [award(WINNER)]
            )
            for status in ("invited", "withdrawn", "pending", "disqualified")
        ),
        # Clause 4: the lowest bid lost, so the award was not on price alone.
        release(f"{prefix}-bukan-termurah", [bid(WINNER, 1600), bid("cv-ekor", 1500)], [award(WINNER)]),
        # Global exclusions and the price-comparison deny list.
        ratio(f"{prefix}-batal", runner_up, tender={"status": "cancelled"}),
        ratio(f"{prefix}-swakelola", runner_up, tender={"procurementMethodDetails": "Swakelola"}),
        ratio(f"{prefix}-uji", runner_up, tender={"procurementMethodDetails": "Uji Coba"}),
    ]


def r024_dataset() -> list[dict[str, Any]]:
    """13 E1 processes, sorted d = [0.03125, 0.0625, 0.25 x3, 0.28125, 0.3125, 0.34375, 0.375 x3, 0.4375, 0.5].

    n = 13: Q1 at h = 3.667 between the 3rd and 4th values (both 0.25), Q3 at h = 10.333 between the 10th and 11th
    (both 0.375). IQR 0.125, lower fence 0.25 - 1.5 x 0.125 = 0.0625.
    """
    return [
        ratio("r024-dekat", 1650, runner="cv-celebes"),  # d = 0.03125 < 0.0625: flag
        ratio("r024-di-pagar", 1700, runner="cv-dieng"),  # d = 0.0625 = fence: flag (inclusive)
        ratio("r024-a", 2000),  # 0.25
        # Cancelled and unsuccessful awards are final: the process stays in (d = 0.25).
        release(
            "r024-status-final",
            [bid(WINNER, 1600), bid("cv-borneo", 2000)],
            [award("cv-lama", status="cancelled"), award("cv-gagal", status="unsuccessful"), award(WINNER)],
        ),
        # The winner's bid is the lowest of its own bids: 1600, so d = 0.25.
        release("r024-dua-penawaran", [bid(WINNER, 1700), bid(WINNER, 1600), bid("cv-borneo", 2000)], [award(WINNER)]),
        ratio("r024-b", 2050),  # 0.28125
        # A joint bid is ignored without excluding the process: the runner-up is the single tenderer (0.3125).
        release(
            "r024-bersama",
            [bid(WINNER, 1600), bid(("cv-x", "cv-y"), 1600), bid("cv-borneo", 2100)],
            [award(WINNER)],
        ),
        ratio("r024-c", 2150),  # 0.34375
        # A tenderer without id is ignored the same way (0.375).
        release("r024-tanpa-id", [bid(WINNER, 1600), bid(None, 1600), bid("cv-borneo", 2200)], [award(WINNER)]),
        # A bid outside the main currency (IDR, first seen) is skipped (0.375).
        release(
            "r024-usd",
            [bid(WINNER, 1600), bid("cv-asing", 1600, currency="USD"), bid("cv-borneo", 2200)],
            [award(WINNER)],
        ),
        ratio("r024-d", 2200),  # 0.375
        ratio("r024-e", 2300),  # 0.4375
        ratio("r024-f", 2400),  # 0.5
        # d = 0 in each: flagged if any were counted, and each would move Q1 and the fence.
        *e1_exclusions("r024-x", 1600),
    ]


def test_r024_lower_fence_is_inclusive_and_e1_excludes() -> None:
    document = cardinal("R024", r024_dataset(), meta=True)
    assert document == {
        "OCID": {"r024-dekat": {"R024": 0.03125}, "r024-di-pagar": {"R024": 0.0625}},
        # The winner and the runner-up of a flagged process are reported with 0.0.
        "Tenderer": {WINNER: {"R024": 0.0}, "cv-celebes": {"R024": 0.0}, "cv-dieng": {"R024": 0.0}},
        "Meta": {"R024": {"q1": 0.25, "q3": 0.375, "lower_fence": 0.0625}},
    }


def r058_dataset() -> list[dict[str, Any]]:
    """13 E1 processes, sorted d = [0.125, 0.1875, 0.25 x2, 0.3125 x5, 0.375 x2, 0.5625, 1.0].

    Q1 = 0.25 and Q3 = 0.375 as for R024; upper fence 0.375 + 1.5 x 0.125 = 0.5625.
    """
    middle = [2000, 2000, 2100, 2100, 2100, 2100, 2100, 2200, 2200]
    return [
        ratio("r058-a", 1800),  # 0.125
        ratio("r058-b", 1900),  # 0.1875
        *(ratio(f"r058-tengah-{i}", amount) for i, amount in enumerate(middle)),
        ratio("r058-di-pagar", 2500, winner_bid=1600),  # 0.5625 = fence: flag (inclusive)
        release("r058-jauh", [bid("pt-kapuas", 1600), bid("cv-borneo", 3200)], [award("pt-kapuas")]),  # 1.0: flag
        # d = 2.0 in each: flagged if any were counted.
        *e1_exclusions("r058-x", 4800),
    ]


def test_r058_upper_fence_is_inclusive_and_marks_only_the_winner() -> None:
    document = cardinal("R058", r058_dataset(), meta=True)
    assert document == {
        "OCID": {"r058-di-pagar": {"R058": 0.5625}, "r058-jauh": {"R058": 1.0}},
        "Tenderer": {WINNER: {"R058": 0.0}, "pt-kapuas": {"R058": 0.0}},
        "Meta": {"R058": {"q1": 0.25, "q3": 0.375, "upper_fence": 0.5625}},
    }


def test_r058_threshold_replaces_the_fence() -> None:
    # threshold 0.5: d >= 0.5 flags (0.5625 and 1.0); Meta holds only the configured fence.
    document = cardinal("R058", r058_dataset(), {"threshold": 0.5}, meta=True)
    assert set(document["OCID"]) == {"r058-di-pagar", "r058-jauh"}
    assert document["Meta"] == {"R058": {"upper_fence": 0.5}}


def equal_gap(prefix: str, gaps: list[int]) -> list[dict[str, Any]]:
    """One E1 process per runner-up - winner gap, winner bid 1600."""
    return [ratio(f"{prefix}-{i}", 1600 + gap) for i, gap in enumerate(gaps)]


def test_degenerate_fences_are_skipped() -> None:
    # Q1 = 0: six of seven processes have d = 0 (n = 7: Q1 between the 2nd and 3rd values, Q3 between the 5th and
    # 6th, all 0). An inclusive lower fence of 0 would flag those six, and an upper fence of 0 every process:
    # Cardinal skips both fences rather than flag most of the dataset.
    mostly_zero = equal_gap("nol", [0, 0, 0, 0, 0, 0, 800])
    assert cardinal("R024", mostly_zero, meta=True) == {"Meta": {"R024": {"q1": 0.0, "q3": 0.0, "lower_fence": 0.0}}}
    assert cardinal("R058", mostly_zero, meta=True) == {"Meta": {"R058": {"q1": 0.0, "q3": 0.0, "upper_fence": 0.0}}}
    # Q1 > 0 but the fence is 0: d = [0, 0.375 x2, 0.5 x3, 0.625 x2, 0.75] (n = 9: Q1 between the 2nd and 3rd
    # values, Q3 between the 7th and 8th), so 0.375 - 1.5 x 0.25 = 0. d = 0 would meet an inclusive fence of 0,
    # but a fence <= 0 is skipped.
    fence_zero = equal_gap("pagar-nol", [0, 600, 600, 800, 800, 800, 1000, 1000, 1200])
    assert cardinal("R024", fence_zero, meta=True) == {
        "Meta": {"R024": {"q1": 0.375, "q3": 0.625, "lower_fence": 0.0}}
    }


def test_constant_non_zero_set_is_flagged_wholesale_unless_zero_iqr_is_skipped() -> None:
    # Every d = 0.25: Q1 = Q3 = fence = 0.25, and every process meets the inclusive fence (RED_FLAGS.md: Cardinal
    # flags a constant non-zero set wholesale). The BOS Proposal skip_zero_iqr (off by default) skips it.
    constant = equal_gap("tetap", [400] * 5)
    assert len(cardinal("R024", constant)["OCID"]) == 5
    assert cardinal("R024", constant, {"skip_zero_iqr": True}) == {}


def test_main_currency_is_the_first_seen_unless_configured() -> None:
    # threshold 0.1 (no fence): the IDR process (d = 0) would flag, the USD one (d = 0.25) would not.
    usd = release(
        "kurs-usd", [bid(WINNER, 100, currency="USD"), bid("cv-borneo", 125, currency="USD")], [award(WINNER)]
    )
    idr = ratio("kurs-idr", 1600)
    # USD comes first, so it is the main currency and the IDR bids are skipped: nothing to flag.
    assert cardinal("R024", [usd, idr], {"threshold": 0.1}) == {}
    # In the other order IDR comes first: the IDR process flags and the USD one is skipped.
    assert set(cardinal("R024", [idr, usd], {"threshold": 0.1})["OCID"]) == {"kurs-idr"}
    # A configured currency wins over input order.
    assert set(cardinal("R024", [usd, idr], {"threshold": 0.1}, currency="IDR")["OCID"]) == {"kurs-idr"}


# --- R025 Excessive unsuccessful bids: wins / processes per tenderer, among top tenderers ------------------------

#: (winner, losers) of 16 E1 processes giving tenderers (wins, processes): pt-01 (1, 10), pt-02 (1, 2),
#: pt-03 (2, 4), pt-04 (1, 2), pt-05 (2, 3), pt-06 (2, 3), pt-07 (3, 4), pt-08 (3, 4), pt-09 (1, 1).
R025_PROCESSES: list[tuple[str, list[str]]] = [
    ("pt-01", ["pt-02"]),
    ("pt-02", ["pt-01"]),
    ("pt-03", ["pt-01", "pt-04"]),
    ("pt-03", ["pt-01"]),
    ("pt-04", ["pt-01", "pt-03"]),
    ("pt-05", ["pt-01", "pt-03"]),
    ("pt-05", ["pt-01"]),
    ("pt-06", ["pt-01", "pt-05"]),
    ("pt-06", ["pt-01"]),
    ("pt-07", ["pt-01", "pt-06"]),
    ("pt-07", ["pt-08"]),
    ("pt-07", []),
    ("pt-08", ["pt-07"]),
    ("pt-08", []),
    ("pt-08", []),
    ("pt-09", []),
]


def win_loss(ocid: str, winner: str, losers: list[str], **extra: Any) -> dict[str, Any]:
    # R025 reads statuses and tenderers only (E1 clauses 1-3), so the bids carry no value.
    return release(ocid, [bid(winner), *(bid(loser) for loser in losers)], [award(winner)], **extra)


def test_r025_low_win_ratio_among_top_tenderers() -> None:
    releases = [win_loss(f"r025-{i:02d}", w, losers) for i, (w, losers) in enumerate(R025_PROCESSES)]
    # A disqualified bid is not a valid bid: pt-09 stays at 1 process.
    releases[-1]["bids"]["details"].append(bid("pt-09", status="disqualified"))
    # Excluded processes, each won by pt-01: counted, they would lift its ratio to 5/14 and clear the fence.
    releases += [
        release("r025-pending", [bid("pt-01")], [award("pt-01"), award("pt-02", status="pending")]),
        release("r025-konsorsium", [bid("pt-01")], [award("pt-01", "pt-02")]),
        win_loss("r025-batal", "pt-01", [], tender={"status": "cancelled"}),
        win_loss("r025-uji", "pt-01", [], tender={"procurementMethodDetails": "Uji Coba"}),
    ]
    # Ratios sorted [0.1, 0.5, 0.5, 0.5, 0.667, 0.667, 0.75, 0.75, 1.0] (n = 9): Q1 = 0.5 (2nd = 3rd value),
    # Q3 = 0.75 (7th = 8th), lower fence 0.5 - 1.5 x 0.25 = 0.125. Process counts sorted [1, 2, 2, 3, 3, 4, 4, 4, 10]:
    # the 75th percentile (h = 7.333) is 4. pt-01 (10 processes, ratio 0.1) is the only one at or past both.
    assert cardinal("R025", releases, meta=True) == {
        "Tenderer": {"pt-01": {"R025": 0.1}},
        "Meta": {"R025": {"q1": 0.5, "q3": 0.75, "lower_fence": 0.125, "upper_fence": 4.0}},
    }


def test_r025_percentile_gate_with_a_threshold() -> None:
    # threshold 0.5. pt-besar: 1 win in 4 processes (0.25); pt-kecil: 0 in 1 (0.0); pt-juara: 3 in 3 (1.0).
    # Counts [1, 3, 4]: p75 at h = 2.833, 3 + 0.833 x (4 - 3) = 3.8333. pt-kecil has the lowest ratio but too few
    # processes; pt-besar passes the gate (4 >= 3.8333) with 0.25 <= 0.5.
    releases = [
        win_loss("gerbang-1", "pt-juara", ["pt-besar", "pt-kecil"]),
        win_loss("gerbang-2", "pt-juara", ["pt-besar"]),
        win_loss("gerbang-3", "pt-juara", ["pt-besar"]),
        win_loss("gerbang-4", "pt-besar", []),
    ]
    assert cardinal("R025", releases, {"threshold": 0.5}, meta=True) == {
        "Tenderer": {"pt-besar": {"R025": 0.25}},
        "Meta": {"R025": {"lower_fence": 0.5, "upper_fence": 3.8333}},  # Meta is rounded to 4 decimals
    }


# --- R028 Identical bid prices: two submitted bids, same amount and currency, different tenderers ----------------


def test_r028_identical_prices_between_different_tenderers() -> None:
    winner = [award("cv-rajawali")]
    releases = [
        release("r028-sama", [bid("cv-rajawali", 125_000_000), bid("cv-merpati", 125_000_000)], winner),  # flag
        # Amounts compare as numbers: 98500000 and 98500000.0 are equal.
        release("r028-desimal", [bid("cv-elang", 98_500_000), bid("cv-kenari", 98_500_000.0)], winner),  # flag
        # Any submitted bid counts, disqualified included.
        release("r028-gugur", [bid("cv-nuri", 70_000), bid("cv-jalak", 70_000, "disqualified")], winner),  # flag
        release("r028-ulang", [bid("cv-rajawali", 500), bid("cv-rajawali", 500)], winner),  # own repeat: fine
        # The same joint tenderers in another order are the same set.
        release("r028-urutan", [bid(("cv-a", "cv-b"), 500), bid(("cv-b", "cv-a"), 500)], winner),
        release("r028-kurs", [bid("cv-a", 500), bid("cv-b", 500, currency="USD")], winner),  # other currency
        release("r028-mundur", [bid("cv-a", 500), bid("cv-b", 500, "withdrawn")], winner),  # not submitted
        release("r028-diundang", [bid("cv-a", 500), bid("cv-b", 500, "invited")], winner),  # not submitted
        release("r028-tanpa-id", [bid(None, 500), bid(None, 500)], winner),  # no tenderer id to compare
        release("r028-beda", [bid("cv-a", 500), bid("cv-b", 501)], winner),
        release("r028-batal", [bid("cv-a", 500), bid("cv-b", 500)], winner, tender={"status": "cancelled"}),
        release(
            "r028-swakelola",
            [bid("cv-a", 500), bid("cv-b", 500)],
            winner,
            tender={"procurementMethodDetails": "Swakelola"},
        ),
    ]
    document = cardinal("R028", releases, maps=True)
    assert document == {
        "OCID": {"r028-sama": {"R028": 1.0}, "r028-desimal": {"R028": 1.0}, "r028-gugur": {"R028": 1.0}},
        # Tenderers of identical bids are reported with 1.0.
        "Tenderer": {
            t: {"R028": 1.0} for t in ("cv-rajawali", "cv-merpati", "cv-elang", "cv-kenari", "cv-nuri", "cv-jalak")
        },
        "Maps": {
            "ocid_tenderer_r028": {
                "r028-sama": ["cv-merpati", "cv-rajawali"],
                "r028-desimal": ["cv-elang", "cv-kenari"],
                "r028-gugur": ["cv-jalak", "cv-nuri"],
            }
        },
    }


@pytest.mark.parametrize("code", ["R028", "R036"])
def test_price_comparison_switch_deny_and_allow_lists(code: str) -> None:
    # A process that both R028 (equal prices) and R036 (lowest bid disqualified) flag, under three method details.
    def flagged_by_both(ocid: str, **tender: Any) -> dict[str, Any]:
        bids = [bid("cv-a", 900, "disqualified"), bid("cv-b", 900), bid("cv-c", 1000)]
        return release(ocid, bids, [award("cv-b")], tender=tender)

    releases = [
        flagged_by_both("saklar-tender", procurementMethodDetails="Tender"),
        flagged_by_both("saklar-seleksi", procurementMethodDetails="Seleksi"),
        flagged_by_both("saklar-tanpa"),
    ]
    # Deny list: the listed details are left out; a process without details stays in.
    denied = cardinal(code, releases, no_price_comparison_procurement_methods="Seleksi")
    assert set(denied["OCID"]) == {"saklar-tender", "saklar-tanpa"}
    # Allow list (wins over the deny list): only the listed details; a process without details is left out.
    allowed = cardinal(code, releases, price_comparison_procurement_methods="Tender")
    assert set(allowed["OCID"]) == {"saklar-tender"}


# --- R030 Late bid won: a valid bid dated after tenderPeriod/endDate from a supplier of an active award -----------

DEADLINE = {"tenderPeriod": {"endDate": "2024-05-10T16:00:00Z"}}


def test_r030_late_winning_bid() -> None:
    late, early = "2024-05-11T09:00:00Z", "2024-05-10T09:00:00Z"
    releases = [
        release("r030-telat", [bid("cv-lambat", 10, date=late)], [award("cv-lambat")], tender=DEADLINE),  # flag
        release(
            "r030-kalah-telat",  # the late bid is not from the winner
            [bid("cv-tepat", 10, date=early), bid("cv-lambat", 9, date=late)],
            [award("cv-tepat")],
            tender=DEADLINE,
        ),
        release("r030-tepat", [bid("cv-tepat", 10, date=early)], [award("cv-tepat")], tender=DEADLINE),
        # Only suppliers of active awards are winners.
        release(
            "r030-pending", [bid("cv-lambat", 10, date=late)], [award("cv-lambat", status="pending")], tender=DEADLINE
        ),
        # Only valid bids count.
        release(
            "r030-gugur", [bid("cv-lambat", 10, "disqualified", date=late)], [award("cv-lambat")], tender=DEADLINE
        ),
        release(
            "r030-batal",
            [bid("cv-lambat", 10, date=late)],
            [award("cv-lambat")],
            tender={**DEADLINE, "status": "cancelled"},
        ),
    ]
    assert cardinal("R030", releases) == {
        "OCID": {"r030-telat": {"R030": 1.0}},
        "Tenderer": {"cv-lambat": {"R030": 1.0}},  # the late winner, reported with 1.0
    }


def test_r030_compares_date_strings_unless_parse_dates() -> None:
    # 23:00+07:00 is 16:00Z, the deadline itself: not late. Compared as strings ("...T23" > "...T16") it is.
    same_instant = release(
        "r030-zona", [bid("cv-wib", 10, date="2024-05-10T23:00:00+07:00")], [award("cv-wib")], tender=DEADLINE
    )
    assert set(cardinal("R030", [same_instant])["OCID"]) == {"r030-zona"}
    assert cardinal("R030", [same_instant], {"parse_dates": True}) == {}


# --- R035 All except winning bid disqualified ------------------------------------------------------------------


def test_r035_only_the_winner_left_valid() -> None:
    releases = [
        # One valid tenderer, who is the award supplier, and two others disqualified: value 2.
        release(
            "r035-dua",
            [bid("cv-menang"), bid("cv-gugur-1", status="disqualified"), bid("cv-gugur-2", status="disqualified")],
            [award("cv-menang")],
        ),
        release("r035-satu", [bid("cv-sendiri"), bid("cv-gugur-1", status="disqualified")], [award("cv-sendiri")]),
        # Two valid tenderers: not the shape R035 looks for.
        release(
            "r035-dua-sah",
            [bid("cv-menang"), bid("cv-sah"), bid("cv-gugur-1", status="disqualified")],
            [award("cv-menang")],
        ),
        # The valid tenderer is not the award supplier.
        release("r035-lain", [bid("cv-sah"), bid("cv-gugur-1", status="disqualified")], [award("cv-menang")]),
        # The winner's own disqualified bid is not another tenderer's: 0 < threshold 1.
        release("r035-sendiri", [bid("cv-menang"), bid("cv-menang", status="disqualified")], [award("cv-menang")]),
        # Pending, invited and withdrawn bids are not disqualified ones.
        release(
            "r035-lainnya",
            [
                bid("cv-menang"),
                bid("cv-p", status="pending"),
                bid("cv-i", status="invited"),
                bid("cv-w", status="withdrawn"),
            ],
            [award("cv-menang")],
        ),
        # Awards must all be final.
        release(
            "r035-pending",
            [bid("cv-menang"), bid("cv-gugur-1", status="disqualified")],
            [award("cv-menang"), award("cv-gugur-1", status="pending")],
        ),
        release(
            "r035-batal",
            [bid("cv-menang"), bid("cv-gugur-1", status="disqualified")],
            [award("cv-menang")],
            tender={"status": "cancelled"},
        ),
    ]
    assert cardinal("R035", releases) == {
        "OCID": {"r035-dua": {"R035": 2.0}, "r035-satu": {"R035": 1.0}},
        "Tenderer": {"cv-menang": {"R035": 0.0}, "cv-sendiri": {"R035": 0.0}},
    }
    # threshold 2: at least two other tenderers must be disqualified.
    assert cardinal("R035", releases, {"threshold": 2}) == {
        "OCID": {"r035-dua": {"R035": 2.0}},
        "Tenderer": {"cv-menang": {"R035": 0.0}},
    }


# --- R036 Lowest bid disqualified ------------------------------------------------------------------------------


def test_r036_lowest_submitted_bid_disqualified() -> None:
    active = [award("cv-sah")]
    releases = [
        release("r036-termurah-gugur", [bid("cv-gugur", 900, "disqualified"), bid("cv-sah", 1000)], active),  # flag
        # awardCriteria is not read: a best-value tender flags the same way.
        release(
            "r036-kriteria",
            [bid("cv-gugur", 900, "disqualified"), bid("cv-sah", 1000)],
            active,
            tender={"awardCriteria": "bestValueToGovernment"},
        ),
        release("r036-termurah-sah", [bid("cv-gugur", 1100, "disqualified"), bid("cv-sah", 1000)], active),
        # Invited and withdrawn bids were not submitted: the lowest submitted bid is the valid one.
        release(
            "r036-diundang",
            [
                bid("cv-i", 500, "invited"),
                bid("cv-w", 600, "withdrawn"),
                bid("cv-sah", 1000),
                bid("cv-g", 1100, "disqualified"),
            ],
            active,
        ),
        # A pending bid is submitted: lowest, but not disqualified.
        release(
            "r036-pending",
            [bid("cv-p", 500, "pending"), bid("cv-g", 900, "disqualified"), bid("cv-sah", 1000)],
            active,
        ),
        # The USD bid is outside the main currency (IDR, seen first) and skipped.
        release("r036-usd", [bid("cv-g", 90, "disqualified", currency="USD"), bid("cv-sah", 1000)], active),
        # No valid bid with an amount, or no active award: not evaluated.
        release("r036-semua-gugur", [bid("cv-g", 900, "disqualified"), bid("cv-h", 1000, "disqualified")], active),
        release(
            "r036-tanpa-award",
            [bid("cv-g", 900, "disqualified"), bid("cv-sah", 1000)],
            [award("cv-sah", status="cancelled")],
        ),
        release(
            "r036-swakelola",
            [bid("cv-g", 900, "disqualified"), bid("cv-sah", 1000)],
            active,
            tender={"procurementMethodDetails": "Swakelola"},
        ),
        release(
            "r036-batal",
            [bid("cv-g", 900, "disqualified"), bid("cv-sah", 1000)],
            active,
            tender={"status": "cancelled"},
        ),
    ]
    assert cardinal("R036", releases) == {
        "OCID": {"r036-termurah-gugur": {"R036": 1.0}, "r036-kriteria": {"R036": 1.0}}
    }


# --- R038 Excessive disqualified bids: pooled disqualified / submitted per buyer, PE and tenderer ------------------


def four_bids(ocid: str, org: str, disqualified: set[str], **extra: Any) -> dict[str, Any]:
    bids = [bid(t, 100, "disqualified" if t in disqualified else "valid") for t in ("t-a", "t-b", "t-c", "t-d")]
    return release(
        ocid,
        bids,
        [award("t-a")],
        buyer={"id": f"dinas-{org}"},
        tender={"procuringEntity": {"id": f"ukpbj-{org}"}, **extra},
    )


def test_r038_buyer_and_procuring_entity_fences_and_support() -> None:
    releases = [
        four_bids("r038-1", "1", set()),  # 0/4
        four_bids("r038-2", "2", set()),  # 0/4
        four_bids("r038-3", "3", set()),  # 0/4
        four_bids("r038-4", "4", {"t-d"}),  # 1/4
        four_bids("r038-5", "5", {"t-c"}),  # 1/4
        four_bids("r038-6", "6", {"t-b"}),  # 1/4
        four_bids("r038-7", "7", {"t-b", "t-c", "t-d"}),  # 3/4
        # One submitted bid (1/1) is below minimum support (2): not in the fence, not flagged.
        release(
            "r038-8",
            [bid("t-e", 100, "disqualified")],
            [],
            buyer={"id": "dinas-8"},
            tender={"procuringEntity": {"id": "ukpbj-8"}},
        ),
        # Cancelled: excluded, or dinas-1 would reach 4/8.
        four_bids("r038-batal", "1", {"t-a", "t-b", "t-c", "t-d"}, status="cancelled"),
    ]
    # Buyer ratios [0, 0, 0, 0.25, 0.25, 0.25, 0.75] (n = 7: Q1 between the 2nd and 3rd values, Q3 between the 5th
    # and 6th): Q1 0, Q3 0.25, upper fence 0.25 + 1.5 x 0.25 = 0.625; 0.75 flags. The procuring entities mirror the
    # buyers. Tenderers: t-a 0/7, t-b, t-c and t-d 2/7 each (t-e has one bid): no tenderer reaches its fence.
    document = cardinal("R038", releases, meta=True)
    assert {k: v for k, v in document.items() if k != "Meta"} == {
        "Buyer": {"dinas-7": {"R038": 0.75}},
        "ProcuringEntity": {"ukpbj-7": {"R038": 0.75}},
    }
    meta = document["Meta"]["R038"]
    for group in ("Buyer", "ProcuringEntity"):
        assert (meta[f"{group}_q1"], meta[f"{group}_q3"], meta[f"{group}_upper_fence"]) == (0.0, 0.25, 0.625)
    # BOS Proposal: count processes for buyer and PE support. Each has one process (< 2): none evaluated.
    assert cardinal("R038", releases, {"minimum_counts_processes": True}) == {}


def test_r038_tenderer_fence_and_minimum_submitted_bids() -> None:
    statuses = {  # bid statuses of t1..t7 (and t8) in four processes without buyer or procuring entity
        "r038t-1": {
            "t1": "valid",
            "t2": "valid",
            "t3": "valid",
            "t4": "disqualified",
            "t5": "valid",
            "t6": "valid",
            "t7": "disqualified",
        },
        "r038t-2": {
            "t1": "valid",
            "t2": "valid",
            "t3": "valid",
            "t4": "valid",
            "t5": "disqualified",
            "t6": "valid",
            "t7": "disqualified",
        },
        "r038t-3": {"t4": "valid", "t5": "valid", "t6": "disqualified", "t7": "disqualified"},
        "r038t-4": {"t4": "valid", "t5": "valid", "t6": "valid", "t7": "valid", "t8": "disqualified"},
    }
    releases = [release(o, [bid(t, 10, s) for t, s in row.items()], [award("t4")]) for o, row in statuses.items()]
    # t1-t3 0/2, t4-t6 1/4, t7 3/4, t8 1/1 (one bid < minimum_submitted_bids 2: left out).
    # Ratios [0, 0, 0, 0.25, 0.25, 0.25, 0.75]: upper fence 0.625 as above; t7 flags.
    document = cardinal("R038", releases, meta=True)
    assert document["Tenderer"] == {"t7": {"R038": 0.75}}
    assert document["Meta"]["R038"] == {"Tenderer_q1": 0.0, "Tenderer_q3": 0.25, "Tenderer_upper_fence": 0.625}


# --- R048 Heterogeneous supplier: distinct 2-character classification prefixes per supplier ---------------------


def supplied(
    ocid: str, supplier: str | tuple[str, ...], codes: list[str], status: str = "active", **extra: Any
) -> dict:
    suppliers = (supplier,) if isinstance(supplier, str) else supplier
    items = [{"id": str(i), "classification": {"scheme": "KBKI", "id": code}} for i, code in enumerate(codes)]
    return release(ocid, awards=[award(*suppliers, status=status, items=items)], **extra)


def r048_dataset() -> list[dict[str, Any]]:
    return [
        supplied("r048-s1", "pt-s1", ["45200000"]),  # 1 prefix
        supplied("r048-s2", "pt-s2", ["15110000", "15220000", "33100000"]),  # 15, 33: 2
        supplied("r048-s3", "pt-s3", ["30190000", "30200000", "79100000"]),  # 2
        supplied("r048-s4", "pt-s4", ["03110000", "45200000"]),  # 2
        supplied("r048-s5", "pt-s5", ["15110000", "33100000", "45200000"]),  # 3
        supplied("r048-s6", "pt-s6", ["03110000", "30190000", "79100000"]),  # 3
        # pt-s7 over two processes: prefixes 03, 15, 30 and 45, 79, 30 again: 5 distinct.
        supplied("r048-s7a", "pt-s7", ["03111000", "15800000", "30190000"]),
        supplied("r048-s7b", "pt-s7", ["45200000", "79100000", "30200000"]),
        # Not active, a consortium, or a cancelled tender: not counted (pt-s1 would reach 5 prefixes).
        *(
            supplied(f"r048-{status}", "pt-s1", ["03110000", "15110000", "30190000", "79100000"], status)
            for status in ("pending", "cancelled", "unsuccessful", "invalid")
        ),
        supplied("r048-konsorsium", ("pt-s1", "pt-mitra"), ["03110000", "15110000", "30190000", "79100000"]),
        supplied("r048-batal", "pt-s1", ["03110000", "15110000"], tender={"status": "cancelled"}),
    ]


def test_r048_heterogeneous_supplier_with_minimum_one_process() -> None:
    # Prefix counts sorted [1, 2, 2, 2, 3, 3, 5] (n = 7: Q1 between the 2nd and 3rd, Q3 between the 5th and 6th):
    # Q1 2, Q3 3, upper fence 3 + 1.5 = 4.5; pt-s7 (5) flags.
    document = cardinal("R048", r048_dataset(), {"minimum_contracting_processes": 1}, meta=True)
    assert document == {
        "Tenderer": {"pt-s7": {"R048": 5.0}},
        "Meta": {"R048": {"q1": 2.0, "q3": 3.0, "upper_fence": 4.5}},
    }


def test_r048_default_minimum_of_twenty_processes() -> None:
    # By default only suppliers in >= 20 processes count, for the fence and for flags: none here.
    assert "Tenderer" not in cardinal("R048", r048_dataset())
    # Five suppliers with 20 processes each: four always in division 45 (1 prefix), one spread over 45, 03, 15 and
    # 30 (4 prefixes). Counts [1, 1, 1, 1, 4] (n = 5): Q1 1, Q3 1 + (4 - 1)/3 = 2, upper fence 3.5; the spread one
    # flags, and pt-s7 (5 prefixes in 2 processes) is still left out.
    divisions = ["45200000", "03110000", "15110000", "30190000"]
    large = [
        supplied(f"r048-{name}-{i:02d}", f"pt-{name}", [divisions[i % 4] if name == "ragam" else "45200000"])
        for name in ("ragam", "k1", "k2", "k3", "k4")
        for i in range(20)
    ]
    assert cardinal("R048", [*r048_dataset(), *large]) == {"Tenderer": {"pt-ragam": {"R048": 4.0}}}


# --- Optional conformance with cardinal-rs's own fixtures, read in place ----------------------------------------

FIXTURES_DIR = os.environ.get("CARDINAL_FIXTURES_DIR", "")
#: The two global settings cardinal-rs's test harness applies to every fixture.
FIXTURE_GLOBALS = {"no_price_comparison_procurement_methods": "NPC", "exclusions_procurement_method_details": "EXC"}


def _setting_value(text: str) -> Any:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text.replace("+", "|")


def fixture_settings(stem: str) -> tuple[str, dict[str, Any]]:
    """Indicator code and settings encoded in a fixture's name: ``CODE[-setting-value[-key-value...]]``.

    A map setting lists key-value pairs after its name; a lone suffix (e.g. ``-tenderer``) only names a variant.
    """
    code, *rest = stem.split("-")
    if len(rest) < 2:
        return code, {}
    name, values = rest[0], rest[1:]
    if len(values) == 1:
        return code, {name: _setting_value(values[0])}
    return code, {name: {k: _setting_value(v) for k, v in zip(values[::2], values[1::2], strict=True)}}


def _fixture_stems() -> list[str]:
    if not FIXTURES_DIR or not Path(FIXTURES_DIR).is_dir():
        return []
    return sorted(p.stem for p in Path(FIXTURES_DIR).glob("*.jsonl") if p.with_suffix(".expected").exists())


def test_fixture_names_are_parsed() -> None:
    assert fixture_settings("R010") == ("R010", {})
    assert fixture_settings("R038-buyer") == ("R038", {})
    assert fixture_settings("R003-threshold-7") == ("R003", {"threshold": 7})
    assert fixture_settings("R003-procurement_methods-open+limited") == (
        "R003",
        {"procurement_methods": "open|limited"},
    )
    assert fixture_settings("R003-procurement_method_details-a-3-b-4") == (
        "R003",
        {"procurement_method_details": {"a": 3, "b": 4}},
    )


@pytest.mark.skipif(
    not _fixture_stems(), reason="set CARDINAL_FIXTURES_DIR to a cardinal-rs tests/fixtures/indicators"
)
@pytest.mark.parametrize("stem", _fixture_stems() or ["none"])
def test_conforms_to_cardinal_fixture(stem: str) -> None:
    code, settings = fixture_settings(stem)
    directory = Path(FIXTURES_DIR)
    releases = list(read_jsonl(directory / f"{stem}.jsonl"))
    expected = json.loads((directory / f"{stem}.expected").read_text(encoding="utf-8"))
    overrides: dict[str, Any] = {**FIXTURE_GLOBALS, code: settings}
    assert to_cardinal(evaluate_dataset(releases, overrides, codes=[code]), include_meta=False) == expected


# --- Export and readers -----------------------------------------------------------------------------------------


def test_bos_only_codes_are_left_out_unless_asked() -> None:
    outcome = Outcome("R010", "process", "x", "x", "flagged", 1.2, 1.0, {})
    assert to_cardinal([outcome], include_meta=False) == {}
    assert to_cardinal([outcome], include_meta=False, cardinal_only=False) == {"OCID": {"x": {"R010": 1.2}}}


def test_compiled_releases_from_records_packages_and_releases() -> None:
    compiled = {"ocid": "a"}
    assert list(compiled_releases_from(compiled)) == [compiled]
    assert list(compiled_releases_from({"ocid": "a", "compiledRelease": compiled})) == [compiled]
    assert list(compiled_releases_from({"records": [{"compiledRelease": compiled}]})) == [compiled]
    assert list(compiled_releases_from([compiled, 3, "x"])) == [compiled]
    assert list(compiled_releases_from({"no": "ocid"})) == []


def test_read_jsonl_skips_blank_and_invalid_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"ocid": "a"}\n\n{not json\n{"compiledRelease": {"ocid": "b"}}\n', encoding="utf-8")
    assert [r["ocid"] for r in read_jsonl(path)] == ["a", "b"]
    assert "Line 3 is invalid JSON" in caplog.text


def test_read_json_reads_a_record_package(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    path.write_text(json.dumps({"records": [{"compiledRelease": {"ocid": "c"}}]}), encoding="utf-8")
    assert read_json(path) == [{"ocid": "c"}]
