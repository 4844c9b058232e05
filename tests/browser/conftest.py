"""Browser tests: Playwright's Python package driving Debian's Chromium against a live server.

Playwright's own browser download does not work everywhere, so the tests use the
system Chromium (`apt-get install -y chromium`, or CHROMIUM_PATH). Where it is
absent they skip with a message saying how to install it; CI installs it.
Every test may save screenshots under var/screenshots/ for people to review.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.oidc_provider import oidc_provider, oidc_provider_process  # noqa: F401  (single sign-on's provider)

SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "pw-for-tests"  # what tests.factories.make_user sets
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    candidate = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if Path(candidate).exists() else None


@pytest.fixture(scope="package")
def browser():
    executable = chromium_path()
    if executable is None:
        if os.environ.get("REQUIRE_BROWSER_TESTS"):
            pytest.fail("CI must run the browser tests, and Chromium is not installed")
        pytest.skip("Chromium is not installed: `apt-get install -y chromium` (or set CHROMIUM_PATH) to run them")
    sync_api = pytest.importorskip("playwright.sync_api", reason="`make test` installs playwright")
    # Playwright's sync API keeps an event loop in the test thread while it runs; the ORM
    # calls the tests and their fixtures make there are still synchronous. Only here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot for review (var/ is ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
