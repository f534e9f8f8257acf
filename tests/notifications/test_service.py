"""Subscription rules: who may subscribe, what is valid, feed tokens, the inbox."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bos.exceptions import Invalid, NotAllowed, NotFound
from bos.notifications import service
from bos.notifications.models import Alert, EventScope, EventType, Subscription

NOW = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield app


def make(db_session, user, **data):
    return service.create_subscription(db_session, user, {"name": "watch", **data})


@pytest.mark.parametrize("role", ["officer", "contractor"])
def test_only_monitors_and_admins_keep_subscriptions(ctx, db_session, users, role):
    with pytest.raises(NotAllowed):
        make(db_session, users[role])
    with pytest.raises(NotAllowed):
        service.list_subscriptions(db_session, users[role])
    assert make(db_session, users["admin"]).subscription.user_id == users["admin"].id
    with pytest.raises(NotAllowed):
        make(db_session, None)


def test_a_user_sees_only_their_own(ctx, db_session, users):
    mine = make(db_session, users["monitor"]).subscription
    with pytest.raises(NotFound):
        service.get_subscription(db_session, users["admin"], mine.id)
    with pytest.raises(NotFound):
        service.delete_subscription(db_session, users["admin"], mine.id)
    assert service.list_subscriptions(db_session, users["admin"]) == []
    assert service.list_subscriptions(db_session, users["monitor"]) == [mine]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"indicators": ["R999"]}, "indicators"),
        ({"buyer_id": 999_999}, "buyer_id"),
        ({"region_id": 999_999}, "region_id"),
        ({"ocid": "ocds-nothing-here"}, "ocid"),
        ({"webhook_url": "ftp://example.org/hook"}, "webhook_url"),
        ({"webhook_url": "http://127.0.0.1:8080/hook"}, "webhook_url"),  # SSRF: private addresses refused
        ({"webhook_url": "http://10.1.2.3/hook"}, "webhook_url"),
        ({"webhook_url": "http://localhost/hook"}, "webhook_url"),
        ({"name": "  "}, "name"),
    ],
)
def test_invalid_subscription_is_refused_with_field_errors(ctx, db_session, users, data, field):
    with pytest.raises(Invalid) as caught:
        make(db_session, users["monitor"], **data)
    assert field in caught.value.errors
    assert db_session.scalars(select(Subscription)).all() == []


def test_supplier_is_not_a_buyer(ctx, db_session, users, parties):
    with pytest.raises(Invalid):
        make(db_session, users["monitor"], buyer_id=parties.supplier.id)


def test_defaults_follow_flags_or_the_whole_process(ctx, db_session, users, process_at):
    ns = process_at("planned")
    assert make(db_session, users["monitor"]).subscription.events is EventScope.FLAGS
    followed = make(db_session, users["monitor"], ocid=ns.process.ocid).subscription
    assert followed.events is EventScope.ALL
    assert followed.start_release_id > 0  # only releases after this moment


def test_indicator_codes_are_normalised(ctx, db_session, users):
    subscription = make(db_session, users["monitor"], indicators=["r024", "R018", "R018"]).subscription
    assert subscription.indicator_codes == ["R018", "R024"]


def test_feed_token_is_stored_hashed_and_can_be_rotated_and_revoked(ctx, db_session, users):
    created = make(db_session, users["monitor"])
    token = created.feed_token
    assert created.subscription.feed_token_hash != token and token not in created.subscription.feed_token_hash
    assert service.subscription_for_feed_token(db_session, token) is created.subscription

    new = service.rotate_feed_token(db_session, users["monitor"], created.subscription.id)
    assert service.subscription_for_feed_token(db_session, token) is None
    assert service.subscription_for_feed_token(db_session, new) is created.subscription

    service.revoke_feed_token(db_session, users["monitor"], created.subscription.id)
    assert service.subscription_for_feed_token(db_session, new) is None


def test_feed_stops_when_the_owner_is_deactivated(ctx, db_session, users):
    created = make(db_session, users["monitor"])
    users["monitor"].is_active = False
    db_session.flush()
    assert service.subscription_for_feed_token(db_session, created.feed_token) is None


def test_webhook_secret_exists_only_with_a_webhook(ctx, app, db_session, users):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    subscription = make(db_session, users["monitor"], webhook_url="http://127.0.0.1:9/hook").subscription
    assert len(subscription.webhook_secret) == 64
    service.update_subscription(db_session, users["monitor"], subscription.id, {"webhook_url": None})
    assert subscription.webhook_secret is None
    with pytest.raises(Invalid):
        service.rotate_webhook_secret(db_session, users["monitor"], subscription.id)


def test_update_changes_only_the_fields_given(ctx, db_session, users):
    subscription = make(db_session, users["monitor"], keyword="jalan", delivery="daily").subscription
    service.update_subscription(db_session, users["monitor"], subscription.id, {"keyword": "sekolah"})
    assert (subscription.keyword, subscription.delivery.value) == ("sekolah", "daily")


def test_inbox_read_and_unread(ctx, db_session, users):
    subscription = make(db_session, users["monitor"]).subscription
    for event_id in (1, 2, 3):
        db_session.add(
            Alert(
                subscription_id=subscription.id, user_id=subscription.user_id, event_type=EventType.FLAG,
                event_id=event_id, ocid="ocds-x", change="raised", indicator="R018", title="t", url="http://x/",
                event_at=NOW,
            )
        )  # fmt: skip
    db_session.flush()
    monitor = users["monitor"]
    page = service.list_inbox(db_session, monitor, limit=2)
    assert [a.event_id for a in page.alerts] == [3, 2] and page.unread == 3
    assert [a.event_id for a in service.list_inbox(db_session, monitor, before=page.next_before).alerts] == [1]

    service.mark_read(db_session, monitor, page.alerts[0].id, now=NOW)
    assert service.list_inbox(db_session, monitor, unread_only=True).unread == 2
    with pytest.raises(NotFound):
        service.mark_read(db_session, users["admin"], page.alerts[0].id)
    assert service.mark_all_read(db_session, monitor, now=NOW) == 2
    assert service.unread_count(db_session, monitor.id) == 0
