"""Subscriptions (create, change, delete, feed tokens), the inbox and delivery status.

Only monitors and administrators own subscriptions, and every user sees only their own: another user's
subscription is "not found", so ids reveal nothing. Services take the session and never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.db import utcnow
from bos.enums import ProcurementCategory, UserRole
from bos.exceptions import Invalid, NotAllowed, NotFound
from bos.notifications.models import (
    Alert,
    Channel,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    EventScope,
    Subscription,
)
from bos.ocds.models import Record, Release
from bos.parties.models import Organisation, Region

MAX_SUBSCRIPTIONS_PER_USER = 100
FEED_TOKEN_PREFIX = "bosf_"  # noqa: S105 - a prefix that tells feed tokens apart, not a secret
FIELDS = (
    "name",
    "events",
    "buyer_id",
    "region_id",
    "indicators",
    "procurement_category",
    "min_value",
    "keyword",
    "ocid",
    "delivery",
    "email_enabled",
    "webhook_url",
)


def can_own_subscriptions(user: User | None) -> bool:
    """Monitors (CSOs, journalists) and administrators keep subscriptions."""
    return user is not None and user.is_active and user.role in (UserRole.MONITOR, UserRole.ADMIN)


def _require_owner(actor: User | None) -> User:
    if not can_own_subscriptions(actor):
        raise NotAllowed(_("Only monitors keep subscriptions."))
    assert actor is not None  # noqa: S101 - narrowed by can_own_subscriptions
    return actor


@dataclass(frozen=True)
class NewSubscription:
    subscription: Subscription
    feed_token: str  # shown once, only its hash is stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token() -> str:
    return FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)


def latest_flag_event_id(session: Session) -> int:
    from bos.notifications.events import flag_event_model  # noqa: PLC0415 - the red-flag model may be absent

    model = flag_event_model()
    return 0 if model is None else session.scalar(select(func.max(model.id))) or 0


def list_subscriptions(session: Session, actor: User | None) -> list[Subscription]:
    owner = _require_owner(actor)
    return list(
        session.scalars(select(Subscription).where(Subscription.user_id == owner.id).order_by(Subscription.id))
    )


def get_subscription(session: Session, actor: User | None, subscription_id: int) -> Subscription:
    owner = _require_owner(actor)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.user_id != owner.id:
        raise NotFound(_("No such subscription."))
    return subscription


def _allow_private_webhooks() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE", False)) if has_app_context() else False


def check_webhook_url(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not receive webhooks, or None. Private addresses are refused unless allowed (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("Use an http:// or https:// address.")
    if allow_private:
        return None
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return _("Webhooks to private addresses are not allowed.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked again when sending
    if not address.is_global:
        return _("Webhooks to private addresses are not allowed.")
    return None


def _clean(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the rules that need the database; returns the normalised values."""
    from bos.red_flags.indicators import REGISTRY  # noqa: PLC0415 - keeps the indicator registry off import paths

    values = {key: data[key] for key in FIELDS if key in data}
    errors: dict[str, list[str]] = {}
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"] or len(values["name"]) > 200:
            errors["name"] = [_("Between 1 and 200 characters.")]
    if values.get("buyer_id") is not None:
        buyer = session.get(Organisation, values["buyer_id"])
        if buyer is None or not buyer.is_buyer:
            errors["buyer_id"] = [_("No such buyer.")]
    if values.get("region_id") is not None and session.get(Region, values["region_id"]) is None:
        errors["region_id"] = [_("No such region.")]
    if "indicators" in values:
        codes = values["indicators"]
        codes = codes.split() if isinstance(codes, str) else list(codes or [])
        codes = sorted({code.strip().upper() for code in codes if code.strip()})
        unknown = [code for code in codes if code not in REGISTRY]
        if unknown:
            errors["indicators"] = [_("Unknown indicator: %(codes)s", codes=", ".join(unknown))]
        values["indicators"] = " ".join(codes) or None
    for key in ("keyword", "ocid", "webhook_url"):
        if key in values:
            values[key] = (values[key] or "").strip() or None
    if values.get("ocid") and session.scalar(select(Record.id).where(Record.ocid == values["ocid"])) is None:
        errors["ocid"] = [_("No published contracting process has this ocid.")]
    if values.get("min_value") is not None:
        values["min_value"] = Decimal(values["min_value"])
        if values["min_value"] < 0:
            errors["min_value"] = [_("Must not be negative.")]
    if values.get("procurement_category") is not None:
        values["procurement_category"] = ProcurementCategory(values["procurement_category"])
    for key, kind in (("events", EventScope), ("delivery", DeliveryMode)):
        if values.get(key) is not None:
            values[key] = kind(values[key])
    if values.get("webhook_url"):
        problem = check_webhook_url(values["webhook_url"], _allow_private_webhooks())
        if problem:
            errors["webhook_url"] = [problem]
    if errors:
        raise Invalid(_("The subscription is not valid."), errors)
    return values


def create_subscription(
    session: Session, actor: User | None, data: Mapping[str, Any], now: dt.datetime | None = None
) -> NewSubscription:
    """Start following events; it matches only events after now. Returns the private feed token once."""
    owner = _require_owner(actor)
    count = session.scalar(select(func.count()).select_from(Subscription).where(Subscription.user_id == owner.id))
    if (count or 0) >= MAX_SUBSCRIPTIONS_PER_USER:
        raise Invalid(_("You have the maximum number of subscriptions."))
    values = _clean(session, data)
    if not values.get("name"):
        raise Invalid(_("The subscription is not valid."), {"name": [_("Between 1 and 200 characters.")]})
    if "events" not in values or values["events"] is None:
        # Following one process means every change to it; otherwise what the red-flag engine finds.
        values["events"] = EventScope.ALL if values.get("ocid") else EventScope.FLAGS
    token = new_feed_token()
    subscription = Subscription(
        user_id=owner.id,
        feed_token_hash=token_hash(token),
        start_release_id=session.scalar(select(func.max(Release.id))) or 0,
        start_flag_event_id=latest_flag_event_id(session),
        created_at=now or utcnow(),
        **values,
    )
    if subscription.webhook_url:
        subscription.webhook_secret = secrets.token_hex(32)
    session.add(subscription)
    session.flush()
    return NewSubscription(subscription, token)


def update_subscription(
    session: Session, actor: User | None, subscription_id: int, data: Mapping[str, Any]
) -> Subscription:
    subscription = get_subscription(session, actor, subscription_id)
    values = _clean(session, data)
    if "name" in values and not values["name"]:
        raise Invalid(_("The subscription is not valid."), {"name": [_("Between 1 and 200 characters.")]})
    for key, value in values.items():
        setattr(subscription, key, value)
    if subscription.events is None:
        subscription.events = EventScope.FLAGS
    if subscription.delivery is None:
        subscription.delivery = DeliveryMode.IMMEDIATE
    if subscription.webhook_url and not subscription.webhook_secret:
        subscription.webhook_secret = secrets.token_hex(32)
    if not subscription.webhook_url:
        subscription.webhook_secret = None
    session.flush()
    return subscription


def delete_subscription(session: Session, actor: User | None, subscription_id: int) -> None:
    """Delete a subscription with its alerts and unsent messages."""
    subscription = get_subscription(session, actor, subscription_id)
    session.delete(subscription)
    session.flush()


def rotate_feed_token(session: Session, actor: User | None, subscription_id: int) -> str:
    """A new private feed token; the old address stops working at once."""
    subscription = get_subscription(session, actor, subscription_id)
    token = new_feed_token()
    subscription.feed_token_hash = token_hash(token)
    session.flush()
    return token


def revoke_feed_token(session: Session, actor: User | None, subscription_id: int) -> Subscription:
    subscription = get_subscription(session, actor, subscription_id)
    subscription.feed_token_hash = None
    session.flush()
    return subscription


def rotate_webhook_secret(session: Session, actor: User | None, subscription_id: int) -> Subscription:
    subscription = get_subscription(session, actor, subscription_id)
    if not subscription.webhook_url:
        raise Invalid(_("This subscription has no webhook."))
    subscription.webhook_secret = secrets.token_hex(32)
    session.flush()
    return subscription


def subscription_for_feed_token(session: Session, token: str) -> Subscription | None:
    """The subscription of an unrevoked feed token whose owner is still active, or None."""
    if not token.startswith(FEED_TOKEN_PREFIX):
        return None
    subscription = session.scalars(
        select(Subscription).where(Subscription.feed_token_hash == token_hash(token))
    ).one_or_none()
    if subscription is None or not can_own_subscriptions(subscription.user):
        return None
    return subscription


def feed_alerts(session: Session, subscription: Subscription, limit: int = 50) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert).where(Alert.subscription_id == subscription.id).order_by(Alert.id.desc()).limit(limit)
        )
    )


# ------------------------------------------------------------------------------------------------------- inbox


@dataclass(frozen=True)
class InboxPage:
    alerts: list[Alert]
    unread: int
    next_before: int | None  # keyset cursor: pass as ``before`` for the next (older) page


def unread_count(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Alert).where(Alert.user_id == user_id, Alert.read_at.is_(None))
        )
        or 0
    )


def list_inbox(
    session: Session,
    actor: User | None,
    *,
    unread_only: bool = False,
    subscription_id: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> InboxPage:
    """The actor's alerts, newest first, in keyset pages."""
    owner = _require_owner(actor)
    query = select(Alert).where(Alert.user_id == owner.id)
    if unread_only:
        query = query.where(Alert.read_at.is_(None))
    if subscription_id is not None:
        query = query.where(Alert.subscription_id == subscription_id)
    if before is not None:
        query = query.where(Alert.id < before)
    rows = list(session.scalars(query.order_by(Alert.id.desc()).limit(limit + 1)))
    next_before = rows[limit - 1].id if len(rows) > limit else None
    return InboxPage(rows[:limit], unread_count(session, owner.id), next_before)


def mark_read(
    session: Session, actor: User | None, alert_id: int, read: bool = True, now: dt.datetime | None = None
) -> Alert:
    owner = _require_owner(actor)
    alert = session.get(Alert, alert_id)
    if alert is None or alert.user_id != owner.id:
        raise NotFound(_("No such alert."))
    if read and alert.read_at is None:
        alert.read_at = now or utcnow()
    elif not read:
        alert.read_at = None
    session.flush()
    return alert


def mark_all_read(session: Session, actor: User | None, now: dt.datetime | None = None) -> int:
    owner = _require_owner(actor)
    result = session.execute(
        update(Alert)
        .where(Alert.user_id == owner.id, Alert.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -------------------------------------------------------------------------------------------------- deliveries


def list_deliveries(
    session: Session,
    actor: User | None,
    *,
    subscription_id: int | None = None,
    status: DeliveryStatus | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """The actor's outgoing messages, newest first: failed ones are how a monitor learns a channel is broken."""
    owner = _require_owner(actor)
    query = select(Delivery).join(Subscription).where(Subscription.user_id == owner.id)
    if subscription_id is not None:
        query = query.where(Delivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    return list(session.scalars(query.order_by(Delivery.id.desc()).limit(limit)))


def failed_delivery_counts(session: Session, actor: User | None) -> dict[int, int]:
    """Failed messages per subscription of the actor."""
    owner = _require_owner(actor)
    rows = session.execute(
        select(Delivery.subscription_id, func.count())
        .join(Subscription)
        .where(Subscription.user_id == owner.id, Delivery.status == DeliveryStatus.FAILED)
        .group_by(Delivery.subscription_id)
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def retry_delivery(session: Session, actor: User | None, delivery_id: int, now: dt.datetime | None = None) -> Delivery:
    """Queue a failed message again (after the monitor fixed their webhook, say), with a fresh set of attempts."""
    owner = _require_owner(actor)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.subscription.user_id != owner.id:
        raise NotFound(_("No such message."))
    if delivery.status is not DeliveryStatus.FAILED:
        raise Invalid(_("Only a failed message can be retried."))
    if delivery.channel is Channel.WEBHOOK and delivery.subscription.webhook_url:
        delivery.recipient = delivery.subscription.webhook_url  # the monitor may have fixed the address
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now or utcnow()
    session.flush()
    return delivery
