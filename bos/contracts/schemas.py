"""Marshmallow schemas for contracts in the internal API and forms (OCDS JSON is built in bos/ocds)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bos.enums import ContractStatus, MilestoneStatus
from bos.schemas import validate_currency


def _money(**kwargs: object) -> fields.Decimal:
    kwargs.setdefault("validate", validate.Range(min=0))
    return fields.Decimal(places=2, allow_nan=False, **kwargs)  # type: ignore[arg-type]


class _Version(Schema):
    version = fields.Integer(load_default=None, validate=validate.Range(min=1))


class ContractDocumentSchema(Schema):
    document_type = fields.String(load_default="contractSigned", validate=validate.Length(min=1, max=64))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    url = fields.Url(required=True, schemes={"http", "https"})
    format = fields.String(load_default=None, validate=validate.Length(max=100))
    sha256 = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


MILESTONE_TYPES = [
    "preProcurement",
    "approval",
    "engagement",
    "assessment",
    "delivery",
    "reporting",
    "financing",
    "payment",
]


class ScheduledMilestoneSchema(Schema):
    """A milestone written into the contract (a termin), scheduled until met."""

    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    type = fields.String(load_default="delivery", validate=validate.OneOf(MILESTONE_TYPES))
    due_date = fields.AwareDateTime(load_default=None)
    description = fields.String(load_default=None, validate=validate.Length(max=5000))


class ContractInputSchema(_Version):
    award_id = fields.Integer(required=True, validate=validate.Range(min=1))
    local_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    title = fields.String(load_default=None, validate=validate.Length(max=500))
    description = fields.String(load_default=None, validate=validate.Length(max=5000))
    value_amount = _money(required=True)
    value_currency = fields.String(load_default=None, validate=validate_currency)
    period_start = fields.AwareDateTime(required=True)
    period_end = fields.AwareDateTime(required=True)
    documents = fields.List(fields.Nested(ContractDocumentSchema), load_default=None)
    milestones = fields.List(
        fields.Nested(ScheduledMilestoneSchema), load_default=None, validate=validate.Length(max=100)
    )

    @validates_schema
    def _period(self, data: dict, **_kwargs: object) -> None:
        start, end = data.get("period_start"), data.get("period_end")
        if start is not None and end is not None and end < start:
            raise ValidationError("The period cannot end before it starts.", "period_end")


class ContractUpdateSchema(ContractInputSchema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))

    class Meta:
        exclude = ("award_id",)


class SignatureInputSchema(_Version):
    date_signed = fields.AwareDateTime(load_default=None)


class ContractAmendmentInputSchema(_Version):
    rationale = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    description = fields.String(load_default=None, validate=validate.Length(max=5000))
    new_value_amount = _money(load_default=None)
    new_period_end = fields.AwareDateTime(load_default=None)


class TransactionInputSchema(_Version):
    date = fields.AwareDateTime(load_default=None)
    value_amount = _money(required=True, validate=validate.Range(min=0, min_inclusive=False))
    value_currency = fields.String(load_default=None, validate=validate_currency)
    payee_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    source = fields.String(load_default=None, validate=validate.Length(max=300))
    milestone_id = fields.Integer(load_default=None, validate=validate.Range(min=1))


class MilestoneInputSchema(_Version):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    type = fields.String(load_default="delivery", validate=validate.OneOf(MILESTONE_TYPES))
    status = fields.Enum(MilestoneStatus, by_value=True, load_default=MilestoneStatus.SCHEDULED)
    due_date = fields.AwareDateTime(load_default=None)
    date_met = fields.AwareDateTime(load_default=None)
    description = fields.String(load_default=None, validate=validate.Length(max=5000))


class CompletionInputSchema(_Version):
    pass


class MilestoneMetInputSchema(_Version):
    pass


class ContractAmendmentSchema(Schema):
    local_id = fields.String()
    date = fields.AwareDateTime()
    rationale = fields.String()
    description = fields.String(allow_none=True)
    old_value_amount = fields.Decimal(as_string=True, allow_none=True)
    new_value_amount = fields.Decimal(as_string=True, allow_none=True)
    old_period_end = fields.AwareDateTime(allow_none=True)
    new_period_end = fields.AwareDateTime(allow_none=True)


class TransactionSchema(Schema):
    local_id = fields.String()
    date = fields.AwareDateTime()
    value_amount = fields.Decimal(as_string=True)
    value_currency = fields.String()
    payer_id = fields.Integer()
    payee_id = fields.Integer()
    source = fields.String(allow_none=True)


class MilestoneSchema(Schema):
    id = fields.Integer()
    local_id = fields.String()
    title = fields.String()
    type = fields.String()
    status = fields.Enum(MilestoneStatus, by_value=True)
    due_date = fields.AwareDateTime(allow_none=True)
    date_met = fields.AwareDateTime(allow_none=True)


class ContractSchema(Schema):
    id = fields.Integer()
    award_id = fields.Integer()
    local_id = fields.String()
    title = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    status = fields.Enum(ContractStatus, by_value=True)
    value_amount = fields.Decimal(as_string=True)
    value_currency = fields.String()
    period_start = fields.AwareDateTime(allow_none=True)
    period_end = fields.AwareDateTime(allow_none=True)
    date_signed = fields.AwareDateTime(allow_none=True)
    amendments = fields.List(fields.Nested(ContractAmendmentSchema))
    transactions = fields.List(fields.Nested(TransactionSchema))
    milestones = fields.List(fields.Nested(MilestoneSchema))
