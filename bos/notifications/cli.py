"""``bos notifications …``: check the mail settings, and requeue messages that failed during a long outage."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from bos.db import new_session, utcnow
from bos.notifications.delivery import DeliveryError, Mailer
from bos.notifications.models import Delivery, DeliveryStatus


@click.group("notifications")
def notifications() -> None:
    """Alerts: mail settings and the outbox."""


@notifications.command("test-mail")
@click.argument("recipient")
@with_appcontext
def test_mail_command(recipient: str) -> None:
    """Send one test message now with the BOS_SMTP_* settings (not through the outbox)."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = recipient
    message["Subject"] = "[BOS] test"
    message.set_content("BOS can send mail with these settings.")
    mailer = Mailer()
    try:
        mailer.send(message)
    except DeliveryError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        mailer.close()
    click.echo(f"sent to {recipient} via {current_app.config['SMTP_HOST']}:{current_app.config['SMTP_PORT']}")


@notifications.command("retry-failed")
@click.option("--since-hours", type=int, default=72, show_default=True, help="Only messages created this recently.")
@click.option("--dry-run", is_flag=True, help="Count, change nothing.")
@with_appcontext
def retry_failed_command(since_hours: int, dry_run: bool) -> None:
    """Queue failed messages again with fresh attempts (after an outage longer than the retry schedule)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    now = utcnow()
    with new_session(app) as session:
        failed = session.scalars(
            select(Delivery).where(
                Delivery.status == DeliveryStatus.FAILED, Delivery.created_at >= now - dt.timedelta(hours=since_hours)
            )
        ).all()
        if not dry_run:
            for delivery in failed:
                delivery.status = DeliveryStatus.PENDING
                delivery.attempts = 0
                delivery.next_attempt_at = now
            session.commit()
    click.echo(f"{'would requeue' if dry_run else 'requeued'} {len(failed)} failed messages")


commands = [notifications]
