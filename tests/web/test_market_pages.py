"""The market's pages over HTTP: the localities list and a locality, their forms (which
post to their own page, carry the CSRF token, answer 400 with the GOV.UK error summary
and store nothing, or 303 to the locality with a banner), a provider's capacity and KPI
forms and trend, and the dashboard's market tiles."""

from __future__ import annotations

from datetime import timedelta

from app.services import Services
from tests.conftest import World
from tests.web.conftest import SignIn, csrf_of, date_input


async def _locality_id(world: World, name: str) -> int:
    listed = (await world.get("/localities")).json()["items"]
    return int(next(item["id"] for item in listed if item["name"] == name))


async def test_the_localities_list_and_a_locality_show_the_market(
    world: World, signed_in: SignIn, services: Services
) -> None:
    north = await _locality_id(world, "North")
    lead = await world.provider(name="Tamar Homecare")
    await world.provider(name="Plym Valley Care", localities=["North", "East"])
    today = services.clock.today()
    await world.post(
        f"/localities/{north}/lead",
        {"provider_id": lead["id"], "from_on": (today - timedelta(days=30)).isoformat()},
        role="manager",
    )
    await world.post(
        f"/providers/{lead['id']}/capacity",
        {
            "period_start": (today - timedelta(days=13)).isoformat(),
            "period_end": (today - timedelta(days=7)).isoformat(),
            "hours_commissioned": 1650,
            "hours_delivered": 1600,
            "people_supported": 118,
        },
    )
    await world.post(
        f"/localities/{north}/waiting",
        {"counted_on": today.isoformat(), "people_waiting": 14, "hours_waiting": 120},
    )
    viewer = await signed_in("viewer")
    listing = await viewer.get("/localities")
    assert listing.status_code == 200
    assert "Tamar Homecare" in listing.text and "1,650" in listing.text
    assert "Add a locality" not in listing.text  # a viewer adds nothing
    page = await viewer.get(f"/localities/{north}")
    assert page.status_code == 200
    text = page.text
    assert "Locality Partner (lead)" in text and "Provider Partner" in text
    assert "14, waiting for 120 hours of care a week" in text
    assert f"{today.day} {today:%B %Y}" in text  # the council's way of writing dates
    assert "Count the waiting list" not in text
    assert (await viewer.get("/localities/999999")).status_code == 404


async def test_locality_forms_post_to_their_page_and_show_errors_the_gov_uk_way(
    world: World, signed_in: SignIn, services: Services
) -> None:
    manager = await signed_in("manager")
    form = await manager.get("/localities/new")
    assert 'action="/localities/new"' in form.text
    empty = await manager.post("/localities/new", data={"csrf_token": csrf_of(form.text)})
    assert empty.status_code == 400
    assert "govuk-error-summary" in empty.text and "Enter name of the locality" in empty.text
    taken = await manager.post(
        "/localities/new", data={"csrf_token": csrf_of(form.text), "name": "North"}
    )
    assert taken.status_code == 400 and "is already on the list" in taken.text
    made = await manager.post(
        "/localities/new", data={"csrf_token": csrf_of(form.text), "name": "Plymstock"}
    )
    assert made.status_code == 303
    shown = await manager.get(made.headers["location"])
    assert "Plymstock was added to the localities." in shown.text

    north = await _locality_id(world, "North")
    officer = await signed_in("officer")
    waiting = await officer.get(f"/localities/{north}/waiting")
    assert f'action="/localities/{north}/waiting"' in waiting.text
    tomorrow = (services.clock.today() + timedelta(days=1)).isoformat()
    future = await officer.post(
        f"/localities/{north}/waiting",
        data={
            "csrf_token": csrf_of(waiting.text),
            **date_input("counted_on", tomorrow),
            "people_waiting": "3",
            "hours_waiting": "20",
        },
    )
    assert future.status_code == 400
    assert "Date of the count must be today or in the past" in future.text
    assert (await world.get(f"/localities/{north}/waiting")).json()["total"] == 0
    saved = await officer.post(
        f"/localities/{north}/waiting",
        data={
            "csrf_token": csrf_of(waiting.text),
            **date_input("counted_on", services.clock.today().isoformat()),
            "people_waiting": "3",
            "hours_waiting": "20",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/localities/{north}"
    assert (await officer.get(f"/localities/{north}/lead")).status_code == 403

    provider = await world.provider(name="Tamar Homecare")
    lead = await manager.get(f"/localities/{north}/lead")
    assert "Tamar Homecare" in lead.text
    changed = await manager.post(
        f"/localities/{north}/lead",
        data={
            "csrf_token": csrf_of(lead.text),
            "provider_id": str(provider["id"]),
            **date_input("from_on", services.clock.today().isoformat()),
        },
    )
    assert changed.status_code == 303
    assert (await world.get(f"/localities/{north}")).json()["lead_provider_id"] == provider["id"]


async def test_a_providers_capacity_and_kpis_through_its_forms_and_its_trend(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await world.provider()
    officer = await signed_in("officer")
    page = await officer.get(f"/providers/{provider['id']}")
    assert "Record a capacity return" in page.text and "No call-monitoring figures yet" in page.text
    form = await officer.get(f"/providers/{provider['id']}/record/kpis")
    today = services.clock.today()
    month = today.replace(day=1) - timedelta(days=1)
    bad = await officer.post(
        f"/providers/{provider['id']}/record/kpis",
        data={
            "csrf_token": csrf_of(form.text),
            **date_input("month", month.isoformat()),
            "visits_planned": "100",
            "visits_missed": "120",
            "visits_late": "0",
            "calls_logged_in_home": "0",
        },
    )
    assert bad.status_code == 400 and "Visits missed cannot be more than" in bad.text
    saved = await officer.post(
        f"/providers/{provider['id']}/record/kpis",
        data={
            "csrf_token": csrf_of(form.text),
            **date_input("month", month.isoformat()),
            "visits_planned": "1000",
            "visits_missed": "30",
            "visits_late": "50",
            "calls_logged_in_home": "900",
        },
    )
    assert saved.status_code == 303
    capacity = await officer.get(f"/providers/{provider['id']}/record/capacity")
    await officer.post(
        f"/providers/{provider['id']}/record/capacity",
        data={
            "csrf_token": csrf_of(capacity.text),
            **date_input("period_start", (today - timedelta(days=13)).isoformat()),
            **date_input("period_end", (today - timedelta(days=7)).isoformat()),
            "hours_commissioned": "400",
            "hours_delivered": "300",
            "people_supported": "30",
            "packages_handed_back": "2",
            "hours_handed_back": "14",
        },
    )
    page = await officer.get(f"/providers/{provider['id']}")
    assert f"{month:%B %Y}" in page.text
    assert "3.0%" in page.text and "govuk-tag--red" in page.text  # missed visits, red
    assert "75.0%" in page.text  # hours delivered of commissioned
    dashboard = await officer.get("/")
    assert "hours of care a week handed back this month" in dashboard.text
    assert "people awaiting a package of care" in dashboard.text
