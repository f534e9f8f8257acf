"""OCDS publication benchmarks on an already seeded database (prints figures; asserts nothing).

    BOS_DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python bench/ocds_bench.py [--skip-ocdskit]

1. Bulk export: releases/s and peak memory of /api/ocds/bulk/releases.jsonl.gz, beside the hardware ceiling measured
   in the same run: the same stored JSON read with a bare SELECT and gzipped, no framework.
2. Compile: records/s of BOS's compile on the same releases beside `ocdskit compile` (if installed).
3. Incremental publish: cost of merging one new release into a record of 1 and of 200 releases.
4. Feed pages: p50/p95 server time of a 100-release page at the start, middle and end of the feed.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "ocds"
os.environ.setdefault("BOS_OCDS_SCHEMA_DIR", str(SHARED / "schema"))
os.environ.setdefault("BOS_OCDS_EXTENSIONS_DIR", str(SHARED / "extensions"))

from bos import create_app
from bos.db import new_session
from bos.ocds.compile import compile_release, compile_snapshots, extend_compiled_release
from bos.ocds.feeds import BULK_BATCH, iter_release_lines, stream_gzip_lines
from bos.ocds.models import Record, Release
from bos.ocds.publish import schema_source


def measure(label: str, function, memory: bool = False):
    """Time ``function``; with ``memory``, also trace peak Python allocations (tracemalloc slows code a lot)."""
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    peak = 0
    if memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"  {label}: {elapsed:.2f} s" + (f", peak Python memory {peak / 1e6:.1f} MB" if memory else ""))
    return result, elapsed, peak


def bench_bulk(app, count: int) -> None:
    print(f"bulk export of {count} releases")
    engine = app.extensions["bos_db"].engine

    def ceiling() -> int:
        # The hardware's ceiling: stored JSON straight from the driver into gzip, in id batches like BOS.
        size = 0
        with engine.connect() as conn:
            last = 0
            while True:
                rows = conn.execute(
                    text(f"SELECT id, json FROM releases WHERE id > :last ORDER BY id LIMIT {BULK_BATCH}"),
                    {"last": last},
                ).all()
                if not rows:
                    return size
                size += len(gzip.compress(b"\n".join(row[1].encode() for row in rows), compresslevel=6))
                last = rows[-1][0]

    _, ceiling_s, _ = measure("ceiling (SELECT + gzip)", ceiling)

    def through_bos() -> int:
        with app.app_context(), new_session(app) as session:
            return sum(len(chunk) for chunk in stream_gzip_lines(iter_release_lines(session)))

    _, bos_s, _ = measure("BOS bulk stream", through_bos)
    # Memory in separate passes: tracemalloc slows Python code several-fold, so it must not touch the timings.
    measure("ceiling again, traced", ceiling, memory=True)
    measure("BOS bulk stream again, traced", through_bos, memory=True)

    client = app.test_client()

    def through_http() -> int:
        response = client.get("/api/ocds/bulk/releases.jsonl.gz", buffered=False)
        size = sum(len(chunk) for chunk in response.response)
        response.close()
        return size

    _, http_s, _ = measure("BOS bulk via the WSGI endpoint", through_http)
    print(
        f"  rates: ceiling {count / ceiling_s:,.0f}/s, BOS {count / bos_s:,.0f}/s "
        f"({100 * ceiling_s / bos_s:.0f}% of ceiling), endpoint {count / http_s:,.0f}/s "
        f"({100 * ceiling_s / http_s:.0f}%)"
    )


def bench_compile(app, sample: int, run_ocdskit: bool) -> None:
    print(f"compile {sample} records")
    source = schema_source(app.config)
    with app.app_context(), new_session(app) as session:
        ocids = session.scalars(select(Record.ocid).order_by(Record.id).limit(sample)).all()
        rows = session.execute(
            select(Release.ocid, Release.json).where(Release.ocid.in_(ocids)).order_by(Release.ocid, Release.id)
        ).all()
    grouped: dict[str, list[dict]] = {}
    for ocid, body in rows:
        grouped.setdefault(ocid, []).append(orjson.loads(body))
    releases = sum(len(v) for v in grouped.values())
    compile_release(next(iter(grouped.values())), source)  # build the merger once, outside the timing

    _, merge_s, _ = measure(
        "ocdsmerge (BOS compile_release)", lambda: [compile_release(r, source) for r in grouped.values()]
    )
    _, snap_s, _ = measure(
        "BOS snapshot compile (own releases)", lambda: [compile_snapshots(r) for r in grouped.values()]
    )
    print(
        f"  {releases} releases: ocdsmerge {releases / merge_s:,.0f} releases/s ({len(grouped) / merge_s:,.0f} records/s),"
        f" snapshot {releases / snap_s:,.0f} releases/s ({len(grouped) / snap_s:,.0f} records/s)"
    )
    ocdskit = shutil.which("ocdskit") or str(Path(sys.executable).with_name("ocdskit"))
    if run_ocdskit and Path(ocdskit).exists():
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as handle:
            for group in grouped.values():
                for release in group:
                    handle.write(orjson.dumps(release) + b"\n")
            path = handle.name
        schema_path = Path(tempfile.mkdtemp()) / "release-schema.json"
        from bos.ocds.schema import get_release_schema  # noqa: PLC0415

        schema_path.write_bytes(orjson.dumps(get_release_schema(source)))
        started = time.perf_counter()
        with open(path, "rb") as stdin:
            subprocess.run(
                [ocdskit, "compile", "--schema", str(schema_path)], stdin=stdin, stdout=subprocess.DEVNULL, check=True
            )
        kit_s = time.perf_counter() - started
        print(
            f"  ocdskit compile: {kit_s:.2f} s, {releases / kit_s:,.0f} releases/s (includes its start-up and JSON I/O)"
        )


def bench_incremental(app) -> None:
    print("incremental publish: merge one release into a record of N releases")
    source = schema_source(app.config)
    base = {"ocid": "ocds-bench-1", "tag": ["tender"], "initiationType": "tender", "buyer": {"id": "B", "name": "B"}}
    for size in (1, 200):
        history = [
            {
                **base,
                "id": str(i),
                "date": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                "tender": {"id": "T", "items": [{"id": str(j), "quantity": j} for j in range(i % 7 + 1)]},
                "contracts": [
                    {
                        "id": "C",
                        "implementation": {
                            "transactions": [
                                {"id": str(k), "value": {"amount": k, "currency": "IDR"}} for k in range(i)
                            ]
                        },
                    }
                ],
            }
            for i in range(size)
        ]
        compiled = compile_release(history, source)
        new = {**base, "id": "new", "date": "2026-01-02T00:00:00Z", "tender": {"id": "T", "status": "complete"}}
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            extend_compiled_release(compiled, new, source)
            timings.append(time.perf_counter() - started)
        full = []
        for _ in range(5):
            started = time.perf_counter()
            compile_release([*history, new], source)
            full.append(time.perf_counter() - started)
        print(
            f"  record of {size:>3} releases: incremental {statistics.median(timings) * 1000:.2f} ms, "
            f"full recompile {statistics.median(full) * 1000:.2f} ms"
        )


def bench_pages(app, count: int) -> None:
    print("feed pages of 100 releases (server time through the WSGI app)")
    client = app.test_client()
    app.config["FEED_WATERMARK_SECONDS"] = 0
    with app.app_context(), new_session(app) as session:
        keys = {}
        for label, fraction in (("start", 0.0), ("middle", 0.5), ("end", 0.999)):
            offset = int(count * fraction)
            row = session.execute(
                select(Release.date, Release.ocid, Release.release_id)
                .order_by(Release.date, Release.ocid, Release.release_id)
                .offset(offset)
                .limit(1)
            ).one()
            keys[label] = row
    from bos.pagination import encode_cursor  # noqa: PLC0415

    for label, row in keys.items():
        cursor = encode_cursor([row.date.isoformat(), row.ocid, row.release_id])
        url = f"/api/ocds/releases?limit=100&cursor={cursor}"
        client.get(url)  # warm
        timings = []
        for _ in range(50):
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
        timings.sort()
        print(f"  {label:>6}: p50 {timings[24] * 1000:.1f} ms, p95 {timings[47] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-ocdskit", action="store_true")
    parser.add_argument("--compile-sample", type=int, default=5000)
    args = parser.parse_args()
    app = create_app()
    with app.app_context(), new_session(app) as session:
        count = session.scalar(select(func.count()).select_from(Release)) or 0
        processes = session.scalar(select(func.count()).select_from(Record)) or 0
    print(f"database {app.config['DATABASE_URL']}: {processes} records, {count} releases")
    bench_pages(app, count)
    bench_incremental(app)
    bench_compile(app, args.compile_sample, not args.skip_ocdskit)
    bench_bulk(app, count)


if __name__ == "__main__":
    main()
