"""The steps whose dates a release history needs: the evaluation report, awarded items, a contract's milestones met
with a payment or on their own, and closing. Each is published once, at its moment, and refused whole when wrong."""

import datetime as dt
from decimal import Decimal

import orjson
from sqlalchemy import select

from bos.ocds.models import Release
from bos.tenders import service as tenders

ITEM = {"description": "Laptop", "classification_id": "45220", "quantity": "3", "unit_name": "unit"}


def releases(db_session, ocid: str) -> list[dict]:
    return [
        orjson.loads(body)
        for body in db_session.scalars(select(Release.json).where(Release.ocid == ocid).order_by(Release.id))
    ]


def two_bids_opened(app, db_session, users, clock, process_at):
    """An open tender with bids from two contractors, its period over and the bids opened (still unevaluated)."""
    ns = process_at("open")
    with app.test_request_context():
        ns.bid2 = tenders.submit_bid(
            db_session,
            users["contractor2"],
            ns.process.id,
            {"value_amount": Decimal(70_000_000), "value_currency": "IDR"},
        )
        clock.advance(days=11)
        tenders.open_bids(db_session, users["officer"], ns.process.id, {})
        db_session.commit()
    return ns


def test_an_evaluation_report_is_one_release_and_refused_whole(
    app, db_session, users, clock, process_at, as_user, db_snapshot
):
    ns = two_bids_opened(app, db_session, users, clock, process_at)
    pid, ocid = ns.process.id, ns.process.ocid
    officer = as_user("officer")
    opened = releases(db_session, ocid)[-1]
    assert {d["status"] for d in opened["bids"]["details"]} == {"pending"}

    # One disqualification without its reason refuses the whole report: nothing evaluated, nothing published.
    before = db_snapshot()
    report = [
        {"bid_id": ns.bid.id, "status": "valid"},
        {"bid_id": ns.bid2.id, "status": "disqualified"},
    ]
    response = officer.post(f"/api/v1/processes/{pid}/bids/evaluation", json={"evaluations": report})
    assert response.status_code == 422
    assert "disqualification_reason" in str(response.get_json()["errors"])
    assert db_snapshot() == before
    # The same bid twice, or a bid of another tender: refused, unchanged.
    twice = [{"bid_id": ns.bid.id, "status": "valid"}, {"bid_id": ns.bid.id, "status": "valid"}]
    assert officer.post(f"/api/v1/processes/{pid}/bids/evaluation", json={"evaluations": twice}).status_code == 422
    stranger = [{"bid_id": ns.bid.id, "status": "valid"}, {"bid_id": 999_999, "status": "valid"}]
    assert officer.post(f"/api/v1/processes/{pid}/bids/evaluation", json={"evaluations": stranger}).status_code == 404
    assert db_snapshot() == before
    # Only the buyer's officer evaluates.
    assert as_user("other_officer").post(
        f"/api/v1/processes/{pid}/bids/evaluation", json={"evaluations": report[:1]}
    ).status_code in (403, 404)

    clock.advance(hours=3)
    count = len(releases(db_session, ocid))
    report[1]["disqualification_reason"] = "Jaminan penawaran tidak sah"
    response = officer.post(f"/api/v1/processes/{pid}/bids/evaluation", json={"evaluations": report})
    assert response.status_code == 200, response.get_json()
    published = releases(db_session, ocid)
    assert len(published) == count + 1  # one report, one release
    assert [r["tag"] for r in published[-2:]] == [["tenderUpdate"], ["tenderUpdate"]]
    details = {d["id"]: d for d in published[-1]["bids"]["details"]}
    assert details[ns.bid.local_id]["status"] == "valid"
    assert details[ns.bid2.local_id] == details[ns.bid2.local_id] | {
        "status": "disqualified",
        "statusDetails": "Jaminan penawaran tidak sah",
    }
    assert published[-1]["date"] == clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The opening release still reads "pending": published data is never edited.
    assert {d["status"] for d in published[-2]["bids"]["details"]} == {"pending"}


def test_award_items_milestones_met_with_a_payment_and_on_their_own(
    app, db_session, users, clock, process_at, as_user, db_snapshot
):
    ns = process_at("opened")
    pid, ocid = ns.process.id, ns.process.ocid
    officer = as_user("officer")
    award = {
        "supplier_ids": [ns.bid.supplier_id],
        "bid_id": ns.bid.id,
        "value_amount": "80000000",
        "rationale": "Penawaran terendah yang memenuhi syarat",
        "items": [ITEM | {"unit_value_amount": "26000000"}],
        "documents": [
            {"title": "Pengumuman pemenang", "url": "https://bos.example/pengumuman.pdf"},
            {"title": "BA hasil evaluasi", "url": "https://bos.example/ba.pdf", "document_type": "evaluationReports"},
        ],
    }
    response = officer.post(f"/api/v1/processes/{pid}/awards", json=award)
    assert response.status_code == 201, response.get_json()
    award_id = response.get_json()["awards"][0]["id"]
    awarded = releases(db_session, ocid)[-1]
    assert awarded["awards"][0]["items"][0]["unit"]["value"] == {"amount": 26000000, "currency": "IDR"}
    kinds = [(d["documentType"], d["url"]) for d in awarded["awards"][0]["documents"]]
    assert kinds == [
        ("awardNotice", "https://bos.example/pengumuman.pdf"),
        ("evaluationReports", "https://bos.example/ba.pdf"),
    ]

    start = clock.now
    contract = {
        "award_id": award_id,
        "value_amount": "80000000",
        "period_start": start.isoformat(),
        "period_end": (start + dt.timedelta(days=90)).isoformat(),
        "milestones": [
            {"title": "Termin 1", "due_date": (start + dt.timedelta(days=30)).isoformat()},
            {"title": "Termin 2", "type": "payment", "due_date": (start + dt.timedelta(days=60)).isoformat()},
        ],
    }
    body = officer.post(f"/api/v1/processes/{pid}/contracts", json=contract).get_json()
    cid = body["contracts"][0]["id"]
    assert officer.post(f"/api/v1/processes/{pid}/contracts/{cid}/signature", json={}).status_code == 200
    signed = releases(db_session, ocid)[-1]
    milestones = signed["contracts"][0]["implementation"]["milestones"]
    assert [(m["title"], m["status"]) for m in milestones] == [("Termin 1", "scheduled"), ("Termin 2", "scheduled")]
    first, second = body_milestones = officer.get(f"/api/v1/processes/{pid}").get_json()["contracts"][0]["milestones"]
    assert len(body_milestones) == 2

    base = f"/api/v1/processes/{pid}/contracts/{cid}"
    before = db_snapshot()
    response = officer.post(f"{base}/transactions", json={"value_amount": "40000000", "milestone_id": 999_999})
    assert response.status_code == 422 and "milestone_id" in response.get_json()["errors"]
    assert db_snapshot() == before

    clock.advance(days=30)
    response = officer.post(f"{base}/transactions", json={"value_amount": "40000000", "milestone_id": first["id"]})
    assert response.status_code == 201, response.get_json()
    paid = releases(db_session, ocid)[-1]
    assert paid["tag"] == ["implementation"]
    milestones = paid["contracts"][0]["implementation"]["milestones"]
    assert milestones[0]["status"] == "met" and milestones[0]["dateMet"] == paid["date"]
    assert milestones[1]["status"] == "scheduled"

    clock.advance(days=20)
    response = officer.post(f"{base}/milestones/{second['id']}/met", json={})
    assert response.status_code == 200, response.get_json()
    met = releases(db_session, ocid)[-1]
    assert met["tag"] == ["implementationUpdate"]
    assert met["contracts"][0]["implementation"]["milestones"][1]["dateMet"] == met["date"]
    # Met once: again is a conflict, and changes nothing.
    before = db_snapshot()
    assert officer.post(f"{base}/milestones/{second['id']}/met", json={}).status_code == 409
    assert db_snapshot() == before

    clock.advance(days=5)
    assert officer.post(f"{base}/transactions", json={"value_amount": "40000000"}).status_code == 201
    clock.advance(days=1)
    assert officer.post(f"{base}/completion", json={}).status_code == 200
    history = releases(db_session, ocid)
    # The tender reads "complete" from the closing release on, not before; the contract "terminated" likewise.
    assert [r["tender"]["status"] for r in history[-2:]] == ["active", "complete"]
    assert [r["contracts"][0]["status"] for r in history[-2:]] == ["active", "terminated"]
