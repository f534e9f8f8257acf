"""Spreadsheets of stored releases for analysts who do not read JSON: XLSX, and CSV files in a zip.

The flattening is Open Contracting's own, flatten-tool (``flattentool``), driven by the extension-patched release
schema, so the sheets and column names are the ones OCDS tools and guides use: a ``releases`` sheet with one row
per release (``tender/value/amount`` …), and one sheet per array (``awards``, ``awa_suppliers``, ``ten_items`` …)
whose rows carry the release's ``ocid`` and ``id`` and the parent objects' ids. Only columns with data are kept.
A ``Meta`` sheet (``Meta.csv``) holds the package metadata in flatten-tool's vertical "metatab" layout, so
``flatten-tool unflatten --metatab-name Meta --metatab-vertical-orientation --root-list-path releases`` turns the
workbook back into a release package.

Limits
    A spreadsheet holds at most :data:`MAX_RELEASES` releases (5,000): larger queries are refused with a message
    to narrow them (or to use the bulk JSON files). Flattening runs while the client waits: with releases as rich
    as OCP's fictional example (BOS's releases are full snapshots too), the XLSX takes about 2 s per thousand
    releases on an idle 2-CPU machine (CSV about a third of that), so 5,000 stays well inside gunicorn's default
    30 s timeout and 10,000 would not. Array sheets grow faster than the releases sheet. Excel's own limits
    are then checked on every sheet: 1,048,576 rows and 16,384 columns (refused if exceeded) and 32,767 characters
    per cell (longer texts are cut, with a marker saying so; the CSV files keep them whole). Sheet names are cut to
    Excel's 31 characters by flatten-tool (its abbreviated names rarely need it).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import orjson
from flattentool.json_input import JSONParser
from flattentool.output import CSVOutput, XLSXOutput
from flattentool.schema import SchemaParser
from sqlalchemy.orm import Session

from bos.exceptions import BadParameter
from bos.ocds import feeds
from bos.ocds.schema import SchemaSource, cached_release_schema

MAX_RELEASES = 5_000
EXCEL_MAX_ROWS = 1_048_576  # header row included
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_CELL = 32_767
TRUNCATED_MARKER = " … [truncated: {length} characters in all; the CSV and JSON have the whole text]"
MAIN_SHEET = "releases"
META_SHEET = "Meta"
ROOT_ID = "ocid"  # flatten-tool's OCDS convention: every sheet's first column links its rows to the release

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MIMETYPE = "application/zip"


class SpreadsheetTooLargeError(BadParameter):
    """The query's releases would not fit in a spreadsheet; the message says how to narrow it."""


# --- input ---------------------------------------------------------------------------------------------------------


def select_releases(session: Session, filters: feeds.FeedFilters) -> list[tuple[dt.datetime, str, str, str]]:
    """(date, ocid, id, stored JSON) of the releases the feed would serve for ``filters``; refuse too many."""
    # The feed's own query, so the filters mean exactly what they mean there; one row over the cap detects excess.
    page = feeds.release_page(session, filters, None, MAX_RELEASES, None)
    if page.next_cursor is not None:
        raise SpreadsheetTooLargeError(
            f"The query matches more than {MAX_RELEASES:,} releases, the most a spreadsheet holds.",
            {
                "query": [
                    "Narrow it with since, until, buyer or ocid, or download the bulk files "
                    "(/api/ocds/bulk/releases.jsonl.gz)."
                ]
            },
        )
    return page.rows


# --- flattening ----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def schema_parser(source: SchemaSource) -> SchemaParser:
    """flatten-tool's parse of the patched release schema, built once per schema source and shared (read-only)."""
    with tempfile.TemporaryDirectory(prefix="bos-flatten-") as directory:
        # flatten-tool resolves the schema's "$ref"s itself (jsonref) when it reads the schema from a file.
        path = Path(directory) / "release-schema.json"
        path.write_text(json.dumps(cached_release_schema(source)), encoding="utf-8")
        parser = SchemaParser(schema_filename=str(path), root_id=ROOT_ID)
        with warnings.catch_warnings():
            # "Skipping field …/former_value/, because it has no properties": the schema's free-form objects.
            warnings.simplefilter("ignore")
            parser.parse()
    return parser


@contextmanager
def flattened(releases: Iterable[Mapping[str, Any]], source: SchemaSource) -> Iterator[JSONParser]:
    """flatten-tool's sheets of ``releases`` (in memory: the release cap bounds them)."""
    with warnings.catch_warnings():
        # Data-quality warnings (a number where the schema wants a string, …) about values copied as they are.
        warnings.simplefilter("ignore")
        parser = JSONParser(
            root_json_dict=releases,
            root_list_path=None,  # ``releases`` is already the list of top-level objects
            schema_parser=schema_parser(source),
            root_id=ROOT_ID,
            remove_empty_schema_columns=True,
            persist=False,
        )
    try:
        yield parser
    finally:
        parser.connection.close()
        parser.db.close()


def meta_rows(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Package metadata as flatten-tool's vertical metatab: JSON path in column A, value in column B."""
    rows: list[tuple[str, str]] = []

    def add(path: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                add(f"{path}/{key}", item)
        elif isinstance(value, list):
            rows.append((path, ";".join(str(item) for item in value)))  # flatten-tool's array-of-strings form
        elif value is not None:
            rows.append((path, str(value)))

    for key, value in metadata.items():
        add(key, value)
    return rows


def _check_excel_limits(parser: JSONParser) -> None:
    """Refuse, before any writing, sheets that Excel cannot open (a write-only workbook cannot stop halfway)."""
    sheets = {MAIN_SHEET: parser.main_sheet, **parser.sub_sheets}
    for name, sheet in sheets.items():
        columns = len(list(sheet))
        if columns > EXCEL_MAX_COLUMNS:
            raise SpreadsheetTooLargeError(
                f"Sheet {name} would have {columns:,} columns; Excel allows {EXCEL_MAX_COLUMNS:,}.",
                {"query": ["Narrow the query, or download the CSV files."]},
            )
        rows = 1 + sum(1 for _ in sheet.lines)  # the header, then one row per line
        if rows > EXCEL_MAX_ROWS:
            raise SpreadsheetTooLargeError(
                f"Sheet {name} would have more than {EXCEL_MAX_ROWS:,} rows, Excel's limit.",
                {"query": ["Narrow the query, or download the CSV files."]},
            )


class _ExcelSheet:
    """A flatten-tool sheet whose texts are cut to Excel's cell limit."""

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet

    def __iter__(self) -> Iterator[str]:
        return iter(self.sheet)

    @property
    def lines(self) -> Iterator[dict[str, Any]]:
        for line in self.sheet.lines:
            yield {key: _fit_cell(value) for key, value in line.items()}


def _fit_cell(value: Any) -> Any:
    if isinstance(value, str) and len(value) > EXCEL_MAX_CELL:
        marker = TRUNCATED_MARKER.format(length=f"{len(value):,}")
        return value[: EXCEL_MAX_CELL - len(marker)] + marker
    return value


class _XLSXOutput(XLSXOutput):
    """flatten-tool's XLSX writer, within Excel's limits, with a Meta sheet after the data sheets."""

    def __init__(self, *args: Any, meta: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meta = meta

    def write_sheet(self, sheet_name: str, sheet: Any) -> None:
        super().write_sheet(sheet_name, _ExcelSheet(sheet))

    def close(self) -> None:
        worksheet = self.workbook.create_sheet()
        worksheet.title = META_SHEET
        for row in self.meta:
            worksheet.append(list(row))
        super().close()


def write_xlsx(releases: Iterable[str], metadata: Mapping[str, Any], source: SchemaSource, out: IO[bytes]) -> None:
    """Flatten stored release JSON into an XLSX workbook written to ``out``."""
    with flattened((orjson.loads(body) for body in releases), source) as parser, warnings.catch_warnings():
        # "Character(s) … are not allowed in a spreadsheet cell": flatten-tool removes them, as Excel requires.
        warnings.simplefilter("ignore")
        _check_excel_limits(parser)
        _XLSXOutput(
            parser=parser, main_sheet_name=MAIN_SHEET, output_name=out, meta=meta_rows(metadata)
        ).write_sheets()


def write_csv_zip(releases: Iterable[str], metadata: Mapping[str, Any], source: SchemaSource, out: IO[bytes]) -> None:
    """Flatten stored release JSON into one CSV file per sheet (UTF-8, CRLF), zipped into ``out``."""
    with (
        flattened((orjson.loads(body) for body in releases), source) as parser,
        tempfile.TemporaryDirectory(prefix="bos-csv-") as directory,
    ):
        folder = Path(directory) / "sheets"
        CSVOutput(parser=parser, main_sheet_name=MAIN_SHEET, output_name=str(folder)).write_sheets()
        with (folder / f"{META_SHEET}.csv").open("w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\r\n").writerows(meta_rows(metadata))
        # The main sheet first, then the array sheets and Meta, as in the workbook.
        names = sorted(path.name for path in folder.iterdir())
        names.sort(key=lambda name: (name != f"{MAIN_SHEET}.csv", name == f"{META_SHEET}.csv"))
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in names:
                archive.write(folder / name, arcname=name)
