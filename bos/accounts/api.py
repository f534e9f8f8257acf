"""JSON API about the caller's own account (``/api/v1/me``) and account administration (``/api/v1/admin``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from bos.accounts import service
from bos.accounts.auth import require_api_actor
from bos.accounts.schemas import (
    AuditPageSchema,
    AuditQuerySchema,
    RevokedTokensSchema,
    UserActiveSchema,
    UserInputSchema,
    UserPageSchema,
    UserQuerySchema,
    UserSchema,
)
from bos.db import get_session
from bos.enums import UserRole
from bos.extensions import csrf

blp = Blueprint(
    "accounts_api", __name__, url_prefix="/api/v1", description="The account behind a token; account administration."
)
# Token-authenticated only (never by cookie), so exempt from CSRF: see bos.accounts.auth.
csrf.exempt(blp)

ADMIN = ["admin"]


def _admin_errors(fn: Any) -> Any:
    fn = blp.alt_response(401, description="No token, or a bad or revoked one")(fn)
    return blp.alt_response(403, description="Not an administrator")(fn)


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Enum(UserRole, by_value=True)
    organisation_id = fields.Integer(allow_none=True)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @blp.alt_response(401, description="No token, or a bad or revoked one")
    def get(self) -> Any:
        """The user the bearer token belongs to."""
        return require_api_actor()


@blp.route("/admin/users", tags=ADMIN)
class Users(MethodView):
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserPageSchema)
    @_admin_errors
    def get(self, args: dict[str, Any]) -> service.UserPage:
        """List accounts in the order they were made, in keyset pages (administrators)."""
        filters = service.UserFilters(role=args["role"], organisation=args["organisation"], active=args["active"])
        return service.list_users(get_session(), require_api_actor(), filters, args["cursor"], args["limit"])

    @blp.arguments(UserInputSchema)
    @blp.response(201, UserSchema)
    @_admin_errors
    @blp.alt_response(409, description="An account with this email already exists")
    @blp.alt_response(422, description="Invalid fields (JSON body with field errors)")
    def post(self, data: dict[str, Any]) -> Any:
        """Create an account: officers belong to a buyer, contractors to a supplier (administrators)."""
        return service.create_account(get_session(), require_api_actor(), **data)


@blp.route("/admin/users/<int:user_id>", tags=ADMIN)
class UserActive(MethodView):
    @blp.arguments(UserActiveSchema)
    @blp.response(200, UserSchema)
    @_admin_errors
    @blp.alt_response(404, description="No such account")
    @blp.alt_response(409, description="An administrator cannot deactivate their own account")
    def patch(self, data: dict[str, Any], user_id: int) -> Any:
        """Deactivate or reactivate an account: a deactivated user cannot sign in and their tokens stop working."""
        return service.set_user_active(get_session(), require_api_actor(), user_id, data["active"])


@blp.route("/admin/users/<int:user_id>/revoke-tokens", tags=ADMIN)
class UserTokens(MethodView):
    @blp.response(200, RevokedTokensSchema)
    @_admin_errors
    @blp.alt_response(404, description="No such account")
    def post(self, user_id: int) -> Any:
        """Revoke every API token of an account (administrators)."""
        return {"revoked": service.revoke_user_tokens(get_session(), require_api_actor(), user_id)}


@blp.route("/admin/audit-log", tags=ADMIN)
class AuditLog(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditPageSchema)
    @_admin_errors
    def get(self, args: dict[str, Any]) -> service.AuditPage:
        """The internal audit log, newest first, in keyset pages (administrators)."""
        filters = service.AuditFilters(
            user=args["user"], action=args["action"], date_from=args["date_from"], date_to=args["date_to"]
        )
        return service.list_audit(get_session(), require_api_actor(), filters, args["cursor"], args["limit"])
