"""Monitor pages through the real login form (with CSRF), and the private Atom feed."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from bos.notifications.models import Alert, EventType, Subscription

ATOM = "{http://www.w3.org/2005/Atom}"


def create_by_form(web, extract_csrf, **fields):
    token = extract_csrf(web.get("/monitor/subscriptions").get_data(as_text=True))
    return web.post("/monitor/subscriptions", data={"csrf_token": token, "delivery": "immediate", **fields})


def test_monitor_creates_a_subscription_and_sees_its_feed_address_once(web_login, extract_csrf, client, db_session):
    web = web_login("monitor")
    response = create_by_form(web, extract_csrf, name="Jalan desa", keyword="jalan", email_enabled="on")
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    feed_url = re.search(r"<code>(http[^<]+\.atom)</code>", html).group(1)
    assert "Jalan desa" in html
    assert feed_url not in web.get("/monitor/subscriptions").get_data(as_text=True)  # shown once

    subscription = db_session.scalars(select(Subscription)).one()
    assert (subscription.keyword, subscription.email_enabled) == ("jalan", True)
    path = feed_url.removeprefix("http://127.0.0.1:5000")
    assert client.get(path).status_code == 200


def test_form_errors_are_shown_and_nothing_is_saved(web_login, extract_csrf, db_session):
    web = web_login("monitor")
    response = create_by_form(web, extract_csrf, name="x", min_value="-5")
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    assert db_session.scalars(select(Subscription)).all() == []


def test_form_without_csrf_token_is_refused(web_login, db_session):
    response = web_login("monitor").post("/monitor/subscriptions", data={"name": "x"})
    assert response.status_code == 400
    assert db_session.scalars(select(Subscription)).all() == []


@pytest.mark.parametrize("who", ["contractor", "officer"])
def test_pages_refuse_other_roles(web_login, who):
    assert web_login(who).get("/monitor/subscriptions").status_code == 403
    assert web_login(who).get("/monitor/inbox").status_code == 403


def test_pages_need_login(client):
    assert client.get("/monitor/subscriptions").status_code == 302
    assert client.get("/monitor/inbox").status_code == 302


def test_inbox_marks_read_and_detail_page_revokes_the_feed(web_login, extract_csrf, client, db_session):
    web = web_login("monitor")
    html = create_by_form(web, extract_csrf, name="Semua").get_data(as_text=True)
    feed_path = re.search(r"<code>http://[^/]+(/feeds/[^<]+)</code>", html).group(1)
    subscription = db_session.scalars(select(Subscription)).one()
    db_session.add(
        Alert(
            subscription_id=subscription.id, user_id=subscription.user_id, event_type=EventType.FLAG, event_id=1,
            ocid="ocds-test00-9", change="raised", indicator="R018", title="Pengadaan <b>uji</b>", url="http://x/p",
            event_at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
        )
    )  # fmt: skip
    db_session.commit()

    page = web.get("/monitor/inbox?lang=en").get_data(as_text=True)
    assert 'id="unread-count">1<' in page and "R018" in page
    assert "Pengadaan &lt;b&gt;uji&lt;/b&gt;" in page  # escaped
    alert = db_session.scalars(select(Alert)).one()
    token = extract_csrf(page)
    assert web.post(f"/monitor/inbox/{alert.id}/read", data={"csrf_token": token}).status_code == 302
    assert 'id="unread-count">0<' in web.get("/monitor/inbox").get_data(as_text=True)

    feed = client.get(feed_path)
    root = ET.fromstring(feed.data)  # noqa: S314 - our own feed
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith(feed_path)
    entry = root.find(f"{ATOM}entry")
    for required in ("id", "title", "updated", "link"):
        assert entry.find(f"{ATOM}{required}") is not None
    assert entry.findtext(f"{ATOM}id").startswith("tag:")
    assert feed.headers["Referrer-Policy"] == "no-referrer"

    detail = web.get(f"/monitor/subscriptions/{subscription.id}").get_data(as_text=True)
    token = extract_csrf(detail)
    revoke = web.post(f"/monitor/subscriptions/{subscription.id}/feed-token/revoke", data={"csrf_token": token})
    assert revoke.status_code == 302
    assert client.get(feed_path).status_code == 404


def test_another_monitors_subscription_page_is_404(web_login, extract_csrf, db_session):
    web = web_login("monitor")
    create_by_form(web, extract_csrf, name="Mine")
    subscription = db_session.scalars(select(Subscription)).one()
    assert web_login("admin").get(f"/monitor/subscriptions/{subscription.id}").status_code == 404


def test_feed_with_unknown_token_is_404(client):
    assert client.get("/feeds/subscriptions/bosf_nothing.atom").status_code == 404
    assert client.get("/feeds/subscriptions/whatever.atom").status_code == 404
