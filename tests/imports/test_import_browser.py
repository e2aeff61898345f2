"""The import page in a real browser on the demo council: the blank tracker downloaded, a
tracker with mistakes refused with each named, a clean one previewed and confirmed, with
axe-core on every step."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from app.config import Settings
from app.services import build_services
from tests.imports.test_tracker import messy_tracker
from tests.web.test_browser import OFFICER, _new_session, browser, live_site

pytestmark = pytest.mark.slow
__all__ = ["browser", "live_site"]  # the fixtures this module uses
ADMIN = "service.admin@carewatch-demo.gov.uk"


def in_demo_localities(tracker: bytes) -> bytes:
    """The messy tracker with its providers in localities the demo council has."""
    book = load_workbook(BytesIO(tracker))
    for row in book["Providers"].iter_rows():
        for cell in row:
            if cell.value == "South":
                cell.value = "East"
    out = BytesIO()
    book.save(out)
    return out.getvalue()


async def test_an_admin_imports_a_tracker_in_the_browser(
    live_site: str, browser: Browser, settings: Settings, tmp_path: Path
) -> None:
    clock = build_services(settings)  # the messy tracker dates its rows from today
    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.sign_in(ADMIN)
    await page.get_by_role("link", name="Import").first.click()
    await expect(page.get_by_role("heading", name="Import the council's tracker")).to_be_visible()
    await tab.assert_accessible()

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download the blank tracker").click()
    blank = tmp_path / (await download_info.value).suggested_filename
    await (await download_info.value).save_as(blank)
    assert "Notes" in load_workbook(blank, read_only=True).sheetnames

    bad = tmp_path / "tracker-with-mistakes.xlsx"
    bad.write_bytes(messy_tracker(clock, officer=OFFICER, bad=True))
    await page.get_by_label("The tracker file").set_input_files(bad)
    await page.get_by_role("button", name="Check the tracker").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Nothing was stored")
    await expect(summary).to_contain_text("is not a date")
    await expect(page.get_by_role("button", name="Confirm the import")).to_have_count(0)
    tab.console_errors.clear()  # the refusal is a 400, as it should be
    await tab.assert_accessible()

    await tab.goto("/import")
    good = tmp_path / "tracker.xlsx"
    good.write_bytes(in_demo_localities(messy_tracker(clock, officer=OFFICER, bad=False)))
    await page.get_by_label("The tracker file").set_input_files(good)
    await page.get_by_role("button", name="Check the tracker").click()
    await expect(
        page.get_by_role("heading", name="What the import would do: tracker.xlsx")
    ).to_be_visible()
    await expect(page.locator("#main-content")).to_contain_text(
        "Moorland Care: from routine to enhanced monitoring"
    )
    await tab.assert_accessible()
    await page.get_by_role("button", name="Confirm the import").click()
    await expect(page.locator("#main-content")).to_contain_text("tracker.xlsx imported")
    await tab.assert_accessible()

    await tab.goto("/?officer=all&name=Moorland")
    await expect(page.get_by_role("link", name="Moorland Care")).to_be_visible()
