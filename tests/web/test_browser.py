"""The pages in a real browser: Playwright drives Debian's Chromium (headless) against the
app served by uvicorn on the demo council. axe-core checks every page it visits; the
screenshots of the dashboard and a provider page are saved under docs/screenshots/.

Chromium is installed by .ci/run, which sets CAREWATCH_REQUIRE_BROWSER=1 so that a missing
browser fails CI instead of skipping."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect

from app.config import Settings
from app.demo import seed_demo
from app.main import create_app
from app.services import build_services
from tests.conftest import ROOT

CHROMIUM = Path(os.environ.get("CAREWATCH_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "web" / "vendor" / "axe.min.js"
# `make screenshots` refreshes the README's pictures; other runs keep theirs in a temp dir.
SAVE_SCREENSHOTS = os.environ.get("CAREWATCH_SCREENSHOTS") == "1"
DEMO_PASSWORD = "demo-password-change-me"
OFFICER = "megan.trelawny@carewatch-demo.gov.uk"
VIEWER = "viewer.account@carewatch-demo.gov.uk"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():
    if os.environ.get("CAREWATCH_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"Chromium is required for the browser tests: {CHROMIUM} is missing")
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def live_site(settings: Settings) -> AsyncIterator[str]:
    """The demo council served over real HTTP by uvicorn, on the real clock."""
    os.environ.pop("CAREWATCH_DEMO_PASSWORD", None)
    assert await seed_demo(settings) == 0
    services = build_services(settings)
    app = create_app(settings, services)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


class Session:
    """One browser tab, collecting what the console reports (CSP refusals included)."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.console_errors: list[str] = []
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def sign_in(self, email: str) -> None:
        await self.goto("/login")
        await self.page.get_by_label("Email address").fill(email)
        await self.page.get_by_label("Password").fill(DEMO_PASSWORD)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("heading", name="Provider intelligence")).to_be_visible()

    async def axe_violations(self) -> list[dict[str, Any]]:
        """axe-core over the page as it stands. Injected through the DevTools protocol, so
        the page's own Content-Security-Policy stays in force."""
        await self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
        result: dict[str, Any] = await self.page.evaluate("async () => await axe.run(document)")
        return [
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "nodes": [node["target"] for node in violation["nodes"]][:5],
            }
            for violation in result["violations"]
        ]

    async def assert_accessible(self) -> None:
        violations = await self.axe_violations()
        assert violations == [], f"{self.page.url}: {violations}"
        enhanced = await self.page.evaluate(
            "document.body.classList.contains('govuk-frontend-supported')"
        )
        assert enhanced, "init.js did not run (blocked by the CSP?)"
        assert self.console_errors == [], self.console_errors


async def _new_session(browser: Browser, base: str) -> Session:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    return Session(await context.new_page(), base)


async def test_an_officers_day_in_the_browser(
    live_site: str, browser: Browser, tmp_path: Path
) -> None:
    screenshots = ROOT / "docs" / "screenshots" if SAVE_SCREENSHOTS else tmp_path
    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.goto("/")
    assert page.url.startswith(live_site + "/login")
    await tab.assert_accessible()

    await tab.sign_in(OFFICER)
    await expect(page.locator("#main-content tbody th a").first).to_be_visible()
    await tab.assert_accessible()
    screenshots.mkdir(parents=True, exist_ok=True)
    await page.goto(live_site + "/?officer=all")
    await page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
    # A council laptop's width, with the demo's providers: no sideways scrolling, of the
    # page or of the provider table inside its wrapper.
    widths = await page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            viewport: document.documentElement.clientWidth,
            tables: [...document.querySelectorAll('.cw-table-wrapper')].map(
                (wrapper) => wrapper.scrollWidth - wrapper.clientWidth),
        })"""
    )
    assert widths["page"] <= widths["viewport"] <= 1280, widths
    assert widths["tables"] and all(extra <= 0 for extra in widths["tables"]), widths

    # Filter to routine monitoring, sort by worst rating, and open the provider at the top.
    await page.get_by_label("Monitoring level").select_option("routine")
    await page.get_by_role("button", name="Apply filters").click()
    await page.get_by_role("link", name="Worst CQC rating").click()
    await page.get_by_role("link", name="Worst CQC rating").click()  # descending
    await expect(page.locator("th[aria-sort='descending']")).to_have_count(1)
    await page.locator("#main-content tbody th a").first.click()
    await expect(page.get_by_role("heading", name="CQC locations")).to_be_visible()
    provider_url = page.url
    await tab.assert_accessible()

    # Log a contract meeting; it appears on the timeline.
    await page.get_by_role("link", name="Log a visit or contract meeting").click()
    await tab.assert_accessible()
    await page.get_by_label("Face to face").check()
    await page.get_by_label("Purpose").fill("Browser-logged contract meeting")
    await page.get_by_label("Good").check()
    await page.get_by_label("Findings (optional)").fill("Rota covered; spot checks fine")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("The visit was saved.")).to_be_visible()
    await expect(page.locator("#timeline-list")).to_contain_text("Browser-logged contract meeting")

    # A form error is shown in the error summary, which takes the focus.
    await page.get_by_role("link", name="Record a complaint").click()
    received = page.get_by_role("group", name="Date received")
    await received.get_by_label("Day").fill("")
    await received.get_by_label("Month").fill("")
    await received.get_by_label("Year").fill("2026")
    await page.get_by_role("button", name="Save").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_be_visible()
    await expect(summary).to_contain_text("Date received must include a day and month")
    await expect(summary).to_contain_text("Enter subject")
    await expect(summary).to_be_focused()
    # Chromium logs the page's own 400 as a console error: expected here, and only here.
    assert all("status of 400" in message for message in tab.console_errors)
    tab.console_errors.clear()
    await tab.assert_accessible()
    await summary.get_by_role("link", name="Enter subject").click()
    await expect(page.get_by_label("Subject")).to_be_focused()
    await summary.get_by_role("link", name="Date received must include a day and month").click()
    await expect(received.get_by_label("Day")).to_be_focused()

    # A safeguarding, through its form.
    await page.goto(provider_url)
    await page.get_by_role("link", name="Record a safeguarding concern").click()
    await page.get_by_label("Reference in the safeguarding system").fill("SG-BROWSER-77")
    await page.get_by_label("Category").select_option("neglect")
    await page.get_by_label("Summary (optional)").fill("Browser test: missed medication")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("The safeguarding was saved.")).to_be_visible()
    await expect(page.get_by_role("region", name="Safeguardings")).to_contain_text("SG-BROWSER-77")

    # A whole-service concern escalates; the banner says so and why.
    await page.get_by_role("link", name="Raise a concern").click()
    await page.get_by_label("Description").fill("Missed calls across the whole service")
    await page.get_by_label("This is a whole-service concern").check()
    await page.get_by_role("button", name="Save").click()
    banner = page.locator(".govuk-notification-banner--important")
    await expect(banner).to_contain_text("intensive monitoring")
    await expect(banner).to_contain_text(
        "An open concern or safeguarding is about the whole service"
    )
    await tab.assert_accessible()
    await page.screenshot(path=str(screenshots / "provider.png"), full_page=True)

    await tab.goto("/alerts")
    await expect(page.get_by_role("heading", name="Alert emails")).to_be_visible()
    await tab.assert_accessible()

    # An address that does not exist is a page in the service's look, with a way back.
    await tab.goto("/providers/abc")
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert all("status of 404" in message for message in tab.console_errors)
    tab.console_errors.clear()
    await tab.assert_accessible()
    await page.get_by_role("link", name="Go to the dashboard").click()
    await expect(page.get_by_role("heading", name="Provider intelligence")).to_be_visible()

    # A viewer opening the same provider sees counts, not the safeguarding.
    viewer = await _new_session(browser, live_site)
    await viewer.sign_in(VIEWER)
    await viewer.page.goto(provider_url)
    await expect(viewer.page.get_by_text("Your role sees counts only")).to_be_visible()
    assert "SG-BROWSER-77" not in await viewer.page.content()
    assert "missed medication" not in await viewer.page.content()
    await expect(viewer.page.get_by_role("link", name="Log a visit")).to_have_count(0)
    await viewer.assert_accessible()

    # Signing out ends the session.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to carewatch")).to_be_visible()
    await page.goto(provider_url)
    assert "/login" in page.url
