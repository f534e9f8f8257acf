"""Monitor pages (subscriptions, inbox, message status) and the private Atom feed of a subscription."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from marshmallow import ValidationError
from sqlalchemy import select

from bos.accounts.auth import web_actor
from bos.db import get_session
from bos.enums import OrganisationKind, ProcurementCategory
from bos.exceptions import Invalid
from bos.notifications import service
from bos.notifications.delivery import alert_headline
from bos.notifications.feed import build_feed
from bos.notifications.models import DeliveryMode, EventScope, Subscription
from bos.notifications.schemas import SubscriptionInputSchema
from bos.parties.models import Organisation, Region

bp = Blueprint("notifications", __name__)

FEED_LIMIT = 50


def _feed_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/feeds/subscriptions/{token}.atom"


def _form_data() -> dict[str, Any]:
    form = request.form
    data: dict[str, Any] = {
        key: form.get(key)
        for key in (
            "name",
            "events",
            "buyer_id",
            "region_id",
            "procurement_category",
            "min_value",
            "keyword",
            "ocid",
            "delivery",
            "webhook_url",
        )
    }
    data["indicators"] = [code for value in form.getlist("indicators") for code in value.replace(",", " ").split()]
    data["email_enabled"] = form.get("email_enabled") == "on"
    return data


def _choices() -> dict[str, Any]:
    from bos.red_flags.indicators import REGISTRY  # noqa: PLC0415

    session = get_session()
    return {
        "buyers": session.scalars(
            select(Organisation).where(Organisation.kind != OrganisationKind.SUPPLIER).order_by(Organisation.name)
        ).all(),
        "regions": session.scalars(select(Region).order_by(Region.code)).all(),
        "indicators": sorted(REGISTRY.values(), key=lambda i: i.code),
        "categories": list(ProcurementCategory),
        "scopes": list(EventScope),
        "modes": list(DeliveryMode),
    }


def _list_page(status: int = 200, **extra: Any) -> tuple[str, int]:
    actor = web_actor()
    session = get_session()
    context = {
        "subscriptions": service.list_subscriptions(session, actor),
        "failed": service.failed_delivery_counts(session, actor),
        "form": {},
        "errors": {},
        "new_token": None,
        "new_subscription": None,
        **_choices(),
        **extra,
    }
    return render_template("notifications/subscriptions.html", **context), status


def _detail_page(subscription: Subscription, status: int = 200, **extra: Any) -> tuple[str, int]:
    actor = web_actor()
    context = {
        "subscription": subscription,
        "deliveries": service.list_deliveries(get_session(), actor, subscription_id=subscription.id, limit=50),
        "form": {},
        "errors": {},
        "new_token": None,
        **_choices(),
        **extra,
    }
    return render_template("notifications/subscription.html", **context), status


def _load(partial: bool) -> dict[str, Any]:
    try:
        return SubscriptionInputSchema(partial=partial).load(_form_data())
    except ValidationError as exc:
        raise Invalid(_("The subscription is not valid."), exc.normalized_messages()) from exc  # type: ignore[arg-type]


@bp.get("/monitor/subscriptions")
@login_required
def subscriptions() -> Any:
    return _list_page()


@bp.post("/monitor/subscriptions")
@login_required
def create() -> Any:
    try:
        created = service.create_subscription(get_session(), web_actor(), _load(partial=False))
    except Invalid as exc:
        return _list_page(422, form=request.form, errors=exc.errors or {"": [exc.message]})
    # The feed token is shown on this page only; it is stored hashed.
    return _list_page(201, new_token=_feed_url(created.feed_token), new_subscription=created.subscription)


@bp.get("/monitor/subscriptions/<int:subscription_id>")
@login_required
def detail(subscription_id: int) -> Any:
    return _detail_page(service.get_subscription(get_session(), web_actor(), subscription_id))


@bp.post("/monitor/subscriptions/<int:subscription_id>")
@login_required
def update(subscription_id: int) -> Any:
    session = get_session()
    subscription = service.get_subscription(session, web_actor(), subscription_id)
    try:
        service.update_subscription(session, web_actor(), subscription_id, _load(partial=True))
    except Invalid as exc:
        return _detail_page(subscription, 422, form=request.form, errors=exc.errors or {"": [exc.message]})
    flash(_("The subscription was saved."))
    return redirect(url_for("notifications.detail", subscription_id=subscription_id))


@bp.post("/monitor/subscriptions/<int:subscription_id>/delete")
@login_required
def delete(subscription_id: int) -> Any:
    service.delete_subscription(get_session(), web_actor(), subscription_id)
    flash(_("The subscription was deleted."))
    return redirect(url_for("notifications.subscriptions"))


@bp.post("/monitor/subscriptions/<int:subscription_id>/feed-token")
@login_required
def rotate_feed(subscription_id: int) -> Any:
    session = get_session()
    token = service.rotate_feed_token(session, web_actor(), subscription_id)
    subscription = service.get_subscription(session, web_actor(), subscription_id)
    return _detail_page(subscription, new_token=_feed_url(token))


@bp.post("/monitor/subscriptions/<int:subscription_id>/feed-token/revoke")
@login_required
def revoke_feed(subscription_id: int) -> Any:
    service.revoke_feed_token(get_session(), web_actor(), subscription_id)
    flash(_("The feed address was revoked."))
    return redirect(url_for("notifications.detail", subscription_id=subscription_id))


@bp.post("/monitor/subscriptions/<int:subscription_id>/webhook-secret")
@login_required
def rotate_secret(subscription_id: int) -> Any:
    service.rotate_webhook_secret(get_session(), web_actor(), subscription_id)
    flash(_("A new webhook secret was made."))
    return redirect(url_for("notifications.detail", subscription_id=subscription_id))


@bp.post("/monitor/deliveries/<int:delivery_id>/retry")
@login_required
def retry(delivery_id: int) -> Any:
    delivery = service.retry_delivery(get_session(), web_actor(), delivery_id)
    flash(_("The message will be sent again."))
    return redirect(url_for("notifications.detail", subscription_id=delivery.subscription_id))


@bp.get("/monitor/inbox")
@login_required
def inbox() -> Any:
    before = request.args.get("before", type=int)
    unread_only = request.args.get("unread") == "1"
    page = service.list_inbox(get_session(), web_actor(), unread_only=unread_only, before=before)
    return render_template(
        "notifications/inbox.html",
        page=page,
        unread_only=unread_only,
        headlines={alert.id: alert_headline(alert) for alert in page.alerts},
    )


@bp.post("/monitor/inbox/<int:alert_id>/read")
@login_required
def mark_read(alert_id: int) -> Any:
    service.mark_read(get_session(), web_actor(), alert_id, read=request.form.get("read", "1") == "1")
    return redirect(url_for("notifications.inbox"))


@bp.post("/monitor/inbox/read-all")
@login_required
def mark_all_read() -> Any:
    service.mark_all_read(get_session(), web_actor())
    return redirect(url_for("notifications.inbox"))


@bp.get("/feeds/subscriptions/<token>.atom")
def feed(token: str) -> Response:
    """The private feed: anyone with the address reads it (feed readers cannot sign in), until it is revoked."""
    session = get_session()
    subscription = service.subscription_for_feed_token(session, token)
    if subscription is None:
        abort(404)
    body = build_feed(
        subscription,
        service.feed_alerts(session, subscription, FEED_LIMIT),
        self_url=_feed_url(token),
        base_url=current_app.config["PUBLIC_BASE_URL"],
        title=f"BOS: {subscription.name}",
        author=current_app.config["PUBLISHER_NAME"],
    )
    response = Response(body, mimetype="application/atom+xml")
    response.headers["Cache-Control"] = "private, max-age=60"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL is the secret: never leak it onwards
    return response
