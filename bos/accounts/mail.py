"""The account mail outbox: verification and invitation messages, written with the account and sent by a job.

Sending reuses the notifications outbox's SMTP connection and backoff (``bos.notifications.delivery``), so both
outboxes behave alike when the mail server is down: the row stays pending and is retried, then marked failed.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.accounts.models import AccountMessage, AccountMessageStatus
from bos.notifications.delivery import drain_outbox, render_text

BATCH = 200
SENT_BODY = "(sent; removed because it held a single-use link)"


def queue_message(
    session: Session, *, recipient: str, template: str, subject: str, now: dt.datetime, user_id: int | None, **context
) -> AccountMessage:
    """Render a plain-text mail now (in the current locale) and store it for the delivery job."""
    row = AccountMessage(
        user_id=user_id,
        recipient=recipient,
        subject=subject[:500],
        body=render_text(template, **context),
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def build_email(row: AccountMessage, now: dt.datetime) -> EmailMessage:
    sender = str(current_app.config.get("MAIL_FROM", "bos@localhost"))
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(now)
    # Stable across retries, like the notifications outbox: a copy re-sent after a crash can be dropped.
    message["Message-ID"] = f"<bos-account-{row.id}@{sender.rpartition('@')[2] or 'localhost'}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body)
    return message


def deliver_due(session: Session, now: dt.datetime, limit: int = BATCH) -> dict[str, int]:
    """Send the account messages that are due, one commit per message (a crash resends at most one)."""
    due = list(
        session.scalars(
            select(AccountMessage)
            .where(AccountMessage.status == AccountMessageStatus.PENDING, AccountMessage.next_attempt_at <= now)
            .order_by(AccountMessage.next_attempt_at, AccountMessage.id)
            .limit(limit)
        )
    )

    def forget_link(row: AccountMessage) -> None:
        # The link is a credential until used; the database keeps only its hash from now on.
        row.body = SENT_BODY

    return drain_outbox(
        session,
        due,
        lambda row, mailer: mailer.send(build_email(row, now)),
        now,
        (AccountMessageStatus.SENT, AccountMessageStatus.FAILED),
        on_sent=forget_link,
        label="account message",
    )
