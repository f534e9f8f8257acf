"""The DCAT catalogue (Project Open Data v1.1 JSON) that CKAN portals harvest."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import func, select

from bos.ocds.models import Release

# Project Open Data v1.1: required dataset fields (bureauCode/programCode apply to US federal agencies only).
REQUIRED_DATASET_FIELDS = {
    "@type",
    "title",
    "description",
    "keyword",
    "modified",
    "publisher",
    "contactPoint",
    "identifier",
    "accessLevel",
    "license",
}


def test_catalog_lists_every_dataset_and_file(client, db_session, seeded):
    response = client.get("/catalog.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    catalog = response.json
    assert catalog["@type"] == "dcat:Catalog"
    assert catalog["conformsTo"] == "https://project-open-data.cio.gov/v1.1/schema"
    assert catalog["@id"] == "http://127.0.0.1:5000/catalog.json"

    newest = db_session.scalar(select(func.max(Release.date)).where(Release.source == "bos"))
    config = client.application.config
    datasets = {dataset["identifier"]: dataset for dataset in catalog["dataset"]}
    assert set(datasets) == {
        "http://127.0.0.1:5000/api/ocds/releases",
        "http://127.0.0.1:5000/api/ocds/records",
        "http://127.0.0.1:5000/api/red-flags/bulk/flags.jsonl.gz",
    }
    for dataset in datasets.values():
        assert set(dataset) >= REQUIRED_DATASET_FIELDS
        assert dataset["modified"] == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert dataset["license"] == config["LICENSE_URL"]
        assert dataset["publisher"] == {"@type": "org:Organization", "name": config["PUBLISHER_NAME"]}
        assert dataset["contactPoint"]["hasEmail"].startswith("mailto:")
        assert dataset["accessLevel"] == "public"
        assert dataset["accrualPeriodicity"].startswith("R/P")
        assert dataset["language"] == ["id", "en"]
        # Bilingual: Indonesian, then English.
        indonesian, english = dataset["title"].split(" / ")
        assert indonesian and english
        assert "\n\n" in dataset["description"]
        for distribution in dataset["distribution"]:
            url = distribution.get("downloadURL") or distribution["accessURL"]
            assert urlsplit(url).scheme == "http" and urlsplit(url).hostname == "127.0.0.1"
            assert {"title", "description", "mediaType", "format"} <= set(distribution)

    files = {
        distribution.get("downloadURL") or distribution["accessURL"]: distribution
        for dataset in datasets.values()
        for distribution in dataset["distribution"]
    }
    base = "http://127.0.0.1:5000"
    assert set(files) == {
        f"{base}/api/ocds/releases",
        f"{base}/api/ocds/records",
        f"{base}/api/ocds/bulk/releases.jsonl.gz",
        f"{base}/api/ocds/bulk/records.jsonl.gz",
        f"{base}/api/ocds/spreadsheets/releases.xlsx",
        f"{base}/api/ocds/spreadsheets/releases.csv.zip",
        f"{base}/api/red-flags/bulk/flags.jsonl.gz",
    }
    assert "downloadURL" in files[f"{base}/api/ocds/bulk/releases.jsonl.gz"]
    assert files[f"{base}/api/ocds/bulk/releases.jsonl.gz"]["mediaType"] == "application/gzip"
    # The feeds and the capped spreadsheets are queried, not downloaded whole: accessURL.
    assert "accessURL" in files[f"{base}/api/ocds/spreadsheets/releases.xlsx"]
    assert files[f"{base}/api/ocds/spreadsheets/releases.xlsx"]["description"] == (
        "Paling banyak 5.000 rilis: saring dengan parameter since, until, buyer atau ocid. / "
        "At most 5,000 releases: filter with the since, until, buyer or ocid parameters."
    )
    assert files[f"{base}/api/ocds/releases"]["format"] == "JSON"

    # Every BOS link in the catalogue works (the red-flag bulk file belongs to its own blueprint).
    for url in files:
        if "/api/ocds/" in url:
            path = urlsplit(url).path
            assert client.get(path).status_code == 200, path


def test_catalog_follows_the_public_base_url_and_caches(client, app):
    app.config["PUBLIC_BASE_URL"] = "https://bos.example.go.id/"
    response = client.get("/catalog.json")
    assert response.json["@id"] == "https://bos.example.go.id/catalog.json"
    assert all(
        dataset["identifier"].startswith("https://bos.example.go.id/api/") for dataset in response.json["dataset"]
    )
    assert response.headers["Cache-Control"] == "public, max-age=300"
    again = client.get("/catalog.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
