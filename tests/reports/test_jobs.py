import datetime as dt

from sqlalchemy import func, select

from bos.ocds.models import Record
from bos.reports.jobs import render_weekly_buyer_profiles
from bos.reports.models import ArchivedReport, ReportKind


def test_weekly_profiles_render_once_per_buyer_then_only_on_change(app_ctx, db_session, seeded):
    buyers = db_session.scalar(select(func.count(func.distinct(Record.buyer_identifier))))
    monday = dt.datetime(2026, 11, 23, 0, 30, tzinfo=dt.UTC)
    assert render_weekly_buyer_profiles(db_session, monday) == {"rendered": buyers, "unchanged": 0}
    stored = db_session.scalars(select(ArchivedReport).where(ArchivedReport.kind == ReportKind.BUYER_PROFILE)).all()
    assert len(stored) == buyers
    assert {r.origin for r in stored} == {"job"}
    assert {r.language for r in stored} == {"id"}

    # Nothing changed since: the archive does not grow.
    again = render_weekly_buyer_profiles(db_session, monday + dt.timedelta(days=1))
    assert again == {"rendered": 0, "unchanged": buyers}
