"""The dashboard: each tile links to exactly the providers it counts, the table's totals
are those of the filtered providers, and the CQC panel says when England's figures were
fetched (never which command to run); the alerts page names providers and tells a
message written to a file from one sent."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import update

from app.alerting.email import written_to_file
from app.clock import FakeClock
from app.config import Settings
from app.main import create_app
from app.models import Provider
from app.monitoring import plans
from app.records import service as records
from app.records.schemas import EnteredInError
from app.services import Services, build_services
from tests import factories
from tests.conftest import World
from tests.fakes.smtp import SmtpServer
from tests.web.conftest import SignIn, sign_in

TILE = re.compile(
    r'<a class="govuk-link" href="([^"]+)">\s*<span class="cw-tile__figure">(\d+)</span>'
)
LISTED = re.compile(r'<p class="govuk-body" id="providers-count">(\d+) provider')
ALERTS_LISTED = re.compile(r"(\d+) deliveries, newest first")


async def _market(world: World, services: Services, clock: FakeClock) -> dict[str, int]:
    """Four providers, each counted by a different tile, two of them in the South."""
    ids = {}
    for name, locality, hours, people in (
        ("Alpha Care", "North", 420.0, 30),
        ("Beta Care", "South", 100.0, 12),
        ("Gamma Care", "South", 250.0, None),
        ("Delta Care", "North", 80.0, 7),
    ):
        provider = await world.provider(
            name=name, localities=[locality], weekly_hours=hours, people_supported=people
        )
        ids[name] = provider["id"]
    today = services.clock.today()
    for name in ids:  # all visited yesterday, so only Beta's visit is overdue
        await factories.write(services, "visit", ids[name], visited_on=today - timedelta(days=1))
    async with services.database.transaction() as session:
        await session.execute(
            update(Provider)
            .where(Provider.id == ids["Beta Care"])
            .values(next_visit_due_on=today - timedelta(days=3))
        )
    await factories.write(services, "safeguarding", ids["Gamma Care"])
    await factories.write(services, "safeguarding", ids["Gamma Care"], reference="SG-2")
    # A whole-service concern: intensive monitoring and a plan, whose action is overdue.
    await factories.write(services, "concern", ids["Delta Care"], whole_service=True)
    async with services.database.transaction() as session:
        await plans.add_action(
            session,
            provider_id=ids["Delta Care"],
            data=plans.ActionIn(
                issue="Missed calls",
                action="Recruit",
                owner="Manager",
                due_on=today + timedelta(days=7),
            ),
            actor=factories.TESTER,
            now=services.clock.now(),
        )
    clock.advance(timedelta(days=10))
    return ids


async def test_each_tile_links_to_exactly_the_providers_it_counts(
    world: World, signed_in: SignIn, services: Services, clock: FakeClock
) -> None:
    await _market(world, services, clock)
    officer = await signed_in("officer")
    # Filters on the page do not narrow what a tile's link lists.
    page = (await officer.get("/?officer=all&locality=South&rating=good")).text
    # The market's two tiles open the localities page, which shows their figures
    # (tests/web/test_market_pages.py); the rest each list what they count.
    tiles = [tile for tile in TILE.findall(page) if not tile[0].startswith("/localities")]
    assert len(tiles) == 7, tiles
    figures = {}
    for href, figure in tiles:
        listed = (await officer.get(href.replace("&amp;", "&"))).text
        found = (ALERTS_LISTED if href.startswith("/alerts") else LISTED).search(listed)
        assert found, href
        assert int(found.group(1)) == int(figure), href
        figures[href] = int(figure)
    by_name = {
        href.split("show=")[1].split("&")[0]: n for href, n in figures.items() if "show=" in href
    }
    # Each of the counted tiles counts something here, so the equality above means something.
    assert by_name["safeguardings_open"] == 1  # Gamma, with two open
    assert by_name["actions_overdue"] == 1  # Delta
    assert by_name["visits_overdue"] >= 1  # Beta (and whichever others ten days made late)
    overdue = (await officer.get("/?show=actions_overdue&officer=all")).text
    assert "Delta Care" in overdue and "Alpha Care" not in overdue
    assert "(2 open in all)" in page


async def test_the_totals_are_those_of_the_filtered_providers(
    world: World, signed_in: SignIn, services: Services, clock: FakeClock
) -> None:
    await _market(world, services, clock)
    officer = await signed_in("officer")
    everyone = (await officer.get("/?officer=all")).text
    assert "850 contracted hours a week and support 49 people" in everyone
    south = (await officer.get("/?officer=all&locality=South")).text
    assert "2 providers." in south
    assert "350 contracted hours a week and support 12 people" in south


async def test_the_dashboard_fits_an_officers_columns(
    world: World, signed_in: SignIn, services: Services, clock: FakeClock
) -> None:
    ids = await _market(world, services, clock)
    async with services.database.transaction() as session:
        await session.execute(
            update(Provider)
            .where(Provider.id == ids["Delta Care"])
            .values(placements_suspended=True)
        )
    page = (await (await signed_in("officer")).get("/?officer=all")).text
    table = page.split('aria-labelledby="providers-heading"')[1].split("</table>")[0]
    assert table.count('scope="col"') == 8
    assert "Placements suspended" in table  # Delta's embargo, inside the level column
    assert table.count("Placements suspended") == 1


async def test_the_cqc_panel_names_no_command_and_only_managers_may_fetch(
    world: World, signed_in: SignIn
) -> None:
    officer = await signed_in("officer")
    page = (await officer.get("/")).text
    assert "have not been fetched from CQC yet" in page
    assert "python -m" not in page and "<code>" not in page
    assert "Fetch England" not in page
    manager = (await (await signed_in("manager")).get("/")).text
    # Without a CQC key the manager is told why no fetch is offered, in words.
    assert "The CQC connection is not set up" in manager
    assert "CAREWATCH_" not in manager


async def test_the_alerts_page_names_providers_and_says_written_to_a_file(
    world: World, signed_in: SignIn, services: Services
) -> None:
    provider = await world.provider(name="Harbour Home Care Ltd")
    await factories.write(services, "concern", provider["id"], whole_service=True)
    stats = await services.dispatcher.drain()
    assert stats.sent > 0
    page = (await (await signed_in("manager")).get("/alerts")).text
    rows = page.split('<tbody class="govuk-table__body">')[1]
    assert "Harbour Home Care Ltd" in rows
    assert f"Provider {provider['id']}<" not in rows
    assert "Written to a file" in rows and "No SMTP server configured" in rows
    assert ">Sent<" not in rows


async def test_a_sent_email_is_not_called_written_to_a_file() -> None:
    assert written_to_file("file:abc.eml")
    assert not written_to_file("<abc@carewatch.gov.uk>")
    assert not written_to_file(None)


async def test_an_email_over_smtp_is_shown_as_sent(
    world: World, smtp_settings: Settings, smtp: SmtpServer, clock: FakeClock
) -> None:
    over_smtp = build_services(smtp_settings, clock=clock)
    try:
        provider = await factories.provider(over_smtp, name="Harbour Home Care Ltd")
        assert provider.id is not None
        await factories.write(over_smtp, "concern", provider.id, whole_service=True)
        assert (await over_smtp.dispatcher.drain()).sent > 0
        assert smtp.recorder.inbox
        transport = httpx.ASGITransport(app=create_app(smtp_settings, over_smtp))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
            assert (await sign_in(browser, world.users["manager"].email)).status_code == 303
            page = (await browser.get("/alerts")).text
    finally:
        await over_smtp.database.dispose()
    rows = page.split('<tbody class="govuk-table__body">')[1]
    assert ">Sent<" in rows and "Written to a file" not in rows


async def test_a_record_entered_in_error_is_on_no_count(
    world: World, signed_in: SignIn, services: Services, clock: FakeClock
) -> None:
    ids = await _market(world, services, clock)
    mistaken = await factories.write(services, "safeguarding", ids["Alpha Care"], reference="X")
    async with services.database.transaction() as session:
        await records.mark_entered_in_error(
            session,
            "safeguarding",
            mistaken.record.id,
            EnteredInError(reason="Recorded against the wrong provider"),
            factories.context(services),
            may_mark_others=True,
        )
    officer = await signed_in("officer")
    page = (await officer.get("/?officer=all")).text
    tiles = TILE.findall(page)
    figures = {href.split("show=")[1].split("&")[0]: int(n) for href, n in tiles if "show=" in href}
    assert figures["safeguardings_open"] == 1, figures  # Gamma's, not Alpha's mistake
    assert "(2 open in all)" in page
    tile = (await officer.get("/?show=safeguardings_open&officer=all")).text
    assert "Gamma Care" in tile and "Alpha Care" not in tile
