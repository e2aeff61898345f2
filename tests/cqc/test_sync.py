"""The changes-driven sync, end to end against the fake CQC server."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from app.clock import FakeClock
from app.cqc.sync import CqcContext, run_market_benchmark, sync_changes
from app.models import Event, Location
from app.services import Services
from tests import factories as f
from tests.conftest import World
from tests.fakes.cqc_server import FakeCqc
from tests.fakes.smtp import SmtpServer


def context(services: Services) -> CqcContext:
    found = services.cqc_context()
    assert found is not None
    return found


async def _events(services: Services, event_type: str) -> list[Event]:
    async with services.database.sessions() as session:
        return list(
            (
                await session.execute(
                    select(Event).where(Event.type == event_type).order_by(Event.id)
                )
            ).scalars()
        )


async def _tracked(
    services: Services,
    fake: FakeCqc,
    cqc_id: str,
    rating: str = "good",
    officer_id: int | None = None,
) -> int:
    """A provider with one contracted location, rated `rating` and already synced."""
    fake.add_location(cqc_id, rating=rating, rated_on="2023-05-01")
    provider = await f.provider(services, officer_id=officer_id, name=f"Provider {cqc_id}")
    place = await f.location(services, provider.id or 0, cqc_id)
    from app.cqc.sync import refresh_location

    assert await refresh_location(context(services), place.id or 0, cqc_id) == "updated"
    return provider.id or 0


async def test_the_acceptance_scenario(
    world: World,
    services: Services,
    fake_cqc: FakeCqc,
    clock: FakeClock,
    smtp: SmtpServer,
) -> None:
    """Good -> Inadequate, only in the newer assessment block with a capital I, behind a
    soft rate limit, next to a changed id that 404s: intensive after one sync, one email
    each for the officer and the safeguarding mailbox, and a second sync changes nothing."""
    provider = await world.provider()
    await world.post(f"/providers/{provider['id']}/locations", {"cqc_location_id": "1-000000001"})
    await services.dispatcher.drain()
    first = await sync_changes(context(services))  # the baseline: Good, no alert
    assert first.status == "success"
    assert smtp.recorder.inbox == []
    clock.advance(timedelta(hours=1))
    fake_cqc.set_rating(
        "1-000000001",
        "inadequate",
        "2026-11-19",
        block="assessment",
        spelling={"inadequate": "Inadequate"},
    )
    fake_cqc.change("1-000000001", clock.now() - timedelta(minutes=30))
    fake_cqc.change("1-000000099", clock.now() - timedelta(minutes=20))  # 404s on detail
    fake_cqc.change("1-000000777", clock.now() - timedelta(minutes=10))  # not ours
    fake_cqc.soft_429 = 2
    run = await sync_changes(context(services))
    assert run.status == "success", run.error
    assert run.not_found == []  # 1-000000099 is not tracked, so never fetched
    assert run.locations_updated == 1 and run.changes_seen == 3
    assert (await world.get(f"/providers/{provider['id']}/monitoring")).json()[
        "level"
    ] == "intensive"
    await services.dispatcher.drain()
    assert len(smtp.recorder.received_by(world.users["officer"].email)) == 1
    assert len(smtp.recorder.received_by("safeguarding@council.gov.uk")) == 1
    assert len(await _events(services, "cqc.rating_changed")) == 1

    clock.advance(timedelta(hours=1))
    again = await sync_changes(context(services))  # overlaps the last window
    assert again.status == "success" and again.locations_updated == 0
    await services.dispatcher.drain()
    assert len(smtp.recorder.inbox) == 3  # officer, mailbox, manager: nothing new
    assert len(await _events(services, "cqc.rating_changed")) == 1


async def test_only_tracked_locations_are_fetched_and_404s_are_recorded(
    services: Services,
    fake_cqc: FakeCqc,
    clock: FakeClock,
) -> None:
    await _tracked(services, fake_cqc, "1-000000010")
    await _tracked(services, fake_cqc, "1-000000011")
    async with services.database.transaction() as session:
        gone = await session.scalar(
            select(Location).where(Location.cqc_location_id == "1-000000011")
        )
        assert gone is not None
    del fake_cqc.locations["1-000000011"]  # tracked, but its id now 404s
    for index in range(50):
        fake_cqc.change(f"1-{800000000 + index}", clock.now() - timedelta(hours=2))
    fake_cqc.change("1-000000010", clock.now() - timedelta(hours=2))
    fake_cqc.change("1-000000011", clock.now() - timedelta(hours=2))
    run = await sync_changes(context(services))
    assert run.status == "success"
    assert run.not_found == ["1-000000011"]
    assert run.changes_seen == 52 and run.locations_fetched == 1
    assert run.requests == run.change_pages + 2  # pages, plus the two tracked ids


async def test_capitals_and_sentinels_are_not_changes(
    services: Services,
    fake_cqc: FakeCqc,
    clock: FakeClock,
) -> None:
    provider_id = await _tracked(services, fake_cqc, "1-000000020", rating="good")
    fake_cqc.set_rating("1-000000020", "good", "2023-05-01", spelling={"good": "GOOD"})
    fake_cqc.change("1-000000020", clock.now() - timedelta(minutes=5))
    run = await sync_changes(context(services))
    assert run.locations_fetched == 1 and run.locations_updated == 0
    # A never-rated location: the sentinel and a missing key are the same "not rated".
    await _tracked(services, fake_cqc, "1-000000021", rating=None)
    payload = fake_cqc.locations["1-000000021"]
    payload["currentRatings"] = {"overall": {"rating": "Insufficient evidence to rate"}}
    clock.advance(timedelta(hours=1))
    fake_cqc.change("1-000000021", clock.now() - timedelta(minutes=5))
    run = await sync_changes(context(services))
    assert run.locations_updated == 0
    assert await _events(services, "cqc.rating_changed") == []
    assert await f.level_of(services, provider_id) == "routine"


async def test_a_run_that_fails_halfway_keeps_the_window_and_the_next_completes(
    services: Services,
    fake_cqc: FakeCqc,
    clock: FakeClock,
) -> None:
    first = await _tracked(services, fake_cqc, "1-000000030")
    second = await _tracked(services, fake_cqc, "1-000000031")
    baseline = await sync_changes(context(services))
    assert baseline.status == "success"
    clock.advance(timedelta(hours=1))
    for cqc_id in ("1-000000030", "1-000000031"):
        fake_cqc.set_rating(cqc_id, "requires_improvement", "2026-11-18")
        fake_cqc.change(cqc_id, clock.now() - timedelta(minutes=10))
    fake_cqc.fail_detail_after = fake_cqc._details + 1  # the second detail fetch fails
    context(services).client.max_attempts = 2
    failed = await sync_changes(context(services))
    assert failed.status == "failed" and failed.error
    clock.advance(timedelta(hours=1))
    fake_cqc.fail_detail_after = None
    done = await sync_changes(context(services))
    assert done.status == "success"
    assert done.window_start == baseline.window_end - timedelta(
        minutes=60
    )  # not advanced by the failure
    assert {await f.level_of(services, p) for p in (first, second)} == {"enhanced"}
    assert len(await _events(services, "cqc.rating_changed")) == 2


async def test_a_429_storm_slows_the_sync_and_loses_nothing(
    services: Services,
    fake_cqc: FakeCqc,
    clock: FakeClock,
) -> None:
    ids = [f"1-0000001{index:02d}" for index in range(6)]
    for cqc_id in ids:
        await _tracked(services, fake_cqc, cqc_id)
    await sync_changes(context(services))
    clock.advance(timedelta(hours=1))
    for cqc_id in ids:
        fake_cqc.set_rating(cqc_id, "inadequate", "2026-11-18")
        fake_cqc.change(cqc_id, clock.now() - timedelta(minutes=5))
    client = context(services).client
    # A storm longer than the client's patience: the run fails and its window stays.
    fake_cqc.hard_429 = 6
    failed = await sync_changes(context(services))
    assert failed.status == "failed" and "rate limited" in (failed.error or "")
    # A storm it can ride out: every throttle is waited for, nothing is lost.
    clock.advance(timedelta(minutes=30))
    fake_cqc.hard_429, fake_cqc.soft_429 = 3, 2
    waits_before = len(client.waits)
    run = await sync_changes(context(services))
    assert run.status == "success" and run.locations_updated == 6
    assert len(client.waits) - waits_before == 5
    assert client.waits[-5:].count(7.0) == 5  # Retry-After, and the seconds in the message
    assert len(await _events(services, "cqc.rating_changed")) == 6


async def test_re_registration_links_the_successor_without_an_alert(
    services: Services,
    fake_cqc: FakeCqc,
    clock: FakeClock,
) -> None:
    provider_id = await _tracked(services, fake_cqc, "1-000000040", rating="good")
    fake_cqc.re_register("1-000000040", "1-000000041")
    place = await f.location(services, provider_id, "1-000000041")
    from app.cqc.sync import refresh_location

    assert await refresh_location(context(services), place.id or 0, "1-000000041") == "updated"
    recorded = await _events(services, "cqc.rating_recorded")
    assert recorded[-1].data["direction"] == "inherited"
    assert recorded[-1].data["inherited_from"] == "1-000000040"
    assert await _events(services, "cqc.rating_changed") == []
    async with services.database.sessions() as session:
        successor = await session.get(Location, place.id)
    assert successor is not None and successor.predecessor_cqc_location_id == "1-000000040"


async def test_the_market_benchmark_counts_and_resumes(
    services: Services,
    fake_cqc: FakeCqc,
) -> None:
    fake_cqc.locations.clear()
    ratings = ["good"] * 6 + ["outstanding"] * 2 + ["requires_improvement"] + ["inadequate"]
    for index, rating in enumerate(ratings):
        fake_cqc.add_location(
            f"1-{600000000 + index}", rating=rating, region="London" if index % 2 else "South West"
        )
    fake_cqc.add_location("1-699999999", rating=None)
    fake_cqc.add_location("1-699999998", rating="good", homecare=False)  # a care home
    fake_cqc.add_location("1-699999997", rating="good", registered=False)  # deregistered
    fake_cqc.fail_detail_after = 5
    context(services).client.max_attempts = 1
    interrupted = await run_market_benchmark(context(services), per_page=4)
    assert interrupted.status == "running" and interrupted.error
    fake_cqc.fail_detail_after = None
    done = await run_market_benchmark(context(services), per_page=4)
    assert done.id == interrupted.id and done.status == "complete"
    national = done.distribution["national"]
    assert national == {
        "good": 6,
        "outstanding": 2,
        "requires_improvement": 1,
        "inadequate": 1,
        "not_rated": 1,
    }
    assert sum(done.distribution["regions"]["London"].values()) == 5


async def test_sync_through_the_api_and_its_status(
    world: World,
    services: Services,
    fake_cqc: FakeCqc,
) -> None:
    assert (await world.post("/cqc/sync", {}, role="officer")).status_code == 403
    started = await world.post("/cqc/sync", {}, role="manager")
    assert started.status_code == 202
    status = (await world.get("/cqc/status", role="viewer")).json()
    assert status["enabled"] is True and status["reason"] is None
    assert status["recent_runs"][0]["id"] == started.json()["run_id"]
    assert status["recent_runs"][0]["status"] == "success"
    assert status["last_success_at"] is not None


async def test_polling_off_without_a_key_says_why(world: World, services: Services) -> None:
    services.cqc_client = None
    object.__setattr__(
        services, "settings", services.settings.model_copy(update={"cqc_api_key": None})
    )
    refused = await world.post("/cqc/sync", {}, role="manager")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "cqc_api_key"
    status = (await world.get("/cqc/status")).json()
    assert status["enabled"] is False and "CAREWATCH_CQC_API_KEY" in status["reason"]


async def test_a_sync_over_a_real_socket(
    services: Services,
    fake_cqc: FakeCqc,
    fake_cqc_url: str,
    clock: FakeClock,
) -> None:
    from app.cqc.client import CqcClient

    services.cqc_client = CqcClient(
        httpx.AsyncClient(base_url=fake_cqc_url, timeout=5),
        api_key=context(services).client._headers["Ocp-Apim-Subscription-Key"],
    )
    provider_id = await _tracked(services, fake_cqc, "1-000000050")
    clock.advance(timedelta(hours=1))
    fake_cqc.set_rating("1-000000050", "requires_improvement", "2026-11-18")
    fake_cqc.change("1-000000050", clock.now() - timedelta(minutes=1))
    run = await sync_changes(context(services))
    assert run.status == "success" and run.locations_updated == 1
    assert await f.level_of(services, provider_id) == "enhanced"
    await services.cqc_client.http.aclose()
