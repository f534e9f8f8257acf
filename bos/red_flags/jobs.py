"""Scheduled red-flag runs: every minute the dirty processes, every night everything (RED_FLAGS.md section 5).

Both take the engine's own lease (``red-flags-engine``) besides their scheduler lease, so an incremental run, a
nightly run and ``bos red-flags run`` never overlap. Each run is recorded in ``job_runs`` by the scheduler (start,
end, status, error) with the stats returned here (processes evaluated, flags raised and cleared, errors).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from bos.red_flags import engine
from bos.scheduler import job

INCREMENTAL_LEASE_SECONDS = 300
FULL_LEASE_SECONDS = 3 * 3600
BATCH = 5000


def _overrides() -> dict[str, Any] | None:
    return current_app.config.get("RED_FLAGS_SETTINGS") if has_app_context() else None


def _workers() -> int:
    """Worker processes for the full run (setting ``RED_FLAGS_WORKERS``); the incremental run stays in-process."""
    configured = current_app.config.get("RED_FLAGS_WORKERS") if has_app_context() else None
    return int(configured) if configured is not None else min(2, os.cpu_count() or 1)


@job("evaluate_dirty_records", "interval", lease_seconds=INCREMENTAL_LEASE_SECONDS, minutes=1)
def evaluate_dirty_records(
    session: Session, now: dt.datetime, progress: engine.Progress | None = None, limit: int | None = BATCH
) -> dict:
    """Re-evaluate the processes whose compiled release changed (marked when a release is stored).

    At most ``limit`` per run (oldest first), so a large import is worked off over several ticks, each its own unit."""
    with engine.engine_lock(session, now, INCREMENTAL_LEASE_SECONDS) as held:
        if not held:
            return {"skipped": "another red-flag run holds the engine lease"}
        stats = engine.evaluate_dirty(session, now, limit=limit, overrides=_overrides(), progress=progress)
        return stats.as_dict()


@job("evaluate_all_records", "cron", lease_seconds=FULL_LEASE_SECONDS, hour=1)
def evaluate_all_records(session: Session, now: dt.datetime, progress: engine.Progress | None = None) -> dict:
    """Nightly: rebuild peer statistics from the measures and re-evaluate every process that is not frozen."""
    with engine.engine_lock(session, now, FULL_LEASE_SECONDS) as held:
        if not held:
            return {"skipped": "another red-flag run holds the engine lease"}
        stats = engine.evaluate_all(session, now, overrides=_overrides(), progress=progress, workers=_workers())
        return stats.as_dict()
