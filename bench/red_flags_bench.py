"""Red-flag engine bench: full run (cold and steady), one incremental re-evaluation, peer-statistics refresh.

Usage (a seeded database, e.g. ``BOS_DATABASE_URL=... bos seed --processes 100000``):

    .venv/bin/python bench/red_flags_bench.py --database-url sqlite:////path/bos100k.sqlite3 [--reset]

Each step runs in its own child process, so its peak memory (max RSS) is its own. Prints one line per step.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from sqlalchemy import delete, func, select, text, update

from bos import create_app, migrate
from bos.db import new_session, utcnow
from bos.ocds.models import Record
from bos.ocds.publish import mark_for_evaluation
from bos.red_flags import engine, service
from bos.red_flags import models as m

STEPS = ["reset", "full-cold", "full-steady", "full-nightly", "baselines", "incremental", "catalogue"]


def _app(url: str):
    app = create_app({"DATABASE_URL": url})
    migrate.upgrade(app.extensions["bos_db"].engine)
    return app


def _change(session, every: int) -> int:
    """A day's work: every ``every``-th process with bids gets its first bid's amount corrected by +1% (moving
    its measures, its peers' baselines and its organisations), queued for evaluation as publishing does."""
    query = select(Record.id).where(Record.compiled.contains('"details"')).order_by(Record.id)
    changed = 0
    for record_id in session.scalars(query).all()[::every]:
        record = session.get(Record, record_id)
        release = orjson.loads(record.compiled)
        bid = release["bids"]["details"][0]
        if not isinstance((bid.get("value") or {}).get("amount"), int | float):
            continue
        bid["value"]["amount"] = round(bid["value"]["amount"] * 1.01)
        record.compiled = orjson.dumps(release).decode()
        record.release_count += 1
        session.flush()
        mark_for_evaluation(session, [record.id])
        changed += 1
    session.commit()
    return changed


def _vacuum(session) -> None:
    """VACUUM ANALYZE, as autovacuum (on by default, off on this bench machine) would have done by now: every timed
    run updates the same rows again, and without vacuum their dead versions pile up (at 10,000 processes the median
    went from ~36 ms to ~55 ms over a few hundred runs)."""
    session.commit()
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def step(name: str, url: str, repeat: int, workers: int, vacuum: bool = True) -> dict:
    app = _app(url)
    result: dict = {"step": name}
    # The runs in a write session, as the scheduled jobs run them (bos.scheduler.run_job): on SQLite each of its
    # transactions takes the write lock at BEGIN and, after a long one, first leaves it free for a moment so that
    # other writers (officers publishing) get a turn. That pause is part of a real run's time.
    write = name in {"full-cold", "full-steady", "full-nightly", "incremental"}
    with app.app_context(), new_session(app, write=write) as session:
        if name == "reset":
            tables = (
                m.RedFlagResponse,
                m.RedFlagEvent,
                m.RedFlag,
                m.RedFlagMeasure,
                m.RedFlagContribution,
                m.RedFlagOrgTotal,
                m.RedFlagCoverage,
                m.RedFlagBaseline,
                m.RedFlagProcess,
            )
            if session.get_bind().dialect.name == "postgresql":
                # TRUNCATE, not DELETE: millions of dead rows (autovacuum may be off) would make the cold run
                # measure index bloat, not the engine; a first run starts from empty tables.
                session.execute(text("TRUNCATE " + ", ".join(t.__tablename__ for t in tables)))
            for table in tables:
                session.execute(delete(table))
            mark_for_evaluation(session, session.scalars(select(Record.id)).all())
            session.commit()
        elif name in {"full-cold", "full-steady", "full-nightly"}:
            # The steady run is the nightly job a day later with nothing changed (day-dependent outcomes, R063, move);
            # the nightly one comes a day after that, once 1% of the processes changed in between (see _change).
            now = utcnow() + dt.timedelta(days={"full-cold": 0, "full-steady": 1, "full-nightly": 2}[name])
            if name == "full-nightly":
                result["changed"] = _change(session, every=100)
            started, cpu = time.perf_counter(), time.process_time()
            stats = engine.evaluate_all(session, now, workers=workers)
            session.commit()
            result["seconds"] = round(time.perf_counter() - started, 2)
            # CPU of this (parent) process only; worker processes are children and counted below once reaped.
            result["cpu_seconds"] = round(time.process_time() - cpu, 2)
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            result["workers"] = workers
            result["workers_cpu_seconds"] = round(children.ru_utime + children.ru_stime, 2)
            result["stats"] = {k: v for k, v in stats.as_dict().items() if k != "error_messages"}
        elif name == "catalogue":
            # The indicator catalogue with its coverage counts (GET /api/red-flags/indicators), first and repeated.
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                service.catalogue(session)
                timings.append((time.perf_counter() - started) * 1000)
                session.rollback()
            result["ms_first"] = round(timings[0], 1)
            result["ms_median"] = round(statistics.median(timings), 1)
        elif name == "baselines":
            started, cpu = time.perf_counter(), time.process_time()
            count = 0
            for source in session.scalars(select(Record.source).distinct()).all():
                count += engine.refresh_baselines(session, source, utcnow())
                engine.rebuild_totals(session, source)
            session.commit()
            result["seconds"] = round(time.perf_counter() - started, 2)
            result["cpu_seconds"] = round(time.process_time() - cpu, 2)
            result["baselines"] = count
        elif name == "incremental":
            # Change one process (a bid price, so measures, contributions and organisations move), mark it dirty
            # as publishing does, and time the incremental run that picks it up. Alternate the two versions.
            if session.get_bind().dialect.name == "postgresql" and vacuum:
                _vacuum(session)
            record = None
            # The first such record by id, so every run and both databases change the same process.
            candidates = select(Record).where(Record.compiled.contains('"valid"')).order_by(Record.id).limit(50)
            for candidate in session.scalars(candidates):
                release = orjson.loads(candidate.compiled)
                if len((release.get("bids") or {}).get("details") or []) >= 2:
                    record = candidate
                    break
            assert record is not None
            original = orjson.loads(record.compiled)
            changed = copy.deepcopy(original)
            changed["bids"]["details"][1]["value"] = dict(changed["bids"]["details"][0]["value"])
            timings, cpu_timings = [], []
            for i in range(repeat):
                body = changed if i % 2 == 0 else original
                session.execute(
                    update(Record)
                    .where(Record.id == record.id)
                    .values(
                        compiled=orjson.dumps(body).decode(),
                        release_count=Record.release_count + 1,
                    )
                )
                mark_for_evaluation(session, [record.id])
                session.commit()
                started, cpu = time.perf_counter(), time.process_time()
                stats = engine.evaluate_dirty(session, utcnow() + dt.timedelta(seconds=i))
                session.commit()
                timings.append((time.perf_counter() - started) * 1000)
                cpu_timings.append((time.process_time() - cpu) * 1000)
                assert stats.processes == 1, stats.as_dict()
            result["ms_median"] = round(statistics.median(timings), 1)
            result["ms_max"] = round(max(timings), 1)
            # CPU time of this process: on a shared, loaded machine the wall time mostly measures waiting.
            result["cpu_ms_median"] = round(statistics.median(cpu_timings), 1)
            result["repeat"] = repeat
            session.execute(
                update(Record).where(Record.id == record.id).values(compiled=orjson.dumps(original).decode())
            )
            session.commit()
        result["records"] = session.scalar(select(func.count()).select_from(Record))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--reset", action="store_true", help="Empty the red-flag tables first (cold full run).")
    parser.add_argument("--steps", default=",".join(STEPS[1:]))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="Worker processes of the full run (0: in-process).")
    parser.add_argument(
        "--no-vacuum", action="store_true", help="PostgreSQL: skip the VACUUM ANALYZE before the incremental step."
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.database_url, args.repeat, args.workers, not args.no_vacuum)))
        return
    steps = (["reset"] if args.reset else []) + [s for s in args.steps.split(",") if s]
    for name in steps:
        output = (
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--database-url",
                    args.database_url,
                    "--step",
                    name,
                    "--repeat",
                    str(args.repeat),
                    "--workers",
                    str(args.workers),
                    *(["--no-vacuum"] if args.no_vacuum else []),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        print(output, flush=True)


if __name__ == "__main__":
    main()
