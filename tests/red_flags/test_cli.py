"""``bos red-flags run`` and the Cardinal-shaped export, from the database and from a JSON Lines file."""

from __future__ import annotations

import glob
import json

import orjson
import pytest
from sqlalchemy import func, select, update

from bos.red_flags.cardinal import read_json
from bos.red_flags.cli import red_flags_group
from bos.red_flags.models import RedFlag, RedFlagBaseline
from bos.red_flags.stats import Baseline
from tests.red_flags.conftest import store_record
from tests.red_flags.helpers import SAMPLES


def test_run_full_then_incremental(runner, db_session, seeded):
    result = runner.invoke(red_flags_group, ["run", "--full", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    assert db_session.scalar(select(func.count()).select_from(RedFlag)) > 0
    result = runner.invoke(red_flags_group, ["run"])
    assert result.exit_code == 0, result.output


def _moldova() -> list[dict]:
    if not (SAMPLES / "real-examples").is_dir():
        pytest.skip("no OCDS samples")
    releases = []
    for path in sorted(glob.glob(str(SAMPLES / "real-examples" / "moldova" / "records" / "*.json"))):
        releases += read_json(path)
    return releases


def test_cardinal_export_of_imported_samples_matches_the_file_export(runner, db_session, tmp_path):
    releases = _moldova()
    for release in releases:
        store_record(db_session, release, source="moldova")
    db_session.commit()
    assert runner.invoke(red_flags_group, ["run", "--full", "--quiet"]).exit_code == 0
    from_db = tmp_path / "db.json"
    result = runner.invoke(
        red_flags_group, ["export", "--format", "cardinal", "--source", "moldova", "--output", str(from_db)]
    )
    assert result.exit_code == 0, result.output
    jsonl = tmp_path / "compiled.jsonl"
    jsonl.write_bytes(b"\n".join(orjson.dumps(r) for r in releases))
    from_file = tmp_path / "file.json"
    result = runner.invoke(red_flags_group, ["export", "--input", str(jsonl), "--output", str(from_file)])
    assert result.exit_code == 0, result.output
    database, direct = json.loads(from_db.read_text()), json.loads(from_file.read_text())
    assert "Meta" in database and set(database) == set(direct)
    assert database.get("OCID") == direct.get("OCID")
    # Meta too, though the database keeps no row of outcomes that never flagged (R024 and R058 quote stored fences).
    assert database["Meta"] == direct["Meta"]


def test_cardinal_export_from_the_database_takes_fence_meta_from_the_stored_baselines(
    runner, db_session, seeded, tmp_path
):
    """Not-flagged outcomes are no rows: with no R024/R058 row carrying its fence, Meta still has it."""
    assert runner.invoke(red_flags_group, ["run", "--full", "--quiet"]).exit_code == 0
    db_session.execute(update(RedFlag).where(RedFlag.code.in_(["R024", "R058"])).values(evidence="{}"))
    db_session.commit()
    output = tmp_path / "db.json"
    assert runner.invoke(red_flags_group, ["export", "--output", str(output)]).exit_code == 0
    meta = json.loads(output.read_text())["Meta"]
    for code, fence, attribute in (("R024", "lower_fence", "lower"), ("R058", "upper_fence", "upper")):
        data = db_session.scalar(
            select(RedFlagBaseline.data).where(RedFlagBaseline.code == code, RedFlagBaseline.peer_key == "")
        )
        peers = Baseline.from_dict(orjson.loads(data))
        expected = {"q1": peers.q1, "q3": peers.q3, fence: getattr(peers, attribute)}
        assert meta[code] == {k: round(v * 10_000) / 10_000 for k, v in expected.items()}
