"""``bos reports``: render a dossier, buyer profile or watchdog report to a file, and verify a copy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from bos.db import new_session
from bos.reports import service
from bos.reports.models import ArchivedReport

LANG = click.option("--lang", type=click.Choice(["id", "en"]), default=None, help="Language (default: BOS_LOCALE).")
OUTPUT = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)


def _save(session: Session, report: ArchivedReport, output: Path | None) -> None:
    pdf = service.report_pdf(session, report)
    if output is not None:
        output.write_bytes(pdf)
    click.echo(
        f"report {report.id}: {report.size} bytes, sha256 {report.sha256}" + (f" -> {output}" if output else "")
    )


@click.group("reports")
def reports() -> None:
    """PDF reports: dossiers, buyer profiles, watchdog reports; every PDF is archived with its SHA-256."""


@reports.command("dossier")
@click.argument("ocid")
@LANG
@OUTPUT
@with_appcontext
def dossier(ocid: str, lang: str | None, output: Path | None) -> None:
    """Render the dossier of the process OCID."""
    with new_session(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        report = service.render_dossier(session, ocid, lang, origin="cli")
        session.commit()
        _save(session, report, output)


@reports.command("profile")
@click.argument("buyer_id", type=int)
@LANG
@OUTPUT
@with_appcontext
def profile(buyer_id: int, lang: str | None, output: Path | None) -> None:
    """Render the profile of the buyer BUYER_ID (organisation id)."""
    with new_session(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        report = service.render_buyer_profile(session, buyer_id, lang, origin="cli")
        session.commit()
        _save(session, report, output)


def _utc_day(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


@reports.command("watchdog")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), required=True, help="Start (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), required=True, help="End, excluded.")
@click.option("--buyer", "buyer_ids", type=int, multiple=True, help="Buyer organisation id (repeatable).")
@click.option("--region", default=None, help="Kemendagri region code, e.g. 35.22.16.")
@click.option("--indicator", "codes", multiple=True, help="Indicator code, e.g. R018 (repeatable).")
@click.option("--category", type=click.Choice(["goods", "works", "services"]), default=None)
@click.option("--min-value", type=Decimal, default=None, help="Minimum process value.")
@click.option("--keyword", default=None)
@LANG
@OUTPUT
@with_appcontext
def watchdog(
    since: dt.datetime,
    until: dt.datetime,
    buyer_ids: tuple[int, ...],
    region: str | None,
    codes: tuple[str, ...],
    category: str | None,
    min_value: Decimal | None,
    keyword: str | None,
    lang: str | None,
    output: Path | None,
) -> None:
    """Render a watchdog report: flags raised and cleared in [SINCE, UNTIL) within the filters."""
    filters = service.WatchdogFilters(
        buyer_ids=buyer_ids,
        region=region,
        indicator_codes=codes,
        category=category,
        min_value=min_value,
        keyword=keyword,
    )
    with new_session(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        report = service.render_watchdog_report(session, filters, _utc_day(since), _utc_day(until), lang, origin="cli")
        session.commit()
        _save(session, report, output)


@reports.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def verify(path: Path) -> None:
    """Check that the PDF at PATH is byte for byte an archived report."""
    with new_session(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        report = service.verify_report(session, path.read_bytes())
        if report is None:
            click.echo("NO MATCH: no archived report has this SHA-256 (altered, incomplete or not from BOS)")
            raise SystemExit(1)
        click.echo(
            f"MATCH: report {report.id} ({report.kind.value} {report.subject}, {report.language}), "
            f"generated {report.generated_at.isoformat()}, data cut-off {report.data_cutoff.isoformat()}"
        )


commands = [reports]
