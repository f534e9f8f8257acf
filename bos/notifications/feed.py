"""The private Atom 1.0 feed (RFC 4287) of one subscription, built with the standard library."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from urllib.parse import urlsplit

import orjson

from bos.notifications.delivery import alert_headline
from bos.notifications.models import Alert, Subscription

ATOM = "http://www.w3.org/2005/Atom"


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _tag(base_url: str, created: dt.datetime, specific: str) -> str:
    """A tag URI (RFC 4151): permanent, and it reveals neither the feed token nor anything private."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},{created.date().isoformat()}:{specific}"


def _sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def build_feed(
    subscription: Subscription,
    alerts: Sequence[Alert],
    *,
    self_url: str,
    base_url: str,
    title: str,
    author: str,
) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", _tag(base_url, subscription.created_at, f"subscription/{subscription.id}"))
    _sub(feed, "title", title)
    updated = max((alert.created_at for alert in alerts), default=subscription.created_at)
    _sub(feed, "updated", _rfc3339(updated))
    _sub(_sub(feed, "author"), "name", author)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base_url.rstrip('/')}/monitor/inbox")
    _sub(feed, "generator", "BOS")
    for alert in alerts:
        entry = _sub(feed, "entry")
        _sub(entry, "id", _tag(base_url, alert.created_at, f"alert/{alert.id}"))
        _sub(entry, "title", f"{alert_headline(alert)}: {alert.title}")
        _sub(entry, "updated", _rfc3339(alert.created_at))
        _sub(entry, "published", _rfc3339(alert.event_at))
        _sub(entry, "link", rel="alternate", type="text/html", href=alert.url)
        if alert.indicator:
            _sub(entry, "category", term=alert.indicator)
        detail = orjson.loads(alert.detail) if alert.detail else {}
        summary = [alert.ocid or "", str(detail.get("explanation") or "")]
        _sub(entry, "summary", "\n".join(part for part in summary if part), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
