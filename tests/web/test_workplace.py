"""The workplace pages over HTTP: onboarding a provider and editing its contract, giving
it to an officer, adding and removing CQC locations (the fake CQC answers), user accounts
for admins with a leaver's providers listed and their alerts routed to the managers, and
an officer's week at /my-work. Each checks what the page shows and what the API then
returns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date

import httpx
import pytest
from aiolimiter import AsyncLimiter
from sqlalchemy import select

from app.clock import FakeClock
from app.config import Settings
from app.models import Delivery, SafeguardingAudit
from app.services import Services, build_services
from tests import factories
from tests.conftest import PASSWORD, World
from tests.fakes.cqc_server import FakeCqc
from tests.web.conftest import SignIn, csrf_of, sign_in

CQC_KEY = "test-key-workplace"


@pytest.fixture
def fake_cqc() -> FakeCqc:
    return FakeCqc.from_fixtures(api_key=CQC_KEY)


@pytest.fixture
async def services(
    settings: Settings, clock: FakeClock, fake_cqc: FakeCqc
) -> AsyncIterator[Services]:
    """The app's services with CQC polling on, answered by the fake CQC in-process."""
    from pydantic import SecretStr

    with_cqc = settings.model_copy(
        update={
            "cqc_api_key": SecretStr(CQC_KEY),
            "cqc_base_url": "http://cqc.test/public/v1",
            "cqc_requests_per_minute": 2000,
        }
    )
    built = build_services(
        with_cqc, clock=clock, cqc_transport=httpx.ASGITransport(app=fake_cqc.app())
    )
    assert built.cqc_client is not None
    built.cqc_client.limiter = AsyncLimiter(1000, 1)
    yield built
    await built.close()


async def _post_form(
    client: httpx.AsyncClient, path: str, data: Mapping[str, str | list[str]]
) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    assert f'action="{path}"' in page.text  # the form posts to the page that shows it
    return await client.post(path, data={**data, "csrf_token": csrf_of(page.text)})


async def _banner(client: httpx.AsyncClient, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    return page.text


async def test_a_manager_onboards_a_provider_and_edits_its_contract(
    world: World, signed_in: SignIn
) -> None:
    browser = await signed_in("manager")
    officer = world.users["officer"]
    listed = (await world.get("/localities")).json()
    place = {locality["name"]: str(locality["id"]) for locality in listed["items"]}
    form = (await browser.get("/providers/new")).text
    # The council's list as GOV.UK checkboxes, each posting its locality's id.
    assert 'class="govuk-checkboxes__input" id="localities" name="localities"' in form
    for name, locality_id in place.items():
        assert f'name="localities" type="checkbox" value="{locality_id}"' in form
        assert f">{name}</label>" in form
    created = await _post_form(
        browser,
        "/providers/new",
        {
            "name": "Estuary Care Ltd",
            "cqc_provider_id": "1-101728337",
            "contract_type": "block",
            "partner_role": "locality_partner",
            "localities": [place["North"], place["East"]],
            "weekly_hours": "350",
            "people_supported": "41",
            "contract_officer_id": str(officer.id),
        },
    )
    provider_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = await _banner(browser, created)
    assert "The provider was added." in page and "Estuary Care Ltd" in page
    provider = (await world.get(f"/providers/{provider_id}")).json()
    assert provider["contract_type"] == "block" and provider["partner_role"] == "locality_partner"
    assert sorted(provider["localities"]) == ["East", "North"]
    assert provider["weekly_hours"] == 350 and provider["people_supported"] == 41
    assert provider["contract_officer_id"] == officer.id

    edit = await browser.get(f"/providers/{provider_id}/edit")
    assert "Estuary Care Ltd" in edit.text and "350" in edit.text
    for name, locality_id in place.items():
        ticked = f'value="{locality_id}" checked>' in edit.text
        assert ticked == (name in ("North", "East")), name
    saved = await _post_form(
        browser,
        f"/providers/{provider_id}/edit",
        {
            "name": "Estuary Care Ltd",
            "cqc_provider_id": "1-101728337",
            "contract_type": "framework",
            "partner_role": "",
            "localities": place["East"],
            "weekly_hours": "380.5",
            "people_supported": "",
        },
    )
    assert "The contract was saved." in await _banner(browser, saved)
    provider = (await world.get(f"/providers/{provider_id}")).json()
    assert provider["contract_type"] == "framework" and provider["partner_role"] is None
    assert provider["localities"] == ["East"] and provider["weekly_hours"] == 380.5
    assert provider["people_supported"] is None


async def test_a_bad_provider_form_names_the_fields_and_stores_nothing(
    world: World, signed_in: SignIn
) -> None:
    browser = await signed_in("manager")
    before = (await world.get("/providers")).json()["total"]
    refused = await _post_form(
        browser,
        "/providers/new",
        {
            "name": "",
            "contract_type": "spot",
            "weekly_hours": "lots",
            "localities": "x" * 101,
            "contract_officer_id": str(world.users["viewer"].id),
        },
    )
    assert refused.status_code == 400
    assert "govuk-error-summary" in refused.text
    assert "Enter provider name" in refused.text
    assert "Contracted hours a week" in refused.text
    # A client posting a name (the API takes names too) over its limit reads GOV.UK words.
    assert '<a href="#localities">Localities must be 100 characters or fewer</a>' in refused.text
    # A viewer is not offered as an officer, and is refused if posted anyway.
    assert f'<option value="{world.users["viewer"].id}"' not in refused.text
    only_officer = await _post_form(
        browser,
        "/providers/new",
        {
            "name": "Valley Care",
            "contract_type": "spot",
            "weekly_hours": "10",
            "contract_officer_id": str(world.users["viewer"].id),
        },
    )
    assert only_officer.status_code == 400
    assert "Contract officer must be an officer or a manager" in only_officer.text
    # The service's refusals in officer words: no ids, no "cannot be null".
    for posted, words in (
        ({"localities": "99999"}, "Select localities from the council’s list"),
        ({"contract_officer_id": "99999"}, "Select contract officer from the list"),
    ):
        refused = await _post_form(
            browser,
            "/providers/new",
            {"name": "Valley Care", "contract_type": "spot", "weekly_hours": "10", **posted},
        )
        assert refused.status_code == 400 and words in refused.text
        assert "99999" not in refused.text.split("<main", 1)[1].split("</form>", 1)[0]
    assert (await world.get("/providers")).json()["total"] == before


async def test_a_provider_keeps_the_locality_it_leads(world: World, signed_in: SignIn) -> None:
    listed = (await world.get("/localities")).json()["items"]
    place = {locality["name"]: str(locality["id"]) for locality in listed}
    provider = await world.provider(localities=["North", "East"])
    led = await world.post(
        f"/localities/{place['North']}/lead",
        {"provider_id": provider["id"], "from_on": "2026-11-01"},
        role="manager",
    )
    assert led.status_code in (200, 201), led.text
    browser = await signed_in("manager")
    refused = await _post_form(
        browser,
        f"/providers/{provider['id']}/edit",
        {
            "name": provider["name"],
            "contract_type": "spot",
            "weekly_hours": "10",
            "localities": place["East"],
        },
    )
    assert refused.status_code == 400
    assert "The provider leads North: choose another lead first" in refused.text
    assert sorted((await world.get(f"/providers/{provider['id']}")).json()["localities"]) == [
        "East",
        "North",
    ]


async def test_the_api_gives_contracts_only_to_active_officers_and_managers(
    world: World,
) -> None:
    provider = await world.provider()
    for role in ("viewer", "safeguarding", "admin"):
        refused = await world.patch(
            f"/providers/{provider['id']}", {"contract_officer_id": world.users[role].id}
        )
        assert refused.status_code == 422, role
        assert "contract_officer_id" in refused.text
    manager = await world.patch(
        f"/providers/{provider['id']}", {"contract_officer_id": world.users["manager"].id}
    )
    assert manager.status_code == 200
    await world.patch(f"/users/{world.users['officer'].id}", {"active": False}, role="admin")
    gone = await world.patch(
        f"/providers/{provider['id']}",
        {"contract_officer_id": world.users["officer"].id},
        role="manager",
    )
    assert gone.status_code == 422 and "contract_officer_id" in gone.text


async def test_a_location_shows_its_cqc_rating_at_once_and_can_be_removed(
    world: World, signed_in: SignIn, fake_cqc: FakeCqc
) -> None:
    provider = await world.provider()
    browser = await signed_in("officer")
    fake_cqc.add_location("1-555000111", name="Estuary Branch", rating="requires_improvement")
    added = await _post_form(
        browser,
        f"/providers/{provider['id']}/locations/new",
        {"cqc_location_id": "1-555000111"},
    )
    page = await _banner(browser, added)
    assert "Estuary Branch (1-555000111) was added. CQC rates it requires improvement" in page
    locations = (await world.get(f"/providers/{provider['id']}/locations")).json()["items"]
    assert [loc["cqc_location_id"] for loc in locations] == ["1-555000111"]
    assert locations[0]["overall_rating"] == "requires_improvement"
    # The rating is evidence like any other: the rule raised the provider.
    assert (await world.get(f"/providers/{provider['id']}")).json()[
        "monitoring_level"
    ] == "enhanced"

    unknown = await _post_form(
        browser,
        f"/providers/{provider['id']}/locations/new",
        {"cqc_location_id": "1-999999123"},
    )
    assert "CQC does not know this location ID" in await _banner(browser, unknown)

    bad = await _post_form(
        browser, f"/providers/{provider['id']}/locations/new", {"cqc_location_id": "12345"}
    )
    assert bad.status_code == 400 and "CQC location ID" in bad.text

    location_id = locations[0]["id"]
    removed = await _post_form(
        browser, f"/providers/{provider['id']}/locations/{location_id}/remove", {}
    )
    assert "was removed from the contract" in await _banner(browser, removed)
    left = (await world.get(f"/providers/{provider['id']}/locations")).json()["items"]
    assert [loc["cqc_location_id"] for loc in left] == ["1-999999123"]
    events = (await world.get("/events", provider_id=provider["id"], limit=50)).json()["items"]
    assert "location.removed" in [event["type"] for event in events]
    # The API removes the same way, and only the provider's own locations.
    other = await world.provider(name="Other Care")
    assert (
        await world.client.delete(
            f"/api/v1/providers/{other['id']}/locations/{left[0]['id']}",
            headers=world.headers["officer"],
        )
    ).status_code == 404
    gone = await world.client.delete(
        f"/api/v1/providers/{provider['id']}/locations/{left[0]['id']}",
        headers=world.headers["officer"],
    )
    assert gone.status_code == 204
    viewer = await world.client.delete(
        f"/api/v1/providers/{provider['id']}/locations/1", headers=world.headers["viewer"]
    )
    assert viewer.status_code == 403


async def test_a_removed_location_keeps_its_ratings_and_stops_counting(
    world: World, signed_in: SignIn, fake_cqc: FakeCqc, services: Services
) -> None:
    """Nothing is deleted: the location is marked removed with its date, its ratings stay
    readable on the provider's page and in the API, and neither the worst rating nor the
    rules count it; contracted again, it is the same location with the same history."""
    provider = await world.provider()
    browser = await signed_in("officer")
    fake_cqc.add_location("1-555000222", name="Riverside Branch", rating="inadequate")
    fake_cqc.add_location("1-555000333", name="Hilltop Branch", rating="good")
    for cqc_id in ("1-555000222", "1-555000333"):
        await _post_form(
            browser, f"/providers/{provider['id']}/locations/new", {"cqc_location_id": cqc_id}
        )
    shown = (await world.get(f"/providers/{provider['id']}")).json()
    assert shown["worst_cqc_rating"] == "inadequate"
    locations = (await world.get(f"/providers/{provider['id']}/locations")).json()["items"]
    riverside = next(loc for loc in locations if loc["cqc_location_id"] == "1-555000222")
    ratings_before = (await world.get(f"/providers/{provider['id']}/ratings")).json()["items"]
    assert any(r["location_id"] == riverside["id"] for r in ratings_before)

    removed = await _post_form(
        browser, f"/providers/{provider['id']}/locations/{riverside['id']}/remove", {}
    )
    page = await _banner(browser, removed)
    assert "Taken off the contract" in page
    assert "Riverside Branch (1-555000222), removed on 20 November 2026" in page
    assert "Inadequate" in page.split("Taken off the contract", 1)[1]
    ratings_after = (await world.get(f"/providers/{provider['id']}/ratings")).json()["items"]
    assert ratings_after == ratings_before  # the rating rows stay
    shown = (await world.get(f"/providers/{provider['id']}")).json()
    assert shown["worst_cqc_rating"] == "good"  # the removed location no longer counts
    listed = (await world.get("/providers")).json()["items"]
    assert next(p for p in listed if p["id"] == provider["id"])["worst_cqc_rating"] == "good"
    left = (await world.get(f"/providers/{provider['id']}/locations")).json()["items"]
    assert [loc["cqc_location_id"] for loc in left] == ["1-555000333"]
    again = await world.client.delete(
        f"/api/v1/providers/{provider['id']}/locations/{riverside['id']}",
        headers=world.headers["officer"],
    )
    assert again.status_code == 404  # removed once; not on the contract now
    dashboard = (await browser.get("/")).text
    row = dashboard.split(f'href="/providers/{provider["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert "Good" in row and "Inadequate" not in row

    # Contracted again: the same location, its history with it.
    back = await world.post(
        f"/providers/{provider['id']}/locations", {"cqc_location_id": "1-555000222"}
    )
    assert back.status_code == 201, back.text
    assert back.json()["id"] == riverside["id"]
    shown = (await world.get(f"/providers/{provider['id']}")).json()
    assert shown["worst_cqc_rating"] == "inadequate"
    assert "Taken off the contract" not in (await browser.get(f"/providers/{provider['id']}")).text


async def test_contract_pages_are_refused_to_roles_without_the_permission(
    world: World, signed_in: SignIn
) -> None:
    provider = await world.provider()
    for role in ("viewer", "safeguarding"):
        browser = await signed_in(role)
        for path in (
            "/providers/new",
            f"/providers/{provider['id']}/edit",
            f"/providers/{provider['id']}/officer",
            f"/providers/{provider['id']}/locations/new",
            "/users",
            "/users/new",
        ):
            assert (await browser.get(path)).status_code == 403, (role, path)


async def test_an_admin_manages_accounts_and_a_leaver_stops_at_once(
    world: World, signed_in: SignIn, services: Services
) -> None:
    admin = await signed_in("admin")
    created = await _post_form(
        admin,
        "/users/new",
        {
            "name": "Ada Leaver",
            "email": "ada.leaver@council.gov.uk",
            "role": "officer",
            "password": PASSWORD,
        },
    )
    page = await _banner(admin, created)
    assert "The account was created." in page and "Ada Leaver" in page
    users = (await world.get("/users", role="admin")).json()["items"]
    ada = next(u for u in users if u["email"] == "ada.leaver@council.gov.uk")
    assert ada["role"] == "officer" and ada["active"] is True
    assert "Never" in page  # Ada has not signed in yet

    short = await _post_form(
        admin,
        "/users/new",
        {"name": "Bo", "email": "not-an-email", "role": "officer", "password": "short"},
    )
    assert short.status_code == 400 and "Password must be at least 12 characters" in short.text
    assert "Email address" in short.text

    async with httpx.AsyncClient(
        transport=world.client._transport, base_url="http://test"
    ) as ada_browser:
        assert (await sign_in(ada_browser, "ada.leaver@council.gov.uk")).status_code == 303
        provider = await world.provider(name="Ada's Provider", contract_officer_id=ada["id"])
        token = (
            await world.client.post(
                "/api/v1/auth/token",
                data={"username": "ada.leaver@council.gov.uk", "password": PASSWORD},
            )
        ).json()["access_token"]
        listed = await admin.get("/users")
        assert "Never" not in listed.text.split("Ada Leaver")[1].split("</tr>")[0]

        promoted = await _post_form(
            admin, f"/users/{ada['id']}", {"role": "manager", "active": "true"}
        )
        assert "The account of Ada Leaver was saved." in await _banner(admin, promoted)
        assert (await world.get("/users", role="admin")).json()["items"][-1]["role"] == "manager"

        left = await _post_form(
            admin, f"/users/{ada['id']}", {"role": "manager", "active": "false"}
        )
        page = await _banner(admin, left)
        assert "Providers to reassign" in page and "Ada&#39;s Provider" in page
        # Her page session and her API token stop at the very next request.
        assert (await ada_browser.get("/")).status_code == 303
        me = await world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401

    # Meanwhile the provider's alerts go to the managers, never to no one.
    await factories.write(services, "safeguarding", provider["id"])
    async with services.database.sessions() as session:
        recipients = {
            d.recipient
            for d in (
                await session.execute(
                    select(Delivery).where(
                        Delivery.provider_id == provider["id"], Delivery.channel == "email"
                    )
                )
            ).scalars()
        }
    assert world.users["manager"].email in recipients
    assert "ada.leaver@council.gov.uk" not in recipients

    # Reassigned from the list: the provider leaves it.
    officer = world.users["officer"]
    moved = await _post_form(
        admin, f"/providers/{provider['id']}/officer", {"contract_officer_id": str(officer.id)}
    )
    assert "The contract officer was changed." in await _banner(admin, moved)
    assert "Providers to reassign" not in (await admin.get("/users")).text
    api = (await world.get(f"/providers/{provider['id']}")).json()
    assert api["contract_officer_id"] == officer.id


async def test_my_work_shows_an_officers_week_and_a_managers_whole_team(
    world: World, signed_in: SignIn, services: Services
) -> None:
    mine = await world.provider(name="Mine Care")
    other_officer = world.users["manager"]
    theirs = await world.provider(name="Theirs Care", contract_officer_id=other_officer.id)
    mine_sg = await factories.write(services, "safeguarding", mine["id"], reference="SG-MINE-1")
    await factories.write(services, "safeguarding", theirs["id"], reference="SG-THEIRS-1")
    concern = await factories.write(
        services, "concern", mine["id"], description="Late calls every day", whole_service=True
    )
    theirs_concern = await factories.write(
        services, "concern", theirs["id"], description="Rota gaps at weekends"
    )
    safeguarding_id = mine_sg.record.id
    # A visit's follow-up action due this week, one overdue, one done and one far off.
    visit = await factories.write(services, "visit", mine["id"], visited_on=date(2026, 11, 2))
    visit_id = visit.record.id
    for what, due_on in (
        ("Send the new rota", "2026-11-22"),
        ("Train two carers in medication", "2026-11-10"),
        ("Review the care plans", "2027-02-01"),
    ):
        added = await world.post(
            f"/visits/{visit_id}/actions",
            {"action": what, "owner": "Registered manager", "due_on": due_on},
        )
        assert added.status_code == 201, added.text
    late_id = added.json()["id"] - 1
    # The whole-service concern opened an improvement plan awaiting agreement; its action.
    improvement = await world.post(
        f"/providers/{mine['id']}/improvement-plan/actions",
        {
            "issue": "Calls late",
            "action": "Daily call-monitoring review",
            "owner": "Registered manager",
            "due_on": "2026-11-19",
        },
    )
    assert improvement.status_code == 201, improvement.text

    officer = await signed_in("officer")
    page = (await officer.get("/my-work")).text
    assert "My work" in page and "Mine Care" in page and "Theirs Care" not in page
    assert "SG-MINE-1" in page and "Late calls every day" in page
    # Every item links to its own page.
    assert f'href="/safeguardings/{safeguarding_id}"' in page
    assert f'href="/concerns/{concern.record.id}"' in page
    assert "Send the new rota" in page and "Train two carers in medication" in page
    assert f'href="/visits/{visit_id}#visit-action-{late_id}"' in page
    assert "10 November 2026, overdue" in page
    assert "Review the care plans" not in page  # due after this week
    assert f'href="/providers/{mine["id"]}#action-{improvement.json()["id"]}"' in page
    assert "Daily call-monitoring review" in page
    assert f'href="/providers/{mine["id"]}#improvement-plan"' in page  # awaiting agreement
    assert "Neglect and acts of omission" in page and "neglect</td>" not in page
    # The anchors the links land on are there.
    visit_page = (await officer.get(f"/visits/{visit_id}")).text
    assert f'id="visit-action-{late_id}"' in visit_page
    provider_page = (await officer.get(f"/providers/{mine['id']}")).text
    assert f'id="action-{improvement.json()["id"]}"' in provider_page
    async with services.database.sessions() as session:
        audited = (
            await session.execute(
                select(SafeguardingAudit.provider_id).where(
                    SafeguardingAudit.action == "web_my_work"
                )
            )
        ).all()
    assert [row[0] for row in audited] == [mine["id"]]

    manager = await signed_in("manager")
    everyone = (await manager.get("/my-work")).text
    assert "Everyone’s work" in everyone and "Theirs Care" in everyone
    assert "Officer Person" in everyone and "Manager Person" in everyone
    assert f'href="/concerns/{theirs_concern.record.id}"' in everyone
    assert "Send the new rota" in everyone and "Daily call-monitoring review" in everyone

    viewer = await signed_in("viewer")
    counts = (await viewer.get("/my-work")).text
    assert "SG-MINE-1" not in counts and "SG-THEIRS-1" not in counts
    assert "Neglect" not in counts and "/safeguardings/" not in counts
    assert "Your role sees counts only" in counts


async def test_forms_post_to_their_own_page(world: World, signed_in: SignIn) -> None:
    provider = await world.provider()
    browser = await signed_in("admin")
    for path in (
        f"/providers/{provider['id']}/edit",
        f"/providers/{provider['id']}/officer",
        f"/providers/{provider['id']}/locations/new",
        "/users/new",
        f"/users/{world.users['viewer'].id}",
    ):
        page = await browser.get(path)
        assert f'action="{path}"' in page.text, path
