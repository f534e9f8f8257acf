"""A process walked through every stage via the HTML forms (CSRF tokens taken from the pages)."""

import datetime as dt
import re

from sqlalchemy import select

from bos.contracts.models import Contract
from bos.ocds.models import Release
from bos.tenders.models import Award, Bid, Process

WIB = dt.timezone(dt.timedelta(hours=7))


def local(value: dt.datetime) -> str:
    return value.astimezone(WIB).strftime("%Y-%m-%dT%H:%M")


def test_full_walk_through_the_forms(web_login, extract_csrf, clock, parties, db_session):
    officer = web_login("officer")
    contractor = web_login("contractor")

    def post(client, page, url, data):
        token = extract_csrf(client.get(page).get_data(as_text=True))
        response = client.post(url, data=data | {"csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response

    post(officer, "/manage/processes/new", "/manage/processes/new", {
        "title": "Pengadaan Laptop Sekolah", "project": "Digitalisasi sekolah", "budget_amount": "150000000",
        "budget_source": "APBD", "fiscal_year": "2026"})  # fmt: skip
    process = db_session.scalars(select(Process).order_by(Process.id.desc())).first()
    pid = process.id
    page = f"/manage/processes/{pid}"

    def step(action, data=None, client=officer):
        html = client.get(page).get_data(as_text=True)
        assert f'id="step-{action}"' in html, f"{action} not offered"
        version = re.search(rf'id="step-{action}".*?name="version" value="(\d+)"', html, re.S).group(1)
        return post(client, page, f"/manage/processes/{pid}/{action}", {"version": version} | (data or {}))

    def tags():
        return list(db_session.scalars(select(Release.tags).where(Release.ocid == process.ocid).order_by(Release.id)))

    step("publish_planning")
    step("create_tender", {
        "title": "Pengadaan Laptop Sekolah", "procurement_method": "open", "procurement_method_details": "Tender",
        "main_procurement_category": "goods", "value_amount": "140000000",
        "tender_period_end": local(clock.now + dt.timedelta(days=10)),
        "item_description": "Laptop", "item_classification_id": "45220", "item_quantity": "10", "item_unit_name": "unit",
        "document_title": "Dokumen pemilihan", "document_url": "https://bos.example/dokumen.pdf"})  # fmt: skip
    step("publish_tender")
    assert tags() == ["planning", "tender"]

    # The contractor bids through the process page's form.
    post(
        contractor,
        f"/processes/{pid}",
        f"/processes/{pid}/bid",
        {"value_amount": "120000000", "value_currency": "IDR"},
    )
    assert "120.000.000" in contractor.get(f"/processes/{pid}").get_data(as_text=True)  # their own bid only

    step(
        "amend_tender",
        {"rationale": "Perpanjangan waktu", "tender_period_end": local(clock.now + dt.timedelta(days=12))},
    )
    clock.advance(days=13)
    step("open_bids")
    bid = db_session.scalars(select(Bid).join(Bid.tender).where(Bid.tender.has(process_id=pid))).one()
    step("record_offline_bid", {"supplier_id": str(parties.offline.id), "value_amount": "130000000",
                                "date": local(clock.now - dt.timedelta(days=2))})  # fmt: skip
    step("evaluate_bid", {"bid_id": str(bid.id), "status": "valid"})
    step("award", {"bid_id": str(bid.id), "supplier_ids": str(parties.supplier.id), "value_amount": "120000000",
                   "rationale": "Penawaran terendah yang memenuhi syarat"})  # fmt: skip
    award = db_session.scalars(select(Award).where(Award.process_id == pid)).one()
    step("save_contract", {"award_id": str(award.id), "value_amount": "120000000",
                           "period_start": local(clock.now + dt.timedelta(days=3)),
                           "period_end": local(clock.now + dt.timedelta(days=60))})  # fmt: skip
    contract = db_session.scalars(select(Contract).where(Contract.process_id == pid)).one()
    step("sign_contract", {"contract_id": str(contract.id)})
    step("add_transaction", {"contract_id": str(contract.id), "value_amount": "60000000"})
    step(
        "amend_contract",
        {"contract_id": str(contract.id), "rationale": "Tambah 1 unit", "new_value_amount": "132000000"},
    )
    step("add_milestone", {"contract_id": str(contract.id), "title": "Serah terima", "status": "met"})
    step("complete", {"contract_id": str(contract.id)})
    assert tags() == [
        "planning", "tender", "tenderAmendment", "tenderUpdate", "tenderUpdate", "tenderUpdate", "award", "contract",
        "implementation", "contractAmendment", "implementationUpdate", "contractTermination",
    ]  # fmt: skip
    db_session.expire_all()
    assert db_session.get(Process, pid).stage.value == "completed"
    assert "No step is possible now" in officer.get(f"{page}?lang=en").get_data(as_text=True)
    public = officer.get(f"/processes/{pid}?lang=en").get_data(as_text=True)
    assert "CV Satu Jaya" in public and "Tambah 1 unit" in public


def test_form_errors_show_field_messages_and_write_nothing(web_login, extract_csrf, db_snapshot):
    officer = web_login("officer")
    token = extract_csrf(officer.get("/manage/processes/new").get_data(as_text=True))
    before = db_snapshot()
    response = officer.post("/manage/processes/new", data={"csrf_token": token, "title": "x", "budget_amount": "-1"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "budget_amount" in html and "project" in html
    assert db_snapshot() == before
