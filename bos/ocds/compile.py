"""Compiled releases, versioned releases and records, merged by ocdsmerge with the extension-patched schema.

Full compile
    :func:`compile_release` / :func:`compile_versioned` are ocdsmerge's own merge with BOS's schema: releases are
    sorted by ``date`` (a stable sort, so releases with equal dates merge in the order given) and merged in turn.

Incremental compile
    An importer that receives one new release for a process with N releases would otherwise re-merge all N+1.
    :func:`extend_compiled_release` instead re-flattens the stored compiled release and merges only the new release
    into it. It is exactly equal to the full compile except where the compiled release has lost information that
    the merge needs; it raises :class:`FullCompileRequired` in those cases, which are:

    * the new release is older than the compiled release (``date`` missing, not a string, or earlier): the merge
      order, hence the result, changes;
    * the new release has an array object with ``"id": null``: the merge groups all such objects by that null id,
      but the compiled release drops null values, so the earlier ones can no longer be matched;
    * an array has objects whose ids differ only by type (``1`` and ``"1"``): the merge keeps hidden null-valued
      fields under whichever came first, which the compiled release cannot show;
    * the compiled release has empty objects (left by fields that releases set to ``null``, such as
      ``"value": {"amount": null}``): the full merge keeps the null leaves that make those objects, re-flattening
      the compiled release drops them;
    * the compiled release has a list of both objects and non-objects (releases disagreed on a field's type), or
      objects with ids ``1`` and ``"1"`` side by side (flatten collapses them).

    :func:`update_compiled_release` does the fallback: it tries the incremental merge and, when refused, loads all
    releases and runs the full compile. Ties on ``date`` are merged in arrival order, i.e. the result equals
    ``compile_release(previous_releases + [release])``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ocdsmerge
from ocdsmerge.exceptions import DuplicateIdValueWarning
from ocdsmerge.flatten import IdValue, flatten, unflatten

from bos.ocds.schema import SchemaSource, cached_release_schema

Release = Mapping[str, Any]


class FullCompileRequired(Exception):
    """The incremental merge could differ from the full compile; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@lru_cache(maxsize=8)
def get_merger(source: SchemaSource) -> ocdsmerge.Merger:
    """An ocdsmerge ``Merger`` whose merge rules come from the patched release schema (built once per source)."""
    # Merger dereferences the schema with jsonref; give it a private copy so the shared cached schema stays pristine.
    return ocdsmerge.Merger(schema=copy.deepcopy(cached_release_schema(source)))


def _merger(source: SchemaSource | None) -> ocdsmerge.Merger:
    return get_merger(source or SchemaSource())


def compile_release(releases: Sequence[Release], source: SchemaSource | None = None) -> dict[str, Any]:
    """Merge the releases of one contracting process into its compiled release (OCDS merge, sorted by date)."""
    return _merger(source).create_compiled_release(list(releases))


def compile_versioned(releases: Sequence[Release], source: SchemaSource | None = None) -> dict[str, Any]:
    """Merge the releases of one contracting process into its versioned release (the history of every field)."""
    return _merger(source).create_versioned_release(list(releases))


def build_record(
    ocid: str,
    releases: Sequence[Release],
    linked_release_urls: Mapping[str, str] | Callable[[Release], str] | None = None,
    *,
    include_versioned: bool = False,
    compiled_release: Mapping[str, Any] | None = None,
    source: SchemaSource | None = None,
) -> dict[str, Any]:
    """An OCDS record for ``ocid``.

    With ``linked_release_urls`` (release ``id`` → URL where BOS publishes it, or a function of the release), the
    record links its releases (``url``, ``date``, ``tag``), as the record package schema allows; otherwise it embeds
    them. Releases are listed in merge order (by date). ``compiled_release`` skips the compile when the caller
    already has it (e.g. from :func:`update_compiled_release`).
    """
    for release in releases:
        if release.get("ocid") != ocid:
            raise ValueError(f"release {release.get('id')!r} has ocid {release.get('ocid')!r}, not {ocid!r}")
    # Same stable sort as ocdsmerge, without its exceptions for a missing date: a record still lists such releases.
    ordered = sorted(releases, key=lambda release: str(release.get("date") or ""))

    entries: list[dict[str, Any]]
    if linked_release_urls is None:
        entries = [dict(release) for release in ordered]
    else:
        url_of = linked_release_urls if callable(linked_release_urls) else (lambda r: linked_release_urls[r["id"]])
        entries = []
        for release in ordered:
            linked: dict[str, Any] = {"url": url_of(release)}
            for key in ("date", "tag"):
                if key in release:
                    linked[key] = release[key]
            entries.append(linked)

    record: dict[str, Any] = {"ocid": ocid, "releases": entries}
    record["compiledRelease"] = (
        dict(compiled_release) if compiled_release is not None else compile_release(releases, source)
    )
    if include_versioned:
        record["versionedRelease"] = compile_versioned(releases, source)
    return record


# --- incremental compile -------------------------------------------------------------------------------------------


def _has_null_id(flat: Mapping[tuple[Any, ...], Any]) -> bool:
    # ocdsmerge keys array objects by IdValue; its ``identifier`` is None only for an explicit "id": null (an object
    # without any "id" gets a fresh UUID instead, and is simply appended, which the compiled release can represent).
    return any(type(part) is IdValue and part.identifier is None for key in flat for part in key)


def _has_mixed_id_types(previous: Mapping[str, Any], release_flat: Mapping[tuple[Any, ...], Any]) -> bool:
    """Whether the release addresses an array object by an id that the compiled release has under another type.

    IdValue is a ``str`` subclass, so ocdsmerge's flat keys for ``"id": 1`` and ``"id": "1"`` are equal, while its
    unflatten tells the objects apart by type: fields merged under one type may be rebuilt under the other. Every
    object with an id is visible in the compiled release, so looking there (only along the release's own paths, not
    over the whole compiled release) finds every such clash.
    """
    prefixes = {key[:end] for key in release_flat for end, part in enumerate(key, 1) if type(part) is IdValue}
    for prefix in prefixes:
        node: Any = previous
        for part in prefix:
            if type(part) is IdValue:
                if not isinstance(node, list):
                    break
                matches = [item for item in node if isinstance(item, dict) and str(item.get("id")) == part]
                if any(type(item["id"]) is not type(part.identifier) for item in matches):
                    return True
                node = next(iter(matches), None)
            elif isinstance(node, dict):
                node = node.get(part)
            else:
                break
    return False


def _unrepresented_state(value: Any) -> bool:
    """Whether the compiled release shows a state that re-flattening it would not reproduce.

    Empty objects come from fields set to null (the full merge keeps the null leaves that make them; flatten skips
    empty objects); a list of both objects and non-objects means releases disagreed on the field's type, and the full
    merge still matches later objects by id inside it, while flatten would keep the list whole; objects with ids
    ``1`` and ``"1"`` in one list collapse into one when flattened.
    """
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if not node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            kinds = {isinstance(item, dict) for item in node}
            if len(kinds) > 1:
                return True
            ids = [str(item["id"]) for item in node if isinstance(item, dict) and item.get("id") is not None]
            if len(ids) != len(set(ids)):
                return True
            stack.extend(node)
    return False


def extend_compiled_release(
    previous: Mapping[str, Any], release: Release, source: SchemaSource | None = None
) -> dict[str, Any]:
    """Merge one new release into a compiled release; raise :class:`FullCompileRequired` where that may differ.

    The result equals ``compile_release(releases + [release])`` when ``previous == compile_release(releases)``.
    """
    merger = _merger(source)
    previous_date, date = previous.get("date"), release.get("date")
    if not isinstance(previous_date, str) or not isinstance(date, str):
        raise FullCompileRequired("a release date is missing or not a string")
    if date < previous_date:
        raise FullCompileRequired(f"release date {date} is before the compiled release's {previous_date}")

    new = ocdsmerge.CompiledRelease(merge_rules=merger.merge_rules, rule_overrides=merger.rule_overrides)
    # Duplicate-id warnings were raised when the earlier releases were first merged; a compiled release can also hold
    # ids 1 and "1" side by side, which flatten reports again. Hence ignore them while re-flattening only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateIdValueWarning)
        flat = flatten(dict(previous), merger.merge_rules, merger.rule_overrides, flattened={})

    if _unrepresented_state(previous):
        raise FullCompileRequired('the compiled release has empty objects, mixed lists or ids 1 and "1"')
    omitted = [key for key, rule in merger.merge_rules.items() if rule == "omitWhenMerged"]
    if any(len(key) > 1 for key in omitted):
        # Only id, date and tag are omitted in OCDS 1.1.5 and BOS's extensions; a schema that omits nested fields gets
        # the general (slower) check that the compiled release survives a flatten/unflatten round trip.
        expected = {key: value for key, value in previous.items() if (key,) not in omitted}
        if unflatten(flat) != expected:
            raise FullCompileRequired("the compiled release does not round-trip (omitted fields)")

    release_flat = flatten(
        {key: value for key, value in release.items() if key != "tag"},
        merger.merge_rules,
        merger.rule_overrides,
        flattened={},
    )
    if _has_null_id(release_flat):
        raise FullCompileRequired('the release has array objects with "id": null')
    if _has_mixed_id_types(previous, release_flat):
        raise FullCompileRequired('an array has objects with "id" 1 and "1" (integer and string)')

    new.data.update(flat)
    # The same call ocdsmerge's append() makes, minus the second flatten of the release.
    new.flat_append(release_flat, release.get("ocid"), release.get("id"), date, release.get("tag"))
    return new.asdict()


@dataclass(frozen=True)
class CompileOutcome:
    compiled: dict[str, Any]
    incremental: bool
    reason: str | None = None  # why the full compile ran, when it did


def update_compiled_release(
    previous: Mapping[str, Any] | None,
    release: Release,
    all_releases: Sequence[Release] | Callable[[], Sequence[Release]],
    source: SchemaSource | None = None,
) -> CompileOutcome:
    """The compiled release after ``release`` arrives, incrementally when that is exact, else by a full compile.

    ``all_releases`` are every release of the process *including* ``release``, in arrival order; pass a callable to
    load them only when the full compile is needed.
    """
    if previous is None:
        # The first release of a process: the full compile of one release is the cheapest path anyway.
        return CompileOutcome(compile_release([release], source), incremental=False, reason="no previous compile")
    try:
        return CompileOutcome(extend_compiled_release(previous, release, source), incremental=True)
    except FullCompileRequired as e:
        releases = all_releases() if callable(all_releases) else all_releases
        return CompileOutcome(compile_release(releases, source), incremental=False, reason=e.reason)


def compile_snapshots(releases: Sequence[Release]) -> dict[str, Any]:
    """The compiled release of releases that are each a full snapshot of the process, with nothing ever removed.

    BOS's release builder writes such releases (each adds or changes, never drops, a field or array entry), and for
    them the OCDS merge reduces to the newest snapshot: later values win and nothing earlier survives unseen. This
    needs no schema and costs one copy. Tests check it equals ocdsmerge's compile on every demo process; data from
    other publishers always goes through :func:`compile_release`.
    """
    ordered = sorted(releases, key=lambda release: release["date"])  # the merge routine's order (stable)
    last = ordered[-1]
    compiled: dict[str, Any] = {"tag": ["compiled"], "id": f"{last['ocid']}-{last['date']}", "date": last["date"]}
    compiled.update((key, value) for key, value in last.items() if key not in {"id", "date", "tag"})
    return compiled
