"""Marshmallow schemas for the internal API and forms. OCDS JSON is built in bos/ocds, never here.

Input schemas are flat (``value_amount``, ``tender_period_end``) so that HTML forms and JSON bodies load through
the same schema. Money is Decimal; datetimes must carry their offset (naive values are refused).
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bos.contracts.schemas import ContractSchema
from bos.enums import (
    AwardStatus,
    BidStatus,
    BudgetSource,
    ProcessStage,
    ProcurementCategory,
    ProcurementMethod,
    TenderStatus,
)
from bos.schemas import validate_currency

RATIONALE_METHODS = {ProcurementMethod.LIMITED, ProcurementMethod.DIRECT}


def Money(**kwargs: object) -> fields.Decimal:
    kwargs.setdefault("validate", validate.Range(min=0))
    return fields.Decimal(places=2, allow_nan=False, **kwargs)  # type: ignore[arg-type]


def Text(max_length: int = 5000, **kwargs: object) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)  # type: ignore[arg-type]


def Currency(**kwargs: object) -> fields.String:
    return fields.String(validate=validate_currency, **kwargs)  # type: ignore[arg-type]


class ProcessQuerySchema(Schema):
    stage = fields.Enum(ProcessStage, by_value=True, load_default=None)
    buyer = fields.Integer(load_default=None, validate=validate.Range(min=1))
    method = fields.Enum(ProcurementMethod, by_value=True, load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


# ------------------------------------------------------------------------------------------------ input


class VersionSchema(Schema):
    """The process version the client last read: a stale one is refused with 409 (optimistic locking)."""

    version = fields.Integer(load_default=None, validate=validate.Range(min=1))


class PlanningInputSchema(VersionSchema):
    title = Text(500, required=True)
    buyer_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    rup_code = fields.String(load_default=None, validate=validate.Length(max=64))
    project = Text(500, required=True)
    budget_description = fields.String(load_default=None, validate=validate.Length(max=2000))
    budget_amount = Money(required=True)
    budget_currency = Currency(load_default="IDR")
    budget_source = fields.Enum(BudgetSource, by_value=True, required=True)
    fiscal_year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    rationale = fields.String(load_default=None, validate=validate.Length(max=5000))


class PlanningUpdateSchema(PlanningInputSchema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))

    class Meta:
        exclude = ("buyer_id",)


class ItemInputSchema(Schema):
    description = Text(500, required=True)
    classification_scheme = fields.String(load_default="KBKI", validate=validate.Length(min=1, max=32))
    classification_id = Text(64, required=True)
    classification_description = fields.String(load_default=None, validate=validate.Length(max=300))
    quantity = fields.Decimal(required=True, places=3, allow_nan=False, validate=validate.Range(min=0))
    unit_name = Text(64, required=True)
    unit_value_amount = Money(load_default=None)
    unit_value_currency = Currency(load_default="IDR")


class DocumentInputSchema(Schema):
    document_type = fields.String(load_default="tenderNotice", validate=validate.Length(min=1, max=64))
    title = Text(300, required=True)
    url = fields.Url(required=True, schemes={"http", "https"})
    format = fields.String(load_default=None, validate=validate.Length(max=100))
    sha256 = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


class AwardDocumentInputSchema(DocumentInputSchema):
    document_type = fields.String(load_default="awardNotice", validate=validate.Length(min=1, max=64))


class TenderInputSchema(VersionSchema):
    local_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    title = Text(500, required=True)
    description = fields.String(load_default=None, validate=validate.Length(max=5000))
    procurement_method = fields.Enum(ProcurementMethod, by_value=True, required=True)
    procurement_method_details = Text(100, required=True)
    procurement_method_rationale = fields.String(load_default=None, validate=validate.Length(max=5000))
    main_procurement_category = fields.Enum(ProcurementCategory, by_value=True, required=True)
    award_criteria = fields.String(
        load_default="priceOnly", validate=validate.OneOf(["priceOnly", "costOnly", "qualityOnly", "ratedCriteria"])
    )
    value_amount = Money(required=True)
    value_currency = Currency(load_default="IDR")
    tender_period_start = fields.AwareDateTime(load_default=None)
    tender_period_end = fields.AwareDateTime(required=True)
    enquiry_period_start = fields.AwareDateTime(load_default=None)
    enquiry_period_end = fields.AwareDateTime(load_default=None)
    procuring_entity_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    items = fields.List(fields.Nested(ItemInputSchema), required=True, validate=validate.Length(min=1, max=200))
    documents = fields.List(fields.Nested(DocumentInputSchema), load_default=None, validate=validate.Length(max=50))

    @validates_schema
    def _method_rationale(self, data: dict, **_kwargs: object) -> None:
        if (
            data.get("procurement_method") in RATIONALE_METHODS
            and not (data.get("procurement_method_rationale") or "").strip()
        ):
            raise ValidationError(
                "Required for limited and direct procurement: say why.", "procurement_method_rationale"
            )
        start, end = data.get("tender_period_start"), data.get("tender_period_end")
        if start is not None and end is not None and end <= start:
            raise ValidationError("The submission period must end after it starts.", "tender_period_end")


class TenderUpdateSchema(TenderInputSchema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))


class TenderAmendmentInputSchema(VersionSchema):
    rationale = Text(5000, required=True)
    description_of_change = fields.String(load_default=None, validate=validate.Length(max=5000))
    title = fields.String(load_default=None, validate=validate.Length(min=1, max=500))
    description = fields.String(load_default=None, validate=validate.Length(max=5000))
    value_amount = Money(load_default=None)
    tender_period_end = fields.AwareDateTime(load_default=None)
    enquiry_period_end = fields.AwareDateTime(load_default=None)


class PublishSchema(VersionSchema):
    pass


class BidInputSchema(Schema):
    value_amount = Money(required=True, validate=validate.Range(min=0, min_inclusive=False))
    value_currency = Currency(load_default="IDR")


class OfflineBidInputSchema(BidInputSchema, VersionSchema):
    supplier_id = fields.Integer(required=True, validate=validate.Range(min=1))
    date = fields.AwareDateTime(required=True)


class EvaluationInputSchema(VersionSchema):
    status = fields.Enum(
        BidStatus, by_value=True, required=True, validate=validate.OneOf([BidStatus.VALID, BidStatus.DISQUALIFIED])
    )
    disqualification_reason = fields.String(load_default=None, validate=validate.Length(max=5000))

    @validates_schema
    def _reason(self, data: dict, **_kwargs: object) -> None:
        if data.get("status") is BidStatus.DISQUALIFIED and not (data.get("disqualification_reason") or "").strip():
            raise ValidationError("Say why the bid is disqualified.", "disqualification_reason")


class BidEvaluationSchema(EvaluationInputSchema):
    bid_id = fields.Integer(required=True, validate=validate.Range(min=1))

    class Meta:
        exclude = ("version",)


class EvaluationReportInputSchema(VersionSchema):
    """The evaluation of several bids, published at once."""

    evaluations = fields.List(
        fields.Nested(BidEvaluationSchema), required=True, validate=validate.Length(min=1, max=200)
    )


class AwardInputSchema(VersionSchema):
    supplier_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1)), required=True, validate=validate.Length(min=1, max=20)
    )
    bid_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    title = fields.String(load_default=None, validate=validate.Length(max=500))
    value_amount = Money(required=True)
    value_currency = Currency(load_default="IDR")
    date = fields.AwareDateTime(load_default=None)
    rationale = Text(5000, required=True)
    contract_period_start = fields.AwareDateTime(load_default=None)
    contract_period_end = fields.AwareDateTime(load_default=None)
    items = fields.List(fields.Nested(ItemInputSchema), load_default=None, validate=validate.Length(max=200))
    # The award notice and the evaluation report behind it (documentType awardNotice / evaluationReports).
    documents = fields.List(
        fields.Nested(AwardDocumentInputSchema),
        load_default=None,
        validate=validate.Length(max=20),
    )

    @validates_schema
    def _period(self, data: dict, **_kwargs: object) -> None:
        start, end = data.get("contract_period_start"), data.get("contract_period_end")
        if start is not None and end is not None and end < start:
            raise ValidationError("The period cannot end before it starts.", "contract_period_end")


class AwardUpdateSchema(VersionSchema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    title = fields.String(validate=validate.Length(max=500))
    value_amount = Money()
    rationale = Text(5000, required=True)
    contract_period_start = fields.AwareDateTime()
    contract_period_end = fields.AwareDateTime()


class CancellationInputSchema(VersionSchema):
    rationale = Text(5000, required=True)


# ------------------------------------------------------------------------------------------------ output


class OrganisationRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    identifier_scheme = fields.String()
    identifier_id = fields.String()


class TenderSummarySchema(Schema):
    local_id = fields.String()
    title = fields.String()
    status = fields.Enum(TenderStatus, by_value=True)
    procurement_method = fields.Enum(ProcurementMethod, by_value=True)
    procurement_method_details = fields.String()
    main_procurement_category = fields.Enum(ProcurementCategory, by_value=True)
    value_amount = fields.Decimal(as_string=True, allow_none=True)
    value_currency = fields.String(allow_none=True)
    tender_period_start = fields.AwareDateTime(allow_none=True)
    tender_period_end = fields.AwareDateTime(allow_none=True)


class ProcessSchema(Schema):
    id = fields.Integer()
    ocid = fields.String()
    title = fields.String()
    stage = fields.Enum(ProcessStage, by_value=True)
    buyer = fields.Nested(OrganisationRefSchema)
    tender = fields.Nested(TenderSummarySchema, allow_none=True)
    updated_at = fields.AwareDateTime()


class ProcessPageSchema(Schema):
    processes = fields.List(fields.Nested(ProcessSchema))
    next_cursor = fields.String(allow_none=True)


class PlanningSchema(Schema):
    rup_code = fields.String(allow_none=True)
    project = fields.String()
    budget_description = fields.String(allow_none=True)
    budget_amount = fields.Decimal(as_string=True)
    budget_currency = fields.String()
    budget_source = fields.Enum(BudgetSource, by_value=True)
    fiscal_year = fields.Integer()
    rationale = fields.String(allow_none=True)
    date_published = fields.AwareDateTime(allow_none=True)


class ItemSchema(Schema):
    local_id = fields.String()
    description = fields.String()
    classification_scheme = fields.String()
    classification_id = fields.String()
    quantity = fields.Decimal(as_string=True)
    unit_name = fields.String()
    unit_value_amount = fields.Decimal(as_string=True, allow_none=True)
    unit_value_currency = fields.String(allow_none=True)


class TenderAmendmentSchema(Schema):
    id = fields.Integer()
    date = fields.AwareDateTime()
    rationale = fields.String()
    description = fields.String(allow_none=True)


class TenderSchema(TenderSummarySchema):
    id = fields.Integer()
    description = fields.String(allow_none=True)
    procurement_method_rationale = fields.String(allow_none=True)
    award_criteria = fields.String(allow_none=True)
    enquiry_period_start = fields.AwareDateTime(allow_none=True)
    enquiry_period_end = fields.AwareDateTime(allow_none=True)
    date_published = fields.AwareDateTime(allow_none=True)
    bids_opened_at = fields.AwareDateTime(allow_none=True)
    items = fields.List(fields.Nested(ItemSchema))
    amendments = fields.List(fields.Nested(TenderAmendmentSchema))


class AwardSchema(Schema):
    id = fields.Integer()
    local_id = fields.String()
    bid_id = fields.Integer(allow_none=True)
    title = fields.String(allow_none=True)
    status = fields.Enum(AwardStatus, by_value=True)
    date = fields.AwareDateTime()
    value_amount = fields.Decimal(as_string=True)
    value_currency = fields.String()
    rationale = fields.String(allow_none=True)
    suppliers = fields.List(fields.Nested(OrganisationRefSchema))
    contract_period_start = fields.AwareDateTime(allow_none=True)
    contract_period_end = fields.AwareDateTime(allow_none=True)


class ProcessDetailSchema(ProcessSchema):
    """One process as the reader may see it (``tenders.service.ProcessView``): never any bid."""

    version = fields.Integer(attribute="version_id")
    planning = fields.Nested(PlanningSchema, allow_none=True)
    tender = fields.Nested(TenderSchema, allow_none=True)
    awards = fields.List(fields.Nested(AwardSchema))
    contracts = fields.List(fields.Nested(ContractSchema))
    bid_count = fields.Integer()
    bids_sealed = fields.Boolean(attribute="sealed")
    cancelled_at = fields.AwareDateTime(allow_none=True)
    cancellation_rationale = fields.String(allow_none=True)
    actions = fields.List(fields.String(), metadata={"description": "Steps the reader may take now."})


class BidSchema(Schema):
    id = fields.Integer()
    local_id = fields.String()
    supplier = fields.Nested(OrganisationRefSchema)
    date = fields.AwareDateTime()
    status = fields.Enum(BidStatus, by_value=True)
    value_amount = fields.Decimal(as_string=True)
    value_currency = fields.String()
    disqualification_reason = fields.String(allow_none=True)
    received_offline = fields.Boolean()


class BidListingSchema(Schema):
    sealed = fields.Boolean()
    count = fields.Integer()
    bids = fields.List(
        fields.Nested(BidSchema),
        metadata={"description": "Empty while sealed, except a contractor's own bids."},
    )
