"""Sign-in and sign-out, each user's API tokens (created here, shown once), monitor self-registration and
invitations (``/accounts/...``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from bos.accounts import service
from bos.accounts.auth import web_actor
from bos.db import get_session, new_session
from bos.exceptions import BosError
from bos.permissions import can_manage_users

# No prefix: sign-in and tokens live under /account, registration and invitations under /accounts.
bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    # Only local paths: an absolute URL here would make the login page an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("tenders.manage_index")


@bp.route("/account/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("accounts/login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    ip = request.remote_addr or "unknown"
    # The attempt is recorded in a session of its own that commits even when the sign-in fails: the request's
    # own session is rolled back on an error status, and a failure that left no trace could not be rate-limited.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with new_session(app) as session:
        try:
            user = service.authenticate(session, email, password, ip)
            user_id = user.id
        except BosError as exc:
            session.commit()
            return (
                render_template(
                    "accounts/login.html", email=email, next=request.form.get("next", ""), error=exc.message
                ),
                exc.status,
            )
        session.commit()
    user_row = service.get_user(get_session(), user_id)
    login_user(user_row)  # type: ignore[arg-type]
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/account/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("tenders.index"))


@bp.get("/account/tokens")
@login_required
def tokens() -> str:
    actor = web_actor()
    assert actor is not None  # noqa: S101 - login_required
    return render_template("accounts/tokens.html", tokens=service.list_tokens(get_session(), actor), new_secret=None)


@bp.post("/account/tokens")
@login_required
def create_token() -> str:
    actor = web_actor()
    assert actor is not None  # noqa: S101
    session = get_session()
    created = service.create_token(session, actor, request.form.get("name", ""))
    # Shown once: only the hash is stored.
    return render_template(
        "accounts/tokens.html", tokens=service.list_tokens(session, actor), new_secret=created.secret
    )


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    actor = web_actor()
    service.revoke_token(get_session(), actor, token_id)  # type: ignore[arg-type]
    flash(_("The token was revoked."))
    return redirect(url_for("accounts.tokens"))


@bp.route("/accounts/register", methods=["GET", "POST"])
def register() -> Any:
    form = {key: request.form.get(key, "") for key in ("name", "email", "affiliation")}
    if request.method == "GET":
        return render_template("accounts/register.html", form=form, errors={})
    try:
        service.register_monitor(
            get_session(), **form, password=request.form.get("password", ""),
            password_repeat=request.form.get("password_repeat", ""), ip=request.remote_addr or "unknown",
        )  # fmt: skip
    except BosError as exc:
        page = render_template("accounts/register.html", form=form, errors=exc.errors, error=exc.message)
        return page, exc.status
    return render_template("accounts/registered.html", email=service.normalise_email(form["email"]))


@bp.get("/accounts/verify/<token>")
def verify(token: str) -> Any:
    try:
        user = service.verify_email(get_session(), token)
    except service.LinkRefused as exc:
        return render_template("accounts/link_refused.html", error=exc.message), exc.status
    login_user(user)
    flash(_("Your email address is confirmed. Welcome to BOS."))
    return redirect(url_for("tenders.index"))


@bp.route("/accounts/invite", methods=["GET", "POST"])
@login_required
def invite() -> Any:
    actor = web_actor()
    if not can_manage_users(actor):
        raise Forbidden(_("Only administrators manage accounts."))
    form = {key: request.form.get(key, "") for key in ("name", "email")}
    if request.method == "GET":
        return render_template("accounts/invite.html", form=form, errors={})
    try:
        user = service.invite_monitor(get_session(), actor, **form)
    except BosError as exc:
        page = render_template("accounts/invite.html", form=form, errors=exc.errors, error=exc.message)
        return page, exc.status
    flash(_("Invitation queued for %(email)s.", email=user.email))
    return redirect(url_for("accounts.invite"))


@bp.route("/accounts/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Any:
    session = get_session()
    try:
        invited = service.invitation(session, token)
        if request.method == "GET":
            return render_template("accounts/accept_invitation.html", user=invited, errors={})
        user = service.accept_invitation(
            session, token, request.form.get("password", ""), request.form.get("password_repeat", "")
        )
    except service.LinkRefused as exc:
        return render_template("accounts/link_refused.html", error=exc.message), exc.status
    except BosError as exc:
        page = render_template("accounts/accept_invitation.html", user=invited, errors=exc.errors, error=exc.message)
        return page, exc.status
    login_user(user)
    flash(_("Your password is set. Welcome to BOS."))
    return redirect(url_for("tenders.index"))
