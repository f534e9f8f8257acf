"""The officer's step forms: several item lines and documents, uploaded files, and refused forms shown again."""

import datetime as dt
import hashlib
import io
import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from bos.ocds.models import Release
from bos.tenders.models import Document, Item, Process

WIB = dt.timezone(dt.timedelta(hours=7))
PDF = b"%PDF-1.4\n" + b"Dokumen pemilihan " * 200 + b"\n%%EOF\n"
BASE = "http://127.0.0.1:5000"


def local(value: dt.datetime) -> str:
    return value.astimezone(WIB).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def uploads(app, tmp_path):
    """A fresh upload directory for this test (the default is the instance folder)."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    app.config["PUBLIC_BASE_URL"] = BASE
    return tmp_path / "uploads"


def stored_files(directory):
    return sorted(p.name for p in directory.rglob("*") if p.is_file() and p.parent.name != "incoming")


def download(client, url, **kwargs):
    """GET a file and close the response (send_file keeps the file open until then)."""
    with client.get(url, **kwargs) as response:
        response.get_data()
        return response


def form_post(client, pid, action, data, *, extract_csrf, lang="en"):
    html = client.get(f"/manage/processes/{pid}").get_data(as_text=True)
    version = re.search(rf'id="step-{action}".*?name="version" value="(\d+)"', html, re.S).group(1)
    token = extract_csrf(html)
    return client.post(
        f"/manage/processes/{pid}/{action}?lang={lang}",
        data={"csrf_token": token, "version": version} | data,
        content_type="multipart/form-data",
    )


def tender_fields(clock, **extra):
    return {
        "title": "Pengadaan Alat Tulis Kantor",
        "procurement_method": "open",
        "procurement_method_details": "Tender",
        "main_procurement_category": "goods",
        "value_amount": "25000000",
        "tender_period_end": local(clock.now + dt.timedelta(days=10)),
        "items-0-description": "Kertas A4",
        "items-0-classification_id": "32129",
        "items-0-quantity": "100",
        "items-0-unit_name": "rim",
        "items-0-unit_value_amount": "55000",
        "items-1-description": "Tinta printer",
        "items-1-classification_id": "35120",
        "items-1-quantity": "20",
        "items-1-unit_name": "botol",
        "items-2-description": "Map plastik",
        "items-2-classification_id": "32199",
        "items-2-quantity": "500",
        "items-2-unit_name": "buah",
        "items-3-description": "",  # the blank line the form always offers
    } | extra


def test_tender_with_three_lines_and_two_documents_reaches_the_published_release(
    process_at, web_login, extract_csrf, client, clock, db_session, uploads
):
    pid = process_at("planned").process.id
    officer = web_login("officer")
    data = tender_fields(
        clock,
        **{
            "documents-0-document_type": "tenderNotice",
            "documents-0-title": "Pengumuman tender",
            "documents-0-file": (io.BytesIO(PDF), "pengumuman.pdf"),
            "documents-1-document_type": "technicalSpecifications",
            "documents-1-title": "Spesifikasi teknis",
            "documents-1-url": "https://bos.example/spesifikasi.pdf",
        },
    )
    response = form_post(officer, pid, "create_tender", data, extract_csrf=extract_csrf)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]

    sha = hashlib.sha256(PDF).hexdigest()
    assert stored_files(uploads) == [sha]
    uploaded = db_session.scalars(select(Document).where(Document.sha256 == sha)).one()
    assert uploaded.format == "application/pdf"
    assert uploaded.url == f"{BASE}/documents/{sha}"

    # A draft's file is for the buyer's officers only.
    assert client.get(f"/documents/{sha}").status_code == 404
    assert web_login("other_officer").get(f"/documents/{sha}").status_code == 404
    draft = download(officer, f"/documents/{sha}")
    assert draft.status_code == 200
    assert draft.data == PDF
    assert "no-store" in draft.headers["Cache-Control"]

    # The edit form shows every line and both documents again.
    html = officer.get(f"/manage/processes/{pid}?lang=en").get_data(as_text=True)
    for n in range(3):
        assert f'name="items-{n}-description"' in html.split('id="step-update_tender"')[1]
    assert f'name="documents-0-sha256" value="{sha}"' in html

    assert form_post(officer, pid, "publish_tender", {}, extract_csrf=extract_csrf).status_code == 302
    db_session.expire_all()
    process = db_session.get(Process, pid)
    release = json.loads(
        db_session.scalars(
            select(Release.json).where(Release.ocid == process.ocid).order_by(Release.id.desc())
        ).first()
    )
    tender = release["tender"]
    assert [i["description"] for i in tender["items"]] == ["Kertas A4", "Tinta printer", "Map plastik"]
    assert [i["quantity"] for i in tender["items"]] == [100, 20, 500]
    documents = {d["title"]: d for d in tender["documents"]}
    assert documents["Pengumuman tender"]["url"] == f"{BASE}/documents/{sha}"
    assert documents["Pengumuman tender"]["format"] == "application/pdf"
    assert documents["Pengumuman tender"]["documentType"] == "tenderNotice"
    assert documents["Spesifikasi teknis"]["url"] == "https://bos.example/spesifikasi.pdf"

    # Published: anyone downloads the exact bytes, cacheable forever (the address is the content's hash).
    public = download(client, documents["Pengumuman tender"]["url"].removeprefix(BASE))
    assert public.status_code == 200
    assert public.mimetype == "application/pdf"
    assert hashlib.sha256(public.data).hexdigest() == sha
    assert "immutable" in public.headers["Cache-Control"]
    assert public.headers["X-Content-Type-Options"] == "nosniff"
    assert download(client, f"/documents/{sha}", headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    assert "Pengumuman tender" in client.get(f"/processes/{pid}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ((io.BytesIO(b"%PDF-" + b"x" * 3000), "besar.pdf"), "larger than the limit"),
        ((io.BytesIO(b"<html><script>alert(1)</script></html>"), "halaman.html"), "not accepted"),
        ((io.BytesIO(b"MZ\x90\x00 not a pdf"), "nyamar.pdf"), "not a PDF file"),
        ((io.BytesIO(b""), "kosong.pdf"), "empty"),
    ],
    ids=["too-large", "disallowed-type", "content-not-pdf", "empty"],
)
def test_refused_upload_shows_the_form_again_and_writes_nothing(
    process_at, web_login, extract_csrf, clock, db_snapshot, uploads, app, upload, message
):
    app.config["UPLOAD_MAX_BYTES"] = 2000
    pid = process_at("planned").process.id
    officer = web_login("officer")
    before = db_snapshot()
    data = tender_fields(clock, **{"documents-0-title": "Dokumen saya", "documents-0-file": upload})
    response = form_post(officer, pid, "create_tender", data, extract_csrf=extract_csrf)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert message in html
    assert 'id="error-summary"' in html
    assert 'href="#create_tender-documents-0-file"' in html
    assert 'value="Dokumen saya"' in html and 'value="Tinta printer"' in html  # the input is kept
    assert db_snapshot() == before
    assert stored_files(uploads) == []


def test_bad_fields_show_the_same_page_with_the_input_and_messages(
    process_at, web_login, extract_csrf, clock, db_snapshot
):
    pid = process_at("planned").process.id
    officer = web_login("officer")
    before = db_snapshot()
    data = tender_fields(clock, value_amount="banyak", **{"items-1-quantity": "dua puluh"})
    response = form_post(officer, pid, "create_tender", data, extract_csrf=extract_csrf)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<h1>Pengadaan uji</h1>" in html  # the manage page, not the error page
    assert 'value="banyak"' in html and 'value="dua puluh"' in html and 'value="Map plastik"' in html
    assert re.search(r'id="create_tender-value_amount-error">Not a valid number', html)
    assert (
        'id="create_tender-value_amount" name="value_amount" inputmode="decimal" value="banyak" aria-invalid="true"'
        in html
    )
    assert 'href="#create_tender-items-1-quantity">Item line 2: Quantity: Not a valid number.' in html
    assert db_snapshot() == before

    # In Bahasa Indonesia, the first language, too.
    html = form_post(officer, pid, "create_tender", data, extract_csrf=extract_csrf, lang="id").get_data(as_text=True)
    assert "Bukan angka yang valid." in html and "Formulir belum disimpan" in html


def test_rule_checked_by_the_service_shows_the_page_again(process_at, web_login, extract_csrf, clock, db_snapshot):
    pid = process_at("tender_draft").process.id
    clock.advance(days=11)  # the draft's submission deadline is now in the past
    officer = web_login("officer")
    before = db_snapshot()
    response = form_post(officer, pid, "publish_tender", {}, extract_csrf=extract_csrf)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The tender cannot be published yet." in html
    assert "The submission period must end in the future." in html
    assert 'id="step-update_tender"' in html  # the officer can correct it right there
    assert db_snapshot() == before


def test_stale_version_is_still_a_conflict(process_at, web_login, extract_csrf, clock):
    pid = process_at("planned").process.id
    officer = web_login("officer")
    token = extract_csrf(officer.get(f"/manage/processes/{pid}").get_data(as_text=True))
    response = officer.post(
        f"/manage/processes/{pid}/create_tender", data={"csrf_token": token, "version": "1"} | tender_fields(clock)
    )
    assert response.status_code == 409


def test_uploaded_file_is_kept_through_a_refused_post(process_at, web_login, extract_csrf, clock, db_session, uploads):
    pid = process_at("planned").process.id
    officer = web_login("officer")
    data = tender_fields(clock, title="", **{"documents-0-file": (io.BytesIO(PDF), "pengumuman.pdf")})
    response = form_post(officer, pid, "create_tender", data, extract_csrf=extract_csrf)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    sha = hashlib.sha256(PDF).hexdigest()
    assert f'name="documents-0-sha256" value="{sha}"' in html
    assert 'name="documents-0-title" value="pengumuman"' in html  # the file name stands in for a title

    kept = {"documents-0-sha256": sha, "documents-0-format": "application/pdf", "documents-0-title": "pengumuman"}
    data = tender_fields(clock, **kept)
    assert form_post(officer, pid, "create_tender", data, extract_csrf=extract_csrf).status_code == 302
    assert db_session.scalars(select(Document.url).where(Document.sha256 == sha)).one() == f"{BASE}/documents/{sha}"

    # A made-up hash of a file that was never uploaded is refused.
    forged = tender_fields(clock, **(kept | {"documents-0-sha256": "0" * 64}))
    response = form_post(officer, pid, "update_tender", forged, extract_csrf=extract_csrf)
    assert response.status_code == 422
    assert "no longer available" in response.get_data(as_text=True)


def test_add_a_line_without_javascript_and_remove_one(
    process_at, web_login, extract_csrf, clock, db_session, db_snapshot
):
    pid = process_at("planned").process.id
    officer = web_login("officer")
    before = db_snapshot()
    data = tender_fields(clock, add_line="items")
    response = form_post(officer, pid, "create_tender", data, extract_csrf=extract_csrf)
    assert response.status_code == 200
    html = response.get_data(as_text=True).split('id="step-create_tender"')[1]
    assert 'name="items-2-description" value="Map plastik"' in html
    assert 'name="items-3-description" value=""' in html and 'name="items-4-description" value=""' in html
    assert db_snapshot() == before

    assert form_post(officer, pid, "create_tender", tender_fields(clock), extract_csrf=extract_csrf).status_code == 302
    data = tender_fields(clock, **{"items-1-remove": "1"})
    assert form_post(officer, pid, "update_tender", data, extract_csrf=extract_csrf).status_code == 302
    items = db_session.scalars(select(Item.description).join(Item.tender).where(Item.tender.has(process_id=pid)))
    assert sorted(items) == ["Kertas A4", "Map plastik"]


def test_signed_contract_upload_is_public_once_signed(process_at, web_login, extract_csrf, client, clock, uploads):
    ns = process_at("awarded")
    pid = ns.process.id
    officer = web_login("officer")
    scan = b"%PDF-1.7\nkontrak ditandatangani\n%%EOF\n"
    data = {
        "award_id": str(ns.award.id),
        "value_amount": "80000000",
        "period_start": local(clock.now + dt.timedelta(days=1)),
        "period_end": local(clock.now + dt.timedelta(days=60)),
        "documents-0-document_type": "contractSigned",
        "documents-0-title": "Kontrak",
        "documents-0-file": (io.BytesIO(scan), "kontrak.pdf"),
    }
    assert form_post(officer, pid, "save_contract", data, extract_csrf=extract_csrf).status_code == 302
    sha = hashlib.sha256(scan).hexdigest()
    assert client.get(f"/documents/{sha}").status_code == 404
    html = officer.get(f"/manage/processes/{pid}").get_data(as_text=True)
    contract_id = re.search(r'id="sign_contract-contract_id".*?<option value="(\d+)"', html, re.S).group(1)
    assert (
        form_post(officer, pid, "sign_contract", {"contract_id": contract_id}, extract_csrf=extract_csrf).status_code
        == 302
    )
    assert download(client, f"/documents/{sha}").data == scan


def test_new_process_form_keeps_the_input(web_login, extract_csrf, db_snapshot):
    officer = web_login("officer")
    token = extract_csrf(officer.get("/manage/processes/new").get_data(as_text=True))
    before = db_snapshot()
    response = officer.post(
        "/manage/processes/new?lang=en",
        data={"csrf_token": token, "title": "Rehab gedung", "budget_amount": "-1", "budget_source": "DAK"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="Rehab gedung"' in html and 'value="-1"' in html
    assert '<option value="DAK" selected>' in html
    assert 'href="#create_process-project">Project: Missing data for required field.' in html
    assert db_snapshot() == before


def test_refused_bid_shows_the_process_page_again(process_at, web_login, extract_csrf, db_snapshot):
    pid = process_at("open").process.id
    contractor = web_login("contractor2")
    token = extract_csrf(contractor.get(f"/processes/{pid}").get_data(as_text=True))
    before = db_snapshot()
    response = contractor.post(
        f"/processes/{pid}/bid?lang=en", data={"csrf_token": token, "value_amount": "murah", "value_currency": "IDR"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="murah"' in html and 'id="bid-value-error"' in html
    assert db_snapshot() == before
