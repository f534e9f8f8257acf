from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bos.db import Base, utcnow
from bos.enums import UserRole, db_enum
from bos.parties.models import Organisation


class User(Base):
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
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
