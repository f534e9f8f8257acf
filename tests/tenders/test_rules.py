"""Workflow rules: illegal transitions are 409 with a reason, invalid input is 422 with field messages, optimistic
locking refuses a stale save, and a refused request leaves the database unchanged."""

import pytest

from bos import workflow
from bos.enums import ProcessStage
from bos.workflow import Action


def test_second_officer_saving_a_stale_version_gets_409(
    process_at, as_user, client, db_snapshot, db_session, users, parties
):
    from bos.accounts import service  # noqa: PLC0415
    from bos.enums import UserRole  # noqa: PLC0415

    colleague = service.create_user(
        db_session, email="colleague@bos.test", name="c", role=UserRole.OFFICER, password="x" * 12,
        organisation=parties.buyer,
    )  # fmt: skip
    secret = service.create_token(db_session, colleague, "t").secret
    db_session.commit()
    ns = process_at("tender_draft")
    pid = ns.process.id
    seen = as_user("officer").get(f"/api/v1/processes/{pid}").get_json()
    body = {k: seen["planning"][k] for k in ("project", "budget_source", "fiscal_year")} | {
        "title": "Versi pertama", "budget_amount": "100000000", "version": seen["version"]}  # fmt: skip
    first = as_user("officer").put(f"/api/v1/processes/{pid}/planning", json=body)
    assert first.status_code == 200
    before = db_snapshot()
    second = client.put(
        f"/api/v1/processes/{pid}/planning",
        json=body | {"title": "Versi kedua"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert second.status_code == 409 and "Someone else changed" in second.get_json()["message"]
    assert db_snapshot() == before
    assert as_user("officer").get(f"/api/v1/processes/{pid}").get_json()["title"] == "Versi pertama"


def test_validation_errors_are_422_with_field_messages_and_write_nothing(as_user, users, db_snapshot):
    before = db_snapshot()
    response = as_user("officer").post(
        "/api/v1/processes", json={"title": "", "budget_amount": "-5", "budget_source": "XX", "fiscal_year": 1900}
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert {"title", "project", "budget_amount", "budget_source", "fiscal_year"} <= set(errors)
    assert db_snapshot() == before


def test_naive_datetimes_are_refused(process_at, as_user):
    ns = process_at("planned")
    response = as_user("officer").post(
        f"/api/v1/processes/{ns.process.id}/tender",
        json={"title": "T", "procurement_method": "open", "procurement_method_details": "Tender",
              "main_procurement_category": "goods", "value_amount": "10", "tender_period_end": "2026-12-01T10:00:00",
              "items": [{"description": "x", "classification_id": "1", "quantity": "1", "unit_name": "u"}]},
    )  # fmt: skip
    assert response.status_code == 422
    assert "tender_period_end" in response.get_json()["errors"]["json"]


@pytest.mark.parametrize("method", ["limited", "direct"])
def test_method_rationale_is_required_for_limited_and_direct(process_at, as_user, method, db_snapshot):
    ns = process_at("planned")
    before = db_snapshot()
    response = as_user("officer").post(
        f"/api/v1/processes/{ns.process.id}/tender",
        json={"title": "T", "procurement_method": method, "procurement_method_details": "Penunjukan Langsung",
              "main_procurement_category": "goods", "value_amount": "10",
              "tender_period_end": "2026-12-01T10:00:00+07:00",
              "items": [{"description": "x", "classification_id": "1", "quantity": "1", "unit_name": "u"}]},
    )  # fmt: skip
    assert response.status_code == 422
    assert "procurement_method_rationale" in response.get_json()["errors"]["json"]
    assert db_snapshot() == before


def test_disqualification_needs_a_reason(process_at, as_user):
    ns = process_at("opened")
    response = as_user("officer").post(
        f"/api/v1/processes/{ns.process.id}/bids/{ns.bid.id}/evaluation", json={"status": "disqualified"}
    )
    assert response.status_code == 422
    assert "disqualification_reason" in response.get_json()["errors"]["json"]


ILLEGAL = [
    ("open", "post", "/api/v1/processes/{pid}/awards", {"supplier_ids": [1], "value_amount": "1", "rationale": "r"}, "submission period"),
    ("closed", "post", "/api/v1/processes/{pid}/awards", {"supplier_ids": [1], "value_amount": "1", "rationale": "r"}, "not been opened"),
    ("opened", "post", "/api/v1/processes/{pid}/contracts",
     {"award_id": 1, "value_amount": "1", "period_start": "2026-12-01T00:00:00Z", "period_end": "2026-12-02T00:00:00Z"}, "award"),
    ("open", "post", "/api/v1/processes/{pid}/bids/open", {}, "submission period"),
    ("planned", "post", "/api/v1/processes/{pid}/tender/publish", {}, "no tender"),
    ("open", "put", "/api/v1/processes/{pid}/planning",
     {"version": 99, "title": "t", "project": "p", "budget_amount": "1", "budget_source": "APBD", "fiscal_year": 2026}, "before the tender"),
    ("completed", "post", "/api/v1/processes/{pid}/cancellation", {"rationale": "r"}, "no longer be changed"),
    ("completed", "post", "/api/v1/processes/{pid}/contracts/{contract}/transactions", {"value_amount": "1"}, "no longer be changed"),
    ("implementation", "post", "/api/v1/processes/{pid}/contracts/{contract}/transactions", {"value_amount": "40000001"}, "above the contract value"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("stage", "method", "path", "body", "reason"), ILLEGAL, ids=[f"{i[0]}-{i[2].rsplit('/', 1)[-1]}" for i in ILLEGAL]
)
def test_illegal_transitions_are_409_with_the_reason(
    stage, method, path, body, reason, process_at, as_user, db_snapshot
):
    ns = process_at(stage)
    url = path.format(pid=ns.process.id, contract=ns.contract.id if ns.contract else 0)
    if "version" in body:
        body = body | {"version": ns.process.version_id}
    before = db_snapshot()
    response = getattr(as_user("officer"), method)(url, json=body)
    assert response.status_code == 409, response.get_json()
    assert reason in response.get_json()["message"]
    assert db_snapshot() == before


def test_cancellation_at_each_stage_writes_the_right_tag(process_at, as_user, db_session):
    from sqlalchemy import select  # noqa: PLC0415

    from bos.ocds.models import Release  # noqa: PLC0415

    expected = {
        "planned": ["planningUpdate"],
        "open": ["tenderCancellation"],
        "awarded": ["awardCancellation", "tenderCancellation"],
        "implementation": ["contractTermination"],
    }
    for stage, tags in expected.items():
        ns = process_at(stage)
        response = as_user("officer").post(
            f"/api/v1/processes/{ns.process.id}/cancellation", json={"rationale": "Anggaran dialihkan"}
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["stage"] == "cancelled" and body["cancellation_rationale"] == "Anggaran dialihkan"
        last = db_session.scalars(
            select(Release.tags).where(Release.ocid == ns.process.ocid).order_by(Release.id.desc())
        ).first()
        assert last.split() == tags


def test_draft_cancellation_writes_no_release(process_at, as_user, db_session):
    from sqlalchemy import func, select  # noqa: PLC0415

    from bos.ocds.models import Release  # noqa: PLC0415

    ns = process_at("draft")
    assert (
        as_user("officer").post(f"/api/v1/processes/{ns.process.id}/cancellation", json={"rationale": "r"}).status_code
        == 200
    )
    assert db_session.scalar(select(func.count()).select_from(Release).where(Release.ocid == ns.process.ocid)) == 0


def test_transition_table_covers_every_action_and_final_stages_allow_nothing(process_at):
    assert set(workflow.TRANSITIONS) == set(Action)
    ns = process_at("completed")
    assert ns.process.stage is ProcessStage.COMPLETED
    assert workflow.allowed_actions(ns.process, ns.process.updated_at) == []


def test_open_stage_counts_as_closed_once_the_period_ends(process_at, clock):
    ns = process_at("open")
    assert workflow.stage_of(ns.process, clock.now) is ProcessStage.OPEN
    clock.advance(days=30)
    assert workflow.stage_of(ns.process, clock.now) is ProcessStage.CLOSED
    assert Action.OPEN_BIDS in workflow.allowed_actions(ns.process, clock.now)
