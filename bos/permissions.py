"""Who may do what: ``can_<verb>_<thing>(user, obj)`` predicates, called by the services (never by templates alone).

Officers act only for their own buyer, contractors only for their own supplier; monitors and the public read what
is published. Administrators manage accounts, not procurement decisions: a decision is always a buyer officer's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bos.enums import UserRole

if TYPE_CHECKING:
    from bos.accounts.models import ApiToken, User
    from bos.tenders.models import Bid, Process


def is_officer_of(user: User | None, buyer_id: int) -> bool:
    return (
        user is not None
        and user.is_active
        and user.role is UserRole.OFFICER
        and user.organisation_id is not None
        and user.organisation_id == buyer_id
    )


def can_create_process(user: User | None, buyer_id: int) -> bool:
    return is_officer_of(user, buyer_id)


def can_manage_process(user: User | None, process: Process) -> bool:
    """Plan, tender, amend, open and evaluate bids, award, sign, pay, cancel: the buyer's officers only."""
    return is_officer_of(user, process.buyer_id)


def can_view_drafts(user: User | None, process: Process) -> bool:
    return is_officer_of(user, process.buyer_id)


def can_bid(user: User | None) -> bool:
    return (
        user is not None and user.is_active and user.role is UserRole.CONTRACTOR and user.organisation_id is not None
    )


def can_manage_bid(user: User | None, bid: Bid) -> bool:
    """Replace or withdraw a bid, or read it while sealed: only the contractor who submitted it."""
    return can_bid(user) and user is not None and user.organisation_id == bid.supplier_id


def can_manage_users(user: User | None) -> bool:
    return user is not None and user.is_active and user.role is UserRole.ADMIN


def can_manage_token(user: User | None, token: ApiToken) -> bool:
    return user is not None and user.is_active and token.user_id == user.id
