"""The scheduled runs through the scheduler (lease, run record) and the engine's own lease."""

from __future__ import annotations

import datetime as dt

import orjson
from sqlalchemy import func, select

from bos.db import utcnow
from bos.ocds.models import Record
from bos.ocds.publish import mark_for_evaluation
from bos.red_flags import engine
from bos.red_flags.models import RedFlag
from bos.scheduler import claim_lease, registered_jobs, run_job
from tests.red_flags.helpers import queued_count


def test_both_jobs_are_registered_with_their_triggers():
    jobs = registered_jobs()
    assert jobs["evaluate_dirty_records"].trigger == "interval"
    assert jobs["evaluate_dirty_records"].trigger_args == {"minutes": 1}
    assert jobs["evaluate_all_records"].trigger == "cron"
    assert jobs["evaluate_all_records"].trigger_args == {"hour": 1}


def test_scheduler_runs_both_jobs_and_records_them(app, db_session, seeded):
    full = run_job(app, registered_jobs()["evaluate_all_records"])
    assert full is not None and full.status == "succeeded", full.error
    stats = orjson.loads(full.stats)
    assert stats["processes_evaluated"] == seeded["total"]
    assert stats["flags_raised"] > 0 and stats["errors"] == 0
    # The run record says where the time went, phase by phase.
    assert set(stats["phase_seconds"]) == set(engine.PHASES)
    assert all(seconds >= 0 for seconds in stats["phase_seconds"].values())
    record = db_session.scalars(select(Record).order_by(Record.id)).first()
    mark_for_evaluation(db_session, [record.id])
    db_session.commit()
    dirty = run_job(app, registered_jobs()["evaluate_dirty_records"])
    assert dirty is not None and dirty.status == "succeeded", dirty.error
    assert (
        orjson.loads(dirty.stats)["processes_evaluated"] + orjson.loads(dirty.stats)["processes_frozen_skipped"] == 1
    )
    assert queued_count(db_session) == 0


def test_one_engine_runner_at_a_time(app, db_session, seeded):
    now = utcnow()
    assert claim_lease(db_session, engine.ENGINE_LEASE, "someone-else", 600, now)
    run = run_job(app, registered_jobs()["evaluate_all_records"], now=now + dt.timedelta(seconds=1))
    assert run is not None and run.status == "succeeded"
    assert "skipped" in orjson.loads(run.stats)
    assert db_session.scalar(select(func.count()).select_from(RedFlag)) == 0
