"""The authorisation matrix: each role is refused what it may not do, on the API and the pages alike, and every
refused request leaves the database exactly as it was."""

import datetime as dt

import pytest

ROLES = ["officer", "other_officer", "contractor", "contractor2", "admin", "monitor", None]
ONLY_OFFICER = {"officer": "ok"} | {r: 403 for r in ROLES if r not in ("officer", None)} | {None: 401}


def when(days=0):
    return (dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC) + dt.timedelta(days=days)).isoformat()


# action: (stage, method, path template, body, expected status per role; "ok" = the 2xx success)
ACTIONS = {
    "update_planning": ("planned", "put", "/api/v1/processes/{pid}/planning", lambda ns: {
        "version": ns.process.version_id, "title": "Judul baru", "project": "P", "budget_amount": "1",
        "budget_source": "APBD", "fiscal_year": 2026}, ONLY_OFFICER),
    "publish_planning_of_draft": ("draft", "post", "/api/v1/processes/{pid}/planning/publish", lambda ns: {},
        # a draft is invisible to everyone but its buyer's officers: 404, not even 403
        {"officer": "ok"} | {r: 404 for r in ROLES if r not in ("officer", None)} | {None: 401}),
    "create_tender": ("planned", "post", "/api/v1/processes/{pid}/tender", lambda ns: {
        "title": "T", "procurement_method": "open", "procurement_method_details": "Tender",
        "main_procurement_category": "goods", "value_amount": "10", "tender_period_end": when(5),
        "items": [{"description": "x", "classification_id": "1", "quantity": "1", "unit_name": "u"}]}, ONLY_OFFICER),
    "amend_tender": ("open", "post", "/api/v1/processes/{pid}/tender/amendments", lambda ns: {
        "rationale": "Perpanjangan", "tender_period_end": when(12)}, ONLY_OFFICER),
    "submit_bid": ("open", "post", "/api/v1/processes/{pid}/bids", lambda ns: {"value_amount": "5"},
        {"contractor": "ok", "contractor2": "ok", "officer": 403, "other_officer": 403, "admin": 403, "monitor": 403,
         None: 401}),
    "replace_bid": ("open", "put", "/api/v1/processes/{pid}/bids/{bid}", lambda ns: {"value_amount": "5"},
        {"contractor": "ok", "contractor2": 403, "officer": 403, "other_officer": 403, "admin": 403, "monitor": 403,
         None: 401}),
    "withdraw_bid": ("open", "post", "/api/v1/processes/{pid}/bids/{bid}/withdraw", None,
        {"contractor": "ok", "contractor2": 403, "officer": 403, "other_officer": 403, "admin": 403, "monitor": 403,
         None: 401}),
    "open_bids": ("closed", "post", "/api/v1/processes/{pid}/bids/open", lambda ns: {}, ONLY_OFFICER),
    "evaluate_bid": ("opened", "post", "/api/v1/processes/{pid}/bids/{bid}/evaluation", lambda ns: {
        "status": "disqualified", "disqualification_reason": "Dokumen tidak lengkap"}, ONLY_OFFICER),
    "award": ("opened", "post", "/api/v1/processes/{pid}/awards", lambda ns: {
        "supplier_ids": [ns.bid.supplier_id], "bid_id": ns.bid.id, "value_amount": "5", "rationale": "R"},
        ONLY_OFFICER),
    "save_contract": ("awarded", "post", "/api/v1/processes/{pid}/contracts", lambda ns: {
        "award_id": ns.award.id, "value_amount": "5", "period_start": when(20), "period_end": when(40)},
        ONLY_OFFICER),
    "sign_contract": ("contract_draft", "post", "/api/v1/processes/{pid}/contracts/{contract}/signature",
        lambda ns: {}, ONLY_OFFICER),
    "add_transaction": ("contracted", "post", "/api/v1/processes/{pid}/contracts/{contract}/transactions",
        lambda ns: {"value_amount": "5"}, ONLY_OFFICER),
    "amend_contract": ("implementation", "post", "/api/v1/processes/{pid}/contracts/{contract}/amendments",
        lambda ns: {"rationale": "Addendum", "new_value_amount": "90000000"}, ONLY_OFFICER),
    "cancel": ("open", "post", "/api/v1/processes/{pid}/cancellation", lambda ns: {"rationale": "Dibatalkan"},
        ONLY_OFFICER),
}  # fmt: skip

MATRIX = [(action, role) for action, spec in ACTIONS.items() for role in spec[4]]


@pytest.mark.parametrize(("action", "role"), MATRIX, ids=[f"{a}-{r}" for a, r in MATRIX])
def test_api_authorisation_matrix(action, role, as_user, process_at, db_snapshot):
    stage, method, template, body, expected = ACTIONS[action]
    ns = process_at(stage)
    path = template.format(
        pid=ns.process.id,
        bid=ns.bid.id if ns.bid else 0,
        contract=ns.contract.id if ns.contract else 0,
    )
    before = db_snapshot()
    kwargs = {"json": body(ns)} if body is not None else {}
    response = getattr(as_user(role), method)(path, **kwargs)
    want = expected[role]
    if want == "ok":
        assert response.status_code in (200, 201), response.get_json()
    else:
        assert response.status_code == want, response.get_json()
        assert response.get_json()["message"]
        assert db_snapshot() == before


def test_creating_a_process_for_another_buyer_is_refused(as_user, parties, db_snapshot):
    body = {"title": "T", "project": "P", "budget_amount": "1", "budget_source": "APBD", "fiscal_year": 2026}
    before = db_snapshot()
    for role in ("other_officer", "contractor", "admin", "monitor"):
        response = as_user(role).post("/api/v1/processes", json=body | {"buyer_id": parties.buyer.id})
        assert response.status_code == 403, role
    assert as_user(None).post("/api/v1/processes", json=body).status_code == 401
    assert db_snapshot() == before
    assert as_user("officer").post("/api/v1/processes", json=body).status_code == 201


WEB_ROLES = ["officer", "other_officer", "contractor", "admin", "monitor"]


@pytest.mark.parametrize("role", WEB_ROLES)
def test_pages_authorisation_matrix(role, web_login, process_at, extract_csrf, db_snapshot, app):
    ns = process_at("open")
    pid = ns.process.id
    web = web_login(role)
    manage = web.get(f"/manage/processes/{pid}")
    assert manage.status_code == (200 if role == "officer" else 403)
    # Every form posts with a CSRF token; the refusal is 403 and changes nothing.
    token = extract_csrf(web.get(f"/processes/{pid}").get_data(as_text=True))
    before = db_snapshot()
    cancel = web.post(f"/manage/processes/{pid}/cancel", data={"csrf_token": token, "rationale": "Batal"})
    bid = web.post(f"/processes/{pid}/bid", data={"csrf_token": token, "value_amount": "5"})
    if role == "officer":
        assert bid.status_code == 403
        assert cancel.status_code == 302
    elif role == "contractor":
        assert cancel.status_code == 403
        assert bid.status_code == 302
    else:
        assert (cancel.status_code, bid.status_code) == (403, 403)
        assert db_snapshot() == before


def test_anonymous_pages_redirect_to_sign_in(client, process_at):
    ns = process_at("open")
    for url in (f"/manage/processes/{ns.process.id}", "/manage", "/account/tokens"):
        response = client.get(url)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_forms_without_csrf_token_are_refused(web_login, process_at, db_snapshot):
    ns = process_at("open")
    web = web_login("officer")
    before = db_snapshot()
    response = web.post(f"/manage/processes/{ns.process.id}/cancel", data={"rationale": "Batal"})
    assert response.status_code == 400
    assert db_snapshot() == before


def test_api_ignores_session_cookie(web_login, process_at):
    """A signed-in browser has no power over the API: only a bearer token does (so CSRF cannot reach it)."""
    ns = process_at("open")
    web = web_login("officer")
    response = web.post(f"/api/v1/processes/{ns.process.id}/cancellation", json={"rationale": "Batal"})
    assert response.status_code == 401
