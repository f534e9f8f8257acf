"""The engine's bulk writes through the DBAPI cursor (executemany, COPY on PostgreSQL) store exactly what the Core
statements store (bos/red_flags/writes.py), on whichever database the tests run."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bos.ocds.models import Record
from bos.red_flags import engine, writes
from bos.red_flags import models as m
from tests.red_flags.conftest import NOW, store_record
from tests.red_flags.helpers import RUN_TABLES, queue_state

TABLES = RUN_TABLES


def _contents(session: Session) -> dict[str, list[tuple]]:
    """Every red-flag row as the database stores it (read through the driver, no type processing), without its id
    (sequences do not roll back on PostgreSQL); an event names its flag by the flag's key."""
    connection = session.connection()

    def raw(name: str) -> list[dict]:
        result = connection.exec_driver_sql(f"SELECT * FROM {name}")  # noqa: S608 - our own table names
        return [dict(row._mapping) for row in result]

    keys = {
        row["id"]: (row["source"], row["code"], row["grain"], row["subject"], row["key"]) for row in raw("red_flags")
    }
    found: dict[str, list[tuple]] = {}
    for model in TABLES:
        rows = []
        for values in raw(model.__table__.name):
            values.pop("id")
            if "flag_id" in values:
                values["flag_id"] = keys[values["flag_id"]]
            rows.append(tuple(sorted(values.items())))
        found[model.__table__.name] = sorted(rows, key=repr)
    found["records"] = queue_state(session)
    return found


def _runs(session: Session) -> list[dict[str, list[tuple]]]:
    """A cold full run, a changed process through the incremental run, then a steady full run a day later."""
    snapshots = [_contents(session)]
    engine.evaluate_all(session, NOW, commit=False, chunk=40)
    snapshots.append(_contents(session))
    for record in session.scalars(select(Record).order_by(Record.id)):
        release = orjson.loads(record.compiled)
        details = (release.get("bids") or {}).get("details") or []
        if len(details) >= 2 and details[0].get("value") and release["tender"].get("status") != "cancelled":
            details[1]["value"] = dict(details[0]["value"])
            store_record(session, release)
            break
    engine.evaluate_dirty(session, NOW + dt.timedelta(minutes=5))
    snapshots.append(_contents(session))
    engine.evaluate_all(session, NOW + dt.timedelta(days=1), commit=False, chunk=40)
    snapshots.append(_contents(session))
    return snapshots


def test_cursor_writes_store_the_same_rows_as_core_statements(db_session, seeded, monkeypatch):
    results = []
    for plain in (True, False):
        monkeypatch.setattr(writes, "PLAIN", plain)
        savepoint = db_session.begin_nested()
        results.append(_runs(db_session))
        savepoint.rollback()
    core, cursor = results
    assert core[1]["red_flags"] and core[1]["red_flag_events"]
    assert core[2] != core[1]  # the change moved rows
    for step, (expected, found) in enumerate(zip(core, cursor, strict=True)):
        for name, rows in expected.items():
            assert found[name] == rows, (step, name)


@pytest.mark.parametrize(("plain", "copy_from"), [(True, 50), (False, 50), (False, 1)])
def test_insert_and_update_rows_bind_datetimes_enums_and_nulls(db_session, monkeypatch, plain, copy_from):
    """Through Core, an executemany, and (copy_from 1, on PostgreSQL) COPY, where datetimes go as text."""
    monkeypatch.setattr(writes, "PLAIN", plain)
    monkeypatch.setattr(writes, "COPY_FROM", copy_from)
    table = m.RedFlag.__table__
    later = NOW + dt.timedelta(hours=1, microseconds=7)
    wib = dt.timezone(dt.timedelta(hours=7))
    if db_session.get_bind().dialect.name == "postgresql":
        # A datetime written as text without its offset would be read in the session's zone: make that not UTC.
        db_session.execute(text("SET LOCAL TIME ZONE 'Asia/Jakarta'"))
    row = {
        "source": "bos",
        "code": "R018",
        "grain": "process",
        "subject": "ocds-1",
        "key": "",
        "ocid": "ocds-1",
        "buyer": None,
        "parties": " a 'b' %s ",
        "status": m.FlagStatus.FLAGGED,
        "value": 0.1 + 0.2,
        "score": 1.0,
        "evidence": '{"a": "\\\\ \\t"}',
        "explanation": "line\nbreak",
        "rule_version": 3,
        "first_raised_at": NOW.astimezone(wib),
        "last_confirmed_at": later,
        "cleared_at": None,
        "dismissed_at": None,
        "evaluated_at": NOW,
    }
    connection = db_session.connection()
    writes.insert_rows(connection, table, [row, {**row, "subject": "ocds-2", "ocid": "ocds-2", "value": None}])
    stored = db_session.scalars(select(m.RedFlag).order_by(m.RedFlag.subject)).all()
    assert [(f.subject, f.status, f.value, f.last_confirmed_at) for f in stored] == [
        ("ocds-1", m.FlagStatus.FLAGGED, 0.1 + 0.2, later),
        ("ocds-2", m.FlagStatus.FLAGGED, None, later),
    ]
    assert (stored[0].parties, stored[0].evidence, stored[0].explanation) == (
        row["parties"],
        row["evidence"],
        row["explanation"],
    )
    writes.update_rows(
        connection, table, [{"b_id": stored[1].id, "status": m.FlagStatus.NOT_FLAGGED, "cleared_at": later}]
    )
    db_session.expire_all()
    again = db_session.get(m.RedFlag, stored[1].id)
    assert (again.status, again.cleared_at, again.first_raised_at) == (m.FlagStatus.NOT_FLAGGED, later, NOW)


def test_insert_values_refuses_columns_whose_values_need_converting(db_session):
    """insert_values passes tuples on as they came (floats stay floats): a column with a bind processor other than
    Float's would be stored differently from Core, so it is refused, and nothing is written."""
    values = [(1, m.FlagEventKind.RAISED)]
    with pytest.raises(ValueError, match=r"red_flag_events\.kind converts"):
        writes.insert_values(db_session.connection(), m.RedFlagEvent.__table__, ("flag_id", "kind"), values)
    assert db_session.scalars(select(m.RedFlagEvent)).all() == []


def test_reserved_ids_are_new_and_a_later_insert_gets_a_later_one(db_session):
    """reserve_ids gives ids no row has, in order; rows inserted with them, then one without an id, never collide
    (PostgreSQL: the sequence moved on; SQLite: the next id after the largest)."""
    table = m.RedFlag.__table__
    connection = db_session.connection()

    def flag(subject: str) -> dict:
        return {
            "source": "bos",
            "code": "R018",
            "grain": "process",
            "subject": subject,
            "key": "",
            "ocid": subject,
            "buyer": None,
            "parties": " ",
            "status": m.FlagStatus.FLAGGED,
            "value": None,
            "score": 1.0,
            "evidence": "{}",
            "explanation": "",
            "rule_version": 1,
            "first_raised_at": NOW,
            "last_confirmed_at": NOW,
            "cleared_at": None,
            "dismissed_at": None,
            "evaluated_at": NOW,
        }

    writes.insert_rows(connection, table, [flag("ocds-0")])
    before = set(db_session.scalars(select(m.RedFlag.id)))
    ids = writes.reserve_ids(connection, table, 3)
    assert ids == sorted(ids) and len(set(ids)) == 3 and not before & set(ids)
    writes.insert_rows(connection, table, [{**flag(f"ocds-{i}"), "id": i} for i in ids])
    writes.insert_rows(connection, table, [flag("ocds-last")])
    stored = dict(db_session.execute(select(m.RedFlag.subject, m.RedFlag.id)).all())
    assert [stored[f"ocds-{i}"] for i in ids] == ids
    assert stored["ocds-last"] > max(ids)
    assert writes.reserve_ids(connection, table, 0) == []
