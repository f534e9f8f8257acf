"""Sign-in (argon2, rate limit, failures logged), API tokens (shown once, stored hashed, revocable) and the CLI."""

import logging

from sqlalchemy import func, select

from bos.accounts.models import ApiToken, LoginAttempt, User


def login(client, extract_csrf, email, password):
    token = extract_csrf(client.get("/account/login").get_data(as_text=True))
    return client.post("/account/login", data={"email": email, "password": password, "csrf_token": token})


def test_sign_in_and_out(client, users, extract_csrf):
    response = login(client, extract_csrf, "Officer@bos.test ", "correct horse battery")
    assert response.status_code == 302
    assert client.get("/manage").status_code == 200
    token = extract_csrf(client.get("/manage").get_data(as_text=True))
    assert client.post("/account/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/manage").status_code == 302


def test_passwords_are_stored_as_argon2_hashes(users, db_session):
    stored = db_session.scalar(select(User.password_hash).where(User.email == "officer@bos.test"))
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_failed_sign_ins_are_logged_recorded_and_rate_limited(client, users, extract_csrf, db_session, caplog):
    caplog.set_level(logging.WARNING, logger="bos.accounts.service")
    for _ in range(5):
        response = login(client, extract_csrf, "officer@bos.test", "wrong password")
        assert response.status_code == 401
    assert "failed sign-in: email=officer@bos.test" in caplog.text
    failures = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.succeeded.is_(False))
    assert db_session.scalar(failures) == 5  # kept although each response was an error
    # Now even the right password is refused for a while.
    response = login(client, extract_csrf, "officer@bos.test", "correct horse battery")
    assert response.status_code == 429
    assert client.get("/manage").status_code == 302
    # Another account from the same address is not locked out by these five.
    assert login(client, extract_csrf, "monitor@bos.test", "correct horse battery").status_code == 302


def test_unknown_email_fails_like_a_wrong_password(client, users, extract_csrf):
    response = login(client, extract_csrf, "nobody@bos.test", "whatever")
    assert response.status_code == 401
    assert "Wrong email or password" in login(client, extract_csrf, "nobody@bos.test", "x").get_data(as_text=True) or (
        "Email atau kata sandi salah" in response.get_data(as_text=True)
    )


def test_login_redirects_only_to_local_paths(client, users, extract_csrf):
    token = extract_csrf(client.get("/account/login").get_data(as_text=True))
    response = client.post(
        "/account/login",
        data={"email": "monitor@bos.test", "password": "correct horse battery", "csrf_token": token,
              "next": "https://evil.example/"},
    )  # fmt: skip
    assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_api_token_is_shown_once_stored_hashed_and_revocable(web_login, extract_csrf, client, db_session):
    web = web_login("monitor")
    token = extract_csrf(web.get("/account/tokens").get_data(as_text=True))
    html = web.post("/account/tokens", data={"name": "laptop", "csrf_token": token}).get_data(as_text=True)
    import re  # noqa: PLC0415

    secret = re.search(r'<code id="new-token">([^<]+)</code>', html).group(1)
    assert secret not in web.get("/account/tokens").get_data(as_text=True)  # shown once
    assert db_session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.token_hash == secret)) == 0
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).get_json()["email"] == "monitor@bos.test"
    row = db_session.scalars(select(ApiToken).where(ApiToken.name == "laptop")).one()
    token = extract_csrf(web.get("/account/tokens").get_data(as_text=True))
    assert web.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_nobody_revokes_another_users_token(web_login, extract_csrf, users, db_session):
    row = db_session.scalars(select(ApiToken).where(ApiToken.user_id == users["officer"].id)).first()
    web = web_login("admin")
    token = extract_csrf(web.get("/account/tokens").get_data(as_text=True))
    assert web.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": token}).status_code == 403
    db_session.expire_all()
    assert db_session.get(ApiToken, row.id).revoked_at is None


def test_bad_bearer_tokens_are_401(client, users):
    for header in ("Bearer nope", "Basic abc", "Bearer "):
        assert client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_cli_creates_users_bound_to_their_organisation(app, parties, db_session):
    from click.testing import CliRunner  # noqa: PLC0415
    from flask.cli import ScriptInfo  # noqa: PLC0415

    from bos.cli import main  # noqa: PLC0415

    class Runner:
        def invoke(self, args):
            return CliRunner().invoke(main, args, obj=ScriptInfo(create_app=lambda: app))

    runner = Runner()
    result = runner.invoke(
        args=["users", "create", "--role", "officer", "--buyer", "ID-KEMENDAGRI-99.01", "--email", "x@bos.test",
              "--password", "long enough password"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["users", "create", "--role", "contractor", "--supplier", "01.111.111.1-601.000", "--email",
              "c@bos.test", "--password", "long enough password"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    by_email = {u.email: u for u in db_session.scalars(select(User))}
    assert by_email["x@bos.test"].organisation_id == parties.buyer.id
    assert by_email["c@bos.test"].organisation_id == parties.supplier.id
    result = runner.invoke(
        args=["users", "create", "--role", "contractor", "--supplier", "ID-KEMENDAGRI-99.01", "--email",
              "bad@bos.test", "--password", "long enough password"],
    )  # fmt: skip
    assert result.exit_code != 0 and "organisation:" in result.output
    result = runner.invoke(args=["users", "token", "--email", "x@bos.test"])
    assert result.exit_code == 0 and result.output.startswith("bos_")
