"""HTML forms for the workflow steps: each step is a marshmallow schema, a service call and a list of inputs.

Form posts load through the same schemas as the JSON API, so both faces validate alike. A ``datetime-local``
input has no offset: it is read in the configured display zone (WIB by default), never guessed as UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.exceptions import Invalid, NotFound


@dataclass(frozen=True)
class Input:
    name: str
    label: Any
    kind: str = "text"  # text, textarea, number, money, datetime, select, multiselect
    required: bool = False
    choices: str | None = None  # name of a choice list the page provides (bids, suppliers, awards, contracts …)
    options: tuple[str, ...] = ()


Run = Callable[[Session, User | None, int, dict[str, Any], int | None], Any]


@dataclass(frozen=True)
class Step:
    """One workflow step offered as a form on the officer's page."""

    action: str
    title: Any
    schema: type[Schema]
    run: Run
    inputs: tuple[Input, ...] = ()
    target: str | None = None  # a form field naming the bid, award or contract acted on
    item_line: bool = False  # one item line (description, classification, quantity, unit, price)
    document: bool = False  # one document (title, url)
    prefill: Callable[[Any], dict[str, Any]] | None = None
    danger: bool = False
    endpoint: str = "tenders.manage_step"


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


def form_payload(step: Step) -> dict[str, Any]:
    """The posted form as the JSON body the API would receive (empty inputs left out)."""
    form = request.form
    payload: dict[str, Any] = {}
    kinds = {i.name: i.kind for i in step.inputs}
    for name, kind in kinds.items():
        if kind == "multiselect":
            values = [v for v in form.getlist(name) if v]
            if values:
                payload[name] = values
            continue
        raw = form.get(name, "").strip()
        if raw == "":
            continue
        payload[name] = _aware(raw) if kind in DATETIME_INPUTS else raw
    if form.get("version"):
        payload["version"] = form["version"]
    if step.item_line:
        item = {
            key: form.get(f"item_{key}", "").strip()
            for key in ("description", "classification_id", "quantity", "unit_name", "unit_value_amount")
        }
        payload["items"] = [{k: v for k, v in item.items() if v}]
    if step.document and form.get("document_url", "").strip():
        payload["documents"] = [
            {"title": form.get("document_title", "").strip() or "Dokumen", "url": form["document_url"].strip()}
        ]
    return payload


def run_step(step: Step, session: Session, actor: User | None, process_id: int) -> Any:
    target_id = None
    if step.target is not None:
        raw = request.form.get(step.target, "")
        if not raw.isdigit():
            raise NotFound(str(_l("Choose what this step applies to.")))
        target_id = int(raw)
    try:
        data = step.schema().load(form_payload(step))
    except ValidationError as exc:
        raise Invalid(str(_l("Some fields are not valid.")), exc.normalized_messages()) from exc  # type: ignore[arg-type]
    return step.run(session, actor, process_id, data, target_id)
