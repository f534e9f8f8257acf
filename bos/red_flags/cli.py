"""``bos red-flags run [--full]`` and ``bos red-flags export --format cardinal [--input file.jsonl]``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import orjson
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from bos.db import new_session


@click.group("red-flags")
def red_flags_group() -> None:
    """Red-flag engine: run it, export its results."""


@red_flags_group.command("run")
@click.option("--full", is_flag=True, help="Rebuild peer statistics and re-evaluate everything (the nightly run).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def run_command(full: bool, quiet: bool) -> None:
    """Evaluate the processes marked dirty (or, with --full, everything), as the scheduled jobs do.

    It takes the same leases and is recorded in job_runs like a scheduled run."""
    from dataclasses import replace  # noqa: PLC0415
    from functools import partial  # noqa: PLC0415

    from bos.red_flags import engine, jobs  # noqa: PLC0415
    from bos.scheduler import registered_jobs, run_job  # noqa: PLC0415

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    name = "evaluate_all_records" if full else "evaluate_dirty_records"
    spec = registered_jobs()[name]
    # By hand, the incremental run works off the whole backlog at once (the scheduled one takes batches).
    function = jobs.evaluate_all_records if full else partial(jobs.evaluate_dirty_records, limit=None)
    if quiet:
        run = run_job(app, replace(spec, function=function))
    else:
        with new_session(app) as session:
            total = engine.count_records(session, dirty_only=not full)
        with click.progressbar(length=total, label=name) as bar:
            run = run_job(app, replace(spec, function=partial(function, progress=bar.update)))
    if run is None:
        click.echo("skipped: another process is running this job")
        raise SystemExit(1)
    click.echo(f"{run.status}: {run.stats or run.error}")
    if run.status != "succeeded":
        raise SystemExit(1)


def _outcomes_from_database(source: str | None) -> list[Any]:
    """Stored outcomes as indicator Outcomes (flags and the Meta carried in their evidence)."""
    from bos.red_flags.indicators import Outcome  # noqa: PLC0415
    from bos.red_flags.models import RedFlag  # noqa: PLC0415

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    outcomes = []
    with new_session(app) as session:
        query = select(RedFlag).order_by(RedFlag.id)
        if source:
            query = query.where(RedFlag.source == source)
        for flag in session.scalars(query.execution_options(yield_per=2000)):
            evidence = orjson.loads(flag.evidence)
            outcomes.append(
                Outcome(
                    code=flag.code,
                    grain=flag.grain,  # type: ignore[arg-type]
                    subject=flag.subject,
                    ocid=flag.ocid,
                    status=flag.status.value,  # type: ignore[arg-type]
                    value=flag.value,
                    score=flag.score,
                    evidence=evidence,
                    marked=tuple(evidence.get("marked") or ()),
                    key=flag.key,
                )
            )
    return outcomes


def _meta_from_baselines(source: str | None) -> dict[str, dict[str, Any]]:
    """Cardinal's Meta of R024 and R058 from their stored global baselines: their not-flagged outcomes are not
    stored (RedFlag), so with no flag left no row would carry it."""
    from bos.red_flags.indicators import effective_params  # noqa: PLC0415
    from bos.red_flags.indicators.bids import RATIO_FENCES, ratio_fence_meta  # noqa: PLC0415
    from bos.red_flags.models import RedFlagBaseline  # noqa: PLC0415
    from bos.red_flags.stats import Baseline  # noqa: PLC0415

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    meta: dict[str, dict[str, Any]] = {}
    with new_session(app) as session:
        for code in RATIO_FENCES:
            threshold = effective_params(code).get("threshold")
            if threshold is not None:
                meta[code] = ratio_fence_meta(code, None, threshold)
                continue
            query = select(RedFlagBaseline.data).where(RedFlagBaseline.code == code, RedFlagBaseline.peer_key == "")
            if source:
                query = query.where(RedFlagBaseline.source == source)
            data = session.scalars(query.order_by(RedFlagBaseline.id).limit(1)).first()
            if data:
                meta[code] = ratio_fence_meta(code, Baseline.from_dict(orjson.loads(data)))
    return meta


def _outcomes_from_file(path: Path, settings: dict[str, Any] | None) -> Iterable[Any]:
    from bos.red_flags.cardinal import read_jsonl  # noqa: PLC0415
    from bos.red_flags.indicators import evaluate_dataset  # noqa: PLC0415

    return evaluate_dataset(list(read_jsonl(path)), settings)


@red_flags_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["cardinal"]), default="cardinal", show_default=True)
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON Lines of compiled releases (or records/record packages); default: the database's outcomes.",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@click.option("--source", default=None, help="Only this publisher's outcomes (database export).")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON settings in Cardinal's shape (global keys and per-code sections).",
)
@click.option("--all-codes", is_flag=True, help="Also BOS-only codes (default: Cardinal's codes only).")
@with_appcontext
def export_command(
    fmt: str,
    input_path: Path | None,
    output: Path | None,
    source: str | None,
    settings_path: Path | None,
    all_codes: bool,
) -> None:
    """Write results in Cardinal's ``indicators`` JSON shape, from the database or straight from a file."""
    from bos.red_flags.cardinal import to_cardinal  # noqa: PLC0415

    settings = orjson.loads(settings_path.read_bytes()) if settings_path else None
    if input_path:
        document = to_cardinal(_outcomes_from_file(input_path, settings), cardinal_only=not all_codes)
    else:
        outcomes = _outcomes_from_database(source)
        document = to_cardinal(outcomes, cardinal_only=not all_codes, base_meta=_meta_from_baselines(source))
    body = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if output is None:
        sys.stdout.buffer.write(body + b"\n")
    else:
        output.write_bytes(body + b"\n")
        click.echo(f"wrote {output}", err=True)


commands = [red_flags_group]
