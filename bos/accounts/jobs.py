"""Scheduled steps of the accounts domain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from bos.accounts import mail
from bos.scheduler import job


@job("deliver_account_messages", "interval", minutes=1, lease_seconds=600)
def deliver_account_messages(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Send pending verification and invitation mail; failures are retried with backoff, then marked failed."""
    return mail.deliver_due(session, now)
