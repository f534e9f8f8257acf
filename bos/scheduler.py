"""Scheduled jobs: each domain registers its jobs; this module adds app context, a lease lock and a run record.

APScheduler's job stores must never be shared between schedulers, so the "one runner at a time across processes"
guarantee is ours: a lease row claimed by a conditional UPDATE. It works on SQLite and PostgreSQL alike and lapses
when its holder dies, so a killed job is simply re-run by the next tick of any scheduler.

On SQLite a job's transactions take the write lock at BEGIN (``new_session(app, write=True)``): jobs started by the
same tick then run their units one after the other instead of failing. A unit holds the lock for its whole length,
so a long job must commit in units (as the red-flag engine does per chunk); between two units the thread leaves the
lock free for a moment, so web requests waiting for it get their turn (``bos.db.WRITE_LOCK_SHARE``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import String, Text, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bos.db import Base, utcnow

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler
    from flask import Flask

log = logging.getLogger(__name__)

JobFunction = Callable[[Session, dt.datetime], dict[str, Any] | None]


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime]


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    holder: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed
    stats: Mapped[str | None] = mapped_column(Text)  # JSON: what the job did
    error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: JobFunction
    trigger: str  # "interval" or "cron"
    trigger_args: dict[str, Any]
    lease_seconds: int = 900


_REGISTRY: dict[str, JobSpec] = {}


def job(
    name: str, trigger: str, lease_seconds: int = 900, **trigger_args: Any
) -> Callable[[JobFunction], JobFunction]:
    """Declare a scheduled job. ``trigger_args`` go to APScheduler (e.g. ``minutes=1`` or ``hour=1``)."""

    def decorate(function: JobFunction) -> JobFunction:
        _REGISTRY[name] = JobSpec(name, function, trigger, trigger_args, lease_seconds)
        return function

    return decorate


JOB_MODULES = (
    "bos.accounts.jobs",
    "bos.tenders.jobs",
    "bos.contracts.jobs",
    "bos.ocds.jobs",
    "bos.red_flags.jobs",
    "bos.notifications.jobs",
    "bos.reports.jobs",
)


def registered_jobs() -> dict[str, JobSpec]:
    """Every domain's jobs: importing a domain's jobs module fills the registry through ``@job``."""
    from bos import existing_modules  # noqa: PLC0415

    existing_modules(JOB_MODULES)
    return dict(_REGISTRY)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_lease(session: Session, name: str, holder: str, seconds: int, now: dt.datetime) -> bool:
    """Claim the named lease if it is free or expired; commit at once so other processes see it."""
    try:
        with session.begin_nested():
            session.execute(insert(JobLease).values(name=name, holder=None, expires_at=now))
    except IntegrityError:
        pass  # the row exists already: the UPDATE below decides
    claimed = session.execute(
        update(JobLease)
        .where(JobLease.name == name, (JobLease.expires_at <= now) | (JobLease.holder == holder))
        .values(holder=holder, expires_at=now + dt.timedelta(seconds=seconds))
    ).rowcount
    session.commit()
    return claimed == 1


LEASE_FREE = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # an expiry in the past: anyone may claim


def release_lease(session: Session, name: str, holder: str) -> None:
    session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder)
        .values(holder=None, expires_at=LEASE_FREE)
    )
    session.commit()


def run_job(app: Flask, spec: JobSpec, now: dt.datetime | None = None) -> JobRun | None:
    """Run one job once, if no other process holds its lease. Returns the run record, or None when skipped."""
    from bos.db import new_session  # noqa: PLC0415 - avoids an import cycle with the app's session setup

    holder = holder_name()
    now = now or utcnow()
    # write=True: every transaction of a job (lease, run record, the job's own units) reads and then writes while
    # other jobs and web requests write too; on SQLite it takes the write lock at BEGIN, so it waits for a writer
    # (up to busy_timeout) instead of failing with "database is locked" when a read turns into a write.
    with app.app_context(), new_session(app, write=True) as session:
        if not claim_lease(session, spec.name, holder, spec.lease_seconds, now):
            log.info("job %s skipped: another process holds its lease", spec.name)
            return None
        run = JobRun(name=spec.name, holder=holder, started_at=utcnow(), status="running")
        session.add(run)
        session.commit()
        try:
            stats = spec.function(session, now)
            session.commit()
            run.status = "succeeded"
            run.stats = orjson.dumps(stats or {}).decode()
        except Exception as exc:
            # The job's own unit is rolled back whole; the run record says why, and the next tick retries.
            session.rollback()
            log.exception("job %s failed", spec.name)
            run.status = "failed"
            run.error = f"{type(exc).__name__}: {exc}"
        run.finished_at = utcnow()
        session.add(run)
        session.commit()
        release_lease(session, spec.name, holder)
        return run


def add_jobs(app: Flask, scheduler: BaseScheduler) -> None:
    for spec in registered_jobs().values():
        scheduler.add_job(
            run_job,
            spec.trigger,
            args=[app, spec],
            id=spec.name,
            name=spec.name,
            max_instances=1,  # within this process; the lease covers other processes
            coalesce=True,
            replace_existing=True,
            **spec.trigger_args,
        )


def start_background_scheduler(app: Flask) -> BaseScheduler:
    """The demo's in-process scheduler (production runs ``bos scheduler`` as its own process)."""
    from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415

    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(app, scheduler)
    scheduler.start()
    return scheduler
