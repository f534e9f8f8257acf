"""The public pages in a real browser: Playwright driving Debian's chromium against a live local server.

Skipped when chromium is not installed (`apt-get install chromium`; .ci/run installs it). Screenshots of the main
pages are kept in test-artifacts/ for people to look at.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from bos import create_app, migrate
from bos.db import make_engine
from bos.demo.seed import seed_database
from bos.enums import ProcessStage, UserRole

OFFICER_PASSWORD = "browser test password"
PLANNED: dict[str, int] = {}  # the process the officer's form test works on, set by live_server

CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free local port with its own seeded SQLite database (a real, committed one)."""
    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'bos.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        seed_database(session, processes=80, seed=9, today=dt.date(2026, 11, 23), ocid_prefix="ocds-test00")
        session.commit()
        PLANNED["id"] = _officer_of_a_planned_process(session)
        session.commit()
    app = create_app(
        {
            "DATABASE_URL": url,
            "BOS_ENGINE": engine,
            "CACHE_DIR": str(folder / "cache"),
            "UPLOAD_DIR": str(folder / "uploads"),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    engine.dispose()


def _officer_of_a_planned_process(session: Session) -> int:
    """An officer (officer@browser.test) of the buyer of a planned process that has no tender yet."""
    from sqlalchemy import select  # noqa: PLC0415

    from bos.accounts.service import create_user  # noqa: PLC0415
    from bos.tenders.models import Process  # noqa: PLC0415

    process = session.scalars(
        select(Process).where(Process.stage == ProcessStage.PLANNED, ~Process.tender.has()).order_by(Process.id)
    ).first()
    assert process is not None, "the seed has no planned process without a tender"
    create_user(
        session,
        email="officer@browser.test",
        name="Pejabat Pengadaan",
        role=UserRole.OFFICER,
        password=OFFICER_PASSWORD,
        organisation=process.buyer,
    )
    return process.id


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


def test_browse_list_open_a_process_and_switch_language(live_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(f"{live_server}/")
    assert page.locator("h1").inner_text() == "Pengadaan publik"
    rows = page.locator("tbody tr")
    assert rows.count() == 50
    page.screenshot(path=str(ARTIFACTS / "index-phone-id.png"), full_page=False)

    page.select_option("select[name=stage]", "completed")
    page.click("button[type=submit]")
    assert "stage=completed" in page.url
    first = page.locator("tbody tr a").first
    title = first.inner_text()
    first.click()
    assert page.locator("h1").inner_text() == title
    assert page.locator("text=Penawaran").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "detail-phone-id.png"), full_page=True)

    page.click("header .lang a:text-is('EN')")
    assert page.locator("h1").inner_text() == title
    assert page.locator("text=Bids").first.is_visible()
    page.goto(f"{live_server}/")
    assert page.locator("h1").inner_text() == "Public procurement"
    page.close()


def test_open_tender_page_shows_only_the_bid_count(live_server, browser):
    page = browser.new_page()
    page.goto(f"{live_server}/?stage=open&lang=en")
    page.locator("tbody tr a").first.click()
    sealed = page.locator(".sealed")
    assert sealed.is_visible()
    assert "sealed" in sealed.inner_text()
    assert page.locator("th:has-text('Bidder')").count() == 0
    page.close()


def test_tender_form_with_several_lines_on_a_phone(live_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{live_server}/account/login?lang=en")
    page.fill("#email", "officer@browser.test")
    page.fill("#password", OFFICER_PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{live_server}/manage/processes/{PLANNED['id']}?lang=en")
    form = page.locator("#step-create_tender")
    assert form.is_visible(), "the planned process offers no tender form"

    # One blank line to start with; "add a line" adds rows in place (the script), numbered for the server.
    assert form.locator("input[name$='-description'][name^='items-']").count() == 1
    form.locator("button[name=add_line][value=items]").click()
    form.locator("button[name=add_line][value=items]").click()
    assert form.locator("input[name='items-2-description']").count() == 1
    form.locator("button[name=add_line][value=documents]").click()
    assert form.locator("input[type=file][name='documents-1-file']").count() == 1

    # Everything fits the phone's width: nothing scrolls sideways, inputs are wide enough to type in.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = form.locator("input[name='items-2-quantity']").bounding_box()
    assert box is not None and box["width"] >= 250 and box["x"] + box["width"] <= 390

    form.locator("#create_tender-title").fill("Pengadaan ATK")
    form.locator("#create_tender-procurement_method_details").fill("Tender")
    form.locator("#create_tender-value_amount").fill("25000000")
    for n, (description, quantity) in enumerate([("Kertas A4", "100"), ("Tinta", "20"), ("Map", "500")]):
        form.locator(f"input[name='items-{n}-description']").fill(description)
        form.locator(f"input[name='items-{n}-classification_id']").fill("32129")
        form.locator(f"input[name='items-{n}-quantity']").fill(quantity)
        form.locator(f"input[name='items-{n}-unit_name']").fill("unit")
    form.locator("input[name='items-1-quantity']").fill("dua puluh")  # refused: the page comes back as typed
    form.locator("#create_tender-tender_period_end").fill("2030-01-31T15:00")
    with page.expect_navigation():
        form.locator("button[type=submit]:not([name])").click()
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert "Item line 2: Quantity" in summary.inner_text()
    assert page.locator("#step-create_tender input[name='items-2-description']").input_value() == "Map"
    page.screenshot(path=str(ARTIFACTS / "tender-form-phone-error.png"), full_page=True)

    page.locator("#step-create_tender input[name='items-1-quantity']").fill("20")
    with page.expect_navigation():
        page.locator("#step-create_tender button[type=submit]:not([name])").click()
    assert "Saved" in page.locator(".flash").inner_text()
    assert page.locator("#step-update_tender input[name='items-2-description']").input_value() == "Map"
    page.close()
