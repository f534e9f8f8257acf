"""Domain exceptions, raised below the views, and the one handler that turns them into HTML or JSON."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class BosError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotFound(BosError):
    status = 404
    code = "not_found"


class NotAllowed(BosError):
    status = 403
    code = "forbidden"


class Invalid(BosError):
    """Input that breaks a rule: ``errors`` maps each field to its messages."""

    status = 422
    code = "invalid"


class Conflict(BosError):
    """The action is not possible in the current state (workflow, optimistic lock, duplicate)."""

    status = 409
    code = "conflict"


class BadParameter(BosError):
    """A malformed query parameter (date, cursor, limit)."""

    status = 400
    code = "bad_parameter"


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, errors: dict[str, Any] | None = None) -> Response:
    if wants_json():
        body: dict[str, Any] = {"code": status, "status": code, "message": message}
        if errors:
            body["errors"] = errors
        response = jsonify(body)
        response.status_code = status
        return response
    html = render_template("errors/error.html", status=status, message=message, errors=errors or {})
    return Response(html, status=status, mimetype="text/html")


def describe_integrity_error(exc: IntegrityError) -> str:
    text = str(exc.orig).lower()
    if "unique" in text or "duplicate" in text:
        return "A record with the same identifier already exists."
    if "foreign key" in text:
        return "A referenced record does not exist."
    if "check" in text:
        return "A value breaks a data rule (for example a negative amount or a period ending before it starts)."
    return "The data breaks a database rule."


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(BosError)
    def _bos_error(exc: BosError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.errors)

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> Response:
        # The last guard: marshmallow and the services should have refused this already. The request's session
        # is rolled back by the after-request hook because the status is >= 400.
        log.warning("integrity error reached the handler: %s", exc.orig)
        return error_response(409, "conflict", describe_integrity_error(exc))

    @app.errorhandler(OperationalError)
    def _operational(exc: OperationalError) -> Response:
        # The database could not run the statement now (SQLite's "database is locked", a connection lost): not
        # the client's input. The after-request hook rolls the session back; the request may simply be retried.
        log.warning("database unavailable for a request: %s", exc.orig)
        response = error_response(503, "database_busy", "The database is busy; please try again in a moment.")
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(StatementError)
    def _statement(exc: StatementError) -> Response:
        log.warning("statement error reached the handler: %s", exc.orig)
        return error_response(422, "invalid", "A value has the wrong type or format.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        errors = None
        data = getattr(exc, "data", None)  # flask-smorest/webargs put field messages here on 422
        if isinstance(data, dict) and "messages" in data:
            errors = data["messages"]
        return error_response(status, (exc.name or "error").lower().replace(" ", "_"), exc.description or "", errors)

    from bos.ocds.schema import SchemaLoadError  # noqa: PLC0415

    @app.errorhandler(SchemaLoadError)
    def _schema_unavailable(exc: SchemaLoadError) -> Response:
        # Only a few paths need the OCDS schema (versioned records, live merges, validation); say so plainly.
        log.error("OCDS schema unavailable: %s", exc)
        return error_response(
            503, "schema_unavailable", "The OCDS schema could not be loaded; set BOS_OCDS_SCHEMA_DIR or allow access."
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Internal error. The request was not applied.")
