from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import ocdsmerge
import pytest
from ocdsmerge.exceptions import MissingDateKeyError

from bos.ocds.compile import (
    FullCompileRequired,
    build_record,
    compile_release,
    compile_versioned,
    extend_compiled_release,
    update_compiled_release,
)
from bos.ocds.reader import ReadError, Unit, read_path
from bos.ocds.schema import SchemaSource, get_release_schema
from bos.ocds.validate import validate_record_package, validate_release
from tests.ocds.conftest import FICTIONAL_DIR, FICTIONAL_PACKAGE, SAMPLES_DIR

# Colombian samples repeat award ids inside one release; ocdsmerge warns, identically on both sides of every check.
pytestmark = pytest.mark.filterwarnings("ignore::ocdsmerge.exceptions.DuplicateIdValueWarning")

OCID = "ocds-213czf-000-00001"


@pytest.fixture(scope="module")
def reference(source: SchemaSource) -> ocdsmerge.Merger:
    """ocdsmerge as documented, with the same patched schema, built independently of bos.ocds.compile."""
    return ocdsmerge.Merger(schema=get_release_schema(source))


def _sample_units() -> list[Unit]:
    units = []
    for item in read_path(SAMPLES_DIR):
        assert not isinstance(item, ReadError), item
        units.append(item)
    return units


def _releases_of(unit: Unit) -> list[dict[str, Any]]:
    """Full releases of a unit: a release package's, or a record's embedded ones (linked releases have no data)."""
    if unit.kind == "release_package":
        return unit.package["releases"]
    return [
        release
        for record in unit.package["records"]
        for release in record.get("releases", [])
        if "url" not in release or "ocid" in release
    ]


def _by_ocid(releases: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for release in releases:
        groups.setdefault(release["ocid"], []).append(release)
    return groups


def _all_processes() -> dict[str, list[dict[str, Any]]]:
    """Every distinct release in the samples, by ocid (the same release appears in several files)."""
    unique: dict[str, dict[str, dict[str, Any]]] = {}
    for unit in _sample_units():
        for release in _releases_of(unit):
            unique.setdefault(release["ocid"], {})[json.dumps(release, sort_keys=True)] = release
    return {ocid: list(releases.values()) for ocid, releases in unique.items()}


def test_every_sample_matches_ocdsmerge(source: SchemaSource, reference: ocdsmerge.Merger) -> None:
    compiled = 0
    for unit in _sample_units():
        for releases in _by_ocid(_releases_of(unit)).values():
            assert compile_release(releases, source) == reference.create_compiled_release(releases)
            assert compile_versioned(releases, source) == reference.create_versioned_release(releases)
            compiled += 1
    # One process per unit: all 246 units but the 12 record packages that only link their releases.
    assert compiled == 246 - 12


def test_fictional_example_matches_published_record(source: SchemaSource) -> None:
    releases = json.loads(FICTIONAL_PACKAGE.read_bytes())["releases"]
    published = json.loads((FICTIONAL_DIR / "record" / f"{OCID}-withversions.json").read_bytes())["records"][0]
    assert compile_release(releases, source) == published["compiledRelease"]
    assert compile_versioned(releases, source) == published["versionedRelease"]
    # Order does not matter: the merge sorts by date.
    assert compile_release(list(reversed(releases)), source) == published["compiledRelease"]


def test_build_record_linked_and_embedded(source: SchemaSource) -> None:
    releases = json.loads(FICTIONAL_PACKAGE.read_bytes())["releases"]
    published = json.loads((FICTIONAL_DIR / "record" / f"{OCID}.json").read_bytes())
    urls = {release["id"]: f"https://bos.example/releases/{release['id']}.json" for release in releases}

    linked = build_record(OCID, list(reversed(releases)), urls, source=source)
    assert [entry["url"] for entry in linked["releases"]] == [urls[release["id"]] for release in releases]
    assert [set(entry) for entry in linked["releases"]] == [{"url", "date", "tag"}] * 6
    assert linked["compiledRelease"] == published["records"][0]["compiledRelease"]
    assert "versionedRelease" not in linked

    embedded = build_record(OCID, releases, include_versioned=True, source=source)
    assert embedded["releases"] == releases
    assert embedded["versionedRelease"] == compile_versioned(releases, source)

    by_function = build_record(OCID, releases, lambda release: f"https://x.example/{release['id']}", source=source)
    assert by_function["releases"][0]["url"] == f"https://x.example/{releases[0]['id']}"

    metadata = {key: value for key, value in published.items() if key != "records"}
    for record in (linked, embedded):
        assert validate_record_package({**metadata, "records": [record]}, source) == []

    with pytest.raises(ValueError, match="ocid"):
        build_record("ocds-other", releases, source=source)


# --- incremental compile -------------------------------------------------------------------------------------------


def _chain(
    releases: list[dict[str, Any]], source: SchemaSource
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str | None, int]]:
    """Feed releases one by one; return (incremental, full) pairs after each step, and why full compiles ran."""
    pairs, reasons = [], {}
    previous = None
    for count, release in enumerate(releases, 1):
        outcome = update_compiled_release(previous, release, releases[:count], source)
        reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
        pairs.append((outcome.compiled, compile_release(releases[:count], source)))
        previous = outcome.compiled
    return pairs, reasons


def test_incremental_equals_full_on_every_sample(source: SchemaSource) -> None:
    steps = 0
    for releases in _all_processes().values():
        ordered = sorted(releases, key=lambda release: release["date"])  # the arrival order of a live feed
        pairs, reasons = _chain(ordered, source)
        for incremental, full in pairs:
            assert incremental == full
        steps += reasons.get(None, 0)
    assert steps >= 30  # multi-release processes: fictional (6), jalisco (4-5 each), …


def _realistic_release(rng: random.Random, index: int) -> dict[str, Any]:
    """One release of a long-running framework agreement: amendments, new awards, contracts and transactions."""
    award_id = f"award-{index // 10}"
    release: dict[str, Any] = {
        "ocid": "ocds-bos-synthetic-1",
        "id": f"release-{index:03d}",
        "date": f"2024-{1 + index // 28 % 12:02d}-{1 + index % 28:02d}T{index % 24:02d}:00:00Z",
        "tag": ["tenderUpdate"],
        "initiationType": "tender",
        "tender": {
            "id": "tender-1",
            "status": rng.choice(["active", "complete"]),
            "value": {"amount": 1000 + index, "currency": "IDR"},
            "items": [{"id": f"item-{rng.randrange(5)}", "quantity": rng.randrange(1, 9)}],
            "submissionMethod": rng.sample(["electronicSubmission", "written", "inPerson"], 2),
        },
    }
    if index % 3 == 0:
        release["awards"] = [
            {
                "id": award_id,
                "status": "active",
                "value": {"amount": 100 * index, "currency": "IDR"},
                "suppliers": [{"id": f"ID-NPWP-{rng.randrange(20)}", "name": "CV Maju"}],
            }
        ]
    if index % 4 == 0:
        release["contracts"] = [
            {
                "id": f"contract-{index // 20}",
                "awardID": award_id,
                "implementation": {"transactions": [{"id": f"tx-{index}", "value": {"amount": index}}]},
            }
        ]
    if index % 7 == 0:
        release["parties"] = [{"id": f"ID-NPWP-{rng.randrange(20)}", "roles": ["supplier", "tenderer"]}]
        release["tender"]["documents"] = [
            {"id": f"doc-{index}", "documentType": "tenderNotice", "url": "https://bos.example/doc"}
        ]
    return release


def test_incremental_equals_full_on_200_release_process(source: SchemaSource) -> None:
    rng = random.Random(20240501)
    releases = [_realistic_release(rng, index) for index in range(200)]
    releases.sort(key=lambda release: release["date"])
    pairs, reasons = _chain(releases, source)
    for incremental, full in pairs:
        assert incremental == full
    assert reasons == {"no previous compile": 1, None: 199}  # clean data never needs the fallback
    assert validate_release(pairs[-1][0], source) == []


def _fuzz_release(rng: random.Random, index: int, date: str) -> dict[str, Any]:
    """Releases made of every merge edge case: nulls, empty objects, ids 1 and "1", null ids, objects without id."""
    ids: list[Any] = [1, "1", "2", "a3", None]

    def objects(fields: dict[str, Callable[[], Any]]) -> list[dict[str, Any]]:
        out = []
        for _ in range(rng.randint(0, 3)):
            obj: dict[str, Any] = {"id": rng.choice(ids)} if rng.random() < 0.8 else {}
            obj.update({name: make() for name, make in fields.items() if rng.random() < 0.6})
            out.append(obj)
        return out

    def value() -> Any:
        return rng.choice([None, {}, {"amount": rng.choice([None, 1, 2.5])}, {"amount": 3, "currency": "IDR"}])

    release: dict[str, Any] = {"ocid": "ocds-fuzz", "id": f"r{index}", "date": date, "tag": ["tender"]}
    if rng.random() < 0.5:
        release["tender"] = {
            "id": "t1",
            "title": rng.choice(["a", "b", None, ""]),
            "value": value(),
            "submissionMethod": rng.choice([[], ["written"], ["written", "inPerson"]]),
            "items": objects(
                {
                    "quantity": lambda: rng.choice([None, 1, 2]),
                    "additionalClassifications": lambda: rng.choice([[], [{"id": "c", "scheme": "X"}], [{}]]),
                    "unit": lambda: rng.choice([{}, None, {"name": rng.choice(["kg", None])}]),
                }
            ),
        }
    if rng.random() < 0.5:
        release["awards"] = objects(
            {
                "status": lambda: rng.choice(["active", None]),
                "value": value,
                "suppliers": lambda: objects({"name": lambda: rng.choice(["s", None])}),
            }
        )
    if rng.random() < 0.3:
        release["parties"] = objects({"roles": lambda: rng.choice([["buyer"], []]), "name": lambda: "p"})
    if rng.random() < 0.2:
        release["planning"] = rng.choice([None, {}, {"budget": {"amount": value()}}])
    if rng.random() < 0.1:  # releases disagreeing on a field's type
        release.setdefault("tender", {})["items"] = rng.choice([["x"], [{"id": "1"}, "y"]])
    if rng.random() < 0.3:  # a field no schema knows: merged by the default rules
        release["x_extra"] = rng.choice([None, {"rows": objects({"v": lambda: rng.choice([1, None, [1, 2]])})}])
    return release


def test_incremental_equals_full_under_fuzzing(source: SchemaSource) -> None:
    reasons: dict[str | None, int] = {}
    for seed in range(150):
        rng = random.Random(seed)
        minutes = 0
        releases = []
        for index in range(10):
            minutes += rng.choice([0, 1, 1, 2])  # 0: equal dates, merged in arrival order
            releases.append(_fuzz_release(rng, index, f"2024-01-01T{minutes // 60:02d}:{minutes % 60:02d}:00Z"))
        pairs, chain_reasons = _chain(releases, source)
        for incremental, full in pairs:
            assert incremental == full, seed
        for reason, count in chain_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    # Each documented fallback was exercised, and so was the incremental path.
    assert set(reasons) >= {
        None,
        "no previous compile",
        'the release has array objects with "id": null',
        'an array has objects with "id" 1 and "1" (integer and string)',
        'the compiled release has empty objects, mixed lists or ids 1 and "1"',
    }


def _release(date: str, **fields: Any) -> dict[str, Any]:
    return {"ocid": "ocds-x", "id": date, "date": date, "tag": ["tender"], **fields}


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        (_release("2024-02-01T00:00:00Z"), _release("2024-01-01T00:00:00Z"), "before"),
        (_release("2024-01-01T00:00:00Z"), {"ocid": "ocds-x", "id": "no-date"}, "missing"),
        (
            _release("2024-01-01T00:00:00Z", awards=[{"id": None, "title": "a"}]),
            _release("2024-01-02T00:00:00Z", awards=[{"id": None, "status": "active"}]),
            "null",
        ),
        (
            _release("2024-01-01T00:00:00Z", tender={"id": "t", "value": {"amount": None}}),
            _release("2024-01-02T00:00:00Z", tender={"id": "t", "title": "x"}),
            "empty objects",
        ),
        (
            _release("2024-01-01T00:00:00Z", awards=[{"id": "1", "title": None}]),
            _release("2024-01-02T00:00:00Z", awards=[{"id": 1, "title": None}]),
            "integer and string",
        ),
    ],
)
def test_each_fallback(source: SchemaSource, first: dict[str, Any], second: dict[str, Any], reason: str) -> None:
    previous = compile_release([first], source)
    with pytest.raises(FullCompileRequired, match=reason):
        extend_compiled_release(previous, second, source)

    loads: list[int] = []

    def load_all() -> list[dict[str, Any]]:
        loads.append(1)
        return [first, second]

    if "date" not in second:
        # The full compile cannot sort it either: ocdsmerge's error reaches the caller, after loading the releases.
        with pytest.raises(MissingDateKeyError):
            update_compiled_release(previous, second, load_all, source)
        assert loads == [1]
        return
    outcome = update_compiled_release(previous, second, load_all, source)
    assert not outcome.incremental
    assert reason in (outcome.reason or "")
    assert loads == [1]
    assert outcome.compiled == compile_release([first, second], source)


def test_incremental_does_not_load_all_releases(source: SchemaSource) -> None:
    releases = json.loads(FICTIONAL_PACKAGE.read_bytes())["releases"]
    previous = compile_release(releases[:-1], source)

    def fail() -> list[dict[str, Any]]:
        raise AssertionError("full compile should not be needed")

    outcome = update_compiled_release(previous, releases[-1], fail, source)
    assert outcome.incremental
    assert outcome.reason is None
    assert outcome.compiled == compile_release(releases, source)
    assert previous == compile_release(releases[:-1], source)  # inputs are not mutated
