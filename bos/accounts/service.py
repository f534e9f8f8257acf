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
from zoneinfo import ZoneInfo

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from bos.accounts import mail
from bos.accounts.models import AccountToken, AccountTokenPurpose, ApiToken, AuditEntry, LoginAttempt, User
from bos.db import utcnow
from bos.enums import OrganisationKind, UserRole
from bos.exceptions import BadParameter, BosError, Conflict, Invalid, NotAllowed, NotFound
from bos.pagination import decode_cursor, encode_cursor
from bos.parties.models import Organisation
from bos.permissions import can_manage_token, can_manage_users
from bos.tenders.models import Process

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


def _account_errors(email: str, name: str, role: UserRole, password: str, organisation: Organisation | None) -> dict:
    errors: dict[str, list[str]] = {}
    _check_person(email, name, errors)
    if len(password) < 10:
        errors["password"] = [_("Use at least 10 characters.")]
    if role is UserRole.OFFICER and (organisation is None or not organisation.is_buyer):
        errors["organisation"] = [_("An officer belongs to a buyer.")]
    if role is UserRole.CONTRACTOR and (organisation is None or organisation.kind is not OrganisationKind.SUPPLIER):
        errors["organisation"] = [_("A contractor belongs to a supplier.")]
    if role in (UserRole.ADMIN, UserRole.MONITOR) and organisation is not None:
        errors["organisation"] = [_("Administrators and monitors belong to no organisation.")]
    return errors


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: UserRole,
    password: str,
    organisation: Organisation | None = None,
    actor: User | None = None,
) -> User:
    """Create an account (``actor`` None: the CLI or the demo). Officers need a buyer, contractors a supplier."""
    email = normalise_email(email)
    errors = _account_errors(email, name, role, password, organisation)
    if errors:
        raise Invalid(_("The account is not valid."), errors)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        message = _("An account with this email already exists.")
        raise Conflict(message, {"email": [message]})
    user = User(
        email=email,
        name=name,
        role=role,
        organisation_id=organisation.id if organisation else None,
        password_hash=hash_password(password),
        email_verified_at=utcnow(),
    )
    session.add(user)
    session.flush()
    record_audit(session, actor, "create_user", target=user, role=role.value)
    return user


def create_account(
    session: Session,
    actor: User | None,
    *,
    email: str,
    role: UserRole,
    password: str,
    name: str = "",
    organisation: str | None = None,
) -> User:
    """An administrator (web, API) or the CLI (no actor) creates an account; the organisation is given by its id
    or identifier (a buyer's Kemendagri code for an officer, a supplier's NPWP for a contractor)."""
    if actor is not None and not can_manage_users(actor):
        raise NotAllowed(_("Only administrators manage accounts."))
    email, name, identifier = (
        normalise_email(email),
        name.strip() or normalise_email(email),
        (organisation or "").strip(),
    )
    unknown: dict[str, list[str]] = {}
    org = None
    if identifier:
        try:
            org = find_organisation(session, identifier)
        except NotFound as exc:
            unknown["organisation"] = [exc.message]
    # An unknown identifier says so, rather than "an officer belongs to a buyer"; every other field is checked too.
    errors = _account_errors(email, name, role, password, org) | unknown
    if errors:
        raise Invalid(_("The account is not valid."), errors)
    return create_user(session, email=email, name=name, role=role, password=password, organisation=org, actor=actor)


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
    return user if user is not None and user.is_active and user.email_verified_at is not None else None


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
    verified = ok and user is not None and user.email_verified_at is not None
    session.add(LoginAttempt(email=email, ip=ip[:64], at=now, succeeded=verified))
    if not ok or user is None:
        log.warning("failed sign-in: email=%s ip=%s", email, ip)
        session.flush()
        raise AuthenticationFailed(_("Wrong email or password."))
    if not verified:
        # Said only to someone who knows the password, so it does not reveal which addresses registered.
        session.flush()
        raise NotVerified(_("Confirm your email address first: follow the link in the mail we sent you."))
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


#: How stale ``ApiToken.last_used_at`` may get: written at most this often, so reads rarely turn into writes.
TOKEN_USE_RESOLUTION = dt.timedelta(hours=1)


def token_for_secret(session: Session, secret: str) -> ApiToken | None:
    """The unrevoked token of an active user with this secret, or None. Reads only (see ``note_token_use``)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret))).one_or_none()
    if token is None or token.revoked_at is not None or get_user(session, token.user_id) is None:
        return None
    return token


def token_use_due(token: ApiToken, now: dt.datetime) -> bool:
    return token.last_used_at is None or now - token.last_used_at > TOKEN_USE_RESOLUTION


def note_token_use(session: Session, token_id: int, now: dt.datetime) -> bool:
    """Record that a token was used (at most once per ``TOKEN_USE_RESOLUTION``); True when a row was written.

    A conditional UPDATE rather than an attribute set: two requests racing to note the same hour write once."""
    result = session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - TOKEN_USE_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


# ------------------------------------------------------------------------------------------------ administration


def require_admin(actor: User | None) -> User:
    if actor is None or not can_manage_users(actor):
        raise NotAllowed(_("Only administrators manage accounts."))
    return actor


@dataclass(frozen=True)
class UserFilters:
    role: UserRole | None = None
    organisation: str | None = None  # an id or identifier, as for ``create_account``
    active: bool | None = None


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_cursor: str | None


def list_users(
    session: Session,
    actor: User | None,
    filters: UserFilters | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> UserPage:
    """Accounts in the order they were made, in keyset pages (administrators only)."""
    require_admin(actor)
    filters = filters or UserFilters()
    query = select(User).options(selectinload(User.organisation)).order_by(User.id).limit(limit + 1)
    if filters.role is not None:
        query = query.where(User.role == filters.role)
    if filters.organisation:
        try:
            query = query.where(User.organisation_id == find_organisation(session, filters.organisation.strip()).id)
        except NotFound as exc:
            raise Invalid(_("Invalid filter."), {"organisation": [exc.message]}) from exc
    if filters.active is not None:
        query = query.where(User.is_active.is_(filters.active))
    if cursor:
        query = query.where(User.id > decode_cursor(cursor, 1)[0])
    rows = list(session.scalars(query))
    return UserPage(rows[:limit], encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None)


def _managed_user(session: Session, actor: User | None, user_id: int) -> tuple[User, User]:
    admin = require_admin(actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such account."))
    return admin, user


def set_user_active(
    session: Session, actor: User | None, user_id: int, active: bool, now: dt.datetime | None = None
) -> User:
    """Deactivate or reactivate an account (never deleted): a deactivated user cannot sign in, their open sessions
    end and their API tokens stop working (tokens are kept, so reactivation restores them; revoke them apart)."""
    admin, user = _managed_user(session, actor, user_id)
    if not active and user.id == admin.id:
        # Also keeps one active administrator: the one asking.
        raise Conflict(_("You cannot deactivate your own account."))
    if user.is_active != active:
        user.is_active = active
        record_audit(session, admin, "reactivate_user" if active else "deactivate_user", target=user, now=now)
    session.flush()
    return user


def revoke_user_tokens(session: Session, actor: User | None, user_id: int, now: dt.datetime | None = None) -> int:
    """Revoke every API token of an account (an administrator's answer to a leaked token); returns how many."""
    admin, user = _managed_user(session, actor, user_id)
    now = now or utcnow()
    tokens = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))))
    for token in tokens:
        token.revoked_at = now
    record_audit(session, admin, "revoke_user_tokens", target=user, now=now, count=len(tokens))
    session.flush()
    return len(tokens)


@dataclass(frozen=True)
class AuditFilters:
    user: str | None = None  # an account's email or id
    action: str | None = None
    date_from: dt.date | None = None  # local days (``TIMEZONE``), both included
    date_to: dt.date | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    user_id: int | None
    user_email: str | None
    action: str
    process_id: int | None
    ocid: str | None
    object_type: str | None
    object_id: int | None
    detail: Any


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditRow]
    next_cursor: str | None


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZoneInfo(current_app.config["TIMEZONE"]))


def list_audit(
    session: Session,
    actor: User | None,
    filters: AuditFilters | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditPage:
    """The internal audit log, newest first, in keyset pages on ``(at, id)`` (administrators only)."""
    require_admin(actor)
    filters = filters or AuditFilters()
    query = (
        select(AuditEntry, User.email, Process.ocid)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .outerjoin(Process, Process.id == AuditEntry.process_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit + 1)
    )
    if filters.user:
        ref = filters.user.strip()
        user_id = session.scalar(
            select(User.id).where(User.id == int(ref) if ref.isdigit() else User.email == normalise_email(ref))
        )
        if user_id is None:
            raise Invalid(_("Invalid filter."), {"user": [_("No such account.")]})
        query = query.where(AuditEntry.user_id == user_id)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action.strip())
    if filters.date_from:
        query = query.where(AuditEntry.at >= _local_midnight(filters.date_from))
    if filters.date_to:
        query = query.where(AuditEntry.at < _local_midnight(filters.date_to + dt.timedelta(days=1)))
    if cursor:
        at_text, last_id = decode_cursor(cursor, 2)
        try:
            at = dt.datetime.fromisoformat(at_text)
        except (TypeError, ValueError) as exc:
            raise BadParameter("Malformed cursor.", {"cursor": ["Not a cursor issued by this server."]}) from exc
        query = query.where((AuditEntry.at < at) | ((AuditEntry.at == at) & (AuditEntry.id < last_id)))
    rows = [
        AuditRow(
            id=entry.id,
            at=entry.at,
            user_id=entry.user_id,
            user_email=email,
            action=entry.action,
            process_id=entry.process_id,
            ocid=ocid,
            object_type=entry.object_type,
            object_id=entry.object_id,
            detail=orjson.loads(entry.detail) if entry.detail else None,
        )
        for entry, email, ocid in session.execute(query)
    ]
    last = rows[limit - 1] if len(rows) > limit else None
    return AuditPage(rows[:limit], encode_cursor([last.at.isoformat(), last.id]) if last else None)


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


# ------------------------------------------------------------------------------------------ registration, invitations

VERIFY_TTL = dt.timedelta(hours=48)
INVITE_TTL = dt.timedelta(days=7)
# Self-registration sends mail to any address typed in: limited per address and per email, like sign-in.
REGISTER_WINDOW = dt.timedelta(hours=1)
MAX_REGISTRATIONS_PER_EMAIL = 3
MAX_REGISTRATIONS_PER_IP = 10


class NotVerified(BosError):
    status = 403
    code = "not_verified"


class LinkRefused(BosError):
    """An account link that is unknown, expired or already used. One message for all: it reveals nothing."""

    status = 410
    code = "link_refused"


def _base_url() -> str:
    return str(current_app.config.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")).rstrip("/")


def _new_link(session: Session, user: User, purpose: AccountTokenPurpose, now: dt.datetime) -> str:
    secret = secrets.token_urlsafe(32)
    ttl = VERIFY_TTL if purpose is AccountTokenPurpose.VERIFY else INVITE_TTL
    session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=_token_hash(secret), created_at=now,
                             expires_at=now + ttl))  # fmt: skip
    path = "verify" if purpose is AccountTokenPurpose.VERIFY else "invite"
    return f"{_base_url()}/accounts/{path}/{secret}"


def _check_password(password: str, repeat: str, errors: dict[str, list[str]]) -> None:
    if len(password) < 10:
        errors["password"] = [_("Use at least 10 characters.")]
    elif password != repeat:
        errors["password_repeat"] = [_("The two passwords differ.")]


def _check_person(email: str, name: str, errors: dict[str, list[str]]) -> None:
    if "@" not in email or len(email) > 254 or " " in email:
        errors["email"] = [_("Not an email address.")]
    if not name or len(name) > 200:
        errors["name"] = [_("Between 1 and 200 characters.")]


def _registrations(session: Session, column: Any, value: str, since: dt.datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(column == value, LoginAttempt.at >= since, LoginAttempt.kind == "register")
        )
        or 0
    )


def register_monitor(
    session: Session,
    *,
    name: str,
    email: str,
    password: str,
    password_repeat: str,
    ip: str,
    affiliation: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Self-registration: an unverified monitor account and a verification mail in the outbox.

    An email that already has an account gets a mail saying so (or, if still unverified, a fresh link) and the
    same answer on the page, so the form cannot be used to find out who has an account.
    """
    now = now or utcnow()
    email, name, affiliation = normalise_email(email), name.strip(), affiliation.strip()
    ip = ip[:64]
    since = now - REGISTER_WINDOW
    if (
        _registrations(session, LoginAttempt.email, email[:254], since) >= MAX_REGISTRATIONS_PER_EMAIL
        or _registrations(session, LoginAttempt.ip, ip, since) >= MAX_REGISTRATIONS_PER_IP
    ):
        log.warning("registration refused by rate limit: email=%s ip=%s", email, ip)
        raise TooManyAttempts(_("Too many registrations from here. Try again in an hour."))
    errors: dict[str, list[str]] = {}
    _check_person(email, name, errors)
    if len(affiliation) > 200:
        errors["affiliation"] = [_("At most 200 characters.")]
    _check_password(password, password_repeat, errors)
    if errors:
        raise Invalid(_("The registration is not valid."), errors)
    session.add(LoginAttempt(email=email, ip=ip, at=now, succeeded=True, kind="register"))
    existing = session.scalars(select(User).where(User.email == email)).one_or_none()
    if existing is not None and existing.email_verified_at is None and existing.password_hash:
        link = _new_link(session, existing, AccountTokenPurpose.VERIFY, now)
        _queue_verification(session, existing, link, now)
    elif existing is not None:
        mail.queue_message(
            session, recipient=email, template="accounts/email/exists.txt", now=now, user_id=existing.id,
            subject=_("[BOS] You already have an account"), link=f"{_base_url()}/account/login",
        )  # fmt: skip
    else:
        user = User(email=email, name=name, role=UserRole.MONITOR, affiliation=affiliation or None,
                    password_hash=hash_password(password), email_verified_at=None, created_at=now)  # fmt: skip
        session.add(user)
        session.flush()
        record_audit(session, None, "register", target=user, now=now, ip=ip)
        _queue_verification(session, user, _new_link(session, user, AccountTokenPurpose.VERIFY, now), now)
    session.flush()


def _queue_verification(session: Session, user: User, link: str, now: dt.datetime) -> None:
    mail.queue_message(
        session, recipient=user.email, template="accounts/email/verify.txt", now=now, user_id=user.id,
        subject=_("[BOS] Confirm your email address"), link=link, name=user.name,
        hours=int(VERIFY_TTL.total_seconds() // 3600),
    )  # fmt: skip


def invite_monitor(
    session: Session, actor: User | None, *, email: str, name: str = "", now: dt.datetime | None = None
) -> User:
    """An administrator (or the CLI: no actor) invites a monitor: an account without a password, and a mail."""
    if actor is not None and not can_manage_users(actor):
        raise NotAllowed(_("Only administrators manage accounts."))
    now = now or utcnow()
    email = normalise_email(email)
    name = name.strip() or email
    errors: dict[str, list[str]] = {}
    _check_person(email, name[:200], errors)
    if errors:
        raise Invalid(_("The invitation is not valid."), errors)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(_("An account with this email already exists."))
    user = User(email=email, name=name[:200], role=UserRole.MONITOR, email_verified_at=None, created_at=now)
    session.add(user)
    session.flush()
    record_audit(session, actor, "invite_user", target=user, now=now, role=UserRole.MONITOR.value)
    mail.queue_message(
        session, recipient=email, template="accounts/email/invite.txt", now=now, user_id=user.id,
        subject=_("[BOS] You are invited to BOS"), link=_new_link(session, user, AccountTokenPurpose.INVITE, now),
        name=user.name, days=INVITE_TTL.days,
    )  # fmt: skip
    session.flush()
    return user


def _usable_token(session: Session, secret: str, purpose: AccountTokenPurpose, now: dt.datetime) -> AccountToken:
    token = session.scalars(
        select(AccountToken).where(AccountToken.token_hash == _token_hash(secret), AccountToken.purpose == purpose)
    ).one_or_none()
    if token is None or token.used_at is not None or token.expires_at <= now or not token.user.is_active:
        raise LinkRefused(_("This link is not valid: it has expired or was already used."))
    return token


def _use(session: Session, token: AccountToken, now: dt.datetime) -> User:
    # Every open link of the same kind dies with this one: an older mail cannot be replayed.
    for other in session.scalars(
        select(AccountToken).where(
            AccountToken.user_id == token.user_id,
            AccountToken.purpose == token.purpose,
            AccountToken.used_at.is_(None),
        )
    ):
        other.used_at = now
    user = token.user
    if user.email_verified_at is None:
        user.email_verified_at = now
    return user


def verify_email(session: Session, secret: str, now: dt.datetime | None = None) -> User:
    """Follow a verification link: the account becomes usable (the caller signs the person in)."""
    now = now or utcnow()
    token = _usable_token(session, secret, AccountTokenPurpose.VERIFY, now)
    user = _use(session, token, now)
    record_audit(session, user, "verify_email", target=user, now=now)
    session.flush()
    return user


def invitation(session: Session, secret: str, now: dt.datetime | None = None) -> User:
    """The invited user behind a usable invitation link (to greet them on the set-password page)."""
    return _usable_token(session, secret, AccountTokenPurpose.INVITE, now or utcnow()).user


def accept_invitation(
    session: Session, secret: str, password: str, password_repeat: str, now: dt.datetime | None = None
) -> User:
    """Set the invited monitor's password; following the mailed link also verifies the address."""
    now = now or utcnow()
    token = _usable_token(session, secret, AccountTokenPurpose.INVITE, now)
    errors: dict[str, list[str]] = {}
    _check_password(password, password_repeat, errors)
    if errors:
        raise Invalid(_("The password is not valid."), errors)
    user = _use(session, token, now)
    user.password_hash = hash_password(password)
    record_audit(session, user, "accept_invitation", target=user, now=now)
    session.flush()
    return user
