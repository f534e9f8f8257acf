"""Imports every domain's models so that Alembic and the tests see one complete metadata."""

from bos.accounts.models import User
from bos.contracts.models import Contract, ContractAmendment, Milestone, Transaction
from bos.db import Base
from bos.ocds.models import Record, Release
from bos.parties.models import Organisation, Region
from bos.scheduler import JobLease, JobRun
from bos.tenders.models import Award, Bid, Document, Item, Planning, Process, Tender, TenderAmendment, award_suppliers

__all__ = [
    "Award",
    "Base",
    "Bid",
    "Contract",
    "ContractAmendment",
    "Document",
    "Item",
    "JobLease",
    "JobRun",
    "Milestone",
    "Organisation",
    "Planning",
    "Process",
    "Record",
    "Region",
    "Release",
    "Tender",
    "TenderAmendment",
    "Transaction",
    "User",
    "award_suppliers",
]
