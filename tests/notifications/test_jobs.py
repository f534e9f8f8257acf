"""The three jobs end to end: the red-flag job raises a flag, the monitor gets it by mail (a real SMTP server),
webhook (a real HTTP receiver), inbox and Atom feed exactly once; outages lose nothing."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import orjson
import pytest
from sqlalchemy import func, select

from bos.notifications import service
from bos.notifications.models import Alert, Delivery, DeliveryStatus, Digest, EventCursor
from bos.scheduler import registered_jobs, run_job

ATOM = "{http://www.w3.org/2005/Atom}"


def run(app, name, now):
    result = run_job(app, registered_jobs()[name], now=now)
    assert result is not None and result.status == "succeeded", result and result.error
    return orjson.loads(result.stats)


def run_all(app, now):
    run(app, "evaluate_dirty_records", now)
    run(app, "match_new_events", now)
    run(app, "deliver_pending_messages", now)


def subscribe(app, db_session, user, **data):
    with app.test_request_context():
        created = service.create_subscription(db_session, user, {"name": "watch", **data})
    db_session.commit()
    return created


def count(db_session, model, *where):
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


def test_flag_raised_by_the_job_reaches_mail_webhook_inbox_and_feed_exactly_once(
    mail_app, client, as_user, db_session, users, process_at, clock, smtp_server, receiver
):
    created = subscribe(mail_app, db_session, users["monitor"], indicators=["R018"], webhook_url=receiver.url)
    receiver.secret = created.subscription.webhook_secret
    ns = process_at("awarded")  # one bid on an open tender: R018 (single bid) is raised

    run_all(mail_app, clock.now)
    for _ in range(2):  # re-runs never send again
        run_all(mail_app, clock.now + dt.timedelta(minutes=5))

    alerts = db_session.scalars(select(Alert)).all()
    assert [(a.indicator, a.change, a.ocid) for a in alerts] == [("R018", "raised", ns.process.ocid)]

    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail["To"] == "monitor@bos.test"
    assert "R018" in mail["Subject"]
    assert f"http://bos.test/processes/{ns.process.id}" in mail.get_content()

    assert len(receiver.calls) == 1
    call = receiver.calls[0]
    assert call["valid"] is True
    payload = orjson.loads(call["body"])
    assert payload["alert"]["event"] == "flag.raised"
    assert payload["alert"]["indicator"] == "R018"
    assert payload["alert"]["ocid"] == ns.process.ocid

    inbox = as_user("monitor").get("/api/v1/subscriptions/inbox").get_json()
    assert inbox["unread"] == 1 and [a["indicator"] for a in inbox["alerts"]] == ["R018"]

    feed = client.get(f"/feeds/subscriptions/{created.feed_token}.atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    entries = ET.fromstring(feed.data).findall(f"{ATOM}entry")  # noqa: S314 - our own feed
    assert len(entries) == 1
    assert "R018" in entries[0].findtext(f"{ATOM}title")

    statuses = db_session.scalars(select(Delivery.status)).all()
    assert sorted(statuses) == [DeliveryStatus.SENT, DeliveryStatus.SENT]


# WeasyPrint warns on import where the system lacks HarfBuzz-Subset; that is the host's fonts, not our code.
@pytest.mark.filterwarnings("ignore:HarfBuzz-Subset:DeprecationWarning")
def test_weekly_digest_mails_the_watchdog_report_once_per_week(
    mail_app, db_session, users, process_at, clock, smtp_server
):
    subscribe(mail_app, db_session, users["monitor"], indicators=["R018"], delivery="weekly")
    process_at("awarded")
    run_all(mail_app, clock.now)
    assert count(db_session, Alert) == 1
    assert smtp_server.messages == []  # a digest subscription waits for its digest

    later = clock.now + dt.timedelta(days=7)
    stats = run(mail_app, "send_digests", later)
    assert stats == {"digests": 1, "errors": 0}
    run(mail_app, "send_digests", later + dt.timedelta(days=1))  # same week: nothing more
    run(mail_app, "deliver_pending_messages", later)
    run(mail_app, "deliver_pending_messages", later + dt.timedelta(days=1))

    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert "R018" in mail.get_body(preferencelist=("plain",)).get_content()
    attachments = list(mail.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_filename().endswith(".pdf")
    assert attachments[0].get_content().startswith(b"%PDF")
    digest = db_session.scalars(select(Digest)).one()
    assert digest.alert_count == 1 and digest.report_id is not None


def test_smtp_outage_loses_nothing(mail_app, db_session, users, parties, process_at, clock, smtp_server):
    subscribe(mail_app, db_session, users["monitor"], events="changes", buyer_id=parties.buyer.id)
    process_at("planned")
    now = clock.now
    run(mail_app, "match_new_events", now)
    queued = count(db_session, Delivery)
    assert queued >= 1

    smtp_server.stop()
    stats = run(mail_app, "deliver_pending_messages", now)
    assert stats == {"sent": 0, "retrying": queued, "failed": 0}
    pending = db_session.scalars(select(Delivery)).all()
    assert {(d.status, d.attempts) for d in pending} == {(DeliveryStatus.PENDING, 1)}
    assert all("SMTP" in d.last_error and d.next_attempt_at == now + dt.timedelta(seconds=60) for d in pending)

    assert run(mail_app, "deliver_pending_messages", now + dt.timedelta(seconds=30))["sent"] == 0  # not due yet

    smtp_server.start()
    assert run(mail_app, "deliver_pending_messages", now + dt.timedelta(seconds=61))["sent"] == queued
    run(mail_app, "deliver_pending_messages", now + dt.timedelta(hours=1))
    assert len(smtp_server.messages) == queued
    assert count(db_session, Delivery, Delivery.status == DeliveryStatus.SENT) == queued
    assert len({m["Message-ID"] for m in smtp_server.messages}) == queued


def test_after_the_last_attempt_a_message_is_failed_visible_and_can_be_retried(
    mail_app, as_user, db_session, users, parties, process_at, clock, smtp_server
):
    created = subscribe(mail_app, db_session, users["monitor"], events="changes", buyer_id=parties.buyer.id)
    process_at("planned")
    ns_now = clock.now
    run(mail_app, "match_new_events", ns_now)
    smtp_server.stop()
    for minutes in (0, 1, 3):  # attempts at t, t+60s, t+180s (backoff 60 s, then 120 s)
        run(mail_app, "deliver_pending_messages", ns_now + dt.timedelta(minutes=minutes))
    failed = as_user("monitor").get("/api/v1/subscriptions/deliveries?status=failed").get_json()
    assert failed and all(d["attempts"] == 3 and d["last_error"] for d in failed)
    assert failed[0]["subscription_id"] == created.subscription.id

    smtp_server.start()
    run(mail_app, "deliver_pending_messages", ns_now + dt.timedelta(days=1))
    assert smtp_server.messages == []  # failed stays failed until the monitor asks again

    for delivery in failed:
        response = as_user("monitor").post(f"/api/v1/subscriptions/deliveries/{delivery['id']}/retry")
        assert response.status_code == 200 and response.get_json()["status"] == "pending"
    clock.advance(days=2)
    run(mail_app, "deliver_pending_messages", clock.now + dt.timedelta(days=2))
    assert len(smtp_server.messages) == len(failed)


def test_webhook_receiver_down_then_back_gets_each_alert_once(
    mail_app, db_session, users, parties, process_at, clock, receiver
):
    created = subscribe(
        mail_app, db_session, users["monitor"], events="changes", buyer_id=parties.buyer.id, email_enabled=False,
        webhook_url=receiver.url,
    )  # fmt: skip
    receiver.secret = created.subscription.webhook_secret
    process_at("planned")
    now = clock.now
    run(mail_app, "match_new_events", now)
    queued = count(db_session, Delivery)

    receiver.stop()
    assert run(mail_app, "deliver_pending_messages", now)["retrying"] == queued
    receiver.start()
    assert run(mail_app, "deliver_pending_messages", now + dt.timedelta(minutes=1))["sent"] == queued
    run(mail_app, "deliver_pending_messages", now + dt.timedelta(minutes=10))
    assert len(receiver.calls) == queued
    assert all(call["valid"] for call in receiver.calls)
    assert len({call["headers"]["X-BOS-Delivery"] for call in receiver.calls}) == queued


def test_webhook_error_status_is_retried(mail_app, db_session, users, parties, process_at, clock, receiver):
    subscribe(
        mail_app, db_session, users["monitor"], events="changes", buyer_id=parties.buyer.id, email_enabled=False,
        webhook_url=receiver.url,
    )  # fmt: skip
    receiver.secret = "not the secret"  # every signature check fails: the receiver answers 401
    process_at("planned")
    run(mail_app, "match_new_events", clock.now)
    run(mail_app, "deliver_pending_messages", clock.now)
    delivery = db_session.scalars(select(Delivery)).first()
    assert delivery.status is DeliveryStatus.PENDING and delivery.last_error.startswith("HTTP 401")


def test_rewound_cursor_never_alerts_twice(mail_app, db_session, users, parties, process_at, clock, smtp_server):
    subscribe(mail_app, db_session, users["monitor"], events="changes", buyer_id=parties.buyer.id)
    process_at("planned")
    run(mail_app, "match_new_events", clock.now)
    alerts = count(db_session, Alert)
    assert alerts >= 1
    # A crash between sending and recording, or an operator resetting the cursor: the same events come again.
    cursor = db_session.get(EventCursor, "releases")
    cursor.last_id = 0
    db_session.commit()
    run(mail_app, "match_new_events", clock.now + dt.timedelta(minutes=1))
    assert count(db_session, Alert) == alerts
    assert count(db_session, Delivery) == alerts


@pytest.mark.parametrize("mode", ["daily", "weekly"])
def test_digest_without_alerts_sends_nothing(mail_app, db_session, users, mode, smtp_server):
    subscribe(mail_app, db_session, users["monitor"], delivery=mode)
    now = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)
    assert run(mail_app, "send_digests", now) == {"digests": 0, "errors": 0}
    assert count(db_session, Digest) == 0


def test_flag_on_an_organisation_is_alerted_without_a_process(mail_app, db_session, users, process_at, clock):
    subscribe(mail_app, db_session, users["monitor"])  # no filter: every flag
    ns = process_at("awarded")
    run(mail_app, "evaluate_dirty_records", clock.now)
    run(mail_app, "match_new_events", clock.now)
    alerts = {a.indicator: a for a in db_session.scalars(select(Alert))}
    assert {"R018", "R025"} <= set(alerts)
    assert alerts["R018"].ocid == ns.process.ocid
    tenderer = alerts["R025"]  # a tenderer-grain flag: about the supplier, not one process
    assert tenderer.ocid is None and tenderer.title.startswith("ID-NPWP-")
