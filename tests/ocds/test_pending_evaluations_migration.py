"""Migration 0016 moves records.needs_evaluation into the engine's queue (pending_evaluations) and back, on the
database the tests run on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from bos import migrate
from bos.db import make_engine
from tests.conftest import empty_database

WHEN = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def test_dirty_records_stay_queued_through_the_migration_and_back(tmp_path: Path):
    for url in empty_database(tmp_path):
        engine = make_engine(url)
        try:
            migrate.upgrade(engine, "0014")
            with engine.begin() as connection:
                for number, dirty in enumerate([True, False, True], start=1):
                    connection.execute(
                        text(
                            "INSERT INTO records (ocid, source, release_count, last_release_date, compiled, "
                            "needs_evaluation, updated_at) VALUES (:ocid, 'bos', 1, :at, '{}', :dirty, :at)"
                        ),
                        {"ocid": f"ocds-{number}", "at": WHEN, "dirty": dirty},
                    )
            migrate.upgrade(engine)
            with engine.begin() as connection:
                assert "needs_evaluation" not in {c["name"] for c in inspect(connection).get_columns("records")}
                queued = connection.execute(
                    text(
                        "SELECT r.ocid, q.token FROM pending_evaluations q JOIN records r ON r.id = q.record_id "
                        "ORDER BY r.ocid"
                    )
                ).all()
                assert [row.ocid for row in queued] == ["ocds-1", "ocds-3"]
                assert len({row.token for row in queued}) == 2
                # The rebuilt records table keeps its other indexes.
                indexes = {index["name"] for index in inspect(connection).get_indexes("records")}
                assert {"ix_records_feed", "ix_records_buyer_identifier"} <= indexes
                unique = {c["name"] for c in inspect(connection).get_unique_constraints("records")}
                assert "uq_records_ocid" in unique or "uq_records_ocid" in indexes
                # Back again (this branch only): the flags come back as they were.
                command.downgrade(migrate.alembic_config(connection=connection), "0016@-1")
                flags = connection.execute(text("SELECT ocid, needs_evaluation FROM records ORDER BY ocid"))
                assert [(ocid, bool(dirty)) for ocid, dirty in flags] == [
                    ("ocds-1", True),
                    ("ocds-2", False),
                    ("ocds-3", True),
                ]
                assert "pending_evaluations" not in inspect(connection).get_table_names()
        finally:
            engine.dispose()
