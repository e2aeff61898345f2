"""Signing in with the council's account in a real browser: Chromium goes from carewatch's
sign-in page to the council's provider (tests/fakes/oidc_provider.py, on loopback), presses
Continue there, and comes back signed in, as a manager and as an officer; someone whose
account has no carewatch role is shown whom to ask. axe-core checks carewatch's pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from playwright.async_api import Browser, expect

from app.config import Settings
from app.main import create_app
from app.services import build_services
from tests.fakes.oidc_provider import FakeOidcProvider, Person
from tests.web.conftest import council_settings
from tests.web.test_browser import Session, _free_port, _new_session, browser

pytestmark = pytest.mark.slow
__all__ = ["browser"]  # the Chromium fixture, shared with the other browser tests


@pytest.fixture
async def council_site(settings: Settings, oidc_provider: FakeOidcProvider) -> AsyncIterator[str]:
    """carewatch over real HTTP, signing people in through the provider."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    configured = council_settings(settings, oidc_provider, base_url=base)
    services = build_services(configured)
    app = create_app(configured, services)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    oidc_provider.interactive = True
    yield base
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=15)


async def _through_the_provider(tab: Session) -> None:
    await tab.goto("/")
    await expect(tab.page.get_by_role("heading", name="Sign in to carewatch")).to_be_visible()
    await tab.assert_accessible()
    await tab.page.get_by_role("button", name="Sign in with your council account").click()
    await expect(tab.page.get_by_role("heading", name="Council sign-in")).to_be_visible()
    await tab.page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize(
    ("person", "label"),
    [
        (
            Person(
                sub="b1-manager",
                email="asha.patel@council.gov.uk",
                name="Asha Patel",
                roles=["Carewatch.Manager"],
            ),
            "(Manager)",
        ),
        (
            Person(
                sub="b2-officer",
                email="sam.okafor@council.gov.uk",
                name="Sam Okafor",
                roles=["Carewatch.Officer"],
            ),
            "(Officer)",
        ),
    ],
    ids=["manager", "officer"],
)
async def test_signing_in_with_the_council_account(
    council_site: str,
    browser: Browser,
    oidc_provider: FakeOidcProvider,
    person: Person,
    label: str,
) -> None:
    oidc_provider.person = person
    tab = await _new_session(browser, council_site)
    await _through_the_provider(tab)
    await expect(tab.page.get_by_role("heading", name="Provider intelligence")).to_be_visible()
    assert tab.page.url == council_site + "/"
    navigation = tab.page.get_by_role("navigation", name="Menu")
    await expect(navigation).to_contain_text(person.name)
    await expect(navigation).to_contain_text(label)
    await tab.assert_accessible()
    # Signing out ends carewatch's session; the next page asks to sign in again.
    await tab.page.get_by_role("button", name="Sign out").click()
    await expect(tab.page.get_by_role("heading", name="Sign in to carewatch")).to_be_visible()


async def test_no_carewatch_role_is_refused_with_whom_to_ask(
    council_site: str, browser: Browser, oidc_provider: FakeOidcProvider
) -> None:
    oidc_provider.person = Person(
        sub="b3-none", email="new.starter@council.gov.uk", name="New Starter", roles=["Other"]
    )
    tab = await _new_session(browser, council_site)
    await _through_the_provider(tab)
    await expect(
        tab.page.get_by_role("heading", name="You do not have access to carewatch yet")
    ).to_be_visible()
    await expect(tab.page.get_by_text("the commissioning team's systems lead")).to_be_visible()
    # Chromium logs the page's own 403 as a console error: expected here.
    assert all("status of 403" in message for message in tab.console_errors)
    tab.console_errors.clear()
    await tab.assert_accessible()
