"""HTML pages for contracting processes: thin, parse → service → render or redirect.

Public pages show what is published; the officer's pages (``/manage``) offer the workflow steps possible now,
each a form posting to one service function; contractors bid from the process page.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
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
from bos.tenders import service
from bos.tenders.forms import Input, Step, run_step
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


@bp.app_context_processor
def _display_zone() -> dict[str, Any]:
    return {"display_zone": lambda: ZoneInfo(current_app.config["TIMEZONE"])}


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
def submit_bid(process_id: int) -> Response:
    try:
        data = BidInputSchema().load(
            {k: v for k, v in request.form.items() if v and k in ("value_amount", "value_currency")}
        )
    except ValidationError as exc:
        raise Invalid(_("Some fields are not valid."), exc.normalized_messages()) from exc  # type: ignore[arg-type]
    service.submit_bid(get_session(), web_actor(), process_id, data)
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
    if tender.items:
        item = tender.items[0]
        values |= {
            f"item_{k}": getattr(item, k)
            for k in ("description", "classification_id", "quantity", "unit_name", "unit_value_amount")
        }
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
         lambda s, a, p, d, _t: service.save_tender(s, a, p, d), TENDER_INPUTS, item_line=True, document=True),
    Step("update_tender", _l("Edit the draft tender"), TenderUpdateSchema,
         lambda s, a, p, d, _t: service.save_tender(s, a, p, d), TENDER_INPUTS, item_line=True, document=True,
         prefill=_tender_prefill),
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
          Input("contract_period_end", _l("Contract ends"), "datetime"))),
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


@bp.route("/manage/processes/new", methods=["GET", "POST"])
@login_required
def manage_new() -> Any:
    actor = web_actor()
    if actor is None or actor.role is not UserRole.OFFICER:
        raise NotAllowed(_("Only a buyer's officers can plan its processes."))
    if request.method == "GET":
        step = Step(
            "create_process",
            _l("New process: the plan (RUP entry)"),
            PlanningInputSchema,
            lambda *a: None,
            PLANNING_INPUTS,
        )
        return render_template("tenders/new.html", step=step, values={"budget_source": "APBD"})
    try:
        payload = {k: v for k, v in request.form.items() if v != "" and k != "csrf_token"}
        data = PlanningInputSchema().load(payload)
    except ValidationError as exc:
        raise Invalid(_("Some fields are not valid."), exc.normalized_messages()) from exc  # type: ignore[arg-type]
    process = service.create_process(get_session(), actor, data, current_app.config["OCID_PREFIX"])
    flash(_("The draft process was created. It stays private until you publish the plan."))
    return redirect(url_for("tenders.manage", process_id=process.id))


@bp.get("/manage/processes/<int:process_id>")
@login_required
def manage(process_id: int) -> str:
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
    return render_template(
        "tenders/manage.html",
        view=view,
        process=view.process,
        tender=view.tender,
        bids=bids,
        steps=offered,
        values=values,
        choices=_choices(view, bids),
    )


@bp.post("/manage/processes/<int:process_id>/<action>")
@login_required
def manage_step(process_id: int, action: str) -> Response:
    step = _all_steps().get(action)
    if step is None:
        raise NotFound(_("No such step."))
    run_step(step, get_session(), web_actor(), process_id)
    flash(_("Saved: %(step)s.", step=step.title))
    return redirect(url_for("tenders.manage", process_id=process_id))
