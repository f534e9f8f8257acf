"""The indicator registry: metadata, default parameters and texts of every indicator, the guards applying the global
exclusions, and :func:`effective_params`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bos.red_flags.indicators.base import (
    BaselineInput,
    EvaluateFn,
    Indicator,
    Outcome,
    Params,
    ProcessResult,
    global_exclusion,
    matches_price_comparison,
)
from bos.red_flags.indicators.bids import (
    contributions_r025,
    contributions_r038,
    evaluate_bos01,
    evaluate_bos03,
    evaluate_bos04,
    evaluate_group_r025,
    evaluate_group_r038,
    evaluate_r024,
    evaluate_r028,
    evaluate_r030,
    evaluate_r035,
    evaluate_r036,
    evaluate_r058,
    measure_bid_ratio,
    measure_bos01,
    peer_keys_bos01,
)
from bos.red_flags.indicators.contracts import (
    evaluate_r060,
    evaluate_r063,
    evaluate_r064,
    evaluate_r068,
    evaluate_r069,
    r063_day_bound,
)
from bos.red_flags.indicators.indonesia import INDONESIAN_PARAMS
from bos.red_flags.indicators.organisations import (
    contributions_r040,
    contributions_r048,
    contributions_r055,
    evaluate_group_r040,
    evaluate_group_r048,
    evaluate_group_r055,
    evaluate_r049,
)
from bos.red_flags.indicators.prices import (
    evaluate_r017,
    measure_r017,
    peer_keys_r017,
)
from bos.red_flags.indicators.tender import (
    evaluate_r003,
    evaluate_r010,
    evaluate_r018,
    evaluate_r031,
    evaluate_r061,
    evaluate_r062,
    measure_decision,
    peer_keys_decision,
)

#: Global settings (Cardinal's top-level settings and ``[exclusions]``); every indicator's params include them.
GLOBAL_DEFAULTS: dict[str, Any] = {
    # None: the first currency seen, as Cardinal. BOS Proposal: "IDR".
    "currency": None,
    "no_price_comparison_procurement_methods": "",
    "price_comparison_procurement_methods": "",
    "exclusions_procurement_method_details": "",
}

_DISCLAIMER_EN = "It is a risk indicator that calls for a closer look, not proof of wrongdoing."
_DISCLAIMER_ID = "Ini indikator risiko yang perlu ditinjau lebih lanjut, bukan bukti pelanggaran."


def _texts(name_id: str, name_en: str, explanation_id: str, explanation_en: str) -> dict[str, str]:
    return {
        "name_id": name_id,
        "name_en": name_en,
        "explanation_id": f"{explanation_id} {_DISCLAIMER_ID}",
        "explanation_en": f"{explanation_en} {_DISCLAIMER_EN}",
    }


def _guard_evaluate(indicator_code: str, evaluate: EvaluateFn, price_comparison: bool) -> EvaluateFn:
    """Apply Cardinal's global exclusions (and the price-comparison switch) before the indicator's own logic,
    so that evaluating one release alone gives the same answer as a whole-dataset run."""

    def guarded(release: Mapping[str, Any], params: Params, baseline: BaselineInput = None) -> list[Outcome]:
        if not isinstance(release, Mapping) or not isinstance(release.get("ocid"), str):
            return []
        reason = global_exclusion(release, params)
        if reason is None and price_comparison and not matches_price_comparison(release, params):
            reason = "procurement method excluded from price comparison"
        if reason is not None:
            return ProcessResult(indicator_code, release, []).not_applicable(reason)
        return evaluate(release, params, baseline)

    guarded.__doc__ = evaluate.__doc__
    guarded.__name__ = getattr(evaluate, "__name__", "evaluate")
    return guarded


def _guard_rows(function: Callable[..., list[Any]], price_comparison: bool) -> Callable[..., list[Any]]:
    def guarded(release: Mapping[str, Any], params: Params) -> list[Any]:
        if not isinstance(release, Mapping) or global_exclusion(release, params) is not None:
            return []
        if price_comparison and not matches_price_comparison(release, params):
            return []
        return function(release, params)

    guarded.__doc__ = function.__doc__
    guarded.__name__ = getattr(function, "__name__", "rows")
    return guarded


def _indicator(**kwargs: Any) -> Indicator:
    price_comparison = bool(kwargs.get("price_comparison", False))
    code = kwargs["code"]
    if kwargs.get("evaluate") is not None:
        kwargs["evaluate"] = _guard_evaluate(code, kwargs["evaluate"], price_comparison)
    for name in ("measure", "peer_keys", "contributions"):
        if kwargs.get(name) is not None:
            kwargs[name] = _guard_rows(kwargs[name], price_comparison)
    kwargs.setdefault("grains", (kwargs["grain"],))
    return Indicator(**kwargs)


_INDICATORS: list[Indicator] = [
    _indicator(
        code="R003",
        phase="T",
        grain="process",
        version=1,
        cardinal=True,
        params={"threshold": 15, "procurement_methods": "", "procurement_method_details": {}},
        evaluate=evaluate_r003,
        **_texts(
            "Masa penawaran singkat",
            "Short submission period",
            "Masa pemasukan penawaran lebih pendek dari batas (bawaan 15 hari), sehingga sedikit penyedia "
            "sempat menawar.",
            "The bid submission period is shorter than the limit (15 days by default), so few suppliers could bid.",
        ),
    ),
    _indicator(
        code="R018",
        phase="A",
        grain="process",
        version=1,
        cardinal=True,
        params={"procurement_methods": "open|selective", "fallback_tenderers": False},
        evaluate=evaluate_r018,
        **_texts(
            "Penawaran tunggal",
            "Single bid received",
            "Hanya satu penyedia yang memasukkan penawaran pada tender yang seharusnya kompetitif.",
            "Only one supplier submitted a bid in a procedure meant to be competitive.",
        ),
    ),
    _indicator(
        code="R024",
        phase="A",
        grain="process",
        version=1,
        cardinal=True,
        params={"threshold": None, "min_fence_n": 0, "skip_zero_iqr": False},
        measure=measure_bid_ratio,
        evaluate=evaluate_r024,
        price_comparison=True,
        cardinal_tenderer_value=0.0,
        **_texts(
            "Harga penawaran kedua sangat dekat dengan pemenang",
            "Price close to winning bid",
            "Selisih antara penawaran pemenang dan penawaran terendah berikutnya sangat kecil dibanding "
            "tender lain, pola yang dapat muncul pada penawaran pendamping.",
            "The gap between the winning bid and the next lowest bid is unusually small compared with other "
            "tenders, a pattern that can come from cover bidding.",
        ),
    ),
    _indicator(
        code="R025",
        phase="A",
        grain="tenderer",
        version=1,
        cardinal=True,
        params={"percentile": 75, "threshold": None},
        contributions=contributions_r025,
        evaluate_group=evaluate_group_r025,
        **_texts(
            "Terlalu banyak penawaran kalah",
            "Excessive unsuccessful bids",
            "Penyedia yang sering menawar tetapi sangat jarang menang dibanding penyedia lain.",
            "A supplier that bids often but wins far less often than other suppliers.",
        ),
    ),
    _indicator(
        code="R028",
        phase="A",
        grain="process",
        version=1,
        cardinal=True,
        params={},
        evaluate=evaluate_r028,
        price_comparison=True,
        cardinal_tenderer_value=1.0,
        **_texts(
            "Harga penawaran identik",
            "Identical bid prices",
            "Penyedia yang berbeda memasukkan penawaran dengan harga persis sama.",
            "Different suppliers submitted bids with exactly the same price.",
        ),
    ),
    _indicator(
        code="R030",
        phase="A",
        grain="process",
        version=1,
        cardinal=True,
        params={"parse_dates": False},
        evaluate=evaluate_r030,
        cardinal_tenderer_value=1.0,
        **_texts(
            "Penawaran terlambat menang",
            "Late bid won",
            "Penawaran pemenang tercatat masuk setelah batas akhir pemasukan penawaran.",
            "The winning bid is recorded as received after the submission deadline.",
        ),
    ),
    _indicator(
        code="R035",
        phase="A",
        grain="process",
        version=1,
        cardinal=True,
        params={"threshold": 1},
        evaluate=evaluate_r035,
        cardinal_tenderer_value=0.0,
        **_texts(
            "Semua penawaran kecuali pemenang digugurkan",
            "All except winning bid disqualified",
            "Semua penyedia lain digugurkan sehingga hanya pemenang yang lolos evaluasi.",
            "Every other supplier was disqualified, so only the winner passed evaluation.",
        ),
    ),
    _indicator(
        code="R036",
        phase="A",
        grain="process",
        version=1,
        cardinal=True,
        params={},
        evaluate=evaluate_r036,
        price_comparison=True,
        **_texts(
            "Penawaran terendah digugurkan",
            "Lowest bid disqualified",
            "Penawaran dengan harga terendah digugurkan pada tender yang dinilai berdasarkan harga.",
            "The lowest-priced bid was disqualified in a tender evaluated on price.",
        ),
    ),
    _indicator(
        code="BOS-03",
        phase="A",
        grain="process",
        version=1,
        cardinal=False,
        params={},
        evaluate=evaluate_bos03,
        price_comparison=True,
        **_texts(
            "Penawaran sah terendah tidak menang",
            "Lowest valid bid not awarded",
            "Pemenang bukan penyedia dengan penawaran sah terendah, padahal kriteria evaluasi hanya harga.",
            "The winner is not the supplier with the lowest valid bid although the award criterion is price only.",
        ),
    ),
    _indicator(
        code="R038",
        phase="A",
        grain="buyer",
        grains=("buyer", "procuring_entity", "tenderer"),
        version=1,
        cardinal=True,
        params={
            "threshold": None,
            "minimum_submitted_bids": 2,
            "minimum_contracting_processes": 2,
            "minimum_counts_processes": False,
        },
        contributions=contributions_r038,
        evaluate_group=evaluate_group_r038,
        **_texts(
            "Terlalu banyak penawaran digugurkan",
            "Excessive disqualified bids",
            "Bagian penawaran yang digugurkan oleh instansi, pokja, atau untuk penyedia ini jauh lebih tinggi "
            "dibanding yang lain.",
            "The share of disqualified bids for this buyer, procuring entity or supplier is far higher than "
            "for others.",
        ),
    ),
    _indicator(
        code="R048",
        phase="A",
        grain="tenderer",
        version=1,
        cardinal=True,
        params={"digits": 2, "threshold": None, "minimum_contracting_processes": 20},
        contributions=contributions_r048,
        evaluate_group=evaluate_group_r048,
        **_texts(
            "Penyedia dengan bidang usaha sangat beragam",
            "Heterogeneous supplier",
            "Penyedia memasok jenis barang atau jasa yang jauh lebih beragam dibanding penyedia lain.",
            "The supplier provides a far wider variety of goods or services than other suppliers.",
        ),
    ),
    _indicator(
        code="R058",
        phase="A",
        grain="process",
        version=1,
        cardinal=True,
        params={"threshold": None, "min_fence_n": 0, "skip_zero_iqr": False},
        measure=measure_bid_ratio,
        evaluate=evaluate_r058,
        price_comparison=True,
        cardinal_tenderer_value=0.0,
        **_texts(
            "Penawaran dengan potongan sangat besar",
            "Heavily discounted bid",
            "Penawaran pemenang jauh lebih rendah dari penawaran berikutnya dibanding tender lain (konteks: "
            "penawaran di bawah 80% HPS memerlukan jaminan pelaksanaan tambahan).",
            "The winning bid is far below the next bid compared with other tenders (context: bids under 80% "
            "of the estimate need a higher performance bond).",
        ),
    ),
    _indicator(
        code="R010",
        phase="T",
        grain="process",
        version=1,
        cardinal=False,
        params=dict(INDONESIAN_PARAMS),
        evaluate=evaluate_r010,
        **_texts(
            "Metode non-kompetitif di atas batas",
            "Non-competitive method above threshold",
            "Pengadaan Langsung melebihi batas nilai kategorinya, atau Penunjukan Langsung tanpa alasan yang "
            "dipublikasikan.",
            "Direct procurement (Pengadaan Langsung) above its category ceiling, or direct appointment "
            "(Penunjukan Langsung) without a published rationale.",
        ),
    ),
    _indicator(
        code="R049",
        phase="P",
        grain="process",
        version=1,
        cardinal=False,
        params={
            **INDONESIAN_PARAMS,
            "band_width": {"goods": 0.05, "services": 0.05, "consultingServices": 0.05, "works": 0.10},
        },
        evaluate=evaluate_r049,
        **_texts(
            "Nilai tepat di bawah batas Pengadaan Langsung",
            "Value just below the direct-purchase ceiling",
            "Nilai paket sedikit di bawah batas Pengadaan Langsung, yang dapat menandakan pemecahan paket.",
            "The value sits just under the direct-purchase ceiling, which can signal a split purchase.",
        ),
    ),
    _indicator(
        code="R031",
        phase="A",
        grain="process",
        version=1,
        cardinal=False,
        params={**INDONESIAN_PARAMS, "ratio_threshold": 0.98, "no_hps_budget_ceiling": 10_000_000},
        evaluate=evaluate_r031,
        **_texts(
            "Nilai kontrak mendekati atau melebihi HPS",
            "Award at or above the estimate",
            "Nilai penetapan pemenang 98% atau lebih dari HPS, atau ada penawaran yang sama persis dengan HPS.",
            "The award is 98% or more of the owner's estimate (HPS), or a bid equals the estimate exactly.",
        ),
    ),
    _indicator(
        code="BOS-04",
        phase="A",
        grain="process",
        version=1,
        cardinal=False,
        params={},
        evaluate=evaluate_bos04,
        **_texts(
            "Penawaran sama dengan HPS",
            "Bid equal to the estimate",
            "Ada penawaran yang nilainya persis sama dengan HPS, yang dapat menandakan HPS bocor.",
            "A bid exactly equals the owner's estimate, which can mean the estimate leaked.",
        ),
    ),
    _indicator(
        code="BOS-01",
        phase="A",
        grain="process",
        version=1,
        cardinal=False,
        params={"min_bids": 3, "min_fence_n": 20},
        measure=measure_bos01,
        peer_keys=peer_keys_bos01,
        evaluate=evaluate_bos01,
        price_comparison=True,
        **_texts(
            "Sebaran harga penawaran sangat sempit",
            "Low bid dispersion",
            "Harga-harga penawaran sangat berdekatan dibanding tender sejenis, pola yang dapat muncul pada "
            "persekongkolan.",
            "Bid prices are unusually close together compared with similar tenders, a pattern that can come "
            "from collusion.",
        ),
    ),
    _indicator(
        code="R017",
        phase="A",
        grain="process",
        version=1,
        cardinal=False,
        params={"min_peers": 20, "z_threshold": 3.5},
        measure=measure_r017,
        peer_keys=peer_keys_r017,
        evaluate=evaluate_r017,
        fence_k=3.0,
        **_texts(
            "Harga satuan tidak wajar",
            "Unit-price outlier",
            "Harga satuan suatu barang jauh di atas harga barang yang sama (klasifikasi dan satuan sama) di "
            "paket lain.",
            "A unit price is far above the price of the same item (same classification and unit) elsewhere.",
        ),
    ),
    _indicator(
        code="R069",
        phase="C",
        grain="process",
        version=1,
        cardinal=False,
        params={"max_increase": 0.10},
        evaluate=evaluate_r069,
        **_texts(
            "Nilai kontrak naik lewat adendum",
            "Contract value raised by amendments",
            "Nilai kontrak naik lebih dari 10% dari nilai saat penandatanganan (Perpres 16/2018 Pasal 54(2)).",
            "The contract value rose more than 10% above its value at signing.",
        ),
    ),
    _indicator(
        code="R064",
        phase="C",
        grain="process",
        version=1,
        cardinal=False,
        params={"max_amendments": 3, "max_period_extensions": 2},
        evaluate=evaluate_r064,
        **_texts(
            "Banyak adendum kontrak",
            "Many contract amendments",
            "Kontrak diubah tiga kali atau lebih, atau jangka waktunya diperpanjang dua kali atau lebih.",
            "The contract was amended three or more times, or its period extended twice or more.",
        ),
    ),
    _indicator(
        code="R061",
        phase="A",
        grain="process",
        version=1,
        cardinal=False,
        params={"min_fence_n": 20, "stratify_by": "procurementMethod"},
        measure=measure_decision,
        peer_keys=peer_keys_decision,
        evaluate=evaluate_r061,
        **_texts(
            "Penetapan pemenang sangat cepat",
            "Unusually fast award decision",
            "Waktu dari batas akhir penawaran sampai penetapan pemenang jauh lebih singkat dibanding tender "
            "dengan metode yang sama.",
            "The time from the bid deadline to the award is far shorter than for tenders with the same method.",
        ),
    ),
    _indicator(
        code="R062",
        phase="A",
        grain="process",
        version=1,
        cardinal=False,
        params={"min_fence_n": 20, "stratify_by": "procurementMethod"},
        measure=measure_decision,
        peer_keys=peer_keys_decision,
        evaluate=evaluate_r062,
        **_texts(
            "Penetapan pemenang sangat lambat",
            "Unusually slow award decision",
            "Waktu dari batas akhir penawaran sampai penetapan pemenang jauh lebih lama dibanding tender "
            "dengan metode yang sama.",
            "The time from the bid deadline to the award is far longer than for tenders with the same method.",
        ),
    ),
    _indicator(
        code="R063",
        phase="C",
        grain="process",
        version=1,
        cardinal=False,
        params={"grace_days": 30, "as_of": None},
        evaluate=evaluate_r063,
        day_bound=r063_day_bound,
        **_texts(
            "Kontrak belum dipublikasikan",
            "Contract not published",
            "Pemenang sudah ditetapkan lebih dari 30 hari tetapi kontraknya belum dipublikasikan.",
            "The award was made more than 30 days ago but no contract has been published.",
        ),
    ),
    _indicator(
        code="R060",
        phase="C",
        grain="process",
        version=1,
        cardinal=False,
        params={},
        evaluate=evaluate_r060,
        **_texts(
            "Kontrak tanpa penetapan pemenang",
            "Contract without published award",
            "Ada kontrak yang tidak terhubung ke penetapan pemenang yang dipublikasikan.",
            "A contract is not linked to any published award.",
        ),
    ),
    _indicator(
        code="R068",
        phase="I",
        grain="process",
        version=1,
        cardinal=False,
        params={"tolerance": 0},
        evaluate=evaluate_r068,
        **_texts(
            "Pembayaran melebihi nilai kontrak",
            "Payments exceed contract value",
            "Jumlah pembayaran yang tercatat melebihi nilai kontrak.",
            "The recorded payments add up to more than the contract value.",
        ),
    ),
    _indicator(
        code="R040",
        phase="A",
        grain="buyer_supplier",
        version=1,
        cardinal=False,
        params={"min_share": 0.5, "min_awards": 5},
        contributions=contributions_r040,
        evaluate_group=evaluate_group_r040,
        **_texts(
            "Konsentrasi penyedia",
            "Supplier concentration",
            "Satu penyedia menerima setengah atau lebih nilai kontrak suatu instansi dalam setahun.",
            "One supplier received half or more of a buyer's awarded value in a year.",
        ),
    ),
    _indicator(
        code="R055",
        phase="P",
        grain="buyer_supplier",
        version=1,
        cardinal=False,
        params={**INDONESIAN_PARAMS, "window_days": 365, "non_competitive_only": True},
        contributions=contributions_r055,
        evaluate_group=evaluate_group_r055,
        **_texts(
            "Pemecahan paket",
            "Split purchases",
            "Beberapa paket kecil dari instansi yang sama ke penyedia yang sama untuk jenis barang yang sama, "
            "masing-masing di bawah batas Pengadaan Langsung, tetapi jumlahnya melampaui batas itu.",
            "Several small purchases from one buyer to one supplier for the same kind of item, each under the "
            "direct-purchase ceiling but together above it.",
        ),
    ),
]

REGISTRY: dict[str, Indicator] = {indicator.code: indicator for indicator in _INDICATORS}


def effective_params(code: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Global defaults < indicator defaults < global overrides < ``overrides[code]``.

    ``overrides`` mirrors Cardinal's settings file: top-level keys are global settings (``currency``,
    ``no_price_comparison_procurement_methods``, ...), and a key equal to an indicator code holds that
    indicator's settings. Unknown settings raise ValueError, as Cardinal rejects unknown settings.
    """
    indicator = REGISTRY[code]
    params: dict[str, Any] = {**GLOBAL_DEFAULTS, **indicator.params}
    for key, value in (overrides or {}).items():
        if key in REGISTRY:
            continue
        if key not in GLOBAL_DEFAULTS:
            raise ValueError(f"unknown global setting {key!r}")
        params[key] = value
    own = (overrides or {}).get(code) or {}
    unknown = set(own) - set(indicator.params)
    if unknown:
        raise ValueError(f"unknown setting(s) for {code}: {sorted(unknown)}")
    params.update(own)
    return params
