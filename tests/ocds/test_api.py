"""The public OCDS API as a harvester sees it: packages, paging, validation, caching and the seal."""

import gzip
import io
from urllib.parse import urlsplit

import orjson
import pytest
from sqlalchemy import func, select

from bos.enums import ProcessStage
from bos.ocds.compile import compile_release
from bos.ocds.models import Record, Release
from bos.ocds.publish import schema_source
from bos.ocds.validate import validate_record_package, validate_release_package
from bos.tenders.models import Process


@pytest.fixture
def feed_app(app):
    app.config["FEED_WATERMARK_SECONDS"] = 0
    return app


def harvest(client, path, key, limit=37):
    """Follow links.next like Kingfisher Collect does, from the first page to the last."""
    url = f"{path}?limit={limit}"
    items, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = orjson.loads(response.data)
        items += body[key]
        pages += 1
        next_url = body.get("links", {}).get("next")
        if next_url:
            parts = urlsplit(next_url)
            assert parts.scheme == "http" and parts.hostname == "127.0.0.1"  # absolute, harvestable
            url = f"{parts.path}?{parts.query}"
        else:
            url = None
    return items, pages


def test_harvest_all_releases_in_order_without_gaps(client, db_session, seeded, feed_app):
    total = db_session.scalar(select(func.count()).select_from(Release))
    releases, pages = harvest(client, "/api/ocds/releases", "releases")
    assert len(releases) == total > 0
    assert pages == -(-total // 37)
    keys = [(r["date"], r["ocid"], r["id"]) for r in releases]
    assert keys == sorted(keys)
    assert len({(r["ocid"], r["id"]) for r in releases}) == total


def test_every_release_package_validates(client, seeded, feed_app):
    url = "/api/ocds/releases?limit=1000"
    package = orjson.loads(client.get(url).data)
    assert package["version"] == "1.1"
    assert package["extensions"]
    assert package["publisher"]["name"]
    errors = validate_release_package(package, schema_source())
    assert errors == [], errors[:5]


def test_record_package_validates_and_compiles_like_ocdsmerge(client, db_session, seeded, feed_app):
    records, _ = harvest(client, "/api/ocds/records", "records", limit=50)
    assert len(records) == db_session.scalar(select(func.count()).select_from(Record))
    source = schema_source()
    for record in records:
        stored = db_session.scalars(
            select(Release.json).where(Release.ocid == record["ocid"]).order_by(Release.date, Release.release_id)
        ).all()
        assert record["compiledRelease"] == compile_release([orjson.loads(s) for s in stored], source)
        assert [r["url"].rsplit("/", 1)[1] for r in record["releases"]] == [orjson.loads(s)["id"] for s in stored]
    package = orjson.loads(client.get("/api/ocds/records?limit=1000").data)
    assert validate_record_package(package, source) == []


def test_one_record_with_versioned_release(client, db_session, seeded, feed_app):
    ocid = db_session.scalar(select(Record.ocid).where(Record.release_count > 3).limit(1))
    body = orjson.loads(client.get(f"/api/ocds/records/{ocid}?versioned=true").data)
    record = body["records"][0]
    assert record["ocid"] == ocid
    assert "versionedRelease" in record
    assert validate_record_package(body, schema_source()) == []
    release_url = urlsplit(record["releases"][-1]["url"]).path
    one = orjson.loads(client.get(release_url).data)
    assert [r["id"] for r in one["releases"]] == [release_url.rsplit("/", 1)[1]]


def test_pages_are_byte_stable_and_conditional(client, seeded, feed_app):
    first = client.get("/api/ocds/releases?limit=20")
    again = client.get("/api/ocds/releases?limit=20")
    assert first.data == again.data
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert "public" in first.headers["Cache-Control"]
    not_modified = client.get("/api/ocds/releases?limit=20", headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    zipped = client.get("/api/ocds/releases?limit=20", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == first.data


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("until=2026-01-01T00:00:00", "until"),  # no offset: ambiguous
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage!", "cursor"),
        ("cursor=WyJub3QtYS1kYXRlIiwieCIsInkiXQ", "cursor"),
        ("colour=red", "colour"),
    ],
)
def test_malformed_parameters_are_400_json(client, seeded, query, field):
    for path in ("/api/ocds/releases", "/api/ocds/records"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert field in response.get_json()["errors"]


def test_filters_since_until_buyer_ocid(client, db_session, seeded, feed_app):
    releases, _ = harvest(client, "/api/ocds/releases", "releases", limit=1000)
    middle = sorted(r["date"] for r in releases)[len(releases) // 2]
    after = orjson.loads(client.get(f"/api/ocds/releases?since={middle}&limit=1000").data)["releases"]
    assert after and all(r["date"] >= middle for r in after)
    before = orjson.loads(client.get(f"/api/ocds/releases?until={middle}&limit=1000").data)["releases"]
    assert len(after) + len(before) == len(releases) + sum(1 for r in releases if r["date"] == middle)
    buyer = releases[0]["buyer"]["id"]
    by_buyer = orjson.loads(client.get(f"/api/ocds/releases?buyer={buyer}&limit=1000").data)["releases"]
    assert by_buyer and all(r["buyer"]["id"] == buyer for r in by_buyer)
    ocid = releases[0]["ocid"]
    by_ocid = orjson.loads(client.get(f"/api/ocds/releases?ocid={ocid}").data)["releases"]
    assert {r["ocid"] for r in by_ocid} == {ocid}


def test_sealed_bids_never_reach_the_feed_or_bulk(client, db_session, seeded, feed_app):
    sealed = db_session.scalars(select(Process).where(Process.stage == ProcessStage.OPEN)).all()
    sealed = [p for p in sealed if p.tender and p.tender.bids]
    assert sealed
    for process in sealed:
        body = client.get(f"/api/ocds/records/{process.ocid}").data
        compiled = orjson.loads(body)["records"][0]["compiledRelease"]
        assert "bids" not in compiled
        assert "tenderers" not in compiled["tender"]
        assert "numberOfTenderers" not in compiled["tender"]
        for bid in process.tender.bids:
            assert bid.supplier.identifier_id.encode() not in body
    bulk = gzip.decompress(client.get("/api/ocds/bulk/releases.jsonl.gz").data)
    for process in sealed:
        for bid in process.tender.bids:
            assert any(process.ocid.encode() in line for line in bulk.splitlines())
            assert bid.supplier.identifier_id.encode() not in b"".join(
                line for line in bulk.splitlines() if process.ocid.encode() in line
            )


def test_bulk_files_hold_every_release_and_record(client, db_session, seeded):
    response = client.get("/api/ocds/bulk/releases.jsonl.gz")
    assert response.headers["Content-Type"] == "application/gzip"
    lines = gzip.GzipFile(fileobj=io.BytesIO(response.data)).read().splitlines()
    assert len(lines) == db_session.scalar(select(func.count()).select_from(Release))
    records = gzip.decompress(client.get("/api/ocds/bulk/records.jsonl.gz").data).splitlines()
    assert len(records) == db_session.scalar(select(func.count()).select_from(Record))
    assert all("compiledRelease" in orjson.loads(line) for line in records)
    index = client.get("/api/ocds/bulk/").get_json()
    assert len(index["files"]) == 2


def test_unknown_release_and_record_are_404_json(client, seeded):
    assert client.get("/api/ocds/records/ocds-nope-1").status_code == 404
    response = client.get("/api/ocds/releases/ocds-nope-1/1")
    assert response.status_code == 404
    assert response.get_json()["message"]


def test_watermark_hides_the_newest_releases(client, app, db_session, seeded):
    app.config["FEED_WATERMARK_SECONDS"] = 10**9  # everything is "too young"
    body = orjson.loads(client.get("/api/ocds/releases").data)
    assert body["releases"] == []
