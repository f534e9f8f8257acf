"""Import other publishers' OCDS data: validate each package, store its releases as published, compile records.

Civil-society monitors use this to watch other publishers' data with BOS's feeds, red flags and alerts. The reader
(``bos.ocds.reader``) turns files, directories and paged APIs into whole packages; this module decides, package by
package, whether to store it, and stores it atomically (a SAVEPOINT per package: a package is imported whole or
not at all). It never commits: the caller commits, the CLI after every package.

What is stored
    * Every release, byte for byte as the publisher wrote it (re-serialised compactly), as an immutable ``Release``
      row with ``source`` = the publisher's name. Releases come from release packages and from records that embed
      their releases.
    * The ocid's record, compiled by BOS (ocdsmerge with the patched schema) from every stored release of that
      ocid, queued for evaluation (``PendingEvaluation``) so the red-flag engine picks the process up.
    * A record that only *links* its releases (or has none) cannot be recompiled: its ``compiledRelease`` is stored
      as the record itself (``release_count`` 0), as published. A newer compiled release of the same ocid replaces
      it. Releases arriving later for that ocid replace it by a record compiled from them (with a warning), since
      releases are the primary data and a record cannot be both a publisher's snapshot and BOS's merge: import every
      release of such an ocid for a complete record. A compiled-only record never replaces a record compiled from
      stored releases.
    * Never stored: ``versionedRelease`` (BOS rebuilds it on demand from the releases) and the package metadata.

Idempotence and immutability
    A release is identified by (ocid, release id). Already stored with the same JSON value (key order aside:
    publishers re-serialise) it is skipped; with a different value it is a conflict, and the package is rejected:
    releases are immutable, a correction must be a new release. An ocid whose record belongs to another source (BOS
    itself or another publisher) is also a conflict. Re-importing the same data therefore changes nothing.

Validation policy
    Packages are validated against OCDS 1.1 with BOS's extensions (``bos.ocds.validate``), whatever version they
    declare, because OCDS minor versions are backwards compatible: a valid 1.0 package is valid under 1.1 except for
    the two artefacts below, which are therefore not counted as errors:

    1. A package without ``version`` is OCDS 1.0, which had no such field ("'version' is a required property").
    2. A bare release or record (published outside any package) is wrapped by the reader in a package of one; the
       wrapper's missing metadata (uri, publishedDate, publisher, …) is not the publisher's error. Metadata the
       publisher did give (in ``packageInfo`` or stray top-level fields) is validated like any package's.

    Default (strict): a package with any other schema error is rejected whole, and every error (up to
    ``MAX_REPORTED_ERRORS``) is reported with its location and JSON path. With ``lenient=True`` (``--lenient``) the
    same errors are reported as warnings and the package is imported: real publishers' data is rarely valid, and a
    monitor may prefer flawed data to none. Both modes reject what cannot be stored faithfully: a release without
    an ocid, id or parsable date, an embedded release of another ocid than its record, a conflict, or releases that
    ocdsmerge cannot merge (a field that is an object in one release and a list in another).
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson
from ocdsmerge.exceptions import OCDSMergeError, OCDSMergeWarning
from sqlalchemy import select, tuple_
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from bos.ocds.models import Record, Release
from bos.ocds.publish import dumps, mark_for_evaluation, parse_date, release_row, schema_source, update_record
from bos.ocds.reader import PACKAGE_METADATA_KEYS, Location, ReaderOptions, ReadError, Unit, read
from bos.ocds.schema import SchemaSource
from bos.ocds.validate import ValidationError, validate_record_package, validate_release, validate_release_package

# BOS's own releases carry this source; an import may never write under it.
RESERVED_SOURCE = "bos"
MAX_SOURCE_LENGTH = 200  # Record.source / Release.source
MAX_OCID_LENGTH = 128
MAX_RELEASE_ID_LENGTH = 256
MAX_TAGS_LENGTH = 200
MAX_IDENTIFIER_LENGTH = 128  # buyer_identifier columns
VALIDATION_LIMIT = 200  # errors collected per package: enough to judge, bounded for a badly broken file
MAX_REPORTED_ERRORS = 20  # errors or warnings listed per package; the rest are counted
MAX_KEPT_PROBLEMS = 10_000
LOOKUP_CHUNK = 500  # (ocid, id) pairs per existence query

Status = Literal["imported", "skipped", "rejected"]


class PublisherNameError(ValueError):
    """The publisher name cannot be used as a source (empty, too long, or BOS's own)."""


def check_publisher(name: str) -> str:
    """The source name to store, or :class:`PublisherNameError` saying why it cannot be used."""
    name = name.strip()
    if not name:
        raise PublisherNameError("the publisher name is empty")
    if len(name) > MAX_SOURCE_LENGTH:
        raise PublisherNameError(f"the publisher name is longer than {MAX_SOURCE_LENGTH} characters")
    if name.lower() == RESERVED_SOURCE:
        raise PublisherNameError(f"{RESERVED_SOURCE!r} is reserved for BOS's own releases")
    return name


@dataclass
class PackageOutcome:
    """What happened to one package (or to one input that could not be read as a package)."""

    location: Location
    status: Status
    source: str | None = None
    releases_stored: int = 0
    releases_unchanged: int = 0
    records_stored: int = 0  # compiled-only records inserted or replaced
    errors: list[str] = field(default_factory=list)  # why it was rejected
    warnings: list[str] = field(default_factory=list)  # schema errors under lenient mode, merge warnings


@dataclass
class ImportReport:
    packages_imported: int = 0
    packages_skipped: int = 0
    packages_rejected: int = 0
    releases_stored: int = 0
    releases_unchanged: int = 0
    records_stored: int = 0
    packages_with_warnings: int = 0  # imported or unchanged, with warnings
    # Only outcomes worth reading again (rejected, or with warnings), and at most MAX_KEPT_PROBLEMS of them, so a
    # long crawl stays small in memory; the CLI prints each outcome as it happens.
    problems: list[PackageOutcome] = field(default_factory=list)

    def add(self, outcome: PackageOutcome) -> None:
        if outcome.status == "imported":
            self.packages_imported += 1
        elif outcome.status == "skipped":
            self.packages_skipped += 1
        else:
            self.packages_rejected += 1
        self.releases_stored += outcome.releases_stored
        self.releases_unchanged += outcome.releases_unchanged
        self.records_stored += outcome.records_stored
        if outcome.warnings and outcome.status != "rejected":
            self.packages_with_warnings += 1
        if (outcome.errors or outcome.warnings) and len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(outcome)

    @property
    def ok(self) -> bool:
        return self.packages_rejected == 0


# --- validation policy ---------------------------------------------------------------------------------------------


def _required_message(key: str) -> str:
    return f"{key!r} is a required property"  # jsonschema's wording for a missing property


def policy_errors(unit: Unit, errors: Iterable[ValidationError]) -> list[ValidationError]:
    """The schema errors that count, after the two documented exceptions (see the module docstring)."""
    package = unit.package
    excused: set[str] = set()
    if "version" not in package:
        excused.add(_required_message("version"))  # OCDS 1.0 packages had no version field
    if unit.wrapped:
        excused |= {_required_message(key) for key in PACKAGE_METADATA_KEYS if key not in package}
    return [error for error in errors if not (error.path == "$" and error.message in excused)]


def _embedded_release_errors(
    package: dict[str, Any], errors: list[ValidationError], source: SchemaSource
) -> list[ValidationError]:
    """Report a record's embedded releases by the release schema's errors.

    The record schema's ``releases`` is a oneOf (linked or embedded releases); when an embedded release has errors,
    the closest alternative is often the linked one, whose message ("'url' is a required property") misleads. For
    records whose releases are embedded, those errors are replaced by the embedded releases' own.
    """
    embedded: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(package["records"]):
        entries = record.get("releases")
        if isinstance(entries, list) and any(_is_embedded(entry) for entry in entries):
            for number, entry in enumerate(entries):
                embedded[f"$.records[{index}].releases[{number}]"] = entry
    if not embedded:
        return errors
    arrays = {prefix.rsplit("[", 1)[0] for prefix in embedded}
    kept = [error for error in errors if not any(error.path.startswith(array) for array in arrays)]
    for prefix, release in embedded.items():
        kept += [
            replace(error, path=prefix + error.path[1:])
            for error in validate_release(release, source, limit=VALIDATION_LIMIT)
        ]
    return kept


def validate_unit(unit: Unit, source: SchemaSource) -> list[ValidationError]:
    """Schema errors of a package that count under the import policy."""
    if unit.kind == "release_package":
        errors = validate_release_package(unit.package, source, limit=VALIDATION_LIMIT)
    else:
        errors = validate_record_package(unit.package, source, limit=VALIDATION_LIMIT)
        errors = _embedded_release_errors(unit.package, errors, source)
    return policy_errors(unit, errors)


def _capped(messages: Sequence[str], at_least: bool = False) -> list[str]:
    if len(messages) <= MAX_REPORTED_ERRORS:
        return list(messages)
    more = len(messages) - MAX_REPORTED_ERRORS
    return [*messages[:MAX_REPORTED_ERRORS], f"… and {'at least ' if at_least else ''}{more} more"]


# --- planning: what a package would store --------------------------------------------------------------------------


class Unstorable(ValueError):
    """The package cannot be stored faithfully, whatever the mode."""


@dataclass
class _PlannedRelease:
    release: dict[str, Any]
    row: dict[str, Any]
    where: str  # JSON path in the package, for messages

    @property
    def key(self) -> tuple[str, str]:
        return self.row["ocid"], self.row["release_id"]


@dataclass
class _PlannedRecord:
    """A record stored from its compiledRelease (it has no embedded releases)."""

    ocid: str
    compiled: dict[str, Any]
    date: dt.datetime
    where: str
    linked: list[dict[str, Any]] = field(default_factory=list)  # the publisher's linked releases (url, date, tag)


def _parse_date(value: Any, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise Unstorable(f"{where}: 'date' is missing or not a string")
    try:
        return parse_date(value)
    except ValueError as e:
        raise Unstorable(f"{where}: 'date' {value!r} is not a date-time") from e


def _identifier(value: Any) -> str | None:
    # Index columns only (the JSON is stored untouched): some publishers use integer identifiers.
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        text = str(value)
        return text if len(text) <= MAX_IDENTIFIER_LENGTH else None
    return None


def _plan_release(release: Any, where: str, ocid: str | None = None) -> _PlannedRelease:
    if not isinstance(release, dict):
        raise Unstorable(f"{where}: not an object")
    release_ocid, release_id = release.get("ocid"), release.get("id")
    if not isinstance(release_ocid, str) or not release_ocid.strip():
        raise Unstorable(f"{where}: 'ocid' is missing or not a string")
    if len(release_ocid) > MAX_OCID_LENGTH:
        raise Unstorable(f"{where}: 'ocid' is longer than {MAX_OCID_LENGTH} characters")
    if ocid is not None and release_ocid != ocid:
        raise Unstorable(f"{where}: release of ocid {release_ocid!r} inside the record of {ocid!r}")
    if not isinstance(release_id, str | int) or isinstance(release_id, bool) or not str(release_id).strip():
        raise Unstorable(f"{where}: 'id' is missing or not a string")
    if len(str(release_id)) > MAX_RELEASE_ID_LENGTH:
        raise Unstorable(f"{where}: 'id' is longer than {MAX_RELEASE_ID_LENGTH} characters")
    _parse_date(release.get("date"), where)
    row = release_row(release)  # its "source" is replaced by the publisher's name when stored
    tag = release.get("tag")
    # release_row joins a list of codes; OCDS 1.0-era data sometimes has a single code as a string.
    row["tags"] = tag if isinstance(tag, str) else " ".join(str(code) for code in tag or [] if code is not None)
    if len(row["tags"]) > MAX_TAGS_LENGTH:
        raise Unstorable(f"{where}: 'tag' is longer than {MAX_TAGS_LENGTH} characters")
    buyer = release.get("buyer")
    row["buyer_identifier"] = _identifier(buyer.get("id")) if isinstance(buyer, dict) else None
    return _PlannedRelease(release, row, where)


def _is_embedded(entry: Any) -> bool:
    # A linked release has url, date and tag only; an embedded one is a whole release, which has an id.
    return isinstance(entry, dict) and "id" in entry


def plan_package(unit: Unit) -> tuple[list[_PlannedRelease], list[_PlannedRecord], list[str]]:
    """Releases and compiled-only records the package holds, plus notes; raise :class:`Unstorable`."""
    package = unit.package
    releases: list[_PlannedRelease] = []
    records: list[_PlannedRecord] = []
    notes: list[str] = []
    if unit.kind == "release_package":
        for index, release in enumerate(package["releases"]):
            releases.append(_plan_release(release, f"$.releases[{index}]"))
        return releases, records, notes

    for index, record in enumerate(package["records"]):
        where = f"$.records[{index}]"
        ocid = record.get("ocid")
        if not isinstance(ocid, str) or not ocid.strip():
            raise Unstorable(f"{where}: 'ocid' is missing or not a string")
        entries = record.get("releases")
        entries = entries if isinstance(entries, list) else []
        embedded = [(number, entry) for number, entry in enumerate(entries) if _is_embedded(entry)]
        if embedded:
            for number, entry in embedded:
                releases.append(_plan_release(entry, f"{where}.releases[{number}]", ocid))
            if len(embedded) < len(entries):
                notes.append(f"{where}: {len(entries) - len(embedded)} linked releases not fetched (only embedded)")
            continue
        compiled = record.get("compiledRelease")
        if not isinstance(compiled, dict):
            raise Unstorable(f"{where}: neither embedded releases nor a compiledRelease")
        if compiled.get("ocid", ocid) != ocid:
            raise Unstorable(f"{where}.compiledRelease: ocid {compiled.get('ocid')!r} is not the record's {ocid!r}")
        if len(ocid) > MAX_OCID_LENGTH:
            raise Unstorable(f"{where}: 'ocid' is longer than {MAX_OCID_LENGTH} characters")
        if "date" in compiled:
            date = _parse_date(compiled["date"], f"{where}.compiledRelease")
        else:
            linked_dates = [_parse_date(entry.get("date"), f"{where}.releases") for entry in entries]
            if not linked_dates:
                raise Unstorable(f"{where}: no date in the compiledRelease or the linked releases")
            date = max(linked_dates)
        linked = [
            {key: entry[key] for key in ("url", "date", "tag") if key in entry}
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("url"), str)
        ]
        records.append(_PlannedRecord(ocid, compiled, date, f"{where}.compiledRelease", linked))
    return releases, records, notes


# --- storing -------------------------------------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _same_json(stored: str, release: Mapping[str, Any]) -> bool:
    return _canonical(orjson.loads(stored)) == _canonical(release)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stored_releases(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(ocid, release id) → (sha256, json) of the given releases that are already stored."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for chunk in _chunks(sorted(set(keys)), LOOKUP_CHUNK):
        rows = session.execute(
            select(Release.ocid, Release.release_id, Release.sha256, Release.json).where(
                tuple_(Release.ocid, Release.release_id).in_(list(chunk))
            )
        )
        for ocid, release_id, sha256, body in rows:
            found[(ocid, release_id)] = (sha256, body)
    return found


def _records(session: Session, ocids: Iterable[str]) -> dict[str, Record]:
    result: dict[str, Record] = {}
    for chunk in _chunks(sorted(set(ocids)), LOOKUP_CHUNK):
        result.update(
            (record.ocid, record) for record in session.scalars(select(Record).where(Record.ocid.in_(chunk)))
        )
    return result


def _new_releases(
    session: Session, planned: list[_PlannedRelease], outcome: PackageOutcome
) -> tuple[list[_PlannedRelease], list[str]]:
    """The releases not stored yet (in package order), and the conflicts with stored or sibling releases."""
    conflicts: list[str] = []
    stored = _stored_releases(session, [item.key for item in planned])
    fresh: list[_PlannedRelease] = []
    seen: dict[tuple[str, str], _PlannedRelease] = {}
    for item in planned:
        ocid, release_id = item.key
        if item.key in stored:
            sha256, body = stored[item.key]
            if sha256 == item.row["sha256"] or _same_json(body, item.release):
                outcome.releases_unchanged += 1
            else:
                conflicts.append(
                    f"{item.where}: release {release_id!r} of {ocid!r} is already stored with different content "
                    "(releases are immutable: a correction must be a new release)"
                )
        elif item.key in seen:
            if _canonical(seen[item.key].release) == _canonical(item.release):
                outcome.releases_unchanged += 1
            else:
                conflicts.append(
                    f"{item.where}: release {release_id!r} of {ocid!r} appears twice in the package with "
                    f"different content (first at {seen[item.key].where})"
                )
        else:
            seen[item.key] = item
            fresh.append(item)
    return fresh, conflicts


def _ownership_conflicts(records: Mapping[str, Record], ocids: Iterable[str], source: str) -> list[str]:
    return [
        f"ocid {ocid!r} belongs to source {records[ocid].source!r}, not {source!r}"
        for ocid in sorted(set(ocids))
        if ocid in records and records[ocid].source != source
    ]


def _store(
    session: Session,
    fresh: list[_PlannedRelease],
    compiled_only: list[_PlannedRecord],
    records: dict[str, Record],
    source: str,
    outcome: PackageOutcome,
) -> None:
    """Write the package's new rows; the caller wraps this in a SAVEPOINT."""
    # Releases are the primary data: a compiled-only record of this source makes way for one compiled from them.
    snapshot_ocids = sorted(
        {item.key[0] for item in fresh if item.key[0] in records and records[item.key[0]].release_count == 0}
    )
    for ocid in snapshot_ocids:
        session.delete(records.pop(ocid))
        outcome.warnings.append(
            f"record {ocid!r}: the publisher's compiledRelease stored earlier is replaced by the record compiled from "
            "the stored releases (import every release of the ocid for a complete record)"
        )
    session.flush()

    changed: list[Record] = []  # records queued for evaluation once they all have ids
    for item in fresh:
        row = {**item.row, "source": source}
        session.add(Release(**row))
        record = update_record(session, item.release, source=source)
        # update_record copies buyer.id as is; keep the index column a short string like the release row's.
        record.buyer_identifier = row["buyer_identifier"]
        records[record.ocid] = record
        changed.append(record)
        outcome.releases_stored += 1

    for planned in compiled_only:
        record = records.get(planned.ocid)
        buyer = planned.compiled.get("buyer")
        buyer_identifier = _identifier(buyer.get("id")) if isinstance(buyer, dict) else None
        if record is None:
            record = Record(
                ocid=planned.ocid,
                source=source,
                release_count=0,
                last_release_date=planned.date,
                buyer_identifier=buyer_identifier,
                compiled=dumps(planned.compiled).decode(),
                versioned=None,
                linked_releases=dumps(planned.linked).decode() if planned.linked else None,
            )
            session.add(record)
            records[planned.ocid] = record
            changed.append(record)
            outcome.records_stored += 1
        elif record.release_count > 0:
            continue  # compiled by BOS from stored releases, which a publisher's snapshot never replaces
        elif _same_json(record.compiled, planned.compiled):
            continue
        elif planned.date < record.last_release_date:
            outcome.warnings.append(
                f"{planned.where}: older than the stored compiled release of {planned.ocid!r} ({planned.date:%Y-%m-%d}"
                f" < {record.last_release_date:%Y-%m-%d}), not applied"
            )
        else:
            record.compiled = dumps(planned.compiled).decode()
            record.linked_releases = dumps(planned.linked).decode() if planned.linked else None
            record.last_release_date = planned.date
            record.buyer_identifier = buyer_identifier
            changed.append(record)
            outcome.records_stored += 1
    session.flush()
    mark_for_evaluation(session, [record.id for record in changed])


def import_unit(
    session: Session, unit: Unit, publisher: str | None, *, lenient: bool = False, schema: SchemaSource | None = None
) -> PackageOutcome:
    """Validate one package and store it whole (in a SAVEPOINT), or reject it whole; never commits."""
    outcome = PackageOutcome(unit.location, "rejected")
    schema = schema or schema_source()

    named = unit.package.get("publisher")
    name = publisher or (named.get("name") if isinstance(named, dict) else None)
    if not isinstance(name, str):
        outcome.errors.append("the package names no publisher: give one (--publisher)")
        return outcome
    try:
        outcome.source = source = check_publisher(name)
    except PublisherNameError as e:
        outcome.errors.append(f"publisher {name!r} cannot be used: {e}")
        return outcome

    schema_errors = [str(error) for error in validate_unit(unit, schema)]
    if schema_errors and not lenient:
        outcome.errors = _capped(schema_errors, at_least=len(schema_errors) >= VALIDATION_LIMIT)
        return outcome
    outcome.warnings = _capped(schema_errors, at_least=len(schema_errors) >= VALIDATION_LIMIT)

    try:
        planned, compiled_only, notes = plan_package(unit)
    except Unstorable as e:
        outcome.errors.append(str(e))
        return outcome
    outcome.warnings += notes

    fresh, conflicts = _new_releases(session, planned, outcome)
    records = _records(session, [item.key[0] for item in fresh] + [record.ocid for record in compiled_only])
    conflicts += _ownership_conflicts(records, records, source)
    if conflicts:
        outcome.errors = _capped(conflicts)
        outcome.releases_unchanged = 0
        return outcome

    try:
        # ocdsmerge warns about duplicate array ids; they are data-quality findings about this package.
        with warnings.catch_warnings(record=True) as caught, session.begin_nested():
            warnings.simplefilter("always", OCDSMergeWarning)
            _store(session, fresh, compiled_only, records, source, outcome)
    except OCDSMergeError as e:
        return _failed(outcome, f"the releases cannot be merged: {e}")
    except (IntegrityError, DataError) as e:
        # Reached only if another process stored the same release meanwhile, or a value breaks a column limit.
        return _failed(outcome, f"the database refused the package: {e.orig}")
    merge_warnings = sorted({str(warning.message) for warning in caught})
    outcome.warnings += [f"merge: {message}" for message in merge_warnings]
    outcome.status = "imported" if outcome.releases_stored or outcome.records_stored else "skipped"
    return outcome


def _failed(outcome: PackageOutcome, message: str) -> PackageOutcome:
    outcome.errors.append(message)
    outcome.releases_stored = outcome.records_stored = outcome.releases_unchanged = 0
    return outcome


def import_source(
    session: Session,
    source: str | os.PathLike[str],
    publisher: str | None = None,
    *,
    lenient: bool = False,
    options: ReaderOptions | None = None,
    schema: SchemaSource | None = None,
    after_package: Callable[[PackageOutcome], None] | None = None,
) -> ImportReport:
    """Import every package read from a file, directory or URL; ``after_package`` runs after each one.

    ``after_package`` is where a caller commits (the CLI does, so a long crawl keeps what it has done); this
    function never commits. ``publisher`` names the source of every package; when None, each package's own
    ``publisher.name`` is used, and a package without one is rejected.
    """
    if publisher is not None:
        publisher = check_publisher(publisher)
    schema = schema or schema_source()
    report = ImportReport()
    for item in read(source, options):
        if isinstance(item, ReadError):
            outcome = PackageOutcome(item.location, "rejected", errors=[item.message])
        else:
            outcome = import_unit(session, item, publisher, lenient=lenient, schema=schema)
        report.add(outcome)
        if after_package is not None:
            after_package(outcome)
    return report
