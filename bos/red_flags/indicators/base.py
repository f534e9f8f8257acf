"""Shared vocabulary of the red-flag indicators: outcome and indicator types, defensive readers of OCDS compiled
releases, global exclusions and the price-comparison switch, date parsing, the main currency, outcome builders and the
eligibility rules E1 shared by several indicators (RED_FLAGS.md section 1).

Every reader returns None (or an empty list) for a missing or oddly typed field; none raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

from bos.red_flags.stats import Baseline

Grain = Literal["process", "buyer", "procuring_entity", "tenderer", "buyer_supplier"]
Status = Literal["flagged", "not_flagged", "insufficient_data", "not_applicable"]
Params = Mapping[str, Any]
BaselineInput = Baseline | Mapping[str, Baseline] | None

FLAGGED: Status = "flagged"
NOT_FLAGGED: Status = "not_flagged"
INSUFFICIENT: Status = "insufficient_data"
NOT_APPLICABLE: Status = "not_applicable"


# ---------------------------------------------------------------------------------------------------------------
# Data types
# ---------------------------------------------------------------------------------------------------------------


# Outcome and Contribution are slotted, not frozen: a frozen dataclass sets each field through object.__setattr__,
# and a full run of 100,000 processes builds ~2.7 million outcomes and ~0.8 million contributions (a frozen Outcome
# cost ~2 us to build, a slotted one built positionally ~0.3 us). Neither is changed after it is built: code that
# needs another one builds it with dataclasses.replace.


@dataclass(slots=True)
class Outcome:
    """The result of one indicator for one subject.

    ``value`` is the measured value as Cardinal reports it (1.0 for yes/no flags, a ratio or count otherwise),
    ``evidence`` a JSON-able dict (values compared, threshold and its ``source`` fence|config|law, peer
    statistics, fields read, reason when not evaluated), ``marked`` the organisation ids the flag points at.
    ``key`` distinguishes several outcomes of one subject (e.g. "2024|supplier-id" for a buyer x supplier x year);
    it is "" for process and plain organisation grain.
    """

    code: str
    grain: Grain
    subject: str
    ocid: str | None
    status: Status
    value: float | None
    score: float
    evidence: Mapping[str, Any]
    marked: tuple[str, ...] = ()
    key: str = ""


@dataclass(slots=True)
class Contribution:
    """One process's row towards an organisation-grain indicator (RED_FLAGS.md section 5, item 4).

    ``attrs`` carries JSON-able extras some indicators need (category, division, ceiling); ``date`` is ISO 8601.
    """

    code: str
    grain: Grain
    subject: str
    key: str
    numerator: float
    denominator: float
    amount: float | None
    ocid: str
    date: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)


MeasureFn = Callable[[Mapping[str, Any], Params], list[float]]
PeerKeysFn = Callable[[Mapping[str, Any], Params], list[str]]
EvaluateFn = Callable[[Mapping[str, Any], Params, BaselineInput], list[Outcome]]
ContributionsFn = Callable[[Mapping[str, Any], Params], list[Contribution]]
EvaluateGroupFn = Callable[[Sequence[Contribution], Params], list[Outcome]]


@dataclass(frozen=True)
class Indicator:
    """Metadata and functions of one indicator. ``version`` is bumped whenever the logic changes."""

    code: str
    name_id: str
    name_en: str
    explanation_id: str
    explanation_en: str
    phase: str
    grain: Grain
    version: int
    cardinal: bool
    params: Mapping[str, Any]
    measure: MeasureFn | None = None
    evaluate: EvaluateFn | None = None
    peer_keys: PeerKeysFn | None = None
    contributions: ContributionsFn | None = None
    evaluate_group: EvaluateGroupFn | None = None
    #: Other grains the indicator reports (R038: buyer, procuring entity, tenderer).
    grains: tuple[Grain, ...] = ()
    #: Tukey multiplier of the baseline fences (R017 uses Q3 + 3 IQR).
    fence_k: float = 1.5
    #: Subject to the price-comparison switch (Cardinal: R024, R028, R036, R058).
    price_comparison: bool = False
    #: Cardinal's value for a tenderer marked by a process flag (None: Cardinal reports no tenderer).
    cardinal_tenderer_value: float | None = None
    #: Whether an outcome may change with the day alone (its release and baselines unchanged); None: never.
    day_bound: Callable[[Outcome], bool] | None = None

    @property
    def is_process_grain(self) -> bool:
        return self.evaluate is not None

    @property
    def stratified(self) -> bool:
        return self.peer_keys is not None


# ---------------------------------------------------------------------------------------------------------------
# Reading compiled releases defensively: a missing or odd field is None, never an exception
# ---------------------------------------------------------------------------------------------------------------


# isinstance() against these tuples, not ``int | float``: a union written in the call is built again at every call,
# which cost ~0.3 us each in readers called millions of times by a full run.
NUMBER_TYPES = (int, float)
AMOUNT_TYPES = (int, float, str, Decimal)
COLLECTION_TYPES = (list, tuple, set, frozenset)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def nonblank(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def as_decimal(value: Any) -> Decimal | None:
    """A JSON amount (int, float or numeric string) as an exact Decimal; None for anything else (bool, NaN, "")."""
    if isinstance(value, bool) or not isinstance(value, AMOUNT_TYPES):
        return None
    if isinstance(value, Decimal) or value == 0:
        # Not cached: equal keys would share an entry although they convert differently (0.0 and -0.0; Decimals
        # with other exponents), and a signalling NaN cannot be hashed.
        return _decimal(value)
    return _cached_decimal(value)


def _decimal(value: int | float | str | Decimal) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


# Cached (Decimals are immutable): the indicators read the same few amounts of a release ~40 times between them, and
# the conversion through str cost ~10% of evaluating a release. ``typed``: 1 and 1.0 give Decimal("1") and
# Decimal("1.0"), which evidence shows differently, and must not share an entry. Equal ints, equal strings and equal
# non-zero floats convert alike.
_cached_decimal = lru_cache(maxsize=4096, typed=True)(_decimal)


def money(value: Any) -> tuple[Decimal, str] | None:
    """(amount, currency) of an OCDS Value object, when both are usable."""
    obj = as_dict(value)
    amount = as_decimal(obj.get("amount"))
    currency = nonblank(obj.get("currency"))
    if amount is None or currency is None:
        return None
    return amount, currency


def org_id(reference: Any) -> str | None:
    """``id`` of an OrganizationReference. Cardinal reads only string ids (its ``prepare`` stringifies numbers)."""
    return nonblank(as_dict(reference).get("id"))


def tender_of(release: Mapping[str, Any]) -> dict[str, Any]:
    return as_dict(release.get("tender"))


def awards_of(release: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [a for a in as_list(release.get("awards")) if isinstance(a, dict)]


def contracts_of(release: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for c in as_list(release.get("contracts")) if isinstance(c, dict)]


def bid_details(release: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """``bids/details`` when present as an array; None when the section is missing."""
    details = as_dict(release.get("bids")).get("details")
    if not isinstance(details, list):
        return None
    return [b for b in details if isinstance(b, dict)]


def submitted_bids(release: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Submitted bids (RED_FLAGS.md section 1): a status string that is neither ``invited`` nor ``withdrawn``.

    Besides ``pending``, ``valid`` and ``disqualified``, any other status string (e.g. Prozorro's ``active``) counts
    as submitted, as Cardinal's code does; a bid without a status does not.
    """
    return [
        bid
        for bid in bid_details(release) or []
        if isinstance(bid.get("status"), str) and bid["status"] not in {"invited", "withdrawn"}
    ]


def tenderer_ids(bid: Mapping[str, Any]) -> list[str]:
    return [i for i in (org_id(t) for t in as_list(bid.get("tenderers"))) if i is not None]


def active_awards(release: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [a for a in awards_of(release) if a.get("status") == "active"]


def supplier_ids(award: Mapping[str, Any]) -> list[str]:
    return [i for i in (org_id(s) for s in as_list(award.get("suppliers"))) if i is not None]


def final_awards_and_bids(release: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """(active awards, bid details) when every award status is final, E1 clause 1: ``active``, ``cancelled`` or
    ``unsuccessful``. An award without a status string is skipped. None when awards or bids are missing or an award
    has another status (``pending``, ``invalid``, ...)."""
    awards = release.get("awards")
    details = bid_details(release)
    if not isinstance(awards, list) or details is None:
        return None
    complete = []
    for award in awards:
        status = as_dict(award).get("status")
        if not isinstance(status, str):
            continue
        if status == "active":
            complete.append(award)
        elif status not in {"cancelled", "unsuccessful"}:
            return None
    return complete, details


def split_pipe(value: Any) -> frozenset[str]:
    """Cardinal's pipe-separated settings ("a|b"); also accepts a list."""
    if isinstance(value, COLLECTION_TYPES):
        return frozenset(str(v) for v in value)
    if not value:
        return frozenset()
    return _split_text(str(value))


@lru_cache(maxsize=256)
def _split_text(text: str) -> frozenset[str]:
    # Cached: every indicator reads the same few settings for every release (read-only, hence frozen).
    return frozenset(part for part in text.split("|") if part)


def matches_procurement_method(tender: Mapping[str, Any], methods: frozenset[str]) -> bool:
    """The ``procurement_methods`` filter: no methods configured lets every process through; otherwise a process
    passes only with one of them as ``tender/procurementMethod`` (a process without a method never passes)."""
    if not methods:
        return True
    method = tender.get("procurementMethod")
    return isinstance(method, str) and method in methods


def matches_price_comparison(release: Mapping[str, Any], params: Params) -> bool:
    """The price-comparison switch (RED_FLAGS.md section 1) on ``tender/procurementMethodDetails``.

    A configured allow list takes precedence, and then a process without details is left out; otherwise the deny
    list applies, and a process without details stays in."""
    include = split_pipe(params.get("price_comparison_procurement_methods"))
    exclude = split_pipe(params.get("no_price_comparison_procurement_methods"))
    details = tender_of(release).get("procurementMethodDetails")
    if isinstance(details, str):
        return details in include if include else details not in exclude
    return not include


def global_exclusion(release: Mapping[str, Any], params: Params) -> str | None:
    """Reason Cardinal excludes the whole process from every indicator, or None.

    Cardinal: ``ocid`` not a string; ``tender/status`` cancelled; ``[exclusions] procurement_method_details``.
    """
    if not isinstance(release.get("ocid"), str):
        return "ocid is not a string"
    tender = tender_of(release)
    if tender.get("status") == "cancelled":
        return "tender/status is cancelled"
    details = tender.get("procurementMethodDetails")
    if isinstance(details, str) and details in split_pipe(params.get("exclusions_procurement_method_details")):
        return f"tender/procurementMethodDetails {details!r} is excluded by configuration"
    return None


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def parse_rfc3339(value: Any) -> datetime | None:
    """Strict RFC 3339 (RED_FLAGS.md, "Reproducing Cardinal exactly"): date, time with seconds and an offset
    ``Z`` or ``+HH:MM`` are all required; ``+07``, ``+0700``, a bare date or no offset give None."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    text = value.replace("t", "T").replace("z", "Z").replace(" ", "T", 1)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    """Lenient ISO 8601 (BOS codes): dates, any offset; naive values are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def whole_days(start: datetime, end: datetime) -> int:
    """Whole days from ``start`` to ``end``: the difference in whole seconds, then in whole days, each truncated
    toward zero (so 23h59m is 0 days, and -1.5 days is -1)."""
    delta = end - start
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    seconds = int(micros / 1_000_000) if micros >= 0 else -int(-micros // 1_000_000)
    return int(seconds / 86_400) if seconds >= 0 else -(-seconds // 86_400)


def days_between(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(days=1)


def bid_prices(
    release: Mapping[str, Any], statuses: set[str] | None = None
) -> list[tuple[dict[str, Any], Decimal, str]]:
    """(bid, amount, currency) of submitted bids (optionally restricted to ``statuses``) with a usable value."""
    rows = []
    for bid in submitted_bids(release):
        if statuses is not None and bid.get("status") not in statuses:
            continue
        price = money(bid.get("value"))
        if price is not None:
            rows.append((bid, price[0], price[1]))
    return rows


def first_currency_seen(release: Mapping[str, Any], params: Params) -> str | None:
    """The currency this release would fix as main currency if it came first in the input (RED_FLAGS.md: the
    first currency seen, in input order, when none is configured).

    Bids are what the Cardinal codes compare, in this order: the valid single-tenderer bids of an E1 process (the
    bid ratio of R024/R058), then the submitted bids of a process with an active award (R036). BOS codes without
    bids fall back to :func:`fallback_currency_seen`.
    """
    if matches_price_comparison(release, params):
        e1 = single_supplier_final_award(release)
        if e1 is not None:
            for _tenderer, _amount, currency in valid_single_tenderer_bids(e1[1]):
                return currency
        if any(a.get("status") == "active" for a in awards_of(release)):
            for _bid, _amount, currency in bid_prices(release):
                return currency
    return None


def fallback_currency_seen(release: Mapping[str, Any]) -> str | None:
    values = [tender_of(release).get("value")]
    values += [a.get("value") for a in awards_of(release)]
    values += [c.get("value") for c in contracts_of(release)]
    for value in values:
        price = money(value)
        if price is not None:
            return price[1]
    return None


def main_currency(release: Mapping[str, Any], params: Params) -> str | None:
    """Configured (or dataset-resolved) main currency, else what Cardinal would pick for this release alone."""
    configured = params.get("currency")
    if isinstance(configured, str) and configured:
        return configured
    return first_currency_seen(release, params) or fallback_currency_seen(release)


# ---------------------------------------------------------------------------------------------------------------
# Building outcomes
# ---------------------------------------------------------------------------------------------------------------


class ProcessResult:
    """Outcome factory for one process-grain indicator and one release."""

    def __init__(self, code: str, release: Mapping[str, Any], fields: Sequence[str]) -> None:
        self.code = code
        self.ocid = release.get("ocid") if isinstance(release.get("ocid"), str) else ""
        self.fields = list(fields)

    def _make(
        self, status: Status, value: float | None, score: float, evidence: dict[str, Any], marked: Iterable[str]
    ) -> list[Outcome]:
        evidence = {"fields": self.fields, **evidence}
        marks = tuple(dict.fromkeys(marked)) if marked else ()
        # Positional: Outcome's field order (code, grain, subject, ocid, status, value, score, evidence, marked).
        return [Outcome(self.code, "process", self.ocid, self.ocid, status, value, score, evidence, marks)]

    def flagged(
        self, value: float, evidence: dict[str, Any], marked: Iterable[str] = (), score: float = 1.0
    ) -> list[Outcome]:
        return self._make(FLAGGED, value, score, evidence, marked)

    def not_flagged(self, value: float | None, evidence: dict[str, Any], score: float = 0.0) -> list[Outcome]:
        return self._make(NOT_FLAGGED, value, score, evidence, ())

    def insufficient(self, missing: Sequence[str], reason: str, **evidence: Any) -> list[Outcome]:
        return self._make(INSUFFICIENT, None, 0.0, {"missing": list(missing), "reason": reason, **evidence}, ())

    def not_applicable(self, reason: str, **evidence: Any) -> list[Outcome]:
        return self._make(NOT_APPLICABLE, None, 0.0, {"reason": reason, **evidence}, ())


def org_outcome(
    code: str,
    grain: Grain,
    subject: str,
    status: Status,
    value: float | None,
    evidence: dict[str, Any],
    marked: Iterable[str] = (),
    key: str = "",
    score: float | None = None,
) -> Outcome:
    return Outcome(
        code=code,
        grain=grain,
        subject=subject,
        ocid=None,
        status=status,
        value=value,
        score=(1.0 if status == FLAGGED else 0.0) if score is None else score,
        evidence=evidence,
        marked=tuple(dict.fromkeys(marked)),
        key=key,
    )


def single_baseline(baseline: BaselineInput) -> Baseline | None:
    return baseline if isinstance(baseline, Baseline) else None


def peer_baseline(baseline: BaselineInput, key: str) -> Baseline | None:
    if isinstance(baseline, Mapping):
        found = baseline.get(key)
        return found if isinstance(found, Baseline) else None
    return None


def fence_blocked(baseline: Baseline, params: Params) -> str | None:
    """BOS Proposals on fences (off for Cardinal codes): minimum support and IQR = 0."""
    if baseline.n < int(params.get("min_fence_n", 0) or 0):
        return f"fewer than {params['min_fence_n']} peer values (n={baseline.n})"
    if params.get("skip_zero_iqr") and baseline.iqr <= 0:
        return "IQR is 0: no spread to compare against"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Eligibility E1 (RED_FLAGS.md section 1) and organisation totals, shared by bid and organisation indicators
# ---------------------------------------------------------------------------------------------------------------


def valid_single_tenderer_bids(details: Sequence[Mapping[str, Any]]) -> list[tuple[str, Decimal, str]]:
    """(tenderer id, amount, currency) of the bids E1 clause 3 counts: status ``valid``, a usable value and exactly
    one tenderer, which has an id. Any other bid is skipped; it does not exclude the process."""
    rows = []
    for bid in details:
        tenderers = as_list(bid.get("tenderers"))
        price = money(bid.get("value"))
        if bid.get("status") != "valid" or price is None or len(tenderers) != 1:
            continue
        tenderer = org_id(tenderers[0])
        if tenderer is not None:
            rows.append((tenderer, price[0], price[1]))
    return rows


def single_supplier_final_award(release: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """E1 clauses 1-2: all awards final, one active award with one supplier that has an id -> (supplier, bids)."""
    final = final_awards_and_bids(release)
    if final is None:
        return None
    complete, details = final
    if len(complete) != 1:
        return None
    suppliers = as_list(complete[0].get("suppliers"))
    if len(suppliers) != 1:
        return None
    supplier = org_id(suppliers[0])
    if supplier is None:
        return None
    return supplier, details


def sum_by_subject(rows: Iterable[Contribution]) -> dict[str, tuple[float, float, list[str]]]:
    """Per subject: (sum of numerators, sum of denominators, sorted distinct ocids)."""
    totals: dict[str, list[Any]] = {}
    for row in rows:
        entry = totals.setdefault(row.subject, [0.0, 0.0, []])
        entry[0] += row.numerator
        entry[1] += row.denominator
        if row.ocid:
            entry[2].append(row.ocid)
    return {k: (v[0], v[1], sorted(set(v[2]))) for k, v in totals.items()}
