"""Who is asking: a signed-in session for the web pages, a bearer token for the JSON API.

The API authenticates by token only, never by the session cookie: that is why its blueprints are exempt from CSRF
(a cross-site page can make a browser send cookies, but not an ``Authorization`` header).
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from types import CodeType
from typing import Any

from apispec import APISpec, BasePlugin
from flask import Flask, current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bos.accounts import service
from bos.accounts.models import User
from bos.db import WRITE_METHODS, get_session, new_session, utcnow

logger = logging.getLogger(__name__)


def init_auth(app: Flask) -> None:
    from bos.extensions import login_manager  # noqa: PLC0415

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None  # type: ignore[assignment]

    @login_manager.user_loader
    def _load(user_id: str) -> User | None:
        return service.get_user(get_session(), int(user_id)) if user_id.isdigit() else None


def web_actor() -> User | None:
    """The signed-in user of a page request, or None."""
    user = current_user
    return user if user.is_authenticated else None  # type: ignore[return-value]


def api_actor() -> User | None:
    """The user of an API request's bearer token; None without one; 401 for a bad or revoked one."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _sep, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise service.AuthenticationFailed(_("Use 'Authorization: Bearer <token>'."))
    session = get_session()
    token = service.token_for_secret(session, secret.strip())
    if token is None:
        raise service.AuthenticationFailed(_("The API token is not valid or was revoked."))
    now = utcnow()
    if service.token_use_due(token, now):
        _note_use(session, token.id, now)
    return token.user


def _note_use(request_session: Session, token_id: int, now: dt.datetime) -> None:
    """Note the token's use without turning a read into a write: a GET's session reads without SQLite's write lock,
    and upgrading it at commit fails at once ("database is locked") when a job has written since, which would
    answer a plain read with 503. So a read request notes the use in a short write transaction of its own, and a
    failure there costs only a stale ``last_used_at`` (the next request tries again); a write request already
    holds the lock and notes it in its own unit of work."""
    if request.method in WRITE_METHODS:
        service.note_token_use(request_session, token_id, now)
        return
    try:
        with new_session(current_app, write=True) as session:
            service.note_token_use(session, token_id, now)
            session.commit()
    except OperationalError:
        logger.warning("could not note the use of API token %s; the next request tries again", token_id, exc_info=True)


def require_api_actor() -> User:
    user = api_actor()
    if user is None:
        raise service.AuthenticationFailed(_("This request needs an API token: 'Authorization: Bearer <token>'."))
    return user


# ------------------------------------------------------------------------------------------------------ OpenAPI

TOKEN_SCHEME = "bearerToken"  # noqa: S105 - the name of the OpenAPI security scheme, not a secret
TOKEN_SECURITY = [{TOKEN_SCHEME: []}]


def _calls(code: CodeType, name: str) -> bool:
    return name in code.co_names or any(_calls(c, name) for c in code.co_consts if isinstance(c, CodeType))


def needs_token(handler: Any) -> bool:
    """Whether an API handler (under flask-smorest's decorators) calls ``require_api_actor``.

    The OpenAPI ``security`` of an operation is derived from the call that enforces it, so the document cannot
    drift from the code: every domain's API calls ``require_api_actor()`` in the handler itself (a handler that only
    calls ``api_actor()`` takes an optional token and stays public). A handler that checked through a helper of its
    own would not be seen, hence the test that every operation answering 401 is marked.
    """
    code = getattr(inspect.unwrap(handler), "__code__", None)
    return code is not None and _calls(code, require_api_actor.__name__)


class TokenSecurityPlugin(BasePlugin):
    """apispec plugin: declares the bearer-token scheme and marks the operations that need a token."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        spec.components.security_scheme(
            TOKEN_SCHEME,
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal API token (create one at /account/tokens or with 'bos users token'), "
                "sent as 'Authorization: Bearer <token>'. It acts with its owner's rights.",
            },
        )

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        rule = kwargs.get("rule")  # flask-smorest passes the werkzeug rule of the endpoint being documented
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        if view is None or not operations:
            return
        view_class = getattr(view, "view_class", None)
        for method, operation in operations.items():
            handler = getattr(view_class, method, None) if view_class is not None else view
            if "security" not in operation and handler is not None and needs_token(handler):
                operation["security"] = TOKEN_SECURITY
