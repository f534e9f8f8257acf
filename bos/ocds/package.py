"""Release and record packages: the package metadata around stored release JSON, assembled as bytes.

Stored releases are spliced into the package as they were stored, never re-serialised, so a page is byte-stable
and costs no JSON encoding of the releases themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from bos.ocds.release import ocds_date
from bos.ocds.schema import BOS_EXTENSIONS

OCDS_VERSION = "1.1"


def package_metadata(config: Mapping[str, Any], uri: str, published: dt.datetime | None) -> dict[str, Any]:
    publisher = {
        "name": config["PUBLISHER_NAME"],
        "scheme": config["PUBLISHER_SCHEME"],
        "uid": config["PUBLISHER_UID"],
    }
    if config.get("PUBLISHER_URI"):
        publisher["uri"] = config["PUBLISHER_URI"]
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "extensions": list(BOS_EXTENSIONS),
        # The newest release in the package, not the clock: the same page always has the same bytes.
        "publishedDate": ocds_date(published or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
        "publisher": publisher,
        "license": config["LICENSE_URL"],
        "publicationPolicy": config["PUBLICATION_POLICY_URL"],
    }


def _assemble(metadata: dict[str, Any], key: str, items: Iterable[bytes], links: dict[str, str] | None) -> bytes:
    head = orjson.dumps(metadata)[:-1]  # reopen the object to append the array
    parts = [head, b',"', key.encode(), b'":[', b",".join(items), b"]"]
    if links:
        parts += [b',"links":', orjson.dumps(links)]
    parts.append(b"}")
    return b"".join(parts)


def release_package(metadata: dict[str, Any], releases: Iterable[str | bytes], links: dict[str, str] | None) -> bytes:
    return _assemble(metadata, "releases", (_bytes(r) for r in releases), links)


def record_package(metadata: dict[str, Any], records: Iterable[dict[str, Any]], links: dict[str, str] | None) -> bytes:
    return _assemble(metadata, "records", (orjson.dumps(record) for record in records), links)


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value
