"""Pure pieces of delivery: digest periods in local time, backoff, the webhook signature."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest

from bos.notifications.delivery import retry_delay, sign
from bos.notifications.digests import last_period
from bos.notifications.models import DeliveryMode

WIB = dt.timezone(dt.timedelta(hours=7))


@pytest.mark.parametrize(
    ("now", "mode", "start", "end"),
    [
        # 06:30 WIB on Tuesday 24 November: yesterday, midnight to midnight WIB.
        (dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC), DeliveryMode.DAILY, (2026, 11, 23), (2026, 11, 24)),
        # 23:30 WIB on Monday 23 November is still Monday in Jakarta: the digest is of Sunday.
        (dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.UTC), DeliveryMode.DAILY, (2026, 11, 22), (2026, 11, 23)),
        # Any day of a week: the last complete Monday-to-Monday week.
        (dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC), DeliveryMode.WEEKLY, (2026, 11, 16), (2026, 11, 23)),
        (dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.UTC), DeliveryMode.WEEKLY, (2026, 11, 16), (2026, 11, 23)),
    ],
)
def test_last_period_is_in_local_time(app, now, mode, start, end):
    with app.app_context():
        got = last_period(mode, now)
    assert got == (dt.datetime(*start, tzinfo=WIB), dt.datetime(*end, tzinfo=WIB))


def test_backoff_doubles_up_to_a_cap(app):
    app.config.update(NOTIFY_RETRY_SECONDS=60, NOTIFY_RETRY_MAX_SECONDS=300)
    with app.app_context():
        assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [60, 120, 240, 300, 300]


def test_signature_covers_timestamp_and_body():
    expected = hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("s3cret", "1700000000", "{}") == expected
    assert sign("s3cret", "1700000001", "{}") != expected
