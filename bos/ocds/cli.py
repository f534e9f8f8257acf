"""``bos import-ocds``: import another publisher's OCDS data (files, directories, JSON Lines, .gz, paged APIs)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from bos.db import new_session
from bos.ocds.importer import ImportReport, PackageOutcome, PublisherNameError, check_publisher, import_source
from bos.ocds.reader import ReaderOptions

MAX_WARNINGS_SHOWN = 5  # per package; lenient imports of real data can carry dozens of schema warnings each


def _print_outcome(outcome: PackageOutcome, verbose: bool) -> None:
    if outcome.status == "rejected":
        click.echo(f"REJECTED {outcome.location}", err=True)
        for message in outcome.errors:
            click.echo(f"  error: {message}", err=True)
    if outcome.warnings and (verbose or outcome.status == "rejected"):
        shown = outcome.warnings if verbose else outcome.warnings[:MAX_WARNINGS_SHOWN]
        if outcome.status != "rejected":
            click.echo(f"WARNING {outcome.location}", err=True)
        for message in shown:
            click.echo(f"  warning: {message}", err=True)
        if len(shown) < len(outcome.warnings):
            click.echo(f"  … {len(outcome.warnings) - len(shown)} more warnings (--verbose)", err=True)


def _summary(report: ImportReport) -> str:
    return (
        f"packages: {report.packages_imported} imported, {report.packages_skipped} unchanged, "
        f"{report.packages_rejected} rejected ({report.packages_with_warnings} imported or unchanged with warnings); "
        f"releases: {report.releases_stored} stored, {report.releases_unchanged} already stored; "
        f"compiled-only records stored: {report.records_stored}"
    )


@click.command("import-ocds")
@click.argument("source", metavar="PATH_OR_URL")
@click.option(
    "--publisher",
    default=None,
    help="Source name to store the data under (default: each package's publisher.name).",
)
@click.option(
    "--lenient",
    is_flag=True,
    help="Import packages with schema errors, reporting the errors as warnings (default: reject such packages).",
)
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=1), help="HTTP timeout (s).")
@click.option("--max-pages", default=1000, show_default=True, type=click.IntRange(min=1), help="links.next cap.")
@click.option("--verbose", "-v", is_flag=True, help="List every warning, and print each package's outcome.")
@with_appcontext
def import_ocds(
    source: str, publisher: str | None, lenient: bool, timeout: float, max_pages: int, verbose: bool
) -> None:
    """Import OCDS release or record packages from a file, a directory or a URL (following links.next).

    Each package is validated and stored whole or not at all, and committed on its own, so an interrupted import
    keeps what it has done and re-running it changes nothing. Exits with status 1 if any package was rejected.
    """
    if publisher is not None:
        try:
            publisher = check_publisher(publisher)
        except PublisherNameError as e:
            raise click.BadParameter(str(e), param_hint="--publisher") from e
    options = ReaderOptions(timeout=timeout, max_pages=max_pages)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with new_session(app) as session:

        def after_package(outcome: PackageOutcome) -> None:
            # One commit per package: a long crawl keeps its progress; the package's SAVEPOINT made it atomic.
            session.commit()
            if verbose and outcome.status != "rejected":
                click.echo(
                    f"{outcome.status} {outcome.location}: {outcome.releases_stored} releases stored, "
                    f"{outcome.releases_unchanged} already stored"
                )
            _print_outcome(outcome, verbose)

        report = import_source(
            session, source, publisher, lenient=lenient, options=options, after_package=after_package
        )
    click.echo(_summary(report))
    if not report.ok:
        raise SystemExit(1)


commands = [import_ocds]
