"""Scheduled steps of the notifications domain. Each is idempotent and takes ``now``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from bos.notifications import delivery, digests, events
from bos.scheduler import job


@job("match_new_events", "interval", minutes=1, lease_seconds=600)
def match_new_events(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Turn new releases and red-flag events into alerts (one per subscription and event) and outbox rows."""
    return events.match_new_events(session, now)


@job("deliver_pending_messages", "interval", minutes=1, lease_seconds=600)
def deliver_pending_messages(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Send due outbox rows by mail and webhook; failures are retried with backoff, then marked failed."""
    return delivery.deliver_due(session, now)


# 23:30 UTC is 06:30 WIB: yesterday's digest (and on Mondays last week's) is in the mailbox in the morning.
@job("send_digests", "cron", hour=23, minute=30, lease_seconds=1800)
def send_digests(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Queue the daily and weekly digests of the last complete period (at most one per subscription and period)."""
    return digests.send_digests(session, now)
