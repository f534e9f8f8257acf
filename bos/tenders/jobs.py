"""Scheduled steps of the tenders domain. Each is idempotent and takes ``now``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bos.enums import ProcessStage
from bos.scheduler import job
from bos.tenders.models import Process, Tender


@job("close_expired_tenders", "interval", minutes=1, lease_seconds=300)
def close_expired_tenders(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Move open processes whose submission period has ended to the closed stage."""
    expired = select(Tender.process_id).where(Tender.tender_period_end <= now)
    result = session.execute(
        update(Process)
        .where(Process.stage == ProcessStage.OPEN, Process.id.in_(expired))
        .values(stage=ProcessStage.CLOSED, updated_at=now, version_id=Process.version_id + 1)
        .execution_options(synchronize_session=False)
    )
    return {"closed": result.rowcount}
