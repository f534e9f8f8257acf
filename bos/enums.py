"""Enumerations shared across domains. Values are OCDS codelist codes where a codelist exists."""

from __future__ import annotations

import enum

from sqlalchemy import Enum as SAEnum


def db_enum(enum_cls: type[enum.Enum], name: str) -> SAEnum:
    """Store an enum by its value (the codelist code), portable across SQLite and PostgreSQL with a CHECK."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class OrganisationKind(enum.StrEnum):
    DINAS = "dinas"  # a department of the kabupaten
    PUSKESMAS = "puskesmas"  # community health centre
    SCHOOL = "school"
    VILLAGE = "village"  # desa, spending Dana Desa
    KABUPATEN = "kabupaten"  # the regional government itself (e.g. the procurement service unit, UKPBJ)
    SUPPLIER = "supplier"


class RegionLevel(enum.StrEnum):
    PROVINCE = "province"
    KABUPATEN = "kabupaten"
    KECAMATAN = "kecamatan"
    DESA = "desa"


class UserRole(enum.StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    MONITOR = "monitor"
    CONTRACTOR = "contractor"


class ProcessStage(enum.StrEnum):
    """Where a contracting process stands, for lists and filters (derived by the workflow, not published)."""

    PLANNED = "planned"
    OPEN = "open"  # tender active, submission period running
    CLOSED = "closed"  # submission period over, not yet awarded
    AWARDED = "awarded"
    CONTRACTED = "contracted"
    IMPLEMENTATION = "implementation"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class BudgetSource(enum.StrEnum):
    APBD = "APBD"  # the kabupaten's own budget
    APBN = "APBN"  # national budget
    DANA_DESA = "DANA_DESA"  # village fund transferred from APBN
    DAK = "DAK"  # special allocation fund
    BLUD = "BLUD"  # self-managed public service unit revenue (e.g. puskesmas)


class TenderStatus(enum.StrEnum):  # OCDS tenderStatus codelist
    PLANNING = "planning"
    PLANNED = "planned"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    UNSUCCESSFUL = "unsuccessful"
    COMPLETE = "complete"
    WITHDRAWN = "withdrawn"


class ProcurementMethod(enum.StrEnum):  # OCDS method codelist
    OPEN = "open"
    SELECTIVE = "selective"
    LIMITED = "limited"
    DIRECT = "direct"


class ProcurementCategory(enum.StrEnum):  # OCDS procurementCategory codelist
    GOODS = "goods"
    WORKS = "works"
    SERVICES = "services"


class BidStatus(enum.StrEnum):  # OCDS bid extension bidStatus codelist
    INVITED = "invited"
    PENDING = "pending"
    VALID = "valid"
    DISQUALIFIED = "disqualified"
    WITHDRAWN = "withdrawn"


class AwardStatus(enum.StrEnum):  # OCDS awardStatus codelist
    PENDING = "pending"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    UNSUCCESSFUL = "unsuccessful"


class ContractStatus(enum.StrEnum):  # OCDS contractStatus codelist
    PENDING = "pending"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"


class MilestoneStatus(enum.StrEnum):  # OCDS milestoneStatus codelist
    SCHEDULED = "scheduled"
    MET = "met"
    NOT_MET = "notMet"
    PARTIALLY_MET = "partiallyMet"
