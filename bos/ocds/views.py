"""Open-data files beside the OCDS API: release spreadsheets, and the DCAT catalogue that open-data portals harvest.

``/api/ocds/spreadsheets/releases.xlsx`` and ``.csv.zip`` flatten the releases the feed would serve for the same
filters (``since``, ``until``, ``buyer``, ``ocid``, ``source``), at most ``spreadsheets.MAX_RELEASES``.

``/catalog.json`` is a Project Open Data (DCAT-US) v1.1 catalogue, the JSON flavour of DCAT that CKAN's
``dcat_json`` harvester (ckanext-dcat) reads: Satu Data Indonesia and other CKAN portals can list BOS's datasets
and keep them current without manual entry. Titles and descriptions are bilingual (Indonesian, then English),
since the format has one title per dataset and both audiences read the portal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, current_app, request
from sqlalchemy import func, select

from bos.db import get_session
from bos.exceptions import BadParameter
from bos.ocds import feeds, package, spreadsheets
from bos.ocds.models import Release
from bos.ocds.publish import schema_source

bp = Blueprint("ocds_files", __name__)

SPREADSHEET_PARAMETERS = {"since", "until", "buyer", "ocid", "source"}

OCDS_DOCS_URL = "https://standard.open-contracting.org/1.1/"
OCDS_RELEASE_PACKAGE_SCHEMA = "https://standard.open-contracting.org/schema/1__1__5/release-package-schema.json"
OCDS_RECORD_PACKAGE_SCHEMA = "https://standard.open-contracting.org/schema/1__1__5/record-package-schema.json"
POD_SCHEMA = "https://project-open-data.cio.gov/v1.1/schema"
# ISO 8601 repeating durations, as Project Open Data's accrualPeriodicity expects. Feeds and bulk files are read
# from the database when requested, so they change with every published release ("continuously").
CONTINUOUSLY = "R/PT1S"
HOURLY = "R/PT1H"  # red flags are recomputed by a scheduled job after releases change
NOTHING_PUBLISHED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
KEYWORDS = ["pengadaan", "procurement", "kontrak", "contracts", "OCDS", "open contracting", "tender"]


def _absolute(path: str, params: dict[str, Any] | None = None) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    query = urlencode({key: value for key, value in (params or {}).items() if value not in (None, "")})
    return f"{base}{path}" + (f"?{query}" if query else "")


def _open_data_headers(response: Response, max_age: int) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"  # open data: any web page may read it
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


# --- spreadsheets --------------------------------------------------------------------------------------------------


def _spreadsheet_filters() -> feeds.FeedFilters:
    unknown = set(request.args) - SPREADSHEET_PARAMETERS
    if unknown:
        raise BadParameter("Unknown parameter.", {name: ["Unknown parameter."] for name in sorted(unknown)})
    return feeds.FeedFilters(
        since=feeds.parse_datetime(request.args.get("since"), "since"),
        until=feeds.parse_datetime(request.args.get("until"), "until"),
        buyer=request.args.get("buyer") or None,
        ocid=request.args.get("ocid") or None,
        source=request.args.get("source") or "bos",
    )


def _spreadsheet(filename: str, mimetype: str, writer: Any) -> Response:
    filters = _spreadsheet_filters()
    rows = spreadsheets.select_releases(get_session(), filters)
    newest = max((row[0] for row in rows), default=None)
    metadata = package.package_metadata(current_app.config, _absolute(request.path, request.args.to_dict()), newest)
    # In memory: the release cap keeps a workbook to a few tens of megabytes, and the body needs no file to close.
    out = io.BytesIO()
    writer((row[3] for row in rows), metadata, schema_source(), out)
    response = Response(out.getvalue(), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    if newest is not None:
        response.last_modified = newest
    return _open_data_headers(response, max_age=300)


@bp.get("/api/ocds/spreadsheets/releases.xlsx")
def releases_xlsx() -> Response:
    return _spreadsheet("releases.xlsx", spreadsheets.XLSX_MIMETYPE, spreadsheets.write_xlsx)


@bp.get("/api/ocds/spreadsheets/releases.csv.zip")
def releases_csv_zip() -> Response:
    return _spreadsheet("releases.csv.zip", spreadsheets.ZIP_MIMETYPE, spreadsheets.write_csv_zip)


# --- DCAT catalogue ------------------------------------------------------------------------------------------------


def _date(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bilingual(indonesian: str, english: str) -> str:
    return f"{indonesian} / {english}"


def _distribution(
    title: str, description: str, url: str, media_type: str, format_name: str, *, download: bool, conforms_to: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {"@type": "dcat:Distribution", "title": title, "description": description}
    # downloadURL is a file as is; accessURL an API or a query form (POD v1.1: mediaType is required with downloadURL)
    entry["downloadURL" if download else "accessURL"] = url
    entry |= {"mediaType": media_type, "format": format_name, "conformsTo": conforms_to, "describedBy": OCDS_DOCS_URL}
    return entry


def build_catalog(config: Any, modified: dt.datetime) -> dict[str, Any]:
    """The Project Open Data v1.1 catalogue of BOS's datasets (absolute URLs from ``PUBLIC_BASE_URL``)."""
    publisher_name = config["PUBLISHER_NAME"]
    common = {
        "@type": "dcat:Dataset",
        "keyword": KEYWORDS,
        "modified": _date(modified),
        "publisher": {"@type": "org:Organization", "name": publisher_name},
        "contactPoint": {"@type": "vcard:Contact", "fn": publisher_name, "hasEmail": f"mailto:{config['MAIL_FROM']}"},
        "accessLevel": "public",
        "license": config["LICENSE_URL"],
        "language": ["id", "en"],
        "landingPage": _absolute("/"),
        "references": [OCDS_DOCS_URL, config["PUBLICATION_POLICY_URL"]],
    }
    cap = spreadsheets.MAX_RELEASES
    cap_id = f"{cap:,}".replace(",", ".")  # Indonesian groups thousands with dots
    spreadsheet_note = _bilingual(
        f"Paling banyak {cap_id} rilis: saring dengan parameter since, until, buyer atau ocid.",
        f"At most {cap:,} releases: filter with the since, until, buyer or ocid parameters.",
    )
    releases = {
        **common,
        "identifier": _absolute("/api/ocds/releases"),
        "title": _bilingual(
            f"Rilis OCDS pengadaan — {publisher_name}", f"OCDS procurement releases — {publisher_name}"
        ),
        "description": (
            "Setiap peristiwa pengadaan (rencana, tender, pemenang, kontrak, pembayaran) yang diterbitkan BOS sebagai "
            "rilis Open Contracting Data Standard (OCDS) 1.1, tidak pernah diubah setelah terbit.\n\n"
            "Every procurement event (plan, tender, award, contract, payment) published by BOS as an Open "
            "Contracting Data Standard (OCDS) 1.1 release, never changed once published."
        ),
        "accrualPeriodicity": CONTINUOUSLY,
        "conformsTo": OCDS_RELEASE_PACKAGE_SCHEMA,
        "describedBy": OCDS_DOCS_URL,
        "distribution": [
            _distribution(
                _bilingual("API rilis (paket rilis, berhalaman)", "Releases API (paged release packages)"),
                _bilingual(
                    "Ikuti links.next; saring dengan since, until, buyer, ocid.",
                    "Follow links.next; filter with since, until, buyer, ocid.",
                ),
                _absolute("/api/ocds/releases"),
                "application/json",
                "JSON",
                download=False,
                conforms_to=OCDS_RELEASE_PACKAGE_SCHEMA,
            ),
            _distribution(
                _bilingual("Semua rilis (JSON Lines, gzip)", "All releases (JSON Lines, gzip)"),
                _bilingual("Satu rilis per baris.", "One release per line."),
                _absolute("/api/ocds/bulk/releases.jsonl.gz"),
                "application/gzip",
                "JSON Lines (gzip)",
                download=True,
                conforms_to=OCDS_RELEASE_PACKAGE_SCHEMA,
            ),
            _distribution(
                _bilingual("Rilis dalam lembar kerja Excel", "Releases as an Excel workbook"),
                spreadsheet_note,
                _absolute("/api/ocds/spreadsheets/releases.xlsx"),
                spreadsheets.XLSX_MIMETYPE,
                "XLSX",
                download=False,
                conforms_to=OCDS_RELEASE_PACKAGE_SCHEMA,
            ),
            _distribution(
                _bilingual("Rilis dalam berkas CSV (zip)", "Releases as CSV files (zip)"),
                spreadsheet_note,
                _absolute("/api/ocds/spreadsheets/releases.csv.zip"),
                spreadsheets.ZIP_MIMETYPE,
                "CSV (zip)",
                download=False,
                conforms_to=OCDS_RELEASE_PACKAGE_SCHEMA,
            ),
        ],
    }
    records = {
        **common,
        "identifier": _absolute("/api/ocds/records"),
        "title": _bilingual(
            f"Record OCDS pengadaan — {publisher_name}", f"OCDS procurement records — {publisher_name}"
        ),
        "description": (
            "Keadaan terkini setiap paket pengadaan: rilis terkompilasi OCDS 1.1 beserta tautan ke semua rilisnya.\n\n"
            "The current state of every contracting process: the OCDS 1.1 compiled release, with links to all its "
            "releases."
        ),
        "accrualPeriodicity": CONTINUOUSLY,
        "conformsTo": OCDS_RECORD_PACKAGE_SCHEMA,
        "describedBy": OCDS_DOCS_URL,
        "distribution": [
            _distribution(
                _bilingual("API record (paket record, berhalaman)", "Records API (paged record packages)"),
                _bilingual(
                    "Ikuti links.next; saring dengan since, until, buyer, ocid.",
                    "Follow links.next; filter with since, until, buyer, ocid.",
                ),
                _absolute("/api/ocds/records"),
                "application/json",
                "JSON",
                download=False,
                conforms_to=OCDS_RECORD_PACKAGE_SCHEMA,
            ),
            _distribution(
                _bilingual("Semua record (JSON Lines, gzip)", "All records (JSON Lines, gzip)"),
                _bilingual("Satu record per baris.", "One record per line."),
                _absolute("/api/ocds/bulk/records.jsonl.gz"),
                "application/gzip",
                "JSON Lines (gzip)",
                download=True,
                conforms_to=OCDS_RECORD_PACKAGE_SCHEMA,
            ),
        ],
    }
    red_flags = {
        **common,
        "identifier": _absolute("/api/red-flags/bulk/flags.jsonl.gz"),
        "title": _bilingual(
            f"Tanda bahaya (red flag) pengadaan — {publisher_name}", f"Procurement red flags — {publisher_name}"
        ),
        "description": (
            "Indikator risiko yang dihitung BOS untuk setiap paket pengadaan dari data OCDS-nya. Tanda bahaya adalah "
            "petunjuk untuk diperiksa, bukan bukti pelanggaran.\n\n"
            "Risk indicators computed by BOS for every contracting process from its OCDS data. A red flag is a lead "
            "to check, not proof of wrongdoing."
        ),
        "accrualPeriodicity": HOURLY,
        "describedBy": OCDS_DOCS_URL,
        "distribution": [
            {
                "@type": "dcat:Distribution",
                "title": _bilingual("Semua tanda bahaya (JSON Lines, gzip)", "All red flags (JSON Lines, gzip)"),
                "description": _bilingual("Satu tanda bahaya per baris.", "One flag per line."),
                "downloadURL": _absolute("/api/red-flags/bulk/flags.jsonl.gz"),
                "mediaType": "application/gzip",
                "format": "JSON Lines (gzip)",
            }
        ],
    }
    return {
        "@context": f"{POD_SCHEMA}/catalog.jsonld",
        "@id": _absolute("/catalog.json"),
        "@type": "dcat:Catalog",
        "conformsTo": POD_SCHEMA,
        "describedBy": f"{POD_SCHEMA}/catalog.json",
        "dataset": [releases, records, red_flags],
    }


@bp.get("/catalog.json")
def catalog() -> Response:
    newest = get_session().scalar(select(func.max(Release.date)).where(Release.source == "bos"))
    # Before the first release there is nothing to date; package.py's placeholder keeps the body (and ETag) stable.
    modified = newest or NOTHING_PUBLISHED
    body = orjson.dumps(build_catalog(current_app.config, modified), option=orjson.OPT_INDENT_2)
    response = Response(body, mimetype="application/json")
    response.set_etag(hashlib.sha256(body).hexdigest())
    if newest is not None:
        response.last_modified = newest
    response = _open_data_headers(response, max_age=300)
    return response.make_conditional(request)
