"""A CQC answer we do not understand never changes what we know (issue 17, points 1-3):
each fault is served by the fake CQC over HTTP and goes through the real sync, the real
database and the real API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from app.clock import FakeClock
from app.cqc.sync import CqcContext, refresh_location, sync_changes
from app.models import CqcUnreadableLocation, Event, Location
from app.models.base import KEY_QUESTIONS, Rating
from app.services import Services
from tests import factories as f
from tests.conftest import World
from tests.fakes.cqc_server import FakeCqc

Mutation = Callable[[dict[str, Any]], Any]


def context(services: Services) -> CqcContext:
    found = services.cqc_context()
    assert found is not None
    return found


def _set(path: str, value: Any) -> Mutation:
    """Set (or, with value DELETE, remove) the value at a dotted path; digits index lists."""

    def change(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = payload
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(last) if last.isdigit() else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value

    return change


DELETE = object()
KQ = "currentRatings.overall.keyQuestionRatings"


def _drop(*keys: str) -> Mutation:
    def change(payload: dict[str, Any]) -> None:
        for key in keys:
            payload.pop(key, None)

    return change


def _both(*mutations: Mutation) -> Mutation:
    def change(payload: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(payload)

    return change


def _answer(body: Any) -> Mutation:
    return lambda _payload: body


# Answers that cannot be read, whatever we hold.
UNREADABLE: dict[str, Mutation] = {
    "a misspelt rating": _set("currentRatings.overall.rating", "Goood"),
    "a number for the rating": _set("currentRatings.overall.rating", 3),
    "an object for the rating": _set("currentRatings.overall.rating", {"text": "Good"}),
    "a null rating": _set("currentRatings.overall.rating", None),
    "an empty rating": _set("currentRatings.overall.rating", ""),
    "no rating in overall": _set("currentRatings.overall.rating", DELETE),
    "overall is a string": _set("currentRatings.overall", "Good"),
    "overall is a list": _set("currentRatings.overall", [{"rating": "Good"}]),
    "currentRatings is a string": _set("currentRatings", "Good"),
    "currentRatings is a list": _set("currentRatings", []),
    "key questions are a string": _set(KQ, "Good"),
    "a key question is a string": _set(f"{KQ}.0", "Safe"),
    "an unknown key question": _set(f"{KQ}.0.name", "Saef"),
    "a key question without a name": _set(f"{KQ}.0.name", DELETE),
    "a key question rated with a number": _set(f"{KQ}.1.rating", 2),
    "a key question rated 'Outstandingg'": _set(f"{KQ}.1.rating", "Outstandingg"),
    "a report date that does not parse": _set("currentRatings.overall.reportDate", "last May"),
    "the assessment block is an object": _set("assessment", {"ratings": {}}),
    "an assessment entry is a string": _set("assessment", ["Good"]),
    "assessment ratings are a list": _set("assessment", [{"ratings": []}]),
    "an assessment rating we do not know": _set(
        "assessment",
        [
            {
                "assessmentPlanPublishedDateTime": "2026-11-01 09:00:00",
                "ratings": {"asgRatings": [{"rating": "Inadequate-ish", "status": "Current"}]},
            }
        ],
    ),
    "an assessment date that does not parse": _set(
        "assessment",
        [
            {
                "assessmentPlanPublishedDateTime": "soon",
                "ratings": {"asgRatings": [{"rating": "Inadequate", "status": "Current"}]},
            }
        ],
    ),
    "an assessment status that is a number": _set(
        "assessment", [{"ratings": {"overall": [{"rating": "Inadequate", "status": 1}]}}]
    ),
    "no current rating and history is an object": _both(
        _drop("currentRatings"), _set("historicRatings", {})
    ),
    "the answer is about another location": _set("locationId", "1-000000002"),
    "the answer is a list": _answer([]),
    "the answer is a string": _answer("Good"),
    "the answer is a number": _answer(7),
}
# Answers that read, but would unrate (or un-date) a location we hold as rated: suspicious.
SUSPICIOUS: dict[str, Mutation] = {
    "no current or historic ratings": _drop("currentRatings", "historicRatings"),
    "no ratings blocks at all": _drop("currentRatings", "historicRatings", "assessment"),
    "'Not Yet Inspected' for a rated location": _set(
        "currentRatings.overall.rating", "Not Yet Inspected"
    ),
    "'Insufficient evidence to rate' for a rated location": _set(
        "currentRatings.overall.rating", "insufficient evidence to rate"
    ),
    "key questions vanished": _set(KQ, DELETE),
    "currentRatings gone, only older history left": _drop("currentRatings"),
    "currentRatings without overall, older history": _set(
        "currentRatings", {"reportDate": "2023-05-01"}
    ),
}
MALFORMED = {**UNREADABLE, **SUSPICIOUS}


async def _rated(services: Services, fake: FakeCqc, cqc_id: str) -> tuple[int, int]:
    """A provider with one contracted location CQC rates Good, already fetched once."""
    fake.add_location(cqc_id, rating="good", rated_on="2023-05-01")
    provider = await f.provider(services, name=f"Provider {cqc_id}")
    place = await f.location(services, provider.id or 0, cqc_id)
    assert await refresh_location(context(services), place.id or 0, cqc_id) == "updated"
    return provider.id or 0, place.id or 0


async def _location(services: Services, location_id: int) -> Location:
    async with services.database.sessions() as session:
        found = await session.get(Location, location_id)
    assert found is not None
    return found


async def _unreadable(services: Services) -> list[CqcUnreadableLocation]:
    async with services.database.sessions() as session:
        return list((await session.execute(select(CqcUnreadableLocation))).scalars())


async def _changed_events(services: Services) -> list[Event]:
    async with services.database.sessions() as session:
        return list(
            (
                await session.execute(select(Event).where(Event.type == "cqc.rating_changed"))
            ).scalars()
        )


def _gauge(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} is not served")


@pytest.mark.parametrize("fault", list(MALFORMED))
async def test_a_malformed_answer_changes_nothing_and_the_run_goes_on(
    fault: str, services: Services, fake_cqc: FakeCqc, clock: FakeClock
) -> None:
    bad_provider, bad = await _rated(services, fake_cqc, "1-000000060")
    good_provider, _good = await _rated(services, fake_cqc, "1-000000061")
    first = await sync_changes(context(services))
    before = await _location(services, bad)
    assert before.overall_rating == Rating.good and before.safe_rating == Rating.good

    clock.advance(timedelta(hours=1))
    fake_cqc.malform_with("1-000000060", MALFORMED[fault])
    fake_cqc.set_rating("1-000000061", "inadequate", "2026-11-18")  # a real change beside it
    for cqc_id in ("1-000000060", "1-000000061"):
        fake_cqc.change(cqc_id, clock.now() - timedelta(minutes=5))
    run = await sync_changes(context(services))

    assert run.status == "success", run.error
    assert run.unreadable == ["1-000000060"] and run.locations_updated == 1
    after = await _location(services, bad)
    assert after.overall_rating == Rating.good
    assert {getattr(after, f"{q}_rating") for q in KEY_QUESTIONS} == {Rating.good}
    assert after.overall_rated_on == before.overall_rated_on
    assert after.last_checked_at == before.last_checked_at  # nothing of the answer stored
    changed = await _changed_events(services)
    assert [e.data["cqc_location_id"] for e in changed] == ["1-000000061"]
    assert await f.level_of(services, bad_provider) == "routine"
    assert await f.level_of(services, good_provider) == "intensive"
    (held,) = await _unreadable(services)
    assert held.cqc_location_id == "1-000000060" and held.failures == 1
    assert held.last_failed_at == clock.now() and held.last_error
    # The window moved on: the bad location is not what holds it back.
    assert run.window_start == (first.window_end or clock.now()) - context(services).overlap


async def test_an_unreadable_location_is_shown_retried_until_it_reads_then_cleared(
    world: World, services: Services, fake_cqc: FakeCqc, clock: FakeClock
) -> None:
    _provider, bad = await _rated(services, fake_cqc, "1-000000070")
    await sync_changes(context(services))
    clock.advance(timedelta(hours=1))
    fake_cqc.malform_with("1-000000070", MALFORMED["a misspelt rating"])
    fake_cqc.change("1-000000070", clock.now() - timedelta(minutes=5))
    failed_once = await sync_changes(context(services))
    assert failed_once.status == "success" and failed_once.unreadable == ["1-000000070"]

    status = (await world.get("/cqc/status", role="viewer")).json()
    shown = status["unreadable_locations"]
    assert shown["count"] == 1
    (entry,) = shown["locations"]
    assert entry["cqc_location_id"] == "1-000000070" and entry["failures"] == 1
    assert "currentRatings.overall.rating" in entry["last_error"]
    assert "Goood" not in entry["last_error"]  # where it failed, never what it said
    assert status["recent_runs"][0]["unreadable"] == ["1-000000070"]
    metrics = (await world.client.get("/metrics")).text
    assert _gauge(metrics, "carewatch_cqc_unreadable_locations") == 1

    # Next run: no change for it in the window, yet it is fetched again, still bad.
    clock.advance(timedelta(hours=1))
    fetches_before = sum(1 for path, _q in fake_cqc.requests if path == "/locations/1-000000070")
    again = await sync_changes(context(services))
    assert again.status == "success" and again.unreadable == ["1-000000070"]
    fetches = sum(1 for path, _q in fake_cqc.requests if path == "/locations/1-000000070")
    assert fetches == fetches_before + 1
    (held,) = await _unreadable(services)
    assert held.failures == 2 and held.last_failed_at == clock.now()
    assert held.first_failed_at == clock.now() - timedelta(hours=1)

    # CQC answers properly again: read, nothing changed, and the record goes.
    clock.advance(timedelta(hours=1))
    fake_cqc.heal("1-000000070")
    healed = await sync_changes(context(services))
    assert healed.status == "success" and healed.unreadable == []
    assert healed.locations_fetched == 1 and healed.locations_updated == 0
    assert await _unreadable(services) == []
    assert (await _location(services, bad)).last_checked_at == clock.now()
    assert await _changed_events(services) == []
    metrics = (await world.client.get("/metrics")).text
    assert _gauge(metrics, "carewatch_cqc_unreadable_locations") == 0
    status = (await world.get("/cqc/status", role="viewer")).json()
    assert status["unreadable_locations"] == {"count": 0, "locations": []}


@pytest.mark.parametrize(
    "answer",
    [b"<html><body>Bad gateway</body></html>", b"[" * 100_000 + b"]" * 100_000],
    ids=["an error page", "nesting too deep to decode"],
)
async def test_an_answer_that_is_not_json_is_retried_then_unreadable(
    answer: bytes, services: Services, fake_cqc: FakeCqc, clock: FakeClock
) -> None:
    await _rated(services, fake_cqc, "1-000000075")
    await sync_changes(context(services))
    clock.advance(timedelta(hours=1))
    fake_cqc.malform("1-000000075", answer)
    fake_cqc.change("1-000000075", clock.now() - timedelta(minutes=5))
    client = context(services).client
    client.max_attempts = 3
    answered = client.requests[("/locations/{id}", "200")]
    run = await sync_changes(context(services))
    assert run.status == "success" and run.unreadable == ["1-000000075"]
    assert client.requests[("/locations/{id}", "200")] == answered + 3  # retried, then given up
    (held,) = await _unreadable(services)
    assert "not JSON" in held.last_error


async def test_a_never_rated_location_stays_not_rated_and_is_not_suspicious(
    services: Services, fake_cqc: FakeCqc, clock: FakeClock
) -> None:
    fake_cqc.add_location("1-000000080", rating=None)  # no ratings blocks at all
    provider = await f.provider(services, name="New agency")
    place = await f.location(services, provider.id or 0, "1-000000080")
    assert await refresh_location(context(services), place.id or 0, "1-000000080") == "updated"
    assert (await _location(services, place.id or 0)).overall_rating == Rating.not_rated
    clock.advance(timedelta(hours=1))
    fake_cqc.change("1-000000080", clock.now() - timedelta(minutes=5))
    run = await sync_changes(context(services))
    assert run.status == "success" and run.unreadable == [] and run.locations_fetched == 1
    assert await _unreadable(services) == [] and await _changed_events(services) == []
    # Its first real rating is a baseline, read as usual.
    clock.advance(timedelta(hours=1))
    fake_cqc.set_rating("1-000000080", "good", "2026-11-18")
    fake_cqc.change("1-000000080", clock.now() - timedelta(minutes=5))
    run = await sync_changes(context(services))
    assert run.locations_updated == 1
    assert (await _location(services, place.id or 0)).overall_rating == Rating.good


async def test_a_new_rating_in_any_capitals_and_spacing_is_read(
    services: Services, fake_cqc: FakeCqc, clock: FakeClock
) -> None:
    provider_id, place = await _rated(services, fake_cqc, "1-000000085")
    clock.advance(timedelta(hours=1))
    spelling = {"requires_improvement": "  REQUIRES\timprovement "}
    fake_cqc.set_rating("1-000000085", "requires_improvement", "2026-11-18", spelling=spelling)
    fake_cqc.change("1-000000085", clock.now() - timedelta(minutes=5))
    run = await sync_changes(context(services))
    assert run.unreadable == [] and run.locations_updated == 1
    assert (await _location(services, place)).overall_rating == Rating.requires_improvement
    assert await f.level_of(services, provider_id) == "enhanced"


async def test_adding_a_location_whose_answer_is_malformed_is_201_never_500(
    world: World, services: Services, fake_cqc: FakeCqc
) -> None:
    provider = await world.provider()
    for index, fault in enumerate(MALFORMED):
        cqc_id = f"1-{900000000 + index}"
        fake_cqc.add_location(cqc_id)
        fake_cqc.malform_with(cqc_id, MALFORMED[fault])
        added = await world.post(
            f"/providers/{provider['id']}/locations", {"cqc_location_id": cqc_id}
        )
        assert added.status_code == 201, (fault, added.text)
        body = added.json()
        # Nothing held yet, so an answer that reads is this location's first rating.
        expected = "unreadable" if fault in UNREADABLE else "updated"
        assert body["cqc_fetch"] == expected, fault
        if fault in UNREADABLE:
            assert body["overall_rating"] is None, fault
    context(services).client.max_attempts = 1
    for cqc_id, answer in (("1-999999998", None), ("1-999999999", b"\x00not json")):
        fake_cqc.malform(cqc_id, answer)
        added = await world.post(
            f"/providers/{provider['id']}/locations", {"cqc_location_id": cqc_id}
        )
        assert added.status_code == 201 and added.json()["cqc_fetch"] == "unreadable"
    assert await _changed_events(services) == []
    status = (await world.get("/cqc/status", role="viewer")).json()
    assert status["unreadable_locations"]["count"] == len(UNREADABLE) + 2


async def test_a_malformed_answer_over_a_real_socket(
    services: Services, fake_cqc: FakeCqc, fake_cqc_url: str, clock: FakeClock
) -> None:
    import httpx

    from app.cqc.client import CqcClient

    services.cqc_client = CqcClient(
        httpx.AsyncClient(base_url=fake_cqc_url, timeout=5),
        api_key=context(services).client._headers["Ocp-Apim-Subscription-Key"],
    )
    _provider, place = await _rated(services, fake_cqc, "1-000000090")
    clock.advance(timedelta(hours=1))
    fake_cqc.malform_with("1-000000090", MALFORMED["an object for the rating"])
    fake_cqc.change("1-000000090", clock.now() - timedelta(minutes=1))
    run = await sync_changes(context(services))
    assert run.status == "success" and run.unreadable == ["1-000000090"]
    assert (await _location(services, place)).overall_rating == Rating.good
    await services.cqc_client.http.aclose()
