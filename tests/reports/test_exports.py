"""The dashboard's provider table as CSV and XLSX, from the page and the API: the page's
filters and order, every row (not one page), the role's columns (a viewer's file has no
safeguarding figures), and the audit of each export."""

from __future__ import annotations

import csv
import io

import openpyxl
from sqlalchemy import select

from app.models import Event, SafeguardingAudit
from app.services import Services
from tests import factories
from tests.conftest import World
from tests.web.conftest import SignIn


async def _market(world: World, services: Services) -> dict[str, int]:
    ids = {}
    for name, locality, hours in (
        ("Alpha Care", "North", 420.0),
        ("Beta Care", "South", 100.0),
        ("Gamma Care", "South", 250.0),
    ):
        ids[name] = (await world.provider(name=name, localities=[locality], weekly_hours=hours))[
            "id"
        ]
    await factories.write(services, "safeguarding", ids["Gamma Care"], reference="SG-GAMMA-1")
    await factories.write(services, "safeguarding", ids["Gamma Care"], reference="SG-GAMMA-2")
    await factories.write(services, "complaint", ids["Beta Care"], upheld="upheld")
    return ids


def _csv(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the accents right
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _xlsx(body: bytes) -> tuple[list[str], list[list[object]], list[str]]:
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    sheet = workbook["Providers"]
    rows: list[list[object]] = [list(row) for row in sheet.iter_rows(values_only=True)]
    about = [str(row[0]) for row in workbook["About this list"].iter_rows(values_only=True)]
    return [str(h) for h in rows[0]], rows[1:], about


async def test_the_csv_follows_the_dashboards_filters_and_order(
    world: World, signed_in: SignIn, services: Services
) -> None:
    await _market(world, services)
    manager = await signed_in("manager")
    response = await manager.get(
        "/export/providers.csv", params={"locality": "South", "sort": "name", "order": "desc"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = _csv(response.content)
    assert [row["Provider"] for row in rows] == ["Gamma Care", "Beta Care"]
    gamma, beta = rows
    assert gamma["Open safeguardings"] == "2"
    assert gamma["Open safeguarding references"] == "SG-GAMMA-1, SG-GAMMA-2"
    assert beta["Complaints upheld, last 90 days"] == "1"
    assert beta["Localities"] == "South"
    assert beta["Contracted hours a week"] == "100.0"


async def test_the_dashboard_links_to_its_own_list_as_files(
    world: World, signed_in: SignIn, services: Services
) -> None:
    await _market(world, services)
    manager = await signed_in("manager")
    page = await manager.get("/", params={"locality": "North", "officer": "all"})
    assert "Download this list as" in page.text
    assert 'href="/export/providers.csv?officer=all&amp;locality=North&amp;sort=name"' in page.text
    assert 'href="/export/providers.xlsx?officer=all&amp;locality=North&amp;sort=name"' in page.text


async def test_the_spreadsheet_has_every_row_not_one_page(
    world: World, signed_in: SignIn, services: Services
) -> None:
    officer_id = world.users["officer"].id
    for number in range(105):  # more than the dashboard's page of 100
        await factories.provider(services, officer_id, name=f"Provider {number:03d}")
    manager = await signed_in("manager")
    response = await manager.get("/export/providers.xlsx")
    assert response.status_code == 200
    headings, rows, about = _xlsx(response.content)
    assert headings[:3] == ["Provider", "CQC provider ID", "Contract type"]
    assert len(rows) == 105
    assert rows[0][0] == "Provider 000" and rows[-1][0] == "Provider 104"
    assert "105 providers" in about and "Every provider" in about


async def test_a_viewers_export_has_no_safeguarding_figures(
    world: World, signed_in: SignIn, services: Services
) -> None:
    await _market(world, services)
    viewer = await signed_in("viewer")
    for path in ("/export/providers.csv", "/export/providers.xlsx"):
        response = await viewer.get(path)
        assert response.status_code == 200
        if path.endswith(".csv"):
            headings = list(_csv(response.content)[0])
        else:
            headings = _xlsx(response.content)[0]
        assert not [h for h in headings if "afeguarding" in h], headings
        assert b"SG-GAMMA" not in response.content
    # A spreadsheet is a zip: look inside its sheets too.
    _headings, rows, _about = _xlsx(response.content)
    assert not any("SG-GAMMA" in str(cell) for row in rows for cell in row)
    page = await viewer.get("/")
    assert "(without safeguarding figures)" in page.text


async def test_each_export_is_an_audited_event_and_references_are_on_the_access_audit(
    world: World, signed_in: SignIn, services: Services
) -> None:
    ids = await _market(world, services)
    officer = await signed_in("officer")
    viewer = await signed_in("viewer")
    assert (await officer.get("/export/providers.csv", params={"officer": "all"})).is_success
    assert (await viewer.get("/export/providers.xlsx", params={"level": "routine"})).is_success
    async with services.database.sessions() as session:
        events = (
            (await session.execute(select(Event).where(Event.type == "export.downloaded")))
            .scalars()
            .all()
        )
        audit = (
            (
                await session.execute(
                    select(SafeguardingAudit).where(SafeguardingAudit.action == "export")
                )
            )
            .scalars()
            .all()
        )
    assert [(e.actor_user_id, e.data["format"], e.data["rows"]) for e in events] == [
        (world.users["officer"].id, "csv", 3),
        (world.users["viewer"].id, "xlsx", 3),
    ]
    assert "Monitoring level: Routine" in events[1].data["covers"]
    # Only the officer's file carried safeguarding references: two rows, both Gamma's.
    assert (
        sorted((a.user_id, a.provider_id) for a in audit)
        == [(world.users["officer"].id, ids["Gamma Care"])] * 2
    )
    assert all(a.route == "GET /export/providers.csv" for a in audit)


async def test_the_api_exports_with_the_dashboards_parameters(
    world: World, services: Services
) -> None:
    await _market(world, services)
    response = await world.get("/exports/providers.csv", role="manager", rating="not_rated")
    assert response.status_code == 200
    assert _csv(response.content) == []  # no provider has a rating at all
    response = await world.get("/exports/providers.xlsx", role="viewer", locality="North")
    assert response.status_code == 200
    headings, rows, _about = _xlsx(response.content)
    assert [row[0] for row in rows] == ["Alpha Care"]
    assert "Open safeguardings" not in headings
    bad = await world.get("/exports/providers.csv", role="manager", level="extreme")
    assert bad.status_code in (400, 422) and "level" in bad.text
    unknown = await world.get("/exports/providers.csv", role="manager", colour="red")
    assert unknown.status_code in (400, 422) and "colour" in unknown.text
    async with services.database.sessions() as session:
        count = len(
            (await session.execute(select(Event.id).where(Event.type == "export.downloaded")))
            .scalars()
            .all()
        )
    assert count == 2  # refused requests export nothing, and record nothing


async def test_the_openapi_document_describes_the_exports(world: World) -> None:
    schema = (await world.client.get("/openapi.json")).json()
    csv_route = schema["paths"]["/api/v1/exports/providers.csv"]["get"]
    assert {p["name"] for p in csv_route["parameters"]} >= {"officer", "locality", "sort"}
    assert "text/csv; charset=utf-8" in csv_route["responses"]["200"]["content"]
