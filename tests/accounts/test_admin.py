"""Account administration (web pages and JSON API, administrators only), the audit log, and the OpenAPI security."""

import datetime as dt

import pytest
from sqlalchemy import select

from bos.accounts.models import ApiToken, AuditEntry, User

PASSWORD = "correct horse battery"  # the ``users`` fixture's

PAGES = ["/accounts/admin/users", "/accounts/admin/users/new", "/accounts/admin/audit-log"]
NOT_ADMINS = ["officer", "monitor", "contractor"]
NEW_OFFICER = {
    "role": "officer",
    "email": "New.Officer@bos.test",
    "name": "Petugas Baru",
    "organisation": "ID-KEMENDAGRI-99.01",
    "password": "long enough password",
}


def english(client):
    client.set_cookie("lang", "en")
    return client


def admin_web(web_login):
    return english(web_login("admin"))


def post_form(web, page, url, data, extract_csrf):
    token = extract_csrf(web.get(page).get_data(as_text=True))
    return web.post(url, data={**data, "csrf_token": token})


def sign_in(client, extract_csrf, email, password):
    data = {"email": email, "password": password}
    return post_form(client, "/account/login", "/account/login", data, extract_csrf)


def audit(db_session, action):
    db_session.expire_all()
    return list(db_session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# ----------------------------------------------------------------------------------------------------- role matrix


@pytest.mark.parametrize("page", PAGES)
def test_admin_pages_need_sign_in(client, users, page):
    response = client.get(page)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


@pytest.mark.parametrize("role", NOT_ADMINS)
@pytest.mark.parametrize("page", PAGES)
def test_admin_pages_are_forbidden_to_other_roles(web_login, role, page):
    assert web_login(role).get(page).status_code == 403


@pytest.mark.parametrize("role", NOT_ADMINS)
def test_admin_forms_are_forbidden_to_other_roles(web_login, users, extract_csrf, db_snapshot, role):
    web = web_login(role)
    token = extract_csrf(web.get("/account/tokens").get_data(as_text=True))
    before = db_snapshot()
    target = users["contractor2"].id
    for url, data in [
        ("/accounts/admin/users/new", NEW_OFFICER),
        (f"/accounts/admin/users/{target}/active", {"active": "false"}),
        (f"/accounts/admin/users/{target}/revoke-tokens", {}),
    ]:
        assert web.post(url, data={**data, "csrf_token": token}).status_code == 403
    assert db_snapshot() == before


@pytest.mark.parametrize("page", PAGES)
def test_admin_pages_render_for_admins(web_login, page):
    assert admin_web(web_login).get(page).status_code == 200


def test_navigation_links_the_admin_pages_for_admins_only(web_login):
    assert "/accounts/admin/users" in admin_web(web_login).get("/").get_data(as_text=True)
    assert "/accounts/admin/" not in web_login("officer").get("/").get_data(as_text=True)


@pytest.mark.parametrize("role", [*NOT_ADMINS, None])
def test_admin_api_is_refused_to_non_admins(as_user, users, db_snapshot, role):
    caller = as_user(role)
    status = 403 if role else 401
    before = db_snapshot()
    assert caller.get("/api/v1/admin/users").status_code == status
    assert caller.get("/api/v1/admin/audit-log").status_code == status
    assert caller.post("/api/v1/admin/users", json=NEW_OFFICER).status_code == status
    assert caller.patch(f"/api/v1/admin/users/{users['contractor2'].id}", json={"active": False}).status_code == status
    assert caller.post(f"/api/v1/admin/users/{users['contractor2'].id}/revoke-tokens").status_code == status
    assert db_snapshot() == before


# ---------------------------------------------------------------------------------------------------- list, create


def test_user_list_filters_by_role_and_organisation_and_pages(web_login, users):
    web = admin_web(web_login)
    html = web.get("/accounts/admin/users?role=contractor").get_data(as_text=True)
    assert "contractor@bos.test" in html and "contractor2@bos.test" in html and "officer@bos.test" not in html
    html = web.get("/accounts/admin/users?organisation=ID-KEMENDAGRI-99.01").get_data(as_text=True)
    assert "officer@bos.test" in html and "other_officer@bos.test" not in html
    response = web.get("/accounts/admin/users?organisation=NOPE")
    assert response.status_code == 422 and 'data-field="organisation"' in response.get_data(as_text=True)
    seen, url = [], "/accounts/admin/users?limit=3"
    while url:
        response = web.get(url)
        html = response.get_data(as_text=True)
        seen += [u.email for u in users.values() if f">{u.email}<" in html]
        url = response.get_data(as_text=True).partition('rel="next" href="')[2].partition('"')[0].replace("&amp;", "&")
    assert sorted(seen) == sorted(u.email for u in users.values())


def test_admin_creates_an_officer_of_a_buyer(app, web_login, extract_csrf, parties, users, db_session):
    web = admin_web(web_login)
    page = "/accounts/admin/users/new"
    response = post_form(web, page, page, NEW_OFFICER, extract_csrf)
    assert response.status_code == 302
    created = db_session.scalars(select(User).where(User.email == "new.officer@bos.test")).one()
    assert created.organisation_id == parties.buyer.id and created.is_active and created.email_verified_at
    entry = audit(db_session, "create_user")[-1]
    assert entry.user_id == users["admin"].id and entry.object_id == created.id
    response = sign_in(app.test_client(), extract_csrf, "new.officer@bos.test", "long enough password")
    assert response.status_code == 302  # the new account signs in


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"email": "not-an-email"}, "email", 422),
        ({"password": "short"}, "password", 422),
        ({"organisation": ""}, "organisation", 422),  # an officer needs a buyer
        ({"organisation": "01.111.111.1-601.000"}, "organisation", 422),  # a supplier is not a buyer
        ({"organisation": "NO-SUCH-ORG"}, "organisation", 422),
        ({"role": "admin"}, "organisation", 422),  # administrators belong to no organisation
        ({"role": "wizard"}, "role", 422),
        ({"email": "monitor@bos.test", "role": "monitor", "organisation": ""}, "email", 409),
    ],
)
def test_invalid_account_form_is_shown_again_with_field_errors(
    web_login, extract_csrf, db_snapshot, change, field, status
):
    web = admin_web(web_login)
    page = "/accounts/admin/users/new"
    before = db_snapshot()
    data = {**NEW_OFFICER, **change}
    response = post_form(web, page, page, data, extract_csrf)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert f'data-field="{field}"' in html
    assert f'value="{data["email"]}"' in html and 'name="csrf_token"' in html  # input kept, form usable again
    assert data["password"] not in html  # a password is never sent back
    assert db_snapshot() == before


def test_account_form_without_csrf_token_is_refused(web_login, db_snapshot):
    web = admin_web(web_login)
    before = db_snapshot()
    assert web.post("/accounts/admin/users/new", data=NEW_OFFICER).status_code == 400
    assert db_snapshot() == before


def test_cli_and_admin_page_share_the_rules(app, users, parties):
    from click.testing import CliRunner  # noqa: PLC0415
    from flask.cli import ScriptInfo  # noqa: PLC0415

    from bos.cli import main  # noqa: PLC0415

    result = CliRunner().invoke(
        main,
        obj=ScriptInfo(create_app=lambda: app),
        args=["users", "create", "--role", "officer", "--buyer", "NO-SUCH-ORG", "--email", "x@bos.test",
              "--password", "long enough password"],
    )  # fmt: skip
    # The same service and message as the page's field error (the CLI speaks the default language, Indonesian).
    assert result.exit_code != 0 and "organisation: Tidak ada organisasi dengan pengenal ini." in result.output


def test_api_creates_lists_and_refuses_invalid_accounts(as_user, parties, db_snapshot):
    admin = as_user("admin")
    response = admin.post(
        "/api/v1/admin/users", json={**NEW_OFFICER, "role": "contractor", "organisation": "02.222.222.2-601.000"}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["organisation"]["id"] == parties.supplier2.id and body["active"] and "password" not in body
    page = admin.get("/api/v1/admin/users?role=contractor&limit=2").get_json()
    assert len(page["users"]) == 2 and page["next_cursor"]
    rest = admin.get(f"/api/v1/admin/users?role=contractor&limit=50&cursor={page['next_cursor']}").get_json()
    assert "new.officer@bos.test" in [u["email"] for u in rest["users"]]
    before = db_snapshot()
    response = admin.post("/api/v1/admin/users", json={**NEW_OFFICER, "email": "b@bos.test", "password": "x"})
    assert response.status_code == 422 and "password" in response.get_json()["errors"]
    response = admin.post("/api/v1/admin/users", json={"email": "c@bos.test"})
    assert response.status_code == 422 and {"role", "password"} <= set(response.get_json()["errors"]["json"])
    assert db_snapshot() == before


# ---------------------------------------------------------------------------------------------------- deactivation


def test_deactivated_user_cannot_sign_in_nor_use_tokens_until_reactivated(
    app, web_login, extract_csrf, users, client, db_session
):
    web = admin_web(web_login)
    officer_web = web_login("officer")  # signed in before the deactivation
    officer = users["officer"]
    headers = {"Authorization": f"Bearer {officer.token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    url = f"/accounts/admin/users/{officer.id}/active"
    assert post_form(web, "/accounts/admin/users", url, {"active": "false"}, extract_csrf).status_code == 302
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert officer_web.get("/manage").status_code == 302  # the open session ends too
    assert sign_in(app.test_client(), extract_csrf, officer.email, PASSWORD).status_code == 401
    assert [e.object_id for e in audit(db_session, "deactivate_user")] == [officer.id]
    assert audit(db_session, "deactivate_user")[0].user_id == users["admin"].id
    html = web.get("/accounts/admin/users?active=false").get_data(as_text=True)
    assert "officer@bos.test" in html and "monitor@bos.test" not in html

    assert post_form(web, "/accounts/admin/users", url, {"active": "true"}, extract_csrf).status_code == 302
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert web_login("officer").get("/manage").status_code == 200
    assert [e.object_id for e in audit(db_session, "reactivate_user")] == [officer.id]


def test_admin_cannot_deactivate_themselves(web_login, extract_csrf, users, as_user, db_snapshot):
    web = admin_web(web_login)
    before = db_snapshot()
    url = f"/accounts/admin/users/{users['admin'].id}/active"
    response = post_form(web, "/accounts/admin/users", url, {"active": "false"}, extract_csrf)
    assert response.status_code == 409
    response = as_user("admin").patch(f"/api/v1/admin/users/{users['admin'].id}", json={"active": False})
    assert response.status_code == 409
    assert db_snapshot() == before


def test_api_deactivates_and_revokes_tokens(as_user, users, client, db_session):
    admin, monitor = as_user("admin"), users["monitor"]
    headers = {"Authorization": f"Bearer {monitor.token}"}
    response = admin.patch(f"/api/v1/admin/users/{monitor.id}", json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert admin.patch(f"/api/v1/admin/users/{monitor.id}", json={"active": True}).get_json()["active"] is True
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = admin.post(f"/api/v1/admin/users/{monitor.id}/revoke-tokens")
    assert response.status_code == 200 and response.get_json() == {"revoked": 1}
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert admin.patch("/api/v1/admin/users/999999", json={"active": False}).status_code == 404
    assert admin.patch(f"/api/v1/admin/users/{monitor.id}", json={"active": "maybe"}).status_code == 422
    assert [e.action for e in db_session.scalars(select(AuditEntry).where(AuditEntry.object_id == monitor.id,
            AuditEntry.object_type == "users").order_by(AuditEntry.id))][-3:] == [
        "deactivate_user", "reactivate_user", "revoke_user_tokens"]  # fmt: skip


def test_revoking_a_users_tokens_on_the_page(web_login, extract_csrf, users, client, db_session):
    contractor = users["contractor"]
    url = f"/accounts/admin/users/{contractor.id}/revoke-tokens"
    response = post_form(admin_web(web_login), "/accounts/admin/users", url, {}, extract_csrf)
    assert response.status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {contractor.token}"}).status_code == 401
    db_session.expire_all()
    tokens = db_session.scalars(select(ApiToken).where(ApiToken.user_id == contractor.id)).all()
    assert tokens and all(t.revoked_at is not None for t in tokens)
    entry = audit(db_session, "revoke_user_tokens")[-1]
    assert entry.user_id == users["admin"].id and entry.object_id == contractor.id and '"count":1' in entry.detail


# ------------------------------------------------------------------------------------------------------- audit log


def test_audit_log_page_shows_entries_newest_first_with_filters(web_login, users, db_session, clock, as_user):
    from bos.accounts import service  # noqa: PLC0415

    admin, monitor = users["admin"], users["monitor"]
    service.record_audit(db_session, monitor, "annotate_flag", now=dt.datetime(2026, 11, 20, 3, tzinfo=dt.UTC))
    service.record_audit(db_session, admin, "dismiss_flag", now=dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC))
    service.record_audit(db_session, admin, "dismiss_flag", now=dt.datetime(2026, 11, 22, 3, tzinfo=dt.UTC))
    db_session.commit()
    web = admin_web(web_login)
    html = web.get("/accounts/admin/audit-log").get_data(as_text=True)
    assert html.index("22-11-2026") < html.index("21-11-2026") < html.index("20-11-2026")  # newest first
    html = web.get(f"/accounts/admin/audit-log?user={monitor.email}").get_data(as_text=True)
    assert "annotate_flag</code>" in html and "dismiss_flag</code>" not in html
    html = web.get("/accounts/admin/audit-log?action=dismiss_flag&date_from=2026-11-22&date_to=2026-11-22")
    text = html.get_data(as_text=True)
    assert "22-11-2026" in text and "21-11-2026" not in text and "annotate_flag</code>" not in text
    response = web.get("/accounts/admin/audit-log?date_from=2026-11-22&date_to=2026-11-01")
    assert response.status_code == 422 and 'data-field="date_to"' in response.get_data(as_text=True)
    response = web.get("/accounts/admin/audit-log?user=nobody@bos.test")
    assert response.status_code == 422 and 'data-field="user"' in response.get_data(as_text=True)

    api = as_user("admin")
    body = api.get("/api/v1/admin/audit-log?action=dismiss_flag&limit=1").get_json()
    assert [e["at"][:10] for e in body["entries"]] == ["2026-11-22"] and body["next_cursor"]
    body = api.get(f"/api/v1/admin/audit-log?action=dismiss_flag&limit=1&cursor={body['next_cursor']}").get_json()
    assert [e["at"][:10] for e in body["entries"]] == ["2026-11-21"] and body["entries"][0][
        "user_email"
    ] == admin.email
    assert api.get("/api/v1/admin/audit-log?cursor=garbage").status_code == 400


def test_local_days_bound_the_audit_dates(users, db_session, app):
    from bos.accounts import service  # noqa: PLC0415

    # 23:30 UTC on the 21st is already the 22nd in WIB (UTC+7).
    service.record_audit(db_session, users["admin"], "late", now=dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC))
    db_session.flush()
    with app.test_request_context():
        on_22 = service.AuditFilters(action="late", date_from=dt.date(2026, 11, 22), date_to=dt.date(2026, 11, 22))
        on_21 = service.AuditFilters(action="late", date_to=dt.date(2026, 11, 21))
        assert len(service.list_audit(db_session, users["admin"], on_22).entries) == 1
        assert service.list_audit(db_session, users["admin"], on_21).entries == []


# ------------------------------------------------------------------------------------------------------- OpenAPI


def test_openapi_declares_the_bearer_scheme_and_marks_protected_operations(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerToken"]["description"],
    }
    operations = {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }
    protected = [
        ("POST", "/api/v1/processes"),
        ("POST", "/api/v1/processes/{process_id}/awards"),
        ("POST", "/api/v1/processes/{process_id}/contracts/{contract_id}/transactions"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users"),
        ("PATCH", "/api/v1/admin/users/{user_id}"),
        ("GET", "/api/v1/admin/audit-log"),
        ("GET", "/api/v1/subscriptions"),
    ]
    public = [
        ("GET", "/api/v1/processes"),
        ("GET", "/api/v1/processes/{process_id}"),
        ("GET", "/api/v1/processes/{process_id}/bids"),
    ]
    for key in protected:
        assert operations[key]["security"] == [{"bearerToken": []}], key
    for key in public:
        assert "security" not in operations[key], key
    # Derived from the code that enforces it: every operation that can answer 401 declares the token, and only those.
    for key, operation in operations.items():
        assert ("security" in operation) == ("401" in operation["responses"]), key
    # Structurally valid: every security requirement names a declared scheme, every operation answers something.
    schemes = set(spec["components"]["securitySchemes"])
    for key, operation in operations.items():
        assert operation["responses"], key
        for requirement in operation.get("security", []):
            assert set(requirement) <= schemes and all(v == [] for v in requirement.values()), key
    assert spec["openapi"].startswith("3.") and spec["info"]["title"]
