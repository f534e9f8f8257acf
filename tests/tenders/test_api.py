from sqlalchemy import func, select

from bos.tenders.models import Process


def test_list_and_follow_cursor(client, db_session, seeded):
    total = db_session.scalar(select(func.count()).select_from(Process))
    ids: list[int] = []
    cursor = None
    while True:
        query = {"limit": 25} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/processes", query_string=query).get_json()
        ids += [p["id"] for p in body["processes"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(ids) == total == len(set(ids))


def test_detail_has_no_bid_data(client, db_session, seeded):
    process = db_session.scalars(select(Process).where(Process.tender.has())).first()
    body = client.get(f"/api/v1/processes/{process.id}").get_json()
    assert body["ocid"] == process.ocid
    assert "bids" not in body and "bids" not in body["tender"]


def test_malformed_parameters_are_422_with_field_messages(client, seeded):
    response = client.get("/api/v1/processes?limit=0&stage=nope")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["query"]
    assert set(errors) == {"limit", "stage"}


def test_malformed_cursor_is_400_json(client, seeded):
    response = client.get("/api/v1/processes?cursor=bm90LWEtY3Vyc29y")
    assert response.status_code == 400
    assert response.get_json()["errors"]["cursor"]


def test_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/processes" in spec["paths"]
    assert client.get("/api/v1/docs").status_code == 200
