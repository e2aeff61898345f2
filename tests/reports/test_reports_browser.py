"""The reports page in a real browser on the demo council, with axe-core on it and on its
error answer, and a PDF downloaded from it."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.web.test_browser import OFFICER, _new_session, browser, live_site

pytestmark = pytest.mark.slow
__all__ = ["browser", "live_site"]  # the fixtures this module uses
MANAGER = "ruth.penrose@carewatch-demo.gov.uk"


async def test_the_reports_page_in_the_browser(live_site: str, browser: Browser) -> None:
    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.sign_in(MANAGER)
    await page.get_by_role("link", name="Reports").first.click()
    await expect(
        page.get_by_role("heading", name="Quarterly market quality report")
    ).to_be_visible()
    await tab.assert_accessible()
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download as PDF").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("market-quality-report-")
    await page.goto(live_site + "/reports/quarterly?quarter=nonsense&format=pdf")
    await expect(page.locator(".govuk-error-summary")).to_contain_text("Choose a quarter")
    tab.console_errors.clear()  # the 400 itself
    await tab.assert_accessible()


async def test_an_officer_has_no_reports_link(live_site: str, browser: Browser) -> None:
    tab = await _new_session(browser, live_site)
    await tab.sign_in(OFFICER)
    await expect(tab.page.get_by_role("link", name="Reports")).to_have_count(0)
