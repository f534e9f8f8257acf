"""Report fixtures: an app context for calling the services, seeded processes picked by stage, engine flags."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.enums import ProcessStage
from bos.tenders.models import Process

EVALUATED_AT = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def first_process(session: Session, stage: ProcessStage, with_bids: bool = False) -> Process:
    processes = session.scalars(select(Process).where(Process.stage == stage).order_by(Process.id)).all()
    return next(p for p in processes if p.tender is not None and (p.tender.bids or not with_bids))


@pytest.fixture
def completed(db_session: Session, seeded: dict[str, int]) -> Process:
    """A completed process: opened bids, award, contract with payments."""
    return first_process(db_session, ProcessStage.COMPLETED, with_bids=True)


@pytest.fixture
def open_tender(db_session: Session, seeded: dict[str, int]) -> Process:
    """An open tender that already received sealed bids."""
    return first_process(db_session, ProcessStage.OPEN, with_bids=True)


@pytest.fixture
def engine_flags(db_session: Session, seeded: dict[str, int]) -> dt.datetime:
    """The red-flag engine's full run over the seeded records; returns the evaluation time (flags' raised_at)."""
    from bos.red_flags.engine import evaluate_all  # noqa: PLC0415

    evaluate_all(db_session, EVALUATED_AT, commit=False)
    db_session.commit()
    return EVALUATED_AT
