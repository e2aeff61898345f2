"""/docs in a real browser (Debian's Chromium through Playwright, as tests/web does):
Swagger UI renders the API from the app's own files, every request stays on the app's
origin, and the strict Content-Security-Policy refuses nothing the page needs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright, expect

from app.config import Settings
from app.main import create_app
from app.services import Services

CHROMIUM = Path(os.environ.get("CAREWATCH_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    if os.environ.get("CAREWATCH_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"Chromium is required for the browser tests: {CHROMIUM} is missing")
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow


@pytest.fixture
async def served(settings: Settings, services: Services) -> AsyncIterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, services), host="127.0.0.1", port=port, log_level="warning"
        )
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
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        await launched.close()


async def test_swagger_ui_renders_offline_under_the_strict_policy(
    served: str, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))

    await page.goto(served + "/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("carewatch")
    await expect(page.locator(".opblock").first).to_be_visible()
    assert await page.locator(".opblock").count() > 20  # every operation is listed
    await expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    # Opening an operation works (Swagger UI's scripts run, not just its markup).
    await page.locator(".opblock-summary").first.click()
    await expect(page.locator(".opblock-body").first).to_be_visible()

    assert problems == [], problems  # a CSP refusal is reported here
    assert requested and all(url.startswith(served + "/") for url in requested), requested
    await context.close()
