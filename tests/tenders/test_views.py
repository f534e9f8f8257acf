from sqlalchemy import select

from bos.enums import ProcessStage
from bos.tenders.models import Bid, Process


def test_index_lists_processes_with_stage_counts(client, seeded):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "ocds-test00-" in html
    assert 'lang="id"' in html
    assert "Pengadaan publik" in html  # Bahasa Indonesia first


def test_index_in_english(client, seeded):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "Public procurement" in html
    assert 'lang="en"' in html


def test_language_cookie(client, seeded):
    response = client.get("/lang/en")
    assert response.status_code == 302
    assert "Public procurement" in client.get("/").get_data(as_text=True)


def test_filter_by_stage_and_keyset_pages(client, db_session, seeded):
    completed = db_session.scalars(
        select(Process.ocid).where(Process.stage == ProcessStage.COMPLETED).order_by(Process.id.desc())
    ).all()
    seen: list[str] = []
    url = "/?stage=completed&limit=10"
    import re  # noqa: PLC0415

    while url:
        html = client.get(url).get_data(as_text=True)
        seen += re.findall(r'<small class="muted">(ocds-test00-\d+)</small>', html)
        match = re.search(r'rel="next" href="([^"]+)"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert seen == list(completed)


def test_bad_filter_is_a_400_page_not_a_crash(client, seeded):
    response = client.get("/?stage=nonsense")
    assert response.status_code == 400
    assert "stage" in response.get_data(as_text=True)
    assert client.get("/?cursor=%%%").status_code == 400


def test_detail_shows_opened_bids_but_seals_open_tenders(client, db_session, seeded):
    opened = db_session.scalars(
        select(Process).where(Process.stage == ProcessStage.COMPLETED, Process.tender.has())
    ).first()
    html = client.get(f"/processes/{opened.id}").get_data(as_text=True)
    for bid in opened.tender.bids:
        assert bid.supplier.name in html

    sealed = db_session.scalars(select(Process).where(Process.stage == ProcessStage.OPEN, Process.tender.has())).all()
    sealed = next(p for p in sealed if p.tender.bids)
    html = client.get(f"/processes/{sealed.id}?lang=en").get_data(as_text=True)
    assert "Bids are sealed" in html
    assert f"Bids received so far: {len(sealed.tender.bids)}" in html
    for bid in db_session.scalars(select(Bid).where(Bid.tender_id == sealed.tender.id)):
        assert bid.supplier.name not in html


def test_unknown_process_is_404(client, seeded):
    assert client.get("/processes/999999").status_code == 404
