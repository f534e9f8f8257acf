"""The contracting-process state machine, in one place: which step is possible from which stage, and why not.

Every write service calls ``require(process, action, now)`` before changing anything and ``advance(...)`` after,
so pages, the API, the CLI and the demo share one set of rules. A refused step raises ``Conflict`` (HTTP 409) with
a message saying why. Data rules that need more than the stage (a payment above the contract value, a bid of
another tender) stay in the services, which raise ``Conflict`` or ``Invalid`` themselves.

    planned ──publish_tender──▶ open ──(period ends)──▶ closed ──open_bids, evaluate──▶ closed
       │                         │ amend, bids                        │ award
       │                         ▼                                    ▼
       │                                                           awarded ──sign_contract──▶ contracted
       │                                                                                       │ pay, amend
       └──────────────── cancel (any stage before completion) ─────▶ cancelled    implementation ──▶ completed
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext

from bos.enums import ProcessStage
from bos.exceptions import Conflict
from bos.i18n import stage_labels
from bos.tenders.models import Process

S = ProcessStage


def format_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class Action(enum.StrEnum):
    UPDATE_PLANNING = "update_planning"
    PUBLISH_PLANNING = "publish_planning"
    CREATE_TENDER = "create_tender"
    UPDATE_TENDER = "update_tender"
    PUBLISH_TENDER = "publish_tender"
    AMEND_TENDER = "amend_tender"
    SUBMIT_BID = "submit_bid"  # also replace and withdraw
    OPEN_BIDS = "open_bids"
    RECORD_OFFLINE_BID = "record_offline_bid"
    EVALUATE_BID = "evaluate_bid"
    AWARD = "award"
    UPDATE_AWARD = "update_award"
    SAVE_CONTRACT = "save_contract"  # a draft, private to the buyer's officers
    SIGN_CONTRACT = "sign_contract"
    AMEND_CONTRACT = "amend_contract"
    ADD_TRANSACTION = "add_transaction"
    ADD_MILESTONE = "add_milestone"
    COMPLETE = "complete"
    CANCEL = "cancel"


# A guard returns why the step is refused, or None.
Guard = Callable[[Process, dt.datetime], str | None]


def _planning_draft(process: Process, _now: dt.datetime) -> str | None:
    if process.planning is not None and process.planning.date_published is not None:
        return gettext("The plan is already published; change it with an update instead.")
    return None


def _planning_published(process: Process, _now: dt.datetime) -> str | None:
    if process.planning is None or process.planning.date_published is None:
        return gettext("Publish the plan (RUP entry) before the tender.")
    return None


def _no_tender(process: Process, _now: dt.datetime) -> str | None:
    if process.tender is not None:
        return gettext("This process already has a tender.")
    return None


def _tender_draft(process: Process, _now: dt.datetime) -> str | None:
    if process.tender is None:
        return gettext("This process has no tender yet.")
    if process.tender.date_published is not None:
        return gettext("The tender is published: it can only change through an amendment with a rationale.")
    return None


def _tender_period_running(process: Process, now: dt.datetime) -> str | None:
    tender = process.tender
    if tender is None or tender.tender_period_start is None or tender.tender_period_end is None:
        return gettext("The tender has no submission period.")
    if now < tender.tender_period_start:
        return gettext("The submission period starts on %(date)s.", date=format_utc(tender.tender_period_start))
    return None


def _bids_sealed(process: Process, _now: dt.datetime) -> str | None:
    if process.tender is not None and process.tender.bids_opened_at is not None:
        return gettext("The bids were already opened.")
    return None


def _bids_opened(process: Process, _now: dt.datetime) -> str | None:
    if process.tender is None or process.tender.bids_opened_at is None:
        return gettext("The bids have not been opened yet.")
    return None


@dataclass(frozen=True)
class Transition:
    sources: frozenset[ProcessStage]
    target: ProcessStage | None  # None: the stage does not change
    guards: tuple[Guard, ...] = ()
    requirement: str = ""  # said when the stage is wrong


def _t(sources: set[ProcessStage], target: ProcessStage | None, requirement: str, *guards: Guard) -> Transition:
    return Transition(frozenset(sources), target, guards, requirement)


ACTIVE = {S.CONTRACTED, S.IMPLEMENTATION}

# The table of allowed transitions: action → (stages it may start from, stage it leads to, extra guards).
# "open" means the submission period is running; once it has ended the process counts as "closed" (see stage_of).
TRANSITIONS: dict[Action, Transition] = {
    Action.UPDATE_PLANNING: _t({S.PLANNED}, None, "The plan can only change before the tender is published."),
    Action.PUBLISH_PLANNING: _t({S.PLANNED}, None, "Only a planned process can publish its plan.", _planning_draft),
    Action.CREATE_TENDER: _t({S.PLANNED}, None, "A tender can only be prepared for a planned process.", _no_tender),
    Action.UPDATE_TENDER: _t({S.PLANNED}, None, "Only a draft tender can be edited.", _tender_draft),
    Action.PUBLISH_TENDER: _t(
        {S.PLANNED}, S.OPEN, "Only a planned process can publish its tender.", _planning_published, _tender_draft
    ),
    Action.AMEND_TENDER: _t({S.OPEN}, None, "A tender can only be amended while its submission period runs."),
    Action.SUBMIT_BID: _t(
        {S.OPEN}, None, "Bids can only be submitted while the submission period runs.", _tender_period_running
    ),
    Action.OPEN_BIDS: _t(
        {S.CLOSED}, S.CLOSED, "Bids can only be opened after the submission period has ended.", _bids_sealed
    ),
    Action.RECORD_OFFLINE_BID: _t(
        {S.CLOSED}, None, "Bids received offline are recorded after opening, before the award.", _bids_opened
    ),
    Action.EVALUATE_BID: _t({S.CLOSED}, None, "Bids are evaluated after opening, before the award.", _bids_opened),
    Action.AWARD: _t(
        {S.CLOSED},
        S.AWARDED,
        "An award needs a tender whose submission period has ended and whose bids were opened.",
        _bids_opened,
    ),
    Action.UPDATE_AWARD: _t({S.AWARDED}, None, "An award can only be corrected before the contract is signed."),
    Action.SAVE_CONTRACT: _t({S.AWARDED}, None, "A contract needs a published award first."),
    Action.SIGN_CONTRACT: _t({S.AWARDED}, S.CONTRACTED, "A contract needs a published award first."),
    Action.AMEND_CONTRACT: _t(ACTIVE, None, "Only a signed contract in force can be amended."),
    Action.ADD_TRANSACTION: _t(ACTIVE, S.IMPLEMENTATION, "Payments need a signed contract in force."),
    Action.ADD_MILESTONE: _t(ACTIVE, None, "Milestones need a signed contract in force."),
    Action.COMPLETE: _t(ACTIVE, S.COMPLETED, "Only a signed contract in force can be completed."),
    Action.CANCEL: _t(
        {S.PLANNED, S.OPEN, S.CLOSED, S.AWARDED, *ACTIVE}, S.CANCELLED, "The process has already ended."
    ),
}

FINAL = {S.COMPLETED, S.CANCELLED}


def stage_of(process: Process, now: dt.datetime) -> ProcessStage:
    """The stage as of ``now``: an open tender whose submission period has ended is closed, job or no job."""
    tender = process.tender
    if (
        process.stage is S.OPEN
        and tender is not None
        and tender.tender_period_end is not None
        and tender.tender_period_end <= now
    ):
        return S.CLOSED
    return process.stage


def refusal(process: Process, action: Action, now: dt.datetime) -> str | None:
    """Why ``action`` is not possible on ``process`` now, or None if it is."""
    transition = TRANSITIONS[action]
    stage = stage_of(process, now)
    if stage not in transition.sources:
        if stage in FINAL:
            return gettext("The process is %(stage)s: it can no longer be changed.", stage=stage_labels()[stage])
        reason = gettext(transition.requirement)
        if stage is S.OPEN and process.tender is not None and process.tender.tender_period_end is not None:
            ends = format_utc(process.tender.tender_period_end)
            return reason + " " + gettext("The submission period ends on %(date)s.", date=ends)
        return reason + " " + gettext("The process is now: %(stage)s.", stage=stage_labels()[stage])
    for guard in transition.guards:
        reason = guard(process, now)
        if reason is not None:
            return reason
    return None


def require(process: Process, action: Action, now: dt.datetime) -> None:
    """Refuse ``action`` with a 409 saying why, unless the table allows it from the process's current stage."""
    reason = refusal(process, action, now)
    if reason is not None:
        raise Conflict(reason)


def advance(process: Process, action: Action, now: dt.datetime) -> None:
    """Move the process to the stage ``action`` leads to (the caller has called ``require``)."""
    target = TRANSITIONS[action].target
    current = stage_of(process, now)
    if target is not None:
        process.stage = target
    elif current is not process.stage:
        process.stage = current  # record a close the scheduled job has not made yet
    process.updated_at = now


def allowed_actions(process: Process, now: dt.datetime) -> list[Action]:
    """The steps possible now, in lifecycle order (what the officer's page offers)."""
    return [action for action in Action if refusal(process, action, now) is None]
