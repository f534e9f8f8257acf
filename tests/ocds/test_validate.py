from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bos.ocds.reader import ReadError, read_path
from bos.ocds.schema import SchemaSource
from bos.ocds.validate import (
    ValidationError,
    get_validator,
    make_format_checker,
    validate_record_package,
    validate_release,
    validate_release_package,
)
from tests.ocds.conftest import FICTIONAL_DIR, FICTIONAL_PACKAGE, SAMPLES_DIR


def _fictional() -> dict[str, Any]:
    return json.loads(FICTIONAL_PACKAGE.read_bytes())


def test_fictional_release_package_is_valid(source: SchemaSource) -> None:
    assert validate_release_package(_fictional(), source) == []


@pytest.mark.parametrize("path", sorted(FICTIONAL_DIR.rglob("*.json")), ids=lambda p: p.name)
def test_every_fictional_file_is_valid(source: SchemaSource, path: Any) -> None:
    data = json.loads(path.read_bytes())
    validate = validate_record_package if "records" in data else validate_release_package
    assert validate(data, source) == []


def test_single_releases_are_valid(source: SchemaSource) -> None:
    for release in _fictional()["releases"]:
        assert validate_release(release, source) == []


def test_broken_package_reports_paths_and_messages(source: SchemaSource) -> None:
    package = _fictional()
    del package["publisher"]
    first, second = package["releases"][0], package["releases"][1]
    first["date"] = "yesterday"
    first["tag"] = ["bogus"]
    first["planning"]["budget"]["amount"]["amount"] = "a lot"
    first["parties"][0]["contactPoint"]["url"] = "not a uri"
    del second["ocid"]
    second["tender"]["status"] = "sort of open"
    # A field only the bid extension defines: it is checked too, so the schema really is patched.
    second["bids"] = {"details": [{"id": "b1", "value": {"amount": "free"}}]}

    errors = validate_release_package(package, source)
    found = {(error.path, error.validator) for error in errors}
    assert found == {
        ("$", "required"),
        ("$.releases[0].date", "format"),
        ("$.releases[0].tag[0]", "enum"),
        ("$.releases[0].planning.budget.amount.amount", "type"),
        ("$.releases[0].parties[0].contactPoint.url", "format"),
        ("$.releases[1]", "required"),
        ("$.releases[1].tender.status", "enum"),
        ("$.releases[1].bids.details[0].value.amount", "type"),
    }
    by_path = {error.path: error for error in errors}
    assert "'publisher' is a required property" in by_path["$"].message
    assert "'ocid' is a required property" in by_path["$.releases[1]"].message
    assert by_path["$.releases[1].bids.details[0].value.amount"].schema_path.startswith("/properties/releases/")
    assert str(by_path["$.releases[0].date"]) == "$.releases[0].date: 'yesterday' is not a 'date-time'"
    assert all(isinstance(error, ValidationError) for error in errors)


def test_limit_and_garbage_never_raise(source: SchemaSource) -> None:
    package = _fictional()
    for release in package["releases"]:
        release["date"] = 5
    assert len(validate_release_package(package, source, limit=2)) == 2
    for garbage in (None, [], "text", 3, {"releases": "no"}):
        assert validate_release_package(garbage, source)
        assert validate_record_package(garbage, source)


def test_broken_record_package(source: SchemaSource) -> None:
    package = json.loads((FICTIONAL_DIR / "record" / "ocds-213czf-000-00001.json").read_bytes())
    record = package["records"][0]
    record["releases"][0]["url"] = "spaces are not allowed"
    record["compiledRelease"]["awards"][0]["value"]["amount"] = "x"
    found = {(error.path, error.validator) for error in validate_record_package(package, source)}
    # The oneOf (linked or embedded releases) is reported by the errors of the alternative that was meant.
    assert found == {
        ("$.records[0].releases[0].url", "format"),
        ("$.records[0].compiledRelease.awards[0].value.amount", "type"),
    }


def test_long_messages_are_truncated(source: SchemaSource) -> None:
    package = _fictional()
    package["releases"][0]["tender"] = ["x" * 10_000]
    (error,) = validate_release_package(package, source)
    assert error.path == "$.releases[0].tender"
    assert len(error.message) <= 500


def test_validator_is_built_once(source: SchemaSource) -> None:
    assert get_validator(source) is get_validator(source)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2024-02-29T10:00:00Z", True),
        ("2024-02-29T10:00:00.123+07:00", True),
        ("2024-02-29t10:00:00z", True),
        ("2023-02-29T10:00:00Z", False),  # no leap day in 2023
        ("2024-01-01T10:00:00", False),  # RFC 3339 requires an offset
        ("2024-01-01", False),
        ("yesterday", False),
    ],
)
def test_date_time_format(value: str, valid: bool) -> None:
    assert make_format_checker().conforms(value, "date-time") is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("https://example.com/a?b=c#d", True),
        ("mailto:someone@example.com", True),
        ("urn:isbn:0451450523", True),
        ("example.com/no-scheme", False),
        ("https://example.com/with space", False),
    ],
)
def test_uri_format(value: str, valid: bool) -> None:
    assert make_format_checker().conforms(value, "uri") is valid


def test_real_samples_validate_without_raising(source: SchemaSource) -> None:
    """Real 2017-18 data is mostly OCDS 1.0 and not valid 1.1; validation must still report errors, not crash."""
    total_errors = 0
    for item in read_path(SAMPLES_DIR / "real-examples"):
        assert not isinstance(item, ReadError)
        validate = validate_record_package if item.kind == "record_package" else validate_release_package
        errors = validate(copy.deepcopy(item.package), source, limit=50)
        total_errors += len(errors)
    assert total_errors > 0
