"""The red-flag API and pages: list with keyset paging, catalogue with coverage, bulk files, process fragment."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter

import orjson
from flask import render_template_string
from sqlalchemy import select

from bos.ocds.models import Record
from bos.red_flags import engine
from bos.red_flags.indicators import evaluate_dataset
from bos.red_flags.models import FlagStatus, RedFlagProcess
from tests.red_flags.conftest import NOW
from tests.red_flags.helpers import pure_process_statuses


def _run(db_session):
    engine.evaluate_all(db_session, NOW)
    db_session.commit()


def test_list_pages_with_a_cursor_and_filters(client, db_session, seeded):
    _run(db_session)
    first = client.get("/api/red-flags?limit=3").get_json()
    assert len(first["flags"]) == 3 and first["next_cursor"]
    assert all(f["status"] == "flagged" and f["evidence"] for f in first["flags"])
    second = client.get(f"/api/red-flags?limit=3&cursor={first['next_cursor']}").get_json()
    assert second["flags"][0]["id"] > first["flags"][-1]["id"]
    ocid = client.get("/api/red-flags?indicator=R003&limit=1").get_json()["flags"][0]["ocid"]
    every = client.get(f"/api/red-flags?ocid={ocid}&status=any&limit=1000").get_json()["flags"]
    # Its rows: flags and insufficient data (outcomes that never flagged are counted, not listed).
    assert {f["ocid"] for f in every} == {ocid} and {f["status"] for f in every} == {"flagged", "insufficient_data"}
    assert client.get("/api/red-flags?status=nonsense").status_code == 422
    since = client.get("/api/red-flags?since=2100-01-01T00:00:00Z").get_json()
    assert since["flags"] == []


def test_catalogue_has_parameters_explanations_and_coverage(client, db_session, seeded):
    _run(db_session)
    body = client.get("/api/red-flags/indicators").get_json()
    entries = {e["code"]: e for e in body["indicators"]}
    assert entries["R003"]["parameters"]["threshold"] == 15
    assert "not proof" in entries["R003"]["explanation"]["en"]
    assert entries["R024"]["coverage"]["statuses"]["insufficient_data"] > 0
    assert body["composite"]["min_coverage"] == 0.5


def test_coverage_counts_every_process_once_per_indicator_as_the_pure_evaluation_does(client, db_session, seeded):
    """Outcomes that never flagged are not rows, yet the coverage counts them, process by process."""
    _run(db_session)
    releases = [orjson.loads(t) for t in db_session.scalars(select(Record.compiled))]
    outcomes = evaluate_dataset(releases, {"R063": {"as_of": NOW.replace(hour=0).isoformat()}})
    expected: dict[str, Counter] = {code: Counter() for code in engine.PROCESS_CODES}
    for statuses in pure_process_statuses(releases, outcomes).values():
        for code, status in statuses.items():
            expected[code][status] += 1
    entries = {e["code"]: e for e in client.get("/api/red-flags/indicators").get_json()["indicators"]}
    for code in engine.PROCESS_CODES:
        counted = {k: v for k, v in entries[code]["coverage"]["statuses"].items() if v}
        assert counted == dict(expected[code]), code
        assert sum(counted.values()) == seeded["total"]
    assert expected["R003"]["not_flagged"] > 0 and expected["R003"]["flagged"] > 0


def test_bulk_files_hold_every_outcome(client, db_session, seeded):
    _run(db_session)
    lines = gzip.decompress(client.get("/api/red-flags/bulk/flags.jsonl.gz").get_data()).splitlines()
    rows = [orjson.loads(line) for line in lines]
    assert {r["status"] for r in rows} >= {"flagged", "not_flagged", "insufficient_data"}
    table = list(csv.DictReader(io.StringIO(client.get("/api/red-flags/bulk/flags.csv").get_data(as_text=True))))
    assert len(table) == len(rows)
    assert orjson.loads(table[0]["evidence"]) == rows[0]["evidence"]


def test_pages_show_flags_with_evidence(app, client, db_session, seeded):
    _run(db_session)
    html = client.get("/red-flags").get_data(as_text=True)
    assert "not proof of wrongdoing" in html or "bukan bukti" in html
    flag = client.get("/api/red-flags?indicator=R003&limit=1").get_json()["flags"][0]
    with app.test_request_context("/"):
        fragment = render_template_string(
            '{% include "red_flags/_process_flags.html" %}', process={"ocid": flag["ocid"]}
        )
    assert flag["code"] in fragment and "red-flags" in fragment
    # Indicators evaluated and not flagged are listed by name, though they keep no row.
    summary = db_session.scalars(select(RedFlagProcess).where(RedFlagProcess.ocid == flag["ocid"])).one()
    clear = [c for c, s in engine.parse_statuses(summary.statuses).items() if s is FlagStatus.NOT_FLAGGED]
    assert clear
    listed = fragment.split('id="not-flagged"')[1].split("</ul>")[0]
    for code in clear:
        assert f"{code} · " in listed
    assert "Not evaluated yet" not in fragment


def test_responses_through_the_api_follow_the_roles(as_user, db_session, parties):
    from bos.ocds.release import party_id  # noqa: PLC0415
    from tests.red_flags.conftest import store_record  # noqa: PLC0415

    store_record(
        db_session,
        {
            "ocid": "ocds-test00-api",
            "buyer": {"id": party_id(parties.buyer)},
            "tender": {"status": "active", "procurementMethod": "open", "numberOfTenderers": 1},
        },
    )
    engine.evaluate_dirty(db_session, NOW)
    db_session.commit()
    flag = as_user(None).get("/api/red-flags?ocid=ocds-test00-api&indicator=R018").get_json()["flags"][0]
    url = f"/api/red-flags/{flag['id']}"
    assert as_user(None).post(f"{url}/responses", json={"body": "x"}).status_code == 401
    assert as_user("monitor").post(f"{url}/responses", json={"body": "x"}).status_code == 403
    assert as_user("officer").post(f"{url}/responses", json={"body": "Sole licensed supplier."}).status_code == 201
    assert as_user("monitor").post(f"{url}/annotations", json={"body": "Noted."}).status_code == 201
    assert as_user("officer").post(f"{url}/dismissals", json={"body": "no"}).status_code == 403
    assert as_user("admin").post(f"{url}/dismissals", json={"body": "Import error."}).status_code == 201
    assert as_user(None).get(url).get_json()["dismissed"] is True
