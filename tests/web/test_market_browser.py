"""The locality pages in a real browser on the demo council, with axe-core on each."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.web.test_browser import OFFICER, _new_session, browser, live_site

pytestmark = pytest.mark.slow
__all__ = ["browser", "live_site"]  # the fixtures this module uses


async def test_the_localities_in_the_browser(live_site: str, browser: Browser) -> None:
    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.sign_in(OFFICER)
    await page.get_by_role("link", name="Localities").first.click()
    await expect(page.get_by_role("heading", name="Localities")).to_be_visible()
    await expect(page.locator("#main-content tbody tr")).to_have_count(6)
    await tab.assert_accessible()
    await page.get_by_role("link", name="Devonport and Stonehouse").click()
    await expect(page.get_by_text("Locality Partner (lead)")).to_be_visible()
    await tab.assert_accessible()
    await page.get_by_role("link", name="Count the waiting list").click()
    await page.get_by_label("People awaiting a package of care").fill("")
    await page.get_by_role("button", name="Save").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Enter people awaiting a package of care")
    assert all("status of 400" in message for message in tab.console_errors)
    tab.console_errors.clear()
    await tab.assert_accessible()
    await page.get_by_label("People awaiting a package of care").fill("9")
    await page.get_by_label("Hours of care a week they wait for").fill("70")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("The waiting list count was saved.")).to_be_visible()
    # The provider whose missed visits went red twice: its trend, and why it escalated.
    await page.goto(live_site + "/localities")
    await page.get_by_role("link", name="South West").click()
    await page.get_by_role("link", name="Crownhill Companions").click()
    await expect(page.get_by_role("heading", name="Call monitoring")).to_be_visible()
    await expect(page.locator("#main-content")).to_contain_text(
        "Missed visits were in the red band two months running"
    )
    await tab.assert_accessible()
