"""Importing other publishers' OCDS data: the policy on every shared sample, idempotence, atomicity, HTTP paging."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from bos.ocds.compile import compile_release
from bos.ocds.importer import (
    ImportReport,
    PublisherNameError,
    import_source,
)
from bos.ocds.models import PendingEvaluation, Record, Release
from bos.ocds.publish import schema_source
from bos.ocds.reader import ReaderOptions
from tests.ocds.conftest import FICTIONAL_DIR, FICTIONAL_PACKAGE, SAMPLES_DIR

FAST = ReaderOptions(timeout=5, retries=1, backoff=0)
PUBLISHER = "Test Publisher"


def _counts(session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Release)),
        session.scalar(select(func.count()).select_from(Record)),
    )


def _records(session) -> dict[str, tuple[str, str, int]]:
    rows = session.execute(select(Record.ocid, Record.source, Record.compiled, Record.release_count))
    return {ocid: (source, compiled, count) for ocid, source, compiled, count in rows}


def _queued(session) -> dict[str, int]:
    """The token in the engine's queue of each queued record, by ocid."""
    rows = session.execute(select(Record.ocid, PendingEvaluation.token).join(PendingEvaluation))
    return dict(rows.all())


def _summary(report: ImportReport) -> tuple[int, int, int, int, int, int]:
    return (
        report.packages_imported,
        report.packages_skipped,
        report.packages_rejected,
        report.releases_stored,
        report.releases_unchanged,
        report.records_stored,
    )


def _reasons(report: ImportReport) -> dict[str, int]:
    """Rejected packages by kind of reason: schema errors or conflicts with releases already stored."""
    kinds: dict[str, int] = {}
    for outcome in report.problems:
        if outcome.status != "rejected":
            continue
        kind = "conflict" if any("already stored with different content" in e for e in outcome.errors) else "schema"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _release(ocid: str, number: int, **extra: Any) -> dict[str, Any]:
    release = {
        "ocid": ocid,
        "id": f"{ocid}-{number}",
        "date": f"2024-01-{number:02d}T00:00:00Z",
        "tag": ["tender"],
        "initiationType": "tender",
        "buyer": {"id": "B1", "name": "Dinas A"},
        "tender": {"id": f"{ocid}-t", "title": f"Title {number}"},
    }
    release.update(extra)
    return release


def _package(releases: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    package = {
        "uri": "https://example.com/package.json",
        "version": "1.1",
        "publishedDate": "2024-02-01T00:00:00Z",
        "publisher": {"name": "Example Publisher"},
        "releases": releases,
    }
    package.update(extra)
    return package


def _write(path: Path, data: Any) -> Path:
    path.write_bytes(orjson.dumps(data))
    return path


# --- every shared sample, under both modes -------------------------------------------------------------------------

# Per publisher folder (records/ is read before releases/): (imported, unchanged, rejected packages, releases stored,
# releases already stored, compiled-only records stored), the kinds of rejection, then releases and records in the
# database. Everything but the fictional example and Jalisco (native 1.1) has schema errors, so strict mode rejects
# those files; lenient mode imports them, and still rejects releases republished under the same id with different
# content (UK and Ukraine: the release files differ from the copies embedded in the records).
SAMPLE_EXPECTATIONS = {
    # 6 single-release packages, then the same 6 in one package (unchanged), then two record packages whose
    # releases are only linked: the record compiled from the stored releases is kept.
    ("fictional-example", False): ((6, 3, 0, 6, 6, 0), {}, (6, 1)),
    ("fictional-example", True): ((6, 3, 0, 6, 6, 0), {}, (6, 1)),
    # Bare OCDS 1.0 records and releases: tag is a string, tender.id and initiationType missing, bad dates.
    ("real-examples/canada/montreal", False): ((0, 0, 30, 0, 0, 0), {"schema": 30}, (0, 0)),
    # Lenient: the 10 records' embedded releases, the 10 release files holding the same releases (key order aside,
    # so unchanged), and 10 more release files.
    ("real-examples/canada/montreal", True): ((20, 10, 0, 20, 10, 0), {}, (20, 20)),
    ("real-examples/colombia", False): ((9, 0, 22, 9, 0, 0), {"schema": 22}, (9, 9)),
    ("real-examples/colombia", True): ((21, 10, 0, 21, 10, 0), {}, (21, 21)),
    # Valid 1.1 record packages with linked releases only (stored as compiled records), then one release package per
    # release, which replace those records by ones compiled from the releases.
    ("real-examples/mexico/jalisco", False): ((20, 0, 0, 10, 0, 10), {}, (10, 10)),
    ("real-examples/mexico/jalisco", True): ((20, 0, 0, 10, 0, 10), {}, (10, 10)),
    # Every file has schema errors (empty amounts and currencies, Romanian method names …).
    ("real-examples/moldova", False): ((0, 0, 102, 0, 0, 0), {"schema": 102}, (0, 0)),
    ("real-examples/moldova", True): ((51, 51, 0, 51, 51, 0), {}, (51, 51)),
    # Strict: the records fail on their versionedRelease; 11 release files import, and the 10 other files publish
    # the same release ids with different content.
    ("real-examples/uk-contracts-finder", False): ((11, 0, 21, 11, 0, 0), {"schema": 11, "conflict": 10}, (11, 11)),
    ("real-examples/uk-contracts-finder", True): ((11, 11, 10, 11, 11, 0), {"conflict": 10}, (11, 11)),
    # Strict: the records fail (bid statuses, versionedRelease), and so do the 5 release files tagged "bid".
    ("real-examples/ukraine", False): ((6, 0, 16, 6, 0, 0), {"schema": 16}, (6, 6)),
    ("real-examples/ukraine", True): ((11, 0, 11, 11, 0, 0), {"conflict": 11}, (11, 11)),
}


@pytest.mark.parametrize(
    ("folder", "lenient"),
    list(SAMPLE_EXPECTATIONS),
    ids=[
        f"{folder.rsplit('/', 1)[-1]}-{'lenient' if lenient else 'strict'}" for folder, lenient in SAMPLE_EXPECTATIONS
    ],
)
def test_every_sample_file(db_session, folder, lenient):
    summary, reasons, counts = SAMPLE_EXPECTATIONS[(folder, lenient)]
    report = import_source(db_session, SAMPLES_DIR / folder, PUBLISHER, lenient=lenient)
    assert _summary(report) == summary
    assert _reasons(report) == reasons
    assert _counts(db_session) == counts
    files = sum(1 for path in (SAMPLES_DIR / folder).rglob("*.json"))
    assert sum(summary[:3]) == files  # one package per file, each accounted for

    for outcome in report.problems:
        # Every problem names its file and, for schema errors, the JSON path inside it.
        assert outcome.location.source.startswith(str(SAMPLES_DIR / folder))
        if outcome.status == "rejected":
            assert outcome.errors
            assert all(message.startswith(("$", "…", "ocid")) for message in outcome.errors), outcome.errors
        else:
            assert not outcome.errors
    if lenient:
        # Lenient imports report the schema errors they let through.
        warned = [
            outcome
            for outcome in report.problems
            if outcome.status != "rejected" and any(message.startswith("$") for message in outcome.warnings)
        ]
        assert bool(warned) == (folder not in {"fictional-example", "real-examples/mexico/jalisco"})

    sources = {source for source, _, _ in _records(db_session).values()}
    assert sources <= {PUBLISHER}
    # Every stored record is queued for the red-flag engine.
    queued = select(func.count()).select_from(PendingEvaluation).join(Record)
    assert db_session.scalar(queued) == db_session.scalar(select(func.count()).select_from(Record))

    # Re-importing the same data changes nothing.
    before = _records(db_session)
    again = import_source(db_session, SAMPLES_DIR / folder, PUBLISHER, lenient=lenient)
    assert (again.packages_imported, again.releases_stored, again.records_stored) == (0, 0, 0)
    assert again.packages_rejected == summary[2]
    assert _counts(db_session) == counts
    assert _records(db_session) == before


def test_records_are_compiled_from_stored_releases(db_session):
    import_source(db_session, FICTIONAL_DIR, PUBLISHER)
    record = db_session.scalars(select(Record)).one()
    releases = [orjson.loads(body) for body in db_session.scalars(select(Release.json).order_by(Release.id))]
    assert record.release_count == 6
    assert orjson.loads(record.compiled) == compile_release(releases, schema_source())
    # Stored as published: the same JSON value as in the publisher's file.
    published = json.loads(FICTIONAL_PACKAGE.read_bytes())["releases"]
    assert sorted(releases, key=lambda r: r["id"]) == sorted(published, key=lambda r: r["id"])
    row = db_session.scalars(select(Release).where(Release.release_id == published[0]["id"])).one()
    assert (row.source, row.tags, row.buyer_identifier) == (PUBLISHER, "planning", published[0]["buyer"]["id"])


# --- atomicity and conflicts ---------------------------------------------------------------------------------------


def test_a_broken_second_release_leaves_nothing_of_its_package(db_session, tmp_path):
    _write(tmp_path / "a-good.json", _package([_release("ocds-good", 1)]))
    broken = _package([_release("ocds-x", 1), _release("ocds-x", 2, date="yesterday"), _release("ocds-x", 3)])
    _write(tmp_path / "b-broken.json", broken)

    report = import_source(db_session, tmp_path, PUBLISHER)
    assert _summary(report) == (1, 0, 1, 1, 0, 0)
    (outcome,) = report.problems
    assert outcome.location.source == str(tmp_path / "b-broken.json")
    assert outcome.errors == ["$.releases[1].date: 'yesterday' is not a 'date-time'"]
    assert db_session.scalar(select(func.count()).where(Release.ocid == "ocds-x")) == 0
    assert db_session.scalar(select(func.count()).where(Record.ocid == "ocds-x")) == 0

    # Lenient mode still refuses what it cannot store: the date orders the feed and the merge.
    report = import_source(db_session, tmp_path / "b-broken.json", PUBLISHER, lenient=True)
    assert report.packages_rejected == 1
    assert report.problems[0].errors == ["$.releases[1]: 'date' 'yesterday' is not a date-time"]
    assert db_session.scalar(select(func.count()).where(Release.ocid == "ocds-x")) == 0


def test_a_merge_failure_rolls_back_the_whole_package(db_session, tmp_path):
    # Lenient mode lets the schema error through, but ocdsmerge cannot merge a field that is a list of objects in
    # one release and an object in another.
    first = _release("ocds-m", 1, parties=[{"id": "p1", "name": "A"}])
    second = _release("ocds-m", 2, parties={"id": "p1"})
    _write(tmp_path / "p.json", _package([_release("ocds-other", 1), first, second]))
    report = import_source(db_session, tmp_path, PUBLISHER, lenient=True)
    assert report.packages_rejected == 1
    assert "cannot be merged" in report.problems[0].errors[0]
    assert _counts(db_session) == (0, 0)


def test_changed_release_is_a_conflict_and_never_overwrites(db_session, tmp_path):
    path = _write(tmp_path / "p.json", _package([_release("ocds-c", 1), _release("ocds-c", 2)]))
    assert import_source(db_session, path, PUBLISHER).releases_stored == 2
    stored = _records(db_session)

    changed = _package([_release("ocds-c", 1), _release("ocds-c", 2, tender={"id": "t", "title": "Edited"})])
    changed["releases"].append(_release("ocds-c", 3))
    report = import_source(db_session, _write(tmp_path / "p.json", changed), PUBLISHER)
    assert _summary(report) == (0, 0, 1, 0, 0, 0)
    assert report.problems[0].errors == [
        "$.releases[1]: release 'ocds-c-2' of 'ocds-c' is already stored with different content "
        "(releases are immutable: a correction must be a new release)"
    ]
    assert _records(db_session) == stored  # release 3 was not stored either: the package is whole or nothing
    assert _counts(db_session) == (2, 1)

    # The same release in another key order is the same release.
    reordered = _package([dict(reversed(list(_release("ocds-c", 1).items())))])
    assert _summary(import_source(db_session, _write(tmp_path / "p.json", reordered), PUBLISHER)) == (
        0,
        1,
        0,
        0,
        1,
        0,
    )


def test_an_ocid_of_another_source_is_a_conflict(db_session, tmp_path):
    path = _write(tmp_path / "p.json", _package([_release("ocds-s", 1)]))
    import_source(db_session, path, "Publisher A")
    report = import_source(db_session, _write(tmp_path / "q.json", _package([_release("ocds-s", 2)])), "Publisher B")
    assert report.problems[0].errors == ["ocid 'ocds-s' belongs to source 'Publisher A', not 'Publisher B'"]
    assert _counts(db_session) == (1, 1)


def test_bos_own_releases_are_protected(db_session, seeded, tmp_path):
    ocid = db_session.scalar(select(Record.ocid).limit(1))
    path = _write(tmp_path / "p.json", _package([_release(ocid, 9)]))
    report = import_source(db_session, path, PUBLISHER)
    assert report.problems[0].errors == [f"ocid {ocid!r} belongs to source 'bos', not {PUBLISHER!r}"]
    with pytest.raises(PublisherNameError):
        import_source(db_session, path, "BOS")


def test_publisher_name_comes_from_the_package_or_the_option(db_session, tmp_path):
    _write(tmp_path / "named.json", _package([_release("ocds-n", 1)]))
    bare = _release("ocds-bare", 1)
    _write(tmp_path / "unnamed.json", bare)  # a bare release: no package, no publisher
    report = import_source(db_session, tmp_path, None)
    assert (report.packages_imported, report.packages_rejected) == (1, 1)
    assert report.problems[0].errors == ["the package names no publisher: give one (--publisher)"]
    assert _records(db_session)["ocds-n"][0] == "Example Publisher"

    report = import_source(db_session, tmp_path / "unnamed.json", PUBLISHER)
    # A bare 1.1 release is valid: the wrapper's missing package metadata is not the publisher's error.
    assert (report.packages_imported, report.problems) == (1, [])


def test_ocds_1_0_package_without_version_is_not_an_error(db_session, tmp_path):
    package = _package([_release("ocds-v", 1)])
    del package["version"]
    report = import_source(db_session, _write(tmp_path / "p.json", package), PUBLISHER)
    assert (report.packages_imported, report.problems) == (1, [])
    del package["uri"]  # any other missing metadata of a real package is an error
    report = import_source(db_session, _write(tmp_path / "p.json", package), PUBLISHER)
    assert report.problems[0].errors == ["$: 'uri' is a required property"]


def test_compiled_only_record_is_stored_and_replaced_by_a_newer_one(db_session, tmp_path):
    package = json.loads((FICTIONAL_DIR / "record" / "ocds-213czf-000-00001.json").read_bytes())
    record = package["records"][0]
    report = import_source(db_session, _write(tmp_path / "r.json", package), PUBLISHER)
    assert _summary(report) == (1, 0, 0, 0, 0, 1)
    stored = db_session.scalars(select(Record)).one()
    assert (stored.release_count, stored.source) == (0, PUBLISHER)
    assert orjson.loads(stored.compiled) == record["compiledRelease"]
    assert _counts(db_session) == (0, 1)
    first = _queued(db_session)
    assert set(first) == {stored.ocid}

    older = copy.deepcopy(package)
    older["records"][0]["compiledRelease"]["date"] = "2000-01-01T00:00:00Z"
    older["records"][0]["compiledRelease"]["tender"]["title"] = "Old"
    report = import_source(db_session, _write(tmp_path / "r.json", older), PUBLISHER)
    assert report.packages_skipped == 1
    assert "not applied" in report.problems[0].warnings[0]

    assert _queued(db_session) == first  # the skipped package did not queue it again

    newer = copy.deepcopy(package)
    newer["records"][0]["compiledRelease"]["date"] = "2030-01-01T00:00:00Z"
    newer["records"][0]["compiledRelease"]["tender"]["title"] = "New"
    assert import_source(db_session, _write(tmp_path / "r.json", newer), PUBLISHER).records_stored == 1
    db_session.expire_all()
    assert orjson.loads(db_session.scalars(select(Record)).one().compiled)["tender"]["title"] == "New"
    # No new release, so the release count stays 0: a new token in the queue says it changed.
    again = _queued(db_session)
    assert set(again) == {stored.ocid} and again != first


def test_releases_replacing_a_compiled_only_record_leave_one_queued_record(db_session, tmp_path):
    """The compiled-only record is deleted (its place in the queue with it) and the record compiled from the
    releases is queued."""
    package = json.loads((FICTIONAL_DIR / "record" / "ocds-213czf-000-00001.json").read_bytes())
    import_source(db_session, _write(tmp_path / "r.json", package), PUBLISHER)
    snapshot = _queued(db_session)
    assert set(snapshot) == {"ocds-213czf-000-00001"}
    report = import_source(db_session, FICTIONAL_DIR / "ocds-213czf-000-00001-01-planning.json", PUBLISHER)
    assert report.releases_stored == 1
    db_session.expire_all()
    compiled = db_session.scalars(select(Record)).one()
    assert compiled.release_count == 1
    # One entry, the new record's, with a new token (SQLite may give the new record the deleted one's id).
    queue = db_session.execute(select(PendingEvaluation.record_id, PendingEvaluation.token)).all()
    assert [row.record_id for row in queue] == [compiled.id]
    assert queue[0].token != snapshot["ocds-213czf-000-00001"]


def test_json_lines_gz_with_a_malformed_line(db_session, tmp_path):
    lines = [orjson.dumps(_release("ocds-l", number)) for number in (1, 2)]
    body = lines[0] + b"\n{broken\n" + lines[1] + b"\n"
    path = tmp_path / "dump.jsonl.gz"
    path.write_bytes(gzip.compress(body))
    report = import_source(db_session, path, PUBLISHER)
    assert (report.packages_imported, report.packages_rejected) == (2, 1)
    (outcome,) = report.problems
    assert (outcome.location.source, outcome.location.line) == (str(path), 2)
    assert outcome.errors[0].startswith("malformed JSON")
    assert _counts(db_session) == (2, 1)


def test_duplicate_ids_in_arrays_are_reported_as_warnings(db_session, tmp_path):
    release = _release("ocds-d", 1, parties=[{"id": "p1", "name": "A"}, {"id": "p1", "name": "B"}])
    report = import_source(db_session, _write(tmp_path / "p.json", _package([release])), PUBLISHER, lenient=True)
    assert report.packages_imported == 1
    assert any(message.startswith("merge:") for message in report.problems[0].warnings)


# --- over HTTP -----------------------------------------------------------------------------------------------------


def test_http_import_follows_links_next(db_session, http_server):
    base = http_server.base_url
    page1 = _package([_release("ocds-h1", 1), _release("ocds-h1", 2)], links={"next": "/feed?page=2"})
    page2 = _package([_release("ocds-h2", 1)], links={"next": f"{base}/feed?page=3"})
    page3 = _package([_release("ocds-h1", 3)])
    http_server.add_json("/feed?page=1", orjson.dumps(page1))
    http_server.add_json("/feed?page=2", orjson.dumps(page2))
    http_server.add_json("/feed?page=3", orjson.dumps(page3))

    report = import_source(db_session, f"{base}/feed?page=1", PUBLISHER, options=FAST)
    assert _summary(report) == (3, 0, 0, 4, 0, 0)
    assert http_server.log == ["/feed?page=1", "/feed?page=2", "/feed?page=3"]
    record = db_session.scalars(select(Record).where(Record.ocid == "ocds-h1")).one()
    assert record.release_count == 3
    assert orjson.loads(record.compiled)["tender"]["title"] == "Title 3"

    again = import_source(db_session, f"{base}/feed?page=1", PUBLISHER, options=FAST)
    assert _summary(again) == (0, 3, 0, 0, 4, 0)


def test_http_page_that_fails_is_reported_and_earlier_pages_kept(db_session, http_server):
    base = http_server.base_url
    http_server.add_json("/p1", orjson.dumps(_package([_release("ocds-f", 1)], links={"next": "/p2"})))
    http_server.add("/p2", (503, b"down", "text/plain"))
    report = import_source(db_session, f"{base}/p1", PUBLISHER, options=FAST)
    assert (report.packages_imported, report.packages_rejected) == (1, 1)
    (outcome,) = report.problems
    assert (outcome.location.source, outcome.location.page, outcome.errors) == (f"{base}/p2", 2, ["HTTP 503"])
    assert _counts(db_session) == (1, 1)


def test_compiled_only_record_is_served_with_the_publishers_linked_releases(db_session, client, tmp_path):
    """A record that only links its releases keeps those links, so the served record package is valid OCDS."""
    from bos.ocds.validate import validate_record_package  # noqa: PLC0415

    package = json.loads((FICTIONAL_DIR / "record" / "ocds-213czf-000-00001.json").read_bytes())
    published = package["records"][0]["releases"]
    import_source(db_session, _write(tmp_path / "r.json", package), PUBLISHER)
    db_session.commit()
    served = orjson.loads(client.get(f"/api/ocds/records/{package['records'][0]['ocid']}").data)
    assert served["records"][0]["releases"] == [
        {key: entry[key] for key in ("url", "date", "tag") if key in entry} for entry in published
    ]
    assert validate_record_package(served, schema_source()) == []
