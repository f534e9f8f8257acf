"""JSON API of a monitor's subscriptions, inbox and message status (token-authenticated, the caller's own only)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from bos.accounts.auth import require_api_actor
from bos.db import get_session
from bos.extensions import csrf
from bos.notifications import service
from bos.notifications.models import Delivery, Subscription
from bos.notifications.schemas import (
    AlertSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    FeedTokenSchema,
    InboxPageSchema,
    InboxQuerySchema,
    NewSubscriptionSchema,
    ReadInputSchema,
    SubscriptionInputSchema,
    SubscriptionSchema,
    SubscriptionUpdateSchema,
)

blp = Blueprint(
    "notifications_api",
    __name__,
    url_prefix="/api/v1/subscriptions",
    description="A monitor's subscriptions to red flags and process changes, their inbox and message status.",
)
# Token-authenticated only (never by cookie), so exempt from CSRF: see bos.accounts.auth.
csrf.exempt(blp)

ERRORS = (401, 403, 404, 422)


def _errors(fn: Any) -> Any:
    for status in ERRORS:
        fn = blp.alt_response(status, description="Error (JSON body with message and field errors)")(fn)
    return fn


def feed_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/feeds/subscriptions/{token}.atom"


class _WithToken:
    """A subscription plus its new feed token, for a response that shows the token once."""

    def __init__(self, subscription: Subscription, token: str) -> None:
        self._subscription = subscription
        self.feed_token = token
        self.feed_url = feed_url(token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._subscription, name)


@blp.route("")
class Subscriptions(MethodView):
    @blp.response(200, SubscriptionSchema(many=True))
    @_errors
    def get(self) -> list[Subscription]:
        """Your subscriptions."""
        return service.list_subscriptions(get_session(), require_api_actor())

    @blp.arguments(SubscriptionInputSchema)
    @blp.response(201, NewSubscriptionSchema)
    @_errors
    def post(self, data: dict[str, Any]) -> _WithToken:
        """Subscribe (monitors and administrators). The private feed token is in this response only."""
        created = service.create_subscription(get_session(), require_api_actor(), data)
        return _WithToken(created.subscription, created.feed_token)


@blp.route("/<int:subscription_id>")
class SubscriptionDetail(MethodView):
    @blp.response(200, SubscriptionSchema)
    @_errors
    def get(self, subscription_id: int) -> Subscription:
        return service.get_subscription(get_session(), require_api_actor(), subscription_id)

    @blp.arguments(SubscriptionUpdateSchema(partial=True))
    @blp.response(200, SubscriptionSchema)
    @_errors
    def patch(self, data: dict[str, Any], subscription_id: int) -> Subscription:
        """Change some fields; the others stay."""
        return service.update_subscription(get_session(), require_api_actor(), subscription_id, data)

    @blp.response(204)
    @_errors
    def delete(self, subscription_id: int) -> None:
        """Delete the subscription with its alerts and unsent messages."""
        service.delete_subscription(get_session(), require_api_actor(), subscription_id)


@blp.route("/<int:subscription_id>/feed-token")
class FeedToken(MethodView):
    @blp.response(201, FeedTokenSchema)
    @_errors
    def post(self, subscription_id: int) -> dict[str, str]:
        """A new private Atom feed address; the old one stops working."""
        token = service.rotate_feed_token(get_session(), require_api_actor(), subscription_id)
        return {"feed_token": token, "feed_url": feed_url(token)}

    @blp.response(204)
    @_errors
    def delete(self, subscription_id: int) -> None:
        """Revoke the feed: its address answers 404 from now on."""
        service.revoke_feed_token(get_session(), require_api_actor(), subscription_id)


@blp.route("/<int:subscription_id>/webhook-secret")
class WebhookSecret(MethodView):
    @blp.response(201, SubscriptionSchema)
    @_errors
    def post(self, subscription_id: int) -> Subscription:
        """A new webhook signing secret (messages already queued are signed with it too)."""
        return service.rotate_webhook_secret(get_session(), require_api_actor(), subscription_id)


@blp.route("/inbox")
class Inbox(MethodView):
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxPageSchema)
    @_errors
    def get(self, args: dict[str, Any]) -> service.InboxPage:
        """Your alerts, newest first, in keyset pages (``before`` = ``next_before`` of the previous page)."""
        return service.list_inbox(
            get_session(),
            require_api_actor(),
            unread_only=args["unread"],
            subscription_id=args["subscription_id"],
            before=args["before"],
            limit=args["limit"],
        )


@blp.route("/inbox/<int:alert_id>")
class InboxAlert(MethodView):
    @blp.arguments(ReadInputSchema)
    @blp.response(200, AlertSchema)
    @_errors
    def patch(self, data: dict[str, Any], alert_id: int) -> Any:
        """Mark an alert read (``{"read": true}``) or unread."""
        return service.mark_read(get_session(), require_api_actor(), alert_id, data["read"])


@blp.route("/inbox/read-all")
class InboxReadAll(MethodView):
    @blp.response(200)
    @_errors
    def post(self) -> dict[str, int]:
        """Mark every alert read."""
        return {"marked": service.mark_all_read(get_session(), require_api_actor())}


@blp.route("/deliveries")
class Deliveries(MethodView):
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    @_errors
    def get(self, args: dict[str, Any]) -> list[Delivery]:
        """Your mail and webhook messages and their status (``failed`` ones need your attention)."""
        return service.list_deliveries(
            get_session(),
            require_api_actor(),
            subscription_id=args["subscription_id"],
            status=args["status"],
            limit=args["limit"],
        )


@blp.route("/deliveries/<int:delivery_id>/retry")
class DeliveryRetry(MethodView):
    @blp.response(200, DeliverySchema)
    @_errors
    def post(self, delivery_id: int) -> Delivery:
        """Queue a failed message again, with a fresh set of attempts."""
        return service.retry_delivery(get_session(), require_api_actor(), delivery_id)
