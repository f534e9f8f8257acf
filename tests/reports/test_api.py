import hashlib
import io

from tests.reports import pdf_text


def test_dossier_api_in_english_and_archived_copy(client, completed):
    response = client.get(f"/api/v1/reports/processes/{completed.id}/dossier?lang=en")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    pdf = response.get_data()
    assert "Process at a glance" in pdf_text(pdf)
    report_id = response.headers["X-Report-Id"]

    meta = client.get(f"/api/v1/reports/{report_id}/meta").get_json()
    assert meta["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert meta["size"] == len(pdf)
    assert meta["kind"] == "dossier"
    assert meta["subject"] == completed.ocid
    assert meta["language"] == "en"
    assert meta["origin"] == "api"
    assert meta["data_cutoff"]
    assert meta["download_url"].endswith(f"/api/v1/reports/{report_id}")

    assert client.get(f"/api/v1/reports/{report_id}").get_data() == pdf
    # Same data again: the archived report, not a new one.
    assert client.get(f"/api/v1/reports/processes/{completed.id}/dossier?lang=en").headers["X-Report-Id"] == report_id


def test_dossier_api_defaults_to_indonesian(client, completed):
    response = client.get(f"/api/v1/reports/processes/{completed.id}/dossier")
    assert "Ringkasan paket" in pdf_text(response.get_data())


def test_buyer_profile_api(client, completed):
    response = client.get(f"/api/v1/reports/buyers/{completed.buyer_id}/profile?lang=en")
    assert response.status_code == 200
    assert "Top suppliers" in pdf_text(response.get_data())


def test_verify_api(client, completed):
    pdf = client.get(f"/api/v1/reports/processes/{completed.id}/dossier").get_data()
    match = client.post(
        "/api/v1/reports/verify", data={"pdf": (io.BytesIO(pdf), "a.pdf")}, content_type="multipart/form-data"
    ).get_json()
    assert match["match"] is True
    assert match["report"]["sha256"] == match["sha256"] == hashlib.sha256(pdf).hexdigest()
    other = client.post(
        "/api/v1/reports/verify",
        data={"pdf": (io.BytesIO(b"%PDF-1.7 no"), "b.pdf")},
        content_type="multipart/form-data",
    ).get_json()
    assert other["match"] is False
    assert other["report"] is None


def test_errors_are_json(client, seeded):
    assert client.get("/api/v1/reports/999999").status_code == 404
    assert client.get("/api/v1/reports/999999/meta").get_json()["status"] == "not_found"
    assert client.get("/api/v1/reports/processes/999999/dossier").status_code == 404
    assert client.get("/api/v1/reports/processes/1/dossier?lang=fr").status_code == 422


def test_openapi_documents_the_reports(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/reports/processes/{process_id}/dossier" in paths
    assert "/api/v1/reports/{report_id}/meta" in paths
    assert "application/pdf" in paths["/api/v1/reports/{report_id}"]["get"]["responses"]["200"]["content"]
