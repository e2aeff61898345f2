"""A manager fetches England's figures from the dashboard: a POST form with its CSRF
token, through the market benchmark the scheduler runs, against the fake CQC server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiolimiter import AsyncLimiter
from pydantic import SecretStr
from sqlalchemy import select

from app.clock import FakeClock
from app.config import Settings
from app.models import CqcBenchmark
from app.services import Services, build_services
from tests.conftest import World
from tests.fakes.cqc_server import FakeCqc
from tests.web.conftest import SignIn, csrf_of

CQC_KEY = "test-key-dashboard-7f3a"


@pytest.fixture
def fake_cqc() -> FakeCqc:
    return FakeCqc.from_fixtures(api_key=CQC_KEY)


@pytest.fixture
async def services(
    settings: Settings, clock: FakeClock, fake_cqc: FakeCqc
) -> AsyncIterator[Services]:
    with_cqc = settings.model_copy(
        update={"cqc_api_key": SecretStr(CQC_KEY), "cqc_base_url": "http://cqc.test/public/v1"}
    )
    built = build_services(
        with_cqc, clock=clock, cqc_transport=httpx.ASGITransport(app=fake_cqc.app())
    )
    assert built.cqc_client is not None

    async def no_wait(seconds: float) -> None:
        del seconds

    built.cqc_client.sleep = no_wait
    built.cqc_client.limiter = AsyncLimiter(1000, 1)
    yield built
    await built.close()


async def test_a_manager_fetches_englands_figures_from_the_page(
    world: World, signed_in: SignIn, services: Services, fake_cqc: FakeCqc
) -> None:
    fake_cqc.locations.clear()
    for index, rating in enumerate(["good", "good", "inadequate"]):
        fake_cqc.add_location(f"1-{610000000 + index}", rating=rating, region="London")
    officer = await signed_in("officer")
    officer_page = (await officer.get("/")).text
    assert "Fetch England" not in officer_page
    refused = await officer.post("/", data={"csrf_token": csrf_of(officer_page)})
    assert refused.status_code == 403

    manager = await signed_in("manager")
    page = (await manager.get("/")).text
    assert "have not been fetched from CQC yet: they are fetched every week" in page
    assert '<form method="post" action="/">' in page
    forged = await manager.post("/", data={"csrf_token": "forged"})
    assert forged.status_code in (400, 403)
    started = await manager.post("/", data={"csrf_token": csrf_of(page)})
    assert started.status_code == 303 and started.headers["location"] == "/?fetching=1"
    async with services.database.sessions() as session:
        benchmark = (await session.execute(select(CqcBenchmark))).scalar_one()
    assert benchmark.status == "complete"
    assert benchmark.distribution["national"] == {"good": 2, "inadequate": 1}
    after = (await manager.get(started.headers["location"])).text
    assert "being fetched from CQC" in after
    assert "last fetched from CQC on 20 November 2026 at 10am" in after
    assert "python -m" not in after
