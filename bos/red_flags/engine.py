"""The red-flag engine: evaluates stored compiled releases (``Record.compiled``) with the pure indicators and keeps
the outcome tables current, incrementally or in full (RED_FLAGS.md sections 4 and 5).

BOS's own processes and imported ones are treated alike: the engine reads records, never the domain tables, and
evaluates each publisher (``Record.source``) on its own, since organisation ids are stable only within one.

* Process grain: ``measure`` values go to ``red_flag_measures``; baselines (peer statistics) are rebuilt from that
  table by the full run, and a single process is evaluated against the stored baseline rows of its peer keys.
* Organisation grain: each process's contributions are stored; re-evaluating a process swaps its rows and adjusts
  ``red_flag_org_totals`` by difference, and only the organisations it touches are re-evaluated: R025 and R038 from
  the totals of every organisation (one row each, whatever the number of processes), R040 from the buyer's totals,
  R055 from the rows of one buyer x supplier x division, R048 from one supplier's rows against its fence pinned by
  the last full run.
* Outcomes are diffed against the current rows: a status change writes an event (raised, cleared, changed); the
  unique key (source, code, grain, subject, key) makes every run idempotent, so a killed run never duplicates.
* The full run reads a record's release only when it must: publishing and importing queue a record (dirty, in
  ``pending_evaluations``) in the same transaction, so a clean record evaluated under the current rules is skipped
  unread when its process is frozen, or when the digest of its other inputs (currency, the baselines it was
  compared with, the day for day-bound outcomes; ``inputs_digest``) did not move. Its flags are then confirmed as
  still holding.

Services call nothing here; jobs and the CLI do, inside the lease ``red-flags-engine`` (one runner at a time).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import logging
import math
import multiprocessing
import os
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import (
    Text,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    func,
    insert,
    not_,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from bos.db import background_checkpoints, upsert
from bos.ocds.models import PendingEvaluation, Record
from bos.red_flags.indicators import (
    FLAGGED,
    INSUFFICIENT,
    NOT_APPLICABLE,
    NOT_FLAGGED,
    REGISTRY,
    Contribution,
    Outcome,
    SupplierVariety,
    effective_params,
    evaluate_r048_varieties,
    fallback_currency_seen,
    first_currency_seen,
    global_exclusion,
)
from bos.red_flags.indicators.base import NUMBER_TYPES
from bos.red_flags.indicators.registry import GLOBAL_DEFAULTS
from bos.red_flags.models import (
    FlagEventKind,
    FlagStatus,
    RedFlag,
    RedFlagBaseline,
    RedFlagContribution,
    RedFlagCoverage,
    RedFlagEvent,
    RedFlagMeasure,
    RedFlagOrgTotal,
    RedFlagProcess,
)
from bos.red_flags.stats import Baseline
from bos.red_flags.writes import insert_rows, insert_values, reserve_ids, update_rows

log = logging.getLogger(__name__)

ENGINE_LEASE = "red-flags-engine"
#: Records per unit of work in the full run (each chunk commits). 1,000 rather than 500: a first run of 100,000
#: processes on SQLite took 71.2 / 72.5 s instead of 79.1 / 78.1 s (alternating; 2,000 gave 71.8 s), the parent
#: spending ~6 s less CPU in commits and per-statement work. The three chunks in flight hold ~15 MB of releases.
CHUNK = 1000
MAX_EVIDENCE_OCIDS = 100  # an organisation flag lists at most this many of its processes; the count is kept

#: Composite score (RED_FLAGS.md section 4, Proposal): equal weights (CRI-like) over process-grain indicators that
#: ended flagged or not flagged; below ``MIN_COVERAGE`` no score is given. Published at /api/red-flags/indicators.
COMPOSITE = {
    "version": 1,
    "weights": {code: 1.0 for code, indicator in REGISTRY.items() if indicator.is_process_grain},
    "min_coverage": 0.5,
    "why": (
        "Equal weights, as the GTI Corruption Risk Index averages its elementary flags: BOS has no validated "
        "calibration yet, so no indicator is presumed more telling than another. Indicators with insufficient data "
        "are left out of both the numerator and the denominator (never counted as 0), and below 50% coverage of the "
        "applicable indicators no score is shown. A score is a reason to look closer, never proof."
    ),
}

#: Tender statuses after which a process is final (RED_FLAGS.md section 5, item 2; Prozorro's stop statuses).
FINAL_TENDER_STATUSES = {"complete", "cancelled", "unsuccessful"}

PROCESS_CODES = [code for code, indicator in REGISTRY.items() if indicator.is_process_grain]
ORG_CODES = [code for code, indicator in REGISTRY.items() if indicator.contributions is not None]
#: Organisation indicators whose fences span every organisation and are cheap to re-evaluate from totals.
TOTALS_ALL_SUBJECTS = {"R025", "R038"}
#: Organisation indicators evaluated per subject from its totals (no dataset-wide statistic).
TOTALS_PER_SUBJECT = {"R040"}
#: Organisation indicators evaluated per group from raw contribution rows.
RAW_PER_GROUP = {"R055"}  # the window over award dates needs each award
#: R048: the full run reads every row (distinct prefixes and processes) and pins the fence; an incremental run has the
#: database sum up the touched suppliers (``_r048_touched_varieties``).
RAW_PER_SUBJECT_PINNED = {"R048"}
#: ``peer_key`` of the fences a full run pins for TOTALS_ALL_SUBJECTS codes (incremental runs read only the touched
#: organisations' totals and compare them with these fences until the next full run).
PINNED_FENCES = "*pinned-fences"
#: Organisation indicators whose outcomes are one per touched group (subject and key): only those rows are read.
KEYED_GROUPS = RAW_PER_GROUP | {"R040"}
#: Key suffix of the row that stands for a buyer-year's other suppliers in an incremental R040 evaluation.
R040_REST = "\x00rest"

FlagKey = tuple[str, str, str, str, str]  # source, code, grain, subject, key
BaselineDigests = Mapping[tuple[str, str], str]  # (code, peer key) -> sha256 of the stored baseline's data


# ---------------------------------------------------------------------------------------------------------------
# Parameters and rule versions
# ---------------------------------------------------------------------------------------------------------------


def rules_sha(overrides: Mapping[str, Any] | None = None) -> str:
    """A digest of every indicator's version and parameters: a change re-evaluates even frozen processes."""
    payload = {
        code: {"version": i.version, "params": effective_params(code, overrides)} for code, i in REGISTRY.items()
    }
    payload["_composite"] = {"version": COMPOSITE["version"], "weights": COMPOSITE["weights"]}  # type: ignore[assignment]
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


@dataclass
class SourceParams:
    """Effective parameters of every indicator for one publisher, with its main currency and the day of ``now``."""

    source: str
    currency: str | None
    params: dict[str, dict[str, Any]]
    day: str = ""  # the start of the UTC day of ``now`` (ISO 8601)

    @classmethod
    def build(
        cls, source: str, currency: str | None, now: dt.datetime, overrides: Mapping[str, Any] | None = None
    ) -> SourceParams:
        # R063 compares award dates with "now": the start of the UTC day keeps outcomes stable within a day, so
        # repeated runs do not churn rows.
        as_of = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
        params = {}
        for code in REGISTRY:
            values = {**effective_params(code, overrides), "currency": currency}
            if "as_of" in values and values["as_of"] is None:
                values["as_of"] = as_of
            params[code] = values
        return cls(source, currency, params, as_of)


def resolve_currency(releases: Iterable[Mapping[str, Any]], overrides: Mapping[str, Any] | None = None) -> str | None:
    """Cardinal's main currency: configured, else the first seen in input order (stops at the first one)."""
    params = {**GLOBAL_DEFAULTS, **{k: v for k, v in (overrides or {}).items() if k in GLOBAL_DEFAULTS}}
    if params.get("currency"):
        return str(params["currency"])
    fallback = None
    for release in releases:
        if global_exclusion(release, params) is not None:
            continue
        seen = first_currency_seen(release, params)
        if seen:
            return seen
        fallback = fallback or fallback_currency_seen(release)
    return fallback


# ---------------------------------------------------------------------------------------------------------------
# Pure per-release work (no database): what the full run may hand to worker processes
# ---------------------------------------------------------------------------------------------------------------


#: Columns of ``red_flag_measures`` and ``red_flag_contributions``, in the order of ``Analysis`` rows.
MEASURE_COLUMNS = ("ocid", "source", "code", "peer_key", "value")
CONTRIBUTION_COLUMNS = (
    "ocid", "source", "code", "grain", "subject", "key", "numerator", "denominator", "amount", "date", "attrs"
)  # fmt: skip


@dataclass
class Analysis:
    """The peer-statistics inputs of one release, as rows ready to insert: tuples in ``MEASURE_COLUMNS`` and
    ``CONTRIBUTION_COLUMNS`` order.

    Tuples, built where the release is analysed (a worker process in the full run): the parent, which writes every
    row, used to unpickle ~800,000 Contribution objects per 100,000 processes and turn each into a dict, then
    into a tuple."""

    ocid: str
    measures: list[tuple[str, str, str, str, float]]
    contributions: list[tuple[Any, ...]]


def analyse(release: Mapping[str, Any], sp: SourceParams) -> Analysis:
    measures: list[tuple[str, str, str, str, float]] = []
    contributions: list[tuple[Any, ...]] = []
    ocid, source = str(release.get("ocid")), sp.source
    for code, indicator in REGISTRY.items():
        params = sp.params[code]
        if indicator.measure is not None:
            values = indicator.measure(release, params)
            keys = indicator.peer_keys(release, params) if indicator.peer_keys else [""] * len(values)
            measures += [
                (ocid, source, code, key, float(v)) for key, v in zip(keys, values, strict=False) if math.isfinite(v)
            ]
        if indicator.contributions is not None:
            contributions += [_contribution_row(row, source) for row in indicator.contributions(release, params)]
    return Analysis(ocid, measures, contributions)


def peer_keys_of(release: Mapping[str, Any], sp: SourceParams) -> dict[str, list[str]]:
    """Baseline keys each process-grain indicator needs for this release."""
    keys: dict[str, list[str]] = {}
    for code in PROCESS_CODES:
        indicator = REGISTRY[code]
        if indicator.measure is None:
            continue
        keys[code] = sorted(set(indicator.peer_keys(release, sp.params[code]))) if indicator.peer_keys else [""]
    return keys


class PeerBaselines(Mapping[str, Baseline]):
    """The stored baselines of one stratified indicator, by peer key, noting every key the indicator reads.

    The keys a process depends on used to be found by calling the indicator's ``peer_keys`` before evaluating it,
    which computed its measures a second time (~8% of evaluating a release). Noting the keys as they are read gives
    the keys actually compared against, found or not. Indicators read it with ``get`` (``peer_baseline``) or ``[]``;
    iterating it lists every stored key of the code and notes none, so an indicator must not pick its peers that
    way."""

    __slots__ = ("_baselines", "_code", "_looked_up")

    def __init__(
        self, code: str, baselines: Mapping[tuple[str, str], Baseline | None], looked_up: list[tuple[str, str]]
    ) -> None:
        self._code = code
        self._baselines = baselines
        self._looked_up = looked_up

    def get(self, key: str, default: Any = None) -> Any:
        self._looked_up.append((self._code, key))
        found = self._baselines.get((self._code, key))
        return default if found is None else found

    def __getitem__(self, key: str) -> Baseline:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([key for (code, key), found in self._baselines.items() if code == self._code and found])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def evaluate_release(
    release: Mapping[str, Any],
    sp: SourceParams,
    baselines: Mapping[tuple[str, str], Baseline | None],
    looked_up: list[tuple[str, str]] | None = None,
) -> list[Outcome]:
    """Every process-grain indicator on one release, against the stored baselines {(code, peer key): Baseline}.
    ``looked_up`` receives the (code, peer key) pairs it read, found or not."""
    outcomes: list[Outcome] = []
    keys: list[tuple[str, str]] = [] if looked_up is None else looked_up
    for code in PROCESS_CODES:
        indicator = REGISTRY[code]
        params = sp.params[code]
        baseline: Any = None
        if indicator.measure is not None:
            if indicator.peer_keys is None:
                keys.append((code, ""))
                baseline = baselines.get((code, ""))
            else:
                baseline = PeerBaselines(code, baselines, keys)
        outcomes += indicator.evaluate(release, params, baseline)  # type: ignore[misc]  # process grain has one
    return outcomes


def is_frozen(release: Mapping[str, Any]) -> bool:
    """Final: tender cancelled or unsuccessful, or complete with every contract terminated (RED_FLAGS.md 5.2)."""
    tender = release.get("tender") if isinstance(release.get("tender"), dict) else {}
    status = tender.get("status") if isinstance(tender, dict) else None
    if status not in FINAL_TENDER_STATUSES:
        return False
    contracts = [c for c in release.get("contracts") or [] if isinstance(c, dict)]
    if status == "complete":
        return bool(contracts) and all(c.get("status") == "terminated" for c in contracts)
    return all(c.get("status") == "terminated" for c in contracts)


@dataclass
class Composite:
    applicable: int
    evaluated: int
    flagged: int
    score: float | None
    #: One status per applicable indicator, as ``RedFlagProcess.statuses`` stores it ("R003=n R018=f"; f flagged,
    #: n not flagged, i insufficient data; not applicable left out): the same grouping as the counts above.
    statuses: str = ""

    @property
    def coverage(self) -> float | None:
        return self.evaluated / self.applicable if self.applicable else None


#: How far an outcome got, for ``composite``: an indicator counts as far as its furthest outcome.
_REACHED = {NOT_APPLICABLE: 0, INSUFFICIENT: 1, NOT_FLAGGED: 2, FLAGGED: 3}
_LETTERS = {1: "i", 2: "n", 3: "f"}


def composite(outcomes: Iterable[Outcome]) -> Composite:
    """Weighted mean of the process-grain scores over indicators that ended flagged or not flagged; no score below
    ``min_coverage`` of the applicable indicators (insufficient data never counts as 0). An indicator with several
    outcomes (e.g. per item) is flagged if any is, else evaluated if any is, else insufficient.

    One pass, no set per indicator: it runs for every process of a full run, and the version with sets was ~9% of
    evaluating a release."""
    weights = COMPOSITE["weights"]
    # code -> [furthest reached, highest score of its evaluated outcomes]; codes in order of first outcome, which
    # is the order the weighted sum adds them in.
    reached: dict[str, list[Any]] = {}
    for outcome in outcomes:
        if outcome.grain != "process":
            continue
        rank = _REACHED.get(outcome.status, 1)  # an unknown status: applicable, not evaluated
        score = outcome.score if rank >= 2 else None
        entry = reached.get(outcome.code)
        if entry is None:
            reached[outcome.code] = [rank, score]
            continue
        entry[0] = max(entry[0], rank)
        if score is not None and (entry[1] is None or score > entry[1]):
            entry[1] = score
    applicable = evaluated = flagged = 0
    total = weight_sum = 0.0
    letters: dict[str, str] = {}
    for code, (rank, score) in reached.items():
        if rank == 0:
            continue
        applicable += 1
        letters[code] = _LETTERS[rank]
        if rank >= 2:
            evaluated += 1
            weight = float(weights.get(code, 1.0))  # type: ignore[union-attr]
            total += weight * score
            weight_sum += weight
            flagged += rank == 3
    coverage = evaluated / applicable if applicable else 0.0
    score = total / weight_sum if weight_sum and coverage >= float(COMPOSITE["min_coverage"]) else None  # type: ignore[arg-type]
    stored = " ".join(f"{code}={letters[code]}" for code in sorted(letters))
    return Composite(applicable, evaluated, flagged, score, stored)


#: Process-grain outcomes that are always stored as rows; the others (not flagged, not applicable) only where the
#: indicator already has a row for the process (see RedFlag).
STORED_STATUSES = frozenset({FlagStatus.FLAGGED, FlagStatus.INSUFFICIENT_DATA})
_LETTER_STATUSES = {"f": FlagStatus.FLAGGED, "n": FlagStatus.NOT_FLAGGED, "i": FlagStatus.INSUFFICIENT_DATA}


def parse_statuses(stored: str | None) -> dict[str, FlagStatus]:
    """``RedFlagProcess.statuses`` (``Composite.statuses``) back to {code: status}; an indicator not listed was not
    applicable."""
    pairs = (item.split("=", 1) for item in (stored or "").split())
    return {code: _LETTER_STATUSES[letter] for code, letter in pairs}


# ---------------------------------------------------------------------------------------------------------------
# Outcome -> row
# ---------------------------------------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _evidence_json(outcome: Outcome) -> str:
    evidence = dict(outcome.evidence)
    if outcome.marked:
        evidence["marked"] = list(outcome.marked)  # the organisations the flag points at (Cardinal's Tenderer map)
    ocids = evidence.get("ocids")
    if isinstance(ocids, list):
        # Organisation flags keep their processes (RED_FLAGS.md section 1) - but a busy supplier's full list in every
        # non-flagged row would dwarf the table; the count is always kept, the list for flags only.
        real = [o for o in ocids if o]
        evidence["ocid_count"] = evidence.get("ocid_count", len(real))
        evidence["ocids"] = real[:MAX_EVIDENCE_OCIDS] if outcome.status == FLAGGED else []
    return orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def explain(outcome: Outcome) -> str:
    """One plain sentence on why this outcome (English; pages translate the indicator texts from the catalogue)."""
    evidence = outcome.evidence
    if outcome.status in {INSUFFICIENT, NOT_APPLICABLE}:
        reason = evidence.get("reason") or "the fields it needs are missing"
        label = "Insufficient data" if outcome.status == INSUFFICIENT else "Not applicable"
        return f"{label}: {reason}."
    parts = [f"value {outcome.value:.4g}" if _finite(outcome.value) is not None else "condition met"]
    threshold = evidence.get("threshold")
    if isinstance(threshold, NUMBER_TYPES) and math.isfinite(threshold):
        parts.append(f"threshold {threshold:.4g} ({evidence.get('source', 'fence')})")
    peers = evidence.get("peers") or evidence.get("baseline")
    if isinstance(peers, Mapping) and "n" in peers:
        parts.append(f"n={peers['n']}")
    verdict = "Flagged" if outcome.status == FLAGGED else "Not flagged"
    return f"{verdict}: {', '.join(parts)}. A risk indicator that needs review, not proof of wrongdoing."


def _parties(outcome: Outcome, buyer: str | None, suppliers: Sequence[str]) -> str:
    ids = [buyer or "", *suppliers, *outcome.marked]
    if outcome.grain != "process":
        ids.append(outcome.subject)
    unique = [i for i in dict.fromkeys(ids) if i and " " not in i]
    return " " + " ".join(unique) + (" " if unique else "")


def flag_row(outcome: Outcome, source: str, buyer: str | None, suppliers: Sequence[str] = ()) -> dict[str, Any]:
    indicator = REGISTRY[outcome.code]
    if outcome.grain == "process":
        row_buyer = buyer
    elif outcome.grain in {"buyer", "buyer_supplier"}:
        row_buyer = outcome.subject
    else:
        row_buyer = None
    return {
        "source": source,
        "code": outcome.code,
        "grain": outcome.grain,
        "subject": outcome.subject,
        "key": outcome.key,
        "ocid": outcome.ocid,
        "buyer": row_buyer,
        "parties": _parties(outcome, row_buyer, suppliers),
        "status": FlagStatus(outcome.status),
        "value": _finite(outcome.value),
        "score": float(outcome.score),
        "evidence": _evidence_json(outcome),
        "explanation": explain(outcome),
        "rule_version": indicator.version,
    }


def _release_parties(release: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    buyer = release.get("buyer")
    buyer_id = buyer.get("id") if isinstance(buyer, dict) and isinstance(buyer.get("id"), str) else None
    suppliers = []
    for award in release.get("awards") or []:
        if isinstance(award, dict) and award.get("status") == "active":
            for supplier in award.get("suppliers") or []:
                if isinstance(supplier, dict) and isinstance(supplier.get("id"), str):
                    suppliers.append(supplier["id"])
    return buyer_id, suppliers


# ---------------------------------------------------------------------------------------------------------------
# Writing outcomes: diff against the current rows, events for status changes
# ---------------------------------------------------------------------------------------------------------------

_CURRENT_COLUMNS = (
    RedFlag.id,
    RedFlag.source,
    RedFlag.code,
    RedFlag.grain,
    RedFlag.subject,
    RedFlag.key,
    RedFlag.status,
    RedFlag.value,
    RedFlag.score,
    RedFlag.evidence,
    RedFlag.explanation,
    RedFlag.rule_version,
    RedFlag.parties,
    RedFlag.buyer,
)


#: The full run's phases, in order (see RunStats.phases and _FullRun.run).
PHASES = ("measures", "baselines_and_organisations", "processes")


@dataclass
class RunStats:
    processes: int = 0
    skipped_frozen: int = 0
    skipped_unchanged: int = 0
    raised: int = 0
    cleared: int = 0
    changed: int = 0
    inserted: int = 0
    updated: int = 0
    organisations: int = 0
    baselines: int = 0
    errors: list[str] = field(default_factory=list)
    #: Wall seconds of the full run's phases (PHASES), summed over sources: where a slow night went.
    phases: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[phase] += time.perf_counter() - started

    def as_dict(self) -> dict[str, Any]:
        return {
            "processes_evaluated": self.processes,
            "processes_frozen_skipped": self.skipped_frozen,
            "processes_unchanged_skipped": self.skipped_unchanged,
            "flags_raised": self.raised,
            "flags_cleared": self.cleared,
            "status_changes": self.changed,
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "organisation_outcomes": self.organisations,
            "baselines": self.baselines,
            "errors": len(self.errors),
            "error_messages": self.errors[:20],
            "phase_seconds": {name: round(seconds, 2) for name, seconds in self.phases.items()},
        }


def _key(row: Mapping[str, Any]) -> FlagKey:
    return (row["source"], row["code"], row["grain"], row["subject"], row["key"])


def write_outcomes(
    session: Session,
    rows: Sequence[dict[str, Any]],
    current: Mapping[FlagKey, Any],
    now: dt.datetime,
    stats: RunStats,
) -> None:
    """Insert new outcomes, update changed ones, write an event for each status change. ``current`` holds the
    existing rows of every subject in ``rows`` (a subject missing from ``rows`` is left alone)."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    confirmed: list[int] = []
    events: list[dict[str, Any]] = []
    # Organisation rows are what the coverage counts of their grain (process grain: see apply_evaluated).
    coverage: Counter[CoverageKey] = Counter()
    for row in rows:
        old = current.get(_key(row))
        flagged = row["status"] is FlagStatus.FLAGGED
        if row["grain"] != "process" and (old is None or FlagStatus(old.status) is not row["status"]):
            coverage[(row["source"], row["code"], row["grain"], row["status"].value)] += 1
            if old is not None:
                coverage[(row["source"], row["code"], row["grain"], FlagStatus(old.status).value)] -= 1
        if old is None:
            inserts.append(
                {
                    **row,
                    "first_raised_at": now if flagged else None,
                    "last_confirmed_at": now if flagged else None,
                    "cleared_at": None,
                    "dismissed_at": None,
                    "evaluated_at": now,
                }
            )
            continue
        status_changed = FlagStatus(old.status) is not row["status"]
        content_changed = (
            old.value != row["value"]
            or old.score != row["score"]
            or old.evidence != row["evidence"]
            or old.explanation != row["explanation"]
            or old.rule_version != row["rule_version"]
            or old.parties != row["parties"]
            or old.buyer != row["buyer"]
        )
        if not status_changed and not content_changed:
            if flagged:
                confirmed.append(old.id)
            continue
        change: dict[str, Any] = {
            "b_id": old.id,
            "status": row["status"],
            "value": row["value"],
            "score": row["score"],
            "evidence": row["evidence"],
            "explanation": row["explanation"],
            "rule_version": row["rule_version"],
            "parties": row["parties"],
            "buyer": row["buyer"],
            "evaluated_at": now,
        }
        was_flagged = FlagStatus(old.status) is FlagStatus.FLAGGED
        if status_changed:
            kind = FlagEventKind.RAISED if flagged else FlagEventKind.CLEARED if was_flagged else FlagEventKind.CHANGED
            events.append(_event(old.id, kind, row, str(FlagStatus(old.status).value), now))
        updates.append(change)
        if flagged:
            confirmed.append(old.id)
            if not was_flagged:
                # A new episode: raised now, not cleared, and no longer dismissed (new evidence deserves a new look).
                session.execute(
                    update(RedFlag)
                    .where(RedFlag.id == old.id)
                    .values(first_raised_at=now, cleared_at=None, dismissed_at=None)
                )
        elif was_flagged:
            session.execute(update(RedFlag).where(RedFlag.id == old.id).values(cleared_at=now))
    if inserts:
        # Ids reserved first, so the events of the flags raised know them: COPY returns none, SQLite runs an
        # INSERT ... RETURNING one row at a time (2-3x slower than the batch), and reading the new rows back by key
        # was ~5% of the parent's time in a first run of 100,000 processes.
        for row, row_id in zip(
            inserts, reserve_ids(session.connection(), RedFlag.__table__, len(inserts)), strict=True
        ):
            row["id"] = row_id
        insert_rows(session.connection(), RedFlag.__table__, inserts)
        stats.inserted += len(inserts)
        events += [
            _event(row["id"], FlagEventKind.RAISED, row, None, now)
            for row in inserts
            if row["status"] is FlagStatus.FLAGGED
        ]
    if updates:
        update_rows(session.connection(), RedFlag.__table__, updates)
        stats.updated += len(updates)
    for start in range(0, len(confirmed), 500):
        session.execute(
            update(RedFlag)
            .where(RedFlag.id.in_(confirmed[start : start + 500]))
            .values(last_confirmed_at=now)
            .execution_options(synchronize_session=False)
        )
    apply_coverage(session, coverage)
    if events:
        insert_rows(session.connection(), RedFlagEvent.__table__, events)
        for event in events:
            kind = event["kind"]
            if kind is FlagEventKind.RAISED:
                stats.raised += 1
            elif kind is FlagEventKind.CLEARED:
                stats.cleared += 1
            else:
                stats.changed += 1


#: (source, code, grain, status) of ``red_flag_coverage``.
CoverageKey = tuple[str, str, str, str]


def apply_coverage(session: Session, delta: Mapping[CoverageKey, int]) -> None:
    """Add these changes to ``red_flag_coverage``: one upsert for all keys (a key's row is created the first time it
    is counted), the same ``INSERT ... ON CONFLICT DO UPDATE`` on both databases."""
    changes = [
        {"source": key[0], "code": key[1], "grain": key[2], "status": key[3], "n": n}
        for key, n in sorted(delta.items())
        if n
    ]
    if not changes:
        return
    table = RedFlagCoverage.__table__
    statement = upsert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.source, table.c.code, table.c.grain, table.c.status],
        set_={"n": table.c.n + statement.excluded.n},
    )
    session.execute(statement, changes)


def process_coverage(source: str, changes: Iterable[tuple[str | None, str | None]]) -> Counter[CoverageKey]:
    """The change of the process-grain coverage when processes' statuses go from ``before`` to ``after``
    ((before, after) per process).

    Each distinct statuses string is parsed once: most processes of a chunk share a handful of them, and parsing
    each process's pair took ~70 us, 6.9 s of a first run of 100,000 processes."""
    moves: Counter[str | None] = Counter()
    for before, after in changes:
        if before != after:
            moves[before] -= 1
            moves[after] += 1
    delta: Counter[CoverageKey] = Counter()
    for statuses, count in moves.items():
        if count:
            for code, status in parse_statuses(statuses).items():
                delta[(source, code, "process", status.value)] += count
    return delta


def _event(flag_id: int, kind: FlagEventKind, row: Mapping[str, Any], before: str | None, now: dt.datetime) -> dict:
    return {
        "flag_id": flag_id,
        "kind": kind,
        "source": row["source"],
        "code": row["code"],
        "grain": row["grain"],
        "subject": row["subject"],
        "key": row["key"],
        "ocid": row["ocid"],
        "buyer": row["buyer"],
        "status_from": before,
        "status_to": row["status"].value,
        "value": row["value"],
        "rule_version": row["rule_version"],
        "at": now,
    }


def current_by_ocid(session: Session, ocids: Sequence[str]) -> dict[FlagKey, Any]:
    return {
        (row.source, row.code, row.grain, row.subject, row.key): row
        for row in _by_ocids(session, _CURRENT_COLUMNS, ocids)
    }


def _by_ocids(session: Session, columns: Sequence[Any], ocids: Sequence[str]) -> Iterator[Any]:
    """Rows of these processes (process grain: ``ocid`` is set), 500 ocids per query on the ocid index."""
    ordered = sorted(set(ocids))
    for start in range(0, len(ordered), 500):
        yield from session.connection().execute(select(*columns).where(RedFlag.ocid.in_(ordered[start : start + 500])))


def current_by_groups(session: Session, source: str, by_code: Mapping[str, Iterable[GroupKey]]) -> dict:
    """Current rows of the touched organisation groups of several codes: all keys of a touched (grain, subject), or
    only the touched keys for KEYED_GROUPS codes (a buyer has a row per supplier and year, a run touches a few).
    One query per kind and 500 subjects, with equalities and INs on the unique index's columns, never a row-value
    IN (SQLite would scan the whole index); the cross product they also match is dropped here."""
    by_subject: set[tuple[str, str, str]] = set()
    by_key: set[GroupKey] = set()
    for code, groups in by_code.items():
        for group in groups:
            if code in KEYED_GROUPS:
                by_key.add(group)
            else:
                by_subject.add(group[:3])
    found = {}
    for wanted in (by_subject, by_key):
        if not wanted:
            continue
        codes, grains, subjects = ({w[i] for w in wanted} for i in range(3))
        ordered = sorted(subjects)
        for start in range(0, len(ordered), 500):
            query = select(*_CURRENT_COLUMNS).where(
                RedFlag.source == source,
                RedFlag.code.in_(sorted(codes)),
                RedFlag.grain.in_(sorted(grains)),
                RedFlag.subject.in_(ordered[start : start + 500]),
            )
            if wanted is by_key:
                query = query.where(RedFlag.key.in_(sorted({w[3] for w in by_key})))
            for row in session.connection().execute(query):
                group = (row.code, row.grain, row.subject, row.key)
                if (group if wanted is by_key else group[:3]) in wanted:
                    found[(row.source, *group)] = row
    return found


# ---------------------------------------------------------------------------------------------------------------
# Measures, contributions and totals
# ---------------------------------------------------------------------------------------------------------------


def _contribution_row(row: Contribution, source: str) -> tuple[Any, ...]:
    """A contribution as a ``red_flag_contributions`` row in ``CONTRIBUTION_COLUMNS`` order."""
    attrs = orjson.dumps(dict(row.attrs), default=str).decode() if row.attrs else None
    amount = _finite(row.amount)
    # Floats, as the columns' bind processors would leave them (see insert_values).
    numbers = float(row.numerator), float(row.denominator), None if amount is None else float(amount)
    return (row.ocid, source, row.code, row.grain, row.subject, row.key, *numbers, row.date, attrs)


def _as_contribution(row: Any) -> Contribution:
    """A stored contribution (a Core row) as the indicators' Contribution."""
    return Contribution(
        code=row.code,
        grain=row.grain,
        subject=row.subject,
        key=row.key,
        numerator=row.numerator,
        denominator=row.denominator,
        amount=row.amount,
        ocid=row.ocid,
        date=row.date,
        attrs=orjson.loads(row.attrs) if row.attrs else {},
    )


GroupKey = tuple[str, str, str, str]  # code, grain, subject, key


def swap_analyses(
    session: Session, source: str, analyses: Sequence[Analysis], adjust_totals: bool = True, replace: bool = True
) -> set[GroupKey]:
    """Replace the measures and contributions of these processes; adjust the totals by difference. ``replace``
    False: the caller knows none are stored (the first pass of a run that found both tables empty), so nothing is
    deleted first.

    Returns the organisation groups (code, grain, subject, key) whose contributions changed.
    """
    ocids = [a.ocid for a in analyses] if replace else []
    old_rows: list[Any] = []
    for start in range(0, len(ocids), 500):
        chunk = ocids[start : start + 500]
        session.execute(delete(RedFlagMeasure).where(RedFlagMeasure.ocid.in_(chunk)))
        removed = delete(RedFlagContribution).where(RedFlagContribution.ocid.in_(chunk))
        if adjust_totals:  # the removed rows come back with the DELETE (one round trip, not a SELECT first)
            c = RedFlagContribution
            returning = removed.returning(c.code, c.grain, c.subject, c.key, c.numerator, c.denominator)
            old_rows += session.execute(returning, execution_options={"synchronize_session": False}).all()
        else:
            session.execute(removed)
    measures = [row for a in analyses for row in a.measures]
    contributions = [row for a in analyses for row in a.contributions]
    insert_values(session.connection(), RedFlagMeasure.__table__, MEASURE_COLUMNS, measures)
    insert_values(session.connection(), RedFlagContribution.__table__, CONTRIBUTION_COLUMNS, contributions)
    delta: dict[GroupKey, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for row in old_rows:
        entry = delta[(row.code, row.grain, row.subject, row.key)]
        entry[0] -= row.numerator
        entry[1] -= row.denominator
        entry[2] -= 1
    for _ocid, _source, code, grain, subject, key, numerator, denominator, *_rest in contributions:
        entry = delta[(code, grain, subject, key)]
        entry[0] += numerator
        entry[1] += denominator
        entry[2] += 1
    if adjust_totals:
        _apply_totals(session, source, delta)
    return set(delta)


def _apply_totals(session: Session, source: str, delta: Mapping[GroupKey, list[float]]) -> None:
    keys = [k for k, v in delta.items() if v[2] != 0 or v[0] != 0 or v[1] != 0]
    if not keys:
        return
    table = RedFlagOrgTotal.__table__
    existing: dict[GroupKey, int] = {}
    for start in range(0, len(keys), 300):
        chunk = keys[start : start + 300]
        query = select(table.c.id, table.c.code, table.c.grain, table.c.subject, table.c.key).where(
            table.c.source == source, tuple_(table.c.code, table.c.grain, table.c.subject, table.c.key).in_(chunk)
        )
        for row in session.execute(query):
            existing[(row.code, row.grain, row.subject, row.key)] = row.id
    updates = [
        {"b_id": existing[k], "d_num": delta[k][0], "d_den": delta[k][1], "d_rows": delta[k][2]}
        for k in keys
        if k in existing
    ]
    inserts = [
        {
            "source": source,
            "code": k[0],
            "grain": k[1],
            "subject": k[2],
            "key": k[3],
            "numerator": delta[k][0],
            "denominator": delta[k][1],
            "rows": int(delta[k][2]),
        }
        for k in keys
        if k not in existing
    ]
    if updates:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                numerator=table.c.numerator + bindparam("d_num"),
                denominator=table.c.denominator + bindparam("d_den"),
                rows=table.c.rows + bindparam("d_rows"),
            ),
            updates,
            execution_options={"synchronize_session": False},
        )
    if inserts:
        session.execute(insert(table), inserts)


def rebuild_totals(session: Session, source: str) -> None:
    """Recompute the running totals from the contributions in one set-based statement (the full run's repair)."""
    table = RedFlagOrgTotal.__table__
    c = RedFlagContribution.__table__.c
    session.execute(delete(table).where(table.c.source == source))
    grouped = (
        select(
            c.source,
            c.code,
            c.grain,
            c.subject,
            c.key,
            func.sum(c.numerator),
            func.sum(c.denominator),
            func.count(),
        )
        .where(c.source == source)
        .group_by(c.source, c.code, c.grain, c.subject, c.key)
    )
    session.execute(
        insert(table).from_select(
            ["source", "code", "grain", "subject", "key", "numerator", "denominator", "rows"], grouped
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------------------------

CURRENCY_CODE = "*currency"


class BaselineStore:
    """Stored baselines of one source, read lazily by (code, peer key) and cached for the run."""

    def __init__(self, session: Session, source: str, preload: bool = False) -> None:
        self.session = session
        self.source = source
        self.cache: dict[tuple[str, str], Baseline | None] = {}
        #: sha256 of each baseline's stored data ("" for none): what a process compared with (inputs_digest).
        self.digests: dict[tuple[str, str], str] = {}
        self.complete = False
        if preload:
            for row in session.connection().execute(
                select(RedFlagBaseline.code, RedFlagBaseline.peer_key, RedFlagBaseline.data).where(
                    RedFlagBaseline.source == source, RedFlagBaseline.code.in_(PROCESS_CODES)
                )
            ):
                self._put(row)
            self.complete = True

    def _put(self, row: Any) -> None:
        self.cache[(row.code, row.peer_key)] = Baseline.from_dict(orjson.loads(row.data))
        self.digests[(row.code, row.peer_key)] = hashlib.sha256(row.data.encode()).hexdigest()

    def needs(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Baseline | None]:
        missing = [k for k in set(wanted) if k not in self.cache]
        if missing and not self.complete:
            for start in range(0, len(missing), 300):
                chunk = missing[start : start + 300]
                query = select(RedFlagBaseline.code, RedFlagBaseline.peer_key, RedFlagBaseline.data).where(
                    RedFlagBaseline.source == self.source,
                    tuple_(RedFlagBaseline.code, RedFlagBaseline.peer_key).in_(chunk),
                )
                for row in self.session.connection().execute(query):
                    self._put(row)
            for key in missing:
                self.cache.setdefault(key, None)
        return self.cache


def _baseline_rows(session: Session, source: str, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Stored baseline rows by (code, peer key) (the twin of ``_put_baseline``), decoded, in one query; a missing one
    is absent."""
    if not wanted:
        return {}
    b = RedFlagBaseline
    query = select(b.code, b.peer_key, b.data).where(
        b.source == source,
        b.code.in_(sorted({c for c, _k in wanted})),
        b.peer_key.in_(sorted({k for _c, k in wanted})),
    )
    keys = set(wanted)
    return {
        (row.code, row.peer_key): orjson.loads(row.data)
        for row in session.connection().execute(query)
        if (row.code, row.peer_key) in keys
    }


def _put_baseline(
    session: Session, source: str, code: str, peer_key: str, n: int, data: dict, now: dt.datetime
) -> None:
    session.execute(
        delete(RedFlagBaseline).where(
            RedFlagBaseline.source == source, RedFlagBaseline.code == code, RedFlagBaseline.peer_key == peer_key
        )
    )
    session.execute(
        insert(RedFlagBaseline).values(
            source=source, code=code, peer_key=peer_key, n=n, data=orjson.dumps(data).decode(), computed_at=now
        )
    )


def refresh_baselines(session: Session, source: str, now: dt.datetime) -> int:
    """Rebuild every process-grain baseline of ``source`` from the measure table (never from releases)."""
    session.connection().execute(
        delete(RedFlagBaseline).where(RedFlagBaseline.source == source, RedFlagBaseline.code.in_(PROCESS_CODES))
    )
    query = (
        select(RedFlagMeasure.code, RedFlagMeasure.peer_key, RedFlagMeasure.value)
        .where(RedFlagMeasure.source == source)
        .order_by(RedFlagMeasure.code, RedFlagMeasure.peer_key)
        .execution_options(yield_per=20_000)
    )
    rows: list[dict[str, Any]] = []
    current: tuple[str, str] | None = None
    values: list[float] = []

    def flush() -> None:
        if current is None:
            return
        indicator = REGISTRY[current[0]]
        baseline = Baseline.from_measures(values, k=indicator.fence_k, key=current[1] if indicator.stratified else "")
        if baseline is not None:
            data = baseline.to_dict()
            rows.append(
                {
                    "source": source,
                    "code": current[0],
                    "peer_key": current[1],
                    "n": baseline.n,
                    "data": orjson.dumps(data).decode(),
                    "computed_at": now,
                }
            )

    for code, peer_key, value in session.connection().execute(query):
        if (code, peer_key) != current:
            flush()
            current, values = (code, peer_key), []
        values.append(value)
    flush()
    if rows:
        session.connection().execute(insert(RedFlagBaseline.__table__), rows)
    return len(rows)


# ---------------------------------------------------------------------------------------------------------------
# Organisation grain
# ---------------------------------------------------------------------------------------------------------------


def evaluate_organisations(
    session: Session,
    sp: SourceParams,
    now: dt.datetime,
    stats: RunStats,
    touched: set[GroupKey] | None = None,
    stored: Mapping[tuple[str, str], Any] | None = None,
) -> None:
    """Evaluate organisation-grain indicators: every organisation (``touched`` None, the full run) or only the
    groups whose contributions changed (the incremental run; see the module docstring for each code's inputs).

    R025, R038 and R040 only sum numerators and denominators, so both runs read the running totals (one row per
    organisation and key) and give the same answer as evaluating all contribution rows. The full run pins R048's
    fence for the incremental runs; an organisation with no contributing process left is kept, not applicable.
    """
    source = sp.source
    by_code: dict[str, set[GroupKey]] = defaultdict(set)
    for group in touched or ():
        by_code[group[0]].add(group)
    if touched is not None:
        _evaluate_touched_organisations(session, sp, now, stats, by_code, stored)
        return
    for code in ORG_CODES:
        outcomes, totals_rows = _evaluate_org_code(session, sp, code, None, now)
        current = {}
        query = select(*_CURRENT_COLUMNS).where(RedFlag.source == source, RedFlag.code == code)
        for row in session.execute(query):
            current[(row.source, row.code, row.grain, row.subject, row.key)] = row
        write_outcomes(session, _org_rows(session, source, code, outcomes, totals_rows, current), current, now, stats)
        stats.organisations += len(outcomes)


def _pinned_keys(codes: Iterable[str]) -> list[tuple[str, str]]:
    """(code, peer key) of the fences the full run pins for these organisation codes (read by incremental runs)."""
    keys = [(code, PINNED_FENCES) for code in codes if code in TOTALS_ALL_SUBJECTS]
    return keys + [(code, REGISTRY[code].grain) for code in codes if code in RAW_PER_SUBJECT_PINNED]


def _evaluate_touched_organisations(
    session: Session,
    sp: SourceParams,
    now: dt.datetime,
    stats: RunStats,
    by_code: Mapping[str, set[GroupKey]],
    stored: Mapping[tuple[str, str], Any] | None,
) -> None:
    """The incremental run's organisations: what every touched code needs from the baselines, and the current rows of
    every touched group, each read in one query, and one write for all (a run touches a handful of organisations,
    so round trips, not rows, are its cost)."""
    source = sp.source
    codes = [code for code in ORG_CODES if code in by_code]
    if stored is None:
        stored = _baseline_rows(session, source, _pinned_keys(codes))
    current = current_by_groups(session, source, {code: by_code[code] for code in codes})
    rows: list[dict[str, Any]] = []
    for code in codes:
        outcomes, totals_rows = _evaluate_org_code(session, sp, code, by_code[code], now, stored)
        of_code = {key: row for key, row in current.items() if key[1] == code}
        rows += _org_rows(session, source, code, outcomes, totals_rows, of_code)
        stats.organisations += len(outcomes)
    write_outcomes(session, rows, current, now, stats)


def _org_rows(
    session: Session,
    source: str,
    code: str,
    outcomes: list[Outcome],
    totals_rows: Mapping[tuple[str, str, str], int],
    current: Mapping[FlagKey, Any],
) -> list[dict[str, Any]]:
    """The rows of one organisation code's outcomes, plus its current rows nothing produces any more."""
    if code in TOTALS_ALL_SUBJECTS or code in TOTALS_PER_SUBJECT:
        outcomes = [_with_real_ocids(session, source, o, totals_rows) for o in outcomes]
    rows = [flag_row(o, source, None) for o in outcomes]
    keys = {_key(r) for r in rows}
    return rows + [_vanished(old) for key, old in current.items() if key not in keys]


def _evaluate_org_code(
    session: Session,
    sp: SourceParams,
    code: str,
    groups: set[GroupKey] | None,
    now: dt.datetime,
    stored: Mapping[tuple[str, str], Any] | None = None,
) -> tuple[list[Outcome], dict[tuple[str, str, str], int]]:
    """One organisation code's outcomes: of every organisation (``groups`` None) or of the touched groups, compared
    with the fences the last full run pinned, as read into ``stored`` (``_baseline_rows`` of ``_pinned_keys``)."""
    source = sp.source

    def baseline(peer_key: str) -> Any:
        return (stored or {}).get((code, peer_key))

    indicator = REGISTRY[code]
    evaluate_group = indicator.evaluate_group
    if evaluate_group is None:
        raise TypeError(f"{code} has no group evaluation")
    params = dict(sp.params[code])
    subjects = sorted({(g[1], g[2]) for g in groups}) if groups is not None else None
    totals_rows: dict[tuple[str, str, str], int] = {}
    t = RedFlagOrgTotal.__table__.c
    c = RedFlagContribution.__table__.c
    fence: dict[str, Any] = {}
    by_totals = code in TOTALS_ALL_SUBJECTS or code in TOTALS_PER_SUBJECT
    if code == "R038" and params.get("minimum_counts_processes"):
        by_totals = False  # that option counts distinct processes: read the rows
    pinned = None
    if code in TOTALS_ALL_SUBJECTS and groups is not None:
        pinned = _pinned_fences(baseline(PINNED_FENCES), {g[1] for g in groups})
        if pinned is not None:
            params["pinned"] = pinned
    if by_totals and code == "R040" and groups is not None:
        contributions = _r040_touched_totals(session, source, groups, totals_rows)
    elif by_totals:
        query = select(t.code, t.grain, t.subject, t.key, t.numerator, t.denominator, t.rows).where(
            t.source == source, t.code == code, t.rows > 0
        )
        if subjects is not None and (code in TOTALS_PER_SUBJECT or pinned is not None):
            query = query.where(tuple_(t.grain, t.subject).in_(subjects))
        contributions = []
        for r in session.connection().execute(query):
            totals_rows[(r.grain, r.subject, r.key)] = r.rows
            # One pre-summed row per (subject, key); the empty ocid keeps it out of ocid lists (real ones are
            # looked up for flags in _with_real_ocids).
            contributions.append(Contribution(code, r.grain, r.subject, r.key, r.numerator, r.denominator, None, ""))
    elif code in RAW_PER_SUBJECT_PINNED and subjects is not None:
        fence = baseline(indicator.grain) or {}
        params["threshold"] = fence["threshold"] if fence.get("threshold") is not None else math.nan
        varieties = _r048_touched_varieties(session, source, {s for g, s in subjects if g == indicator.grain})
        outcomes = [
            _with_first_ocids(session, source, o) if o.status == FLAGGED else o
            for o in evaluate_r048_varieties(varieties, params)
        ]
        return [_repin(o, fence) for o in outcomes], totals_rows
    else:
        query = select(
            c.ocid, c.code, c.grain, c.subject, c.key, c.numerator, c.denominator, c.amount, c.date, c.attrs
        ).where(c.source == source, c.code == code)
        if subjects is not None:
            if code in RAW_PER_GROUP and groups is not None:
                query = query.where(tuple_(c.grain, c.subject, c.key).in_(sorted({g[1:] for g in groups})))
            else:
                query = query.where(tuple_(c.grain, c.subject).in_(subjects))
        contributions = [_as_contribution(r) for r in session.connection().execute(query.order_by(c.id))]
    outcomes = evaluate_group(contributions, params)
    if subjects is not None:
        wanted = set(subjects)
        outcomes = [o for o in outcomes if (o.grain, o.subject) in wanted]
        if code in RAW_PER_GROUP and groups is not None:
            outcomes = [o for o in outcomes if (code, o.grain, o.subject, o.key) in groups]
        if code == "R040" and groups is not None:
            # Only the touched buyer x year x supplier rows are written; the other suppliers' shares of that
            # buyer-year move a little too, and the nightly run brings them up to date.
            outcomes = [o for o in outcomes if (code, o.grain, o.subject, o.key) in groups]
    elif code in RAW_PER_SUBJECT_PINNED:
        pinned_fence = _pinned_fence(outcomes)
        _put_baseline(session, source, code, indicator.grain, 0, pinned_fence or {"threshold": None}, now)
    elif code in TOTALS_ALL_SUBJECTS:
        _put_baseline(session, source, code, PINNED_FENCES, 0, _fences_by_grain(outcomes), now)
    return outcomes, totals_rows


def _r048_touched_varieties(session: Session, source: str, suppliers: set[str]) -> dict[str, SupplierVariety]:
    """R048's summary of the touched suppliers, summed up by the database (one query): their distinct prefixes and
    process counts. A busy supplier has a row per process and prefix; reading them all made the incremental run grow
    with the supplier's history. Their processes are read for flags only (``_with_first_ocids``)."""
    if not suppliers:
        return {}
    c = RedFlagContribution.__table__.c
    where = (c.source == source, c.code == "R048", c.grain == REGISTRY["R048"].grain, c.subject.in_(sorted(suppliers)))
    prefixes = select(c.subject, c.key, null().label("processes")).where(*where).group_by(c.subject, c.key)
    counts = select(c.subject, null(), func.count(distinct(c.ocid))).where(*where).group_by(c.subject)
    keys: dict[str, set[str]] = defaultdict(set)
    processes: dict[str, int] = {}
    for row in session.connection().execute(union_all(prefixes, counts)):
        if row.processes is None:
            keys[row.subject].add(row.key)
        else:
            processes[row.subject] = int(row.processes)
    return {subject: SupplierVariety(n, frozenset(keys[subject]), ()) for subject, n in processes.items()}


def _first_ocids(session: Session, source: str, outcome: Outcome, key: str | None = None) -> list[str]:
    """The first processes of an organisation outcome (in code point order, as Python sorts; of one key if given),
    from its contributions: the same list on both databases and in full and incremental runs."""
    c = RedFlagContribution.__table__.c
    ocid = c.ocid.collate("C") if session.get_bind().dialect.name == "postgresql" else c.ocid
    query = select(ocid).where(
        c.source == source, c.code == outcome.code, c.grain == outcome.grain, c.subject == outcome.subject
    )
    if key is not None:
        query = query.where(c.key == key)
    return list(session.scalars(query.distinct().order_by(ocid).limit(MAX_EVIDENCE_OCIDS)))


def _with_first_ocids(session: Session, source: str, outcome: Outcome) -> Outcome:
    """A flag's evidence lists its first processes, as a full run's does."""
    return replace(outcome, evidence={**outcome.evidence, "ocids": _first_ocids(session, source, outcome)})


def _fences_by_grain(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """The fences a full run used, per grain, as its outcomes' evidence gives them (one dataset-wide fence each)."""
    fences: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        if outcome.grain not in fences and "meta" in outcome.evidence:
            fences[outcome.grain] = {"threshold": outcome.evidence.get("threshold"), "meta": outcome.evidence["meta"]}
    return fences


def _pinned_fences(fences: dict[str, Any] | None, grains: set[str]) -> dict[str, Any] | None:
    """The fences pinned by the last full run (stored data), if they cover ``grains``; None sends the caller to read
    every organisation's totals and compute the fences afresh (no full run yet, or a grain it found no one of)."""
    return fences if fences and grains <= fences.keys() else None


def _r040_touched_totals(
    session: Session, source: str, groups: set[GroupKey], totals_rows: dict[tuple[str, str, str], int]
) -> list[Contribution]:
    """The touched buyer x year x supplier totals, and per buyer-year one row holding the rest of its awarded value.

    R040 compares a supplier's share with the buyer's total of that year; summing the year in the database keeps
    the rows read per run at one per touched supplier, however many suppliers the buyer has.
    """
    t = RedFlagOrgTotal.__table__.c
    base = (t.source == source, t.code == "R040")
    contributions = []
    touched_sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for _code, grain, subject, key in sorted(groups):
        year = key.partition("|")[0]
        row = (
            session.connection()
            .execute(
                select(t.numerator, t.denominator, t.rows).where(
                    *base, t.grain == grain, t.subject == subject, t.key == key, t.rows > 0
                )
            )
            .one_or_none()
        )
        if row is None:
            continue
        totals_rows[(grain, subject, key)] = row.rows
        contributions.append(Contribution("R040", grain, subject, key, row.numerator, row.denominator, None, ""))
        sums = touched_sums[(grain, subject, year)]
        sums[0] += row.numerator
        sums[1] += row.denominator
    for (grain, subject, year), (numerator, denominator) in touched_sums.items():
        year_numerator, year_denominator = (
            session.connection()
            .execute(
                select(func.coalesce(func.sum(t.numerator), 0.0), func.coalesce(func.sum(t.denominator), 0.0)).where(
                    *base,
                    t.grain == grain,
                    t.subject == subject,
                    t.key.startswith(f"{year}|", autoescape=True),
                    t.rows > 0,
                )
            )
            .one()
        )
        rest_key = f"{year}|{R040_REST}"
        contributions.append(
            Contribution(
                "R040", grain, subject, rest_key, year_numerator - numerator, year_denominator - denominator, None, ""
            )
        )
    return contributions


def _vanished(old: Any) -> dict[str, Any]:
    """An outcome nothing produces any more (no contributing process left, unusable ocid): kept, not applicable."""
    evidence = {"reason": "no longer produced by the indicator (no contributing data left)"}
    return {
        "source": old.source,
        "code": old.code,
        "grain": old.grain,
        "subject": old.subject,
        "key": old.key,
        "ocid": old.subject if old.grain == "process" else None,
        "buyer": old.buyer,
        "parties": old.parties,
        "status": FlagStatus.NOT_APPLICABLE,
        "value": None,
        "score": 0.0,
        "evidence": orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS).decode(),
        "explanation": "Not applicable: no longer produced by the indicator.",
        "rule_version": REGISTRY[old.code].version,
    }


def _pinned_fence(outcomes: Sequence[Outcome]) -> dict[str, Any] | None:
    for outcome in outcomes:
        threshold = outcome.evidence.get("threshold")
        if isinstance(threshold, NUMBER_TYPES):
            return {"threshold": threshold, "meta": dict(outcome.evidence.get("meta") or {})}
    return None


def _repin(outcome: Outcome, fence: Mapping[str, Any]) -> Outcome:
    """An outcome evaluated against the fence pinned by the last full run says so in its evidence."""
    evidence = {**outcome.evidence, "source": "fence", "meta": fence.get("meta", {}), "pinned": True}
    return replace(outcome, evidence=evidence)


def _with_real_ocids(
    session: Session, source: str, outcome: Outcome, totals_rows: Mapping[tuple[str, str, str], int]
) -> Outcome:
    """Evidence of an outcome computed from totals: the process count, and for a flag its processes."""
    evidence = dict(outcome.evidence)
    count = totals_rows.get((outcome.grain, outcome.subject, outcome.key), 0)
    evidence["ocid_count"] = count
    evidence["ocids"] = []
    if outcome.code == "R038":
        evidence["processes"] = count
    if outcome.status == FLAGGED:
        evidence["ocids"] = _first_ocids(session, source, outcome, outcome.key if outcome.code == "R040" else None)
    return replace(outcome, evidence=evidence)


# ---------------------------------------------------------------------------------------------------------------
# Records: reading, hashing, marking clean
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class RecordInput:
    id: int
    ocid: str
    source: str
    #: None for a settled record (frozen, clean, evaluated under the current rules): not read, not evaluated.
    compiled: str | None
    release_count: int
    #: Its token in the queue (``PendingEvaluation``) when read; None: it was not queued.
    queued: int | None = None
    sha: str = ""
    #: (compiled_sha, rules_sha) of its process's last evaluation, as read with it by ``_chunks``; None: never.
    evaluated: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.compiled is not None:
            self.set_compiled(self.compiled)

    def set_compiled(self, compiled: str) -> None:
        """The release, read now for a record first read without it, and its sha256."""
        self.compiled = compiled
        self.sha = hashlib.sha256(compiled.encode()).hexdigest()


def _mark_clean(session: Session, records: Sequence[RecordInput]) -> None:
    """Take these records off the queue: only those read queued, and only with the token they were read with (a
    change stored after we read a record gave it a new token and keeps it queued; one queued after we read it
    unqueued stays too). In id order, as publishing and importing queue them (no lock-order cycle)."""
    rows = [{"b_id": r.id, "b_token": r.queued} for r in sorted(records, key=lambda r: r.id) if r.queued is not None]
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        # One statement per chunk: a DELETE per record was ~9% of the parent's samples in a first run of 100,000
        # processes, each a round of the protocol and the executor. The rows are locked in id order first.
        session.execute(
            text(
                "WITH taken AS (SELECT q.record_id FROM pending_evaluations AS q "
                "JOIN unnest(CAST(:ids AS integer[]), CAST(:tokens AS bigint[])) AS t(record_id, token) "
                "ON q.record_id = t.record_id AND q.token = t.token ORDER BY q.record_id FOR UPDATE OF q) "
                "DELETE FROM pending_evaluations AS q USING taken WHERE q.record_id = taken.record_id"
            ),
            {"ids": [row["b_id"] for row in rows], "tokens": [row["b_token"] for row in rows]},
        )
        return
    table = PendingEvaluation.__table__
    session.execute(
        delete(table).where(table.c.record_id == bindparam("b_id"), table.c.token == bindparam("b_token")),
        rows,
        execution_options={"synchronize_session": False},
    )


def _state_rows(session: Session, ocids: Sequence[str]) -> dict[str, Any]:
    found = {}
    for start in range(0, len(ocids), 500):
        query = select(
            RedFlagProcess.id,
            RedFlagProcess.ocid,
            RedFlagProcess.compiled_sha,
            RedFlagProcess.rules_sha,
            RedFlagProcess.frozen,
            RedFlagProcess.outcomes_sha,
            RedFlagProcess.row_codes,
            RedFlagProcess.statuses,
            *(getattr(RedFlagProcess, name) for name in INPUT_COLUMNS),
        ).where(RedFlagProcess.ocid.in_(ocids[start : start + 500]))
        for row in session.connection().execute(query):
            found[row.ocid] = row
    return found


def _save_states(session: Session, states: Sequence[dict[str, Any]], existing: Mapping[str, Any]) -> None:
    table = RedFlagProcess.__table__
    updates = [{**s, "b_id": existing[s["ocid"]].id} for s in states if s["ocid"] in existing]
    inserts = [s for s in states if s["ocid"] not in existing]
    update_rows(session.connection(), table, [{k: v for k, v in s.items() if k != "ocid"} for s in updates])
    insert_rows(session.connection(), table, inserts)


# ---------------------------------------------------------------------------------------------------------------
# Evaluating a batch of processes
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Evaluated:
    """One process evaluated by the pure step: its outcome rows (None when their digest equals the stored one, so a
    steady run moves no rows between processes) and its state columns."""

    ocid: str
    rows: list[dict[str, Any]] | None
    state: dict[str, Any]
    flagged_codes: tuple[str, ...] = ()  # codes it flags (rows None: the stored flags to confirm)


#: State columns describing what a process's last evaluation read besides its release (see inputs_digest).
INPUT_COLUMNS = ("inputs_sha", "baseline_keys", "flagged_codes", "day_bound")

#: What the pure step needs of a record: ocid, compiled JSON, whether to analyse it, its stored outcome digest and
#: the indicators with a stored row for it (None: unknown, build every row).
WorkItem = tuple[str, str, bool, str | None, frozenset[str] | None]


def evaluate_chunk(
    sp: SourceParams,
    items: Sequence[WorkItem],
    baselines: BaselineStore | Mapping[tuple[str, str], Baseline | None],
    rules: str = "",
    digests: BaselineDigests | None = None,
) -> tuple[list[Analysis], list[Evaluated], list[str]]:
    """The pure per-chunk work (no session unless ``baselines`` is a lazy store): parse, analyse, evaluate every
    process-grain indicator, build the outcome rows, digest and summarise them. Errors are per record, in order.

    Module-level and picklable, so the full run can hand it to worker processes with a complete baseline mapping."""
    analyses: list[Analysis] = []
    errors: list[str] = []

    def parsed() -> Iterator[tuple[str, dict[str, Any], str | None, frozenset[str] | None]]:
        for ocid, compiled, needs_analysis, old_digest, row_codes in items:
            try:
                release = orjson.loads(compiled)
                if needs_analysis:
                    analyses.append(analyse(release, sp))
            except Exception as exc:  # a broken record must not stop the others; the run record says which
                errors.append(f"{ocid}: {type(exc).__name__}: {exc}")
                continue
            yield ocid, release, old_digest, row_codes

    todo: Iterable[tuple[str, dict[str, Any], str | None, frozenset[str] | None]]
    if isinstance(baselines, BaselineStore):
        # A lazy store reads the baselines of the whole chunk in one query, so every release is parsed first.
        todo = list(parsed())
        wanted = [
            (code, key) for _o, release, _d, _r in todo for code, ks in peer_keys_of(release, sp).items() for key in ks
        ]
        cache: Mapping[tuple[str, str], Baseline | None] = baselines.needs(wanted)
        digests = baselines.digests
    else:
        # Each release evaluated as soon as it is parsed, and dropped before the next: holding the chunk's parsed
        # releases made the allocator ask the kernel for fresh pages for every chunk, which tripled the cost of
        # parsing (orjson.loads 48 against 14 us per seeded release, 1,000 at a time).
        todo = parsed()
        cache = baselines
    evaluated: list[Evaluated] = []
    for ocid, release, old_digest, row_codes in todo:
        looked_up: list[tuple[str, str]] = []
        try:
            outcomes = evaluate_release(release, sp, cache, looked_up)
        except Exception as exc:
            errors.append(f"{ocid}: {type(exc).__name__}: {exc}")
            continue
        buyer, suppliers = _release_parties(release)
        # Rows for flags, insufficient data and indicators that have a row; the rest are only counted (statuses), so
        # they are left out of the digest as well (hashing them was ~70% of its cost: 39-49 against 12 us per
        # process over 2,000 seeded processes).
        stored = [o for o in outcomes if o.status in STORED_STATUSES or row_codes is None or o.code in row_codes]
        digest = _digest(sp.source, buyer, suppliers, stored)
        summary = composite(outcomes)
        day_bound = _day_bound(outcomes)
        compared = _compared_with_baselines(outcomes)
        looked_up = [(code, key) for code, key in looked_up if code in compared]
        flagged = tuple(sorted({o.code for o in outcomes if o.status == FLAGGED}))
        state = {
            "buyer": buyer,
            "outcomes_sha": digest,
            "frozen": is_frozen(release),
            "applicable": summary.applicable,
            "evaluated": summary.evaluated,
            "flagged": summary.flagged,
            "score": summary.score,
            "inputs_sha": inputs_digest(rules, sp, looked_up, day_bound, digests or {}),
            "baseline_keys": _join_keys(looked_up),
            "flagged_codes": "|".join(flagged),
            "day_bound": day_bound,
            "statuses": summary.statuses,
        }
        if old_digest == digest:  # the rows would be those stored: none are built
            evaluated.append(Evaluated(ocid, None, state, flagged))
        else:
            evaluated.append(Evaluated(ocid, [flag_row(o, sp.source, buyer, suppliers) for o in stored], state))
    return analyses, evaluated, errors


@dataclass
class Prepared:
    """A chunk read by the parent: its records, their stored states, the ones skipped (frozen), the pure work and
    the flags to confirm of processes skipped with unchanged inputs ((ocid, codes))."""

    records: dict[str, RecordInput]
    states: dict[str, Any]
    clean: list[RecordInput]
    items: list[WorkItem]
    confirm: list[tuple[str, list[str]]] = field(default_factory=list)


def prepare_records(
    session: Session,
    records: Sequence[RecordInput],
    rules: str,
    analyse_changed: bool = True,
    force: bool = False,
    analysed: set[tuple[str, str]] | None = None,
    stats: RunStats | None = None,
    inputs: Callable[[Any], str] | None = None,
) -> Prepared:
    """Read the stored states of these records and decide, per record, whether it is skipped (frozen and unchanged)
    and whether its measures must be swapped (``analysed``: (ocid, sha) the full run's first pass already swapped).

    A record read without its release (clean, evaluated under the current rules; see ``_chunks``) is skipped when
    frozen, or when ``inputs`` (the digest of what it would be evaluated against) equals its stored one; otherwise
    its release is read now."""
    states = _state_rows(session, [r.ocid for r in records])
    clean: list[RecordInput] = []
    items: list[WorkItem] = []
    confirm: list[tuple[str, list[str]]] = []
    unread: list[RecordInput] = []
    for record in records:
        if record.compiled is not None:
            continue
        state = states[record.ocid]
        if state.frozen:
            if stats is not None:
                stats.skipped_frozen += 1
        elif inputs is not None and state.inputs_sha == inputs(state):
            if stats is not None:
                stats.skipped_unchanged += 1
            confirm.append((record.ocid, [c for c in (state.flagged_codes or "").split("|") if c]))
        else:
            unread.append(record)
    _read_compiled(session, unread)
    for record in records:
        state = states.get(record.ocid)
        if record.compiled is None:  # skipped above: already clean
            continue
        unchanged = state is not None and state.compiled_sha == record.sha and state.rules_sha == rules
        if unchanged and state.frozen and not force:
            if stats is not None:
                stats.skipped_frozen += 1
            clean.append(record)
            continue
        needs_analysis = analyse_changed and not unchanged and (record.ocid, record.sha) not in (analysed or ())
        # A process never evaluated has no rows; one evaluated before row_codes existed may have any.
        row_codes = _split_codes(state.row_codes) if state is not None else frozenset()
        items.append((record.ocid, record.compiled, needs_analysis, state.outcomes_sha if state else None, row_codes))
    return Prepared({r.ocid: r for r in records}, states, clean, items, confirm)


def _read_compiled(session: Session, records: Sequence[RecordInput]) -> None:
    by_id = {r.id: r for r in records}
    ids = sorted(by_id)
    for start in range(0, len(ids), 500):
        query = select(Record.id, Record.compiled).where(Record.id.in_(ids[start : start + 500]))
        for row in session.connection().execute(query):
            by_id[row.id].set_compiled(row.compiled)


def apply_evaluated(
    session: Session,
    sp: SourceParams,
    prepared: Prepared,
    result: tuple[list[Analysis], list[Evaluated], list[str]],
    now: dt.datetime,
    stats: RunStats,
    rules: str,
) -> set[GroupKey]:
    """Write what the pure step found: swap measures and contributions, outcome diffs and events, confirmations,
    per-process state, records taken off the queue. Returns the touched organisation groups."""
    analyses, evaluated, errors = result
    stats.errors += errors
    touched = swap_analyses(session, sp.source, analyses) if analyses else set()
    rows: list[dict[str, Any]] = []
    new_states: list[dict[str, Any]] = []
    unchanged: dict[str, list[str]] = defaultdict(list)  # code -> processes whose stored flag of it is confirmed
    changed_ocids: list[str] = []
    statuses_moved: list[tuple[str | None, str | None]] = []  # (before, after) per process: the coverage change
    for ocid, codes in prepared.confirm:  # skipped, inputs unchanged: its flags still hold
        for code in codes:
            unchanged[code].append(ocid)
    for item in evaluated:
        if item.rows is None:
            for code in item.flagged_codes:  # same rows as last time: only confirm its flags
                unchanged[code].append(item.ocid)
        else:
            rows += item.rows
            changed_ocids.append(item.ocid)
        old_state = prepared.states.get(item.ocid)
        statuses_moved.append((old_state.statuses if old_state is not None else None, item.state["statuses"]))
        new_states.append(
            {
                "ocid": item.ocid,
                "source": sp.source,
                "buyer": item.state["buyer"],
                "compiled_sha": prepared.records[item.ocid].sha,
                "rules_sha": rules,
                "outcomes_sha": item.state["outcomes_sha"],
                "frozen": item.state["frozen"],
                "applicable": item.state["applicable"],
                "evaluated": item.state["evaluated"],
                "flagged": item.state["flagged"],
                "score": item.state["score"],
                "evaluated_at": now,
                "statuses": item.state["statuses"],
                "row_codes": old_state.row_codes if old_state is not None else "",
                **{name: item.state[name] for name in INPUT_COLUMNS},
            }
        )
    # A process has rows only if it was evaluated before (rows and state are written together, here), and only for
    # the indicators its row_codes names (None: unknown): in a first run, none has any, and the query is skipped.
    current = current_by_ocid(session, [ocid for ocid in changed_ocids if _may_have_rows(prepared.states.get(ocid))])
    # Not flagged or not applicable, with no row yet: counted in statuses, not stored (see RedFlag).
    rows = [row for row in rows if row["status"] in STORED_STATUSES or _key(row) in current]
    new_keys = {_key(r) for r in rows}
    # An outcome a process no longer produces (e.g. its ocid became unusable) is kept, marked not applicable.
    rows += [_vanished(old) for old_key, old in current.items() if old_key not in new_keys]
    row_codes: dict[str, set[str]] = defaultdict(set)
    for key in (*current, *new_keys):
        row_codes[key[3]].add(key[1])
    rewritten = set(changed_ocids)
    for state in new_states:
        if state["ocid"] in rewritten:
            state["row_codes"] = "|".join(sorted(row_codes.get(state["ocid"], ())))
    write_outcomes(session, rows, current, now, stats)
    apply_coverage(session, process_coverage(sp.source, statuses_moved))
    _confirm(session, sp.source, unchanged, now)
    _save_states(session, new_states, prepared.states)
    _mark_clean(session, [*prepared.clean, *(prepared.records[e.ocid] for e in evaluated)])
    stats.processes += len(evaluated)
    return touched


def _may_have_rows(state: Any) -> bool:
    return state is not None and state.row_codes != ""


def evaluate_records(
    session: Session,
    sp: SourceParams,
    records: Sequence[RecordInput],
    baselines: BaselineStore,
    now: dt.datetime,
    stats: RunStats,
    rules: str,
    analyse_changed: bool = True,
    force: bool = False,
    analysed: set[tuple[str, str]] | None = None,
) -> set[GroupKey]:
    """Evaluate these records of one source in this process: swap measures and contributions of changed ones,
    evaluate them against ``baselines``, write outcome diffs and per-process state, take them off the queue. Returns
    touched org groups. (The full run with workers runs the same three steps, the pure one in worker processes.)"""
    prepared = prepare_records(session, records, rules, analyse_changed, force, analysed, stats)
    result = evaluate_chunk(sp, prepared.items, baselines, rules)
    return apply_evaluated(session, sp, prepared, result, now, stats, rules)


def inputs_digest(
    rules: str, sp: SourceParams, baseline_keys: Iterable[tuple[str, str]], day_bound: bool, digests: BaselineDigests
) -> str:
    """Everything a process-grain evaluation reads besides the release: the rules, the main currency, each stored
    baseline it looked up (by the digest of its data; "" when there was none) and, when one of its outcomes can
    change with the day alone, the day. A clean process with the same digest would get the same outcomes."""
    lines = [rules, sp.currency or "", sp.day if day_bound else ""]
    lines += [f"{code}\t{key}\t{digests.get((code, key), '')}" for code, key in sorted(set(baseline_keys))]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _split_codes(stored: str | None) -> frozenset[str] | None:
    return None if stored is None else frozenset(code for code in stored.split("|") if code)


def _join_keys(keys: Iterable[tuple[str, str]]) -> str:
    """(code, peer key) pairs as ``red_flag_processes.baseline_keys`` stores them: "code<TAB>key" lines, sorted."""
    return "\n".join(sorted({f"{code}\t{key}" for code, key in keys}))


def _split_keys(stored: str | None) -> list[tuple[str, str]]:
    pairs = [line.split("\t", 1) for line in (stored or "").split("\n") if line]
    return [(code, key) for code, key in pairs]


def _compared_with_baselines(outcomes: Sequence[Outcome]) -> set[str]:
    """Codes whose outcome may depend on their baselines. The indicators decide "not applicable", and "insufficient
    data" naming missing fields, from the release alone before reading a baseline; so such an outcome stays the
    same when only a baseline moves (an insufficiency from the peers, e.g. too few, names no field)."""
    return {
        o.code
        for o in outcomes
        if o.status != NOT_APPLICABLE and not (o.status == INSUFFICIENT and o.evidence.get("missing"))
    }


def _day_bound(outcomes: Sequence[Outcome]) -> bool:
    for outcome in outcomes:
        day_bound = REGISTRY[outcome.code].day_bound
        if day_bound is not None and day_bound(outcome):
            return True
    return False


def _digest(source: str, buyer: str | None, suppliers: Sequence[str], outcomes: Sequence[Outcome]) -> str:
    """A digest of everything a process's outcome rows are built from (``flag_row`` is a function of these, and
    ``outcomes`` are those that may become rows), so equal digests mean equal rows and a steady run need not build
    them."""
    payload = [
        source,
        buyer,
        list(suppliers),
        [
            (
                o.code,
                REGISTRY[o.code].version,
                o.grain,
                o.subject,
                o.key,
                o.ocid,
                o.status,
                _finite(o.value),
                float(o.score),
                dict(o.evidence),
                list(o.marked),
            )
            for o in outcomes
        ],
    ]
    options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    return hashlib.sha256(orjson.dumps(payload, option=options, default=str)).hexdigest()


def _confirm(session: Session, source: str, by_code: Mapping[str, Sequence[str]], now: dt.datetime) -> None:
    """Flags of processes whose outcomes did not change are confirmed as still holding (set-based, per code).

    A process row's subject is its ocid: source, code, grain = and subject IN use the unique index, where an
    ``ocid IN ... AND status = flagged`` led SQLite to walk every flagged row of the table for each chunk."""
    table = RedFlag.__table__
    for code, ocids in sorted(by_code.items()):
        for start in range(0, len(ocids), 500):
            session.execute(
                update(table)
                .where(
                    table.c.source == source,
                    table.c.code == code,
                    table.c.grain == "process",
                    table.c.subject.in_(ocids[start : start + 500]),
                    # Wrapped so no planner takes the (code, status) index and walks every flag of the code.
                    func.coalesce(table.c.status, table.c.status) == FlagStatus.FLAGGED,
                )
                .values(last_confirmed_at=now)
            )


def _record_inputs(rows: Iterable[Any]) -> list[RecordInput]:
    return [RecordInput(r.id, r.ocid, r.source, r.compiled, r.release_count, r.token) for r in rows]


_RECORD_COLUMNS = (
    Record.id,
    Record.ocid,
    Record.source,
    Record.compiled,
    Record.release_count,
    PendingEvaluation.token,
)

#: Records with their place in the queue (``token`` None: not queued).
_QUEUED = Record.__table__.outerjoin(
    PendingEvaluation.__table__, PendingEvaluation.__table__.c.record_id == Record.__table__.c.id
)


def _source_params(
    session: Session,
    source: str,
    now: dt.datetime,
    overrides: Mapping[str, Any] | None,
    stored: Mapping[tuple[str, str], Any],
) -> SourceParams:
    """The source's parameters, with the main currency stored by the last full run (``stored``: ``_baseline_rows``
    including (CURRENCY_CODE, "")), resolved and stored now if there is none yet."""
    known = (CURRENCY_CODE, "") in stored
    currency = stored[(CURRENCY_CODE, "")].get("currency") if known else None
    if not known:
        currency = _resolve_and_store_currency(session, source, now, overrides)
    return SourceParams.build(source, currency, now, overrides)


def _resolve_and_store_currency(
    session: Session, source: str, now: dt.datetime, overrides: Mapping[str, Any] | None
) -> str | None:
    def releases() -> Iterator[dict[str, Any]]:
        # Keyset pages rather than a streaming cursor: the caller usually stops at the first currency seen.
        last = 0
        while True:
            query = select(Record.id, Record.compiled).where(Record.source == source, Record.id > last)
            page = session.connection().execute(query.order_by(Record.id).limit(200)).all()
            if not page:
                return
            for row in page:
                yield orjson.loads(row.compiled)
            last = page[-1].id

    currency = resolve_currency(releases(), overrides)
    _put_baseline(session, source, CURRENCY_CODE, "", 0, {"currency": currency}, now)
    return currency


# ---------------------------------------------------------------------------------------------------------------
# The two runs
# ---------------------------------------------------------------------------------------------------------------

Progress = Callable[[int], None]


def evaluate_dirty(
    session: Session,
    now: dt.datetime,
    limit: int | None = 2000,
    overrides: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> RunStats:
    """The incremental run: queued records (``PendingEvaluation``, lowest record id first), in the caller's unit of
    work."""
    stats = RunStats()
    rules = rules_sha(overrides)
    queue = PendingEvaluation.__table__
    # The queue's primary key gives the queued records with the lowest ids at once, however many records there are.
    queued = queue.join(Record.__table__, Record.__table__.c.id == queue.c.record_id)
    query = select(*_RECORD_COLUMNS).select_from(queued).order_by(queue.c.record_id)
    if limit:
        query = query.limit(limit)
    records = _record_inputs(session.connection().execute(query))
    by_source: dict[str, list[RecordInput]] = defaultdict(list)
    for record in records:
        by_source[record.source].append(record)
    for source, batch in by_source.items():
        # The run's fixed inputs in one read (each round trip counts here): the main currency and the fences the
        # last full run pinned for the organisation codes.
        stored = _baseline_rows(session, source, [(CURRENCY_CODE, ""), *_pinned_keys(ORG_CODES)])
        sp = _source_params(session, source, now, overrides, stored)
        store = BaselineStore(session, source)
        for start in range(0, len(batch), CHUNK):
            chunk = batch[start : start + CHUNK]
            touched = evaluate_records(session, sp, chunk, store, now, stats, rules)
            if touched:
                evaluate_organisations(session, sp, now, stats, touched, stored)
            if progress:
                progress(len(chunk))
    return stats


def count_records(session: Session, dirty_only: bool = False) -> int:
    query = select(func.count()).select_from(PendingEvaluation if dirty_only else Record)
    return int(session.scalar(query) or 0)


def analyse_chunk(
    sp: SourceParams, items: Sequence[tuple[str, str, str]]
) -> tuple[list[Analysis], list[tuple[str, str]], list[str]]:
    """The full run's first pass, pure: measures and contributions of (ocid, sha, compiled) items; the (ocid, sha)
    analysed and the per-record errors, in order."""
    analyses: list[Analysis] = []
    done: list[tuple[str, str]] = []
    errors: list[str] = []
    for ocid, sha, compiled in items:
        try:
            analyses.append(analyse(orjson.loads(compiled), sp))
            done.append((ocid, sha))
        except Exception as exc:
            errors.append(f"{ocid}: {type(exc).__name__}: {exc}")
    return analyses, done, errors


class _InProcess:
    """The pool's interface run in this process (workers=0): the sequential path, step for step."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


#: Allocations between young-generation collections while a full run holds millions of short-lived rows (Python's
#: default is 700). See ``_bulk_gc``.
BULK_GC_THRESHOLD = 50_000


def _bulk_gc() -> None:
    """Tune the cyclic garbage collector for bulk work: freeze what exists now (modules, baselines) out of its
    scans and collect the young generation every ``BULK_GC_THRESHOLD`` allocations instead of 700.

    The rows, outcomes and unpickled results of a full run are acyclic and short-lived, but at the default
    threshold the collector ran so often, and rescanned the older objects so often, that it took ~20% of the
    parent's CPU in a first run of 100,000 processes (profiled with py-spy --native). Memory is still freed by
    reference counting as before; only cycles wait a little longer."""
    gc.freeze()
    gc.set_threshold(BULK_GC_THRESHOLD, *gc.get_threshold()[1:])


@contextmanager
def _bulk_gc_in_this_process() -> Iterator[None]:
    thresholds = gc.get_threshold()
    _bulk_gc()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


#: How much lower the workers' CPU priority is than the parent's (``nice`` increment).
WORKER_NICENESS = 5


def _start_worker() -> None:
    """A worker's set-up: no automatic cyclic GC (see ``_collected``), and a lower CPU priority than the parent's.

    The parent is the critical path whenever it has work: it alone writes, and the workers only run ahead of it by
    the chunks in flight. With three processes on two cores it got about two thirds of a core while waiting for
    none; niced workers take what it leaves."""
    gc.freeze()
    gc.disable()
    if hasattr(os, "nice"):  # POSIX; elsewhere the workers keep the parent's priority
        os.nice(WORKER_NICENESS)


def _collected(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one task in a worker, then collect cyclic garbage once.

    A worker holds a whole chunk's parsed releases while it evaluates them, so young-generation collections (even
    every ``BULK_GC_THRESHOLD`` allocations) kept rescanning them: ~5% of its CPU over 3,000 seeded releases
    (evaluate_chunk 451-456 against 470-482 us per release). One collection per task frees any cycle as surely, a
    few ms per chunk."""
    try:
        return fn(*args, **kwargs)
    finally:
        gc.collect()


class _WorkerPool(ProcessPoolExecutor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return super().submit(_collected, fn, *args, **kwargs)


def _pool(workers: int) -> Executor:
    if workers <= 0:
        return _InProcess()  # type: ignore[return-value]
    # spawn, never fork: a forked child would inherit the parent's open database connections and its engine.
    return _WorkerPool(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker)


def _pipelined(
    pool: Executor,
    depth: int,
    tasks: Iterable[tuple[Any, Callable[..., Any], tuple[Any, ...]]],
    apply: Callable[[Any, Any], None],
) -> None:
    """Submit each task's pure work and apply results in submission order, keeping ``depth`` tasks in flight: the
    parent reads the next chunk and writes the previous one while workers evaluate (writes stay in one session)."""
    pending: deque[tuple[Any, Future]] = deque()
    for context, fn, args in tasks:
        pending.append((context, pool.submit(fn, *args)))
        while len(pending) > depth:
            done, future = pending.popleft()
            apply(done, future.result())
    while pending:
        done, future = pending.popleft()
        apply(done, future.result())


def evaluate_all(
    session: Session,
    now: dt.datetime,
    overrides: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    commit: bool = True,
    chunk: int = CHUNK,
    workers: int = 0,
) -> RunStats:
    """The full run, per source: refresh measures and contributions of changed records, rebuild baselines from the
    measure table, evaluate every organisation, then every process that is not frozen (or changed).

    With ``workers`` the pure per-chunk work (parse, analyse, evaluate, build and digest rows) runs in that many
    worker processes while this one keeps every database read and write in ``session``; results are applied in
    chunk order, so the stored rows are exactly those of ``workers=0``. Each chunk commits when ``commit`` (a killed
    run keeps its progress; the next run finishes it, and the unique keys make it idempotent)."""
    stats = RunStats()
    rules = rules_sha(overrides)
    sources = session.scalars(select(Record.source).distinct().order_by(Record.source)).all()
    # A pool is worth its start-up (~1 s per spawned interpreter) only when there is more than one chunk.
    if workers > 0 and count_records(session) <= chunk:
        workers = 0
    pool = _pool(workers)
    try:
        with _bulk_gc_in_this_process(), background_checkpoints(session.get_bind().engine):
            for source in sources:
                run = _FullRun(
                    session, pool, workers + 1, source, now, overrides, progress, commit, chunk, rules, stats
                )
                run.run()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return stats


@dataclass
class _FullRun:
    """The full run of one source. ``depth``: chunks in flight (one queued beyond the busy workers, so none waits
    while the parent writes)."""

    session: Session
    pool: Executor
    depth: int
    source: str
    now: dt.datetime
    overrides: Mapping[str, Any] | None
    progress: Progress | None
    commit: bool
    chunk: int
    rules: str
    stats: RunStats
    analysed: set[tuple[str, str]] = field(default_factory=set)
    sp: SourceParams = field(init=False)
    baselines: dict[tuple[str, str], Baseline | None] = field(init=False)
    digests: dict[tuple[str, str], str] = field(init=False)
    fresh: bool = False  # no measure or contribution was stored when the first pass began
    swapped: set[str] = field(default_factory=set)  # ocids analysed by a fresh first pass
    written_ocids: set[str] = field(default_factory=set)  # ocids the second pass wrote
    written: int = 0  # processes analysed and outcome rows inserted by this run (see _growing)
    analyzed_at: int = 0

    def run(self) -> None:
        session, source, now = self.session, self.source, self.now
        # The engine reads records by keyset and joined with their states: plan that with fresh statistics.
        analyze_tables(session, (Record, *BULK_TABLES), only_stale=True)
        # The main currency is resolved afresh (first seen, in input order) at every full run.
        currency = _resolve_and_store_currency(session, source, now, self.overrides)
        self.sp = SourceParams.build(source, currency, now, self.overrides)
        measures, organisations, processes = PHASES
        # 1. Measures and contributions of records that changed since their last evaluation. With both tables
        # empty (a database's first run), nothing needs deleting before an ocid's first analysis in this pass:
        # the deletes were ~1.4 s of the parent's CPU in the first pass at 100,000 processes, where the parent is
        # the critical path. Any row at all (another source's, or a killed run's) keeps them, and so does an ocid
        # met again (see _swap).
        self.fresh = not any(
            session.execute(select(model.id).limit(1)).first() for model in (RedFlagMeasure, RedFlagContribution)
        )
        with self.stats.timed(measures):
            _pipelined(self.pool, self.depth, self._first_pass(), self._swap)
        # 2. Peer statistics from the measure table, totals from the contributions.
        with self.stats.timed(organisations):
            self.stats.baselines += refresh_baselines(session, source, now)
            rebuild_totals(session, source)
            evaluate_organisations(session, self.sp, now, self.stats)
            analyze_tables(session, only_stale=True)
            if self.commit:
                session.commit()
        # 3. Every process against the new baselines (frozen, unchanged ones keep their outcomes).
        with self.stats.timed(processes):
            store = BaselineStore(session, source, preload=True)
            self.baselines = dict(store.cache)  # complete: workers get a plain mapping, no session
            self.digests = dict(store.digests)
            self.written = self.analyzed_at = 0  # the outcome tables grow from here on (see _growing)
            _pipelined(self.pool, self.depth, self._second_pass(), self._write)
            analyze_tables(session, only_stale=True)

    def _first_pass(self) -> Iterator[tuple[Any, Callable[..., Any], tuple[Any, ...]]]:
        for records in _chunks(self.session, self.source, self.chunk, self.rules, changed_only=True):
            # What the last evaluation read comes with the record (the same join), not from a query per chunk.
            items = [(r.ocid, r.sha, r.compiled) for r in records if r.evaluated != (r.sha, self.rules)]
            yield None, analyse_chunk, (self.sp, items)

    def _swap(self, _context: Any, result: tuple[list[Analysis], list[tuple[str, str]], list[str]]) -> None:
        analyses, done, errors = result
        self.analysed.update(done)
        self.stats.errors.extend(errors)
        if analyses:
            ocids = [a.ocid for a in analyses]
            # An ocid can come twice in one pass: the importer replaces a compiled-only record by a new one with the
            # same ocid and a higher id, which the keyset reaches again. Its second analysis replaces the first.
            replace = not self.fresh or not self.swapped.isdisjoint(ocids)
            if self.fresh:
                self.swapped.update(ocids)
            swap_analyses(self.session, self.source, analyses, adjust_totals=False, replace=replace)
        if self.commit:
            self.session.commit()
        self._growing(len(analyses))

    def _second_pass(self) -> Iterator[tuple[Any, Callable[..., Any], tuple[Any, ...]]]:
        for records in _chunks(self.session, self.source, self.chunk, self.rules, changed_only=False):
            # A record that changed since the first pass is analysed here, and its organisations re-evaluated.
            prepared = prepare_records(
                self.session, records, self.rules, analysed=self.analysed, stats=self.stats, inputs=self._inputs
            )
            yield prepared, evaluate_chunk, (self.sp, prepared.items, self.baselines, self.rules, self.digests)

    def _inputs(self, state: Any) -> str:
        """The inputs digest a clean process would be evaluated with now (against this run's baselines)."""
        keys = _split_keys(state.baseline_keys)
        return inputs_digest(self.rules, self.sp, keys, bool(state.day_bound), self.digests)

    def _write(self, prepared: Prepared, result: tuple[list[Analysis], list[Evaluated], list[str]]) -> None:
        # An ocid this pass already wrote (the importer replaced its record by one with a higher id meanwhile): its
        # state was read before that write, while chunks were in flight. Read it again, so the outcomes are diffed
        # against the rows written since rather than inserted a second time.
        again = [ocid for ocid in prepared.records if ocid in self.written_ocids]
        if again:
            prepared.states.update(_state_rows(self.session, again))
        self.written_ocids.update(prepared.records)
        inserted = self.stats.inserted
        touched = apply_evaluated(self.session, self.sp, prepared, result, self.now, self.stats, self.rules)
        if touched:
            evaluate_organisations(self.session, self.sp, self.now, self.stats, touched)
        if self.commit:
            self.session.commit()
        new_processes = sum(1 for item in result[1] if item.ocid not in prepared.states)
        self._growing(self.stats.inserted - inserted + new_processes)
        if self.progress:
            self.progress(len(prepared.records))

    def _growing(self, written: int) -> None:
        """A first run fills the tables from empty while it reads them by ocid: refresh PostgreSQL's statistics
        each time what this run wrote doubles (a handful of ANALYZEs), so plans follow the growth."""
        self.written += written
        if self.written >= max(2 * self.analyzed_at, ANALYZE_FROM):
            analyze_tables(self.session)
            self.analyzed_at = self.written


#: Rows a first run writes before its first ANALYZE (then each time they double; see _FullRun._growing).
ANALYZE_FROM = 2000

#: The tables a full run fills in bulk (planner statistics refreshed after it).
BULK_TABLES = (RedFlag, RedFlagProcess, RedFlagMeasure, RedFlagContribution, RedFlagOrgTotal, RedFlagEvent)


def _keyed_columns(table: Any) -> list[str]:
    """Every column but the long texts (a record's compiled release, a flag's evidence and explanation): the
    planner needs statistics of what rows are looked up and filtered by, and reading those texts made ANALYZE of
    red_flags take 0.75 s instead of a few ms at 10,000 processes."""
    return [c.name for c in table.columns if not isinstance(c.type, Text)]


def analyze_tables(session: Session, models: Sequence[Any] = BULK_TABLES, only_stale: bool = False) -> None:
    """Refresh PostgreSQL's planner statistics of the engine's tables after bulk writes.

    Without them (autovacuum analyses on its own schedule, and may be off) a table filled by the first full run
    looks empty to the planner, which then scans a whole code's rows for each ``subject IN (...)`` (16 s instead
    of 7 s for a steady run of 10,000 processes, 55 ms instead of 27 ms for an incremental one) and reads 500
    records by a parallel scan of all of them (~200 ms per chunk at 100,000). ANALYZE samples a bounded number of
    rows (well under a second whatever the size) and blocks neither readers nor writers. SQLite plans from its
    indexes alone here, so it is left alone.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    tables = [model.__table__ for model in models]
    if only_stale:
        # Only a table whose size moved by more than 50 rows + 10% since its statistics were taken (pg_class
        # keeps the row count ANALYZE saw; the live count is kept even when autovacuum is off), or that has none.
        # Not autovacuum's "rows modified" rule: every night rewrites tens of thousands of rows in place
        # (confirmations, re-evaluations) without changing what the plans depend on, and the ANALYZEs it triggered
        # cost ~6 s of a 100,000-process nightly run.
        stale = {
            row.relname
            for row in session.execute(
                text(
                    "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
                    "WHERE s.relname = ANY(:names) AND (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL "
                    "OR c.reltuples < 0 OR abs(s.n_live_tup - c.reltuples) > 50 + 0.1 * c.reltuples)"
                ),
                {"names": [t.name for t in tables]},
            )
        }
        tables = [t for t in tables if t.name in stale]
        if not tables:
            return
    names = ", ".join(f"{table.name} ({', '.join(_keyed_columns(table))})" for table in tables)
    session.execute(text(f"ANALYZE {names}"))


def _chunks(session: Session, source: str, size: int, rules: str, changed_only: bool) -> Iterator[list[RecordInput]]:
    """Records of a source in id order, by keyset pages (a page per query, so a commit between pages is safe).

    Publishing and importing queue a record in the same transaction, so a record that is not queued and was
    evaluated under the current rules has not changed since. ``changed_only`` (the first pass) reads only the others;
    otherwise such a record comes without its compiled release (``compiled`` None): ``prepare_records`` skips it
    unread when its process is frozen or its other inputs did not move, and reads it only to evaluate it.
    """
    state = RedFlagProcess.__table__.c
    evaluated_as_is = and_(state.rules_sha == rules, PendingEvaluation.record_id.is_(None))
    compiled = case((evaluated_as_is, null()), else_=Record.compiled)
    columns = [c if c is not Record.compiled else compiled.label("compiled") for c in _RECORD_COLUMNS]
    columns += [state.compiled_sha.label("evaluated_sha"), state.rules_sha.label("evaluated_rules")]
    joined = _QUEUED.outerjoin(RedFlagProcess.__table__, state.ocid == Record.ocid)
    last = 0
    while True:
        query = select(*columns).select_from(joined).where(Record.source == source, Record.id > last)
        if changed_only:
            # rules_sha is NULL for a record never evaluated: the comparison is then NULL, NOT NULL too.
            query = query.where(or_(state.id.is_(None), not_(evaluated_as_is)))
        rows = session.connection().execute(query.order_by(Record.id).limit(size)).all()
        if not rows:
            return
        records = _record_inputs(rows)
        for record, row in zip(records, rows, strict=True):
            if row.evaluated_sha is not None:
                record.evaluated = (row.evaluated_sha, row.evaluated_rules)
        yield records
        last = records[-1].id


# ---------------------------------------------------------------------------------------------------------------
# One runner at a time
# ---------------------------------------------------------------------------------------------------------------


@contextmanager
def engine_lock(session: Session, now: dt.datetime, seconds: int) -> Iterator[bool]:
    """The engine's own lease, shared by the incremental and full runs and the CLI (scheduler leases are per job).

    Claiming and releasing commit; on an error the unit is rolled back before the lease is released."""
    from bos.scheduler import claim_lease, holder_name, release_lease  # noqa: PLC0415

    holder = holder_name()
    if not claim_lease(session, ENGINE_LEASE, holder, seconds, now):
        yield False
        return
    try:
        yield True
    except BaseException:
        session.rollback()
        release_lease(session, ENGINE_LEASE, holder)
        raise
    release_lease(session, ENGINE_LEASE, holder)


__all__ = [
    "COMPOSITE",
    "ENGINE_LEASE",
    "Analysis",
    "BaselineStore",
    "Composite",
    "RunStats",
    "SourceParams",
    "analyse",
    "composite",
    "count_records",
    "engine_lock",
    "evaluate_all",
    "evaluate_dirty",
    "evaluate_release",
    "explain",
    "flag_row",
    "is_frozen",
    "refresh_baselines",
    "rules_sha",
]
