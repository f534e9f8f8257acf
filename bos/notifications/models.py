"""Subscriptions, alerts, digests, the delivery outbox and the event cursors of the matching job."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bos.accounts.models import User
from bos.db import Base, utcnow
from bos.enums import ProcurementCategory, db_enum
from bos.parties.models import Organisation, Region


class EventScope(enum.StrEnum):
    """Which events a subscription follows."""

    FLAGS = "flags"  # red flags raised or cleared
    CHANGES = "changes"  # every new release of a matching process
    ALL = "all"


class DeliveryMode(enum.StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


class EventType(enum.StrEnum):
    RELEASE = "release"  # a row of ``releases``
    FLAG = "flag"  # a row of ``flag_events``


class Channel(enum.StrEnum):
    """Channels that push through the outbox. The inbox and the Atom feed read alerts directly."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # every attempt failed; shown to the monitor, who may retry it


class Subscription(Base):
    """A monitor's standing question. Filters combine with AND; an empty filter matches everything.

    ``start_release_id`` and ``start_flag_event_id`` are the highest event ids when the subscription was created:
    it matches only later events, so a new subscription is not flooded with history.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (CheckConstraint("min_value IS NULL OR min_value >= 0", name="min_value_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    events: Mapped[EventScope] = mapped_column(db_enum(EventScope, "subscription_events"), default=EventScope.FLAGS)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    indicators: Mapped[str | None] = mapped_column(String(500))  # space-separated indicator codes
    procurement_category: Mapped[ProcurementCategory | None] = mapped_column(
        db_enum(ProcurementCategory, "subscription_category")
    )
    min_value: Mapped[Decimal | None]
    keyword: Mapped[str | None] = mapped_column(String(200))
    ocid: Mapped[str | None] = mapped_column(String(128), index=True)  # "any change to this process"
    delivery: Mapped[DeliveryMode] = mapped_column(
        db_enum(DeliveryMode, "subscription_delivery"), default=DeliveryMode.IMMEDIATE
    )
    email_enabled: Mapped[bool] = mapped_column(default=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # Kept readable (not hashed): every webhook call is signed with it. Shown only to the owner.
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    # SHA-256 of the private Atom feed token; NULL when revoked. The token is random, so a fast hash suffices.
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    start_release_id: Mapped[int] = mapped_column(default=0)
    start_flag_event_id: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    buyer: Mapped[Organisation | None] = relationship()
    region: Mapped[Region | None] = relationship()

    @property
    def indicator_codes(self) -> list[str]:
        return (self.indicators or "").split()


class Digest(Base):
    """One digest message of a daily or weekly subscription: at most one per period."""

    __tablename__ = "notification_digests"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    mode: Mapped[DeliveryMode] = mapped_column(db_enum(DeliveryMode, "digest_mode"))
    period_start: Mapped[dt.datetime]
    period_end: Mapped[dt.datetime]
    alert_count: Mapped[int] = mapped_column(default=0)
    # The weekly watchdog report: its archive id, and the PDF itself, so the outbox row can be sent (and retried)
    # without depending on the report archive's layout.
    report_id: Mapped[int | None]
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    subscription: Mapped[Subscription] = relationship()


class Alert(Base):
    """One event that matched one subscription: the inbox entry, the feed entry and the source of every message."""

    __tablename__ = "alerts"
    __table_args__ = (
        # The guard that makes matching idempotent: a re-run can never alert twice for the same event.
        UniqueConstraint("subscription_id", "event_type", "event_id"),
        Index("ix_alerts_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_type: Mapped[EventType] = mapped_column(db_enum(EventType, "alert_event_type"))
    event_id: Mapped[int]
    ocid: Mapped[str | None] = mapped_column(String(128))  # None for a flag on an organisation
    # What happened: "raised" or "cleared" for a flag, the release tags for a change.
    change: Mapped[str] = mapped_column(String(200))
    indicator: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))  # the process (or organisation) when the event was matched
    url: Mapped[str] = mapped_column(String(2000))  # where the monitor reads more, absolute
    detail: Mapped[str | None] = mapped_column(Text)  # JSON: explanation, evidence, values
    event_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_digests.id", ondelete="SET NULL"), index=True
    )

    subscription: Mapped[Subscription] = relationship()


class Delivery(Base):
    """The outbox: one message to send on one channel, written with its alert or digest, sent by a job."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel"),
        UniqueConstraint("digest_id", "channel"),
        CheckConstraint("(alert_id IS NULL) <> (digest_id IS NULL)", name="one_source"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("notification_digests.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(db_enum(Channel, "delivery_channel"))
    recipient: Mapped[str] = mapped_column(String(2000))  # email address or webhook URL, as when queued
    subject: Mapped[str | None] = mapped_column(String(500))
    # Frozen when queued, so every retry sends the same message (webhook receivers dedupe on X-BOS-Delivery).
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        db_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    subscription: Mapped[Subscription] = relationship()
    alert: Mapped[Alert | None] = relationship()
    digest: Mapped[Digest | None] = relationship()


class EventCursor(Base):
    """How far one consumer has read an append-only table, by id (never by timestamp).

    ``gaps`` (JSON: id -> first seen) are ids below ``last_id`` not yet seen: on PostgreSQL a transaction may
    commit after one holding a higher id, so such ids are re-checked until a grace period passes.
    """

    __tablename__ = "event_cursors"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(default=0)
    gaps: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
