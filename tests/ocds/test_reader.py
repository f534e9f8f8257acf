from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bos.ocds.reader import (
    Item,
    Location,
    ReaderOptions,
    ReadError,
    Shape,
    Unit,
    classify,
    read,
    read_path,
    read_url,
)
from tests.ocds.conftest import FICTIONAL_PACKAGE, SAMPLES_DIR, LoopbackServer

FAST = ReaderOptions(timeout=5, retries=2, backoff=0)


def _split(items: list[Item]) -> tuple[list[Unit], list[ReadError]]:
    units = [item for item in items if isinstance(item, Unit)]
    errors = [item for item in items if isinstance(item, ReadError)]
    return units, errors


def _release(ocid: str, index: int) -> dict[str, Any]:
    return {"ocid": ocid, "id": f"{ocid}-{index}", "date": f"2024-01-{index + 1:02d}T00:00:00Z", "tag": ["tender"]}


# --- the shared samples --------------------------------------------------------------------------------------------


def test_every_sample_file_parses() -> None:
    units, errors = _split(list(read_path(SAMPLES_DIR)))
    assert errors == []
    # Counts from samples/README.md: 124 bare releases, 93 bare records, 17 release packages (fictional 7 + jalisco
    # 10), 12 record packages (fictional 2 + jalisco 10).
    assert Counter(unit.shape for unit in units) == {
        Shape.RELEASE: 124,
        Shape.RECORD: 93,
        Shape.RELEASE_PACKAGE: 17,
        Shape.RECORD_PACKAGE: 12,
    }
    assert Counter(unit.kind for unit in units) == {"release_package": 141, "record_package": 105}
    assert len({unit.location.source for unit in units}) == 246  # one unit per file
    assert all(unit.location.line is None and unit.location.index is None for unit in units)
    # Every record carries an ocid after wrapping, which the importer keys on.
    assert all(
        "ocid" in record for unit in units if unit.kind == "record_package" for record in unit.package["records"]
    )
    assert sum(len(unit.package["releases"]) for unit in units if unit.kind == "release_package") == 124 + 6 * 2 + 10


def test_per_publisher_counts() -> None:
    expected = {
        "canada/montreal": (20, 10),
        "colombia": (21, 10),
        "mexico/jalisco": (10, 10),
        "moldova": (51, 51),
        "uk-contracts-finder": (21, 11),
        "ukraine": (11, 11),
    }
    for publisher, (releases, records) in expected.items():
        folder = SAMPLES_DIR / "real-examples" / publisher
        assert len(list(read_path(folder / "releases"))) == releases, publisher
        assert len(list(read_path(folder / "records"))) == records, publisher


def test_bare_release_is_wrapped_with_its_package_info() -> None:
    path = next((SAMPLES_DIR / "real-examples" / "ukraine" / "releases").glob("*.json"))
    (unit,) = read_path(path)
    assert isinstance(unit, Unit)
    assert unit.shape == Shape.RELEASE
    assert unit.wrapped
    release = json.loads(path.read_bytes())
    assert unit.package["releases"] == [release]  # the release itself is untouched
    assert unit.package["publisher"] == release["packageInfo"]["publisher"]
    assert unit.package["uri"] == release["packageInfo"]["uri"]


def test_bare_record_gets_its_ocid() -> None:
    path = next((SAMPLES_DIR / "real-examples" / "moldova" / "records").glob("*.json"))
    (unit,) = read_path(path)
    assert isinstance(unit, Unit)
    assert unit.shape == Shape.RECORD
    (record,) = unit.package["records"]
    assert record["ocid"] == record["compiledRelease"]["ocid"] == path.stem
    assert "publisher" in unit.package


# --- local files ---------------------------------------------------------------------------------------------------


def test_json_lines_gz(tmp_path: Path) -> None:
    package = json.loads(FICTIONAL_PACKAGE.read_bytes())
    lines = [
        json.dumps(_release("ocds-a", 0)),
        "",  # blank lines are skipped, but still counted
        json.dumps(package),
        '{"ocid": "ocds-b", "id": "1", "title": "nul\\u0000byte", "tender": {"x\\u0000": ["a\\u0000b"]}}',
        '{"ocid": "ocds-c", ',  # truncated
        json.dumps([_release("ocds-d", 1), "not an object"]),
        json.dumps({"hello": "world"}),
    ]
    path = tmp_path / "dump.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    units, errors = _split(list(read(path)))
    assert [(unit.shape, unit.location.line, unit.location.index) for unit in units] == [
        (Shape.RELEASE, 1, None),
        (Shape.RELEASE_PACKAGE, 3, None),
        (Shape.RELEASE, 4, None),
        (Shape.RELEASE, 6, 0),
    ]
    assert units[1].package == package
    nul = units[2].package["releases"][0]
    assert nul["title"] == "nulbyte"
    assert nul["tender"] == {"x": ["ab"]}
    assert [(error.location.line, error.location.index) for error in errors] == [(5, None), (6, 1), (7, None)]
    assert errors[0].message.startswith("malformed JSON")
    assert "expected a JSON object, got str" in errors[1].message
    assert "keys: hello" in errors[2].message
    assert str(errors[1].location) == f"{path}, line 6, item 1"


def test_malformed_json_file_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "releases": [\n    {"ocid": "x",,}\n  ]\n}\n')
    (error,) = read_path(path)
    assert isinstance(error, ReadError)
    assert error.location == Location(str(path), line=3)
    assert "malformed JSON" in error.message


def test_wrong_shapes_never_raise(tmp_path: Path) -> None:
    cases = {
        "string.json": '"just a string"',
        "releases-not-list.json": '{"releases": {"ocid": "x"}}',
        "records-of-strings.json": '{"records": ["a", "b"]}',
        "empty.json": "",
        "binary.json.gz": "this is not gzip",  # a lie in the name: read as plain (malformed) JSON
        "bom.json": "\ufeff" + json.dumps(_release("ocds-bom", 0)),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "corrupt.json.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    (tmp_path / "README.md").write_text("ignored")

    items = {Path(item.location.source).name: item for item in read_path(tmp_path)}
    assert set(items) == {*cases, "corrupt.json.gz"}
    assert isinstance(items["bom.json"], Unit)
    for name, item in items.items():
        if name != "bom.json":
            assert isinstance(item, ReadError), name


def test_top_level_array_and_misnamed_json_lines(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text(json.dumps([_release("ocds-a", 0), {"releases": [_release("ocds-b", 0)]}]))
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps(_release("ocds-a", 0)) + "\n" + json.dumps(_release("ocds-a", 1)) + "\n")
    units, errors = _split(list(read_path(tmp_path)))
    assert errors == []
    assert [(Path(u.location.source).name, u.location.line, u.location.index, u.shape) for u in units] == [
        ("array.json", None, 0, Shape.RELEASE),
        ("array.json", None, 1, Shape.RELEASE_PACKAGE),
        ("lines.json", 1, None, Shape.RELEASE),
        ("lines.json", 2, None, Shape.RELEASE),
    ]


def test_missing_path() -> None:
    (error,) = read_path("/nonexistent/ocds")
    assert isinstance(error, ReadError)
    assert "no such file" in error.message


def test_classify_record_with_linked_releases() -> None:
    record = {"ocid": "ocds-a", "releases": [{"url": "https://x.example/1", "date": "2024-01-01T00:00:00Z"}]}
    unit = classify(record, Location("memory"))
    assert isinstance(unit, Unit)
    assert (unit.kind, unit.shape) == ("record_package", Shape.RECORD)
    assert unit.package == {"records": [record]}


# --- HTTP ----------------------------------------------------------------------------------------------------------


def _page(releases: list[dict[str, Any]], next_url: str | None) -> bytes:
    package: dict[str, Any] = {"version": "1.1", "releases": releases}
    if next_url is not None:
        package["links"] = {"next": next_url}
    return json.dumps(package).encode()


def test_http_follows_links_next(http_server: LoopbackServer) -> None:
    base = http_server.base_url
    http_server.add_json("/api/releases?page=1", _page([_release("ocds-a", 0), _release("ocds-a", 1)], "?page=2"))
    http_server.add_json("/api/releases?page=2", _page([_release("ocds-b", 0)], f"{base}/api/releases?page=3"))
    http_server.add_json("/api/releases?page=3", _page([_release("ocds-c", 0)], None))

    units, errors = _split(list(read(f"{base}/api/releases?page=1", FAST)))
    assert errors == []
    assert [(unit.location.page, len(unit.package["releases"])) for unit in units] == [(1, 2), (2, 1), (3, 1)]
    assert units[1].location.source == f"{base}/api/releases?page=2"  # relative links resolve against the page
    assert all(unit.shape == Shape.RELEASE_PACKAGE for unit in units)
    assert http_server.log == ["/api/releases?page=1", "/api/releases?page=2", "/api/releases?page=3"]


def test_http_retries_a_server_error(http_server: LoopbackServer) -> None:
    url = http_server.add(
        "/flaky", (500, b"oops", "text/plain"), (200, _page([_release("ocds-a", 0)], None), "application/json")
    )
    units, errors = _split(list(read_url(url, FAST)))
    assert errors == []
    assert len(units) == 1
    assert http_server.log == ["/flaky", "/flaky"]


def test_http_gives_up_after_retries(http_server: LoopbackServer) -> None:
    url = http_server.add("/down", (503, b"down", "text/plain"))
    (error,) = read_url(url, FAST)
    assert isinstance(error, ReadError)
    assert error.message == "HTTP 503"
    assert len(http_server.log) == 1 + FAST.retries


def test_http_malformed_json_stops_the_chain(http_server: LoopbackServer) -> None:
    base = http_server.base_url
    http_server.add_json("/p1", _page([_release("ocds-a", 0)], "/p2"))
    http_server.add_json("/p2", b'{"releases": [\n  {"ocid": "x"\n')
    units, errors = _split(list(read_url(f"{base}/p1", FAST)))
    assert len(units) == 1
    (error,) = errors
    assert (error.location.source, error.location.page, error.location.line) == (f"{base}/p2", 2, 3)


def test_http_page_cap_and_loops(http_server: LoopbackServer) -> None:
    base = http_server.base_url
    http_server.add_json("/loop", _page([_release("ocds-a", 0)], "/loop"))
    units, errors = _split(list(read_url(f"{base}/loop", FAST)))
    assert len(units) == 1
    assert "loops back" in errors[0].message

    for page in range(1, 6):
        http_server.add_json(f"/many/{page}", _page([_release("ocds-a", page)], f"/many/{page + 1}"))
    capped = ReaderOptions(timeout=5, retries=0, backoff=0, max_pages=3)
    units, errors = _split(list(read_url(f"{base}/many/1", capped)))
    assert len(units) == 3
    assert "stopped after 3 pages" in errors[0].message


def test_http_json_lines_and_gzip(http_server: LoopbackServer) -> None:
    body = "\n".join(json.dumps(_release("ocds-a", index)) for index in range(3)).encode()
    jsonl = http_server.add("/dump.jsonl", (200, body, "application/octet-stream"))
    gz = http_server.add(
        "/dump.json.gz", (200, gzip.compress(_page([_release("ocds-b", 0)], None)), "application/gzip")
    )
    ndjson = http_server.add("/stream", (200, body, "application/x-ndjson"))
    assert [unit.location.line for unit in read_url(jsonl, FAST)] == [1, 2, 3]
    assert [unit.shape for unit in read_url(gz, FAST)] == [Shape.RELEASE_PACKAGE]
    assert len(list(read_url(ndjson, FAST))) == 3


def test_http_unreachable() -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    (error,) = read_url("http://127.0.0.1:9/none", ReaderOptions(timeout=2, retries=0, backoff=0))
    assert isinstance(error, ReadError)
    assert error.message.startswith("request failed")


@pytest.mark.parametrize("status", [404, 401])
def test_http_client_errors_are_not_retried(http_server: LoopbackServer, status: int) -> None:
    url = http_server.add("/nope", (status, b"no", "text/plain"))
    (error,) = read_url(url, FAST)
    assert isinstance(error, ReadError)
    assert error.message == f"HTTP {status}"
    assert http_server.log == ["/nope"]
