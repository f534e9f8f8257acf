"""HTML steps for contracts, offered on the officer's process page (``tenders.manage``)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from bos.contracts import service
from bos.contracts.schemas import (
    CompletionInputSchema,
    ContractAmendmentInputSchema,
    ContractInputSchema,
    MilestoneInputSchema,
    SignatureInputSchema,
    TransactionInputSchema,
)
from bos.enums import MilestoneStatus
from bos.tenders.forms import CONTRACT_DOCUMENTS, Input, Step

bp = Blueprint("contracts", __name__)

CONTRACT_STEPS: tuple[Step, ...] = (
    Step("save_contract", _l("Prepare the contract"), ContractInputSchema,
         lambda s, a, p, d, _t: service.save_contract(s, a, p, d),
         (Input("award_id", _l("Award"), "select", required=True, choices="awards"),
          Input("value_amount", _l("Contract value"), "money", required=True),
          Input("period_start", _l("Contract starts"), "datetime", required=True),
          Input("period_end", _l("Contract ends"), "datetime", required=True),
          Input("title", _l("Title"))), documents=CONTRACT_DOCUMENTS),
    Step("sign_contract", _l("Record the signature"), SignatureInputSchema,
         lambda s, a, p, d, t: service.sign_contract(s, a, p, t, d),  # type: ignore[arg-type]
         (Input("date_signed", _l("Signed on"), "datetime"),), target="contract_id"),
    Step("amend_contract", _l("Amend the contract"), ContractAmendmentInputSchema,
         lambda s, a, p, d, t: service.amend_contract(s, a, p, t, d),  # type: ignore[arg-type]
         (Input("rationale", _l("Rationale"), "textarea", required=True),
          Input("new_value_amount", _l("New value"), "money"),
          Input("new_period_end", _l("New end date"), "datetime")), target="contract_id"),
    Step("add_transaction", _l("Record a payment"), TransactionInputSchema,
         lambda s, a, p, d, t: service.add_transaction(s, a, p, t, d),  # type: ignore[arg-type]
         (Input("value_amount", _l("Amount"), "money", required=True),
          Input("date", _l("Paid on"), "datetime"),
          Input("source", _l("Budget line"))), target="contract_id"),
    Step("add_milestone", _l("Add a milestone"), MilestoneInputSchema,
         lambda s, a, p, d, t: service.add_milestone(s, a, p, t, d),  # type: ignore[arg-type]
         (Input("title", _l("Title"), required=True),
          Input("status", _l("Status"), "select", options=tuple(m.value for m in MilestoneStatus)),
          Input("due_date", _l("Due"), "datetime")), target="contract_id"),
    Step("complete", _l("Close the contract as completed"), CompletionInputSchema,
         lambda s, a, p, d, t: service.complete_contract(s, a, p, t, d),  # type: ignore[arg-type]
         target="contract_id"),
)  # fmt: skip
