"""Records to their end in a real browser (Chromium through Playwright, axe-core on every
new page): a safeguarding raised, under enquiry and closed by a safeguarding colleague; a
complaint to upheld; a whole-service concern resolved, then a manager's step-down without
override; a record marked entered in error. Each walk then asks the JSON API what it
holds, so the page and the API are seen to agree."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from tests.web.test_browser import (  # noqa: F401  (fixtures, used by name)
    DEMO_PASSWORD,
    OFFICER,
    Session,
    _new_session,
    browser,
    live_site,
)

SAFEGUARDING_COLLEAGUE = "sam.keane@carewatch-demo.gov.uk"
MANAGER = "ruth.penrose@carewatch-demo.gov.uk"


async def _api(base: str, email: str) -> httpx.AsyncClient:
    """A JSON API client signed in as a demo user."""
    client = httpx.AsyncClient(base_url=base + "/api/v1", timeout=30)
    token = await client.post("/auth/token", data={"username": email, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


async def _new_provider(api: httpx.AsyncClient, name: str) -> int:
    me = (await api.get("/auth/me")).json()
    made = await api.post(
        "/providers",
        json={"name": name, "contract_type": "spot", "contract_officer_id": me["id"]},
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _record_id(page: Page) -> int:
    found = re.search(r"/(\d+)$", page.url)
    assert found, page.url
    return int(found.group(1))


async def _open_newest_record(tab: Session) -> None:
    """Follow the newest timeline entry's link to its record's page."""
    timeline = tab.page.locator("#timeline-list")
    await timeline.get_by_role("link", name=re.compile("^Open the record")).first.click()
    await expect(tab.page.get_by_role("heading", name="History of changes")).to_be_visible()


async def test_a_safeguarding_from_raised_to_closed_and_a_record_entered_in_error(
    live_site: str,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    officer_api = await _api(live_site, OFFICER)
    colleague_api = await _api(live_site, SAFEGUARDING_COLLEAGUE)
    provider_id = await _new_provider(officer_api, "Browser Lifecycle Care")

    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.sign_in(SAFEGUARDING_COLLEAGUE)
    await tab.goto(f"/providers/{provider_id}")
    await page.get_by_role("link", name="Record a safeguarding concern").click()
    await page.get_by_label("Reference in the safeguarding system").fill("SG-LIFE-42")
    await page.get_by_label("Category").select_option("psychological")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("The safeguarding was saved.")).to_be_visible()

    await page.get_by_role("link", name="SG-LIFE-42").click()
    await expect(
        page.get_by_role("heading", name=re.compile("^Safeguarding raised"))
    ).to_be_visible()
    await expect(page.locator(".govuk-summary-list")).to_contain_text("Psychological")
    safeguarding_id = _record_id(page)
    await tab.assert_accessible()

    await page.get_by_role("link", name="Record the Section 42 enquiry").click()
    await tab.assert_accessible()
    await page.get_by_role("button", name="Save the enquiry").click()
    await expect(page.get_by_text("The safeguarding was saved.")).to_be_visible()
    await expect(page.locator(".govuk-summary-list")).to_contain_text("Enquiry")

    await page.get_by_role("link", name="Close the safeguarding").click()
    await tab.assert_accessible()
    await page.get_by_label("Partly substantiated").check()
    await page.get_by_label("Risk reduced").check()
    await page.get_by_role("button", name="Close the safeguarding").click()
    await expect(page.get_by_text("The safeguarding was saved.")).to_be_visible()
    details = page.locator(".govuk-summary-list")
    await expect(details).to_contain_text("Partly substantiated")
    await expect(details).to_contain_text("Risk reduced")
    history = page.get_by_role("region", name="History of changes")
    await expect(history).to_contain_text("Sam Keane")
    await tab.assert_accessible()

    held = (await colleague_api.get(f"/safeguardings/{safeguarding_id}")).json()
    assert (held["status"], held["outcome"], held["risk_outcome"], held["category"]) == (
        "closed",
        "partly_substantiated",
        "risk_reduced",
        "psychological",
    )
    assert held["enquiry_started_on"] is not None and held["closed_on"] is not None

    # An officer logs a compliment by mistake, then marks it entered in error.
    officer = await _new_session(browser, live_site)
    await officer.sign_in(OFFICER)
    await officer.goto(f"/providers/{provider_id}")
    await officer.page.get_by_role("link", name="Record a compliment").click()
    await officer.page.get_by_label("Summary").fill("Meant for another provider")
    await officer.page.get_by_role("button", name="Save").click()
    await expect(officer.page.get_by_text("The compliment was saved.")).to_be_visible()
    await _open_newest_record(officer)
    compliment_id = _record_id(officer.page)
    await officer.page.get_by_role("link", name="Mark as entered in error").click()
    await officer.assert_accessible()
    await officer.page.get_by_label("Why it was entered in error").fill(
        "Logged against the wrong provider"
    )
    await officer.page.get_by_role("button", name="Mark as entered in error").click()
    await expect(
        officer.page.get_by_text("The compliment was marked as entered in error.")
    ).to_be_visible()
    await expect(officer.page.locator("h1 del")).to_be_visible()  # struck through
    await expect(officer.page.locator(".govuk-warning-text")).to_contain_text(
        "Logged against the wrong provider"
    )
    await expect(officer.page.get_by_role("link", name="Correct the compliment")).to_have_count(0)
    await officer.assert_accessible()
    await officer.goto(f"/providers/{provider_id}")
    await expect(
        officer.page.locator("#timeline-list .cw-entered-in-error del").first
    ).to_be_visible()

    held = (await officer_api.get(f"/compliments/{compliment_id}")).json()
    assert held["entered_in_error_reason"] == "Logged against the wrong provider"
    assert held["entered_in_error_by_name"] == "Megan Trelawny"
    refused = await officer_api.patch(f"/compliments/{compliment_id}", json={"summary": "x"})
    assert refused.status_code == 409
    for client in (officer_api, colleague_api):
        await client.aclose()


async def test_a_complaint_upheld_and_a_resolved_concern_then_a_step_down(
    live_site: str,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    officer_api = await _api(live_site, OFFICER)
    manager_api = await _api(live_site, MANAGER)
    provider_id = await _new_provider(officer_api, "Browser Concern Care")

    tab = await _new_session(browser, live_site)
    page = tab.page
    await tab.sign_in(OFFICER)
    await tab.goto(f"/providers/{provider_id}")
    await page.get_by_role("link", name="Record a complaint").click()
    await page.get_by_label("Subject").fill("Calls cut short")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("The complaint was saved.")).to_be_visible()
    await _open_newest_record(tab)
    complaint_id = _record_id(page)
    await tab.assert_accessible()
    await page.get_by_role("link", name="Record the finding and close the complaint").click()
    await tab.assert_accessible()
    await page.get_by_label("Upheld", exact=True).check()
    await page.get_by_role("button", name="Close the complaint").click()
    await expect(page.get_by_text("The complaint was saved.")).to_be_visible()
    await expect(page.locator(".govuk-summary-list")).to_contain_text("Upheld")
    held: dict[str, Any] = (await officer_api.get(f"/complaints/{complaint_id}")).json()
    assert (held["status"], held["upheld"]) == ("closed", "upheld")
    assert held["closed_on"] is not None

    # A whole-service concern puts the provider into intensive monitoring...
    await tab.goto(f"/providers/{provider_id}")
    await page.get_by_role("link", name="Raise a concern").click()
    await page.get_by_label("Description").fill("Missed calls across every round")
    await page.get_by_label("This is a whole-service concern").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-notification-banner--important")).to_contain_text(
        "intensive monitoring"
    )
    await _open_newest_record(tab)
    concern_id = _record_id(page)
    await tab.assert_accessible()
    await page.get_by_role("link", name="Resolve the concern").click()
    await tab.assert_accessible()
    await page.get_by_label("How it was resolved").fill("Rota rebuilt; every call checked")
    await page.get_by_role("button", name="Resolve the concern").click()
    await expect(page.get_by_text("The concern was saved.")).to_be_visible()
    await expect(page.locator(".govuk-summary-list")).to_contain_text("Resolved")
    held = (await officer_api.get(f"/concerns/{concern_id}")).json()
    assert (held["status"], held["outcome"]) == ("closed", "Rota rebuilt; every call checked")

    # ...and once it is resolved a manager steps the provider down without an override.
    manager = await _new_session(browser, live_site)
    await manager.sign_in(MANAGER)
    await manager.goto(f"/providers/{provider_id}")
    await manager.page.get_by_role("link", name="Step down monitoring").click()
    await manager.page.get_by_label("Routine").check()
    await manager.page.get_by_label("Reason").fill("Concern resolved and checked on a visit")
    await manager.page.get_by_role("button", name="Save").click()
    await expect(manager.page.get_by_text("Monitoring was stepped down.")).to_be_visible()
    await manager.assert_accessible()
    monitoring = (await manager_api.get(f"/providers/{provider_id}/monitoring")).json()
    assert monitoring["level"] == "routine"
    ended = [e for e in monitoring["episodes"] if e["ended_at"] is not None]
    assert ended and ended[0]["overridden"] is False
    for client in (officer_api, manager_api):
        await client.aclose()
