"""The engine on real databases: full and incremental runs agree, outcomes are idempotent, nothing is deleted."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import gc
from collections import Counter

import orjson
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from bos.ocds.models import PendingEvaluation, Record
from bos.ocds.publish import mark_for_evaluation
from bos.red_flags import engine
from bos.red_flags.indicators import Outcome, evaluate_dataset
from bos.red_flags.models import (
    FlagStatus,
    RedFlag,
    RedFlagContribution,
    RedFlagCoverage,
    RedFlagEvent,
    RedFlagMeasure,
    RedFlagOrgTotal,
    RedFlagProcess,
)
from bos.red_flags.stats import Baseline
from tests.red_flags.conftest import NOW, store_record
from tests.red_flags.helpers import RUN_TABLES, bid, process, pure_process_statuses, queued_count


def _statuses(session: Session, source: str = "bos") -> dict[tuple, str]:
    """Every outcome: organisation rows as stored; per process and process-grain indicator, one status (key "")
    from red_flag_processes.statuses, since outcomes that never flagged are not rows."""
    rows = session.execute(
        select(RedFlag.code, RedFlag.grain, RedFlag.subject, RedFlag.key, RedFlag.status).where(
            RedFlag.source == source, RedFlag.grain != "process"
        )
    )
    found = {(r.code, r.grain, r.subject, r.key): r.status.value for r in rows}
    for ocid, stored in session.execute(
        select(RedFlagProcess.ocid, RedFlagProcess.statuses).where(RedFlagProcess.source == source)
    ):
        statuses = engine.parse_statuses(stored)
        for code in engine.PROCESS_CODES:
            found[(code, "process", ocid, "")] = statuses.get(code, FlagStatus.NOT_APPLICABLE).value
    return found


def _process_rows(session: Session, source: str = "bos") -> dict[tuple, str]:
    rows = session.execute(
        select(RedFlag.code, RedFlag.subject, RedFlag.key, RedFlag.status).where(
            RedFlag.source == source, RedFlag.grain == "process"
        )
    )
    return {(r.code, r.subject, r.key): r.status.value for r in rows}


def _duplicates(session: Session) -> int:
    grouped = (
        select(func.count())
        .select_from(RedFlag)
        .group_by(RedFlag.source, RedFlag.code, RedFlag.grain, RedFlag.subject, RedFlag.key)
        .having(func.count() > 1)
    )
    return len(session.execute(grouped).all())


def test_full_run_stores_flags_and_insufficient_data_and_counts_every_other_outcome(db_session, seeded):
    stats = engine.evaluate_all(db_session, NOW, commit=False)
    assert stats.processes == seeded["total"]
    assert not stats.errors
    statuses = _statuses(db_session)
    assert {"flagged", "not_flagged", "insufficient_data", "not_applicable"} <= set(statuses.values())
    # Every process has a status for every process-grain indicator ...
    processes = db_session.scalar(select(func.count()).select_from(Record))
    assert db_session.scalar(select(func.count()).select_from(RedFlagProcess)) == processes
    # ... but only flags and insufficient data became rows on a first run, and each agrees with its status.
    rows = _process_rows(db_session)
    assert set(rows.values()) == {"flagged", "insufficient_data"}
    for (code, ocid, _key), status in rows.items():
        if status == "flagged":
            assert statuses[(code, "process", ocid, "")] == "flagged"
    every_flag = {k for k, s in rows.items() if s == "flagged"}
    assert {(c, o) for c, _g, o, _k in (k for k, s in statuses.items() if s == "flagged" and k[1] == "process")} == {
        (c, o) for c, o, _k in every_flag
    }
    assert queued_count(db_session) == 0
    raised = db_session.scalar(select(func.count()).select_from(RedFlagEvent).where(RedFlagEvent.kind == "raised"))
    assert raised == db_session.scalar(select(func.count()).where(RedFlag.status == FlagStatus.FLAGGED))
    # Each raised event points at its own flag (new rows get reserved ids, process and organisation grains alike).
    pointed = db_session.execute(
        select(RedFlagEvent.code, RedFlagEvent.grain, RedFlagEvent.subject, RedFlagEvent.key, RedFlag.code,
               RedFlag.grain, RedFlag.subject, RedFlag.key).join(RedFlag, RedFlag.id == RedFlagEvent.flag_id)
    ).all()  # fmt: skip
    assert len(pointed) == raised
    assert {row.grain for row in pointed} > {"process"}
    assert all(tuple(row[:4]) == tuple(row[4:]) for row in pointed)


def test_full_run_matches_the_pure_dataset_evaluation(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    releases = [orjson.loads(t) for t in db_session.scalars(select(Record.compiled).order_by(Record.id))]
    as_of = NOW.replace(hour=0).isoformat()
    outcomes = evaluate_dataset(releases, {"R063": {"as_of": as_of}})
    expected = {(o.code, o.grain, o.subject, o.key): o.status for o in outcomes if o.grain != "process"}
    for ocid, statuses in pure_process_statuses(releases, outcomes).items():
        for code, status in statuses.items():
            expected[(code, "process", ocid, "")] = status
    stored = _statuses(db_session)
    for key, status in expected.items():
        assert stored[key] == status, key
    # Process rows: exactly the flags and insufficient data, with the pure run's statuses.
    assert _process_rows(db_session) == {
        (o.code, o.subject, o.key): o.status
        for o in outcomes
        if o.grain == "process" and o.status in {"flagged", "insufficient_data"}
    }


def test_second_full_run_changes_nothing(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    before = _statuses(db_session)
    events = db_session.scalar(select(func.count()).select_from(RedFlagEvent))
    stats = engine.evaluate_all(db_session, NOW + dt.timedelta(hours=1), commit=False)
    assert stats.inserted == 0
    assert stats.raised == stats.cleared == 0
    assert stats.skipped_frozen > 0  # completed and cancelled processes keep their outcomes
    assert _statuses(db_session) == before
    assert db_session.scalar(select(func.count()).select_from(RedFlagEvent)) == events
    assert _duplicates(db_session) == 0


def test_full_run_tunes_the_garbage_collector_and_restores_it(db_session, seeded):
    """The full run collects young objects less often while it runs (see engine._bulk_gc) and leaves the process
    as it found it: the demo runs it inside the web server's process."""
    before = gc.get_threshold()
    during: list[tuple[int, ...]] = []
    engine.evaluate_all(db_session, NOW, commit=False, progress=lambda _n: during.append(gc.get_threshold()))
    assert during and all(t[0] == engine.BULK_GC_THRESHOLD for t in during)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_killed_full_run_leaves_no_duplicates(db_session, seeded):
    calls = []

    def die(count: int) -> None:
        calls.append(count)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.evaluate_all(db_session, NOW, progress=die, chunk=25)
    db_session.rollback()
    engine.evaluate_all(db_session, NOW, chunk=25)
    assert _duplicates(db_session) == 0
    processes = db_session.scalar(select(func.count()).select_from(Record))
    assert db_session.scalar(select(func.count()).select_from(RedFlagProcess)) == processes


def _analysis_counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(RedFlagMeasure)) or 0,
        session.scalar(select(func.count()).select_from(RedFlagContribution)) or 0,
    )


def test_first_pass_killed_on_empty_tables_then_rerun_stores_each_analysis_once(db_session, seeded, monkeypatch):
    """The first pass of a run that finds no measure or contribution inserts without deleting first. A run killed
    in that pass leaves some committed; the next run must replace them, not add them again."""
    engine.evaluate_all(db_session, NOW, chunk=25)
    expected = _analysis_counts(db_session)
    for model in reversed(RUN_TABLES):
        db_session.execute(delete(model))
    db_session.commit()
    original = engine.swap_analyses
    calls: list[bool] = []
    killed: list[bool] = []

    def dying(*args, **kwargs):
        calls.append(kwargs.get("replace", True))
        if len(calls) == 3 and not killed:  # the third chunk of the killed run
            killed.append(True)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "swap_analyses", dying)
    with pytest.raises(KeyboardInterrupt):
        engine.evaluate_all(db_session, NOW, chunk=25)
    db_session.rollback()
    assert calls == [False, False, False]  # empty tables: no deletes
    assert 0 < _analysis_counts(db_session)[0] < expected[0]  # two chunks committed
    calls.clear()
    engine.evaluate_all(db_session, NOW, chunk=25)
    assert calls and all(calls)  # rows found: every swap deletes first
    assert _analysis_counts(db_session) == expected


def test_an_ocid_met_twice_in_a_fresh_first_pass_is_analysed_once(db_session, seeded, monkeypatch):
    """The importer replaces a compiled-only record by a new one with the same ocid and a higher id. During a
    first run's first pass (empty analysis tables, no deletes) the keyset then meets that ocid again: its second
    analysis must replace the first, not be stored beside it."""
    engine.evaluate_all(db_session, NOW, chunk=25)
    expected = _analysis_counts(db_session)
    first_id, ocid = db_session.execute(
        select(Record.id, Record.ocid)
        .where(Record.ocid.in_(select(RedFlagMeasure.ocid)), Record.ocid.in_(select(RedFlagContribution.ocid)))
        .order_by(Record.id)
        .limit(1)
    ).one()
    assert first_id <= db_session.scalar(select(Record.id).order_by(Record.id).offset(24).limit(1))  # 1st chunk
    for model in reversed(RUN_TABLES):
        db_session.execute(delete(model))
    db_session.commit()
    original = engine.swap_analyses
    replaced: list[int] = []

    def recreating(*args, **kwargs):
        result = original(*args, **kwargs)
        if not replaced:  # after the first chunk: the record comes back under a new, last id
            last = db_session.scalar(select(func.max(Record.id)))
            db_session.execute(update(Record).where(Record.id == first_id).values(id=last + 1))
            replaced.append(last + 1)
        return result

    monkeypatch.setattr(engine, "swap_analyses", recreating)
    engine.evaluate_all(db_session, NOW, chunk=25)
    assert db_session.scalar(select(Record.id).where(Record.ocid == ocid)) == replaced[0]
    assert _analysis_counts(db_session) == expected


def _record(session: Session, flagged_code: str = "R028") -> Record:
    """A seeded record with at least two submitted bids."""
    for record in session.scalars(select(Record).order_by(Record.id)):
        release = orjson.loads(record.compiled)
        bids = (release.get("bids") or {}).get("details") or []
        if (
            len([b for b in bids if b.get("status") == "valid"]) >= 2
            and release["tender"].get("status") != "cancelled"
        ):
            return record
    raise AssertionError("no record with two valid bids")


def _store_identical_bid_prices(session: Session) -> tuple[Record, dict]:
    """Give a process with two valid bids identical bid prices (R028), stored as publishing does; returns the record
    and its release as it was."""
    record = _record(session)
    release = orjson.loads(record.compiled)
    original = copy.deepcopy(release)
    valid = [b for b in release["bids"]["details"] if b.get("status") == "valid"]
    valid[1]["value"] = dict(valid[0]["value"])
    store_record(session, release)
    return record, original


def test_incremental_run_raises_and_clears_with_events(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    record, original = _store_identical_bid_prices(db_session)
    last_event = db_session.scalar(select(func.max(RedFlagEvent.id))) or 0

    stats = engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=1))
    assert stats.processes == 1
    flag = db_session.scalars(select(RedFlag).where(RedFlag.ocid == record.ocid, RedFlag.code == "R028")).one()
    assert flag.status is FlagStatus.FLAGGED
    assert flag.first_raised_at == NOW + dt.timedelta(minutes=1)
    events = db_session.scalars(select(RedFlagEvent).where(RedFlagEvent.id > last_event)).all()
    assert any(e.kind.value == "raised" and e.code == "R028" and e.ocid == record.ocid for e in events)
    assert not db_session.get(PendingEvaluation, record.id)

    store_record(db_session, original)
    engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=2))
    db_session.refresh(flag)
    assert flag.status is not FlagStatus.FLAGGED
    assert flag.cleared_at == NOW + dt.timedelta(minutes=2)
    kinds = [
        e.kind.value
        for e in db_session.scalars(
            select(RedFlagEvent).where(RedFlagEvent.flag_id == flag.id).order_by(RedFlagEvent.id)
        )
    ]
    assert kinds[-2:] == ["raised", "cleared"]


def _coverage_from_scratch(session: Session) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for (stored,) in session.execute(select(RedFlagProcess.statuses)):
        for code, status in engine.parse_statuses(stored).items():
            counts[(code, status.value)] += 1
    query = (
        select(RedFlag.code, RedFlag.status, func.count())
        .where(RedFlag.grain != "process")
        .group_by(RedFlag.code, RedFlag.status)
    )
    for code, status, n in session.execute(query):
        counts[(code, FlagStatus(status).value)] += n
    return dict(counts)


def _coverage_kept(session: Session) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for row in session.scalars(select(RedFlagCoverage)):
        counts[(row.code, row.status)] += row.n
    return {key: n for key, n in counts.items() if n}


def test_coverage_is_kept_by_difference_through_incremental_and_nightly_runs(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    assert _coverage_kept(db_session) == _coverage_from_scratch(db_session)
    flagged = _coverage_kept(db_session).get(("R028", "flagged"), 0)
    _record_changed, original = _store_identical_bid_prices(db_session)
    engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=1))
    assert _coverage_kept(db_session) == _coverage_from_scratch(db_session)
    assert _coverage_kept(db_session)[("R028", "flagged")] == flagged + 1
    store_record(db_session, original)
    engine.evaluate_all(db_session, NOW + dt.timedelta(days=1), commit=False)
    assert _coverage_kept(db_session) == _coverage_from_scratch(db_session)
    assert _coverage_kept(db_session).get(("R028", "flagged"), 0) == flagged


def test_incremental_org_totals_match_a_rebuild(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    record = _record(db_session)
    release = orjson.loads(record.compiled)
    for detail in release["bids"]["details"]:
        detail["status"] = "disqualified"
    store_record(db_session, release)
    engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=1))
    incremental = {
        (t.code, t.grain, t.subject, t.key): (round(t.numerator, 6), round(t.denominator, 6), t.rows)
        for t in db_session.scalars(select(RedFlagOrgTotal))
        if t.rows
    }
    engine.rebuild_totals(db_session, "bos")
    rebuilt = {
        (t.code, t.grain, t.subject, t.key): (round(t.numerator, 6), round(t.denominator, 6), t.rows)
        for t in db_session.scalars(select(RedFlagOrgTotal).execution_options(populate_existing=True))
    }
    assert incremental == rebuilt
    # The buyer's R038 outcome was re-evaluated from the totals and agrees with a full run.
    buyer = release["buyer"]["id"]
    after_incremental = _statuses(db_session)[("R038", "buyer", buyer, "")]
    engine.evaluate_all(db_session, NOW + dt.timedelta(minutes=2), commit=False)
    assert _statuses(db_session)[("R038", "buyer", buyer, "")] == after_incremental


def test_imported_sources_are_evaluated_apart(db_session, seeded):
    release = {
        "ocid": "ocds-imported-1",
        "buyer": {"id": "B1"},
        "tender": {"status": "complete", "procurementMethod": "open", "numberOfTenderers": 1},
    }
    store_record(db_session, release, source="other-publisher")
    engine.evaluate_all(db_session, NOW, commit=False)
    imported = _statuses(db_session, "other-publisher")
    assert imported[("R018", "process", "ocds-imported-1", "")] == "flagged"
    assert imported[("R028", "process", "ocds-imported-1", "")] == "insufficient_data"


def test_a_moved_fence_builds_rows_only_for_indicators_that_may_store_them():
    """The outcome digest covers the outcomes that may become rows (flags, insufficient data, indicators with a row
    for the process). A not-flagged R024/R058 outcome quotes the fences, but when they move and it stays not flagged
    with no row, the process builds no rows; once R058 has a row for it, the same move rebuilds them."""
    release = process("ocds-digest", bids=[bid("W", 100), bid("B", 150)], winner="W")
    release["tender"] = {"status": "complete", "procurementMethod": "open"}
    compiled = orjson.dumps(release).decode()
    sp = engine.SourceParams.build("bos", "IDR", NOW)
    before = Baseline.from_measures([0.4, 0.45, 0.5, 0.55, 0.6])
    after = Baseline.from_measures([0.4, 0.45, 0.5, 0.56, 0.6])

    def evaluate(baseline: Baseline, digest: str | None, row_codes: frozenset[str]) -> engine.Evaluated:
        baselines = {("R024", ""): baseline, ("R058", ""): baseline}
        _analyses, evaluated, errors = engine.evaluate_chunk(
            sp, [("ocds-digest", compiled, False, digest, row_codes)], baselines
        )
        assert errors == []
        return evaluated[0]

    first = evaluate(before, None, frozenset())
    statuses = engine.parse_statuses(first.state["statuses"])
    assert statuses["R024"] == statuses["R058"] == FlagStatus.NOT_FLAGGED
    assert first.rows is not None and {r["code"] for r in first.rows}.isdisjoint({"R024", "R058"})
    digest = first.state["outcomes_sha"]

    moved = evaluate(after, digest, frozenset())
    assert moved.rows is None  # nothing that may be stored changed
    assert moved.state["statuses"] == first.state["statuses"]

    with_row = evaluate(after, digest, frozenset({"R058"}))
    assert with_row.state["outcomes_sha"] != digest
    (r058,) = [r for r in with_row.rows or [] if r["code"] == "R058"]
    assert r058["status"] == FlagStatus.NOT_FLAGGED
    assert orjson.loads(r058["evidence"])["threshold"] == after.upper != before.upper


def test_composite_needs_coverage_and_never_counts_insufficient_as_zero():
    def outcome(code, status, score=0.0):
        return Outcome(code, "process", "o", "o", status, None, score, {})

    full = engine.composite([outcome("R003", "flagged", 1.0), outcome("R018", "not_flagged")])
    assert (full.applicable, full.evaluated, full.flagged, full.score) == (2, 2, 1, 0.5)
    thin = engine.composite(
        [outcome("R003", "flagged", 1.0), outcome("R018", "insufficient_data"), outcome("R028", "insufficient_data")]
    )
    assert thin.score is None and thin.coverage == pytest.approx(1 / 3)
    assert engine.composite([outcome("R010", "not_applicable")]).applicable == 0
    # One status per indicator, as red_flag_processes stores it: flagged over not flagged over insufficient data.
    assert full.statuses == "R003=f R018=n" and thin.statuses == "R003=f R018=i R028=i"
    several = [outcome("R017", "insufficient_data"), outcome("R017", "not_flagged"), outcome("R010", "not_applicable")]
    assert engine.composite(several).statuses == "R017=n"


def _evidence(session: Session, code: str, grain: str, subject: str, key: str = "") -> tuple[str, dict]:
    row = session.execute(
        select(RedFlag.status, RedFlag.evidence)
        .where(RedFlag.code == code, RedFlag.grain == grain, RedFlag.subject == subject, RedFlag.key == key)
        .execution_options(populate_existing=True)
    ).one()
    return row.status.value, orjson.loads(row.evidence)


def test_incremental_run_uses_the_fences_pinned_by_the_full_run(db_session, seeded):
    """R025 and R038: the touched organisations are compared with the full run's fences, not with fences computed
    from every organisation's totals on each run; the next full run computes them afresh."""
    engine.evaluate_all(db_session, NOW, commit=False)
    record = _record(db_session)
    release = orjson.loads(record.compiled)
    buyer = release["buyer"]["id"]
    _status, full = _evidence(db_session, "R038", "buyer", buyer)
    assert "pinned" not in full
    for detail in release["bids"]["details"]:
        detail["status"] = "disqualified"
    store_record(db_session, release)

    engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=1))
    status, incremental = _evidence(db_session, "R038", "buyer", buyer)
    assert incremental["pinned"] is True
    assert incremental["threshold"] == full["threshold"]
    assert incremental["meta"] == full["meta"]
    # The changed process counts already: its valid bids are now disqualified.
    assert incremental["submitted"] == full["submitted"]
    assert incremental["disqualified"] > full["disqualified"]
    assert status == (
        "flagged" if incremental["disqualified"] / incremental["submitted"] >= full["threshold"] else "not_flagged"
    )

    engine.evaluate_all(db_session, NOW + dt.timedelta(minutes=2), commit=False)
    _status, recomputed = _evidence(db_session, "R038", "buyer", buyer)
    assert "pinned" not in recomputed
    assert recomputed["disqualified"] == incremental["disqualified"]


def test_incremental_r040_reads_the_buyer_year_total_and_agrees_with_a_full_run(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    for record in db_session.scalars(select(Record).order_by(Record.id)):
        release = orjson.loads(record.compiled)
        awards = [a for a in release.get("awards") or [] if a.get("status") == "active" and a.get("date")]
        if awards and len(awards[0].get("suppliers") or []) == 1 and (awards[0].get("value") or {}).get("amount"):
            break
    else:
        raise AssertionError("no record with an active single-supplier award")
    award = awards[0]
    award["value"]["amount"] = award["value"]["amount"] * 50  # the supplier's share of the buyer-year jumps
    key = f"{award['date'][:4]}|{award['suppliers'][0]['id']}"
    buyer = release["buyer"]["id"]
    _status, before = _evidence(db_session, "R040", "buyer_supplier", buyer, key)
    store_record(db_session, release)

    engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=1))
    status, incremental = _evidence(db_session, "R040", "buyer_supplier", buyer, key)
    engine.evaluate_all(db_session, NOW + dt.timedelta(minutes=2), commit=False)
    full_status, full = _evidence(db_session, "R040", "buyer_supplier", buyer, key)
    assert status == full_status
    assert incremental["supplier_amount"] == full["supplier_amount"]
    assert incremental["buyer_amount"] == pytest.approx(full["buyer_amount"], rel=1e-12)
    assert incremental["share"] == pytest.approx(full["share"], rel=1e-12)
    assert incremental["buyer_awards"] == full["buyer_awards"]
    assert incremental["ocids"] == full["ocids"]
    assert incremental["supplier_amount"] > before["supplier_amount"]

    assert not any("\x00" in k for (_c, _g, _s, k) in _statuses(db_session))  # the buyer-year rest row is not kept


@pytest.mark.parametrize(("code", "key"), [("R038", ""), ("R040", "2025|S1")])
def test_an_organisation_flag_lists_its_first_processes_in_code_point_order(db_session, monkeypatch, code, key):
    """The same processes on both databases and in every run, whatever order the database keeps the rows in
    (PostgreSQL's default collation would put "ocds-a" before "ocds-B"; Python's sort does not)."""
    monkeypatch.setattr(engine, "MAX_EVIDENCE_OCIDS", 3)
    # The one that sorts first comes last, after more rows than a few times the limit (once read as "some rows,
    # sorted", it was missed).
    ocids = ["ocds-c", "ocds-a", "ocds-Z", "ocds-b"] * 4 + ["ocds-B"]
    for ocid in ocids:
        for row_key in (key, "2024|S2"):
            db_session.add(
                RedFlagContribution(
                    ocid=ocid,
                    source="bos",
                    code=code,
                    grain="buyer",
                    subject="B1",
                    key=row_key,
                    numerator=1.0,
                    denominator=1.0,
                )
            )
    db_session.add(  # another buyer's process
        RedFlagContribution(
            ocid="ocds-A", source="bos", code=code, grain="buyer", subject="B2", key=key, numerator=1, denominator=1
        )
    )
    db_session.flush()
    flag = Outcome(code, "buyer", "B1", None, "flagged", 1.0, 1.0, {}, (), key)
    listed = engine._with_real_ocids(db_session, "bos", flag, {("buyer", "B1", key): 5}).evidence["ocids"]
    assert listed == ["ocds-B", "ocds-Z", "ocds-a"]


def test_incremental_r048_has_the_database_sum_up_the_touched_supplier_and_agrees_with_a_full_run(db_session, seeded):
    """R048 in an incremental run reads a touched supplier's distinct prefixes and process count summed up by the
    database (a busy supplier has a row per process and prefix), and its first processes only for a flag: the rows
    match those of a full run over every contribution row."""
    overrides = {"R048": {"minimum_contracting_processes": 1, "threshold": 1}}  # every supplier is flagged
    engine.evaluate_all(db_session, NOW, overrides=overrides, commit=False)
    busiest: dict[str, int] = {}
    candidates = {}
    for record in db_session.scalars(select(Record).order_by(Record.id)):
        release = orjson.loads(record.compiled)
        for award in release.get("awards") or []:
            suppliers = award.get("suppliers") or []
            if award.get("status") == "active" and len(suppliers) == 1 and award.get("items"):
                busiest[suppliers[0]["id"]] = busiest.get(suppliers[0]["id"], 0) + 1
                candidates.setdefault(suppliers[0]["id"], (release, award))
    supplier = max(busiest, key=lambda s: (busiest[s], s))
    assert busiest[supplier] >= 2
    release, award = candidates[supplier]
    award["items"].append({"id": "new", "classification": {"scheme": "CPV", "id": "99887766"}})  # a new prefix
    _status, before = _evidence(db_session, "R048", "tenderer", supplier)
    store_record(db_session, release)

    engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=1), overrides=overrides)
    status, incremental = _evidence(db_session, "R048", "tenderer", supplier)
    engine.evaluate_all(db_session, NOW + dt.timedelta(minutes=2), overrides=overrides, commit=False)
    full_status, full = _evidence(db_session, "R048", "tenderer", supplier)
    assert status == full_status == "flagged"
    assert incremental["pinned"] is True and "pinned" not in full
    for name in ("processes", "prefixes", "ocid_count", "ocids", "threshold", "minimum", "fields"):
        assert incremental[name] == full[name], name
    assert incremental["ocids"] == sorted(incremental["ocids"]) and len(incremental["ocids"]) == busiest[supplier]
    assert len(incremental["prefixes"]) == len(before["prefixes"]) + 1


def _analyze_count(session: Session) -> int:
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    return session.scalar(text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'red_flags'")) or 0


def test_full_run_refreshes_postgresql_planner_statistics(db_session, seeded, monkeypatch):
    """A table the first run filled must not look empty to PostgreSQL's planner (see engine.analyze_tables)."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    # The test data's first run writes ~600 outcome rows and process states; a real one, millions.
    monkeypatch.setattr(engine, "ANALYZE_FROM", 200)
    analyze_tables, growth = engine.analyze_tables, []

    def recording(session, models=engine.BULK_TABLES, only_stale=False):
        if not only_stale:
            growth.append(len(models))
        return analyze_tables(session, models, only_stale)

    monkeypatch.setattr(engine, "analyze_tables", recording)
    before = _analyze_count(db_session)
    engine.evaluate_all(db_session, NOW, commit=False, chunk=10)
    # As the rows the first run writes grow past ANALYZE_FROM, unconditionally: the tables a run has not committed
    # to yet are not stale to pg_stat_user_tables, so the analyses at its start and end may find nothing to do.
    assert growth
    assert _analyze_count(db_session) >= before + 1


def test_full_run_reads_settled_processes_only_when_marked_dirty(db_session, seeded):
    """A frozen process evaluated under the current rules is skipped unread until publishing marks it dirty."""
    engine.evaluate_all(db_session, NOW, commit=False)
    frozen = set(db_session.scalars(select(RedFlagProcess.ocid).where(RedFlagProcess.frozen.is_(True))))
    for record in db_session.scalars(select(Record).where(Record.ocid.in_(frozen)).order_by(Record.id)):
        release = orjson.loads(record.compiled)
        valid = [b for b in (release.get("bids") or {}).get("details") or [] if b.get("status") == "valid"]
        if len(valid) >= 2 and release["tender"].get("status") == "complete":
            break
    else:
        raise AssertionError("no completed process with two valid bids")
    valid[1]["value"] = dict(valid[0]["value"])  # identical bid prices: R028
    store_record(db_session, release)
    # As if written behind the engine's back, without a place in the queue.
    db_session.execute(delete(PendingEvaluation).where(PendingEvaluation.record_id == record.id))

    stats = engine.evaluate_all(db_session, NOW + dt.timedelta(hours=1), commit=False)
    assert stats.skipped_frozen == len(frozen)
    assert _statuses(db_session)[("R028", "process", record.ocid, "")] != "flagged"

    mark_for_evaluation(db_session, [record.id])  # what publishing and importing do in the same transaction
    stats = engine.evaluate_all(db_session, NOW + dt.timedelta(hours=2), commit=False)
    assert stats.skipped_frozen == len(frozen) - 1
    assert _statuses(db_session)[("R028", "process", record.ocid, "")] == "flagged"


def test_a_rules_change_re_evaluates_frozen_processes(db_session, seeded):
    engine.evaluate_all(db_session, NOW, commit=False)
    frozen = db_session.scalar(select(func.count()).where(RedFlagProcess.frozen.is_(True)))
    assert frozen
    stats = engine.evaluate_all(
        db_session, NOW + dt.timedelta(hours=1), overrides={"R003": {"threshold": 20}}, commit=False
    )
    assert stats.skipped_frozen == 0
    assert stats.processes == seeded["total"]


def test_nightly_run_skips_processes_whose_inputs_did_not_move(db_session, seeded):
    """A clean process is re-evaluated only when a baseline it compared with moved or an outcome depends on the
    day; what it skips is exactly what a full re-evaluation would have written."""
    engine.evaluate_all(db_session, NOW, commit=False)
    record = _record(db_session)
    release = orjson.loads(record.compiled)
    valid = [b for b in release["bids"]["details"] if b.get("status") == "valid"]
    lowest = min(valid, key=lambda bid: bid["value"]["amount"])
    lowest["value"]["amount"] = lowest["value"]["amount"] // 2
    store_record(db_session, release)
    # And R058's peer statistics move for every process compared with them (as many changed processes would).
    db_session.execute(
        update(RedFlagMeasure).where(RedFlagMeasure.code == "R058").values(value=RedFlagMeasure.value * 2)
    )
    live = db_session.scalar(select(func.count()).where(RedFlagProcess.frozen.is_(False)))

    nightly = engine.evaluate_all(db_session, NOW + dt.timedelta(days=1), commit=False)
    assert nightly.skipped_unchanged > 0
    assert 0 < nightly.processes < live
    assert nightly.processes + nightly.skipped_unchanged == live

    # Everything queued: every live process is evaluated again, and nothing it skipped was stale.
    mark_for_evaluation(db_session, db_session.scalars(select(Record.id)))
    forced = engine.evaluate_all(db_session, NOW + dt.timedelta(days=1, hours=1), commit=False)
    assert forced.skipped_unchanged == 0
    assert forced.processes == live
    assert (forced.inserted, forced.updated, forced.raised, forced.cleared) == (0, 0, 0, 0)


def test_a_broken_record_in_a_chunk_is_reported_in_order_and_the_others_are_evaluated():
    """The workers' path evaluates each release as it is parsed: a record that does not parse, or whose release
    breaks an indicator, is reported with its ocid in record order, and the records around it are evaluated as
    they would be alone."""
    sp = engine.SourceParams.build("bos", "IDR", NOW)
    good = [process(f"ocds-good-{i}", bids=[bid("W", 100), bid("B", 150 + i)], winner="W") for i in range(2)]
    items = [
        ("ocds-good-0", orjson.dumps(good[0]).decode(), True, None, frozenset()),
        ("ocds-unparsable", "{not json", True, None, frozenset()),
        ("ocds-good-1", orjson.dumps(good[1]).decode(), True, None, frozenset()),
        ("ocds-not-an-object", "[1, 2]", True, None, frozenset()),
    ]
    analyses, evaluated, errors = engine.evaluate_chunk(sp, items, {})
    assert [e.ocid for e in evaluated] == [a.ocid for a in analyses] == ["ocds-good-0", "ocds-good-1"]
    assert [error.split(":")[0] for error in errors] == ["ocds-unparsable", "ocds-not-an-object"]
    for item, done in zip([items[0], items[2]], evaluated, strict=True):
        _analyses, alone, alone_errors = engine.evaluate_chunk(sp, [item], {})
        assert alone_errors == [] and alone == [done]


def test_a_change_stored_while_a_record_is_evaluated_keeps_it_queued(db_session, seeded, monkeypatch):
    """The engine takes a record off the queue only with the token it read it with. Here the change comes as a
    publisher's compiled-only record does, without a new release (the release count stays as it was)."""
    engine.evaluate_all(db_session, NOW, commit=False)
    record = _record(db_session)
    release = orjson.loads(record.compiled)
    mark_for_evaluation(db_session, [record.id])
    read_with = db_session.get(PendingEvaluation, record.id).token
    evaluate_chunk = engine.evaluate_chunk

    def change_meanwhile(*args, **kwargs):
        changed = copy.deepcopy(release)
        changed["tender"]["title"] = "Changed while the engine evaluated the record"
        db_session.execute(
            update(Record).where(Record.id == record.id).values(compiled=orjson.dumps(changed).decode())
        )
        mark_for_evaluation(db_session, [record.id])
        return evaluate_chunk(*args, **kwargs)

    monkeypatch.setattr(engine, "evaluate_chunk", change_meanwhile)
    assert engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=1)).processes == 1
    assert db_session.get(PendingEvaluation, record.id, populate_existing=True).token != read_with

    monkeypatch.setattr(engine, "evaluate_chunk", evaluate_chunk)
    assert engine.evaluate_dirty(db_session, NOW + dt.timedelta(minutes=2)).processes == 1
    assert queued_count(db_session) == 0


def test_an_ocid_met_again_in_the_second_pass_is_written_once(db_session, seeded, monkeypatch):
    """The importer may replace a record by one with the same ocid and a higher id while a full run reads records
    by id, so the run meets the ocid twice. The second time, its stored state was read before the first time's
    chunk was written: the run must diff against what that chunk wrote, not insert it all again."""
    chunks = engine._chunks

    def with_a_repeat(session, source, size, rules, changed_only):
        first = None
        for records in chunks(session, source, size, rules, changed_only):
            yield records
            if not changed_only and first is None:
                first = records[0]
                yield [dataclasses.replace(first)]  # read again before the chunk above is written

    monkeypatch.setattr(engine, "_chunks", with_a_repeat)
    stats = engine.evaluate_all(db_session, NOW, commit=False, chunk=40)
    assert stats.errors == []
    assert _duplicates(db_session) == 0
    monkeypatch.undo()
    alone = _statuses(db_session)
    engine.evaluate_all(db_session, NOW + dt.timedelta(hours=1), commit=False, chunk=40)
    assert _statuses(db_session) == alone
