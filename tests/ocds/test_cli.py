"""``bos import-ocds``: a summary, each error with its location, a commit per package, exit status 1 on rejection."""

from __future__ import annotations

import orjson
from sqlalchemy import func, select

from bos.cli import main
from bos.ocds.models import PendingEvaluation, Record, Release
from tests.ocds.conftest import FICTIONAL_DIR, SAMPLES_DIR


def _release(ocid: str, number: int, **extra):
    release = {
        "ocid": ocid,
        "id": f"{ocid}-{number}",
        "date": f"2024-01-{number:02d}T00:00:00Z",
        "tag": ["tender"],
        "initiationType": "tender",
    }
    return release | extra


def test_import_a_directory_then_again(runner, db_session):
    result = runner.invoke(main, ["import-ocds", str(FICTIONAL_DIR), "--publisher", "Fictional"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        "packages: 6 imported, 3 unchanged, 0 rejected (0 imported or unchanged with warnings); "
        "releases: 6 stored, 6 already stored; compiled-only records stored: 0"
    )
    assert db_session.scalar(select(func.count()).select_from(Release).where(Release.source == "Fictional")) == 6
    record = db_session.scalars(select(Record)).one()
    assert record.source == "Fictional"
    assert db_session.get(PendingEvaluation, record.id) is not None  # queued for the red-flag engine

    again = runner.invoke(main, ["import-ocds", str(FICTIONAL_DIR), "--publisher", "Fictional"])
    assert again.exit_code == 0
    assert "packages: 0 imported, 9 unchanged, 0 rejected" in again.stdout


def test_rejections_are_listed_with_their_location_and_fail_the_command(runner, db_session, tmp_path):
    (tmp_path / "a.json").write_bytes(
        orjson.dumps(
            {
                "uri": "https://example.com/a.json",
                "version": "1.1",
                "publishedDate": "2024-02-01T00:00:00Z",
                "publisher": {"name": "A"},
                "releases": [_release("ocds-a", 1), _release("ocds-a", 2, tag="tender")],
            }
        )
    )
    (tmp_path / "b.jsonl").write_bytes(orjson.dumps(_release("ocds-b", 1)) + b"\nnot json\n")

    result = runner.invoke(main, ["import-ocds", str(tmp_path), "--publisher", "CSO Watch"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        f"REJECTED {tmp_path / 'a.json'}",
        "  error: $.releases[1].tag: 'tender' is not of type 'array'",
        f"REJECTED {tmp_path / 'b.jsonl'}, line 2",
    ]
    assert lines[3].startswith("  error: malformed JSON: ")
    assert len(lines) == 4
    assert "packages: 1 imported, 0 unchanged, 2 rejected" in result.stdout
    # The good line was committed; nothing of the rejected package was.
    assert db_session.scalars(select(Release.ocid)).all() == ["ocds-b"]


def test_lenient_imports_with_warnings(runner, db_session):
    folder = SAMPLES_DIR / "real-examples" / "canada" / "montreal" / "releases"
    strict = runner.invoke(main, ["import-ocds", str(folder), "--publisher", "Montréal"])
    assert strict.exit_code == 1
    assert "packages: 0 imported, 0 unchanged, 20 rejected" in strict.stdout

    lenient = runner.invoke(main, ["import-ocds", str(folder), "--publisher", "Montréal", "--lenient"])
    assert lenient.exit_code == 0
    assert "packages: 20 imported, 0 unchanged, 0 rejected (20 imported or unchanged with warnings)" in lenient.stdout
    assert db_session.scalar(select(func.count()).select_from(Record).where(Record.source == "Montréal")) == 20

    verbose = runner.invoke(main, ["import-ocds", str(folder), "--publisher", "Montréal", "--lenient", "-v"])
    assert "warning: $.releases[0].tag: 'award' is not of type 'array'" in verbose.stderr
    assert f"skipped {folder}" in verbose.stdout


def test_publisher_bos_is_refused(runner, tmp_path):
    result = runner.invoke(main, ["import-ocds", str(tmp_path), "--publisher", "bos"])
    assert result.exit_code == 2
    assert "reserved for BOS's own releases" in result.stderr


def test_import_over_http(runner, db_session, http_server):
    base = http_server.base_url
    page = {"publisher": {"name": "Remote"}, "releases": [_release("ocds-r", 1)], "links": {"next": "/2"}}
    http_server.add_json("/1", orjson.dumps(page))
    http_server.add_json("/2", orjson.dumps({**page, "releases": [_release("ocds-r", 2)], "links": {}}))
    result = runner.invoke(main, ["import-ocds", f"{base}/1", "--timeout", "5"])
    assert result.exit_code == 1  # the package lacks uri, version, publishedDate: rejected under strict mode
    assert "error: $: 'uri' is a required property" in result.stderr

    result = runner.invoke(main, ["import-ocds", f"{base}/1", "--timeout", "5", "--lenient"])
    assert result.exit_code == 0, result.output
    assert "releases: 2 stored" in result.stdout
    assert db_session.scalar(select(Record.source).where(Record.ocid == "ocds-r")) == "Remote"
