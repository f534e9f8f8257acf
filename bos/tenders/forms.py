"""HTML forms for the workflow steps: each step is a marshmallow schema, a service call and a list of inputs.

Form posts load through the same schemas as the JSON API, so both faces validate alike. A ``datetime-local``
input has no offset: it is read in the configured display zone (WIB by default), never guessed as UTC.

Item lines and documents are repeated rows named ``items-<n>-<field>`` and ``documents-<n>-<field>``; a blank row
is ignored and a row whose "remove" box is ticked is dropped, so the forms work without JavaScript. A document row
takes an address (URL) or an uploaded file, stored by ``bos.tenders.documents`` under its SHA-256; a file that was
stored is carried through a re-rendered form in hidden inputs, so an error elsewhere never asks for it again.

A refused form raises ``FormInvalid``: the input as typed and the messages keyed by form field, so the page can be
shown again with both (HTTP 422).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.exceptions import Invalid, NotFound
from bos.tenders.documents import ALLOWED_FORMATS, DocumentStore, UploadRefused


@dataclass(frozen=True)
class Input:
    name: str
    label: Any
    kind: str = "text"  # text, textarea, number, money, datetime, select, multiselect
    required: bool = False
    choices: str | None = None  # name of a choice list the page provides (bids, suppliers, awards, contracts …)
    options: tuple[str, ...] = ()


Run = Callable[[Session, User | None, int, dict[str, Any], int | None], Any]

ITEM_FIELDS = (
    ("description", _l("Description")),
    ("classification_id", _l("KBKI code")),
    ("quantity", _l("Quantity")),
    ("unit_name", _l("Unit")),
    ("unit_value_amount", _l("Unit price")),
)
DOCUMENT_FIELDS = (
    ("document_type", _l("Kind of document")),
    ("title", _l("Document title")),
    ("url", _l("Document address (URL)")),
    ("file", _l("or upload a file")),
)
# OCDS documentType codes offered by the forms, with their labels.
DOCUMENT_TYPES = {
    "tenderNotice": _l("Tender notice"),
    "biddingDocuments": _l("Bidding documents"),
    "technicalSpecifications": _l("Technical specifications"),
    "evaluationCriteria": _l("Evaluation criteria"),
    "billOfQuantity": _l("Bill of quantities"),
    "clarifications": _l("Clarifications"),
    "awardNotice": _l("Award notice"),
    "evaluationReports": _l("Evaluation report"),
    "contractSigned": _l("Signed contract"),
    "contractAnnexe": _l("Contract annex"),
    "contractSchedule": _l("Contract schedule"),
    "contractGuarantees": _l("Guarantees"),
}
TENDER_DOCUMENTS = (
    "tenderNotice", "biddingDocuments", "technicalSpecifications", "evaluationCriteria", "billOfQuantity",
    "clarifications",
)  # fmt: skip
AWARD_DOCUMENTS = ("awardNotice", "evaluationReports")
CONTRACT_DOCUMENTS = ("contractSigned", "contractAnnexe", "contractSchedule", "contractGuarantees")
MAX_ROWS = 200  # the schemas' own limit on item lines; more posted rows are not read

# marshmallow's messages, listed so that pybabel extracts them and the forms show them translated.
MARSHMALLOW_MESSAGES = (
    _l("Missing data for required field."),
    _l("Field may not be null."),
    _l("Not a valid number."),
    _l("Not a valid integer."),
    _l("Not a valid datetime."),
    _l("Not a valid aware datetime."),
    _l("Not a valid URL."),
    _l("Not a valid string."),
    _l("Must be greater than or equal to 0."),
    _l("Must be greater than or equal to 1."),
)


@dataclass(frozen=True)
class Step:
    """One workflow step offered as a form on the officer's page."""

    action: str
    title: Any
    schema: type[Schema]
    run: Run
    inputs: tuple[Input, ...] = ()
    target: str | None = None  # a form field naming the bid, award or contract acted on
    item_lines: bool = False  # item lines (description, classification, quantity, unit, price), as many as needed
    documents: tuple[str, ...] = ()  # documentType codes offered; documents by address or upload, as many as needed
    prefill: Callable[[Any], dict[str, Any]] | None = None
    danger: bool = False
    endpoint: str = "tenders.manage_step"


class FormInvalid(Invalid):
    """A refused form: ``values`` as typed (to show again) and ``errors`` keyed by form field name."""

    def __init__(self, message: str, values: dict[str, Any], errors: dict[str, list[str]]) -> None:
        super().__init__(message, errors)
        self.values = values


@dataclass
class PostedForm:
    payload: dict[str, Any] = field(default_factory=dict)  # the JSON body the API would receive
    values: dict[str, Any] = field(default_factory=dict)  # the input as typed, rows as lists of dicts
    errors: dict[str, list[str]] = field(default_factory=dict)  # refused uploads, by form field


DATETIME_INPUTS = {"datetime"}


def _aware(raw: str) -> str:
    """A ``datetime-local`` value in the display zone, as an ISO string with its offset."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw  # the schema reports it
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.isoformat()


def _row_numbers(prefix: str) -> list[int]:
    pattern = re.compile(rf"^{prefix}-(\d{{1,4}})-")
    found = {int(m.group(1)) for key in (*request.form, *request.files) if (m := pattern.match(key))}
    return sorted(found)[:MAX_ROWS]


def _posted_rows(prefix: str, fields: tuple[str, ...], legacy: str) -> list[tuple[int, dict[str, str]]]:
    """The rows posted under ``prefix`` (not removed), stripped; a single legacy ``<legacy>_<field>`` row too."""
    form = request.form
    rows = [
        (n, {key: form.get(f"{prefix}-{n}-{key}", "").strip() for key in fields})
        for n in _row_numbers(prefix)
        if not form.get(f"{prefix}-{n}-remove")
    ]
    if not rows and any(form.get(f"{legacy}_{key}") for key in fields):
        # Posts built by hand before rows existed (one item line, one document) still load.
        rows = [(0, {key: form.get(f"{legacy}_{key}", "").strip() for key in fields})]
    return rows


def file_url(sha256: str) -> str:
    """The absolute address an uploaded file is published at (the OCDS document ``url``)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("tenders.document_file", sha256=sha256)


def _read_items(posted: PostedForm) -> None:
    keys = tuple(key for key, _label in ITEM_FIELDS)
    rows = [row for _n, row in _posted_rows("items", keys, "item") if any(row.values())]
    posted.values["items"] = rows
    posted.payload["items"] = [{k: v for k, v in row.items() if v} for row in rows]


def _read_documents(posted: PostedForm, step: Step, store: DocumentStore) -> None:
    posted.values["documents"] = []
    posted.payload["documents"] = []
    keys = ("document_type", "title", "url", "sha256", "format")
    for number, row in _posted_rows("documents", keys, "document"):
        upload = request.files.get(f"documents-{number}-file")
        if not (upload and upload.filename) and not any(row[key] for key in ("title", "url", "sha256")):
            continue  # a blank row
        position = len(posted.values["documents"])
        errors: dict[str, list[str]] = {}
        if upload and upload.filename:
            try:
                stored = store.store(upload.stream, upload.filename)
            except UploadRefused as exc:
                errors["file"] = [exc.message]
            else:
                row |= {"sha256": stored.sha256, "format": stored.format}
                row["title"] = row["title"] or upload.filename.rpartition(".")[0] or upload.filename
        if row["sha256"] and not (store.has(row["sha256"]) and row["format"] in ALLOWED_FORMATS):
            errors["file"] = [_("The uploaded file is no longer available; choose it again.")]
            row |= {"sha256": "", "format": ""}
        if row["sha256"] and row["url"] and row["url"] != file_url(row["sha256"]):
            errors["url"] = [_("Give an address or a file, not both.")]
        document = {
            "document_type": row["document_type"] or step.documents[0],
            "title": row["title"] or _("Document"),
        }
        if row["sha256"]:
            document |= {"url": file_url(row["sha256"]), "sha256": row["sha256"], "format": row["format"]}
            row["url"] = ""  # an uploaded file is shown as such, not as an address to edit
        elif row["url"]:
            document["url"] = row["url"]
        posted.values["documents"].append(row)
        posted.payload["documents"].append(document)
        posted.errors |= {f"documents-{position}-{key}": messages for key, messages in errors.items()}


def read_form(step: Step, store: DocumentStore | None = None) -> PostedForm:
    """The posted form as the JSON body the API would receive (empty inputs left out), and as typed."""
    form = request.form
    posted = PostedForm()
    for name, kind in ((i.name, i.kind) for i in step.inputs):
        if kind == "multiselect":
            values = [v for v in form.getlist(name) if v]
            posted.values[name] = values
            if values:
                posted.payload[name] = values
            continue
        raw = form.get(name, "").strip()
        posted.values[name] = raw
        if raw != "":
            posted.payload[name] = _aware(raw) if kind in DATETIME_INPUTS else raw
    if step.target is not None:
        posted.values[step.target] = form.get(step.target, "")
    if form.get("version"):
        posted.payload["version"] = form["version"]
    if step.item_lines:
        _read_items(posted)
    if step.documents:
        if store is None:
            store = DocumentStore.from_config(current_app.config)
        _read_documents(posted, step, store)
    return posted


def _messages(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return [_(str(v)) for v in values]  # marshmallow's own messages have translations (MARSHMALLOW_MESSAGES)


def form_errors(messages: dict[str, Any]) -> dict[str, list[str]]:
    """Schema or service messages keyed by form field: ``{"items": {1: {"quantity": [...]}}}`` → ``items-1-quantity``."""
    errors: dict[str, list[str]] = {}
    for key, value in messages.items():
        if not isinstance(value, dict):
            errors[key] = _messages(value)
            continue
        for index, row in value.items():
            if isinstance(row, dict):
                for name, row_messages in row.items():
                    errors[f"{key}-{index}-{name}"] = _messages(row_messages)
            else:
                errors.setdefault(key, []).extend(_messages(row))
    return errors


def load_form(step: Step, store: DocumentStore | None = None) -> tuple[dict[str, Any], PostedForm]:
    """Read and load the posted form through the step's schema; raise ``FormInvalid`` with every message at once."""
    posted = read_form(step, store)
    errors = dict(posted.errors)
    data: dict[str, Any] = {}
    try:
        data = step.schema().load(posted.payload)
    except ValidationError as exc:
        errors = form_errors(exc.normalized_messages()) | errors  # type: ignore[arg-type]
    if errors:
        raise FormInvalid(_("Some fields are not valid."), posted.values, errors)
    return data, posted


def run_step(step: Step, session: Session, actor: User | None, process_id: int) -> Any:
    target_id = None
    if step.target is not None:
        raw = request.form.get(step.target, "")
        if not raw.isdigit():
            raise NotFound(_("Choose what this step applies to."))
        target_id = int(raw)
    data, posted = load_form(step)
    try:
        return step.run(session, actor, process_id, data, target_id)
    except FormInvalid:
        raise
    except Invalid as exc:  # a rule the service checks (it needs the database): shown like the schema's
        raise FormInvalid(exc.message, posted.values, form_errors(exc.errors)) from exc


def field_label(step: Step, key: str) -> str:
    """A readable name for a form field in the error summary: "Item line 2: Quantity"."""
    labels = {i.name: i.label for i in step.inputs} | {"items": _l("Items"), "documents": _l("Documents")}
    if step.target:
        labels[step.target] = _l("Applies to")
    match = re.match(r"^(items|documents)-(\d+)-(\w+)$", key)
    if match:
        prefix, number, name = match.groups()
        fields = dict(ITEM_FIELDS if prefix == "items" else DOCUMENT_FIELDS)
        line = _("Item line %(n)s", n=int(number) + 1) if prefix == "items" else _("Document %(n)s", n=int(number) + 1)
        return f"{line}: {fields.get(name, name)}"
    return str(labels.get(key, key))


def error_summary(step: Step, errors: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(anchor, label, messages) for each refused field, in form order, for the summary above the forms."""
    order = [i.name for i in step.inputs]
    rows = re.compile(r"^(items|documents)-(\d+)-")

    def position(key: str) -> tuple[int, int, str]:
        match = rows.match(key)
        if match:
            return (len(order) + (match.group(1) == "documents"), int(match.group(2)), key)
        return (order.index(key) if key in order else len(order) + {"items": 0, "documents": 1}.get(key, 2), -1, key)

    known = {*order, "items", "documents", step.target}
    return [
        (
            f"{step.action}-{key}" if key in known or rows.match(key) else f"step-{step.action}",
            field_label(step, key),
            " ".join(errors[key]),
        )
        for key in sorted(errors, key=position)
    ]
