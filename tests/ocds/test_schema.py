from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bos.ocds import schema as ocds_schema
from bos.ocds.schema import (
    BID_EXTENSION_URL,
    BOS_CODELISTS,
    LOTS_EXTENSION_URL,
    SchemaLoadError,
    SchemaSource,
    cached_release_schema,
    get_bos_codelists,
    get_codelist,
    get_release_schema,
    load_extension,
    local_extension_dir,
)
from bos.ocds.validate import validate_release_package
from tests.ocds.conftest import EXTENSIONS_DIR, FICTIONAL_PACKAGE, SCHEMA_DIR, LoopbackServer


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Tests below build sources pointing at short-lived servers; keep them out of other tests' caches.
    yield
    ocds_schema.clear_caches()


def test_local_extension_mapping() -> None:
    assert local_extension_dir(BID_EXTENSION_URL, EXTENSIONS_DIR) == EXTENSIONS_DIR / "ocds_bid_extension" / "v1.1.5"
    assert local_extension_dir(LOTS_EXTENSION_URL, EXTENSIONS_DIR) == EXTENSIONS_DIR / "ocds_lots_extension" / "v1.1.5"
    master = "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/master/extension.json"
    assert local_extension_dir(master, EXTENSIONS_DIR) == EXTENSIONS_DIR / "ocds_bid_extension"
    missing = "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v9.9/extension.json"
    assert local_extension_dir(missing, EXTENSIONS_DIR) is None
    assert local_extension_dir("https://example.com/whatever.json", EXTENSIONS_DIR) is None


def test_patched_release_schema_has_extension_fields(source: SchemaSource) -> None:
    schema = get_release_schema(source)
    assert schema["id"] == "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"
    assert "bids" in schema["properties"]  # bid extension
    assert "Bid" in schema["definitions"]
    assert "lots" in schema["definitions"]["Tender"]["properties"]  # lots extension
    assert "relatedLot" in schema["definitions"]["Item"]["properties"]
    # Core fields survive the patch.
    assert "awards" in schema["properties"]


def test_schema_is_cached_and_copies_are_private(source: SchemaSource) -> None:
    assert cached_release_schema(source) is cached_release_schema(source)
    copy = get_release_schema(source)
    copy["properties"].clear()
    assert "bids" in cached_release_schema(source)["properties"]


def test_no_extensions_gives_core_schema(source: SchemaSource) -> None:
    core = SchemaSource(schema_dir=SCHEMA_DIR, extensions=())
    assert get_release_schema(core) == json.loads((SCHEMA_DIR / "release-schema.json").read_text())
    assert "bids" not in get_release_schema(core)["properties"]


def test_extension_metadata_and_codelists(source: SchemaSource) -> None:
    bid = load_extension(BID_EXTENSION_URL, source)
    assert bid.metadata["name"]["en"] == "Bid statistics and details"
    assert set(bid.codelists) == {"bidStatistics.csv", "bidStatus.csv"}
    lots = load_extension(LOTS_EXTENSION_URL, source)
    assert lots.codelists == {}
    assert lots.release_schema_patch is not None


def test_codelists(source: SchemaSource) -> None:
    assert get_codelist("tenderStatus.csv", source) == {
        "planning",
        "planned",
        "active",
        "cancelled",
        "unsuccessful",
        "complete",
        "withdrawn",
    }
    assert "IDR" in get_codelist("currency.csv", source)
    assert get_codelist("method.csv", source) == {"open", "selective", "limited", "direct"}
    # Defined only by the bid extension.
    assert get_codelist("bidStatus.csv", source) == {"invited", "pending", "valid", "disqualified", "withdrawn"}
    codelists = get_bos_codelists(source)
    assert set(codelists) == {name.removesuffix(".csv") for name in BOS_CODELISTS}
    assert all(codelists.values())
    with pytest.raises(SchemaLoadError):
        get_codelist("noSuchList.csv", source)


def test_missing_schema_dir_raises_clear_error(tmp_path: Path) -> None:
    broken = SchemaSource(schema_dir=tmp_path, extensions=())
    with pytest.raises(SchemaLoadError, match=r"release-schema\.json"):
        cached_release_schema(broken)


# --- fetching over HTTP (a loopback server stands in for standard.open-contracting.org and GitHub) --------------------


def _serve_schema_files(server: LoopbackServer) -> tuple[str, tuple[str, ...]]:
    """Serve the shared schema and extensions under URL layouts like the official ones; return base and ext URLs."""
    base = "/schema/1__1__5/"
    for path in SCHEMA_DIR.rglob("*"):
        if path.is_file():
            server.add_json(base + path.relative_to(SCHEMA_DIR).as_posix(), path.read_bytes())
    extension_urls = []
    for repo in ("ocds_bid_extension", "ocds_lots_extension"):
        folder = EXTENSIONS_DIR / repo / "v1.1.5"
        prefix = f"/open-contracting-extensions/{repo}/v1.1.5/"
        for path in folder.rglob("*"):
            if path.is_file():
                server.add_json(prefix + path.relative_to(folder).as_posix(), path.read_bytes())
        extension_urls.append(server.base_url + prefix + "extension.json")
    return server.base_url + base, tuple(extension_urls)


def test_fetch_from_url_with_disk_cache(http_server: LoopbackServer, tmp_path: Path, source: SchemaSource) -> None:
    base_url, extensions = _serve_schema_files(http_server)
    remote = SchemaSource(base_url=base_url, extensions=extensions, cache_dir=tmp_path / "cache", backoff=0)

    schema = get_release_schema(remote)
    assert schema == get_release_schema(source)  # same files, same patches, same result
    assert get_codelist("bidStatus.csv", remote) == get_codelist("bidStatus.csv", source)
    fetched = list(http_server.log)
    assert base_url.removeprefix(http_server.base_url) + "release-schema.json" in fetched
    assert any(path.endswith("ocds_bid_extension/v1.1.5/release-schema.json") for path in fetched)
    # Everything fetched is cached, except the 404 for bidStatus.csv among the core codelists (it is the extension's).
    assert "/schema/1__1__5/codelists/bidStatus.csv" in fetched
    assert len(list((tmp_path / "cache").iterdir())) == len(set(fetched)) - 1

    # A new process (simulated by clearing the memory caches) reads the disk cache and makes no request at all.
    ocds_schema.clear_caches()
    http_server.log.clear()
    assert get_release_schema(remote) == schema
    assert http_server.log == []

    # The fetched package schemas resolve their $refs offline, through the registry.
    assert validate_release_package(json.loads(FICTIONAL_PACKAGE.read_bytes()), remote) == []


def test_fetch_retries_transient_errors(http_server: LoopbackServer, tmp_path: Path) -> None:
    body = (SCHEMA_DIR / "release-schema.json").read_bytes()
    http_server.add("/s/release-schema.json", (503, b"busy", "text/plain"), (200, body, "application/json"))
    remote = SchemaSource(base_url=http_server.base_url + "/s/", extensions=(), cache_dir=tmp_path, backoff=0)
    assert get_release_schema(remote)["id"].endswith("/1__1__5/release-schema.json")
    assert http_server.log == ["/s/release-schema.json", "/s/release-schema.json"]


def test_fetch_failure_raises_schema_load_error(http_server: LoopbackServer, tmp_path: Path) -> None:
    remote = SchemaSource(base_url=http_server.base_url + "/nothing/", extensions=(), cache_dir=tmp_path, backoff=0)
    with pytest.raises(SchemaLoadError, match="HTTP 404"):
        get_release_schema(remote)
    assert not any(tmp_path.iterdir())  # failures are not cached
