"""The full run with worker processes stores exactly what the sequential full run stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bos import migrate
from bos.db import make_engine
from bos.demo.seed import seed_database
from bos.ocds.models import Record
from bos.ocds.publish import mark_for_evaluation
from bos.red_flags import engine as red_flags
from bos.red_flags import models as m
from tests.conftest import TODAY
from tests.red_flags.conftest import NOW
from tests.red_flags.helpers import RUN_TABLES, queue_state

TABLES = [*RUN_TABLES, m.RedFlagBaseline]


def _contents(session: Session) -> dict[str, list[tuple]]:
    found = {}
    for model in TABLES:
        table = model.__table__
        found[table.name] = [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key))]
    found["records"] = queue_state(session)
    return found


def _change_one_bid(session: Session) -> None:
    """A bid price moves (measures, contributions and organisations change), queued as publishing does."""
    for record in session.scalars(select(Record).order_by(Record.id)):
        release = orjson.loads(record.compiled)
        details = (release.get("bids") or {}).get("details") or []
        if len(details) >= 2 and details[0].get("value") and details[1].get("value"):
            details[1]["value"] = dict(details[0]["value"])
            session.execute(
                update(Record).where(Record.id == record.id).values(compiled=orjson.dumps(release).decode())
            )
            mark_for_evaluation(session, [record.id])
            return
    raise AssertionError("no process with two priced bids")


def _counts(stats: red_flags.RunStats) -> dict:
    """What a run did, without its wall seconds per phase (those differ between any two runs)."""
    counts = stats.as_dict()
    assert set(counts.pop("phase_seconds")) == set(red_flags.PHASES)
    return counts


def test_worker_processes_store_the_same_outcomes_as_one_process(tmp_path: Path):
    seeded = tmp_path / "seeded.sqlite3"
    db = make_engine(f"sqlite:///{seeded}")
    migrate.upgrade(db)
    with Session(db) as session:
        seed_database(session, processes=120, seed=3, today=TODAY, ocid_prefix="ocds-test00")
        session.commit()
    db.dispose()
    contents = []
    for workers in (0, 2):
        path = tmp_path / f"workers-{workers}.sqlite3"
        shutil.copyfile(seeded, path)
        db = make_engine(f"sqlite:///{path}")
        runs = []
        with Session(db) as session:
            # Small chunks, so several are in flight at once and the pool is really used.
            stats = red_flags.evaluate_all(session, NOW, chunk=25, workers=workers)
            assert stats.processes == 120 and not stats.errors
            runs.append((_counts(stats), _contents(session)))
            _change_one_bid(session)
            session.commit()
            stats = red_flags.evaluate_all(session, NOW, chunk=25, workers=workers)
            session.commit()
            runs.append((_counts(stats), _contents(session)))
        db.dispose()
        contents.append(runs)
    sequential, parallel = contents
    assert sequential[0][1]["red_flags"] and sequential[0][1]["red_flag_events"]
    for (seq_stats, seq_rows), (par_stats, par_rows) in zip(sequential, parallel, strict=True):
        assert seq_stats == par_stats
        for name, rows in seq_rows.items():
            assert rows == par_rows[name], name
