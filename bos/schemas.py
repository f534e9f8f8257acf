"""Marshmallow building blocks shared by every domain's schemas."""

from __future__ import annotations

from babel.numbers import list_currencies
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

ISO_4217 = frozenset(list_currencies())


def validate_currency(code: str) -> None:
    if code not in ISO_4217:
        raise ValidationError("Not an ISO 4217 currency code.")


class MoneySchema(Schema):
    """An amount and its currency. Decimal end to end: never a float."""

    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=0), allow_nan=False)
    currency = fields.String(load_default="IDR", validate=validate_currency)


class PeriodSchema(Schema):
    start_date = fields.AwareDateTime(load_default=None)
    end_date = fields.AwareDateTime(load_default=None)

    @validates_schema
    def _ends_after_start(self, data: dict, **_kwargs: object) -> None:
        start, end = data.get("start_date"), data.get("end_date")
        if start is not None and end is not None and end < start:
            raise ValidationError("The period cannot end before it starts.", "end_date")
