"""Responses, annotations and dismissals: who may post what; nothing is deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bos.exceptions import Invalid, NotAllowed
from bos.ocds.release import party_id
from bos.red_flags import engine, service
from bos.red_flags.models import FlagStatus, RedFlag, RedFlagResponse
from tests.red_flags.conftest import NOW, store_record


@pytest.fixture
def flag(db_session, parties):
    release = {
        "ocid": "ocds-test00-flagged",
        "buyer": {"id": party_id(parties.buyer)},
        "tender": {"status": "active", "procurementMethod": "open", "numberOfTenderers": 1},
    }
    store_record(db_session, release)
    engine.evaluate_dirty(db_session, NOW)
    found = db_session.scalars(select(RedFlag).where(RedFlag.ocid == release["ocid"], RedFlag.code == "R018")).one()
    assert found.status is FlagStatus.FLAGGED
    return found


def test_officer_of_the_buyer_responds(db_session, users, flag):
    response = service.respond_to_flag(
        db_session, users["officer"], flag.id, "  The only bidder was the sole licensed one. "
    )
    assert response.kind.value == "response"
    assert response.body == "The only bidder was the sole licensed one."


@pytest.mark.parametrize("who", ["other_officer", "monitor", "admin", "contractor", None])
def test_only_the_buyers_officer_responds(db_session, users, flag, who):
    with pytest.raises(NotAllowed):
        service.respond_to_flag(db_session, users.get(who), flag.id, "text")


def test_monitor_annotates_others_cannot(db_session, users, flag):
    assert service.annotate_flag(db_session, users["monitor"], flag.id, "Seen in the news too.").kind.value == (
        "annotation"
    )
    with pytest.raises(NotAllowed):
        service.annotate_flag(db_session, users["officer"], flag.id, "text")


def test_admin_dismisses_with_a_public_reason_and_nothing_is_deleted(db_session, users, flag):
    with pytest.raises(NotAllowed):
        service.dismiss_flag(db_session, users["monitor"], flag.id, "no")
    with pytest.raises(Invalid):
        service.dismiss_flag(db_session, users["admin"], flag.id, "   ")
    service.dismiss_flag(db_session, users["admin"], flag.id, "Data error at import, confirmed by the buyer.")
    db_session.refresh(flag)
    assert flag.dismissed_at is not None
    assert flag.status is FlagStatus.FLAGGED  # still listed, marked dismissed
    page = service.list_flags(db_session, service.FlagFilters(status="dismissed"), None, 10)
    assert [f.id for f in page.flags] == [flag.id]
    assert db_session.scalar(select(RedFlagResponse.body).where(RedFlagResponse.flag_id == flag.id)).startswith("Data")


def test_list_filters_and_keyset_pages(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    first = service.list_flags(db_session, service.FlagFilters(), None, 5)
    assert len(first.flags) == 5 and first.next_cursor
    second = service.list_flags(db_session, service.FlagFilters(), first.next_cursor, 5)
    assert first.flags[-1].id < second.flags[0].id
    r003 = service.list_flags(db_session, service.FlagFilters(indicator="R003"), None, 1000).flags
    assert r003 and all(f.code == "R003" and f.status is FlagStatus.FLAGGED for f in r003)
    buyer = r003[0].buyer
    by_buyer = service.list_flags(db_session, service.FlagFilters(buyer=buyer, status="any"), None, 1000).flags
    assert by_buyer and all(f.buyer == buyer for f in by_buyer)
    insufficient = service.list_flags(db_session, service.FlagFilters(status="insufficient_data"), None, 10).flags
    assert insufficient and all(f.status is FlagStatus.INSUFFICIENT_DATA for f in insufficient)
    catalogue = {entry["code"]: entry for entry in service.catalogue(db_session)}
    assert catalogue["R028"]["coverage"]["statuses"]["insufficient_data"] > 0
    assert service.buyer_composite(db_session, buyer)["processes"] > 0
