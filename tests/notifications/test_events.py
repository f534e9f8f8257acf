"""Reading releases by id: late commits below the high-water mark, history before a subscription, regions."""

from __future__ import annotations

import datetime as dt

import orjson
from sqlalchemy import func, select

from bos.notifications import events, service
from bos.notifications.models import Alert, EventCursor
from bos.ocds.models import Record, Release
from bos.parties.models import Organisation, Region

NOW = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)


def subscribe(app, db_session, user, **data):
    with app.test_request_context():
        created = service.create_subscription(db_session, user, {"name": "watch", **data})
    db_session.commit()
    return created.subscription


def copy_release(db_session, source: Release, release_id: int, suffix: str) -> None:
    db_session.add(
        Release(
            id=release_id,
            ocid=source.ocid,
            release_id=f"{source.release_id}-{suffix}",
            date=source.date,
            tags=source.tags,
            buyer_identifier=source.buyer_identifier,
            source=source.source,
            json=source.json,
            sha256=source.sha256,
        )
    )
    db_session.commit()


def alerts(db_session):
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(Alert))


def test_release_committed_late_below_the_mark_is_still_alerted(app, db_session, users, seeded):
    """PostgreSQL hands out ids at insert, so id n can commit after id n+1 was read: the gap is re-checked."""
    some = db_session.scalars(select(Release).order_by(Release.id)).first()
    subscribe(app, db_session, users["monitor"], events="changes", ocid=some.ocid)
    top = db_session.scalar(select(func.max(Release.id)))
    copy_release(db_session, some, top + 2, "b")  # committed first, with the higher id
    with app.app_context():
        events.match_new_events(db_session, NOW)
    assert alerts(db_session) == 1
    cursor = db_session.get(EventCursor, "releases")
    assert cursor.last_id == top + 2 and str(top + 1) in orjson.loads(cursor.gaps)

    copy_release(db_session, some, top + 1, "a")  # the slower transaction commits now
    with app.app_context():
        events.match_new_events(db_session, NOW + dt.timedelta(minutes=1))
        assert alerts(db_session) == 2
        events.match_new_events(db_session, NOW + dt.timedelta(minutes=2))
    assert alerts(db_session) == 2
    assert orjson.loads(db_session.get(EventCursor, "releases").gaps) == {}


def test_gap_that_never_fills_is_dropped_after_the_grace_period(app, db_session, users, seeded):
    some = db_session.scalars(select(Release).order_by(Release.id)).first()
    subscribe(app, db_session, users["monitor"], events="changes", ocid=some.ocid)
    top = db_session.scalar(select(func.max(Release.id)))
    copy_release(db_session, some, top + 3, "c")
    with app.app_context():
        events.match_new_events(db_session, NOW)
        assert len(orjson.loads(db_session.get(EventCursor, "releases").gaps)) == 2
        events.match_new_events(db_session, NOW + dt.timedelta(hours=1))  # a rolled-back insert: gone for good
    assert orjson.loads(db_session.get(EventCursor, "releases").gaps) == {}


def test_new_subscription_gets_no_history(app, db_session, users, seeded):
    subscribe(app, db_session, users["monitor"], events="all")
    with app.app_context():
        stats = events.match_new_events(db_session, NOW)
    assert stats["releases"]["alerts"] == 0
    assert alerts(db_session) == 0


def test_region_filter_follows_the_parent_chain(app, db_session, users, seeded):
    record = db_session.scalars(select(Record).order_by(Record.id)).first()
    buyer_id = orjson.loads(record.compiled)["buyer"]["id"]
    buyer = db_session.scalars(
        select(Organisation).where((Organisation.identifier_scheme + "-" + Organisation.identifier_id) == buyer_id)
    ).one()
    chain = []
    region_id = buyer.region_id
    while region_id is not None:
        chain.append(region_id)
        region_id = db_session.get(Region, region_id).parent_id
    top = chain[-1]
    outside = db_session.scalars(select(Region.id).where(Region.id.not_in(chain))).first()
    subscribe(app, db_session, users["monitor"], events="changes", region_id=top)
    subscribe(app, db_session, users["monitor"], events="changes", region_id=outside)
    latest = db_session.scalars(select(Release).where(Release.ocid == record.ocid).order_by(Release.id)).first()
    copy_release(db_session, latest, db_session.scalar(select(func.max(Release.id))) + 1, "r")
    with app.app_context():
        events.match_new_events(db_session, NOW)
    matched = db_session.scalars(select(Alert)).all()
    assert [a.subscription.region_id for a in matched] == [top]
