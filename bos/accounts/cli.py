"""``bos users …``: create accounts and API tokens from the command line (the first admin starts here)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from bos.db import new_session
from bos.enums import UserRole
from bos.exceptions import BosError


@click.group("users")
def users() -> None:
    """User accounts."""


@users.command("create")
@click.option("--role", type=click.Choice([r.value for r in UserRole]), required=True)
@click.option("--email", required=True)
@click.option("--name", default=None, help="Display name (default: the email).")
@click.option("--buyer", default=None, help="Officer: the buyer's id or identifier (e.g. ID-KEMENDAGRI-35.22.1).")
@click.option("--supplier", default=None, help="Contractor: the supplier's id or identifier (e.g. its NPWP).")
@click.password_option(help="Prompted for when not given.")
@with_appcontext
def create_user_command(
    role: str, email: str, name: str | None, buyer: str | None, supplier: str | None, password: str
) -> None:
    """Create an account: officers belong to a buyer, contractors to a supplier."""
    from bos.accounts import service  # noqa: PLC0415

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with new_session(app) as session:
        try:
            identifier = buyer if role == UserRole.OFFICER else supplier if role == UserRole.CONTRACTOR else None
            if role in (UserRole.OFFICER, UserRole.CONTRACTOR) and not identifier:
                raise click.UsageError(f"--{'buyer' if role == UserRole.OFFICER else 'supplier'} is required")
            # The same service as the administrators' page and API: the same rules, written once.
            user = service.create_account(
                session, None, email=email, name=name or email, role=UserRole(role), password=password,
                organisation=identifier,
            )  # fmt: skip
            organisation = user.organisation
            session.commit()
        except BosError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            raise click.ClickException(f"{exc.message} {details}".strip()) from exc
    org = f" of {organisation.name}" if organisation else ""
    click.echo(f"created {user.role.value} {user.email}{org} (id {user.id})")


@users.command("token")
@click.option("--email", required=True)
@click.option("--name", default="cli", show_default=True)
@with_appcontext
def create_token_command(email: str, name: str) -> None:
    """Create an API token for a user and print it (shown once; only its hash is stored)."""
    from sqlalchemy import select  # noqa: PLC0415

    from bos.accounts import service  # noqa: PLC0415
    from bos.accounts.models import User  # noqa: PLC0415

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with new_session(app) as session:
        user = session.scalars(select(User).where(User.email == service.normalise_email(email))).one_or_none()
        if user is None:
            raise click.ClickException("no such user")
        created = service.create_token(session, user, name)
        session.commit()
    click.echo(created.secret)


@users.command("invite")
@click.option("--email", required=True)
@click.option("--name", default="", help="Display name (default: the email).")
@with_appcontext
def invite_command(email: str, name: str) -> None:
    """Invite a monitor: an account without a password, and a mail (through the outbox) to choose one."""
    from bos.accounts import service  # noqa: PLC0415

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with new_session(app) as session:
        try:
            user = service.invite_monitor(session, None, email=email, name=name)
            session.commit()
        except BosError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            raise click.ClickException(f"{exc.message} {details}".strip()) from exc
    click.echo(f"invited monitor {user.email} (id {user.id}); the mail goes out with deliver_account_messages")


commands = [users]
