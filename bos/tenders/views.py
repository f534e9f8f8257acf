"""HTML pages for contracting processes: thin, parse → service → render or redirect.

Public pages show what is published; the officer's pages (``/manage``) offer the workflow steps possible now,
each a form posting to one service function; contractors bid from the process page.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, send_file, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from bos.accounts.auth import web_actor
from bos.db import get_session, utcnow
from bos.enums import (
    BidStatus,
    BudgetSource,
    OrganisationKind,
    ProcessStage,
    ProcurementCategory,
    ProcurementMethod,
    UserRole,
)
from bos.exceptions import BadParameter, Invalid, NotAllowed, NotFound
from bos.i18n import LANGUAGES
from bos.parties.models import Organisation
from bos.permissions import can_bid, can_manage_process
from bos.tenders import documents, service
from bos.tenders.forms import (
    AWARD_DOCUMENTS,
    DOCUMENT_TYPES,
    ITEM_FIELDS,
    TENDER_DOCUMENTS,
    FormInvalid,
    Input,
    PostedForm,
    Step,
    error_summary,
    form_errors,
    read_form,
    run_step,
)
from bos.tenders.models import Bid, Process
from bos.tenders.schemas import (
    AwardInputSchema,
    AwardUpdateSchema,
    BidInputSchema,
    CancellationInputSchema,
    EvaluationInputSchema,
    OfflineBidInputSchema,
    PlanningInputSchema,
    PlanningUpdateSchema,
    ProcessQuerySchema,
    PublishSchema,
    TenderAmendmentInputSchema,
    TenderInputSchema,
    TenderUpdateSchema,
)

bp = Blueprint("tenders", __name__)


@bp.record_once
def _limit_request_size(state: BlueprintSetupState) -> None:
    # A form with documents carries a few files of at most UPLOAD_MAX_BYTES each; anything far larger is refused
    # (413) before it is read, unless the deployment set its own MAX_CONTENT_LENGTH. Each file is checked against
    # the limit itself while it is stored, with a message next to its input.
    config = state.app.config
    if config.get("MAX_CONTENT_LENGTH") is None:
        config["MAX_CONTENT_LENGTH"] = 10 * int(config["UPLOAD_MAX_BYTES"]) + 2**20


@bp.app_context_processor
def _display_zone() -> dict[str, Any]:
    return {"display_zone": lambda: ZoneInfo(current_app.config["TIMEZONE"])}


@bp.context_processor
def _form_globals() -> dict[str, Any]:
    """What the step forms' rows need (templates/tenders/_form.html)."""
    return {
        "item_fields": ITEM_FIELDS,
        "document_types": DOCUMENT_TYPES,
        "upload_accept": ",".join(f".{extension}" for extension in documents.ALLOWED_TYPES),
        "upload_types": ", ".join(extension.upper() for extension in documents.ALLOWED_TYPES),
        "upload_max_mb": int(current_app.config["UPLOAD_MAX_BYTES"]) // 2**20,
    }


@bp.get("/")
def index() -> str:
    try:
        # The filter form sends "" for "all"; ``lang`` belongs to the language switch, not to the filter.
        query = {key: value for key, value in request.args.items() if value != "" and key != "lang"}
        args = ProcessQuerySchema().load(query)
    except ValidationError as exc:
        raise BadParameter("Invalid filter.", exc.normalized_messages()) from exc  # type: ignore[arg-type]
    session = get_session()
    filters = service.ProcessFilters(
        stage=args["stage"], buyer_id=args["buyer"], method=args["method"], query=args["q"]
    )
    page = service.list_processes(session, filters, args["cursor"], args["limit"])
    return render_template(
        "tenders/index.html",
        page=page,
        filters=filters,
        buyers=service.list_buyers(session),
        counts=service.stage_counts(session),
    )


@bp.get("/processes/<int:process_id>")
def detail(process_id: int) -> str:
    return _detail_page(process_id)


def _detail_page(process_id: int, bid_form: dict[str, Any] | None = None) -> str:
    """The public process page; ``bid_form`` (values, errors, message) shows a refused bid again."""
    session = get_session()
    actor = web_actor()
    # The public page shows the published process to everyone, officers included; drafts are on /manage.
    view = service.view_process(session, None, process_id)
    own_bids: list[Bid] = []
    bidding = False
    if can_bid(actor) and view.tender is not None:
        own_bids = [
            b for b in service.list_bids(session, actor, process_id).bids if b.supplier_id == actor.organisation_id
        ]  # type: ignore[union-attr]
        bidding = "submit_bid" in _bid_actions(view.process)
    return render_template(
        "tenders/detail.html",
        process=view.process,
        view=view,
        tender=view.tender,
        sealed=view.tender is not None and view.sealed,
        bid_count=view.bid_count,
        bids=service.list_bids(session, None, process_id).bids if view.tender is not None and not view.sealed else [],
        contracts=view.contracts,
        own_bids=own_bids,
        bidding=bidding,
        can_manage=can_manage_process(actor, view.process),
        documents=[d for d in view.process.documents if documents.is_public(session, d)],
        bid_form=bid_form or {"values": {}, "errors": {}, "message": None, "summary": []},
    )


def _bid_actions(process: Process) -> list[str]:
    from bos import workflow  # noqa: PLC0415

    return [a.value for a in workflow.allowed_actions(process, utcnow())]


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    if code not in LANGUAGES:
        raise BadParameter("Unknown language.", {"code": [f"One of: {', '.join(LANGUAGES)}."]})
    target = request.referrer or url_for("tenders.index")
    response = make_response(redirect(target))
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


# ------------------------------------------------------------------------------------------------ contractors


@bp.post("/processes/<int:process_id>/bid")
@login_required
def submit_bid(process_id: int) -> Any:
    values = {k: request.form.get(k, "").strip() for k in ("value_amount", "value_currency")}
    try:
        data = BidInputSchema().load({k: v for k, v in values.items() if v})
        service.submit_bid(get_session(), web_actor(), process_id, data)
    except (ValidationError, Invalid) as exc:
        get_session().rollback()
        if isinstance(exc, ValidationError):
            message, errors = _("Some fields are not valid."), form_errors(exc.normalized_messages())  # type: ignore[arg-type]
        else:
            message, errors = exc.message, form_errors(exc.errors)
        summary = [
            ("bid-value", _("Your price"), " ".join(messages))
            if key == "value_amount"
            else ("bid-form", key, " ".join(messages))
            for key, messages in errors.items()
        ]
        bid_form = {"values": values, "errors": errors, "message": message, "summary": summary}
        return _detail_page(process_id, bid_form), 422
    flash(_("Your sealed bid was saved. No one can read it before the bids are opened."))
    return redirect(url_for("tenders.detail", process_id=process_id))


@bp.post("/processes/<int:process_id>/bids/<int:bid_id>/withdraw")
@login_required
def withdraw_bid(process_id: int, bid_id: int) -> Response:
    service.withdraw_bid(get_session(), web_actor(), process_id, bid_id)
    flash(_("Your bid was withdrawn."))
    return redirect(url_for("tenders.detail", process_id=process_id))


# ------------------------------------------------------------------------------------------------ officers


def _planning_prefill(view: service.ProcessView) -> dict[str, Any]:
    planning = view.planning
    values = {"title": view.process.title}
    if planning is not None:
        values |= {key: getattr(planning, key) for key in service.PLANNING_FIELDS}
    return values


def _tender_prefill(view: service.ProcessView) -> dict[str, Any]:
    tender = view.tender
    if tender is None:
        return {}
    values = {key: getattr(tender, key) for key in service.TENDER_FIELDS}
    values["items"] = [{key: getattr(item, key) for key, _label in ITEM_FIELDS} for item in tender.items]
    values["documents"] = [
        {
            "document_type": d.document_type,
            "title": d.title,
            "url": "" if d.sha256 else d.url,
            "sha256": d.sha256 or "",
            "format": d.format or "",
        }
        for d in view.process.documents
        if d.section == "tender"
    ]
    return values


PLANNING_INPUTS = (
    Input("title", _l("Title"), required=True),
    Input("rup_code", _l("RUP code")),
    Input("project", _l("Project"), required=True),
    Input("budget_amount", _l("Budget (pagu)"), "money", required=True),
    Input("budget_source", _l("Budget source"), "select", required=True, options=tuple(s.value for s in BudgetSource)),
    Input("fiscal_year", _l("Fiscal year"), "number", required=True),
    Input("budget_description", _l("Budget description"), "textarea"),
    Input("rationale", _l("Rationale"), "textarea"),
)
TENDER_INPUTS = (
    Input("title", _l("Title"), required=True),
    Input("description", _l("Description"), "textarea"),
    Input(
        "procurement_method", _l("Method"), "select", required=True, options=tuple(m.value for m in ProcurementMethod)
    ),
    Input("procurement_method_details", _l("Method name (e.g. Tender, Pengadaan Langsung)"), required=True),
    Input("procurement_method_rationale", _l("Reason for the method (required for limited and direct)"), "textarea"),
    Input(
        "main_procurement_category",
        _l("Category"),
        "select",
        required=True,
        options=tuple(c.value for c in ProcurementCategory),
    ),
    Input("value_amount", _l("Estimate (HPS)"), "money", required=True),
    Input("tender_period_start", _l("Submission opens"), "datetime"),
    Input("tender_period_end", _l("Submission deadline"), "datetime", required=True),
)

TENDER_STEPS: tuple[Step, ...] = (
    Step("update_planning", _l("Edit the plan"), PlanningUpdateSchema,
         lambda s, a, p, d, _t: service.update_planning(s, a, p, d), PLANNING_INPUTS, prefill=_planning_prefill),
    Step("publish_planning", _l("Publish the plan (RUP)"), PublishSchema,
         lambda s, a, p, d, _t: service.publish_planning(s, a, p, d)),
    Step("create_tender", _l("Prepare the tender"), TenderInputSchema,
         lambda s, a, p, d, _t: service.save_tender(s, a, p, d), TENDER_INPUTS, item_lines=True,
         documents=TENDER_DOCUMENTS),
    Step("update_tender", _l("Edit the draft tender"), TenderUpdateSchema,
         lambda s, a, p, d, _t: service.save_tender(s, a, p, d), TENDER_INPUTS, item_lines=True,
         documents=TENDER_DOCUMENTS, prefill=_tender_prefill),
    Step("publish_tender", _l("Publish the tender"), PublishSchema,
         lambda s, a, p, d, _t: service.publish_tender(s, a, p, d)),
    Step("amend_tender", _l("Amend the tender"), TenderAmendmentInputSchema,
         lambda s, a, p, d, _t: service.amend_tender(s, a, p, d),
         (Input("rationale", _l("Rationale"), "textarea", required=True),
          Input("tender_period_end", _l("New submission deadline"), "datetime"),
          Input("value_amount", _l("New estimate (HPS)"), "money"),
          Input("description_of_change", _l("What changes"), "textarea"))),
    Step("open_bids", _l("Open the bids"), PublishSchema, lambda s, a, p, d, _t: service.open_bids(s, a, p, d)),
    Step("record_offline_bid", _l("Record a bid received offline"), OfflineBidInputSchema,
         lambda s, a, p, d, _t: service.record_offline_bid(s, a, p, d),
         (Input("supplier_id", _l("Supplier"), "select", required=True, choices="suppliers"),
          Input("value_amount", _l("Price"), "money", required=True),
          Input("date", _l("Received on"), "datetime", required=True))),
    Step("evaluate_bid", _l("Evaluate a bid"), EvaluationInputSchema,
         lambda s, a, p, d, t: service.evaluate_bid(s, a, p, t, d),  # type: ignore[arg-type]
         (Input("status", _l("Result"), "select", required=True, options=(BidStatus.VALID.value, BidStatus.DISQUALIFIED.value)),
          Input("disqualification_reason", _l("Reason for disqualification"), "textarea")), target="bid_id"),
    Step("award", _l("Award"), AwardInputSchema, lambda s, a, p, d, _t: service.award_process(s, a, p, d),
         (Input("bid_id", _l("Winning bid"), "select", choices="valid_bids"),
          Input("supplier_ids", _l("Supplier(s)"), "multiselect", required=True, choices="bidders"),
          Input("value_amount", _l("Award value"), "money", required=True),
          Input("rationale", _l("Reason for the award"), "textarea", required=True),
          Input("contract_period_start", _l("Contract starts"), "datetime"),
          Input("contract_period_end", _l("Contract ends"), "datetime")), documents=AWARD_DOCUMENTS),
    Step("update_award", _l("Correct the award"), AwardUpdateSchema,
         lambda s, a, p, d, t: service.update_award(s, a, p, t, d),  # type: ignore[arg-type]
         (Input("value_amount", _l("Award value"), "money"),
          Input("rationale", _l("Reason for the correction and the award"), "textarea", required=True)),
         target="award_id"),
    Step("cancel", _l("Cancel the process"), CancellationInputSchema,
         lambda s, a, p, d, _t: service.cancel_process(s, a, p, d),
         (Input("rationale", _l("Reason for the cancellation"), "textarea", required=True),), danger=True),
)  # fmt: skip


def _all_steps() -> dict[str, Step]:
    from bos.contracts.views import CONTRACT_STEPS  # noqa: PLC0415

    return {step.action: step for step in (*TENDER_STEPS, *CONTRACT_STEPS)}


def _choices(view: service.ProcessView, bids: list[Bid]) -> dict[str, list[tuple[int, str]]]:
    session = get_session()
    suppliers = session.execute(
        select(Organisation.id, Organisation.name)
        .where(Organisation.kind == OrganisationKind.SUPPLIER)
        .order_by(Organisation.name)
    ).all()
    bidders = {b.supplier_id: b.supplier.name for b in bids if b.status is not BidStatus.WITHDRAWN}
    return {
        "suppliers": [(row.id, row.name) for row in suppliers],
        "bids": [(b.id, f"{b.local_id} · {b.supplier.name}") for b in bids if b.status is not BidStatus.WITHDRAWN],
        "valid_bids": [(b.id, f"{b.local_id} · {b.supplier.name}") for b in bids if b.status is BidStatus.VALID],
        "bidders": list(bidders.items()),
        "awards": [(a.id, f"{a.local_id} · {a.title or ''}") for a in view.awards],
        "drafts": [(c.id, c.local_id) for c in view.contracts if c.date_signed is None],
        "contracts": [(c.id, c.local_id) for c in view.contracts if c.date_signed is not None],
    }


@bp.get("/manage")
@login_required
def manage_index() -> str:
    """The signed-in user's work: an officer's processes (drafts included), a contractor's open tenders and bids."""
    actor = web_actor()
    assert actor is not None  # noqa: S101
    session = get_session()
    if actor.role is UserRole.OFFICER:
        page = service.list_processes(
            session, service.ProcessFilters(buyer_id=actor.organisation_id), request.args.get("cursor"), 50, actor
        )
        return render_template("tenders/manage_index.html", page=page, actor=actor)
    if actor.role is UserRole.CONTRACTOR:
        page = service.list_processes(session, service.ProcessFilters(stage=ProcessStage.OPEN), None, 50)
        bids = session.scalars(
            select(Bid).where(Bid.supplier_id == actor.organisation_id).order_by(Bid.id.desc())
        ).all()
        return render_template("tenders/manage_index.html", page=page, actor=actor, bids=bids)
    raise NotAllowed(_("Only officers and contractors have work to manage."))


NEW_PROCESS = Step(
    "create_process",
    _l("New process: the plan (RUP entry)"),
    PlanningInputSchema,
    lambda s, a, _p, d, _t: service.create_process(s, a, d, current_app.config["OCID_PREFIX"]),
    PLANNING_INPUTS,
    endpoint="tenders.manage_new",
)


@bp.route("/manage/processes/new", methods=["GET", "POST"])
@login_required
def manage_new() -> Any:
    actor = web_actor()
    if actor is None or actor.role is not UserRole.OFFICER:
        raise NotAllowed(_("Only a buyer's officers can plan its processes."))
    if request.method == "GET":
        return render_template("tenders/new.html", step=NEW_PROCESS, values={"budget_source": "APBD"}, errors={})
    try:
        process = run_step(NEW_PROCESS, get_session(), actor, 0)
    except FormInvalid as exc:
        get_session().rollback()
        return render_template(
            "tenders/new.html",
            step=NEW_PROCESS,
            values=exc.values,
            errors=exc.errors,
            message=exc.message,
            summary=error_summary(NEW_PROCESS, exc.errors),
        ), 422
    flash(_("The draft process was created. It stays private until you publish the plan."))
    return redirect(url_for("tenders.manage", process_id=process.id))


@bp.get("/manage/processes/<int:process_id>")
@login_required
def manage(process_id: int) -> str:
    return _manage_page(process_id)


def _manage_page(process_id: int, step: Step | None = None, form: PostedForm | FormInvalid | None = None) -> str:
    """The officer's page with the steps possible now; ``step`` and ``form`` show one step's post again."""
    session = get_session()
    actor = web_actor()
    view = service.view_process(session, actor, process_id)
    if not view.can_manage:
        raise NotAllowed(_("Only the buyer's officers can change this process."))
    listing = (
        service.list_bids(session, actor, process_id)
        if view.tender is not None and view.tender.date_published
        else None
    )
    bids = listing.bids if listing is not None and not listing.sealed else []
    steps = _all_steps()
    offered = [steps[a] for a in view.actions if a in steps]
    values: dict[str, dict[str, Any]] = {s.action: (s.prefill(view) if s.prefill else {}) for s in offered}
    errors: dict[str, dict[str, list[str]]] = {}
    summary: list[tuple[str, str, str]] = []
    if step is not None and form is not None:
        values[step.action] = form.values
        errors[step.action] = form.errors
        summary = error_summary(step, form.errors)
    return render_template(
        "tenders/manage.html",
        view=view,
        process=view.process,
        tender=view.tender,
        bids=bids,
        steps=offered,
        values=values,
        errors=errors,
        summary=summary,
        message=form.message if isinstance(form, FormInvalid) else None,
        choices=_choices(view, bids),
    )


@bp.post("/manage/processes/<int:process_id>/<action>")
@login_required
def manage_step(process_id: int, action: str) -> Any:
    step = _all_steps().get(action)
    if step is None:
        raise NotFound(_("No such step."))
    if request.form.get("add_line") in ("items", "documents"):
        # Without JavaScript, "add a line" posts the form: show it again, as typed, with one more blank line.
        posted = read_form(step)
        posted.values.setdefault(request.form["add_line"], []).append({})
        return _manage_page(process_id, step, posted)
    session = get_session()
    try:
        run_step(step, session, web_actor(), process_id)
    except FormInvalid as exc:
        session.rollback()  # the service may have changed rows before it refused: show the page as it was
        return _manage_page(process_id, step, exc), 422
    flash(_("Saved: %(step)s.", step=step.title))
    return redirect(url_for("tenders.manage", process_id=process_id))


@bp.get("/documents/<sha256>")
def document_file(sha256: str) -> Response:
    """An uploaded document: public once its section is published, before that only for the buyer's officers."""
    store = documents.DocumentStore.from_config(current_app.config)
    found = documents.readable_file(get_session(), store, web_actor(), sha256)
    name = re.sub(r"[^\w.-]+", "-", found.document.title).strip("-.")[:80] or sha256[:12]
    response = send_file(
        found.path,
        mimetype=found.document.format or "application/octet-stream",
        download_name=f"{name}.{documents.extension_of(found.document.format)}",
        etag=sha256,
        conditional=True,
        max_age=365 * 24 * 3600 if found.public else 0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if found.public:
        response.cache_control.public = True
        response.cache_control.immutable = True  # content-addressed: these bytes never change at this address
    else:
        response.cache_control.private = True
        response.cache_control.no_store = True
    return response
