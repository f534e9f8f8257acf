"""Marshmallow schemas of the red-flag API (query parameters and the flag JSON shape)."""

from __future__ import annotations

from typing import Any

import orjson
from marshmallow import Schema, fields, validate

STATUSES = ["flagged", "not_flagged", "insufficient_data", "not_applicable", "dismissed", "any"]


class FlagQuerySchema(Schema):
    indicator = fields.String(load_default=None)
    buyer = fields.String(load_default=None)
    supplier = fields.String(load_default=None)
    ocid = fields.String(load_default=None)
    since = fields.AwareDateTime(load_default=None)
    status = fields.String(
        load_default="flagged",
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "Outcome status. A process outcome is listed once it was flagged or had insufficient "
            "data (so not_flagged and not_applicable list cleared flags and former insufficiencies); outcomes that "
            "never flagged are counted in the catalogue's coverage instead."
        },
    )
    source = fields.String(load_default=None)
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class ResponseSchema(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda r: r.kind.value)
    body = fields.String()
    created_at = fields.AwareDateTime()


class FlagSchema(Schema):
    id = fields.Integer()
    source = fields.String()
    code = fields.String()
    grain = fields.String()
    subject = fields.String()
    key = fields.String()
    ocid = fields.String(allow_none=True)
    buyer = fields.String(allow_none=True)
    status = fields.Function(lambda f: f.status.value)
    dismissed = fields.Function(lambda f: f.dismissed_at is not None)
    value = fields.Float(allow_none=True)
    score = fields.Float()
    evidence = fields.Function(lambda f: orjson.loads(f.evidence))
    explanation = fields.String()
    rule_version = fields.Integer()
    first_raised_at = fields.AwareDateTime(allow_none=True)
    last_confirmed_at = fields.AwareDateTime(allow_none=True)
    cleared_at = fields.AwareDateTime(allow_none=True)
    dismissed_at = fields.AwareDateTime(allow_none=True)
    evaluated_at = fields.AwareDateTime()


class FlagPageSchema(Schema):
    flags = fields.List(fields.Nested(FlagSchema))
    next_cursor = fields.String(allow_none=True)
    note = fields.Constant("A flag is a risk indicator that needs review, not proof of wrongdoing.")


class IndicatorSchema(Schema):
    code = fields.String()
    name = fields.Dict()
    explanation = fields.Dict()
    phase = fields.String()
    grains = fields.List(fields.String())
    version = fields.Integer()
    cardinal = fields.Boolean()
    parameters = fields.Dict()
    composite_weight = fields.Float(allow_none=True)
    coverage = fields.Dict()


class CatalogueSchema(Schema):
    indicators = fields.List(fields.Nested(IndicatorSchema))
    composite = fields.Dict()


class TextInputSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))


def flag_json(flag: Any) -> dict[str, Any]:
    return FlagSchema().dump(flag)
