"""Monitor self-registration with email verification, and admin invitations: every mail goes through the account
outbox to a real SMTP server (aiosmtpd), and an outage loses nothing."""

from __future__ import annotations

import datetime as dt
import re

import orjson
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from bos.accounts import service
from bos.accounts.models import AccountMessage, AccountMessageStatus, AccountToken, User
from bos.cli import main
from bos.scheduler import registered_jobs, run_job
from tests.notifications.conftest import SMTPServer

PASSWORD = "a long enough password"
LINK = re.compile(r"http://bos\.test(/accounts/(?:verify|invite)/\S+)")


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(app, smtp, monkeypatch):
    # Argon2's production cost is half a second per hash; the tests need the same code, not the cost.
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    app.config.update(
        SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TIMEOUT=5, MAIL_FROM="accounts@bos.test",
        NOTIFY_MAX_ATTEMPTS=3, NOTIFY_RETRY_SECONDS=60, PUBLIC_BASE_URL="http://bos.test",
    )  # fmt: skip
    return app


@pytest.fixture
def web(mail_app):
    client = mail_app.test_client()
    client.set_cookie("lang", "en")
    return client


def deliver(app, now):
    result = run_job(app, registered_jobs()["deliver_account_messages"], now=now)
    assert result is not None and result.status == "succeeded", result and result.error
    return orjson.loads(result.stats)


def register(web, extract_csrf, **fields):
    token = extract_csrf(web.get("/accounts/register").get_data(as_text=True))
    data = {"name": "Rina", "email": "rina@icw.test", "affiliation": "ICW Jawa Timur", "password": PASSWORD,
            "password_repeat": PASSWORD, "csrf_token": token, **fields}  # fmt: skip
    return web.post("/accounts/register", data=data)


def login(web, extract_csrf, email, password=PASSWORD):
    token = extract_csrf(web.get("/account/login").get_data(as_text=True))
    return web.post("/account/login", data={"email": email, "password": password, "csrf_token": token})


def link_in(message):
    match = LINK.search(message.get_content())
    assert match, message.get_content()
    return match.group(1)


def user(db_session, email):
    db_session.expire_all()
    return db_session.scalars(select(User).where(User.email == email)).one_or_none()


def test_register_verify_by_mail_and_sign_in(web, mail_app, smtp, extract_csrf, clock, db_session):
    response = register(web, extract_csrf, email=" Rina@ICW.test")
    assert response.status_code == 200 and "rina@icw.test" in response.get_data(as_text=True)
    created = user(db_session, "rina@icw.test")
    assert created.role.value == "monitor" and created.affiliation == "ICW Jawa Timur"
    assert created.email_verified_at is None and created.organisation_id is None
    # Only the hash of the link's secret is stored.
    assert deliver(mail_app, clock.now) == {"sent": 1, "retrying": 0, "failed": 0}
    [message] = smtp.messages
    assert message["To"] == "rina@icw.test" and message["From"] == "accounts@bos.test"
    path = link_in(message)
    secret = path.rsplit("/", 1)[1]
    assert (
        db_session.scalar(select(func.count()).select_from(AccountToken).where(AccountToken.token_hash == secret)) == 0
    )
    sent = db_session.scalars(select(AccountMessage)).one()
    assert sent.status is AccountMessageStatus.SENT and secret not in sent.body  # the link is not kept once sent

    response = web.get(path)
    assert response.status_code == 302
    assert web.get("/account/tokens").status_code == 200  # signed in
    assert user(db_session, "rina@icw.test").email_verified_at == clock.now
    # The link is single use.
    other = mail_app.test_client()
    assert other.get(path).status_code == 410
    assert login(other, extract_csrf, "rina@icw.test").status_code == 302


def test_unverified_accounts_cannot_sign_in(web, mail_app, extract_csrf, clock, db_session):
    register(web, extract_csrf)
    response = login(web, extract_csrf, "rina@icw.test")
    assert response.status_code == 403
    assert "Confirm your email address first" in response.get_data(as_text=True)
    assert web.get("/account/tokens").status_code == 302
    # A wrong password says nothing about the account's state.
    response = login(web, extract_csrf, "rina@icw.test", "not the password")
    assert response.status_code == 401 and "Confirm" not in response.get_data(as_text=True)


def test_expired_and_unknown_links_are_refused(web, mail_app, smtp, extract_csrf, clock, db_session):
    register(web, extract_csrf)
    deliver(mail_app, clock.now)
    path = link_in(smtp.messages[0])
    assert web.get("/accounts/verify/not-a-token").status_code == 410
    clock.advance(hours=49)
    response = web.get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert user(db_session, "rina@icw.test").email_verified_at is None
    # Registering again sends a fresh link (same page, no new account); the old one stays dead.
    assert register(web, extract_csrf).status_code == 200
    deliver(mail_app, clock.now)
    fresh = link_in(smtp.messages[1])
    assert fresh != path and web.get(path).status_code == 410
    assert web.get(fresh).status_code == 302
    assert db_session.scalar(select(func.count()).select_from(User).where(User.email == "rina@icw.test")) == 1


def test_smtp_down_keeps_the_message_and_sends_it_later(web, mail_app, smtp, extract_csrf, clock, db_session):
    smtp.stop()
    register(web, extract_csrf)
    assert deliver(mail_app, clock.now) == {"sent": 0, "retrying": 1, "failed": 0}
    db_session.expire_all()
    row = db_session.scalars(select(AccountMessage)).one()
    assert row.status is AccountMessageStatus.PENDING and row.attempts == 1 and "SMTP" in row.last_error
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=60)
    assert deliver(mail_app, clock.now + dt.timedelta(seconds=30))["sent"] == 0  # not due yet
    smtp.start()
    assert deliver(mail_app, clock.now + dt.timedelta(seconds=61)) == {"sent": 1, "retrying": 0, "failed": 0}
    assert len(smtp.messages) == 1
    assert web.get(link_in(smtp.messages[0])).status_code == 302


def test_existing_email_gets_a_notice_and_the_same_page(web, mail_app, smtp, users, extract_csrf, clock, db_session):
    before = db_session.scalar(select(func.count()).select_from(User))
    response = register(web, extract_csrf, email="officer@bos.test")
    assert response.status_code == 200 and "Check your mail" in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(User)) == before
    deliver(mail_app, clock.now)
    [message] = smtp.messages
    assert message["To"] == "officer@bos.test" and "already exists" in message.get_content()
    assert "/accounts/verify/" not in message.get_content()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"name": "  "}, "name"),
        ({"password": "short", "password_repeat": "short"}, "password"),
        ({"password_repeat": "something else entirely"}, "password_repeat"),
        ({"affiliation": "x" * 201}, "affiliation"),
    ],
)
def test_bad_registrations_change_nothing(web, mail_app, extract_csrf, db_snapshot, fields, field):
    before = db_snapshot()
    response = register(web, extract_csrf, **fields)
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.get_data(as_text=True)
    assert db_snapshot() == before


def test_registration_needs_csrf(web, mail_app, db_snapshot):
    before = db_snapshot()
    data = {"name": "R", "email": "r@icw.test", "password": PASSWORD, "password_repeat": PASSWORD}
    assert web.post("/accounts/register", data=data).status_code == 400
    assert db_snapshot() == before


def test_registration_is_rate_limited(web, mail_app, extract_csrf, clock, db_session):
    for _ in range(service.MAX_REGISTRATIONS_PER_EMAIL):
        assert register(web, extract_csrf).status_code == 200
    assert register(web, extract_csrf).status_code == 429
    assert db_session.scalar(select(func.count()).select_from(AccountMessage)) == service.MAX_REGISTRATIONS_PER_EMAIL
    clock.advance(hours=1, seconds=1)
    assert register(web, extract_csrf).status_code == 200


def accept(web, extract_csrf, path, password=PASSWORD, repeat=PASSWORD):
    token = extract_csrf(web.get(path).get_data(as_text=True))
    return web.post(path, data={"password": password, "password_repeat": repeat, "csrf_token": token})


def test_admin_invites_by_web_and_the_invitee_sets_a_password(
    mail_app, smtp, web_login, extract_csrf, clock, db_session
):
    admin = web_login("admin")
    token = extract_csrf(admin.get("/accounts/invite").get_data(as_text=True))
    response = admin.post("/accounts/invite", data={"email": "Budi@Tempo.test", "name": "Budi", "csrf_token": token})
    assert response.status_code == 302
    invited = user(db_session, "budi@tempo.test")
    assert invited.password_hash is None and invited.email_verified_at is None and invited.role.value == "monitor"
    deliver(mail_app, clock.now)
    [message] = smtp.messages
    path = link_in(message)
    assert path.startswith("/accounts/invite/")

    web = mail_app.test_client()
    web.set_cookie("lang", "en")
    response = accept(web, extract_csrf, path, repeat="a different password")
    assert response.status_code == 422 and user(db_session, "budi@tempo.test").password_hash is None
    assert accept(web, extract_csrf, path).status_code == 302
    assert web.get("/account/tokens").status_code == 200
    assert user(db_session, "budi@tempo.test").email_verified_at == clock.now
    assert mail_app.test_client().get(path).status_code == 410  # single use
    assert login(mail_app.test_client(), extract_csrf, "budi@tempo.test").status_code == 302
    # The same email cannot be invited twice.
    token = extract_csrf(admin.get("/accounts/invite").get_data(as_text=True))
    assert admin.post("/accounts/invite", data={"email": "budi@tempo.test", "csrf_token": token}).status_code == 409


def test_invitation_links_expire(mail_app, smtp, users, extract_csrf, clock, db_session):
    with mail_app.test_request_context():
        service.invite_monitor(db_session, users["admin"], email="late@bos.test")
    db_session.commit()
    deliver(mail_app, clock.now)
    clock.advance(days=8)
    web = mail_app.test_client()
    assert web.get(link_in(smtp.messages[0])).status_code == 410


def test_only_admins_invite(mail_app, web_login, extract_csrf, db_snapshot):
    signed_in = {role: web_login(role) for role in ("monitor", "officer")}
    before = db_snapshot()
    for web in signed_in.values():
        assert web.get("/accounts/invite").status_code == 403
        token = extract_csrf(web.get("/account/tokens").get_data(as_text=True))
        response = web.post("/accounts/invite", data={"email": "x@bos.test", "csrf_token": token})
        assert response.status_code == 403
    assert mail_app.test_client().get("/accounts/invite").status_code == 302  # anonymous: to the sign-in page
    assert db_snapshot() == before


def test_bad_invitation_changes_nothing(mail_app, web_login, extract_csrf, db_snapshot):
    admin = web_login("admin")
    token = extract_csrf(admin.get("/accounts/invite").get_data(as_text=True))
    before = db_snapshot()
    response = admin.post("/accounts/invite", data={"email": "nope", "csrf_token": token})
    assert response.status_code == 422 and 'data-field="email"' in response.get_data(as_text=True)
    assert db_snapshot() == before


def test_cli_invites_a_monitor(mail_app, smtp, clock, db_session, db_snapshot, extract_csrf):
    def invoke(*args):
        return CliRunner().invoke(main, ["users", "invite", *args], obj=ScriptInfo(create_app=lambda: mail_app))

    result = invoke("--email", "Sari@kompas.test", "--name", "Sari")
    assert result.exit_code == 0, result.output
    assert "invited monitor sari@kompas.test" in result.output
    before = db_snapshot()
    result = invoke("--email", "sari@kompas.test")
    assert result.exit_code != 0 and "invited" not in result.output
    result = invoke("--email", "not an email")
    assert result.exit_code != 0 and "email:" in result.output
    assert db_snapshot() == before
    deliver(mail_app, dt.datetime.now(dt.UTC))
    [message] = smtp.messages
    assert message["To"] == "sari@kompas.test"
    web = mail_app.test_client()
    assert accept(web, extract_csrf, link_in(message)).status_code == 302


def test_register_page_speaks_indonesian_by_default(mail_app):
    html = mail_app.test_client().get("/accounts/register").get_data(as_text=True)
    assert "Daftar sebagai pemantau" in html and "Ulangi kata sandi" in html
