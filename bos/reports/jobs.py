"""Scheduled reports. The weekly watchdog digest is the alerts' job (it calls
``bos.reports.service.render_watchdog_report``); this domain keeps the buyer profiles fresh in the archive."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.enums import OrganisationKind
from bos.ocds.models import Record
from bos.ocds.release import party_id
from bos.parties.models import Organisation
from bos.reports import service
from bos.scheduler import job


@job("render_weekly_buyer_profiles", "cron", lease_seconds=3600, day_of_week="mon", hour=0, minute=30)
def render_weekly_buyer_profiles(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Archive this week's profile of every buyer with published processes (Monday 07:30 WIB).

    Idempotent: a profile whose data did not change since its last rendering is not rendered again.
    """
    published = set(session.scalars(select(Record.buyer_identifier).where(Record.source == "bos").distinct()))
    buyers = session.scalars(
        select(Organisation).where(Organisation.kind != OrganisationKind.SUPPLIER).order_by(Organisation.id)
    )
    rendered = reused = 0
    for buyer in buyers:
        if party_id(buyer) not in published:
            continue
        report = service.render_buyer_profile(session, buyer.id, current_app.config["LOCALE"], now=now, origin="job")
        if report.generated_at == now:
            rendered += 1
        else:
            reused += 1
    return {"rendered": rendered, "unchanged": reused}
