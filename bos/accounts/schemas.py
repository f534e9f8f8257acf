"""Marshmallow schemas for the account administration page and API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bos.enums import UserRole


def _cursor() -> fields.String:
    return fields.String(load_default=None, validate=validate.Length(max=200))


def _limit() -> fields.Integer:
    return fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class UserQuerySchema(Schema):
    role = fields.Enum(UserRole, by_value=True, load_default=None)
    organisation = fields.String(
        load_default=None, validate=validate.Length(max=100), metadata={"description": "Id or identifier"}
    )
    active = fields.Boolean(load_default=None)
    cursor = _cursor()
    limit = _limit()


class UserInputSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    name = fields.String(
        load_default="", validate=validate.Length(max=200), metadata={"description": "Default: email"}
    )
    role = fields.Enum(UserRole, by_value=True, required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1000))
    organisation = fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "Officer: the buyer's id or identifier; contractor: the supplier's (e.g. its NPWP)"},
    )


class UserActiveSchema(Schema):
    active = fields.Boolean(required=True)


class UserOrganisationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    identifier = fields.Function(lambda org: f"{org.identifier_scheme}-{org.identifier_id}")


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Enum(UserRole, by_value=True)
    organisation = fields.Nested(UserOrganisationSchema, allow_none=True)
    active = fields.Boolean(attribute="is_active")
    email_verified = fields.Function(lambda user: user.email_verified_at is not None)
    created_at = fields.AwareDateTime()


class UserPageSchema(Schema):
    users = fields.List(fields.Nested(UserSchema))
    next_cursor = fields.String(allow_none=True)


class RevokedTokensSchema(Schema):
    revoked = fields.Integer()


class AuditQuerySchema(Schema):
    user = fields.String(load_default=None, validate=validate.Length(max=254), metadata={"description": "Email or id"})
    action = fields.String(load_default=None, validate=validate.Length(max=64))
    date_from = fields.Date(load_default=None, metadata={"description": "Local day (WIB by default), included"})
    date_to = fields.Date(load_default=None, metadata={"description": "Local day, included"})
    cursor = _cursor()
    limit = _limit()

    @validates_schema
    def _to_after_from(self, data: dict[str, Any], **_kwargs: object) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start is not None and end is not None and end < start:
            raise ValidationError("The period cannot end before it starts.", "date_to")


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    user_id = fields.Integer(allow_none=True)
    user_email = fields.String(allow_none=True)
    action = fields.String()
    process_id = fields.Integer(allow_none=True)
    ocid = fields.String(allow_none=True)
    object_type = fields.String(allow_none=True)
    object_id = fields.Integer(allow_none=True)
    detail = fields.Raw(allow_none=True)


class AuditPageSchema(Schema):
    entries = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.String(allow_none=True)
