"""The subscriptions API: token-authenticated, the caller's own subscriptions only."""

from __future__ import annotations

import pytest


def test_create_read_update_delete(as_user, client):
    monitor = as_user("monitor")
    response = monitor.post(
        "/api/v1/subscriptions",
        json={
            "name": "Jalan",
            "keyword": "jalan",
            "indicators": ["R018"],
            "min_value": "1000000",
            "delivery": "daily",
        },
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["feed_token"].startswith("bosf_")
    assert created["feed_url"].endswith(f"/feeds/subscriptions/{created['feed_token']}.atom")
    assert created["indicators"] == ["R018"] and created["min_value"] == "1000000.00"

    listed = monitor.get("/api/v1/subscriptions").get_json()
    assert [s["name"] for s in listed] == ["Jalan"] and "feed_token" not in listed[0]

    url = f"/api/v1/subscriptions/{created['id']}"
    changed = monitor.patch(url, json={"keyword": "sekolah"}).get_json()
    assert (changed["keyword"], changed["delivery"]) == ("sekolah", "daily")

    assert client.get(created["feed_url"].removeprefix("http://127.0.0.1:5000")).status_code == 200
    assert monitor.delete(f"{url}/feed-token").status_code == 204
    assert client.get(created["feed_url"].removeprefix("http://127.0.0.1:5000")).status_code == 404
    rotated = monitor.post(f"{url}/feed-token").get_json()
    assert client.get(rotated["feed_url"].removeprefix("http://127.0.0.1:5000")).status_code == 200

    assert monitor.delete(url).status_code == 204
    assert monitor.get(url).status_code == 404


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("contractor", 403), ("officer", 403)])
def test_only_monitors_subscribe(as_user, who, status):
    assert as_user(who).post("/api/v1/subscriptions", json={"name": "x"}).status_code == status
    assert as_user(who).get("/api/v1/subscriptions/inbox").status_code == status


def test_other_users_subscription_is_not_found(as_user):
    created = as_user("monitor").post("/api/v1/subscriptions", json={"name": "mine"}).get_json()
    admin = as_user("admin")
    assert admin.get(f"/api/v1/subscriptions/{created['id']}").status_code == 404
    assert admin.patch(f"/api/v1/subscriptions/{created['id']}", json={"name": "x"}).status_code == 404
    assert admin.delete(f"/api/v1/subscriptions/{created['id']}").status_code == 404
    assert as_user("monitor").get(f"/api/v1/subscriptions/{created['id']}").status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "delivery": "hourly"}, "delivery"),
        ({"name": "x", "min_value": "-1"}, "min_value"),
        ({"name": "x", "indicators": ["NOPE"]}, "indicators"),
        ({"name": "x", "webhook_url": "http://192.168.1.1/hook"}, "webhook_url"),
    ],
)
def test_invalid_input_is_422_with_field_errors(as_user, db_snapshot, payload, field):
    before = db_snapshot()
    response = as_user("monitor").post("/api/v1/subscriptions", json=payload)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert field in (errors.get("json", errors))
    assert db_snapshot() == before


def test_inbox_and_deliveries_are_listed_empty_at_first(as_user):
    monitor = as_user("monitor")
    assert monitor.get("/api/v1/subscriptions/inbox").get_json() == {"alerts": [], "unread": 0, "next_before": None}
    assert monitor.get("/api/v1/subscriptions/deliveries?status=failed").get_json() == []
    assert monitor.post("/api/v1/subscriptions/inbox/read-all").get_json() == {"marked": 0}
    assert monitor.patch("/api/v1/subscriptions/inbox/999999", json={"read": True}).status_code == 404
    assert monitor.post("/api/v1/subscriptions/deliveries/999999/retry").status_code == 404


def test_openapi_documents_the_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/subscriptions" in paths and "/api/v1/subscriptions/inbox" in paths
