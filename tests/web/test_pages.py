"""The web pages over HTTP: sign-in, sessions and CSRF, the dashboard, a provider's page
and its forms, roles, the audit of safeguarding reads, and the alerts page."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
from sqlalchemy import func, select, update

from app.models import CqcBenchmark, Delivery, SafeguardingAudit, Visit
from app.models.base import DeliveryStatus
from app.records import dashboard
from app.services import Services
from tests import factories
from tests.conftest import PASSWORD, World
from tests.web.conftest import SignIn, csrf_of, date_input, sign_in


async def _new_client(world: World) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=world.client._transport, base_url="http://test")


async def test_pages_need_a_session_and_send_you_back_after_sign_in(world: World) -> None:
    async with await _new_client(world) as browser:
        response = await browser.get("/providers/1")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fproviders%2F1"
        page = await browser.get("/login?next=/alerts")
        signed = await browser.post(
            "/login",
            data={
                "email": "OFFICER@council.gov.uk ",
                "password": PASSWORD,
                "csrf_token": csrf_of(page.text),
                "next": "/alerts",
            },
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/alerts"
        cookie = signed.headers["set-cookie"]
        assert "carewatch_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert (await browser.get("/alerts")).status_code == 200


async def test_the_session_cookie_is_secure_behind_https(world: World) -> None:
    transport = world.client._transport
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as browser:
        await browser.get("/login")
        refused = await browser.post(
            "/login", data={"email": "officer@council.gov.uk", "password": PASSWORD}
        )
        # Without the form's CSRF token the sign-in is refused, whatever the password.
        assert refused.status_code == 403
        assert "carewatch_session" not in refused.headers.get("set-cookie", "")
        signed = await browser.post(
            "/login",
            data={
                "email": "officer@council.gov.uk",
                "password": PASSWORD,
                "csrf_token": csrf_of(refused.text),  # the refusal shows a fresh form
            },
        )
        assert signed.status_code == 303 and "Secure" in signed.headers["set-cookie"]
        assert "strict-transport-security" in signed.headers


async def test_every_sign_in_failure_gets_the_same_message(world: World) -> None:
    await world.patch(f"/users/{world.users['viewer'].id}", {"active": False}, role="admin")
    answers = []
    async with await _new_client(world) as browser:
        for email, password in (
            ("officer@council.gov.uk", "wrong password here"),
            ("nobody@council.gov.uk", PASSWORD),
            ("viewer@council.gov.uk", PASSWORD),  # disabled
        ):
            response = await sign_in(browser, email, password)
            assert response.status_code == 400
            assert "carewatch_session" not in response.headers.get("set-cookie", "")
            answers.append(re.findall(r'<a href="#email">([^<]+)</a>', response.text))
    assert answers[0] == answers[1] == answers[2] == ["Enter a correct email address and password"]


async def test_a_password_longer_than_any_is_refused_not_cut_to_fit(world: World) -> None:
    longest = "p" * 200
    created = await world.post(
        "/users",
        {"email": "long@council.gov.uk", "name": "Long", "role": "officer", "password": longest},
        role="admin",
    )
    assert created.status_code == 201, created.text
    async with await _new_client(world) as browser:
        assert (
            await sign_in(browser, "long@council.gov.uk", longest + "ignored")
        ).status_code == 400
        assert (await sign_in(browser, "long@council.gov.uk", longest)).status_code == 303


async def test_a_redirect_after_sign_in_stays_on_this_site(world: World) -> None:
    async with await _new_client(world) as browser:
        page = await browser.get("/login")
        signed = await browser.post(
            "/login",
            data={
                "email": "officer@council.gov.uk",
                "password": PASSWORD,
                "csrf_token": csrf_of(page.text),
                "next": "//evil.example/steal",
            },
        )
        assert signed.headers["location"] == "/"


async def test_sign_out_ends_the_session_for_good(world: World, signed_in: SignIn) -> None:
    browser = await signed_in("officer")
    cookie = browser.cookies["carewatch_session"]
    home = await browser.get("/")
    assert home.status_code == 200
    out = await browser.post("/logout", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    async with await _new_client(world) as replay:
        replay.cookies.set("carewatch_session", cookie)
        assert (await replay.get("/")).status_code == 303


async def test_disabling_a_user_ends_their_web_session_at_once(
    world: World, signed_in: SignIn
) -> None:
    browser = await signed_in("officer")
    assert (await browser.get("/")).status_code == 200
    await world.patch(f"/users/{world.users['officer'].id}", {"active": False}, role="admin")
    assert (await browser.get("/")).status_code == 303


async def test_a_forged_or_tampered_cookie_is_no_session(world: World) -> None:
    async with await _new_client(world) as browser:
        browser.cookies.set("carewatch_session", "not-a-signed-value")
        assert (await browser.get("/")).status_code == 303


async def test_a_form_without_its_csrf_token_is_refused_and_stores_nothing(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await world.provider()
    browser = await signed_in("officer")
    body = {
        **date_input("visited_on", "2026-11-19"),
        "kind": "virtual",
        "purpose": "Contract review",
        "outcome": "good",
    }
    for token in (None, "0" * 64):
        data = body if token is None else {**body, "csrf_token": token}
        response = await browser.post(f"/providers/{provider['id']}/record/visit", data=data)
        assert response.status_code == 403 and "This form has expired" in response.text
    async with services.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 0


async def _form(browser: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    return await browser.post(path, data={"csrf_token": csrf_of(page.text), **fields})


async def _whole_service_concern(browser: httpx.AsyncClient, base: str) -> httpx.Response:
    """Raise a whole-service concern through its form: the provider goes intensive."""
    return await _form(
        browser,
        f"{base}/record/concern",
        **date_input("raised_on", "2026-11-20"),
        description="Whole service failing",
        whole_service="yes",
    )


async def test_logging_a_visit_shows_it_on_the_timeline(world: World, signed_in: SignIn) -> None:
    provider = await world.provider()
    browser = await signed_in("officer")
    saved = await _form(
        browser,
        f"/providers/{provider['id']}/record/visit",
        **date_input("visited_on", "2026-11-19"),
        kind="face_to_face",
        purpose="Quarterly contract review",
        outcome="good",
        notes="Rota covered",
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/providers/{provider['id']}"
    page = await browser.get(saved.headers["location"])
    assert "The visit was saved" in page.text
    timeline = page.text.split('id="timeline"')[1]
    assert "Quarterly contract review" in timeline and "Officer Person" in timeline
    again = await browser.get(f"/providers/{provider['id']}")
    assert "The visit was saved" not in again.text  # the banner shows once


async def test_a_form_error_is_shown_the_gov_uk_way_and_nothing_is_stored(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await world.provider()
    browser = await signed_in("officer")
    response = await _form(
        browser,
        f"/providers/{provider['id']}/record/visit",
        **date_input("visited_on", "2027-01-01"),
        kind="",
        purpose="",
        outcome="brilliant",
    )
    assert response.status_code == 400
    summary = response.text.split('class="govuk-error-summary"')[1].split("</ul>")[0]
    # Every problem at once, in the order of the form, each linking to its field.
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary) == [
        ("visited_on-day", "Date of the visit must be today or in the past"),
        ("kind-0", "Select how it took place"),
        ("purpose", "Enter purpose"),
        ("outcome-0", "Select outcome from the list"),
    ]
    assert "<title>Error: " in response.text
    # What was typed is kept, and the date's three inputs are marked wrong.
    for part, value in (("day", "1"), ("month", "1"), ("year", "2027")):
        assert re.search(
            rf'govuk-input--error" id="visited_on-{part}" name="visited_on-{part}" '
            rf'type="text" inputmode="numeric" value="{value}"',
            response.text,
        ), part
    async with services.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 0


async def test_the_date_input_speaks_gov_uk(world: World, signed_in: SignIn) -> None:
    provider = await world.provider()
    browser = await signed_in("officer")
    path = f"/providers/{provider['id']}/record/visit"
    rest = {"kind": "virtual", "purpose": "Review", "outcome": "good"}
    for parts, message, first_wrong in (
        (("", "", ""), "Enter date of the visit", "day"),
        (("19", "", "2026"), "Date of the visit must include a month", "month"),
        (("", "", "2026"), "Date of the visit must include a day and month", "day"),
        (("31", "4", "2026"), "Date of the visit must be a real date", "day"),
        (("19", "13", "2026"), "Date of the visit must be a real date", "month"),
        (("19", "11", "26"), "Date of the visit must be a real date", "year"),
        (("x", "11", "2026"), "Date of the visit must be a real date", "day"),
        (
            ("31", "12", "1989"),
            "Date of the visit must be the same as or after 1 January 1990",
            "day",
        ),
        (("21", "11", "2026"), "Date of the visit must be today or in the past", "day"),
    ):
        day, month, year = parts
        fields = {"visited_on-day": day, "visited_on-month": month, "visited_on-year": year}
        response = await _form(browser, path, **fields, **rest)
        assert response.status_code == 400, parts
        summary = response.text.split('class="govuk-error-summary"')[1].split("</ul>")[0]
        assert f'<a href="#visited_on-{first_wrong}">{message}</a>' in summary, parts
    # A day-and-month-first date with leading zeros, on the last day allowed, is fine.
    saved = await _form(
        browser,
        path,
        **{"visited_on-day": "20", "visited_on-month": "11", "visited_on-year": "2026"},
        **rest,
    )
    assert saved.status_code == 303
    leading_zeros = {"visited_on-day": "01", "visited_on-month": "01", "visited_on-year": "1990"}
    assert (await _form(browser, path, **leading_zeros, **rest)).status_code == 303
    visits = (await world.get(f"/providers/{provider['id']}/visits")).json()["items"]
    assert {v["visited_on"] for v in visits} == {"2026-11-20", "1990-01-01"}


async def test_a_due_date_may_be_in_the_future_but_not_before_1990(
    world: World, signed_in: SignIn
) -> None:
    provider = await world.provider()
    base = f"/providers/{provider['id']}"
    officer = await signed_in("officer")
    await _whole_service_concern(officer, base)
    token = csrf_of((await officer.get(f"{base}/plan/actions/new")).text)
    action = {"issue": "Missed calls", "action": "Recruit", "owner": "Registered manager"}
    early = await officer.post(
        f"{base}/plan/actions/new",
        data={"csrf_token": token, **action, **date_input("due_on", "1989-12-31")},
    )
    assert early.status_code == 400
    assert "Due must be the same as or after 1 January 1990" in early.text
    later = await officer.post(
        f"{base}/plan/actions/new",
        data={"csrf_token": token, **action, **date_input("due_on", "2027-03-01")},
    )
    assert later.status_code == 303


async def test_text_over_its_limit_is_shown_back_never_cut(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await world.provider()
    browser = await signed_in("officer")
    notes = "Rota checked. " * 715 + "END-MARKER"  # 10,020 characters: over the 10,000 limit
    response = await _form(
        browser,
        f"/providers/{provider['id']}/record/visit",
        **date_input("visited_on", "2026-11-19"),
        kind="virtual",
        purpose="Review",
        outcome="good",
        notes=notes,
    )
    assert response.status_code == 400
    assert '<a href="#notes">Findings must be 10,000 characters or fewer</a>' in response.text
    assert notes + "</textarea>" in response.text  # shown back whole
    async with services.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 0
    financial = await _form(
        browser,
        f"/providers/{provider['id']}/record/financial",
        **date_input("assessed_on", "2026-11-19"),
        risk="low",
        notes="x" * 5001,
    )
    assert financial.status_code == 400
    assert "Notes must be 5,000 characters or fewer" in financial.text


async def test_a_whole_service_concern_escalates_and_the_banner_says_why(
    world: World, signed_in: SignIn
) -> None:
    provider = await world.provider()
    browser = await signed_in("officer")
    saved = await _form(
        browser,
        f"/providers/{provider['id']}/record/concern",
        **date_input("raised_on", "2026-11-20"),
        raised_by="District nurse",
        description="Missed calls across the service",
        whole_service="yes",
    )
    assert saved.status_code == 303
    page = await browser.get(f"/providers/{provider['id']}")
    banner = page.text.split("govuk-notification-banner--important")[1].split("</div>\n</div>")[0]
    assert "now in intensive monitoring (was routine)" in banner
    assert "An open concern or safeguarding is about the whole service" in banner
    assert "whole service concerns open = 1" in banner
    assert "Intensive monitoring" in page.text and "Improvement plan" in page.text


async def _provider_with_safeguarding(world: World) -> dict[str, Any]:
    provider = await world.provider()
    response = await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {
            "raised_on": "2026-11-18",
            "category": "neglect",
            "reference": "SG-MARKER-REF",
            "summary": "MARKER-SUMMARY-TEXT",
        },
        role="safeguarding",
    )
    assert response.status_code == 201
    return provider


async def test_a_viewer_sees_counts_never_a_safeguardings_summary_or_reference(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await _provider_with_safeguarding(world)
    viewer = await signed_in("viewer")
    officer = await signed_in("officer")
    seen_by_viewer = await viewer.get(f"/providers/{provider['id']}")
    seen_by_officer = await officer.get(f"/providers/{provider['id']}")
    assert seen_by_viewer.status_code == seen_by_officer.status_code == 200
    for marker in ("SG-MARKER-REF", "MARKER-SUMMARY-TEXT"):
        assert marker not in seen_by_viewer.text
        assert marker in seen_by_officer.text
    assert "1 recorded: 1 open, 1 raised in the last 90 days" in seen_by_viewer.text
    dashboard = await viewer.get("/?officer=all")
    assert "SG-MARKER-REF" not in dashboard.text
    # Both looks are on record, the viewer's marked as redacted.
    async with services.database.sessions() as session:
        rows = (
            await session.execute(
                select(SafeguardingAudit.user_id, SafeguardingAudit.action, SafeguardingAudit.route)
                .where(SafeguardingAudit.action.like("web_page%"))
                .order_by(SafeguardingAudit.id)
            )
        ).all()
    assert [(user, action) for user, action, _route in rows] == [
        (world.users["viewer"].id, "web_page_redacted"),
        (world.users["officer"].id, "web_page"),
    ]
    assert rows[0].route == "GET /providers/{provider_id:int}"


async def test_roles_decide_which_forms_a_user_may_use(world: World, signed_in: SignIn) -> None:
    provider = await world.provider()
    base = f"/providers/{provider['id']}"
    viewer = await signed_in("viewer")
    safeguarding = await signed_in("safeguarding")
    officer = await signed_in("officer")
    manager = await signed_in("manager")
    assert (await viewer.get(f"{base}/record/visit")).status_code == 403
    assert (await viewer.get(f"{base}/record/safeguarding")).status_code == 403
    assert (await safeguarding.get(f"{base}/record/safeguarding")).status_code == 200
    assert (await safeguarding.get(f"{base}/record/visit")).status_code == 403
    assert (await officer.get(f"{base}/record/nonsense")).status_code == 404
    assert (await officer.get(f"{base}/de-escalate")).status_code == 403
    assert (await officer.get(f"{base}/placements")).status_code == 403
    assert (await manager.get(f"{base}/placements")).status_code == 200
    officer_page = (await officer.get(base)).text
    manager_page = (await manager.get(base)).text
    assert "Suspend new placements" in manager_page and "Suspend new placements" not in officer_page
    viewer_page = (await viewer.get(base)).text
    assert "Log a visit" not in viewer_page and "Log a visit" in officer_page
    assert (await officer.get("/providers/999999")).status_code == 404
    assert (await officer.get("/providers/99999999999")).status_code == 404


async def test_a_manager_suspends_placements_and_steps_down_with_reasons(
    world: World, signed_in: SignIn
) -> None:
    provider = await world.provider()
    base = f"/providers/{provider['id']}"
    manager = await signed_in("manager")
    short = await _form(manager, f"{base}/placements", suspended="true", reason="no")
    assert short.status_code == 400 and "Reason must be at least 5 characters" in short.text
    saved = await _form(manager, f"{base}/placements", suspended="true", reason="Staffing collapse")
    assert saved.status_code == 303
    page = await manager.get(base)
    assert "New placements suspended" in page.text
    officer = await signed_in("officer")
    await _whole_service_concern(officer, base)
    refused = await _form(manager, f"{base}/de-escalate", to="routine", reason="Looks better")
    assert refused.status_code == 400 and "Cannot step down yet" in refused.text
    forced = await _form(
        manager, f"{base}/de-escalate", to="routine", reason="Agreed at panel", override="yes"
    )
    assert forced.status_code == 303
    monitoring = await world.get(f"/providers/{provider['id']}/monitoring")
    assert monitoring.json()["level"] == "routine"
    events = await world.get("/events", provider_id=provider["id"])
    assert "monitoring.de_escalation_refused" in {e["type"] for e in events.json()["items"]}


async def test_the_improvement_plan_through_the_forms(world: World, signed_in: SignIn) -> None:
    provider = await world.provider()
    base = f"/providers/{provider['id']}"
    officer = await signed_in("officer")
    await _whole_service_concern(officer, base)
    page = await officer.get(f"{base}/plan/actions/new")
    assert f'action="{base}/plan/actions/new"' in page.text  # posts to the page showing it
    added = await officer.post(
        f"{base}/plan/actions/new",
        data={
            "csrf_token": csrf_of(page.text),
            "issue": "Missed calls",
            "action": "Recruit two carers",
            "owner": "Registered manager",
            **date_input("due_on", "2026-12-04"),
        },
    )
    assert added.status_code == 303
    plan = (await world.get(f"{base}/improvement-plan")).json()
    action_id = plan["actions"][0]["id"]
    page = await officer.get(base)
    assert "Recruit two carers" in page.text
    done = await officer.post(
        f"{base}/plan/actions/{action_id}",
        data={"csrf_token": csrf_of(page.text), "status": "complete", "evidence": "Rota seen"},
    )
    assert done.status_code == 303
    agreed = await officer.post(
        f"{base}/plan/agree",
        data={"csrf_token": csrf_of(page.text), **date_input("agreed_on", "2026-11-20")},
    )
    assert agreed.status_code == 303
    plan = (await world.get(f"{base}/improvement-plan")).json()
    assert plan["status"] == "agreed" and plan["actions"][0]["status"] == "complete"


async def test_the_dashboard_filters_sorts_and_defaults_to_the_officers_own(
    world: World, signed_in: SignIn, services: Services
) -> None:
    mine = await world.provider(name="Alpha Care", localities=["North"])
    other = await world.provider(
        name="Beta Care", localities=["South"], contract_officer_id=world.users["manager"].id
    )
    await factories.write(services, "concern", other["id"], whole_service=True)
    officer = await signed_in("officer")
    own = await officer.get("/")
    assert "Alpha Care" in own.text and "Beta Care" not in own.text
    everyone = await officer.get("/?officer=all&sort=name&order=desc")
    assert everyone.text.index("Beta Care") < everyone.text.index("Alpha Care")
    assert 'aria-sort="descending"' in everyone.text
    intensive = await officer.get("/?officer=all&level=intensive")
    assert "Beta Care" in intensive.text and "Alpha Care" not in intensive.text
    south = await officer.get("/?officer=all&locality=South")
    assert "Beta Care" in south.text and "Alpha Care" not in south.text
    for key in dashboard.SORT_KEYS:  # every column sorts, both ways, on both engines
        for order in ("", "desc"):
            page = await officer.get(f"/?officer=all&sort={key}&order={order}")
            assert page.status_code == 200 and "Alpha Care" in page.text, key
    by_locality = await officer.get("/?officer=all&sort=localities&order=desc")
    assert by_locality.text.index("Beta Care") < by_locality.text.index("Alpha Care")
    # Nonsense in the query string is ignored, not an error.
    odd = await officer.get("/?officer=x&level=zzz&sort=drop&page=-4&rating=awful")
    assert odd.status_code == 200
    assert mine["id"] != other["id"]


async def test_the_rating_chart_says_when_the_national_figures_are_missing(
    world: World, signed_in: SignIn, services: Services
) -> None:
    officer = await signed_in("officer")
    assert "have not been fetched from CQC yet" in (await officer.get("/")).text
    async with services.database.transaction() as session:
        session.add(
            CqcBenchmark(
                status="complete",
                started_at=services.clock.now(),
                finished_at=services.clock.now(),
                distribution={"national": {"good": 75, "requires_improvement": 25}, "regions": {}},
            )
        )
    page = (await officer.get("/")).text
    assert "have not been fetched from CQC yet" not in page
    assert "last fetched from CQC on 20 November 2026 at 10am" in page
    good_row = page.split('<th scope="row" class="govuk-table__header">Good</th>')[1]
    assert "75%" in good_row.split("</tr>")[0]


async def test_a_manager_retries_a_failed_delivery_and_an_officer_cannot(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await world.provider()
    await factories.write(services, "concern", provider["id"], whole_service=True)
    async with services.database.transaction() as session:
        delivery_id = await session.scalar(select(func.min(Delivery.id)))
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=DeliveryStatus.failed, attempts=3, last_error="550 no such user")
        )
    officer = await signed_in("officer")
    manager = await signed_in("manager")
    officer_page = await officer.get("/alerts?status=failed")
    assert "550 no such user" in officer_page.text and "Retry" not in officer_page.text
    refused = await officer.post(
        f"/alerts/{delivery_id}/retry", data={"csrf_token": csrf_of(officer_page.text)}
    )
    assert refused.status_code == 403
    page = await manager.get("/alerts?status=failed")
    retried = await manager.post(
        f"/alerts/{delivery_id}/retry", data={"csrf_token": csrf_of(page.text)}
    )
    assert retried.status_code == 303
    async with services.database.sessions() as session:
        delivery = await session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.status == DeliveryStatus.pending
        assert delivery.attempts == 3
    again = await manager.post(
        f"/alerts/{delivery_id}/retry", data={"csrf_token": csrf_of(page.text)}
    )
    assert again.status_code == 409


async def test_the_vendored_assets_are_served_and_the_pages_load_nothing_else(
    world: World, signed_in: SignIn
) -> None:
    officer = await signed_in("officer")
    page = (await officer.get("/")).text
    assets = re.findall(r'(?:href|src)="(/(?:static|assets)/[^"]+)"', page)
    assert "/static/govuk/govuk-frontend.min.css" in assets
    for path in assets:
        response = await officer.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "public, max-age=3600"
    css = (await officer.get("/static/govuk/govuk-frontend.min.css")).text
    for font in re.findall(r"url\((/assets/[^)]+)\)", css):
        assert (await officer.get(font)).status_code == 200, font
    assert "<script>" not in page and "style=" not in page  # nothing the CSP would block
    assert not re.search(r'(?:href|src)="https?://', page.split("<main")[0])


async def test_what_is_typed_into_a_safeguarding_form_never_reaches_the_logs(
    world: World, signed_in: SignIn, caplog: Any
) -> None:
    provider = await world.provider()
    browser = await signed_in("safeguarding")
    caplog.set_level(logging.DEBUG)
    saved = await _form(
        browser,
        f"/providers/{provider['id']}/record/safeguarding",
        **date_input("raised_on", "2026-11-19"),
        reference="SG-LOGMARKER-1",
        category="psychological",
        summary="SUMMARYMARKER about a person",
    )
    assert saved.status_code == 303
    failed = await _form(
        browser,
        f"/providers/{provider['id']}/record/safeguarding",
        **{"raised_on-day": "not", "raised_on-month": "a", "raised_on-year": "date"},
        reference="SG-LOGMARKER-2",
        category="",
        summary="SUMMARYMARKER again",
    )
    assert failed.status_code == 400 and "SUMMARYMARKER again" in failed.text
    for marker in ("LOGMARKER", "SUMMARYMARKER"):
        assert marker not in caplog.text
