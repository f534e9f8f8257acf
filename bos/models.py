"""Imports every domain's models so that Alembic and the tests see one complete metadata."""

from bos.accounts.models import AccountMessage, AccountToken, ApiToken, AuditEntry, LoginAttempt, User  # noqa: F401
from bos.contracts.models import Contract, ContractAmendment, Milestone, Transaction
from bos.db import Base
from bos.notifications.models import Alert, Delivery, Digest, EventCursor, Subscription
from bos.ocds.models import Record, Release
from bos.parties.models import Organisation, Region
from bos.red_flags.models import (
    RedFlag,
    RedFlagBaseline,
    RedFlagContribution,
    RedFlagCoverage,
    RedFlagEvent,
    RedFlagMeasure,
    RedFlagOrgTotal,
    RedFlagProcess,
    RedFlagResponse,
)
from bos.reports.models import ArchivedReport
from bos.scheduler import JobLease, JobRun
from bos.tenders.models import Award, Bid, Document, Item, Planning, Process, Tender, TenderAmendment, award_suppliers

__all__ = [
    "Alert",
    "ApiToken",
    "ArchivedReport",
    "AuditEntry",
    "Award",
    "Base",
    "Bid",
    "Contract",
    "ContractAmendment",
    "Delivery",
    "Digest",
    "Document",
    "EventCursor",
    "Item",
    "JobLease",
    "JobRun",
    "LoginAttempt",
    "Milestone",
    "Organisation",
    "Planning",
    "Process",
    "Record",
    "RedFlag",
    "RedFlagBaseline",
    "RedFlagContribution",
    "RedFlagCoverage",
    "RedFlagEvent",
    "RedFlagMeasure",
    "RedFlagOrgTotal",
    "RedFlagProcess",
    "RedFlagResponse",
    "Region",
    "Release",
    "Subscription",
    "Tender",
    "TenderAmendment",
    "Transaction",
    "User",
    "award_suppliers",
]
