"""Marshmallow schemas for the internal API and forms. OCDS JSON is built in bos/ocds, never here."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bos.enums import ProcessStage, ProcurementCategory, ProcurementMethod, TenderStatus


class ProcessQuerySchema(Schema):
    stage = fields.Enum(ProcessStage, by_value=True, load_default=None)
    buyer = fields.Integer(load_default=None, validate=validate.Range(min=1))
    method = fields.Enum(ProcurementMethod, by_value=True, load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


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
