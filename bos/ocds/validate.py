"""Validate OCDS 1.1 packages and releases against the extension-patched schema, collecting errors as data.

OCDS 1.1 schemas are JSON Schema Draft 4. The package schemas ``$ref`` the release schema by its canonical URL; a
``referencing.Registry`` maps those URLs to the local (patched) copies, so validation never touches the network and
extension fields are checked inside packages too. Validators are built once per :class:`SchemaSource`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from bos.ocds.schema import (
    RECORD_PACKAGE_SCHEMA,
    RELEASE_PACKAGE_SCHEMA,
    VERSIONED_RELEASE_SCHEMA,
    SchemaSource,
    cached_core_schema,
    cached_release_schema,
)


@dataclass(frozen=True)
class ValidationError:
    """One schema violation. ``path`` is a JSONPath into the instance (``$.releases[0].tender.value.amount``)."""

    path: str
    message: str
    validator: str  # the failing JSON Schema keyword: "type", "required", "format", "enum", …
    schema_path: str  # JSON Pointer into the schema, for debugging extension patches

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# --- formats -------------------------------------------------------------------------------------------------------
# jsonschema checks "date-time" and "uri" only when its optional dependencies are installed (rfc3339-validator, and
# rfc3987 or rfc3986-validator, i.e. the "format-nongpl" extra). BOS does not declare them yet, so when they are missing
# we register small equivalents; the library's checkers win whenever they are present.

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# RFC 3986 §2: a URI is ASCII letters, digits, reserved and unreserved characters and %-escapes only.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")


def _is_rfc3339_datetime(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    value = instance.upper()
    if not _RFC3339.match(value):
        return False
    try:
        # The regex checks the shape; fromisoformat rejects impossible dates and times (2020-02-30, 25:00).
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _URI.match(instance):
        return False
    try:
        urlsplit(instance)  # rejects malformed IPv6 hosts
    except ValueError:
        return False
    return True


def make_format_checker() -> FormatChecker:
    """A checker for the formats OCDS relies on: date-time and uri (email too, where jsonschema has it built in)."""
    library = Draft4Validator.FORMAT_CHECKER
    checker = FormatChecker(formats=[name for name in ("date-time", "uri", "email") if name in library.checkers])
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(_is_rfc3339_datetime)
    if "uri" not in checker.checkers:
        checker.checks("uri")(_is_uri)
    return checker


# --- validators ----------------------------------------------------------------------------------------------------


class OCDSValidator:
    """Draft 4 validators for the three document kinds BOS handles, sharing one registry and format checker."""

    def __init__(self, source: SchemaSource) -> None:
        release_schema = cached_release_schema(source)
        release_package_schema = cached_core_schema(RELEASE_PACKAGE_SCHEMA, source)
        record_package_schema = cached_core_schema(RECORD_PACKAGE_SCHEMA, source)
        versioned_schema = cached_core_schema(VERSIONED_RELEASE_SCHEMA, source)
        # Each schema is registered under its own "id" (the canonical 1__1__5 URL), which is what the "$ref"s use.
        # The versioned-release schema is the core one, unpatched: it does not set additionalProperties, so extension
        # fields in a versioned release pass unchecked rather than fail.
        registry: Registry = Registry().with_resources(
            (schema["id"], DRAFT4.create_resource(schema))
            for schema in (release_schema, release_package_schema, record_package_schema, versioned_schema)
        )
        format_checker = make_format_checker()

        def build(schema: Mapping[str, Any]) -> Draft4Validator:
            return Draft4Validator(schema, registry=registry, format_checker=format_checker)

        self.release = build(release_schema)
        self.release_package = build(release_package_schema)
        self.record_package = build(record_package_schema)


@lru_cache(maxsize=8)
def get_validator(source: SchemaSource) -> OCDSValidator:
    return OCDSValidator(source)


MAX_MESSAGE_LENGTH = 500  # jsonschema messages embed the instance's repr, which may be a whole release


def _expand(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """Replace a oneOf/anyOf failure by the errors of its closest alternative.

    "[…] is not valid under any of the given schemas" on a record's whole ``releases`` array says nothing useful; the
    alternative with the fewest errors (linked vs embedded releases, say) is almost always the one that was meant,
    and its errors point at the offending field. (jsonschema's ``best_match`` prefers shallow errors, which here
    picks the wrong alternative.)
    """
    if error.validator not in {"oneOf", "anyOf"} or not error.context:
        yield error
        return
    branches: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    closest = min(branches.values(), key=len)
    for sub in closest:
        yield from _expand(sub)


def _collect(errors: Iterable[jsonschema.ValidationError], limit: int | None) -> list[ValidationError]:
    result: list[ValidationError] = []
    for error in (expanded for top in errors for expanded in _expand(top)):
        message = error.message
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[: MAX_MESSAGE_LENGTH - 1] + "…"
        result.append(
            ValidationError(
                path=error.json_path,
                message=message,
                validator=str(error.validator),
                schema_path="/" + "/".join(str(part) for part in error.absolute_schema_path),
            )
        )
        # A badly broken file can produce one error per field; the caller usually wants only the first few.
        if limit is not None and len(result) >= limit:
            break
    return result


def validate_release_package(
    package: Any, source: SchemaSource | None = None, *, limit: int | None = None
) -> list[ValidationError]:
    """Errors of a release package against the patched schema (empty when valid). Never raises on bad data."""
    validator = get_validator(source or SchemaSource())
    return _collect(validator.release_package.iter_errors(package), limit)


def validate_record_package(
    package: Any, source: SchemaSource | None = None, *, limit: int | None = None
) -> list[ValidationError]:
    """Errors of a record package (embedded or linked releases, compiled and versioned releases)."""
    validator = get_validator(source or SchemaSource())
    return _collect(validator.record_package.iter_errors(package), limit)


def validate_release(
    release: Any, source: SchemaSource | None = None, *, limit: int | None = None
) -> list[ValidationError]:
    """Errors of a single release (or a compiled release, which has the same schema)."""
    validator = get_validator(source or SchemaSource())
    return _collect(validator.release.iter_errors(release), limit)
