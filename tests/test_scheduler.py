"""The lease lock: one runner at a time across processes, and a dead holder's lease lapses."""

import datetime as dt
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.enums import ProcessStage
from bos.scheduler import JobRun, claim_lease, registered_jobs, release_lease, run_job
from bos.tenders.models import Process, Tender

NOW = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)


def test_second_holder_is_refused_until_release(db_session):
    assert claim_lease(db_session, "job-a", "worker-1", 60, NOW)
    assert not claim_lease(db_session, "job-a", "worker-2", 60, NOW + dt.timedelta(seconds=30))
    assert claim_lease(db_session, "job-a", "worker-1", 60, NOW + dt.timedelta(seconds=30))  # renewal by holder
    release_lease(db_session, "job-a", "worker-1")
    assert claim_lease(db_session, "job-a", "worker-2", 60, NOW + dt.timedelta(seconds=31))


def test_lease_of_a_dead_holder_lapses(db_session):
    assert claim_lease(db_session, "job-b", "dead-worker", 60, NOW)
    assert not claim_lease(db_session, "job-b", "worker-2", 60, NOW + dt.timedelta(seconds=59))
    assert claim_lease(db_session, "job-b", "worker-2", 60, NOW + dt.timedelta(seconds=61))


def test_concurrent_claims_from_separate_connections_give_one_winner(engine):
    """Real concurrency: threads with their own connections race for one lease; exactly one wins."""
    name = f"race-{threading.get_ident()}"
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def contender(index: int) -> None:
        with Session(bind=engine) as session:
            barrier.wait()
            for _ in range(20):  # SQLite may answer "database is locked" under contention; retry briefly
                try:
                    results.append(claim_lease(session, name, f"worker-{index}", 60, NOW))
                    return
                except Exception:
                    session.rollback()
            results.append(False)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert results.count(True) == 1
    finally:
        with Session(bind=engine) as session:
            from bos.scheduler import JobLease  # noqa: PLC0415

            session.execute(JobLease.__table__.delete().where(JobLease.name == name))
            session.commit()


def test_close_expired_tenders_job_records_its_run(app, db_session, seeded):
    spec = registered_jobs()["close_expired_tenders"]
    open_processes = db_session.scalars(select(Process).where(Process.stage == ProcessStage.OPEN)).all()
    latest_end = max(p.tender.tender_period_end for p in open_processes)
    run = run_job(app, spec, now=latest_end + dt.timedelta(minutes=1))
    assert run is not None and run.status == "succeeded"
    assert f'"closed":{len(open_processes)}' in run.stats
    db_session.expire_all()
    assert not db_session.scalars(select(Process).where(Process.stage == ProcessStage.OPEN)).all()
    assert db_session.scalars(select(JobRun).where(JobRun.name == "close_expired_tenders")).one().finished_at


def test_job_is_skipped_while_another_process_holds_the_lease(app, db_session):
    spec = registered_jobs()["close_expired_tenders"]
    assert claim_lease(db_session, spec.name, "other-host:1", 300, NOW)
    assert run_job(app, spec, now=NOW + dt.timedelta(seconds=10)) is None


def test_failed_job_is_recorded_and_rolled_back(app, db_session, seeded, monkeypatch):
    from bos.scheduler import JobSpec  # noqa: PLC0415

    def broken(session, now):
        session.execute(Tender.__table__.update().values(title="should not stay"))
        raise RuntimeError("boom")

    run = run_job(app, JobSpec("broken", broken, "interval", {"minutes": 1}), now=NOW)
    assert run.status == "failed" and "boom" in run.error
    assert "should not stay" not in {t.title for t in db_session.scalars(select(Tender))}
