"""The ``bos`` command: a Flask CLI group built on the app factory."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

from bos import create_app, migrate
from bos.db import new_session

log = logging.getLogger(__name__)


def _create_app(*_args: Any) -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False)
def main() -> None:
    """BOS: open procurement transparency service."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the database schema to the latest migration (Alembic)."""
    engine = current_app.extensions["bos_db"].engine
    migrate.upgrade(engine, revision)
    click.echo(f"database at revisions {', '.join(migrate.current_heads(engine))}")


CHUNK_FOR_WORKERS = 4000  # below this, starting worker processes costs more than it saves


@main.command("seed")
@click.option("--processes", "count", default=500, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", "seed_value", default=1, show_default=True, type=int)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="Processes building release histories in parallel (0: in this process).",
)
@with_appcontext
def seed_command(count: int, seed_value: int, quiet: bool, workers: int) -> None:
    """Load deterministic demo data: buyers, suppliers and COUNT processes in every stage."""
    from bos.demo.seed import seed_database  # noqa: PLC0415

    engine = current_app.extensions["bos_db"].engine
    migrate.upgrade(engine)
    started = time.perf_counter()
    with new_session(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        summary = seed_database(session, processes=count, seed=seed_value, progress=not quiet, on_chunk=session.commit)
        session.commit()
    elapsed = time.perf_counter() - started
    click.echo(f"seeded {summary} in {elapsed:.1f} s")


def _serve(app: Flask, host: str, port: int, scheduler: bool) -> None:
    running = None
    if scheduler:
        from bos.scheduler import start_background_scheduler  # noqa: PLC0415

        running = start_background_scheduler(app)
    try:
        # Werkzeug's threaded server is for the demo; production runs gunicorn 'wsgi:app' (see README).
        # run_simple, not app.run: Flask ignores app.run() inside its own CLI.
        from werkzeug.serving import run_simple  # noqa: PLC0415

        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if running is not None:
            running.shutdown(wait=False)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--scheduler/--no-scheduler", default=False, help="Run scheduled jobs in this process (demo).")
def serve(host: str, port: int, scheduler: bool) -> None:
    """Serve the web app and APIs (development server)."""
    _serve(create_app(), host, port, scheduler)


@main.command("demo")
@click.option("--processes", default=600, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", "seed_value", default=1, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def demo(processes: int, seed_value: int, host: str, port: int) -> None:
    """Create or upgrade the database, load demo data once, then serve with the scheduler in-process."""
    from bos.demo.seed import seed_database  # noqa: PLC0415
    from bos.tenders.models import Process  # noqa: PLC0415

    app = create_app()
    engine = app.extensions["bos_db"].engine
    migrate.upgrade(engine)
    with new_session(app) as session:
        if not session.scalar(select(func.count()).select_from(Process)):
            summary = seed_database(session, processes=processes, seed=seed_value, progress=True)
            session.commit()
            click.echo(f"demo data loaded: {summary}")
            # Evaluate the red flags now, so the demo shows them at once (the in-process scheduler keeps them
            # current afterwards, as it would in production).
            from bos.red_flags.jobs import evaluate_all_records  # noqa: PLC0415
            from bos.scheduler import JobSpec, run_job  # noqa: PLC0415

            run = run_job(app, JobSpec("evaluate_all_records", evaluate_all_records, "cron", {}))
            click.echo(f"red flags evaluated: {run.status if run else 'skipped'}")
    from bos.demo.seed import DEMO_PASSWORD, create_demo_accounts  # noqa: PLC0415

    with new_session(app) as session:
        accounts = create_demo_accounts(session)
        session.commit()
    click.echo(f"BOS demo on http://{host}:{port}/  (OpenAPI: /api/v1/docs)")
    for role, email in accounts:
        click.echo(f"  sign in as {role:<10} {email} / {DEMO_PASSWORD}")
    _serve(app, host, port, scheduler=True)


@main.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduled jobs in this process (production: one or more such processes beside gunicorn)."""
    from apscheduler.schedulers.blocking import BlockingScheduler  # noqa: PLC0415

    from bos.scheduler import add_jobs  # noqa: PLC0415

    app = create_app()
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(app, scheduler)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    click.echo(f"scheduler running {len(scheduler.get_jobs())} jobs; Ctrl-C to stop")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@main.command("run-job")
@click.argument("name")
@with_appcontext
def run_job_command(name: str) -> None:
    """Run one scheduled job now (it still takes the lease, so it never overlaps a scheduler's run)."""
    from bos.scheduler import registered_jobs, run_job  # noqa: PLC0415

    jobs = registered_jobs()
    if name not in jobs:
        raise click.BadParameter(f"unknown job; one of: {', '.join(sorted(jobs))}")
    run = run_job(current_app._get_current_object(), jobs[name])  # type: ignore[attr-defined]
    if run is None:
        click.echo("skipped: another process is running this job")
    else:
        click.echo(f"{run.status}: {run.stats or run.error}")
        if run.status != "succeeded":
            raise SystemExit(1)


@main.command("settings-table")
def settings_table_command() -> None:
    """Print the configuration table (Markdown) for the README."""
    from bos.settings import settings_table  # noqa: PLC0415

    click.echo(settings_table())


# Each domain may add commands in ``bos/<domain>/cli.py`` as a list ``commands`` of click commands or groups.
CLI_MODULES = (
    "bos.accounts.cli",
    "bos.tenders.cli",
    "bos.ocds.cli",
    "bos.red_flags.cli",
    "bos.notifications.cli",
    "bos.reports.cli",
)


def _add_domain_commands() -> None:
    from bos import existing_modules  # noqa: PLC0415

    for module in existing_modules(CLI_MODULES):
        for command in module.commands:
            main.add_command(command)


_add_domain_commands()
