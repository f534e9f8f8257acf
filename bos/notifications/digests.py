"""Daily and weekly digests: one message per subscription and period, with the watchdog report PDF weekly.

A digest takes every alert of its subscription created before the period's end that no digest has taken yet, so
an alert committed late is carried into the next digest instead of being lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.notifications import delivery
from bos.notifications.models import Alert, DeliveryMode, Digest, Subscription

log = logging.getLogger(__name__)


def _config(name: str, default: Any) -> Any:
    return current_app.config.get(name, default) if has_app_context() else default


def last_period(mode: DeliveryMode, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last complete local day, or local week (Monday to Monday), before ``now``, as UTC datetimes."""
    zone = ZoneInfo(str(_config("TIMEZONE", "Asia/Jakarta")))
    local = now.astimezone(zone)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    if mode is DeliveryMode.WEEKLY:
        end = midnight - dt.timedelta(days=local.weekday())
        start = end - dt.timedelta(days=7)
    else:
        end = midnight
        start = end - dt.timedelta(days=1)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def watchdog_pdf(
    session: Session, subscription: Subscription, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> tuple[int, bytes] | None:
    """The archived watchdog report of the subscription's filters over the period: (report id, PDF bytes).

    None when the reports package is not installed.
    """
    try:
        from bos.reports import service as reports  # noqa: PLC0415 - optional package
        from bos.reports.context import WatchdogFilters  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("bos.reports"):
            raise
        return None
    region = subscription.region.code if subscription.region is not None else None
    filters = WatchdogFilters(
        buyer_ids=(subscription.buyer_id,) if subscription.buyer_id is not None else (),
        region=region,
        indicator_codes=tuple(subscription.indicator_codes),
        category=subscription.procurement_category.value if subscription.procurement_category else None,
        min_value=subscription.min_value,
        keyword=subscription.keyword,
    )
    report = reports.render_watchdog_report(
        session, filters, start, end, str(_config("LOCALE", "id")), now=now, origin="job"
    )
    return report.id, reports.report_pdf(session, report)


def send_digest(session: Session, subscription: Subscription, now: dt.datetime) -> Digest | None:
    """The digest of the last complete period, if not sent yet and there is something to say."""
    start, end = last_period(subscription.delivery, now)
    exists = session.scalar(
        select(Digest.id).where(Digest.subscription_id == subscription.id, Digest.period_start == start)
    )
    if exists is not None:
        return None
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.subscription_id == subscription.id, Alert.digest_id.is_(None), Alert.created_at < end)
            .order_by(Alert.id)
        )
    )
    if not alerts:
        return None
    digest = Digest(
        subscription_id=subscription.id,
        mode=subscription.delivery,
        period_start=start,
        period_end=end,
        alert_count=len(alerts),
        created_at=now,
    )
    if subscription.delivery is DeliveryMode.WEEKLY:
        report = watchdog_pdf(session, subscription, start, end, now)
        if report is not None:
            digest.report_id, digest.attachment = report
            local_start = start.astimezone(ZoneInfo(str(_config("TIMEZONE", "Asia/Jakarta"))))
            digest.attachment_name = f"bos-watchdog-{local_start.date().isoformat()}.pdf"
    session.add(digest)
    session.flush()
    for alert in alerts:
        alert.digest_id = digest.id
    if subscription.email_enabled and subscription.user.email:
        delivery.queue_digest(session, subscription, digest, alerts, now)
    session.flush()
    return digest


def send_digests(session: Session, now: dt.datetime) -> dict[str, int]:
    """Digests of every daily and weekly subscription; each one commits alone, so one failure stops no other."""
    stats = {"digests": 0, "errors": 0}
    subscriptions = session.scalars(
        select(Subscription)
        .join(User, User.id == Subscription.user_id)
        .where(Subscription.delivery.in_([DeliveryMode.DAILY, DeliveryMode.WEEKLY]), User.is_active.is_(True))
        .order_by(Subscription.id)
    ).all()
    for subscription in subscriptions:
        try:
            with session.begin_nested():
                if send_digest(session, subscription, now) is not None:
                    stats["digests"] += 1
        except Exception:
            # One subscription's report failing to render must not hold back everyone else's digest; the
            # unsent one is tried again on the next run (its alerts are still unassigned).
            log.exception("digest of subscription %s failed", subscription.id)
            stats["errors"] += 1
        session.commit()
    return stats
