"""Which subscriptions an event matches: pure functions over facts read from the compiled release."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from bos.notifications.models import EventScope, EventType, Subscription


@dataclass(frozen=True)
class ProcessFacts:
    """What the filters look at, read once per process from ``Record.compiled``."""

    ocid: str
    title: str
    buyer_id: int | None = None  # organisations.id of the buyer, if BOS knows it
    region_ids: frozenset[int] = frozenset()  # the buyer's region and every parent region
    category: str | None = None
    values: tuple[Decimal, ...] = ()  # tender value and award values
    text: str = ""  # lower-cased title and description, for keywords


@dataclass(frozen=True)
class Event:
    """A release (a process changed) or a flag event (a red flag raised or cleared)."""

    type: EventType
    id: int
    ocid: str
    change: str  # "raised"/"cleared" for flags, the release tags for releases
    at: Any  # datetime of the event
    indicator: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _amount(section: Any) -> Decimal | None:
    if not isinstance(section, dict):
        return None
    value = section.get("value")
    return _decimal(value.get("amount")) if isinstance(value, dict) else None


def process_title(compiled: Mapping[str, Any]) -> str:
    tender = compiled.get("tender") if isinstance(compiled.get("tender"), dict) else {}
    planning = compiled.get("planning") if isinstance(compiled.get("planning"), dict) else {}
    budget = planning.get("budget") if isinstance(planning.get("budget"), dict) else {}
    return str(tender.get("title") or budget.get("project") or budget.get("description") or compiled.get("ocid", ""))


def buyer_identifier(compiled: Mapping[str, Any]) -> str | None:
    buyer = compiled.get("buyer")
    return str(buyer["id"]) if isinstance(buyer, dict) and buyer.get("id") else None


def facts_from_compiled(
    compiled: Mapping[str, Any], buyer_id: int | None = None, region_ids: Iterable[int] = ()
) -> ProcessFacts:
    tender = compiled.get("tender") if isinstance(compiled.get("tender"), dict) else {}
    planning = compiled.get("planning") if isinstance(compiled.get("planning"), dict) else {}
    budget = planning.get("budget") if isinstance(planning.get("budget"), dict) else {}
    values = [_amount(tender)]
    values += [_amount(award) for award in compiled.get("awards") or []]
    texts = [tender.get("title"), tender.get("description"), budget.get("project"), budget.get("description")]
    return ProcessFacts(
        ocid=str(compiled.get("ocid", "")),
        title=process_title(compiled),
        buyer_id=buyer_id,
        region_ids=frozenset(region_ids),
        category=tender.get("mainProcurementCategory"),
        values=tuple(v for v in values if v is not None),
        text=" ".join(str(t) for t in texts if t).casefold(),
    )


def follows(subscription: Subscription, event: Event) -> bool:
    """The subscription follows this kind of event, and it happened after the subscription was made."""
    if event.type is EventType.RELEASE:
        return subscription.events in (EventScope.CHANGES, EventScope.ALL) and event.id > subscription.start_release_id
    return subscription.events in (EventScope.FLAGS, EventScope.ALL) and event.id > subscription.start_flag_event_id


def matches(subscription: Subscription, event: Event, facts: ProcessFacts | None) -> bool:
    """Every filter set on ``subscription`` holds for ``event`` on a process described by ``facts``.

    ``facts`` is None when the process has no record (yet): then only filters that need no facts can hold.
    """
    if not follows(subscription, event):
        return False
    if subscription.ocid and subscription.ocid != event.ocid:
        return False
    codes = subscription.indicator_codes
    # An indicator filter asks about flags: releases pass it only on a subscription that follows one process.
    if codes and (event.indicator not in codes if event.type is EventType.FLAG else not subscription.ocid):
        return False
    needs_facts = (
        subscription.buyer_id is not None
        or subscription.region_id is not None
        or subscription.procurement_category is not None
        or subscription.min_value is not None
        or bool(subscription.keyword)
    )
    if not needs_facts:
        return True
    if facts is None:
        return False
    if subscription.buyer_id is not None and facts.buyer_id != subscription.buyer_id:
        return False
    if subscription.region_id is not None and subscription.region_id not in facts.region_ids:
        return False
    if subscription.procurement_category is not None and facts.category != subscription.procurement_category.value:
        return False
    if subscription.min_value is not None and not any(v >= subscription.min_value for v in facts.values):
        return False
    return not (subscription.keyword and subscription.keyword.casefold() not in facts.text)
