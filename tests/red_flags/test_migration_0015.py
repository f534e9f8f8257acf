"""Migration 0015 on a database written by the earlier engine: outcomes that never flagged leave the table, every
process keeps its per-indicator status, the coverage counts are taken, and nothing with history is touched."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import text

from bos import migrate
from bos.db import make_engine
from tests.conftest import empty_database

NOW = "2026-11-20 08:00:00"


def _flag(connection, code: str, status: str, ocid: str | None, grain: str = "process", **extra) -> int:
    row = {
        "source": "bos",
        "code": code,
        "grain": grain,
        "subject": ocid or "supplier-1",
        "key": extra.pop("key", ""),
        "ocid": ocid,
        "status": status,
        "first_raised_at": extra.pop("first_raised_at", None),
    }
    return connection.execute(
        text(
            "INSERT INTO red_flags (source, code, grain, subject, key, ocid, buyer, parties, status, value, score,"
            " evidence, explanation, rule_version, first_raised_at, last_confirmed_at, cleared_at, dismissed_at,"
            " evaluated_at) VALUES (:source, :code, :grain, :subject, :key, :ocid, NULL, ' ', :status, NULL, 0,"
            " '{}', '', 1, :first_raised_at, NULL, NULL, NULL, :now) RETURNING id"
        ),
        {**row, "now": NOW},
    ).scalar_one()


def test_0015_keeps_every_status_and_deletes_only_rows_without_history(tmp_path):
    with contextmanager(empty_database)(tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine, "0013")
            with engine.begin() as connection:
                for ocid in ("ocds-a", "ocds-b"):
                    connection.execute(
                        text(
                            "INSERT INTO red_flag_processes (ocid, source, compiled_sha, rules_sha, outcomes_sha,"
                            " frozen, applicable, evaluated, flagged, evaluated_at)"
                            " VALUES (:ocid, 'bos', 'c', 'r', 'o', false, 0, 0, 0, :now)"
                        ),
                        {"ocid": ocid, "now": NOW},
                    )
                _flag(connection, "R003", "not_flagged", "ocds-a")  # never flagged: goes
                _flag(connection, "R030", "not_applicable", "ocds-a")  # goes, and is left out of statuses
                _flag(connection, "R017", "not_applicable", "ocds-a", key="item-1")  # goes
                _flag(connection, "R017", "not_flagged", "ocds-a", key="item-2")  # goes; R017 counts not flagged
                _flag(connection, "R018", "flagged", "ocds-a", first_raised_at=NOW)
                _flag(connection, "R024", "not_flagged", "ocds-a", first_raised_at=NOW)  # a cleared flag
                _flag(connection, "R028", "insufficient_data", "ocds-a")
                changed = _flag(connection, "R036", "not_flagged", "ocds-a")  # was insufficient: has an event
                connection.execute(
                    text(
                        "INSERT INTO red_flag_events (flag_id, kind, source, code, grain, subject, key, ocid,"
                        " status_from, status_to, rule_version, at) VALUES (:id, 'changed', 'bos', 'R036',"
                        " 'process', 'ocds-a', '', 'ocds-a', 'insufficient_data', 'not_flagged', 1, :now)"
                    ),
                    {"id": changed, "now": NOW},
                )
                _flag(connection, "R048", "not_flagged", None, grain="tenderer")  # organisation rows all stay

            migrate.upgrade(engine)

            with engine.connect() as connection:
                processes = {
                    ocid: (statuses, row_codes)
                    for ocid, statuses, row_codes in connection.execute(
                        text("SELECT ocid, statuses, row_codes FROM red_flag_processes")
                    )
                }
                left = sorted(
                    (code, key, status)
                    for code, key, status in connection.execute(text("SELECT code, key, status FROM red_flags"))
                )
                coverage = sorted(
                    tuple(row)
                    for row in connection.execute(text("SELECT source, code, grain, status, n FROM red_flag_coverage"))
                )
        finally:
            engine.dispose()
    assert processes == {
        "ocds-a": ("R003=n R017=n R018=f R024=n R028=i R036=n", "R018|R024|R028|R036"),
        "ocds-b": ("", ""),
    }
    # One status per process and indicator (R017's two rows count once), organisation rows as they are.
    assert coverage == [
        ("bos", "R003", "process", "not_flagged", 1),
        ("bos", "R017", "process", "not_flagged", 1),
        ("bos", "R018", "process", "flagged", 1),
        ("bos", "R024", "process", "not_flagged", 1),
        ("bos", "R028", "process", "insufficient_data", 1),
        ("bos", "R036", "process", "not_flagged", 1),
        ("bos", "R048", "tenderer", "not_flagged", 1),
    ]
    assert left == [
        ("R018", "", "flagged"),
        ("R024", "", "not_flagged"),
        ("R028", "", "insufficient_data"),
        ("R036", "", "not_flagged"),
        ("R048", "", "not_flagged"),
    ]
