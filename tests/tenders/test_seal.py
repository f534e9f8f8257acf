"""Sealed bids: until opening, no read path shows a bid's value or the bidder list; only the count."""

import orjson
from sqlalchemy import select

from bos.accounts.models import AuditEntry
from bos.ocds.models import Record, Release

SECRET_PRICE = "87654321"


def sealed_process(process_at, as_user):
    ns = process_at("open")
    response = as_user("contractor2").post(
        f"/api/v1/processes/{ns.process.id}/bids", json={"value_amount": SECRET_PRICE}
    )
    assert response.status_code == 201
    return ns


def assert_no_bid_data(text, users):
    assert SECRET_PRICE not in text and "87.654.321" not in text and "87,654,321" not in text
    assert "80000000" not in text and "80.000.000" not in text  # the contractor's bid from process_at
    for org in ("CV Satu Jaya", "PT Dua Karya", "01.111.111.1-601.000", "02.222.222.2-601.000"):
        assert org not in text


def test_api_reads_keep_the_seal_for_every_role(process_at, as_user, users):
    ns = sealed_process(process_at, as_user)
    pid = ns.process.id
    for role in ("officer", "admin", "monitor", "contractor3", None):
        for path in (f"/api/v1/processes/{pid}", f"/api/v1/processes/{pid}/bids", "/api/v1/processes"):
            response = as_user(role).get(path)
            assert response.status_code == 200
            assert_no_bid_data(response.get_data(as_text=True), users)
        assert as_user(role).get(f"/api/v1/processes/{pid}/bids").get_json() == {
            "sealed": True,
            "count": 2,
            "bids": [],
        }


def test_a_contractor_sees_only_their_own_sealed_bid(process_at, as_user):
    ns = sealed_process(process_at, as_user)
    listing = as_user("contractor2").get(f"/api/v1/processes/{ns.process.id}/bids").get_json()
    assert listing["sealed"] and listing["count"] == 2
    assert [b["value_amount"] for b in listing["bids"]] == [f"{SECRET_PRICE}.00"]
    assert listing["bids"][0]["supplier"]["name"] == "PT Dua Karya"


def test_pages_keep_the_seal_for_every_role(process_at, as_user, web_login, client, users):
    ns = sealed_process(process_at, as_user)
    pid = ns.process.id
    html = client.get(f"/processes/{pid}?lang=en").get_data(as_text=True)
    assert "Bids received so far: 2" in html
    assert_no_bid_data(html, users)
    for role in ("officer", "admin", "monitor", "contractor3"):
        web = web_login(role)
        for path in (f"/processes/{pid}", f"/manage/processes/{pid}", "/", "/manage"):
            assert_no_bid_data(web.get(path).get_data(as_text=True), users)


def test_releases_records_and_audit_log_keep_the_seal(process_at, as_user, db_session, users):
    ns = sealed_process(process_at, as_user)
    ocid = ns.process.ocid
    for body in db_session.scalars(select(Release.json).where(Release.ocid == ocid)):
        release = orjson.loads(body)
        assert "bids" not in release and "tenderers" not in release.get("tender", {})
        assert_no_bid_data(body, users)
    assert_no_bid_data(db_session.scalars(select(Record.compiled).where(Record.ocid == ocid)).one(), users)
    for detail in db_session.scalars(select(AuditEntry.detail).where(AuditEntry.process_id == ns.process.id)):
        assert detail is None or SECRET_PRICE not in detail


def test_offline_bids_only_after_opening(process_at, as_user, parties, db_snapshot):
    ns = process_at("closed")
    before = db_snapshot()
    body = {"supplier_id": parties.offline.id, "value_amount": "5", "date": "2026-11-24T00:00:00+00:00"}
    response = as_user("officer").post(f"/api/v1/processes/{ns.process.id}/bids/offline", json=body)
    assert response.status_code == 409 and "opened" in response.get_json()["message"]
    assert db_snapshot() == before


def test_bids_are_refused_after_the_deadline(process_at, as_user, db_snapshot):
    ns = process_at("closed")
    before = db_snapshot()
    response = as_user("contractor2").post(f"/api/v1/processes/{ns.process.id}/bids", json={"value_amount": "5"})
    assert response.status_code == 409
    response = as_user("contractor").put(
        f"/api/v1/processes/{ns.process.id}/bids/{ns.bid.id}", json={"value_amount": "5"}
    )
    assert response.status_code == 409
    assert db_snapshot() == before


def test_opening_publishes_every_bid(process_at, as_user, db_session):
    ns = process_at("opened")
    listing = as_user(None).get(f"/api/v1/processes/{ns.process.id}/bids").get_json()
    assert not listing["sealed"] and listing["bids"][0]["supplier"]["name"] == "CV Satu Jaya"
    release = orjson.loads(
        db_session.scalars(
            select(Release.json).where(Release.ocid == ns.process.ocid).order_by(Release.id.desc())
        ).first()
    )
    assert release["bids"]["details"][0]["value"]["amount"] == 80000000
