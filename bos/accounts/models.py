from __future__ import annotations

import datetime as dt

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


class AuditEntry(Base):
    """Internal audit log: who did what, when. Never published (the OCDS releases are the public history).

    ``detail`` never holds a sealed bid's value: the log is readable by administrators, who may not read bids.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_process_at", "process_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id", ondelete="SET NULL"))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(Text)  # JSON
