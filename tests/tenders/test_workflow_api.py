"""A process walked through every stage via the JSON API, checking the release written at each step."""

import datetime as dt

import orjson
from sqlalchemy import func, select

from bos.accounts.models import AuditEntry
from bos.ocds.models import Release
from bos.tenders.models import Bid, Process

UTC = dt.UTC


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def release_tags(db_session, ocid: str) -> list[list[str]]:
    return [
        r.split() for r in db_session.scalars(select(Release.tags).where(Release.ocid == ocid).order_by(Release.id))
    ]


def last_release(db_session, ocid: str) -> dict:
    body = db_session.scalars(select(Release.json).where(Release.ocid == ocid).order_by(Release.id.desc())).first()
    return orjson.loads(body)


def plan_payload(**overrides):
    return {
        "title": "Rehabilitasi Jalan Desa Ngasem",
        "project": "Program Jalan Desa 2026",
        "rup_code": "40001234",
        "budget_amount": "500000000.00",
        "budget_source": "APBD",
        "fiscal_year": 2026,
        "rationale": "Jalan rusak berat",
    } | overrides


def tender_payload(clock, **overrides):
    return {
        "title": "Rehabilitasi Jalan Desa Ngasem",
        "procurement_method": "open",
        "procurement_method_details": "Tender",
        "main_procurement_category": "works",
        "value_amount": "450000000.00",
        "tender_period_start": iso(clock.now),
        "tender_period_end": iso(clock.now + dt.timedelta(days=10)),
        "items": [
            {"description": "Pengaspalan jalan", "classification_id": "53211", "quantity": "1", "unit_name": "paket"}
        ],
    } | overrides


def test_full_walk_through_every_stage(as_user, users, parties, clock, db_session):
    officer, anon = as_user("officer"), as_user(None)

    # Plan: a private draft, then published (planning).
    response = officer.post("/api/v1/processes", json=plan_payload())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    pid, ocid = body["id"], body["ocid"]
    assert anon.get(f"/api/v1/processes/{pid}").status_code == 404  # drafts are private
    assert release_tags(db_session, ocid) == []
    body = officer.post(f"/api/v1/processes/{pid}/planning/publish", json={"version": body["version"]}).get_json()
    assert release_tags(db_session, ocid) == [["planning"]]
    assert anon.get(f"/api/v1/processes/{pid}").status_code == 200

    # Tender: a draft invisible to the public, then published (tender).
    body = officer.post(
        f"/api/v1/processes/{pid}/tender", json=tender_payload(clock, version=body["version"])
    ).get_json()
    assert body["tender"]["status"] == "planning"
    assert anon.get(f"/api/v1/processes/{pid}").get_json()["tender"] is None
    body = officer.post(f"/api/v1/processes/{pid}/tender/publish", json={"version": body["version"]}).get_json()
    assert body["stage"] == "open"
    assert release_tags(db_session, ocid)[-1] == ["tender"]

    # Sealed bids: submit, replace, withdraw. No release while sealed.
    bid1 = as_user("contractor").post(f"/api/v1/processes/{pid}/bids", json={"value_amount": "400000000"}).get_json()
    bid2 = as_user("contractor2").post(f"/api/v1/processes/{pid}/bids", json={"value_amount": "430000000"})
    assert bid2.status_code == 201
    bid2 = bid2.get_json()
    replaced = as_user("contractor2").put(
        f"/api/v1/processes/{pid}/bids/{bid2['id']}", json={"value_amount": "410000000"}
    )
    assert replaced.status_code == 200 and replaced.get_json()["value_amount"] == "410000000.00"
    bid3 = as_user("contractor3").post(f"/api/v1/processes/{pid}/bids", json={"value_amount": "300000000"}).get_json()
    assert as_user("contractor3").post(f"/api/v1/processes/{pid}/bids/{bid3['id']}/withdraw").status_code == 200
    assert release_tags(db_session, ocid)[-1] == ["tender"]
    listing = anon.get(f"/api/v1/processes/{pid}/bids").get_json()
    assert listing == {"sealed": True, "count": 2, "bids": []}

    # Amendment: a deadline extension with its rationale (tenderAmendment).
    version = anon.get(f"/api/v1/processes/{pid}").get_json()["version"]
    new_end = clock.now + dt.timedelta(days=14)
    response = officer.post(
        f"/api/v1/processes/{pid}/tender/amendments",
        json={
            "version": version,
            "rationale": "Permintaan klarifikasi dari calon penyedia",
            "tender_period_end": iso(new_end),
        },
    )
    assert response.status_code == 201, response.get_json()
    assert release_tags(db_session, ocid)[-1] == ["tenderAmendment"]
    release = last_release(db_session, ocid)
    assert release["tender"]["amendments"][0]["rationale"] == "Permintaan klarifikasi dari calon penyedia"
    assert "bids" not in release and "tenderers" not in release["tender"]

    # Award before the tender closes: 409 with the reason.
    award = {
        "supplier_ids": [parties.supplier.id],
        "bid_id": bid1["id"],
        "value_amount": "400000000",
        "rationale": "Terendah",
    }
    response = officer.post(f"/api/v1/processes/{pid}/awards", json=award)
    assert response.status_code == 409 and "submission period" in response.get_json()["message"]

    # The period ends; the bids are opened and published (tenderUpdate).
    clock.advance(days=15)
    body = officer.post(f"/api/v1/processes/{pid}/bids/open", json={}).get_json()
    assert body["bids_sealed"] is False
    release = last_release(db_session, ocid)
    assert release["tag"] == ["tenderUpdate"]
    assert {d["id"] for d in release["bids"]["details"]} == {bid1["local_id"], bid2["local_id"], bid3["local_id"]}
    listing = anon.get(f"/api/v1/processes/{pid}/bids").get_json()
    assert listing["sealed"] is False and len(listing["bids"]) == 3

    # A bid received on paper, recorded after opening; evaluation with reasons.
    response = officer.post(
        f"/api/v1/processes/{pid}/bids/offline",
        json={
            "supplier_id": parties.offline.id,
            "value_amount": "440000000",
            "date": iso(new_end - dt.timedelta(days=1)),
        },
    )
    assert response.status_code == 201, response.get_json()
    assert (
        officer.post(f"/api/v1/processes/{pid}/bids/{bid1['id']}/evaluation", json={"status": "valid"}).status_code
        == 200
    )
    response = officer.post(
        f"/api/v1/processes/{pid}/bids/{bid2['id']}/evaluation",
        json={"status": "disqualified", "disqualification_reason": "Jaminan penawaran tidak sah"},
    )
    assert response.status_code == 200
    details = {d["id"]: d for d in last_release(db_session, ocid)["bids"]["details"]}
    assert details[bid2["local_id"]]["status"] == "disqualified"

    # Contract before the award: 409.
    response = as_user("officer").post(
        f"/api/v1/processes/{pid}/contracts",
        json={"award_id": 1, "value_amount": "1", "period_start": iso(clock.now), "period_end": iso(clock.now)},
    )
    assert response.status_code == 409 and "award" in response.get_json()["message"]

    # Award (award).
    period = {
        "contract_period_start": iso(clock.now + dt.timedelta(days=7)),
        "contract_period_end": iso(clock.now + dt.timedelta(days=97)),
    }
    body = officer.post(f"/api/v1/processes/{pid}/awards", json=award | period).get_json()
    assert body["stage"] == "awarded"
    award_id = body["awards"][0]["id"]
    release = last_release(db_session, ocid)
    assert release["tag"] == ["award"] and release["awards"][0]["description"] == "Terendah"

    # Contract: a draft, then signed (contract).
    contract = {
        "award_id": award_id,
        "value_amount": "400000000",
        "period_start": iso(clock.now + dt.timedelta(days=7)),
        "period_end": iso(clock.now + dt.timedelta(days=97)),
        "documents": [{"title": "SPK", "url": "https://bos.example/spk.pdf"}],
    }
    body = officer.post(f"/api/v1/processes/{pid}/contracts", json=contract).get_json()
    cid = body["contracts"][0]["id"]
    assert anon.get(f"/api/v1/processes/{pid}").get_json()["contracts"] == []  # draft
    clock.advance(days=7)
    body = officer.post(f"/api/v1/processes/{pid}/contracts/{cid}/signature", json={}).get_json()
    assert body["stage"] == "contracted"
    release = last_release(db_session, ocid)
    assert release["tag"] == ["contract"] and release["contracts"][0]["value"]["amount"] == 400000000

    # Payments; one above the contract value is refused with 409 and leaves nothing behind.
    base = f"/api/v1/processes/{pid}/contracts/{cid}"
    assert officer.post(f"{base}/transactions", json={"value_amount": "200000000"}).status_code == 201
    assert last_release(db_session, ocid)["tag"] == ["implementation"]
    before = db_session.scalar(select(func.count()).select_from(Release))
    response = officer.post(f"{base}/transactions", json={"value_amount": "250000000"})
    assert response.status_code == 409 and "amend" in response.get_json()["message"].lower()
    assert db_session.scalar(select(func.count()).select_from(Release)) == before

    # A contract amendment raises the value (contractAmendment); then the payment passes.
    response = officer.post(
        f"{base}/amendments", json={"rationale": "Pekerjaan tambah drainase", "new_value_amount": "450000000"}
    )
    assert response.status_code == 201
    assert last_release(db_session, ocid)["contracts"][0]["amendments"][0]["rationale"] == "Pekerjaan tambah drainase"
    assert officer.post(f"{base}/transactions", json={"value_amount": "250000000"}).status_code == 201
    assert last_release(db_session, ocid)["tag"] == ["implementationUpdate"]
    assert officer.post(f"{base}/milestones", json={"title": "Serah terima", "status": "met"}).status_code == 201

    # Completion; afterwards nothing may change (409).
    body = officer.post(f"{base}/completion", json={}).get_json()
    assert body["stage"] == "completed"
    assert last_release(db_session, ocid)["tag"] == ["contractTermination"]
    response = officer.post(f"/api/v1/processes/{pid}/cancellation", json={"rationale": "x"})
    assert response.status_code == 409 and "no longer be changed" in response.get_json()["message"]

    assert release_tags(db_session, ocid) == [
        ["planning"], ["tender"], ["tenderAmendment"], ["tenderUpdate"], ["tenderUpdate"], ["tenderUpdate"],
        ["tenderUpdate"], ["award"], ["contract"], ["implementation"], ["contractAmendment"],
        ["implementationUpdate"], ["implementationUpdate"], ["contractTermination"],
    ]  # fmt: skip
    assert db_session.get(Process, pid).stage.value == "completed"
    actions = set(db_session.scalars(select(AuditEntry.action).where(AuditEntry.process_id == pid)))
    assert {"create_process", "submit_bid", "open_bids", "award", "sign_contract", "complete_contract"} <= actions
    assert db_session.scalar(select(func.count()).select_from(Bid).where(Bid.received_offline.is_(True))) == 1
