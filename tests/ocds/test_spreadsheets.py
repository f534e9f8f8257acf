"""Release spreadsheets (flatten-tool): XLSX and zipped CSV for the feed's filters, within Excel's limits."""

from __future__ import annotations

import csv
import io
import zipfile
from itertools import zip_longest

import openpyxl
import orjson
import pytest
from sqlalchemy import func, select

from bos.ocds import spreadsheets
from bos.ocds.importer import import_source
from bos.ocds.models import Release

XLSX = "/api/ocds/spreadsheets/releases.xlsx"
CSV_ZIP = "/api/ocds/spreadsheets/releases.csv.zip"


def _workbook(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.get_data(as_text=True)
    return openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)


def _rows(worksheet) -> list[dict[str, object]]:
    rows = list(worksheet.iter_rows(values_only=True))
    header = rows[0]
    # Read-only worksheets omit trailing empty cells.
    return [dict(zip_longest(header, row)) for row in rows[1:]]


def test_xlsx_of_every_release(client, db_session, seeded):
    response = client.get(XLSX)
    assert response.mimetype == spreadsheets.XLSX_MIMETYPE
    assert response.headers["Content-Disposition"] == "attachment; filename=releases.xlsx"
    workbook = _workbook(response)
    assert workbook.sheetnames[0] == "releases"
    assert workbook.sheetnames[-1] == "Meta"
    assert {"parties", "awards", "contracts", "ten_items"} <= set(workbook.sheetnames)

    stored = db_session.execute(
        select(Release.ocid, Release.release_id, Release.json)
        .where(Release.source == "bos")
        .order_by(Release.date, Release.ocid, Release.release_id)
    ).all()
    rows = _rows(workbook["releases"])
    assert [(row["ocid"], row["id"]) for row in rows] == [(ocid, release_id) for ocid, release_id, _ in stored]
    first = orjson.loads(stored[0].json)
    assert rows[0]["date"] == first["date"]
    assert rows[0]["buyer/name"] == first["buyer"]["name"]
    assert rows[0]["tag"] == ";".join(first["tag"])  # flatten-tool's form of an array of strings

    # Array sheets link back to their release by ocid and id.
    awards = _rows(workbook["awards"])
    with_awards = {
        (ocid, release_id): orjson.loads(body)["awards"] for ocid, release_id, body in stored if '"awards"' in body
    }
    assert len(awards) == sum(len(items) for items in with_awards.values())
    assert {(row["ocid"], row["id"]) for row in awards} == set(with_awards)

    meta = dict(workbook["Meta"].iter_rows(values_only=True))
    assert meta["version"] == "1.1"
    assert meta["publisher/name"] == client.application.config["PUBLISHER_NAME"]
    assert meta["license"] == client.application.config["LICENSE_URL"]
    assert meta["uri"] == "http://127.0.0.1:5000/api/ocds/spreadsheets/releases.xlsx"
    assert meta["extensions"].count(";") == 1  # the bid and lots extensions


def test_csv_zip_for_one_process(client, db_session, seeded):
    ocid, count = db_session.execute(
        select(Release.ocid, func.count()).group_by(Release.ocid).order_by(func.count().desc()).limit(1)
    ).one()
    response = client.get(CSV_ZIP, query_string={"ocid": ocid})
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        assert names[0] == "releases.csv"
        assert names[-1] == "Meta.csv"
        releases = list(csv.DictReader(io.StringIO(archive.read("releases.csv").decode("utf-8"))))
        meta = dict(csv.reader(io.StringIO(archive.read("Meta.csv").decode("utf-8"))))
    assert len(releases) == count > 1
    assert {row["ocid"] for row in releases} == {ocid}
    assert meta["uri"].endswith(f"releases.csv.zip?ocid={ocid}")


def test_filters_are_the_feeds(client, db_session, seeded):
    buyer = db_session.scalar(select(Release.buyer_identifier).limit(1))
    since = "2026-01-01T00:00:00Z"
    expected = db_session.scalar(
        select(func.count()).where(
            Release.buyer_identifier == buyer, Release.date >= spreadsheets.feeds.parse_datetime(since, "since")
        )
    )
    rows = _rows(_workbook(client.get(XLSX, query_string={"buyer": buyer, "since": since}))["releases"])
    assert len(rows) == expected
    assert {row["buyer/id"] for row in rows} <= {buyer}

    # Nothing matches: still a workbook, with its Meta sheet.
    workbook = _workbook(client.get(XLSX, query_string={"ocid": "ocds-none"}))
    assert "Meta" in workbook.sheetnames


@pytest.mark.parametrize(
    ("query", "field"),
    [({"since": "yesterday"}, "since"), ({"until": "2026-01-01T00:00:00"}, "until"), ({"limit": "5"}, "limit")],
)
def test_malformed_query_is_400(client, query, field):
    response = client.get(XLSX, query_string=query)
    assert response.status_code == 400
    assert field in response.json["errors"]


def test_too_many_releases_is_400_with_advice(client, seeded, monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_RELEASES", 10)
    for path in (XLSX, CSV_ZIP):
        response = client.get(path)
        assert response.status_code == 400
        assert response.json["message"] == "The query matches more than 10 releases, the most a spreadsheet holds."
        assert "since, until, buyer or ocid" in response.json["errors"]["query"][0]


def test_long_texts_are_cut_for_excel_only(client, db_session, tmp_path):
    description = "x" * 40_000
    release = {
        "ocid": "ocds-long-1",
        "id": "1",
        "date": "2024-01-01T00:00:00Z",
        "tag": ["tender"],
        "initiationType": "tender",
        "tender": {"id": "t", "description": description, "items": [{"id": "i1", "description": "\x07bell"}]},
    }
    (tmp_path / "p.json").write_bytes(orjson.dumps(release))
    assert import_source(db_session, tmp_path / "p.json", "Other Publisher").releases_stored == 1
    db_session.commit()

    workbook = _workbook(client.get(XLSX, query_string={"source": "Other Publisher"}))
    (row,) = _rows(workbook["releases"])
    cell = row["tender/description"]
    assert len(cell) == spreadsheets.EXCEL_MAX_CELL
    assert cell.endswith(" … [truncated: 40,000 characters in all; the CSV and JSON have the whole text]")
    (item,) = _rows(workbook["ten_items"])
    assert item["tender/items/0/description"] == "bell"  # control characters are not allowed in Excel cells

    response = client.get(CSV_ZIP, query_string={"source": "Other Publisher"})
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        (row,) = csv.DictReader(io.StringIO(archive.read("releases.csv").decode("utf-8")))
    assert row["tender/description"] == description


def test_excel_row_limit_is_refused(monkeypatch):
    monkeypatch.setattr(spreadsheets, "EXCEL_MAX_ROWS", 3)
    release = {"ocid": "ocds-r", "id": "1", "date": "2024-01-01T00:00:00Z", "tag": ["tender"]}
    bodies = [orjson.dumps({**release, "id": str(number)}).decode() for number in range(3)]
    from bos.ocds.publish import schema_source  # noqa: PLC0415

    with pytest.raises(spreadsheets.SpreadsheetTooLargeError, match="more than 3 rows"):
        spreadsheets.write_xlsx(bodies, {"version": "1.1"}, schema_source(), io.BytesIO())
    out = io.BytesIO()
    spreadsheets.write_xlsx(bodies[:2], {"version": "1.1"}, schema_source(), out)
    assert len(_rows(openpyxl.load_workbook(out, read_only=True)["releases"])) == 2


def test_meta_rows_use_flatten_tools_vertical_layout():
    metadata = {"uri": "u", "extensions": ["a", "b"], "publisher": {"name": "P", "uid": "1"}, "none": None}
    assert spreadsheets.meta_rows(metadata) == [
        ("uri", "u"),
        ("extensions", "a;b"),
        ("publisher/name", "P"),
        ("publisher/uid", "1"),
    ]
