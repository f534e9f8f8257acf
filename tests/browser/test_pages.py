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
    app = create_app({"DATABASE_URL": url, "BOS_ENGINE": engine, "CACHE_DIR": str(folder / "cache")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    engine.dispose()


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
