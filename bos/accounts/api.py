"""JSON API about the caller's own account."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from bos.accounts.auth import require_api_actor
from bos.enums import UserRole
from bos.extensions import csrf

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1/me", description="The account behind a token.")
# Token-authenticated only (never by cookie), so exempt from CSRF: see bos.accounts.auth.
csrf.exempt(blp)


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Enum(UserRole, by_value=True)
    organisation_id = fields.Integer(allow_none=True)


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @blp.alt_response(401, description="No token, or a bad or revoked one")
    def get(self) -> Any:
        """The user the bearer token belongs to."""
        return require_api_actor()
