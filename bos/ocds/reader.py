"""Parse OCDS data from files, directories and HTTP APIs into whole packages to import (no storage here).

Input shapes: release packages, record packages (embedded or linked releases), bare releases and bare records
(wrapped into a package of one, see :func:`classify`), either as one JSON document, a top-level JSON array of them, or
JSON Lines (one per line); each optionally gzip-compressed. Over HTTP, ``links.next`` is followed page by page.

The reader yields :class:`Unit` (a package and where it came from) or :class:`ReadError` (where and why something
could not be read); it never raises on bad input, so one broken file does not stop a crawl.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import urljoin, urlsplit

import orjson
import requests

from bos.ocds.http import DEFAULT_BACKOFF, DEFAULT_RETRIES, DEFAULT_TIMEOUT, make_session

JSON_SUFFIXES = frozenset({".json"})
JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson", ".jsonlines"})
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"

# Package metadata that bare releases carry in a non-standard "packageInfo" object, or (bare records, releases that
# publishers dumped out of their packages) at the top level; lifted into the wrapping package.
PACKAGE_METADATA_KEYS = ("uri", "version", "extensions", "publishedDate", "publisher", "license", "publicationPolicy")

PackageKind = Literal["release_package", "record_package"]


class Shape(StrEnum):
    """What the input looked like, before any wrapping."""

    RELEASE_PACKAGE = "release_package"
    RECORD_PACKAGE = "record_package"
    RELEASE = "release"
    RECORD = "record"


@dataclass(frozen=True)
class Location:
    """Where a unit or an error comes from: a file path or URL, plus the line, array index or page inside it."""

    source: str
    line: int | None = None  # 1-based line (JSON Lines, or the line of a JSON syntax error)
    index: int | None = None  # 0-based position in a top-level JSON array
    page: int | None = None  # 1-based page number when following links.next

    def __str__(self) -> str:
        parts = [self.source]
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.index is not None:
            parts.append(f"item {self.index}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Unit:
    """One package to import. ``package`` is always a release package or a record package, possibly a wrapper."""

    kind: PackageKind
    package: dict[str, Any]
    location: Location
    shape: Shape

    @property
    def wrapped(self) -> bool:
        return self.shape in {Shape.RELEASE, Shape.RECORD}


@dataclass(frozen=True)
class ReadError:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


Item = Unit | ReadError


@dataclass(frozen=True)
class ReaderOptions:
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    max_pages: int = 1000  # a safety cap on links.next chains (and a bound on a crawl's duration)


# --- JSON ----------------------------------------------------------------------------------------------------------


class _MalformedError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def _strip_nul(value: Any) -> Any:
    # PostgreSQL text and jsonb cannot store U+0000, and it carries no meaning in procurement data.
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(key): _strip_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    return value


def loads(data: bytes) -> Any:
    """Parse JSON (orjson: fast, and strict about NaN/Infinity, which JSON forbids), without NUL characters.

    Raises :class:`_MalformedError` with the 1-based line of the syntax error.
    """
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise _MalformedError(f"malformed JSON: {e}", e.lineno) from e
    # A JSON string can only contain U+0000 as the escape \u0000, so a byte scan skips the walk for clean input.
    if b"\\u0000" in data:
        value = _strip_nul(value)
    return value


def _is_object_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


# --- shapes --------------------------------------------------------------------------------------------------------


def _lift_metadata(target: dict[str, Any], carrier: Any) -> None:
    if isinstance(carrier, dict):
        for key in PACKAGE_METADATA_KEYS:
            if carrier.get(key) is not None:
                target.setdefault(key, carrier[key])


def wrap_release(release: dict[str, Any]) -> dict[str, Any]:
    """A release package holding one bare release; package metadata comes from its ``packageInfo`` and stray fields.

    The release itself is kept as published, so validation still reports its non-standard fields.
    """
    package: dict[str, Any] = {}
    _lift_metadata(package, release.get("packageInfo"))
    _lift_metadata(package, release)
    package["releases"] = [release]
    return package


def wrap_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record package holding one bare record.

    Old (OCDS 1.0-era) bare records often lack the record's ``ocid``; it is taken from the compiled release or the
    first release that has one, since the importer keys records by it.
    """
    package: dict[str, Any] = {}
    _lift_metadata(package, record.get("packageInfo"))
    _lift_metadata(package, record)
    if "ocid" not in record:
        candidates = [record.get("compiledRelease"), *record.get("releases", [])]
        ocid = next((c["ocid"] for c in candidates if isinstance(c, dict) and isinstance(c.get("ocid"), str)), None)
        if ocid is not None:
            record = {"ocid": ocid, **record}
    package["records"] = [record]
    return package


def classify(value: Any, location: Location) -> Item:
    """Recognise the shape of one JSON value and make it a package to import, or say why not."""
    if not isinstance(value, dict):
        return ReadError(location, f"expected a JSON object, got {type(value).__name__}")
    if "records" in value:
        if not _is_object_list(value["records"]):
            return ReadError(location, "record package: 'records' is not an array of objects")
        return Unit("record_package", value, location, Shape.RECORD_PACKAGE)
    if "releases" in value:
        if not _is_object_list(value["releases"]):
            return ReadError(location, "'releases' is not an array of objects")
        # A record, unlike a release package, names its process and may carry the merged releases.
        if any(key in value for key in ("ocid", "compiledRelease", "versionedRelease")):
            return Unit("record_package", wrap_record(value), location, Shape.RECORD)
        return Unit("release_package", value, location, Shape.RELEASE_PACKAGE)
    if "ocid" in value:
        return Unit("release_package", wrap_release(value), location, Shape.RELEASE)
    keys = ", ".join(sorted(value)[:10])
    return ReadError(location, f"not an OCDS release, record, release package or record package (keys: {keys})")


def _classify_document(value: Any, location: Location) -> Iterator[Item]:
    # Some APIs and dumps return a top-level array of releases or packages.
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield classify(item, Location(location.source, location.line, index, location.page))
    else:
        yield classify(value, location)


def _read_lines(lines: Iterable[bytes], location: Location) -> Iterator[Item]:
    for number, line in enumerate(lines, 1):
        line_location = Location(location.source, number, None, location.page)
        if not line.strip():
            continue
        try:
            value = loads(line)
        except _MalformedError as e:
            yield ReadError(line_location, str(e))
            continue
        yield from _classify_document(value, line_location)


def read_bytes(data: bytes, location: Location, *, json_lines: bool | None = None) -> Iterator[Item]:
    """Parse an in-memory document (gzip-compressed or not). ``json_lines=None`` detects JSON Lines from content."""
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            yield ReadError(location, f"corrupt gzip data: {e}")
            return
    if json_lines:
        yield from _read_lines(data.splitlines(), location)
        return
    try:
        value = loads(data)
    except _MalformedError as e:
        # Files named .json that are really JSON Lines are common in bulk downloads: if the first line is a whole
        # document, read the rest as lines too; otherwise report the syntax error where it is.
        first, _, rest = data.lstrip().partition(b"\n")
        if json_lines is None and rest.strip() and _parses(first):
            yield from _read_lines(data.splitlines(), location)
        else:
            yield ReadError(Location(location.source, e.line, None, location.page), str(e))
        return
    yield from _classify_document(value, location)


def _parses(data: bytes) -> bool:
    try:
        loads(data)
    except _MalformedError:
        return False
    return True


def _is_json_lines_name(name: str) -> bool:
    path = Path(name.removesuffix(".gz"))
    return path.suffix.lower() in JSON_LINES_SUFFIXES


def _is_data_file(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return not path.name.startswith(".") and Path(name).suffix in JSON_SUFFIXES | JSON_LINES_SUFFIXES


# --- files ---------------------------------------------------------------------------------------------------------


def _open(path: Path) -> BinaryIO:
    # Sniff the magic bytes rather than trust the name: ".json" files are sometimes gzipped, and vice versa.
    with path.open("rb") as f:
        magic = f.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_file(path: Path) -> Iterator[Item]:
    location = Location(str(path))
    try:
        with _open(path) as f:
            if _is_json_lines_name(path.name):
                # Streamed line by line: JSON Lines dumps are routinely larger than memory.
                yield from _read_lines(f, location)
            else:
                yield from read_bytes(f.read(), location, json_lines=None)
    except (OSError, EOFError, zlib.error) as e:
        yield ReadError(location, f"cannot read file: {e}")


def read_path(path: str | os.PathLike[str]) -> Iterator[Item]:
    """Read a file, or every ``.json``/``.jsonl``/``.ndjson`` (optionally ``.gz``) file under a directory, sorted."""
    path = Path(path)
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and _is_data_file(p)):
            yield from read_file(child)
    elif path.exists():
        yield from read_file(path)
    else:
        yield ReadError(Location(str(path)), "no such file or directory")


# --- HTTP ----------------------------------------------------------------------------------------------------------


def _next_url(value: Any, current: str) -> str | None:
    if isinstance(value, dict):
        links = value.get("links")
        if isinstance(links, dict) and isinstance(links.get("next"), str) and links["next"]:
            return urljoin(current, links["next"])
    return None


def read_url(
    url: str, options: ReaderOptions | None = None, *, session: requests.Session | None = None
) -> Iterator[Item]:
    """Read an OCDS API endpoint or file URL, following ``links.next`` for at most ``options.max_pages`` pages.

    Transient failures (429 and 5xx, connection errors) are retried with exponential backoff by the session; what
    still fails becomes a :class:`ReadError` for that page, which ends the chain (the next link is on that page).
    """
    options = options or ReaderOptions()
    own_session = session is None
    session = session or make_session(options.retries, options.backoff)
    seen: set[str] = set()
    try:
        page = 0
        current: str | None = url
        while current is not None:
            page += 1
            location = Location(current, page=page)
            if page > options.max_pages:
                yield ReadError(location, f"stopped after {options.max_pages} pages (links.next continues)")
                return
            if current in seen:
                yield ReadError(location, "links.next loops back to a page already read")
                return
            seen.add(current)
            try:
                response = session.get(current, timeout=options.timeout)
            except requests.RequestException as e:
                yield ReadError(location, f"request failed: {e}")
                return
            if response.status_code != 200:
                yield ReadError(location, f"HTTP {response.status_code}")
                return

            content_type = response.headers.get("Content-Type", "").lower()
            json_lines = (
                _is_json_lines_name(urlsplit(current).path) or "ndjson" in content_type or ("jsonl" in content_type)
            )
            next_url: str | None = None
            if json_lines:
                yield from read_bytes(response.content, location, json_lines=True)
            else:
                # Parsed here rather than in read_bytes, because the next link lives in the parsed page.
                data = response.content
                if data.startswith(GZIP_MAGIC):
                    # Served as a .gz file (not Content-Encoding, which requests already decoded).
                    yield from read_bytes(data, location)
                else:
                    try:
                        value = loads(data)
                    except _MalformedError as e:
                        yield ReadError(Location(current, e.line, None, page), str(e))
                        return
                    yield from _classify_document(value, location)
                    next_url = _next_url(value, current)
            current = next_url
    finally:
        if own_session:
            session.close()


def read(source: str | os.PathLike[str], options: ReaderOptions | None = None) -> Iterator[Item]:
    """Read from a URL (``http://``, ``https://``) or a local file or directory."""
    if isinstance(source, str) and urlsplit(source).scheme in {"http", "https"}:
        yield from read_url(source, options)
    else:
        yield from read_path(source)
