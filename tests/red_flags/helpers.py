"""Builders shared by the indicator tests: run one indicator on one release, or a dataset, on hand-built releases."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bos.ocds.models import PendingEvaluation, Record
from bos.red_flags import engine
from bos.red_flags import models as m
from bos.red_flags.indicators import REGISTRY, Outcome, effective_params, evaluate_dataset

SAMPLES = Path(
    os.environ.get("BOS_OCDS_SAMPLES_DIR", str(Path(__file__).resolve().parents[2].parent / "shared/ocds/samples"))
)

#: The tables an engine run writes (tests compare their contents between two ways of running it).
RUN_TABLES = [
    m.RedFlag,
    m.RedFlagEvent,
    m.RedFlagProcess,
    m.RedFlagMeasure,
    m.RedFlagContribution,
    m.RedFlagOrgTotal,
    m.RedFlagCoverage,
]


def queued_count(session: Session) -> int:
    """How many records wait in the engine's queue."""
    return int(session.scalar(select(func.count()).select_from(PendingEvaluation)) or 0)


def queue_state(session: Session) -> list[tuple[str, bool]]:
    """(ocid, whether it is queued) of every record, by ocid (tokens are random: two runs never share them)."""
    queued = Record.__table__.outerjoin(PendingEvaluation.__table__)
    query = select(Record.ocid, PendingEvaluation.token.is_not(None)).select_from(queued).order_by(Record.ocid)
    return [(ocid, bool(is_queued)) for ocid, is_queued in session.execute(query)]


def pure_process_statuses(releases: list[dict[str, Any]], outcomes: list[Outcome]) -> dict[str, dict[str, str]]:
    """{ocid: {code: status}} for every release's process and process-grain indicator, grouped from the pure
    evaluation's outcomes as the engine stores them (``Composite.statuses``; not_applicable where there is none)."""
    by_process: dict[str, list[Outcome]] = {release["ocid"]: [] for release in releases}
    for outcome in outcomes:
        if outcome.grain == "process":
            by_process[outcome.subject].append(outcome)
    found = {}
    for ocid, of_process in by_process.items():
        statuses = engine.parse_statuses(engine.composite(of_process).statuses)
        found[ocid] = {code: statuses.get(code, m.FlagStatus.NOT_APPLICABLE).value for code in engine.PROCESS_CODES}
    return found


def run(code: str, release: dict[str, Any], baseline: Any = None, **settings: Any) -> Outcome:
    params = effective_params(code, {code: settings} if settings else None)
    evaluate = REGISTRY[code].evaluate
    assert evaluate is not None
    outcomes = evaluate(release, params, baseline)
    assert len(outcomes) == 1
    return outcomes[0]


def group(code: str, releases: list[dict[str, Any]], **settings: Any) -> list[Outcome]:
    return evaluate_dataset(releases, {code: settings} if settings else None, codes=[code])


def bid(tenderer: str | None, amount: Any, status: str = "valid", currency: str = "IDR", **extra: Any) -> dict:
    tenderers = [{"id": tenderer}] if tenderer else [{"name": "no id"}]
    return {"status": status, "tenderers": tenderers, "value": {"amount": amount, "currency": currency}, **extra}


def process(ocid: str = "ocds-1", bids: list[dict] | None = None, winner: str | None = "W", **extra: Any) -> dict:
    release: dict[str, Any] = {"ocid": ocid, **extra}
    if bids is not None:
        release["bids"] = {"details": bids}
    if winner is not None:
        release.setdefault("awards", [{"id": "a1", "status": "active", "suppliers": [{"id": winner}]}])
    return release


def pl_release(amount: Any, category: str = "goods", **tender: Any) -> dict:
    return {
        "ocid": "pl",
        "tender": {
            "procurementMethod": "limited",
            "procurementMethodDetails": "Pengadaan Langsung",
            "mainProcurementCategory": category,
            "value": {"amount": amount, "currency": "IDR"},
            **tender,
        },
    }
