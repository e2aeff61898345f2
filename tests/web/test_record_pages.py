"""Each record's own page over HTTP (the browser walks are in test_browser.py): its fields,
who recorded it, its history; its forms post to their own page, answer 303 to the
record's page with a banner, or 400 with the error summary and nothing stored; a viewer
never sees a safeguarding's reference, summary or category, and every look is audited."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from app.models import SafeguardingAudit
from app.services import Services
from tests.conftest import World
from tests.web.conftest import SignIn, csrf_of, date_input


async def _form(browser: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    assert f'action="{path}"' in page.text  # the form posts to the page that shows it
    return await browser.post(path, data={"csrf_token": csrf_of(page.text), **fields})


async def _audited(services: Services, safeguarding_id: int) -> int:
    async with services.database.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(SafeguardingAudit.safeguarding_id == safeguarding_id)
        )
    return int(count or 0)


async def test_every_record_has_a_page_linked_from_the_timeline(
    world: World, signed_in: SignIn
) -> None:
    provider = await world.provider()
    pid = provider["id"]
    made = {
        "visits": await world.post(
            f"/providers/{pid}/visits",
            {"visited_on": "2026-11-19", "kind": "phone", "purpose": "Call", "outcome": "good"},
        ),
        "complaints": await world.post(
            f"/providers/{pid}/complaints", {"received_on": "2026-11-18", "subject": "Late"}
        ),
        "compliments": await world.post(
            f"/providers/{pid}/compliments", {"received_on": "2026-11-18", "summary": "Kind"}
        ),
        "financial-assurances": await world.post(
            f"/providers/{pid}/financial-assurances",
            {
                "assessed_on": "2026-11-18",
                "risk": "amber",
                "credit_check_passed": True,
                "accounts_filed_on_time": False,
                "insurance_expires_on": "2027-03-01",
                "next_review_on": "2027-02-01",
            },
        ),
        "concerns": await world.post(
            f"/providers/{pid}/concerns", {"raised_on": "2026-11-18", "description": "Rota gaps"}
        ),
        "safeguardings": await world.post(
            f"/providers/{pid}/safeguardings",
            {"raised_on": "2026-11-18", "category": "neglect", "reference": "SG-PAGE-1"},
        ),
    }
    officer = await signed_in("officer")
    provider_page = (await officer.get(f"/providers/{pid}")).text
    for path, answer in made.items():
        assert answer.status_code == 201, answer.text
        url = f"/{path}/{answer.json()['id']}"
        assert f'href="{url}"' in provider_page, url
        page = await officer.get(url)
        assert page.status_code == 200, (url, page.text[:300])
        assert "Officer Person" in page.text  # who recorded it
        assert "History of changes" in page.text
    financial = (
        await officer.get(f"/financial-assurances/{made['financial-assurances'].json()['id']}")
    ).text
    for shown in ("1 March 2027", "1 February 2027", "Record the next check", "Amber"):
        assert shown in financial
    assert (await officer.get("/complaints/999999")).status_code == 404


async def test_a_complaint_closed_through_its_page(world: World, signed_in: SignIn) -> None:
    provider = await world.provider()
    complaint = await world.post(
        f"/providers/{provider['id']}/complaints", {"received_on": "2026-11-10", "subject": "Late"}
    )
    cid = complaint.json()["id"]
    officer = await signed_in("officer")
    refused = await _form(
        officer, f"/complaints/{cid}/close", **date_input("closed_on", "2026-11-19")
    )
    assert refused.status_code == 400
    assert "govuk-error-summary" in refused.text
    assert "Finding is required to close a complaint" in refused.text
    assert (await world.get(f"/complaints/{cid}")).json()["status"] == "open"
    closed = await _form(
        officer,
        f"/complaints/{cid}/close",
        upheld="partly_upheld",
        **date_input("closed_on", "2026-11-19"),
    )
    assert closed.status_code == 303 and closed.headers["location"] == f"/complaints/{cid}"
    page = (await officer.get(f"/complaints/{cid}")).text
    assert "The complaint was saved." in page
    assert "Partly upheld" in page and "19 November 2026" in page
    history = page.split("History of changes")[1]
    assert "Finding" in history and "partly_upheld" not in history  # officers' words
    read = (await world.get(f"/complaints/{cid}")).json()
    assert (read["status"], read["upheld"], read["closed_on"]) == (
        "closed",
        "partly_upheld",
        "2026-11-19",
    )
    # Closed: the close form no longer applies.
    assert (await officer.get(f"/complaints/{cid}/close")).status_code == 409


async def test_a_viewer_sees_no_safeguarding_detail_and_every_look_is_audited(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await world.provider()
    raised = await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {
            "raised_on": "2026-11-18",
            "category": "modern_slavery",
            "reference": "SG-SECRET-9",
            "summary": "SUMMARY-SECRET",
        },
    )
    sid = raised.json()["id"]
    await world.patch(f"/safeguardings/{sid}", {"summary": "SUMMARY-SECRET again"})
    viewer = await signed_in("viewer")
    before = await _audited(services, sid)
    page = await viewer.get(f"/safeguardings/{sid}")
    assert page.status_code == 200
    for secret in ("SG-SECRET-9", "SUMMARY-SECRET", "Modern slavery", "modern_slavery"):
        assert secret not in page.text, secret
    assert "Withheld" in page.text
    assert await _audited(services, sid) == before + 1
    assert (await viewer.get(f"/safeguardings/{sid}/close")).status_code == 403
    officer = await signed_in("safeguarding")
    shown = (await officer.get(f"/safeguardings/{sid}")).text
    assert "SG-SECRET-9" in shown and "Modern slavery" in shown
    assert await _audited(services, sid) == before + 2


async def test_a_safeguarding_through_enquiry_to_closed_on_its_pages(
    world: World, signed_in: SignIn
) -> None:
    provider = await world.provider()
    raised = await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {"raised_on": "2026-11-10", "category": "physical", "reference": "SG-WEB-2"},
        role="safeguarding",
    )
    sid = raised.json()["id"]
    colleague = await signed_in("safeguarding")
    enquiry = await _form(
        colleague, f"/safeguardings/{sid}/enquiry", **date_input("enquiry_started_on", "2026-11-12")
    )
    assert enquiry.status_code == 303, enquiry.text
    no_risk = await _form(
        colleague,
        f"/safeguardings/{sid}/close",
        outcome="substantiated",
        **date_input("closed_on", "2026-11-19"),
    )
    assert no_risk.status_code == 400 and "Risk outcome is required" in no_risk.text
    closed = await _form(
        colleague,
        f"/safeguardings/{sid}/close",
        outcome="substantiated",
        risk_outcome="risk_remains",
        **date_input("closed_on", "2026-11-19"),
    )
    assert closed.status_code == 303
    read = (await world.get(f"/safeguardings/{sid}", role="safeguarding")).json()
    assert (read["status"], read["enquiry_started_on"], read["risk_outcome"]) == (
        "closed",
        "2026-11-12",
        "risk_remains",
    )
    page = (await colleague.get(f"/safeguardings/{sid}")).text
    assert "12 November 2026" in page and "Risk remains" in page


async def test_a_closed_record_is_reopened_on_its_page_by_the_roles_allowed(
    world: World, signed_in: SignIn, services: Services
) -> None:
    """Re-opening was API-only: each closed complaint, concern and safeguarding offers it
    on its page to the roles the API allows, through the same update."""
    provider = await world.provider()
    pid = provider["id"]
    complaint = await world.post(
        f"/providers/{pid}/complaints",
        {
            "received_on": "2026-11-10",
            "subject": "Late calls",
            "status": "closed",
            "upheld": "upheld",
            "closed_on": "2026-11-18",
        },
    )
    concern = await world.post(
        f"/providers/{pid}/concerns",
        {"raised_on": "2026-11-10", "description": "Missed medication"},
        role="safeguarding",
    )
    resolved = await world.patch(
        f"/concerns/{concern.json()['id']}",
        {"status": "closed", "outcome": "Checked every rota"},
        role="safeguarding",
    )
    assert resolved.status_code == 200, resolved.text
    safeguarding = await world.post(
        f"/providers/{pid}/safeguardings",
        {"raised_on": "2026-11-10", "category": "physical", "reference": "SG-WEB-9"},
        role="safeguarding",
    )
    closed = await world.patch(
        f"/safeguardings/{safeguarding.json()['id']}",
        {"status": "closed", "outcome": "withdrawn"},
        role="safeguarding",
    )
    assert closed.status_code == 200, closed.text
    cases = (
        ("complaints", complaint.json()["id"], "officer", "complaint"),
        ("concerns", concern.json()["id"], "safeguarding", "concern"),
        ("safeguardings", safeguarding.json()["id"], "safeguarding", "safeguarding"),
    )
    viewer = await signed_in("viewer")
    for path, record_id, role, noun in cases:
        assert "Re-open" not in (await viewer.get(f"/{path}/{record_id}")).text
        assert (await viewer.get(f"/{path}/{record_id}/reopen")).status_code == 403
        browser = await signed_in(role)
        page = (await browser.get(f"/{path}/{record_id}")).text
        assert f'href="/{path}/{record_id}/reopen">Re-open the {noun}</a>' in page
        before = await _audited(services, record_id) if noun == "safeguarding" else 0
        reopened = await _form(browser, f"/{path}/{record_id}/reopen")
        assert reopened.status_code == 303, reopened.text
        assert reopened.headers["location"] == f"/{path}/{record_id}"
        if noun == "safeguarding":  # the form's look and the write are both audited
            assert await _audited(services, record_id) == before + 2
        read = (await world.get(f"/{path}/{record_id}", role=role)).json()
        assert read["status"] == "open" and read["closed_on"] is None, read
        page = (await browser.get(f"/{path}/{record_id}")).text
        assert f"The {noun} was saved" in page and "/reopen" not in page
        # Open again: the re-open form no longer applies.
        assert (await browser.get(f"/{path}/{record_id}/reopen")).status_code == 409


async def test_a_record_marked_entered_in_error_on_its_page(
    world: World, signed_in: SignIn
) -> None:
    provider = await world.provider()
    compliment = await world.post(
        f"/providers/{provider['id']}/compliments",
        {"received_on": "2026-11-18", "summary": "Lovely carers"},
        role="manager",
    )
    cid = compliment.json()["id"]
    officer = await signed_in("officer")
    page = (await officer.get(f"/compliments/{cid}")).text
    assert "Mark as entered in error" not in page  # not theirs, and not a manager
    manager = await signed_in("manager")
    short = await _form(manager, f"/compliments/{cid}/entered-in-error", reason="typo")
    assert short.status_code == 400 and "at least 5 characters" in short.text
    marked = await _form(
        manager, f"/compliments/{cid}/entered-in-error", reason="Meant for another provider"
    )
    assert marked.status_code == 303
    shown = (await manager.get(f"/compliments/{cid}")).text
    assert "<del>" in shown and "Meant for another provider" in shown
    assert "Correct the compliment" not in shown
    timeline = (await manager.get(f"/providers/{provider['id']}")).text
    assert "Entered in error" in timeline
    assert (await world.get(f"/compliments/{cid}")).json()["entered_in_error_at"] is not None
