"""The public OCDS API under /api/ocds/: release and record packages, paged feeds and bulk files.

These paths and parameters are a public contract (see README): fields may be added, never renamed or removed.
Reads need no account. Responses carry ETag/Last-Modified (304 on a match), Cache-Control, CORS and gzip.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, current_app, request, stream_with_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.db import get_session, utcnow
from bos.exceptions import NotFound
from bos.ocds import feeds, package
from bos.ocds.compile import compile_versioned
from bos.ocds.models import Record, Release
from bos.ocds.publish import schema_source
from bos.pagination import parse_limit

bp = Blueprint("ocds", __name__, url_prefix="/api/ocds")

ALLOWED_PARAMETERS = {"since", "until", "buyer", "ocid", "limit", "cursor", "source"}


@bp.after_request
def _cors(response: Response) -> Response:
    # Open data: any web page may read it. Only GET/HEAD exist here.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Last-Modified, Link"
    return response


def _absolute(path: str, params: dict[str, Any] | None = None) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    query = urlencode({k: v for k, v in (params or {}).items() if v not in (None, "")})
    return f"{base}{path}" + (f"?{query}" if query else "")


def _filters() -> feeds.FeedFilters:
    return feeds.FeedFilters(
        since=feeds.parse_datetime(request.args.get("since"), "since"),
        until=feeds.parse_datetime(request.args.get("until"), "until"),
        buyer=request.args.get("buyer") or None,
        ocid=request.args.get("ocid") or None,
        source=request.args.get("source") or "bos",
    )


def _watermark() -> dt.datetime | None:
    seconds = current_app.config.get("FEED_WATERMARK_SECONDS", 2)
    return utcnow() - dt.timedelta(seconds=seconds) if seconds else None


def _json_response(body: bytes, last_modified: dt.datetime | None, max_age: int = 60) -> Response:
    response = Response(body, mimetype="application/json")
    response.set_etag(hashlib.sha256(body).hexdigest())
    if last_modified is not None:
        response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response = response.make_conditional(request)
    if response.status_code == 200 and "gzip" in request.headers.get("Accept-Encoding", "") and len(body) > 1024:
        response.set_data(gzip.compress(body, compresslevel=5, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
    return response


def _page_params() -> tuple[feeds.FeedFilters, str | None, int]:
    unknown = set(request.args) - ALLOWED_PARAMETERS
    if unknown:
        from bos.exceptions import BadParameter  # noqa: PLC0415

        raise BadParameter("Unknown parameter.", {name: ["Unknown parameter."] for name in sorted(unknown)})
    return _filters(), request.args.get("cursor") or None, parse_limit(request.args.get("limit"))


@bp.get("/releases")
def releases() -> Response:
    filters, cursor, limit = _page_params()
    page = feeds.release_page(get_session(), filters, cursor, limit, _watermark())
    newest = max((row[0] for row in page.rows), default=None)
    links = None
    if page.next_cursor:
        links = {"next": _absolute(request.path, {**request.args.to_dict(), "cursor": page.next_cursor})}
    metadata = package.package_metadata(current_app.config, _absolute(request.path, request.args.to_dict()), newest)
    body = package.release_package(metadata, (row[3] for row in page.rows), links)
    return _json_response(body, newest)


@bp.get("/releases/<path:ocid_and_id>")
def release(ocid_and_id: str) -> Response:
    ocid, _, release_id = ocid_and_id.partition("/")
    row = (
        get_session()
        .execute(select(Release.date, Release.json).where(Release.ocid == ocid, Release.release_id == release_id))
        .one_or_none()
    )
    if row is None:
        raise NotFound("No such release.")
    metadata = package.package_metadata(current_app.config, _absolute(request.path), row.date)
    # An immutable release never changes: let caches keep it for a day.
    return _json_response(package.release_package(metadata, [row.json], None), row.date, max_age=86400)


def build_record(record: Record, linked: list[tuple[str, dt.datetime, str]], versioned: dict | None = None) -> dict:
    """The OCDS record of ``record``: linked releases (url, date, tag), compiled release and, if asked, versioned."""
    entry: dict[str, Any] = {
        "ocid": record.ocid,
        "releases": [
            {
                "url": _absolute(f"/api/ocds/releases/{record.ocid}/{release_id}"),
                "date": date.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "tag": tags.split(),
            }
            for release_id, date, tags in linked
        ],
        "compiledRelease": orjson.loads(record.compiled),
    }
    if not linked and record.linked_releases:
        # An imported record whose publisher only linked its releases: serve those links as published.
        entry["releases"] = orjson.loads(record.linked_releases)
    if versioned is not None:
        entry["versionedRelease"] = versioned
    return entry


@bp.get("/records")
def records() -> Response:
    filters, cursor, limit = _page_params()
    session = get_session()
    page = feeds.record_page(session, filters, cursor, limit, _watermark())
    links_by_ocid = feeds.linked_releases(session, [record.ocid for record in page.records])
    newest = max((record.last_release_date for record in page.records), default=None)
    links = None
    if page.next_cursor:
        links = {"next": _absolute(request.path, {**request.args.to_dict(), "cursor": page.next_cursor})}
    metadata = package.package_metadata(current_app.config, _absolute(request.path, request.args.to_dict()), newest)
    body = package.record_package(
        metadata, (build_record(record, links_by_ocid[record.ocid]) for record in page.records), links
    )
    return _json_response(body, newest)


@bp.get("/records/<path:ocid>")
def record(ocid: str) -> Response:
    session = get_session()
    found = session.scalars(select(Record).where(Record.ocid == ocid)).one_or_none()
    if found is None:
        raise NotFound("No such record.")
    linked = feeds.linked_releases(session, [ocid])[ocid]
    versioned = None
    if request.args.get("versioned", "").lower() in {"1", "true", "yes"}:
        stored = session.scalars(select(Release.json).where(Release.ocid == ocid).order_by(Release.id)).all()
        versioned = compile_versioned([orjson.loads(body) for body in stored], schema_source())
    metadata = package.package_metadata(current_app.config, _absolute(request.path), found.last_release_date)
    body = package.record_package(metadata, [build_record(found, linked, versioned)], None)
    return _json_response(body, found.last_release_date)


def _stream(lines: Callable[[Session], Iterator[list[bytes]]], filename: str) -> Response:
    factory = current_app.extensions["bos_db"].session_factory

    def generate() -> Iterator[bytes]:
        # A session of its own: the request's session is closed by the time the body streams.
        session = factory()
        try:
            yield from feeds.stream_gzip_lines(lines(session))
        finally:
            session.close()

    response = Response(stream_with_context(generate()), mimetype="application/gzip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/bulk/releases.jsonl.gz")
def bulk_releases() -> Response:
    return _stream(feeds.iter_release_lines, "releases.jsonl.gz")


@bp.get("/bulk/records.jsonl.gz")
def bulk_records() -> Response:
    return _stream(lambda session: feeds.iter_record_lines(session, build_record), "records.jsonl.gz")


@bp.get("/bulk/")
def bulk_index() -> Response:
    session = get_session()
    newest = session.scalar(select(Release.date).where(Release.source == "bos").order_by(Release.date.desc()).limit(1))
    files = [
        {
            "url": _absolute("/api/ocds/bulk/releases.jsonl.gz"),
            "description": "Every release, one JSON object per line, in the order they were stored (publication order).",
            "format": "application/gzip; JSON Lines",
        },
        {
            "url": _absolute("/api/ocds/bulk/records.jsonl.gz"),
            "description": "Every record (linked releases and compiled release), one per line.",
            "format": "application/gzip; JSON Lines",
        },
    ]
    body = orjson.dumps({"modified": newest.strftime("%Y-%m-%dT%H:%M:%SZ") if newest else None, "files": files})
    return _json_response(body, newest)
