"""The outbox: messages are written with their alert or digest, and sent later by ``deliver_pending_messages``.

A message that cannot be sent (SMTP server down, webhook refusing) stays in the database and is retried with
exponential backoff; after ``NOTIFY_MAX_ATTEMPTS`` it is marked failed, which the monitor sees. Sending commits
one message at a time, so a crash resends at most the message being sent; receivers can deduplicate on the stable
``Message-ID`` (mail) or ``X-BOS-Delivery`` (webhooks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import smtplib
import socket
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.notifications.models import (
    Alert,
    Channel,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    Digest,
    EventType,
    Subscription,
)

log = logging.getLogger(__name__)

BATCH = 200
USER_AGENT = "BOS-webhooks/1"


class DeliveryError(Exception):
    """One attempt failed; the message is retried unless it was the last attempt."""


def _config(name: str, default: Any) -> Any:
    return current_app.config.get(name, default) if has_app_context() else default


def _language() -> str:
    return str(_config("LOCALE", "id"))


# ------------------------------------------------------------------------------------------------------ content


def render_text(template: str, **context: Any) -> str:
    """A plain-text template, without the page context processors: jobs render outside any request."""
    from bos.i18n import local_time  # noqa: PLC0415

    return current_app.jinja_env.get_template(template).render(local_time=local_time, **context)


def indicator_name(code: str | None) -> str:
    from bos.red_flags.indicators import REGISTRY  # noqa: PLC0415

    indicator = REGISTRY.get(code or "")
    if indicator is None:
        return code or ""
    return indicator.name_id if _language() == "id" else indicator.name_en


def alert_headline(alert: Alert) -> str:
    if alert.event_type is EventType.FLAG:
        name = indicator_name(alert.indicator)
        if alert.change == "cleared":
            return _("Red flag cleared: %(code)s %(name)s", code=alert.indicator or "", name=name)
        return _("Red flag raised: %(code)s %(name)s", code=alert.indicator or "", name=name)
    return _("Process updated (%(tags)s)", tags=alert.change)


def alert_subject(alert: Alert) -> str:
    return f"[BOS] {alert_headline(alert)} · {alert.title}"[:500]


def _detail(alert: Alert) -> dict[str, Any]:
    return orjson.loads(alert.detail) if alert.detail else {}


def webhook_body(subscription: Subscription, alert: Alert) -> str:
    """The JSON posted for one alert: stable field names, codes rather than translated text."""
    event = f"flag.{alert.change}" if alert.event_type is EventType.FLAG else "process.changed"
    body = {
        "type": "alert",
        "subscription": {"id": subscription.id, "name": subscription.name},
        "alert": {
            "id": alert.id,
            "event": event,
            "event_id": alert.event_id,
            "ocid": alert.ocid,
            "indicator": alert.indicator,
            "change": alert.change,
            "title": alert.title,
            "url": alert.url,
            "event_at": alert.event_at.isoformat(),
            "created_at": alert.created_at.isoformat(),
            "detail": _detail(alert),
        },
    }
    return orjson.dumps(body, default=str).decode()


def queue_alert(session: Session, subscription: Subscription, alert: Alert, now: dt.datetime) -> list[Delivery]:
    """Outbox rows of a new alert: mail now for immediate subscriptions (digests mail later), webhooks always now.

    Webhooks skip the digest: a receiving system aggregates for itself, and a day's delay helps nobody.
    """
    rows = []
    if subscription.email_enabled and subscription.delivery is DeliveryMode.IMMEDIATE and subscription.user.email:
        with force_locale(_language()):
            body = render_text(
                "notifications/email/alert.txt",
                alert=alert,
                subscription=subscription,
                headline=alert_headline(alert),
                detail=_detail(alert),
            )
            subject = alert_subject(alert)
        rows.append(
            Delivery(
                subscription_id=subscription.id,
                alert_id=alert.id,
                channel=Channel.EMAIL,
                recipient=subscription.user.email,
                subject=subject,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    if subscription.webhook_url:
        rows.append(
            Delivery(
                subscription_id=subscription.id,
                alert_id=alert.id,
                channel=Channel.WEBHOOK,
                recipient=subscription.webhook_url,
                body=webhook_body(subscription, alert),
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def queue_digest(
    session: Session, subscription: Subscription, digest: Digest, alerts: Sequence[Alert], now: dt.datetime
) -> Delivery:
    from bos.i18n import local_time  # noqa: PLC0415

    with force_locale(_language()):
        period = f"{local_time(digest.period_start, '%d-%m-%Y')} – {local_time(digest.period_end, '%d-%m-%Y')}"
        subject = (
            _("[BOS] Weekly digest: %(name)s, %(count)s alerts", name=subscription.name, count=len(alerts))
            if digest.mode is DeliveryMode.WEEKLY
            else _("[BOS] Daily digest: %(name)s, %(count)s alerts", name=subscription.name, count=len(alerts))
        )
        body = render_text(
            "notifications/email/digest.txt",
            subscription=subscription,
            digest=digest,
            period=period,
            items=[(alert, alert_headline(alert)) for alert in alerts],
        )
    row = Delivery(
        subscription_id=subscription.id,
        digest_id=digest.id,
        channel=Channel.EMAIL,
        recipient=subscription.user.email,
        subject=subject[:500],
        body=body,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


# ------------------------------------------------------------------------------------------------------ sending


def sign(secret: str, timestamp: str, body: str) -> str:
    """Hex HMAC-SHA256 over ``"{timestamp}.{body}"``: the timestamp is signed, so a captured call cannot be
    replayed later with a fresh timestamp."""
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def _check_resolved_host(url: str) -> None:
    if _config("WEBHOOK_ALLOW_PRIVATE", False):
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise DeliveryError(f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_global:
            raise DeliveryError(f"{host} resolves to a private address; webhooks go to public addresses only")


def send_webhook(delivery: Delivery, now: dt.datetime) -> None:
    subscription = delivery.subscription
    if not subscription.webhook_secret:
        raise DeliveryError("the subscription has no webhook secret any more")
    _check_resolved_host(delivery.recipient)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-BOS-Delivery": str(delivery.id),
        "X-BOS-Timestamp": timestamp,
        "X-BOS-Signature": sign(subscription.webhook_secret, timestamp, delivery.body),
    }
    try:
        # No redirects: a redirect could lead to an address the check above would refuse.
        response = requests.post(
            delivery.recipient,
            data=delivery.body.encode(),
            headers=headers,
            timeout=float(_config("WEBHOOK_TIMEOUT", 10)),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")


class Mailer:
    """One SMTP connection for a run's mail, opened on first use."""

    def __init__(self) -> None:
        self.connection: smtplib.SMTP | None = None
        self.down: str | None = None  # why the server could not be reached in this run

    def _connect(self) -> smtplib.SMTP:
        host = str(_config("SMTP_HOST", "127.0.0.1"))
        port = int(_config("SMTP_PORT", 25))
        connection = smtplib.SMTP(host, port, timeout=float(_config("SMTP_TIMEOUT", 30)))
        if _config("SMTP_STARTTLS", False):
            connection.starttls()
        user = _config("SMTP_USER", None)
        if user:
            connection.login(str(user), str(_config("SMTP_PASSWORD", "")))
        return connection

    def send(self, message: EmailMessage) -> None:
        if self.down:
            # Same run, same outage: count the attempt without waiting on the server again.
            raise DeliveryError(self.down)
        try:
            if self.connection is None:
                self.connection = self._connect()
            self.connection.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self.connection = None
            try:
                self.connection = self._connect()
                self.connection.send_message(message)
            except (smtplib.SMTPException, OSError) as exc:
                self.down = f"SMTP: {type(exc).__name__}: {exc}"
                raise DeliveryError(self.down) from exc
        except (smtplib.SMTPConnectError, ConnectionError, TimeoutError, socket.gaierror) as exc:
            self.down = f"SMTP: {type(exc).__name__}: {exc}"
            raise DeliveryError(self.down) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                log.info("SMTP connection closed uncleanly")
            self.connection = None


def build_email(delivery: Delivery, now: dt.datetime) -> EmailMessage:
    sender = str(_config("MAIL_FROM", "bos@localhost"))
    message = EmailMessage()
    message["From"] = sender
    message["To"] = delivery.recipient
    message["Subject"] = delivery.subject or "BOS"
    message["Date"] = format_datetime(now)
    # Stable across retries, so a mail server or client drops a copy re-sent after a crash.
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<bos-delivery-{delivery.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(delivery.body)
    digest = delivery.digest
    if digest is not None and digest.attachment:
        message.add_attachment(
            bytes(digest.attachment),
            maintype="application",
            subtype="pdf",
            filename=digest.attachment_name or "report.pdf",
        )
    return message


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff after ``attempts`` failed tries: base, 2 base, 4 base ... capped."""
    base = float(_config("NOTIFY_RETRY_SECONDS", 60))
    cap = float(_config("NOTIFY_RETRY_MAX_SECONDS", 6 * 3600))
    return dt.timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def drain_outbox(
    session: Session,
    due: Sequence[Any],
    send: Callable[[Any, Mailer], None],
    now: dt.datetime,
    statuses: tuple[Any, Any],
    on_sent: Callable[[Any], None] | None = None,
    label: str = "message",
) -> dict[str, int]:
    """Try each due outbox row once, one commit per row; the shared retry policy of every BOS outbox.

    ``statuses`` is (sent, failed) of the row's own enum. A failed try is retried after ``retry_delay`` until
    ``NOTIFY_MAX_ATTEMPTS``, then the row is marked failed (and stays visible); nothing is ever dropped.
    """
    sent_status, failed_status = statuses
    max_attempts = int(_config("NOTIFY_MAX_ATTEMPTS", 8))
    stats = {"sent": 0, "retrying": 0, "failed": 0}
    mailer = Mailer()
    try:
        for row in due:
            row.attempts += 1
            try:
                send(row, mailer)
            except DeliveryError as exc:
                row.last_error = str(exc)[:2000]
                if row.attempts >= max_attempts:
                    row.status = failed_status
                    stats["failed"] += 1
                    log.warning("%s %s failed for good: %s", label, row.id, exc)
                else:
                    row.next_attempt_at = now + retry_delay(row.attempts)
                    stats["retrying"] += 1
            else:
                row.status = sent_status
                row.sent_at = now
                row.last_error = None
                if on_sent is not None:
                    on_sent(row)
                stats["sent"] += 1
            session.commit()
    finally:
        mailer.close()
    return stats


def deliver_due(session: Session, now: dt.datetime, limit: int = BATCH) -> dict[str, int]:
    """Send the messages that are due, one commit per message."""
    due = list(
        session.scalars(
            select(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        )
    )

    def send(delivery: Delivery, mailer: Mailer) -> None:
        if delivery.channel is Channel.EMAIL:
            mailer.send(build_email(delivery, now))
        else:
            send_webhook(delivery, now)

    return drain_outbox(session, due, send, now, (DeliveryStatus.SENT, DeliveryStatus.FAILED), label="delivery")
