"""The CQC client's handling of the real API's traps, and rating normalisation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from aiolimiter import AsyncLimiter

from app.cqc.client import CqcClient, CqcError, CqcNotFound
from app.cqc.normalise import NormalisedLocation, normalise_location, recognise_rating
from app.models.base import Rating
from app.services import Services
from tests.cqc.conftest import CQC_KEY
from tests.fakes.cqc_server import FakeCqc

DATA = Path(__file__).resolve().parents[1] / "data" / "cqc"


def _read(payload: object) -> NormalisedLocation:
    found = normalise_location(payload)
    assert isinstance(found, NormalisedLocation), found
    return found


def _client(fake: FakeCqc, key: str = CQC_KEY) -> CqcClient:
    http = httpx.AsyncClient(
        base_url="http://cqc.test/public/v1", transport=httpx.ASGITransport(app=fake.app())
    )
    client = CqcClient(http, api_key=key)
    client.limiter = AsyncLimiter(1000, 1)

    async def no_wait(_seconds: float) -> None:
        return None

    client.sleep = no_wait
    return client


async def test_a_missing_or_wrong_key_is_401_and_not_retried(
    fake_cqc: FakeCqc, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(fake_cqc, key="wrong-key-SECRET")
    with caplog.at_level(logging.DEBUG), pytest.raises(CqcError) as error:
        await client.location("1-000000001")
    assert "401" in str(error.value)
    assert "SECRET" not in str(error.value) and "SECRET" not in caplog.text
    assert client.request_count == 1
    sent = await _client(fake_cqc).location("1-000000001")
    assert sent["locationId"] == "1-000000001"


async def test_pages_of_changes_are_followed_by_their_relative_links(fake_cqc: FakeCqc) -> None:
    from datetime import UTC, datetime

    start = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(2500):
        fake_cqc.change(f"1-{500000000 + index}", start)
    client = _client(fake_cqc)
    ids = [i async for i in client.changed_location_ids(start, datetime(2026, 11, 2, tzinfo=UTC))]
    assert len(ids) == 2500
    pages = [q for path, q in fake_cqc.requests if path == "/changes/location"]
    assert [q["page"] for q in pages] == ["1", "2", "3"]
    # Timestamps travel with literal colons, as the live API wants them.
    assert pages[0]["startTimestamp"] == "2026-11-01T00:00:00Z"


async def test_an_empty_change_window_has_zero_pages(fake_cqc: FakeCqc) -> None:
    from datetime import UTC, datetime

    body = json.loads((DATA / "changes_location_empty.json").read_text())
    assert body["totalPages"] == 0
    client = _client(fake_cqc)
    ids = [
        i
        async for i in client.changed_location_ids(
            datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
        )
    ]
    assert ids == [] and client.request_count == 1


async def test_hard_429_waits_for_retry_after(fake_cqc: FakeCqc) -> None:
    fake_cqc.hard_429 = 2
    client = _client(fake_cqc)
    assert (await client.location("1-000000001"))["locationId"] == "1-000000001"
    assert client.waits == [7.0, 7.0]
    assert client.requests[("/locations/{id}", "429")] == 2


async def test_soft_429_inside_a_200_is_a_rate_limit(fake_cqc: FakeCqc) -> None:
    fake_cqc.soft_429 = 1
    fake_cqc.retry_after_seconds = 2
    client = _client(fake_cqc)
    payload = await client.location("1-000000003")
    assert payload["locationId"] == "1-000000003"  # not the 429 body mistaken for data
    assert client.waits == [2.0]
    assert client.requests[("/locations/{id}", "soft_429")] == 1


async def test_server_errors_are_retried_and_other_4xx_are_not(fake_cqc: FakeCqc) -> None:
    fake_cqc.server_errors = 2
    client = _client(fake_cqc)
    assert (await client.location("1-000000001"))["locationId"] == "1-000000001"
    assert client.requests[("/locations/{id}", "503")] == 2
    with pytest.raises(CqcNotFound):
        await client.location("1-000000099")
    assert client.requests[("/locations/{id}", "404")] == 1


async def test_slow_answers_over_a_socket_time_out_and_give_up_after_capped_retries(
    fake_cqc: FakeCqc,
    fake_cqc_url: str,
) -> None:
    http = httpx.AsyncClient(base_url=fake_cqc_url, timeout=1.0)
    quick = CqcClient(http, api_key=CQC_KEY)
    assert (await quick.location("1-000000001"))["locationId"] == "1-000000001"
    fake_cqc.delay_seconds = 0.5
    http = httpx.AsyncClient(base_url=fake_cqc_url, timeout=0.1)
    client = CqcClient(http, api_key=CQC_KEY, max_attempts=3)
    client.limiter = AsyncLimiter(1000, 1)

    async def no_wait(_seconds: float) -> None:
        return None

    client.sleep = no_wait
    with pytest.raises(CqcError, match="ReadTimeout"):
        await client.location("1-000000001")
    assert client.request_count == 3
    assert client.waits == [0.5, 1.0]


def test_ratings_from_both_blocks_the_newest_wins() -> None:
    payload = json.loads((DATA / "location_1-000000003_assessment_framework.json").read_text())
    found = _read(payload)
    # currentRatings says Good (2019); the assessment block says Requires Improvement (2025).
    assert found.rating.overall == Rating.requires_improvement
    assert found.rating.source_block == "assessment"
    assert str(found.rating.rated_on) == "2025-06-02"
    assert found.rating.question_ratings()["safe"] == Rating.requires_improvement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Requires improvement", Rating.requires_improvement),
        ("Requires Improvement", Rating.requires_improvement),
        ("  requires   IMPROVEMENT ", Rating.requires_improvement),
        ("Good", Rating.good),
        ("OUTSTANDING", Rating.outstanding),
        ("inadequate", Rating.inadequate),
        ("Insufficient evidence to rate", Rating.not_rated),
        ("Inspected but not rated", Rating.not_rated),
        ("No published rating", Rating.not_rated),
        ("Not Yet Inspected", Rating.not_rated),
        ("Not rated", Rating.not_rated),
        ("Do not include in report", Rating.not_rated),
        ("Goood", None),
        ("Good!", None),
        ("", None),
        (None, None),
        (3, None),
        (True, None),
        ({"rating": "Good"}, None),
        (["Good"], None),
    ],
)
def test_rating_spellings_and_sentinels(text: object, expected: Rating | None) -> None:
    """The words API.md lists, in any capitals and spacing; nothing else is a rating."""
    assert recognise_rating(text) == expected


def test_never_rated_and_personal_data_stripped() -> None:
    never = _read(json.loads((DATA / "location_1-000000002_not_yet_rated.json").read_text()))
    assert never.rating.overall == Rating.not_rated and never.rating.rated_on is None
    rated = json.loads((DATA / "location_1-000000001_rated.json").read_text())
    names = [
        c["personGivenName"] for a in rated["regulatedActivities"] for c in a.get("contacts", [])
    ]
    assert names  # the fixture names a registered manager...
    stored = repr(_read(rated))
    for name in names:
        assert name not in stored  # ...and nothing we keep does


async def test_a_location_added_to_a_contract_is_fetched_at_once(
    services: Services,
    fake_cqc: FakeCqc,
    make_user: object,
) -> None:
    from tests import factories as f

    provider = await f.provider(services)
    from app.api.deps import write_context  # noqa: F401  (the route uses the same path)
    from app.cqc.sync import refresh_location

    place = await f.location(services, provider.id or 0, "1-000000003")
    context = services.cqc_context()
    assert context is not None
    assert await refresh_location(context, place.id or 0, "1-000000003") == "updated"
    assert await f.level_of(services, provider.id or 0) == "enhanced"  # RI, from assessment
    assert await refresh_location(context, place.id or 0, "1-000000003") == "unchanged"
