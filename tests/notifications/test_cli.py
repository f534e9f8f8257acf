"""``bos notifications``: a test mail through the real SMTP server; requeueing failed messages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bos.notifications import service
from bos.notifications.cli import notifications
from bos.notifications.models import Alert, Channel, Delivery, DeliveryStatus, EventType


def test_test_mail_reaches_the_server(mail_app, runner, smtp_server):
    result = runner.invoke(notifications, ["test-mail", "ops@bos.test"])
    assert result.exit_code == 0, result.output
    assert [m["To"] for m in smtp_server.messages] == ["ops@bos.test"]


def test_test_mail_reports_a_server_that_is_down(mail_app, runner, smtp_server):
    smtp_server.stop()
    result = runner.invoke(notifications, ["test-mail", "ops@bos.test"])
    assert result.exit_code == 1 and "SMTP" in result.output


def test_retry_failed_requeues(mail_app, runner, db_session, users):
    with mail_app.test_request_context():
        subscription = service.create_subscription(db_session, users["monitor"], {"name": "x"}).subscription
    now = dt.datetime.now(dt.UTC)
    alert = Alert(
        subscription_id=subscription.id, user_id=subscription.user_id, event_type=EventType.FLAG, event_id=1,
        ocid="o", change="raised", title="t", url="http://x/", event_at=now,
    )  # fmt: skip
    db_session.add(alert)
    db_session.flush()
    db_session.add(
        Delivery(
            subscription_id=subscription.id, alert_id=alert.id, channel=Channel.EMAIL, recipient="m@bos.test",
            body="b", status=DeliveryStatus.FAILED, attempts=3, next_attempt_at=now,
        )
    )  # fmt: skip
    db_session.commit()
    assert "would requeue 1" in runner.invoke(notifications, ["retry-failed", "--dry-run"]).output
    assert "requeued 1" in runner.invoke(notifications, ["retry-failed"]).output
    db_session.expire_all()
    assert db_session.scalars(select(Delivery.status)).all() == [DeliveryStatus.PENDING]
