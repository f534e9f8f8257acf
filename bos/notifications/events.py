"""Reading new events (releases, red-flag events) by id, and turning matches into alerts and outbox rows.

Each source is an append-only table read by a high-water mark on its id, kept in ``event_cursors`` and committed
with the alerts it produced. Ids are assigned when a row is inserted, not when it commits, so on PostgreSQL a
lower id can appear after a higher one was read: the ids skipped over are kept as gaps and looked at again on the
next runs, until ``NOTIFY_GAP_SECONDS`` passes (a rolled-back insert leaves a gap that never fills).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.notifications import delivery
from bos.notifications.matching import (
    Event,
    ProcessFacts,
    buyer_identifier,
    facts_from_compiled,
    matches,
)
from bos.notifications.models import Alert, EventCursor, EventType, Subscription
from bos.ocds.models import Record, Release
from bos.parties.models import Organisation, Region

log = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 20  # per source and run: a big backlog is worked off over several runs, each in short transactions
MAX_GAPS = 10_000  # more than this is a bulk rollback, not transactions in flight: those ids will never appear
ALERT_KINDS = ("raised", "cleared")  # other status changes (e.g. to insufficient data) are not news to a monitor


def flag_event_model() -> Any:
    """The red-flag engine's append-only event model, or None while the engine is not installed."""
    try:
        from bos.red_flags import models as flag_models  # noqa: PLC0415 - optional until the engine lands
    except ModuleNotFoundError as exc:
        if exc.name != "bos.red_flags.models":
            raise
        return None
    return getattr(flag_models, "RedFlagEvent", None)


def _config(name: str, default: Any) -> Any:
    return current_app.config.get(name, default) if has_app_context() else default


# ------------------------------------------------------------------------------------------------------ cursor


def get_cursor(session: Session, consumer: str, start: Callable[[], int]) -> EventCursor:
    cursor = session.get(EventCursor, consumer)
    if cursor is None:
        cursor = EventCursor(consumer=consumer, last_id=start(), gaps="{}")
        session.add(cursor)
        session.flush()
    return cursor


def take_batch(
    session: Session, cursor: EventCursor, query: Any, id_column: Any, now: dt.datetime, limit: int = BATCH
) -> list[Any]:
    """The next rows after ``cursor`` (and rows that filled a gap), advancing the cursor in memory.

    ``query`` selects the source rows; ``id_column`` is their id. The caller commits the cursor with its alerts.
    """
    gaps: dict[str, str] = orjson.loads(cursor.gaps or "{}")
    grace = dt.timedelta(seconds=int(_config("NOTIFY_GAP_SECONDS", 600)))
    rows: list[Any] = []
    if gaps:
        filled = list(session.execute(query.where(id_column.in_([int(k) for k in gaps]))).all())
        for row in filled:
            gaps.pop(str(row.id), None)
        rows += filled
        gaps = {k: seen for k, seen in gaps.items() if dt.datetime.fromisoformat(seen) + grace > now}
    fresh = list(session.execute(query.where(id_column > cursor.last_id).order_by(id_column).limit(limit)).all())
    expected = cursor.last_id + 1
    for row in fresh:
        if row.id > expected and len(gaps) < MAX_GAPS:
            for missing in range(expected, min(row.id, expected + MAX_GAPS - len(gaps))):
                gaps[str(missing)] = now.isoformat()
        expected = row.id + 1
    if fresh:
        cursor.last_id = fresh[-1].id
    cursor.gaps = orjson.dumps(gaps).decode()
    return rows + fresh


# ------------------------------------------------------------------------------------------------------ sources


@dataclass
class FactsIndex:
    """Process facts for a batch of events: records, buyers and their region chains, each read once."""

    session: Session
    _facts: dict[str, ProcessFacts | None] = field(default_factory=dict)
    _buyers: dict[str, tuple[int, frozenset[int], str] | None] = field(default_factory=dict)

    def buyer(self, identifier: str | None) -> tuple[int, frozenset[int], str] | None:
        """(organisation id, ids of its region and every parent region, name) of an OCDS buyer id."""
        if not identifier:
            return None
        if identifier not in self._buyers:
            org = self.session.scalars(
                select(Organisation).where(
                    (Organisation.identifier_scheme + "-" + Organisation.identifier_id) == identifier
                )
            ).first()
            if org is None:
                self._buyers[identifier] = None
            else:
                regions: set[int] = set()
                region_id = org.region_id
                while region_id is not None and region_id not in regions:  # a cycle must not hang the job
                    regions.add(region_id)
                    region = self.session.get(Region, region_id)
                    region_id = region.parent_id if region is not None else None
                self._buyers[identifier] = (org.id, frozenset(regions), org.name)
        return self._buyers[identifier]

    def load(self, ocids: Iterable[str]) -> None:
        wanted = sorted({o for o in ocids if o and o not in self._facts})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for ocid, compiled in self.session.execute(
                select(Record.ocid, Record.compiled).where(Record.ocid.in_(chunk))
            ).all():
                data = orjson.loads(compiled)
                buyer = self.buyer(buyer_identifier(data))
                self._facts[ocid] = facts_from_compiled(data, buyer[0] if buyer else None, buyer[1] if buyer else ())
            for ocid in chunk:
                self._facts.setdefault(ocid, None)

    def facts(self, event: Event, buyer: str | None) -> ProcessFacts | None:
        if event.ocid:
            self.load([event.ocid])
            return self._facts.get(event.ocid)
        found = self.buyer(buyer)  # a flag on an organisation: only buyer and region filters can apply
        if found is None:
            return None
        return ProcessFacts(ocid="", title=found[2], buyer_id=found[0], region_ids=found[1])


def release_events(session: Session, rows: Sequence[Any]) -> list[tuple[Event, str | None]]:
    return [
        (
            Event(
                type=EventType.RELEASE,
                id=row.id,
                ocid=row.ocid,
                change=row.tags,
                at=row.date,
                detail={"release_id": row.release_id, "tags": row.tags.split()},
            ),
            row.buyer_identifier,
        )
        for row in rows
    ]


def flag_events(session: Session, rows: Sequence[Any]) -> list[tuple[Event, str | None]]:
    from bos.red_flags.models import RedFlag  # noqa: PLC0415 - present whenever flag events are

    flags = {
        flag.id: flag for flag in session.scalars(select(RedFlag).where(RedFlag.id.in_({row.flag_id for row in rows})))
    }
    events = []
    for row in rows:
        kind = getattr(row.kind, "value", row.kind)
        if kind not in ALERT_KINDS:
            continue
        flag = flags.get(row.flag_id)
        evidence: Any = None
        if flag is not None and flag.evidence:
            try:
                evidence = orjson.loads(flag.evidence)
            except orjson.JSONDecodeError:
                evidence = flag.evidence
        detail = {
            "flag_id": row.flag_id,
            "grain": row.grain,
            "subject": row.subject,
            "value": row.value,
            "explanation": flag.explanation if flag is not None else None,
            "evidence": evidence,
        }
        event = Event(
            type=EventType.FLAG,
            id=row.id,
            ocid=row.ocid or "",
            change=kind,
            at=row.at,
            indicator=row.code,
            detail=detail,
        )
        events.append((event, row.buyer))
    return events


# ------------------------------------------------------------------------------------------------------ matching


def process_url(session: Session, ocid: str) -> str:
    """The public page of a process: BOS's own page, or the OCDS record of an imported one."""
    from bos.tenders.models import Process  # noqa: PLC0415

    base = str(_config("PUBLIC_BASE_URL", "http://127.0.0.1:5000")).rstrip("/")
    process_id = session.scalar(select(Process.id).where(Process.ocid == ocid)) if ocid else None
    if process_id is not None:
        return f"{base}/processes/{process_id}"
    return f"{base}/api/ocds/records/{ocid}" if ocid else base + "/"


def create_alerts(
    session: Session,
    subscriptions: Sequence[Subscription],
    events: Sequence[tuple[Event, str | None]],
    index: FactsIndex,
    now: dt.datetime,
) -> int:
    """One alert per matching (subscription, event) not alerted yet, with its outbox rows. Returns the count."""
    if not events or not subscriptions:
        return 0
    kind = events[0][0].type
    existing: set[tuple[int, int]] = set()
    ids = sorted({e.id for e, _buyer in events})
    for start in range(0, len(ids), 500):
        existing.update(
            (subscription_id, event_id)
            for subscription_id, event_id in session.execute(
                select(Alert.subscription_id, Alert.event_id).where(
                    Alert.event_type == kind,
                    Alert.event_id.in_(ids[start : start + 500]),
                    Alert.subscription_id.in_([s.id for s in subscriptions]),
                )
            )
        )
    index.load(event.ocid for event, _buyer in events)  # one query per batch, not one per event
    created = 0
    for event, buyer in events:
        facts = None
        facts_loaded = False
        for subscription in subscriptions:
            if (subscription.id, event.id) in existing:
                continue
            if not facts_loaded:
                facts, facts_loaded = index.facts(event, buyer), True
            if not matches(subscription, event, facts):
                continue
            alert = Alert(
                subscription_id=subscription.id,
                user_id=subscription.user_id,
                event_type=event.type,
                event_id=event.id,
                ocid=event.ocid or None,
                change=event.change[:200],
                indicator=event.indicator,
                title=(facts.title if facts else event.ocid or event.detail.get("subject") or "")[:500],
                url=process_url(session, event.ocid),
                detail=orjson.dumps(dict(event.detail), default=str).decode(),
                event_at=event.at,
                created_at=now,
            )
            session.add(alert)
            session.flush()
            delivery.queue_alert(session, subscription, alert, now)
            existing.add((subscription.id, event.id))
            created += 1
    return created


def _active_subscriptions(session: Session) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription).join(User, User.id == Subscription.user_id).where(User.is_active.is_(True))
        )
    )


def consume(
    session: Session,
    consumer: str,
    model: Any,
    to_events: Callable[[Session, Sequence[Any]], list[tuple[Event, str | None]]],
    columns: Sequence[Any],
    start_mark: Callable[[Subscription], int],
    now: dt.datetime,
) -> dict[str, int]:
    """Read one source to its end (or ``MAX_BATCHES`` batches), committing alerts and cursor per batch."""
    subscriptions = _active_subscriptions(session)

    def start() -> int:
        # A first run starts at the oldest subscription's mark, so history before any subscription is never read.
        if subscriptions:
            return min(start_mark(s) for s in subscriptions)
        return session.scalar(select(func.max(model.id))) or 0

    cursor = get_cursor(session, consumer, start)
    stats = {"read": 0, "alerts": 0}
    index = FactsIndex(session)
    query = select(*columns)
    for _batch in range(MAX_BATCHES):
        rows = take_batch(session, cursor, query, model.id, now)
        if rows:
            candidates = [s for s in subscriptions if max(r.id for r in rows) > start_mark(s)]
            stats["read"] += len(rows)
            stats["alerts"] += create_alerts(session, candidates, to_events(session, rows), index, now)
        session.flush()
        session.commit()  # the cursor and the alerts of this batch, together
        if len(rows) < BATCH:
            break
    return stats


def match_new_events(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Alerts for every release and red-flag event since the last run (one per subscription and event)."""
    stats: dict[str, Any] = {
        "releases": consume(
            session,
            "releases",
            Release,
            release_events,
            (Release.id, Release.ocid, Release.release_id, Release.tags, Release.date, Release.buyer_identifier),
            lambda s: s.start_release_id,
            now,
        )
    }
    model = flag_event_model()
    if model is None:
        stats["flags"] = "red-flag engine not installed"
        return stats
    stats["flags"] = consume(
        session,
        "red_flag_events",
        model,
        flag_events,
        (
            model.id,
            model.flag_id,
            model.kind,
            model.code,
            model.grain,
            model.subject,
            model.ocid,
            model.buyer,
            model.value,
            model.at,
        ),
        lambda s: s.start_flag_event_id,
        now,
    )
    return stats
