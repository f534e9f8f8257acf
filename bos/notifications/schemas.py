"""Marshmallow schemas of the subscriptions API and forms (shape only; the service checks the database rules)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from bos.enums import ProcurementCategory
from bos.notifications.models import Channel, DeliveryMode, DeliveryStatus, EventScope, EventType


class SubscriptionInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    events = fields.Enum(EventScope, by_value=True, load_default=None, allow_none=True)
    buyer_id = fields.Integer(allow_none=True, metadata={"description": "organisations.id of a buyer"})
    region_id = fields.Integer(allow_none=True, metadata={"description": "the buyer's region or any parent region"})
    indicators = fields.List(
        fields.String(validate=validate.Length(max=16)), validate=validate.Length(max=50), load_default=None
    )
    procurement_category = fields.Enum(ProcurementCategory, by_value=True, allow_none=True)
    min_value = fields.Decimal(allow_none=True, validate=validate.Range(min=0), as_string=False)
    keyword = fields.String(allow_none=True, validate=validate.Length(max=200))
    ocid = fields.String(allow_none=True, validate=validate.Length(max=128))
    delivery = fields.Enum(DeliveryMode, by_value=True, load_default=DeliveryMode.IMMEDIATE)
    email_enabled = fields.Boolean(load_default=True)
    webhook_url = fields.URL(allow_none=True, schemes={"http", "https"}, require_tld=False)

    @pre_load
    def _blank_is_none(self, data: Any, **_kwargs: Any) -> Any:
        # HTML forms send "" for an empty filter: it means "no filter".
        if isinstance(data, dict):
            data = {k: (None if v == "" else v) for k, v in data.items()}
            if isinstance(data.get("indicators"), str):
                data["indicators"] = data["indicators"].replace(",", " ").split()
        return data


class SubscriptionUpdateSchema(SubscriptionInputSchema):
    """Every field optional: load it with ``partial=True``, and only the fields given change."""


class SubscriptionSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    events = fields.Enum(EventScope, by_value=True)
    buyer_id = fields.Integer(allow_none=True)
    region_id = fields.Integer(allow_none=True)
    indicators = fields.Function(lambda s: s.indicator_codes)
    procurement_category = fields.Enum(ProcurementCategory, by_value=True, allow_none=True)
    min_value = fields.Decimal(allow_none=True, as_string=True, places=2)
    keyword = fields.String(allow_none=True)
    ocid = fields.String(allow_none=True)
    delivery = fields.Enum(DeliveryMode, by_value=True)
    email_enabled = fields.Boolean()
    webhook_url = fields.String(allow_none=True)
    webhook_secret = fields.String(
        allow_none=True, metadata={"description": "HMAC-SHA256 key of X-BOS-Signature; only its owner sees it"}
    )
    feed_active = fields.Function(lambda s: s.feed_token_hash is not None)
    created_at = fields.DateTime()


class NewSubscriptionSchema(SubscriptionSchema):
    feed_token = fields.String(metadata={"description": "Shown once: the private Atom feed's secret"})
    feed_url = fields.String()


class FeedTokenSchema(Schema):
    feed_token = fields.String()
    feed_url = fields.String()


class AlertSchema(Schema):
    id = fields.Integer()
    subscription_id = fields.Integer()
    event_type = fields.Enum(EventType, by_value=True)
    event_id = fields.Integer()
    ocid = fields.String(allow_none=True)
    change = fields.String()
    indicator = fields.String(allow_none=True)
    title = fields.String()
    url = fields.String()
    event_at = fields.DateTime()
    created_at = fields.DateTime()
    read = fields.Function(lambda a: a.read_at is not None)
    read_at = fields.DateTime(allow_none=True)


class InboxQuerySchema(Schema):
    unread = fields.Boolean(load_default=False)
    subscription_id = fields.Integer(load_default=None)
    before = fields.Integer(load_default=None, metadata={"description": "keyset cursor: next_before of a page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class InboxPageSchema(Schema):
    alerts = fields.List(fields.Nested(AlertSchema))
    unread = fields.Integer()
    next_before = fields.Integer(allow_none=True)


class ReadInputSchema(Schema):
    read = fields.Boolean(load_default=True)


class DeliveryQuerySchema(Schema):
    subscription_id = fields.Integer(load_default=None)
    status = fields.Enum(DeliveryStatus, by_value=True, load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class DeliverySchema(Schema):
    id = fields.Integer()
    subscription_id = fields.Integer()
    alert_id = fields.Integer(allow_none=True)
    digest_id = fields.Integer(allow_none=True)
    channel = fields.Enum(Channel, by_value=True)
    recipient = fields.String()
    subject = fields.String(allow_none=True)
    status = fields.Enum(DeliveryStatus, by_value=True)
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
