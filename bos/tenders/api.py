"""JSON API over the tenders service (flask-smorest: OpenAPI comes from the marshmallow schemas).

Reads are anonymous; writes need ``Authorization: Bearer <token>`` (see ``bos.accounts.auth``). Every write calls
the same service function as its HTML form, and the request commits once (or not at all on an error status).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from bos.accounts.auth import api_actor, require_api_actor
from bos.db import get_session
from bos.extensions import csrf
from bos.tenders import service
from bos.tenders.schemas import (
    AwardInputSchema,
    AwardUpdateSchema,
    BidInputSchema,
    BidListingSchema,
    BidSchema,
    CancellationInputSchema,
    EvaluationInputSchema,
    EvaluationReportInputSchema,
    OfflineBidInputSchema,
    PlanningInputSchema,
    PlanningUpdateSchema,
    ProcessDetailSchema,
    ProcessPageSchema,
    ProcessQuerySchema,
    PublishSchema,
    TenderAmendmentInputSchema,
    TenderInputSchema,
    TenderUpdateSchema,
)

blp = Blueprint(
    "tenders_api",
    __name__,
    url_prefix="/api/v1/processes",
    description="Contracting processes: plans, tenders, sealed bids, awards and cancellations.",
)
# Token-authenticated only (never by cookie), so exempt from CSRF: see bos.accounts.auth.
csrf.exempt(blp)

WRITE_ERRORS = (401, 403, 404, 409, 422)


def _detail(process_id: int) -> service.ProcessView:
    return service.view_process(get_session(), api_actor(), process_id)


def _write_responses(fn: Any) -> Any:
    for status in WRITE_ERRORS:
        fn = blp.alt_response(status, description="Error (JSON body with message and field errors)")(fn)
    return fn


@blp.route("")
class ProcessList(MethodView):
    @blp.arguments(ProcessQuerySchema, location="query")
    @blp.response(200, ProcessPageSchema)
    def get(self, args: dict[str, Any]) -> service.ProcessPage:
        """List contracting processes, newest first, in keyset pages (drafts only for their buyer's officers)."""
        filters = service.ProcessFilters(
            stage=args["stage"], buyer_id=args["buyer"], method=args["method"], query=args["q"]
        )
        return service.list_processes(get_session(), filters, args["cursor"], args["limit"], api_actor())

    @blp.arguments(PlanningInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any]) -> service.ProcessView:
        """Start a process with its plan (RUP entry), as a draft of your buyer."""
        actor = require_api_actor()
        process = service.create_process(get_session(), actor, data, current_app.config["OCID_PREFIX"])
        return _detail(process.id)


@blp.route("/<int:process_id>")
class ProcessDetail(MethodView):
    @blp.response(200, ProcessDetailSchema)
    def get(self, process_id: int) -> service.ProcessView:
        """One contracting process; ``version`` is what an edit must send back (optimistic locking). No bids."""
        return _detail(process_id)


@blp.route("/<int:process_id>/planning")
class PlanningResource(MethodView):
    @blp.arguments(PlanningUpdateSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def put(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Replace the plan. A published plan publishes a ``planningUpdate`` release at once."""
        service.update_planning(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/planning/publish")
class PlanningPublish(MethodView):
    @blp.arguments(PublishSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Publish the plan: release tagged ``planning``."""
        service.publish_planning(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/tender")
class TenderResource(MethodView):
    @blp.arguments(TenderInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Prepare the tender as a draft (private to the buyer's officers)."""
        service.save_tender(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)

    @blp.arguments(TenderUpdateSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def put(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Replace the draft tender. A published tender changes only through an amendment."""
        service.save_tender(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/tender/publish")
class TenderPublish(MethodView):
    @blp.arguments(PublishSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Publish the tender (release ``tender``): bids are accepted until the submission period ends."""
        service.publish_tender(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/tender/amendments")
class TenderAmendments(MethodView):
    @blp.arguments(TenderAmendmentInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Amend the open tender with a rationale (a deadline extension is one): release ``tenderAmendment``."""
        service.amend_tender(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/bids")
class Bids(MethodView):
    @blp.response(200, BidListingSchema)
    def get(self, process_id: int) -> service.BidListing:
        """Bids: while sealed only their count (and a contractor's own bids); all of them once opened."""
        return service.list_bids(get_session(), api_actor(), process_id)

    @blp.arguments(BidInputSchema)
    @blp.response(201, BidSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> Any:
        """Submit (or replace) your sealed bid while the submission period runs. Contractors only."""
        return service.submit_bid(get_session(), require_api_actor(), process_id, data)


@blp.route("/<int:process_id>/bids/<int:bid_id>")
class BidResource(MethodView):
    @blp.arguments(BidInputSchema)
    @blp.response(200, BidSchema)
    @_write_responses
    def put(self, data: dict[str, Any], process_id: int, bid_id: int) -> Any:
        """Replace your bid's price while the submission period runs."""
        return service.replace_bid(get_session(), require_api_actor(), process_id, bid_id, data)


@blp.route("/<int:process_id>/bids/<int:bid_id>/withdraw")
class BidWithdrawal(MethodView):
    @blp.response(200, BidSchema)
    @_write_responses
    def post(self, process_id: int, bid_id: int) -> Any:
        """Withdraw your bid while the submission period runs."""
        return service.withdraw_bid(get_session(), require_api_actor(), process_id, bid_id)


@blp.route("/<int:process_id>/bids/open")
class BidOpening(MethodView):
    @blp.arguments(PublishSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Open the bids after the submission period: all are published (release ``tenderUpdate``)."""
        service.open_bids(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/bids/offline")
class OfflineBids(MethodView):
    @blp.arguments(OfflineBidInputSchema)
    @blp.response(201, BidSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> Any:
        """Record a bid received offline (after opening only): release ``tenderUpdate``."""
        return service.record_offline_bid(get_session(), require_api_actor(), process_id, data)


@blp.route("/<int:process_id>/bids/evaluation")
class EvaluationReport(MethodView):
    @blp.arguments(EvaluationReportInputSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Publish the evaluation of several opened bids at once, all or nothing (one release ``tenderUpdate``)."""
        service.evaluate_bids(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/bids/<int:bid_id>/evaluation")
class BidEvaluation(MethodView):
    @blp.arguments(EvaluationInputSchema)
    @blp.response(200, BidSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int, bid_id: int) -> Any:
        """Evaluate an opened bid: valid, or disqualified with the reason (release ``tenderUpdate``)."""
        return service.evaluate_bid(get_session(), require_api_actor(), process_id, bid_id, data)


@blp.route("/<int:process_id>/awards")
class Awards(MethodView):
    @blp.arguments(AwardInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Award the closed tender: supplier(s), value, date and rationale (release ``award``)."""
        service.award_process(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/awards/<int:award_id>")
class AwardResource(MethodView):
    @blp.arguments(AwardUpdateSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def patch(self, data: dict[str, Any], process_id: int, award_id: int) -> service.ProcessView:
        """Correct a published award before signing, with a rationale (release ``awardUpdate``)."""
        service.update_award(get_session(), require_api_actor(), process_id, award_id, data)
        return _detail(process_id)


@blp.route("/<int:process_id>/cancellation")
class Cancellation(MethodView):
    @blp.arguments(CancellationInputSchema)
    @blp.response(200, ProcessDetailSchema)
    @_write_responses
    def post(self, data: dict[str, Any], process_id: int) -> service.ProcessView:
        """Cancel the process at any stage before completion, with the rationale (a signed contract is terminated)."""
        service.cancel_process(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)
