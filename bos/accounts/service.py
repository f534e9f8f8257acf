"""Accounts: users, argon2 passwords, API tokens, the sign-in rate limit and the internal audit log.

Services take the session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bos.accounts.models import ApiToken, AuditEntry, LoginAttempt, User
from bos.db import utcnow
from bos.enums import OrganisationKind, UserRole
from bos.exceptions import BosError, Conflict, Invalid, NotAllowed, NotFound
from bos.parties.models import Organisation
from bos.permissions import can_manage_token, can_manage_users

log = logging.getLogger(__name__)

_hasher = PasswordHasher()

# Sign-in rate limit: at most this many failures per email, and per address, within the window.
LOGIN_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
TOKEN_PREFIX = "bos_"  # noqa: S105 - a public marker that makes leaked tokens easy to scan for


class AuthenticationFailed(BosError):
    status = 401
    code = "unauthorized"


class TooManyAttempts(BosError):
    status = 429
    code = "too_many_attempts"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: UserRole,
    password: str,
    organisation: Organisation | None = None,
) -> User:
    """Create an account (from the CLI: no actor). Officers need a buyer, contractors a supplier."""
    email = normalise_email(email)
    errors: dict[str, list[str]] = {}
    if "@" not in email:
        errors["email"] = [_("Not an email address.")]
    if len(password) < 10:
        errors["password"] = [_("Use at least 10 characters.")]
    if role is UserRole.OFFICER and (organisation is None or not organisation.is_buyer):
        errors["organisation"] = [_("An officer belongs to a buyer.")]
    if role is UserRole.CONTRACTOR and (organisation is None or organisation.kind is not OrganisationKind.SUPPLIER):
        errors["organisation"] = [_("A contractor belongs to a supplier.")]
    if role in (UserRole.ADMIN, UserRole.MONITOR) and organisation is not None:
        errors["organisation"] = [_("Administrators and monitors belong to no organisation.")]
    if errors:
        raise Invalid(_("The account is not valid."), errors)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(_("An account with this email already exists."))
    user = User(
        email=email,
        name=name,
        role=role,
        organisation_id=organisation.id if organisation else None,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record_audit(session, None, "create_user", target=user, role=role.value)
    return user


def find_organisation(session: Session, identifier: str) -> Organisation:
    """An organisation by its database id or its identifier (``ID-NPWP-…``, a bare NPWP, a Kemendagri code)."""
    org = None
    if identifier.isdigit():
        org = session.get(Organisation, int(identifier))
    if org is None:
        org = session.scalars(
            select(Organisation).where(
                (Organisation.identifier_id == identifier)
                | ((Organisation.identifier_scheme + "-" + Organisation.identifier_id) == identifier)
            )
        ).first()
    if org is None:
        raise NotFound(_("No organisation with this identifier."))
    return org


def get_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


def _failures(session: Session, column: Any, value: str, since: dt.datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
        )
        or 0
    )


def authenticate(session: Session, email: str, password: str, ip: str, now: dt.datetime | None = None) -> User:
    """Check a sign-in, recording the attempt. Too many recent failures refuse it before the password is checked.

    The caller commits even when this raises, so that failures count (see ``accounts.views.login``).
    """
    now = now or utcnow()
    email = normalise_email(email)[:254]
    since = now - LOGIN_WINDOW
    if (
        _failures(session, LoginAttempt.email, email, since) >= MAX_FAILURES_PER_EMAIL
        or _failures(session, LoginAttempt.ip, ip, since) >= MAX_FAILURES_PER_IP
    ):
        log.warning("sign-in refused by rate limit: email=%s ip=%s", email, ip)
        raise TooManyAttempts(_("Too many failed sign-in attempts. Try again in 15 minutes."))
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    ok = user is not None and user.is_active and verify_password(user, password)
    session.add(LoginAttempt(email=email, ip=ip[:64], at=now, succeeded=ok))
    if not ok or user is None:
        log.warning("failed sign-in: email=%s ip=%s", email, ip)
        session.flush()
        raise AuthenticationFailed(_("Wrong email or password."))
    record_audit(session, user, "sign_in", ip=ip)
    session.flush()
    return user


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, actor: User, name: str) -> NewToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid(_("The token needs a name."), {"name": [_("Between 1 and 100 characters.")]})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=actor.id, name=name, prefix=secret[:12], token_hash=_token_hash(secret))
    session.add(token)
    session.flush()
    record_audit(session, actor, "create_token", target=token)
    return NewToken(token, secret)


def list_tokens(session: Session, actor: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, actor: User, token_id: int, now: dt.datetime | None = None) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(_("No such token."))
    if not can_manage_token(actor, token):
        raise NotAllowed(_("You can only revoke your own tokens."))
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        record_audit(session, actor, "revoke_token", target=token)
    session.flush()
    return token


def user_for_token(session: Session, secret: str, now: dt.datetime | None = None) -> User | None:
    """The active user owning an unrevoked token, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret))).one_or_none()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    now = now or utcnow()
    # Written at most hourly, so reads do not turn into writes on every request.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(hours=1):
        token.last_used_at = now
    return token.user


def list_users(session: Session, actor: User) -> list[User]:
    if not can_manage_users(actor):
        raise NotAllowed(_("Only administrators manage accounts."))
    return list(session.scalars(select(User).order_by(User.id)))


def record_audit(
    session: Session,
    actor: User | None,
    action: str,
    *,
    process_id: int | None = None,
    target: Any = None,
    now: dt.datetime | None = None,
    **detail: Any,
) -> AuditEntry:
    """Append to the internal audit log. Never pass a sealed bid's value or bidder in ``detail``."""
    entry = AuditEntry(
        at=now or utcnow(),
        user_id=actor.id if actor is not None else None,
        action=action,
        process_id=process_id,
        object_type=type(target).__tablename__ if target is not None else None,
        object_id=getattr(target, "id", None),
        detail=orjson.dumps(detail, default=str).decode() if detail else None,
    )
    session.add(entry)
    return entry
