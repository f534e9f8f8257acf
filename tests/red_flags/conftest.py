"""Helpers for the engine tests: store compiled releases as records (as an import would), run the engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.ocds.models import Record
from bos.ocds.publish import mark_for_evaluation

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def store_record(session: Session, release: dict[str, Any], source: str = "bos") -> Record:
    """Insert or replace the compiled release of an ocid and queue it for evaluation, as publishing or importing
    does."""
    # populate_existing: the engine writes with Core statements, so an identity-map copy may be stale.
    query = select(Record).where(Record.ocid == release["ocid"]).execution_options(populate_existing=True)
    record = session.scalars(query).one_or_none()
    if record is None:
        record = Record(ocid=release["ocid"], source=source, release_count=0, last_release_date=NOW, compiled="")
        session.add(record)
    record.release_count += 1
    record.compiled = orjson.dumps(release).decode()
    session.flush()
    mark_for_evaluation(session, [record.id])
    return record


@pytest.fixture
def now() -> dt.datetime:
    return NOW
