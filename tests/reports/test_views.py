import hashlib
import io

from bos.reports.models import ArchivedReport
from tests.reports import pdf_text


def test_dossier_download_follows_the_page_language(client, completed):
    response = client.get(f"/processes/{completed.id}/dossier.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    pdf = response.get_data()
    assert response.headers["X-Report-SHA256"] == hashlib.sha256(pdf).hexdigest()
    assert "Ringkasan paket" in pdf_text(pdf)

    english = client.get(f"/processes/{completed.id}/dossier.pdf?lang=en")
    assert "Process at a glance" in pdf_text(english.get_data())


def test_buyer_profile_download(client, completed):
    response = client.get(f"/buyers/{completed.buyer_id}/profile.pdf")
    assert response.status_code == 200
    assert completed.buyer.name in pdf_text(response.get_data())
    assert client.get("/buyers/999999/profile.pdf").status_code == 404


def test_verify_page_explains_why_the_hash_is_not_in_the_pdf(client):
    html = client.get("/reports/verify?lang=en").get_data(as_text=True)
    assert "SHA-256" in html
    assert "printing it would change the file" in html


def test_verify_page_accepts_an_exact_copy_and_refuses_an_altered_one(client, db_session, completed):
    pdf = client.get(f"/processes/{completed.id}/dossier.pdf").get_data()
    report = db_session.query(ArchivedReport).filter_by(sha256=hashlib.sha256(pdf).hexdigest()).one()

    html = client.post(
        "/reports/verify?lang=en", data={"pdf": (io.BytesIO(pdf), "copy.pdf")}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert "This copy matches an archived BOS report." in html
    assert report.sha256 in html
    assert completed.ocid in html

    altered = pdf[:-20] + b"%% changed by hand\n"
    response = client.post(
        "/reports/verify?lang=en", data={"pdf": (io.BytesIO(altered), "copy.pdf")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert "No archived BOS report has this fingerprint" in response.get_data(as_text=True)

    typed = client.post("/reports/verify?lang=en", data={"sha256": report.sha256}).get_data(as_text=True)
    assert "This copy matches an archived BOS report." in typed
    assert client.post("/reports/verify", data={}).status_code == 400
