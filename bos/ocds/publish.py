"""Write immutable OCDS releases, and keep each ocid's record (compiled release) current, in the caller's transaction.

A release row is never updated or deleted: a correction is a new release. The record is updated incrementally
(one merge per new release, see ``bos.ocds.compile``) and queued for red-flag evaluation in the same transaction,
so a published change and its place in the engine's queue commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bos import settings
from bos.contracts.models import Contract, Transaction
from bos.db import upsert, utcnow
from bos.ocds.compile import compile_snapshots, update_compiled_release
from bos.ocds.models import PendingEvaluation, Record, Release
from bos.ocds.release import ProcessGraph, build_release, history
from bos.ocds.schema import SchemaSource
from bos.parties.models import Organisation
from bos.tenders.models import Award, Bid, Process, Tender


def schema_source(config: Mapping[str, Any] | None = None) -> SchemaSource:
    """The schema location configured for this app (``BOS_OCDS_SCHEMA_DIR`` etc.), as a cache key."""
    if config is None:
        config = current_app.config if has_app_context() else settings.from_env()

    def path(key: str) -> Path | None:
        raw = config.get(key)
        return Path(raw) if raw else None

    cache = path("CACHE_DIR")
    return SchemaSource(
        schema_dir=path("OCDS_SCHEMA_DIR"),
        extensions_dir=path("OCDS_EXTENSIONS_DIR"),
        cache_dir=cache / "ocds" if cache else None,
    )


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def load_graph(session: Session, process_id: int) -> ProcessGraph:
    return load_graphs(session, [process_id])[0]


def load_graphs(session: Session, process_ids: Sequence[int]) -> list[ProcessGraph]:
    """Load processes with everything their releases need, in a fixed number of queries per batch."""
    org_options = selectinload(Organisation.region)
    processes = session.scalars(
        select(Process)
        .where(Process.id.in_(process_ids))
        .options(
            selectinload(Process.buyer).options(org_options),
            selectinload(Process.planning),
            selectinload(Process.documents),
            selectinload(Process.tender).options(
                selectinload(Tender.items),
                selectinload(Tender.amendments),
                selectinload(Tender.procuring_entity).options(org_options),
                selectinload(Tender.bids).selectinload(Bid.supplier).options(org_options),
            ),
            selectinload(Process.awards).options(
                selectinload(Award.suppliers).options(org_options), selectinload(Award.items)
            ),
        )
        .order_by(Process.id)
        .execution_options(populate_existing=True)
    ).all()
    contracts = session.scalars(
        select(Contract)
        .where(Contract.process_id.in_(process_ids))
        .options(
            selectinload(Contract.items),
            selectinload(Contract.amendments),
            selectinload(Contract.milestones),
            selectinload(Contract.transactions).options(
                selectinload(Transaction.payer).options(org_options),
                selectinload(Transaction.payee).options(org_options),
            ),
        )
        .order_by(Contract.id)
        .execution_options(populate_existing=True)
    ).all()
    by_process: dict[int, list[Contract]] = {}
    for contract in contracts:
        by_process.setdefault(contract.process_id, []).append(contract)
    return [ProcessGraph(process, by_process.get(process.id, [])) for process in processes]


def release_row(release: Mapping[str, Any], source: str = "bos") -> dict[str, Any]:
    """The column values of the immutable row storing ``release`` exactly as it will be served."""
    body = dumps(release)
    buyer = release.get("buyer")
    tags = release.get("tag") or []
    if isinstance(tags, str):  # some publishers write a single tag as a string
        tags = [tags]
    buyer_id = buyer.get("id") if isinstance(buyer, dict) else None
    return {
        "ocid": release["ocid"],
        "release_id": str(release["id"]),
        "date": parse_date(release["date"]),
        "tags": " ".join(str(tag) for tag in tags),
        "buyer_identifier": str(buyer_id) if buyer_id is not None else None,
        "source": source,
        "json": body.decode(),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


def parse_date(raw: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        # Some publishers omit the offset; OCDS requires one. Reading it as UTC keeps the feed's order total.
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def publish_release(
    session: Session, process: Process, tags: Sequence[str], now: dt.datetime | None = None
) -> Release:
    """Build the release of ``process`` as it stands, store it, update its record and mark it for evaluation."""
    session.flush()
    now = now or utcnow()
    graph = load_graph(session, process.id)
    count = session.scalar(select(func.count()).select_from(Release).where(Release.ocid == process.ocid)) or 0
    release = build_release(graph, release_id=f"{process.ocid}-{count + 1:04d}", date=now, tags=tags)
    row = Release(**release_row(release), published_at=now)
    session.add(row)
    record = update_record(session, release, source="bos")
    process.needs_evaluation = True
    session.flush()
    mark_for_evaluation(session, [record.id])
    return row


def update_record(session: Session, release: Mapping[str, Any], source: str) -> Record:
    """Merge one new release into its ocid's record (incrementally where that is exact). The caller queues the
    record for evaluation (``mark_for_evaluation``) once it has an id."""
    ocid = release["ocid"]
    record = session.scalars(select(Record).where(Record.ocid == ocid)).one_or_none()
    previous = orjson.loads(record.compiled) if record is not None else None

    def all_releases() -> list[dict[str, Any]]:
        stored = session.scalars(select(Release.json).where(Release.ocid == ocid).order_by(Release.id)).all()
        return [orjson.loads(body) for body in stored]

    outcome = update_compiled_release(previous, release, all_releases, schema_source())
    date = parse_date(release["date"])
    buyer = release.get("buyer")
    if record is None:
        record = Record(ocid=ocid, source=source, release_count=0, last_release_date=date)
        session.add(record)
    record.release_count += 1
    record.last_release_date = max(record.last_release_date, date)
    buyer_id = buyer.get("id") if isinstance(buyer, dict) else None
    record.buyer_identifier = str(buyer_id) if buyer_id is not None else record.buyer_identifier
    record.compiled = dumps(outcome.compiled).decode()
    record.versioned = None  # rebuilt on demand from the releases (?versioned=true)
    return record


def mark_for_evaluation(session: Session, record_ids: Iterable[int]) -> None:
    """Queue these records for the red-flag engine in the caller's transaction (``PendingEvaluation``), each with a
    new token: a record already queued gets one too, so an evaluation that read it before this change leaves it
    queued. In id order, as every writer of the queue takes its rows, so two never wait for each other in a cycle."""
    ids = sorted(set(record_ids))
    table = PendingEvaluation.__table__
    for start in range(0, len(ids), 400):  # two parameters a row, under SQLite's oldest limit of 999
        rows = [{"record_id": i, "token": new_queue_token()} for i in ids[start : start + 400]]
        statement = upsert(session, table).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.record_id], set_={"token": statement.excluded.token}
            )
        )


def new_queue_token() -> int:
    """A token for ``PendingEvaluation``: random, 62 bits (a signed 64-bit column on both databases)."""
    return secrets.randbits(62)


@dataclass
class HistoryRows:
    releases: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)


def build_history_rows(session: Session, process_ids: Sequence[int]) -> HistoryRows:
    """The release and record rows of the full history of already-recorded processes (the demo seed's bulk path).

    Each release is the snapshot ``build_release`` makes at that event's date, exactly what the services would
    have published at that moment, and the record is compiled once from all of them. Reads only.
    """
    rows = HistoryRows()
    for graph in load_graphs(session, process_ids):
        ocid = graph.process.ocid
        releases = [
            build_release(graph, release_id=f"{ocid}-{index:04d}", date=event.date, tags=event.tags, as_of=event.date)
            for index, event in enumerate(history(graph), start=1)
        ]
        if not releases:
            continue
        for release in releases:
            row = release_row(release)
            row["published_at"] = row["date"]
            rows.releases.append(row)
        last = releases[-1]
        rows.records.append(
            {
                "ocid": ocid,
                "source": "bos",
                "release_count": len(releases),
                "last_release_date": parse_date(last["date"]),
                "buyer_identifier": last["buyer"]["id"],
                "compiled": dumps(compile_snapshots(releases)).decode(),
                "versioned": None,
                "updated_at": utcnow(),
            }
        )
    return rows


def insert_history_rows(session: Session, rows: HistoryRows) -> int:
    if rows.releases:
        session.execute(Release.__table__.insert(), rows.releases)
        session.execute(Record.__table__.insert(), rows.records)
        ocids = [row["ocid"] for row in rows.records]
        for start in range(0, len(ocids), 500):
            ids = session.scalars(select(Record.id).where(Record.ocid.in_(ocids[start : start + 500])))
            mark_for_evaluation(session, ids)
    return len(rows.releases)


def publish_history(session: Session, process_ids: Sequence[int]) -> int:
    """Build and insert the full history of already-recorded processes in the caller's transaction."""
    return insert_history_rows(session, build_history_rows(session, process_ids))


_WORKER_SESSION: Session | None = None


def build_history_rows_in_worker(database_url: str, process_ids: Sequence[int]) -> HistoryRows:
    """Entry point of a seed worker process: its own engine and session, reading committed rows."""
    global _WORKER_SESSION  # noqa: PLW0603 - one session per worker process, reused across chunks
    from bos.db import make_engine  # noqa: PLC0415

    if _WORKER_SESSION is None:
        _WORKER_SESSION = Session(bind=make_engine(database_url))
    try:
        return build_history_rows(_WORKER_SESSION, process_ids)
    finally:
        _WORKER_SESSION.rollback()
        _WORKER_SESSION.expunge_all()
