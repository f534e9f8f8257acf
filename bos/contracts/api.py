"""JSON API over the contracts service: drafts, signature, amendments, payments, milestones, completion."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bos.accounts.auth import api_actor, require_api_actor
from bos.contracts import service
from bos.contracts.schemas import (
    CompletionInputSchema,
    ContractAmendmentInputSchema,
    ContractInputSchema,
    ContractUpdateSchema,
    MilestoneInputSchema,
    MilestoneMetInputSchema,
    SignatureInputSchema,
    TransactionInputSchema,
)
from bos.db import get_session
from bos.extensions import csrf
from bos.tenders.schemas import ProcessDetailSchema
from bos.tenders.service import ProcessView, view_process

blp = Blueprint(
    "contracts_api",
    __name__,
    url_prefix="/api/v1/processes/<int:process_id>/contracts",
    description="Contracts: draft, signature, amendments, payments, milestones and completion.",
)
# Token-authenticated only (never by cookie), so exempt from CSRF: see bos.accounts.auth.
csrf.exempt(blp)


def _detail(process_id: int) -> ProcessView:
    return view_process(get_session(), api_actor(), process_id)


def _errors(fn: Any) -> Any:
    for status in (401, 403, 404, 409, 422):
        fn = blp.alt_response(status, description="Error (JSON body with message and field errors)")(fn)
    return fn


@blp.route("")
class Contracts(MethodView):
    @blp.arguments(ContractInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_errors
    def post(self, data: dict[str, Any], process_id: int) -> ProcessView:
        """Prepare the contract of an award as a draft (value, period, documents)."""
        service.save_contract(get_session(), require_api_actor(), process_id, data)
        return _detail(process_id)


@blp.route("/<int:contract_id>")
class ContractResource(MethodView):
    @blp.arguments(ContractUpdateSchema)
    @blp.response(200, ProcessDetailSchema)
    @_errors
    def put(self, data: dict[str, Any], process_id: int, contract_id: int) -> ProcessView:
        """Replace the draft contract. A signed contract changes only through an amendment."""
        service.save_contract(get_session(), require_api_actor(), process_id, data, contract_id)
        return _detail(process_id)


@blp.route("/<int:contract_id>/signature")
class Signature(MethodView):
    @blp.arguments(SignatureInputSchema)
    @blp.response(200, ProcessDetailSchema)
    @_errors
    def post(self, data: dict[str, Any], process_id: int, contract_id: int) -> ProcessView:
        """Record the signature and publish the contract (release ``contract``)."""
        service.sign_contract(get_session(), require_api_actor(), process_id, contract_id, data)
        return _detail(process_id)


@blp.route("/<int:contract_id>/amendments")
class Amendments(MethodView):
    @blp.arguments(ContractAmendmentInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_errors
    def post(self, data: dict[str, Any], process_id: int, contract_id: int) -> ProcessView:
        """Change the contract value or end date with a rationale (release ``contractAmendment``)."""
        service.amend_contract(get_session(), require_api_actor(), process_id, contract_id, data)
        return _detail(process_id)


@blp.route("/<int:contract_id>/transactions")
class Transactions(MethodView):
    @blp.arguments(TransactionInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_errors
    def post(self, data: dict[str, Any], process_id: int, contract_id: int) -> ProcessView:
        """Record a payment, never above the contract value (release ``implementation``)."""
        service.add_transaction(get_session(), require_api_actor(), process_id, contract_id, data)
        return _detail(process_id)


@blp.route("/<int:contract_id>/milestones")
class Milestones(MethodView):
    @blp.arguments(MilestoneInputSchema)
    @blp.response(201, ProcessDetailSchema)
    @_errors
    def post(self, data: dict[str, Any], process_id: int, contract_id: int) -> ProcessView:
        """Add an implementation milestone (release ``implementationUpdate``)."""
        service.add_milestone(get_session(), require_api_actor(), process_id, contract_id, data)
        return _detail(process_id)


@blp.route("/<int:contract_id>/milestones/<int:milestone_id>/met")
class MilestoneMet(MethodView):
    @blp.arguments(MilestoneMetInputSchema)
    @blp.response(200, ProcessDetailSchema)
    @_errors
    def post(self, data: dict[str, Any], process_id: int, contract_id: int, milestone_id: int) -> ProcessView:
        """Record that a scheduled milestone was met, now (release ``implementationUpdate``)."""
        service.meet_milestone(get_session(), require_api_actor(), process_id, contract_id, milestone_id, data)
        return _detail(process_id)


@blp.route("/<int:contract_id>/completion")
class Completion(MethodView):
    @blp.arguments(CompletionInputSchema)
    @blp.response(200, ProcessDetailSchema)
    @_errors
    def post(self, data: dict[str, Any], process_id: int, contract_id: int) -> ProcessView:
        """Close the contract as carried out; the process is completed (release ``contractTermination``)."""
        service.complete_contract(get_session(), require_api_actor(), process_id, contract_id, data)
        return _detail(process_id)
