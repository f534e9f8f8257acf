"""Red-flag queries and the public conversation around a flag: responses, annotations, dismissals.

Who may do what: the buyer's officer responds publicly to a flag on its buyer's processes (or on the buyer
itself); a monitor annotates; an administrator dismisses with a public reason. Every such row is append-only and
nothing is deleted: a dismissed flag stays listed, marked dismissed, with its reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.db import utcnow
from bos.enums import UserRole
from bos.exceptions import Invalid, NotAllowed, NotFound
from bos.pagination import decode_cursor, encode_cursor
from bos.parties.models import Organisation
from bos.red_flags.engine import COMPOSITE, PROCESS_CODES, parse_statuses
from bos.red_flags.indicators import REGISTRY, effective_params
from bos.red_flags.models import (
    FlagStatus,
    RedFlag,
    RedFlagCoverage,
    RedFlagProcess,
    RedFlagResponse,
    ResponseKind,
)

MAX_BODY = 5000


@dataclass(frozen=True)
class FlagFilters:
    indicator: str | None = None
    buyer: str | None = None
    supplier: str | None = None
    ocid: str | None = None
    since: dt.datetime | None = None
    status: str | None = "flagged"  # flagged (default), not_flagged, insufficient_data, not_applicable, dismissed, any
    source: str | None = None


@dataclass
class FlagPage:
    flags: list[RedFlag]
    next_cursor: str | None


def _filtered(filters: FlagFilters) -> Select[tuple[RedFlag]]:
    stmt = select(RedFlag)
    status = filters.status or "flagged"
    if status == "dismissed":
        stmt = stmt.where(RedFlag.status == FlagStatus.FLAGGED, RedFlag.dismissed_at.is_not(None))
    elif status != "any":
        try:
            stmt = stmt.where(RedFlag.status == FlagStatus(status))
        except ValueError as exc:
            raise Invalid(_("Unknown status."), {"status": [_("Unknown status.")]}) from exc
    if filters.indicator:
        stmt = stmt.where(RedFlag.code == filters.indicator)
    if filters.buyer:
        stmt = stmt.where(RedFlag.buyer == filters.buyer)
    if filters.supplier:
        stmt = stmt.where(RedFlag.parties.contains(f" {filters.supplier} "))
    if filters.ocid:
        stmt = stmt.where(RedFlag.ocid == filters.ocid)
    if filters.since:
        # "Since": flags raised (or, for other statuses, evaluated) at or after that moment.
        moment = RedFlag.first_raised_at if status in {"flagged", "dismissed"} else RedFlag.evaluated_at
        stmt = stmt.where(moment >= filters.since)
    if filters.source:
        stmt = stmt.where(RedFlag.source == filters.source)
    return stmt


def list_flags(session: Session, filters: FlagFilters, cursor: str | None, limit: int) -> FlagPage:
    """Flags in id order, in keyset pages (a new flag lands on the last page; none is skipped or repeated)."""
    stmt = _filtered(filters)
    if cursor:
        stmt = stmt.where(RedFlag.id > int(decode_cursor(cursor, 1)[0]))
    rows = list(session.scalars(stmt.order_by(RedFlag.id).limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return FlagPage(rows[:limit], next_cursor)


def iter_flags(session: Session, filters: FlagFilters, batch: int = 2000) -> Iterator[RedFlag]:
    """Every matching flag, read in keyset batches (bulk files stream this without holding them all)."""
    last = 0
    while True:
        rows = list(session.scalars(_filtered(filters).where(RedFlag.id > last).order_by(RedFlag.id).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].id
        session.expunge_all()


def get_flag(session: Session, flag_id: int) -> RedFlag:
    flag = session.get(RedFlag, flag_id)
    if flag is None:
        raise NotFound(_("No such red flag."))
    return flag


def process_flags(session: Session, ocid: str) -> list[RedFlag]:
    """Every outcome of one process (flagged first), for its page."""
    rows = session.scalars(select(RedFlag).where(RedFlag.ocid == ocid).order_by(RedFlag.code)).all()
    order = {FlagStatus.FLAGGED: 0, FlagStatus.INSUFFICIENT_DATA: 1, FlagStatus.NOT_FLAGGED: 2}
    return sorted(rows, key=lambda f: (order.get(f.status, 3), f.code))


def process_summary(session: Session, ocid: str) -> RedFlagProcess | None:
    return session.scalars(select(RedFlagProcess).where(RedFlagProcess.ocid == ocid)).one_or_none()


def not_flagged_codes(summary: RedFlagProcess | None, flags: Iterable[RedFlag]) -> list[str]:
    """Indicators evaluated and not flagged on a process that keep no row (they never flagged it), by code."""
    if summary is None:
        return []
    with_rows = {flag.code for flag in flags}
    statuses = parse_statuses(summary.statuses)
    return sorted(
        code for code, status in statuses.items() if status is FlagStatus.NOT_FLAGGED and code not in with_rows
    )


def responses_for(session: Session, flag_ids: Iterable[int]) -> dict[int, list[RedFlagResponse]]:
    ids = list(flag_ids)
    found: dict[int, list[RedFlagResponse]] = {i: [] for i in ids}
    if ids:
        query = select(RedFlagResponse).where(RedFlagResponse.flag_id.in_(ids)).order_by(RedFlagResponse.id)
        for response in session.scalars(query):
            found[response.flag_id].append(response)
    return found


def evidence_of(flag: RedFlag) -> dict[str, Any]:
    return orjson.loads(flag.evidence)


# ---------------------------------------------------------------------------------------------------------------
# Catalogue, coverage and composites
# ---------------------------------------------------------------------------------------------------------------


def coverage(session: Session) -> dict[str, dict[str, int]]:
    """Per indicator: how many subjects ended in each status (insufficient data is its own outcome).

    Read from ``red_flag_coverage``, which the runs keep by difference: process grain counts processes, one status
    each (outcomes that never flagged are not rows), and a process not counted for an indicator was not
    applicable; organisation grains count their rows."""
    counts: dict[str, dict[str, int]] = {code: {s.value: 0 for s in FlagStatus} for code in REGISTRY}
    c = RedFlagCoverage
    query = select(c.code, c.status, func.sum(c.n)).group_by(c.code, c.status)
    for code, status, n in session.execute(query):
        counts.setdefault(code, {s.value: 0 for s in FlagStatus})[status] += int(n or 0)
    processes = session.scalar(select(func.count()).select_from(RedFlagProcess)) or 0
    for code in PROCESS_CODES:  # no indicator has both grains
        listed = sum(n for status, n in counts[code].items() if status != FlagStatus.NOT_APPLICABLE.value)
        counts[code][FlagStatus.NOT_APPLICABLE.value] = processes - listed
    return counts


def catalogue(session: Session) -> list[dict[str, Any]]:
    """Every indicator with its parameters, explanations and coverage."""
    counts = coverage(session)
    entries = []
    for code, indicator in REGISTRY.items():
        statuses = counts.get(code, {})
        applicable = sum(v for k, v in statuses.items() if k != FlagStatus.NOT_APPLICABLE.value)
        evaluated = statuses.get("flagged", 0) + statuses.get("not_flagged", 0)
        entries.append(
            {
                "code": code,
                "name": {"id": indicator.name_id, "en": indicator.name_en},
                "explanation": {"id": indicator.explanation_id, "en": indicator.explanation_en},
                "phase": indicator.phase,
                "grains": list(indicator.grains),
                "version": indicator.version,
                "cardinal": indicator.cardinal,
                "parameters": {k: v for k, v in effective_params(code).items() if k != "as_of"},
                "composite_weight": COMPOSITE["weights"].get(code),  # type: ignore[union-attr]
                "coverage": {
                    "statuses": statuses,
                    "applicable": applicable,
                    "evaluated": evaluated,
                    "share_evaluated": evaluated / applicable if applicable else None,
                },
            }
        )
    return entries


def buyer_composite(session: Session, buyer: str) -> dict[str, Any]:
    """A buyer's composite, normalised by volume (RED_FLAGS.md section 4.4): never a bare number."""
    p = RedFlagProcess
    row = session.execute(
        select(
            func.count(),
            func.count(p.score),
            func.avg(p.score),
            func.sum(func.coalesce(p.flagged, 0)),
            func.count().filter(p.flagged > 0),
        ).where(p.buyer == buyer)
    ).one()
    processes, scored, mean, flags, flagged_processes = row
    org_flags = session.scalar(
        select(func.count())
        .select_from(RedFlag)
        .where(RedFlag.buyer == buyer, RedFlag.grain != "process", RedFlag.status == FlagStatus.FLAGGED)
    )
    return {
        "buyer": buyer,
        "processes": processes,
        "processes_scored": scored,
        "mean_score": float(mean) if mean is not None and scored else None,
        "process_flags": int(flags or 0),
        "share_of_processes_flagged": (flagged_processes / processes) if processes else None,
        "organisation_flags": int(org_flags or 0),
        "min_coverage": COMPOSITE["min_coverage"],
        "note": "A risk indicator that needs review, not proof of wrongdoing.",
    }


# ---------------------------------------------------------------------------------------------------------------
# Responses, annotations, dismissals
# ---------------------------------------------------------------------------------------------------------------


def _buyer_identifier(session: Session, user: User) -> str | None:
    """The OCDS party id of the officer's buyer, as it appears in the published releases."""
    if user.organisation_id is None:
        return None
    organisation = session.get(Organisation, user.organisation_id)
    if organisation is None:
        return None
    from bos.ocds.release import party_id  # noqa: PLC0415

    return party_id(organisation)


def can_respond(session: Session, user: User | None, flag: RedFlag) -> bool:
    if user is None or not user.is_active or user.role is not UserRole.OFFICER or flag.source != "bos":
        return False
    return flag.buyer is not None and flag.buyer == _buyer_identifier(session, user)


def can_annotate(user: User | None) -> bool:
    return user is not None and user.is_active and user.role is UserRole.MONITOR


def can_dismiss(user: User | None) -> bool:
    return user is not None and user.is_active and user.role is UserRole.ADMIN


def _body(text: str | None) -> str:
    body = (text or "").strip()
    if not body:
        raise Invalid(_("Write a text."), {"body": [_("Required.")]})
    if len(body) > MAX_BODY:
        raise Invalid(_("Too long."), {"body": [_("At most %(count)s characters.", count=MAX_BODY)]})
    return body


def _add(session: Session, flag: RedFlag, user: User, kind: ResponseKind, body: str) -> RedFlagResponse:
    response = RedFlagResponse(flag_id=flag.id, kind=kind, user_id=user.id, body=body, created_at=utcnow())
    session.add(response)
    session.flush()
    return response


def respond_to_flag(session: Session, actor: User | None, flag_id: int, text: str) -> RedFlagResponse:
    """The buyer's officer answers a flag publicly."""
    flag = get_flag(session, flag_id)
    if not can_respond(session, actor, flag):
        raise NotAllowed(_("Only an officer of the buyer concerned can respond to this flag."))
    return _add(session, flag, actor, ResponseKind.RESPONSE, _body(text))  # type: ignore[arg-type]


def annotate_flag(session: Session, actor: User | None, flag_id: int, text: str) -> RedFlagResponse:
    """A monitor adds a public annotation."""
    flag = get_flag(session, flag_id)
    if not can_annotate(actor):
        raise NotAllowed(_("Only monitors can annotate flags."))
    return _add(session, flag, actor, ResponseKind.ANNOTATION, _body(text))  # type: ignore[arg-type]


def dismiss_flag(session: Session, actor: User | None, flag_id: int, reason: str) -> RedFlagResponse:
    """An administrator dismisses a flag with a public reason; the flag and its history stay."""
    flag = get_flag(session, flag_id)
    if not can_dismiss(actor):
        raise NotAllowed(_("Only administrators can dismiss flags."))
    if flag.status is not FlagStatus.FLAGGED:
        raise Invalid(_("Only a raised flag can be dismissed."), {"flag": [_("Not flagged.")]})
    response = _add(session, flag, actor, ResponseKind.DISMISSAL, _body(reason))  # type: ignore[arg-type]
    flag.dismissed_at = response.created_at
    session.flush()
    return response
