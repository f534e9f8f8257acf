from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bos.db import Base, utcnow
from bos.enums import UserRole, db_enum
from bos.parties.models import Organisation


class User(UserMixin, Base):
    """A person who signs in: admin, officer (of one buyer), monitor (CSO) or contractor (of one supplier)."""

    __tablename__ = "users"
    __table_args__ = (
        # Officers act for exactly one buyer and contractors for one supplier; admins and monitors for none.
        CheckConstraint(
            "(role IN ('officer', 'contractor') AND organisation_id IS NOT NULL)"
            " OR (role IN ('admin', 'monitor') AND organisation_id IS NULL)",
            name="organisation_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(db_enum(UserRole, "user_role"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)  # type: ignore[assignment] - overrides UserMixin's
    # None until a self-registered or invited monitor follows the link mailed to them: such accounts cannot sign in.
    # ``create_user`` (CLI, demo) sets it: an administrator made the account.
    email_verified_at: Mapped[dt.datetime | None]
    affiliation: Mapped[str | None] = mapped_column(String(200))  # a monitor's own words: CSO, newsroom ...
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


class ApiToken(Base):
    """A personal token for the JSON API. Only its SHA-256 is stored: the token itself is shown once.

    Tokens are 256-bit random strings, so a fast hash is enough (a slow hash protects guessable passwords).
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, so the owner can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One sign-in attempt: the rate limit counts recent failures per email and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool] = mapped_column(default=False)
    # "sign_in", or "register": self-registrations are limited per address and email too (they send mail).
    kind: Mapped[str] = mapped_column(String(16), default="sign_in", server_default="sign_in")


class AuditEntry(Base):
    """Internal audit log: who did what, when. Never published (the OCDS releases are the public history).

    ``detail`` never holds a sealed bid's value: the log is readable by administrators, who may not read bids.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_process_at", "process_id", "at"),
        Index("ix_audit_log_at_id", "at", "id"),  # the audit-log page: newest first, keyset on (at, id)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id", ondelete="SET NULL"))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(Text)  # JSON


class AccountMessageStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # every attempt failed; the person can ask for a new link


class AccountTokenPurpose(enum.StrEnum):
    VERIFY = "verify"  # a self-registered monitor confirms their email address
    INVITE = "invite"  # an invited monitor sets a password (which also confirms the address)


class AccountToken(Base):
    """A single-use link sent by mail. Only the SHA-256 of the random secret is stored, like ``ApiToken``."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[AccountTokenPurpose] = mapped_column(db_enum(AccountTokenPurpose, "account_token_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class AccountMessage(Base):
    """The outbox of account mail (verification, invitation), sent by the ``deliver_account_messages`` job.

    Written in the same transaction as the account, so a mail server that is down loses nothing: the row waits and
    is retried with the notifications outbox's backoff. The body holds a sign-in link, so it is blanked once sent.
    """

    __tablename__ = "account_messages"
    __table_args__ = (Index("ix_account_messages_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[AccountMessageStatus] = mapped_column(
        db_enum(AccountMessageStatus, "account_message_status"), default=AccountMessageStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
