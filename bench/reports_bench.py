"""PDF report bench: process dossier render time, buyer profile, and a weekly watchdog report over >= 1,000 flags.

Usage:

    .venv/bin/python bench/reports_bench.py [--processes 1600] [--dossiers 5] [--database-url URL]

Without ``--database-url`` it seeds a fresh SQLite file with PROCESSES demo processes and runs the red-flag engine
over them (1,600 processes raise about 1,000 flags), so the watchdog report covers real engine flags. Every figure
is wall time on this machine; renders bypass the archive's reuse (each dossier is a different process). Prints
figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pypdf import PdfReader

EVALUATED_AT = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def _pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _timed(run):
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=1600)
    parser.add_argument("--dossiers", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    import os  # noqa: PLC0415

    shared = Path(__file__).resolve().parents[2] / "shared" / "ocds"
    os.environ.setdefault("BOS_OCDS_SCHEMA_DIR", str(shared / "schema"))
    os.environ.setdefault("BOS_OCDS_EXTENSIONS_DIR", str(shared / "extensions"))

    from sqlalchemy import func, select  # noqa: PLC0415

    from bos import create_app, migrate  # noqa: PLC0415
    from bos.db import new_session  # noqa: PLC0415
    from bos.ocds.models import Record  # noqa: PLC0415
    from bos.parties.models import Organisation  # noqa: PLC0415
    from bos.red_flags.models import FlagStatus, RedFlag  # noqa: PLC0415
    from bos.reports import context as ctx  # noqa: PLC0415
    from bos.reports import service  # noqa: PLC0415
    from bos.reports.models import ReportKind  # noqa: PLC0415

    workdir = Path(tempfile.mkdtemp(prefix="bos-reports-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "CACHE_DIR": str(workdir / "cache")})
    migrate.upgrade(app.extensions["bos_db"].engine)

    with app.app_context(), new_session(app) as session:
        if args.database_url is None:
            from bos.demo.seed import seed_database  # noqa: PLC0415
            from bos.red_flags.engine import evaluate_all  # noqa: PLC0415

            _, seconds = _timed(
                lambda: seed_database(
                    session, processes=args.processes, seed=5, today=EVALUATED_AT.date(), progress=False
                )
            )
            session.commit()
            print(f"setup: seeded {args.processes} processes in {seconds:.1f} s", end="; ")
            _, seconds = _timed(lambda: evaluate_all(session, EVALUATED_AT))
            session.commit()
            print(f"red-flag engine full run {seconds:.1f} s")
        flags = session.scalar(select(func.count()).select_from(RedFlag).where(RedFlag.status == FlagStatus.FLAGGED))
        print(f"data: {session.scalar(select(func.count()).select_from(Record))} records, {flags} standing flags")

        # Dossiers of the processes with the most flags (the longest dossiers), each rendered once.
        ocids = session.scalars(
            select(RedFlag.ocid)
            .where(RedFlag.ocid.is_not(None), RedFlag.status == FlagStatus.FLAGGED)
            .group_by(RedFlag.ocid)
            .order_by(func.count().desc(), RedFlag.ocid)
            .limit(args.dossiers)
        ).all()
        _, cold = _timed(
            lambda: service.render_pdf("dossier.html", "id", ReportKind.DOSSIER, **_dossier(session, ocids[0]))
        )
        times, contexts, pages, sizes = [], [], [], []
        for ocid in ocids:
            data, context_seconds = _timed(lambda ocid=ocid: _dossier(session, ocid))
            pdf, render_seconds = _timed(
                lambda data=data: service.render_pdf("dossier.html", "id", ReportKind.DOSSIER, **data)
            )
            contexts.append(context_seconds)
            times.append(context_seconds + render_seconds)
            pages.append(_pages(pdf))
            sizes.append(len(pdf))
        print(
            f"dossier: first render in the process {cold:.2f} s (WeasyPrint import, fonts); then median "
            f"{statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)} processes "
            f"(context {statistics.median(contexts) * 1000:.0f} ms), {min(pages)}-{max(pages)} pages, "
            f"{statistics.median(sizes) / 1024:.0f} KB"
        )
        report, first = _timed(lambda: service.render_dossier(session, ocids[0], origin="cli"))
        _, reused = _timed(lambda: service.render_dossier(session, ocids[0], origin="cli"))
        print(
            f"dossier through the service: {first:.2f} s rendered and archived, {reused * 1000:.0f} ms when the data is unchanged"
        )

        # The busiest buyer's profile.
        buyer_identifier = session.scalar(
            select(Record.buyer_identifier).group_by(Record.buyer_identifier).order_by(func.count().desc()).limit(1)
        )
        buyer = next(
            o
            for o in session.scalars(select(Organisation))
            if f"{o.identifier_scheme}-{o.identifier_id}" == buyer_identifier
        )
        report, seconds = _timed(lambda: service.render_buyer_profile(session, buyer.id, origin="cli"))
        pdf = service.report_pdf(session, report)
        count = len(ctx.buyer_records(session, buyer))
        print(f"buyer profile ({count} processes): {seconds:.2f} s, {_pages(pdf)} pages, {len(pdf) / 1024:.0f} KB")

        # The weekly watchdog report of the whole kabupaten: every flag was raised this week.
        week = (EVALUATED_AT - dt.timedelta(days=6), EVALUATED_AT + dt.timedelta(days=1))
        scope, scope_seconds = _timed(lambda: ctx.watchdog_scope(session, service.WatchdogFilters()))
        views, flag_seconds = _timed(
            lambda: service.flags_for_report(
                session, [r.ocid for r, _ in scope], sorted({r.buyer_identifier for r, _ in scope})
            )
        )
        report, seconds = _timed(
            lambda: service.render_watchdog_report(
                session, service.WatchdogFilters(), *week, now=week[1], origin="cli"
            )
        )
        pdf = service.report_pdf(session, report)
        print(
            f"weekly watchdog report over {len(views)} flags ({len(scope)} processes): {seconds:.2f} s in all "
            f"(scope {scope_seconds:.2f} s, reading flags {flag_seconds:.2f} s), {_pages(pdf)} pages, "
            f"{len(pdf) / 1024:.0f} KB"
        )
        session.rollback()


def _dossier(session, ocid: str) -> dict:
    from sqlalchemy import select  # noqa: PLC0415

    from bos.db import utcnow  # noqa: PLC0415
    from bos.ocds.models import Record  # noqa: PLC0415
    from bos.reports import context as ctx  # noqa: PLC0415
    from bos.reports import service  # noqa: PLC0415
    from bos.tenders.models import Process  # noqa: PLC0415

    record = session.scalars(select(Record).where(Record.ocid == ocid)).one()
    process = session.scalars(select(Process).where(Process.ocid == ocid)).one_or_none()
    data = ctx.dossier_context(
        session, record, process, service.flags_for_report(session, [ocid]), "IDR", "http://127.0.0.1"
    )
    now = utcnow()
    return {"dossier": data, "generated_at": now, "data_cutoff": now, "report_title": data["title"]}


if __name__ == "__main__":
    main()
