"""The workplace pages in a real browser (Playwright, Debian's Chromium, axe-core on every
page): a manager onboards a provider with a CQC location and an officer, choosing its
localities from the council's list, then removes the location, which stays as history;
a manager resolves a concern found in everyone's work and re-opens it; an admin
deactivates a leaver and reassigns their provider. Each checks what the officer then
sees and what the API returns. The demo council is served by uvicorn with the fake CQC
on a real socket beside it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, expect
from pydantic import SecretStr

from app.config import Settings
from app.demo import seed_demo
from app.main import create_app
from app.services import build_services
from tests.fakes.cqc_server import FakeCqc
from tests.web.test_browser import (
    DEMO_PASSWORD,
    OFFICER,
    _free_port,
    _new_session,
    browser,  # noqa: F401  (the fixture, shared with the officer's day)
)

pytestmark = pytest.mark.slow

MANAGER = "ruth.penrose@carewatch-demo.gov.uk"
ADMIN = "service.admin@carewatch-demo.gov.uk"
LEAVER = "daniel.okafor@carewatch-demo.gov.uk"
SUCCESSOR = "asha.patel@carewatch-demo.gov.uk"
CQC_KEY = "browser-cqc-key"
NEW_LOCATION = "1-555000222"


async def _serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
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
    return server, task, f"http://127.0.0.1:{port}"


async def _stop(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def live_site(settings: Settings) -> AsyncIterator[str]:
    """The demo council over real HTTP, CQC polling on against the fake CQC."""
    fake = FakeCqc.from_fixtures(api_key=CQC_KEY)
    fake.add_location(NEW_LOCATION, name="Tamar Valley Care (Saltash)", rating="good")
    cqc_server, cqc_task, cqc_base = await _serve(fake.app())
    with_cqc = settings.model_copy(
        update={
            "cqc_api_key": SecretStr(CQC_KEY),
            "cqc_base_url": f"{cqc_base}/public/v1",
            "cqc_requests_per_minute": 2000,
        }
    )
    assert await seed_demo(with_cqc) == 0
    app_server, app_task, base = await _serve(create_app(with_cqc, build_services(with_cqc)))
    yield base
    await _stop(app_server, app_task)
    await _stop(cqc_server, cqc_task)


async def _api(base: str, email: str, path: str) -> Any:
    async with httpx.AsyncClient(base_url=base) as client:
        token = (
            await client.post(
                "/api/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD}
            )
        ).json()["access_token"]
        answer = await client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        return answer.json()


async def test_a_provider_onboarded_with_a_location_and_an_officer(
    live_site: str,
    browser: Browser,  # noqa: F811
) -> None:
    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.sign_in(MANAGER)
    await page.get_by_role("link", name="Add a provider").click()
    await expect(page.get_by_role("heading", name="Add a provider")).to_be_visible()
    await tab.assert_accessible()
    await page.get_by_label("Provider name").fill("Tamar Valley Care")
    await page.get_by_label("Block").check()
    # The localities are the council's list, as checkboxes.
    await page.get_by_role("checkbox", name="Central").check()
    await page.get_by_role("checkbox", name="North").check()
    await page.get_by_label("Contracted hours a week").fill("260")
    await page.get_by_label("Contract officer (optional)").select_option(
        label="Megan Trelawny (officer)"
    )
    await page.get_by_role("button", name="Add the provider").click()
    await expect(page.get_by_text("The provider was added.")).to_be_visible()
    await expect(page.get_by_role("heading", name="Tamar Valley Care")).to_be_visible()
    provider_id = int(page.url.rsplit("/", 1)[1])
    await tab.assert_accessible()

    await page.get_by_role("link", name="Add a CQC location").click()
    await tab.assert_accessible()
    await page.get_by_label("CQC location ID").fill(NEW_LOCATION)
    await page.get_by_role("button", name="Add the location").click()
    await expect(page.get_by_text("CQC rates it good")).to_be_visible()
    locations = page.get_by_role("region", name="CQC locations")
    await expect(locations).to_contain_text("Tamar Valley Care (Saltash)")
    await tab.assert_accessible()

    # The officer finds the new provider in their week (its first visit is due now).
    officer = await _new_session(browser, live_site)
    await officer.sign_in(OFFICER)
    await officer.page.get_by_role("link", name="My work").click()
    await expect(officer.page.get_by_role("heading", name="My work")).to_be_visible()
    visits = officer.page.get_by_role("table", name="Visits due")
    await expect(visits).to_contain_text("Tamar Valley Care")
    await officer.assert_accessible()

    provider = await _api(live_site, MANAGER, f"/providers/{provider_id}")
    assert provider["contract_type"] == "block" and provider["weekly_hours"] == 260
    assert sorted(provider["localities"]) == ["Central", "North"]
    users = await _api(live_site, ADMIN, "/users?limit=100")
    megan = next(u for u in users["items"] if u["email"] == OFFICER)
    assert provider["contract_officer_id"] == megan["id"]
    placed = await _api(live_site, MANAGER, f"/providers/{provider_id}/locations")
    assert [(p["cqc_location_id"], p["overall_rating"]) for p in placed["items"]] == [
        (NEW_LOCATION, "good")
    ]

    # The edit page ticks the provider's own localities.
    await tab.goto(f"/providers/{provider_id}/edit")
    await expect(page.get_by_role("checkbox", name="Central")).to_be_checked()
    await expect(page.get_by_role("checkbox", name="East")).not_to_be_checked()
    await tab.assert_accessible()

    # Removed, the location is kept with its rating, as the provider's history.
    await tab.goto(f"/providers/{provider_id}")
    await page.get_by_role("link", name="Remove Tamar Valley Care (Saltash)").click()
    await tab.assert_accessible()
    await page.get_by_role("button", name="Remove the location").click()
    await expect(page.get_by_text("was removed from the contract")).to_be_visible()
    await expect(page.get_by_role("heading", name="Taken off the contract")).to_be_visible()
    await page.get_by_text("Tamar Valley Care (Saltash) (1-555000222), removed on").click()
    await expect(page.locator("details.govuk-details[open]")).to_contain_text("Good")
    await tab.assert_accessible()
    placed = await _api(live_site, MANAGER, f"/providers/{provider_id}/locations")
    assert placed["items"] == []
    ratings = await _api(live_site, MANAGER, f"/providers/{provider_id}/ratings")
    assert [r["overall_rating"] for r in ratings["items"]] == ["good"]


async def test_a_concern_from_everyones_work_resolved_and_reopened(
    live_site: str,
    browser: Browser,  # noqa: F811
) -> None:
    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.sign_in(MANAGER)
    await page.get_by_role("link", name="My work").click()
    await expect(page.get_by_role("heading", name="Everyone’s work")).to_be_visible()
    await tab.assert_accessible()
    # Each concern links to its own page.
    concern = page.get_by_role("table", name="Open concerns").locator('a[href^="/concerns/"]')
    await concern.first.click()
    await expect(page).to_have_url(re.compile(r"/concerns/\d+$"))
    concern_id = int(page.url.rsplit("/", 1)[1])
    await page.get_by_role("link", name="Resolve the concern").click()
    await page.get_by_label("How it was resolved").fill("Rotas checked for four weeks")
    await page.get_by_role("button", name="Resolve the concern").click()
    await expect(page.get_by_text("The concern was saved.")).to_be_visible()
    await page.get_by_role("link", name="Re-open the concern").click()
    await expect(page.get_by_role("heading", name="Re-open the concern")).to_be_visible()
    await tab.assert_accessible()
    await page.get_by_role("button", name="Re-open the concern").click()
    await expect(page.get_by_text("The concern was saved.")).to_be_visible()
    await expect(page.get_by_role("link", name="Resolve the concern")).to_be_visible()
    await tab.assert_accessible()
    read = await _api(live_site, MANAGER, f"/concerns/{concern_id}")
    assert read["status"] == "open" and read["closed_on"] is None


async def test_an_officer_reassigned_after_a_leaver_is_deactivated(
    live_site: str,
    browser: Browser,  # noqa: F811
) -> None:
    leaver = await _new_session(browser, live_site)
    await leaver.sign_in(LEAVER)

    admin = await _new_session(browser, live_site)
    page = admin.page
    await admin.sign_in(ADMIN)
    await page.get_by_role("link", name="Users").click()
    await expect(page.get_by_role("heading", name="User accounts")).to_be_visible()
    await admin.assert_accessible()
    await page.get_by_role("link", name="Daniel Okafor").click()
    await admin.assert_accessible()
    await page.get_by_label("Deactivated: a leaver").check()
    await page.get_by_role("button", name="Save the account").click()
    await expect(page.get_by_text("The account of Daniel Okafor was saved.")).to_be_visible()
    await expect(page.get_by_role("heading", name="Providers to reassign")).to_be_visible()
    await admin.assert_accessible()

    # The leaver is signed out at their very next request.
    await leaver.page.reload()
    await expect(leaver.page.get_by_role("heading", name="Sign in to carewatch")).to_be_visible()

    reassign = page.get_by_role("link", name="Choose a new contract officer for").first
    provider_name = (await reassign.inner_text()).split(" for ", 1)[1]
    await reassign.click()
    await admin.assert_accessible()
    await page.get_by_label("Contract officer").select_option(label="Asha Patel (officer)")
    await page.get_by_role("button", name="Save the contract officer").click()
    await expect(page.get_by_text("The contract officer was changed.")).to_be_visible()
    provider_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("dl.govuk-summary-list")).to_contain_text("Asha Patel")

    successor = await _new_session(browser, live_site)
    await successor.sign_in(SUCCESSOR)
    # The dashboard opens on the officer's own providers: the reassigned one is there.
    providers = successor.page.get_by_role("region", name="Providers")
    await expect(providers).to_contain_text(provider_name)
    await successor.goto(f"/providers/{provider_id}")
    await expect(successor.page.locator("dl.govuk-summary-list")).to_contain_text("Asha Patel")
    await successor.goto("/my-work")
    await expect(successor.page.get_by_role("heading", name="My work")).to_be_visible()
    await successor.assert_accessible()

    provider = await _api(live_site, ADMIN, f"/providers/{provider_id}")
    users = await _api(live_site, ADMIN, "/users?limit=100")
    by_email = {u["email"]: u for u in users["items"]}
    assert provider["contract_officer_id"] == by_email[SUCCESSOR]["id"]
    assert by_email[LEAVER]["active"] is False
