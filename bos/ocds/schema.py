"""OCDS 1.1 schemas, extensions and codelists, from a local directory or from the official URLs with a disk cache.

Everything is keyed by a frozen :class:`SchemaSource`, so the patched schema is built once per configuration and
per process (``functools.lru_cache``). Cached objects are shared: the ``get_*`` functions return deep copies, and the
``cached_*`` ones (for validate.py and compile.py) return the shared object, which must not be mutated.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import json_merge_patch
import requests

from bos.ocds.http import DEFAULT_RETRIES, DEFAULT_TIMEOUT, make_session

OCDS_VERSION = "1.1"
OCDS_SCHEMA_BASE_URL = "https://standard.open-contracting.org/schema/1__1__5/"

RELEASE_SCHEMA = "release-schema.json"
RELEASE_PACKAGE_SCHEMA = "release-package-schema.json"
RECORD_PACKAGE_SCHEMA = "record-package-schema.json"
VERSIONED_RELEASE_SCHEMA = "versioned-release-validation-schema.json"

# The extensions BOS declares in every package it publishes (pinned to tags: HEAD of these repos differs a lot).
BID_EXTENSION_URL = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json"
)
LOTS_EXTENSION_URL = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/extension.json"
)
BOS_EXTENSIONS: tuple[str, ...] = (BID_EXTENSION_URL, LOTS_EXTENSION_URL)

# Codelists whose values BOS reads or writes (core, then the bid extension's own).
BOS_CODELISTS: tuple[str, ...] = (
    "releaseTag.csv",
    "initiationType.csv",
    "partyRole.csv",
    "tenderStatus.csv",
    "awardStatus.csv",
    "contractStatus.csv",
    "method.csv",
    "procurementCategory.csv",
    "awardCriteria.csv",
    "submissionMethod.csv",
    "documentType.csv",
    "milestoneType.csv",
    "milestoneStatus.csv",
    "currency.csv",
    "bidStatus.csv",
    "bidStatistics.csv",
)

# Branch names under which a repository's default branch may be referenced; mapped to the extension's root folder.
_DEFAULT_BRANCHES = frozenset({"master", "main", "HEAD"})


class SchemaLoadError(RuntimeError):
    """A schema, extension or codelist could not be read or fetched."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bos" / "ocds"


@dataclass(frozen=True)
class SchemaSource:
    """Where the schemas come from. Frozen and hashable: it is the key of the in-memory caches.

    ``schema_dir`` holds the core files (``release-schema.json``, …, ``codelists/*.csv``); when None they are fetched
    from ``base_url`` and kept in ``cache_dir``. ``extensions_dir`` holds extension copies laid out as
    ``<repo name>/<tag>/extension.json`` (``<repo name>/extension.json`` for a default branch).
    """

    schema_dir: Path | None = None
    extensions_dir: Path | None = None
    cache_dir: Path | None = None
    extensions: tuple[str, ...] = BOS_EXTENSIONS
    base_url: str = OCDS_SCHEMA_BASE_URL
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = field(default=0.5, compare=False)

    @property
    def effective_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()


@dataclass(frozen=True)
class Extension:
    url: str
    metadata: dict[str, Any]
    release_schema_patch: dict[str, Any] | None
    # Codelist file name (possibly "+name.csv" / "-name.csv", which patch a core codelist) → codes.
    codelists: dict[str, frozenset[str]]


# --- low-level loading ---------------------------------------------------------------------------------------------


def fetch_bytes(url: str, source: SchemaSource) -> bytes:
    """GET ``url`` once per cache directory: later calls (in any process) read the cached copy.

    Schema URLs are versioned (tags), so the cache never needs invalidating; delete the directory to refetch.
    """
    cache_dir = source.effective_cache_dir
    name = PurePosixPath(urlsplit(url).path).name or "index"
    cached = cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}-{name}"
    if cached.is_file():
        return cached.read_bytes()

    try:
        with make_session(source.retries, source.backoff) as session:
            response = session.get(url, timeout=source.timeout)
    except requests.RequestException as e:
        raise SchemaLoadError(f"cannot fetch {url}: {e}") from e
    if response.status_code != 200:
        raise SchemaLoadError(f"cannot fetch {url}: HTTP {response.status_code}")

    cache_dir.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader (another worker) never sees a half-written file.
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(response.content)
    Path(tmp).replace(cached)
    return response.content


def _read_local(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SchemaLoadError(f"cannot read {path}: {e}") from e


def _parse_json(data: bytes, origin: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as e:
        raise SchemaLoadError(f"{origin} is not valid JSON: {e}") from e


def _core_bytes(relative: str, source: SchemaSource) -> bytes:
    if source.schema_dir is not None:
        return _read_local(source.schema_dir / relative)
    return fetch_bytes(urljoin(source.base_url, relative), source)


@lru_cache(maxsize=64)
def _core_schema(name: str, source: SchemaSource) -> dict[str, Any]:
    return _parse_json(_core_bytes(name, source), name)


def parse_codelist(data: bytes) -> frozenset[str]:
    """CSV codelist → its codes (the ``Code`` column, as in every OCDS codelist)."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    if reader.fieldnames is None or "Code" not in reader.fieldnames:
        raise SchemaLoadError(f"codelist has no Code column (columns: {reader.fieldnames})")
    return frozenset(row["Code"] for row in reader if row["Code"])


# --- extensions ----------------------------------------------------------------------------------------------------


def local_extension_dir(url: str, extensions_dir: Path) -> Path | None:
    """Map an extension.json URL to a local copy, by repository name and tag.

    ``…/<owner>/<repo>/<ref>/extension.json`` (raw.githubusercontent.com layout) → ``extensions_dir/<repo>/<ref>/``;
    a default-branch ref maps to ``extensions_dir/<repo>/``. Returns None when no such copy exists.
    """
    parts = PurePosixPath(urlsplit(url).path).parts
    if len(parts) < 4 or parts[-1] != "extension.json":
        return None
    repo, ref = parts[-3], parts[-2]
    candidates = [extensions_dir / repo / ref]
    if ref in _DEFAULT_BRANCHES:
        candidates.append(extensions_dir / repo)
    for candidate in candidates:
        if (candidate / "extension.json").is_file():
            return candidate
    return None


@lru_cache(maxsize=64)
def load_extension(url: str, source: SchemaSource) -> Extension:
    local = local_extension_dir(url, source.extensions_dir) if source.extensions_dir is not None else None

    def read(relative: str) -> bytes:
        if local is not None:
            return _read_local(local / relative)
        return fetch_bytes(urljoin(url, relative), source)

    metadata = _parse_json(read("extension.json"), url)
    if not isinstance(metadata, dict):
        raise SchemaLoadError(f"{url} is not an extension.json object")
    # Extensions before the 1.1 metadata format may omit "schemas"; their release-schema.json is then implied.
    schemas = metadata.get("schemas", [RELEASE_SCHEMA])
    patch = _parse_json(read(RELEASE_SCHEMA), f"{url} {RELEASE_SCHEMA}") if RELEASE_SCHEMA in schemas else None
    codelists = {name: parse_codelist(read(f"codelists/{name}")) for name in metadata.get("codelists", [])}
    return Extension(url=url, metadata=metadata, release_schema_patch=patch, codelists=codelists)


# --- public API ----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def cached_release_schema(source: SchemaSource) -> dict[str, Any]:
    """The core release schema patched with every extension, in declaration order (shared object: do not mutate)."""
    schema = copy.deepcopy(_core_schema(RELEASE_SCHEMA, source))
    for url in source.extensions:
        patch = load_extension(url, source).release_schema_patch
        if patch is not None:
            # RFC 7386, as the OCDS extension docs prescribe; `null` in a patch deletes a property.
            schema = json_merge_patch.merge(schema, patch)
    return schema


def get_release_schema(source: SchemaSource) -> dict[str, Any]:
    """A private copy of the patched release schema."""
    return copy.deepcopy(cached_release_schema(source))


def cached_core_schema(name: str, source: SchemaSource) -> dict[str, Any]:
    """An unpatched core schema by file name (package schemas, versioned release schema); shared: do not mutate."""
    return _core_schema(name, source)


def get_core_schema(name: str, source: SchemaSource) -> dict[str, Any]:
    return copy.deepcopy(_core_schema(name, source))


@lru_cache(maxsize=256)
def get_codelist(name: str, source: SchemaSource) -> frozenset[str]:
    """Codes of a codelist by file name (``"tenderStatus.csv"``), with extensions' ``+``/``-`` patches applied.

    A core codelist is patched by extensions' ``+name.csv`` (added codes) and ``-name.csv`` (removed codes); a
    codelist that only an extension defines (``bidStatus.csv``) is read from it.
    """
    codes: set[str] | None = None
    try:
        codes = set(parse_codelist(_core_bytes(f"codelists/{name}", source)))
    except SchemaLoadError:
        codes = None
    extensions = [load_extension(url, source) for url in source.extensions]
    for extension in extensions:
        if codes is None and name in extension.codelists:
            codes = set(extension.codelists[name])
    if codes is None:
        raise SchemaLoadError(f"no codelist {name} in the core schema or the declared extensions")
    for extension in extensions:
        codes |= extension.codelists.get(f"+{name}", frozenset())
        codes -= extension.codelists.get(f"-{name}", frozenset())
    return frozenset(codes)


def get_bos_codelists(source: SchemaSource) -> dict[str, frozenset[str]]:
    """Every codelist BOS uses, keyed by its name without ``.csv`` (``"tenderStatus"``)."""
    return {name.removesuffix(".csv"): get_codelist(name, source) for name in BOS_CODELISTS}


def clear_caches() -> None:
    """Forget every in-memory schema (tests, or after changing files in a schema directory)."""
    for cached in (_core_schema, load_extension, cached_release_schema, get_codelist):
        cached.cache_clear()
