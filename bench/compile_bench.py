"""Releases per second: BOS's compile (full and incremental) against a plain ocdsmerge full compile.

Usage: .venv/bin/python bench/compile_bench.py [--repeat N]
Reads the shared samples (BOS_OCDS_SAMPLES_DIR, …) and a synthetic 200-release process. Prints figures only.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ocdsmerge
from ocdsmerge.exceptions import DuplicateIdValueWarning

from bos.ocds.compile import compile_release, update_compiled_release
from bos.ocds.schema import SchemaSource, get_release_schema
from tests.ocds.conftest import EXTENSIONS_DIR, SCHEMA_DIR
from tests.ocds.test_compile import _all_processes, _realistic_release

Process = list[dict[str, Any]]


def _rate(label: str, releases: int, run: Callable[[], None], repeat: int) -> float:
    best = min(_timed(run) for _ in range(repeat))
    print(f"  {label:<44} {releases / best:>10,.0f} releases/s  ({best * 1000:8.1f} ms)")
    return best


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _feed(processes: list[Process], step: Callable[[Process, int], None]) -> Callable[[], None]:
    def run() -> None:
        for releases in processes:
            for count in range(1, len(releases) + 1):
                step(releases, count)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DuplicateIdValueWarning)

    source = SchemaSource(schema_dir=SCHEMA_DIR, extensions_dir=EXTENSIONS_DIR)
    merger = ocdsmerge.Merger(schema=get_release_schema(source))
    samples = [sorted(r, key=lambda release: release["date"]) for r in _all_processes().values()]
    rng = random.Random(20240501)
    synthetic = [[_realistic_release(rng, index) for index in range(200)]]

    for name, processes in (("samples", samples), ("synthetic 200-release process", synthetic)):
        total = sum(len(releases) for releases in processes)
        print(f"{name}: {len(processes)} processes, {total} releases")

        # One compile per process, all releases at once (a bulk import).
        _rate(
            "ocdsmerge full compile, once per process",
            total,
            lambda p=processes: [merger.create_compiled_release(r) for r in p],
            args.repeat,
        )
        _rate(
            "bos compile_release, once per process",
            total,
            lambda p=processes: [compile_release(r, source) for r in p],
            args.repeat,
        )

        # A live feed: releases arrive one at a time and the compiled release is refreshed after each.
        _rate(
            "ocdsmerge full recompile after each release",
            total,
            _feed(processes, lambda r, n: merger.create_compiled_release(r[:n])),
            args.repeat,
        )

        def incremental(p: list[Process] = processes) -> None:
            for releases in p:
                previous = None
                for count, release in enumerate(releases, 1):
                    previous = update_compiled_release(previous, release, releases[:count], source).compiled

        _rate("bos update_compiled_release after each", total, incremental, args.repeat)


if __name__ == "__main__":
    main()
