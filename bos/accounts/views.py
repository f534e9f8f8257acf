"""Sign-in and sign-out, each user's API tokens (created here, shown once), monitor self-registration and
invitations (``/accounts/...``), and the administrators' pages: accounts and the audit log (``/accounts/admin/...``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from bos.accounts import service
from bos.accounts.auth import web_actor
from bos.accounts.schemas import AuditQuerySchema, UserActiveSchema, UserInputSchema, UserQuerySchema
from bos.db import get_session, new_session
from bos.exceptions import BosError, Invalid
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


# ------------------------------------------------------------------------------------------------ administration
# Administrators only: each view asks the service first, so anyone else gets a 403 before any input is read.


def _load(schema: Schema, data: Mapping[str, str]) -> dict[str, Any]:
    """A form or filter through its schema; "" means "not given", as the filter forms send it."""
    try:
        return schema.load({k: v for k, v in data.items() if v != "" and k not in ("csrf_token", "lang")})
    except ValidationError as exc:
        raise Invalid(_("Some fields are not valid."), exc.normalized_messages()) from exc  # type: ignore[arg-type]


def _next_page(endpoint: str, cursor: str | None) -> str | None:
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return url_for(endpoint, **args, cursor=cursor) if cursor else None


@bp.get("/accounts/admin/users")
@login_required
def admin_users() -> Any:
    service.require_admin(web_actor())
    form = {key: request.args.get(key, "") for key in ("role", "organisation", "active")}
    try:
        args = _load(UserQuerySchema(), request.args)
        filters = service.UserFilters(role=args["role"], organisation=args["organisation"], active=args["active"])
        page = service.list_users(get_session(), web_actor(), filters, args["cursor"], args["limit"])
    except Invalid as exc:
        html = render_template("accounts/admin_users.html", form=form, page=None, errors=exc.errors, error=exc.message)
        return html, exc.status
    next_url = _next_page("accounts.admin_users", page.next_cursor)
    return render_template("accounts/admin_users.html", form=form, page=page, errors={}, next_url=next_url)


@bp.route("/accounts/admin/users/new", methods=["GET", "POST"])
@login_required
def admin_new_user() -> Any:
    actor = service.require_admin(web_actor())
    form = {key: request.form.get(key, "") for key in ("email", "name", "role", "organisation")}
    if request.method == "GET":
        return render_template("accounts/admin_user_new.html", form=form, errors={})
    try:
        user = service.create_account(get_session(), actor, **_load(UserInputSchema(), request.form))
    except BosError as exc:
        # The password is never sent back into the page; everything else is kept.
        html = render_template("accounts/admin_user_new.html", form=form, errors=exc.errors, error=exc.message)
        return html, exc.status
    flash(_("The account %(email)s was created.", email=user.email))
    return redirect(url_for("accounts.admin_users"))


def _back_to_users() -> Response:
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/accounts/admin/") else url_for("accounts.admin_users"))


@bp.post("/accounts/admin/users/<int:user_id>/active")
@login_required
def admin_set_active(user_id: int) -> Response:
    actor = service.require_admin(web_actor())
    active = _load(UserActiveSchema(), request.form)["active"]
    user = service.set_user_active(get_session(), actor, user_id, active)
    flash(
        _("%(email)s can sign in again.", email=user.email)
        if active
        else _("%(email)s is deactivated: they cannot sign in and their API tokens stop working.", email=user.email)
    )
    return _back_to_users()


@bp.post("/accounts/admin/users/<int:user_id>/revoke-tokens")
@login_required
def admin_revoke_tokens(user_id: int) -> Response:
    actor = service.require_admin(web_actor())
    count = service.revoke_user_tokens(get_session(), actor, user_id)
    flash(_("API tokens revoked: %(count)s.", count=count))
    return _back_to_users()


@bp.get("/accounts/admin/audit-log")
@login_required
def admin_audit_log() -> Any:
    actor = service.require_admin(web_actor())
    session = get_session()
    form = {key: request.args.get(key, "") for key in ("user", "action", "date_from", "date_to")}
    context = {"form": form, "actions": service.audit_actions(session)}
    try:
        args = _load(AuditQuerySchema(), request.args)
        filters = service.AuditFilters(
            user=args["user"], action=args["action"], date_from=args["date_from"], date_to=args["date_to"]
        )
        page = service.list_audit(session, actor, filters, args["cursor"], args["limit"])
    except Invalid as exc:
        html = render_template(
            "accounts/admin_audit_log.html", page=None, errors=exc.errors, error=exc.message, **context
        )
        return html, exc.status
    next_url = _next_page("accounts.admin_audit_log", page.next_cursor)
    return render_template("accounts/admin_audit_log.html", page=page, errors={}, next_url=next_url, **context)
