"""Subscription filters over process facts: pure functions, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bos.enums import ProcurementCategory
from bos.notifications.matching import Event, ProcessFacts, facts_from_compiled, matches
from bos.notifications.models import EventScope, EventType, Subscription

AT = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
FACTS = ProcessFacts(
    ocid="ocds-x-1",
    title="Rehabilitasi jalan desa",
    buyer_id=7,
    region_ids=frozenset({3, 1}),
    category="works",
    values=(Decimal(900_000_000), Decimal(850_000_000)),
    text="rehabilitasi jalan desa sumberejo",
)


def subscription(**values):
    defaults = {"events": EventScope.FLAGS, "start_release_id": 0, "start_flag_event_id": 0}
    return Subscription(**{**defaults, **values})


def flag(code="R018", event_id=10, ocid="ocds-x-1"):
    return Event(EventType.FLAG, event_id, ocid, "raised", AT, indicator=code)


def release(event_id=10, ocid="ocds-x-1"):
    return Event(EventType.RELEASE, event_id, ocid, "tender", AT)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, True),
        ({"buyer_id": 7}, True),
        ({"buyer_id": 8}, False),
        ({"region_id": 1}, True),  # a parent region of the buyer's
        ({"region_id": 2}, False),
        ({"indicators": "R018 R024"}, True),
        ({"indicators": "R024"}, False),
        ({"procurement_category": ProcurementCategory.WORKS}, True),
        ({"procurement_category": ProcurementCategory.GOODS}, False),
        ({"min_value": Decimal(900_000_000)}, True),
        ({"min_value": Decimal("900000000.01")}, False),
        ({"keyword": "JALAN"}, True),
        ({"keyword": "puskesmas"}, False),
        ({"ocid": "ocds-x-1"}, True),
        ({"ocid": "ocds-x-2"}, False),
        ({"buyer_id": 7, "keyword": "jalan", "min_value": Decimal(1)}, True),
        ({"buyer_id": 7, "keyword": "sekolah"}, False),
        ({"start_flag_event_id": 10}, False),  # the event is older than the subscription
        ({"events": EventScope.CHANGES}, False),
    ],
)
def test_flag_filters(values, expected):
    assert matches(subscription(**values), flag(), FACTS) is expected


def test_release_needs_a_subscription_to_changes():
    assert not matches(subscription(), release(), FACTS)
    assert matches(subscription(events=EventScope.CHANGES), release(), FACTS)
    assert matches(subscription(events=EventScope.ALL, buyer_id=7), release(), FACTS)


def test_indicator_filter_lets_releases_through_only_when_following_one_process():
    assert not matches(subscription(events=EventScope.ALL, indicators="R018"), release(), FACTS)
    assert matches(subscription(events=EventScope.ALL, indicators="R018", ocid="ocds-x-1"), release(), FACTS)


def test_unknown_process_matches_only_filters_without_facts():
    assert matches(subscription(), flag(ocid=""), None)
    assert not matches(subscription(buyer_id=7), flag(ocid=""), None)


def test_facts_from_compiled_release():
    compiled = {
        "ocid": "ocds-x-1",
        "buyer": {"id": "ID-KEMENDAGRI-35.22.01", "name": "Dinas"},
        "planning": {"budget": {"project": "Jalan", "amount": {"amount": 5}}},
        "tender": {
            "title": "Rehab Jalan",
            "description": "Sumberejo",
            "mainProcurementCategory": "works",
            "value": {"amount": 100, "currency": "IDR"},
        },
        "awards": [{"value": {"amount": "90.5", "currency": "IDR"}}, {"status": "pending"}],
    }
    facts = facts_from_compiled(compiled, 3, [4, 5])
    assert facts.title == "Rehab Jalan"
    assert facts.values == (Decimal(100), Decimal("90.5"))
    assert facts.category == "works"
    assert "sumberejo" in facts.text and "jalan" in facts.text
    assert facts.region_ids == frozenset({4, 5})
    assert facts_from_compiled({"ocid": "o", "planning": {"budget": {"project": "Plan only"}}}).title == "Plan only"
