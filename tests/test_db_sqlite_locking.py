"""SQLite's write lock: writers wait for it instead of failing with "database is locked", readers never take it.

These tests run real threads on an SQLite file of their own (whatever ``BOS_TEST_DATABASE_URL`` says), committed for
real: the savepoint-per-test fixtures share one connection, which cannot show how connections lock each other.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.exc import OperationalError

from bos import create_app, migrate
from bos.db import DatabaseState, get_session, new_session
from bos.scheduler import JobLease, JobRun, JobSpec, run_job

ROWS = "lock-test-row-"  # job_leases rows written by the job-like units below (any small table would do)


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    base = tmp_path_factory.mktemp("sqlite-locking")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{base / 'bos.sqlite3'}",
            "CACHE_DIR": str(base / "cache"),
            "SECRET_KEY": "test-secret",
        }
    )
    engine = app.extensions["bos_db"].engine
    migrate.upgrade(engine)
    yield app
    engine.dispose()


@pytest.fixture
def app(sqlite_app: Flask) -> Iterator[Flask]:
    yield sqlite_app
    with new_session(sqlite_app) as session:
        session.execute(delete(JobLease))
        session.execute(delete(JobRun))
        session.commit()


def database_path(app: Flask) -> str:
    database = app.extensions["bos_db"].engine.url.database
    assert database and Path(database).exists()
    return database


def write_lock_is_free(app: Flask) -> bool:
    """Whether another connection could take the write lock right now (it does not wait: timeout 0)."""
    probe = sqlite3.connect(database_path(app), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    else:
        probe.execute("ROLLBACK")
        return True
    finally:
        probe.close()


def count_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(JobLease).where(JobLease.name.like(f"{ROWS}%")))


def test_two_jobs_that_read_then_write_wait_for_each_other(app):
    """Job B reads and then writes while job A holds the write lock (the demo's first tick): B must wait, not fail.

    With a deferred BEGIN, B's read takes a snapshot and its write fails at once with "database is locked", as SQLite
    cannot wait for a lock whose holder will make that snapshot stale."""
    b_started, a_wrote = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def job_a(session, now):
        seen["a"] = count_rows(session)
        session.add(JobLease(name=f"{ROWS}a", holder="a", expires_at=now))
        session.flush()  # A holds the write lock from here to run_job's commit
        a_wrote.set()
        time.sleep(0.5)
        return {"seen": seen["a"]}

    def job_b(session, now):
        b_started.set()  # B's lease and run record are committed: its own unit starts now, with no transaction open
        assert a_wrote.wait(10)
        seen["b"] = count_rows(session)
        session.add(JobLease(name=f"{ROWS}b", holder="b", expires_at=now))
        session.flush()
        return {"seen": seen["b"]}

    runs: dict[str, JobRun | None] = {}

    def run(label: str, function) -> None:
        runs[label] = run_job(app, JobSpec(f"lock-test-{label}", function, "interval", {"minutes": 1}))

    thread_b = threading.Thread(target=run, args=("b", job_b))
    thread_b.start()
    assert b_started.wait(10)
    thread_a = threading.Thread(target=run, args=("a", job_a))
    thread_a.start()
    thread_a.join(30)
    thread_b.join(30)

    assert runs["a"] is not None and runs["b"] is not None
    assert (runs["a"].status, runs["a"].error) == ("succeeded", None)
    assert (runs["b"].status, runs["b"].error) == ("succeeded", None)
    assert seen == {"a": 0, "b": 1}  # B read after A's commit, so what it wrote rests on what it read
    with new_session(app) as session:
        assert count_rows(session) == 2
        errors = session.scalars(select(JobRun.error).where(JobRun.error.is_not(None))).all()
        assert errors == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_write_request_takes_the_write_lock_at_its_first_query(app, method):
    with app.test_request_context("/", method=method):
        get_session().execute(select(func.count()).select_from(JobLease))
        assert not write_lock_is_free(app)
    assert write_lock_is_free(app)  # the request's teardown ended the transaction


@pytest.mark.parametrize("path", ["/processes/1/dossier.pdf", "/api/v1/reports/processes/1/dossier"])
def test_a_get_that_archives_its_pdf_takes_the_write_lock(app, path):
    """The dossier GETs write the report archive: marked writes_on_get (a view function and a MethodView)."""
    with app.test_request_context(path, method="GET"):
        get_session().execute(select(func.count()).select_from(JobLease))
        assert not write_lock_is_free(app)
    assert write_lock_is_free(app)


def test_a_locked_database_answers_503_not_a_client_error(app):
    """A GET that writes while another connection holds the write lock past busy_timeout: retry later."""
    holder = sqlite3.connect(database_path(app), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with app.test_request_context("/api/v1/processes", method="GET"):
            session = get_session()
            session.execute(text("PRAGMA busy_timeout=0"))
            session.execute(select(func.count()).select_from(JobLease))
            try:
                session.execute(delete(JobLease).where(JobLease.name == "nothing"))
            except OperationalError as exc:
                response = app.handle_user_exception(exc)
            else:
                raise AssertionError("the write should have found the database locked")
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            session.rollback()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_a_read_request_takes_no_lock(app, method):
    with app.test_request_context("/", method=method):
        get_session().execute(select(func.count()).select_from(JobLease))
        assert write_lock_is_free(app)


def test_a_read_request_is_served_while_a_job_holds_the_write_lock(app):
    with new_session(app, write=True) as job_session:
        job_session.add(JobLease(name=f"{ROWS}held", holder="job", expires_at=dt.datetime.now(dt.UTC)))
        job_session.flush()
        assert not write_lock_is_free(app)
        started = time.monotonic()
        response = app.test_client().get("/api/v1/processes")
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.get_data(as_text=True)
        assert elapsed < 5  # no wait for the lock (busy_timeout is 10 s)
        job_session.commit()


def test_a_read_only_session_reads_while_a_writer_holds_the_lock(app):
    with new_session(app, write=True) as writer, new_session(app) as reader:
        writer.add(JobLease(name=f"{ROWS}uncommitted", holder="job", expires_at=dt.datetime.now(dt.UTC)))
        writer.flush()
        started = time.monotonic()
        assert count_rows(reader) == 0  # the last committed state, at once
        assert time.monotonic() - started < 1
        writer.rollback()


def test_a_batch_committing_per_unit_lets_a_waiting_writer_in(app):
    """A job that commits per chunk and begins the next chunk at once must not keep the lock for its whole run.

    The waiting writer (a web request, say) polls the lock at most every 100 ms: it gets its turn in the pause the
    batch leaves after each long unit, well before its own busy timeout (here 2 s, shorter than the batch)."""
    first_unit = threading.Event()
    failures: list[BaseException] = []

    def batch() -> None:
        try:
            with new_session(app, write=True) as session:
                for index in range(2):
                    count_rows(session)  # begins the unit: BEGIN IMMEDIATE
                    first_unit.set()
                    time.sleep(1.5)
                    session.add(
                        JobLease(name=f"{ROWS}batch-{index}", holder="batch", expires_at=dt.datetime.now(dt.UTC))
                    )
                    session.commit()
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=batch)
    thread.start()
    try:
        assert first_unit.wait(10)
        writer = sqlite3.connect(database_path(app), timeout=2.0, isolation_level=None)
        try:
            started = time.monotonic()
            writer.execute("BEGIN IMMEDIATE")  # waits in SQLite's busy handler, as a web request's write would
            waited = time.monotonic() - started
            writer.execute(
                "INSERT INTO job_leases (name, holder, expires_at) VALUES (?, 'web', '2026-01-01 00:00:00')",
                (f"{ROWS}web",),
            )
            writer.execute("COMMIT")
        finally:
            writer.close()
    finally:
        thread.join(30)
    assert failures == []
    assert waited < 2.0
    with new_session(app) as session:
        assert count_rows(session) == 3


def test_write_sessions_are_plain_sessions_elsewhere():
    """PostgreSQL, and the tests' sessions bound to one connection, keep a single factory: nothing changes there."""
    postgres = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    state = DatabaseState(postgres)
    assert state.write_session_factory is state.session_factory


def test_write_sessions_bound_to_a_connection_share_its_transaction(connection):
    state = DatabaseState(connection.engine, connection)
    assert state.write_session_factory is state.session_factory


def test_an_api_read_with_a_token_is_served_when_a_job_wrote_since_it_began(app, monkeypatch):
    """A bearer token's last use is noted at most hourly. A GET's session reads without the write lock; upgrading it
    at commit after a job has committed fails at once, so the note goes through a write transaction of its own and
    the read is answered (it used to be a 503)."""
    from bos.accounts import service  # noqa: PLC0415
    from bos.accounts.models import ApiToken, User  # noqa: PLC0415
    from bos.enums import UserRole  # noqa: PLC0415

    with new_session(app, write=True) as session:
        user = service.create_user(
            session, email="lock-reader@bos.test", name="Reader", role=UserRole.MONITOR, password="long enough pass 1"
        )
        new = service.create_token(session, user, "harvester")
        session.commit()
        token_id = new.token.id
    find_token = service.token_for_secret

    def read_then_a_job_commits(session, secret):
        token = find_token(session, secret)
        with new_session(app, write=True) as job:  # the nightly run commits a chunk meanwhile
            job.add(JobLease(name=f"{ROWS}meanwhile", holder="job", expires_at=dt.datetime.now(dt.UTC)))
            job.commit()
        return token

    monkeypatch.setattr(service, "token_for_secret", read_then_a_job_commits)
    try:
        response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {new.secret}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["email"] == "lock-reader@bos.test"
        with new_session(app) as session:
            assert session.get(ApiToken, token_id).last_used_at is not None
    finally:
        with new_session(app, write=True) as session:
            session.execute(delete(ApiToken).where(ApiToken.id == token_id))
            session.execute(text("DELETE FROM audit_log"))
            session.execute(delete(User).where(User.email == "lock-reader@bos.test"))
            session.commit()
