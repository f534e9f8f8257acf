from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bos.db import Base, utcnow
from bos.enums import OrganisationKind, RegionLevel, db_enum


class Region(Base):
    """An administrative area: province, kabupaten, kecamatan or desa, with its Kemendagri code."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # Kemendagri code, e.g. 35.22.01.2001
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[RegionLevel] = mapped_column(db_enum(RegionLevel, "region_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id])


class Organisation(Base):
    """A party to contracting processes: a buyer (dinas, puskesmas, school, village) or a supplier.

    Its OCDS roles (buyer, procuringEntity, tenderer, supplier, payer, payee) depend on the process and are derived
    from what it did there, so they are not stored here.
    """

    __tablename__ = "organisations"
    __table_args__ = (
        UniqueConstraint("identifier_scheme", "identifier_id"),
        Index("ix_organisations_kind_name", "kind", "name"),
        CheckConstraint("length(identifier_id) > 0", name="identifier_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(db_enum(OrganisationKind, "organisation_kind"))
    name: Mapped[str] = mapped_column(String(300))
    # org-id.guide scheme: ID-NPWP for the tax number of companies, ID-KEMENDAGRI style codes for public bodies.
    identifier_scheme: Mapped[str] = mapped_column(String(32))
    identifier_id: Mapped[str] = mapped_column(String(64))
    legal_name: Mapped[str | None] = mapped_column(String(300))
    street_address: Mapped[str | None] = mapped_column(String(300))
    locality: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    country_name: Mapped[str] = mapped_column(String(100), default="Indonesia")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_telephone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    region: Mapped[Region | None] = relationship()

    @property
    def is_buyer(self) -> bool:
        return self.kind is not OrganisationKind.SUPPLIER
