"""Who is asking: a signed-in session for the web pages, a bearer token for the JSON API.

The API authenticates by token only, never by the session cookie: that is why its blueprints are exempt from CSRF
(a cross-site page can make a browser send cookies, but not an ``Authorization`` header).
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import gettext as _
from flask_login import current_user

from bos.accounts import service
from bos.accounts.models import User
from bos.db import get_session


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
    user = service.user_for_token(get_session(), secret.strip())
    if user is None:
        raise service.AuthenticationFailed(_("The API token is not valid or was revoked."))
    return user


def require_api_actor() -> User:
    user = api_actor()
    if user is None:
        raise service.AuthenticationFailed(_("This request needs an API token: 'Authorization: Bearer <token>'."))
    return user
