"""A fake CQC Syndication API that behaves like the real one (../shared/cqc/API.md §10),
built from the recorded fixtures: the key is required (401), lists and changes are paged
with relative next links, /changes has totalPages 0 when empty and can name ids that
404, ratings come in two blocks with mixed capitals and sentinels, re-registered
locations inherit ratings, and throttling answers either HTTP 429 with Retry-After or,
softly, HTTP 200 with a 429 body. Requests can also be slowed or failed, and any
location's detail can be made to answer a malformed payload (`malform`, `malform_with`)
until it is healed.

In tests it runs in-process (httpx.ASGITransport) or over a socket (uvicorn). On its own:
    python -m tests.fakes.cqc_server --port 8100 --key demo-key --demo
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "cqc"
PREFIX = "/public/v1"
LEGACY_SPELLING = {
    "outstanding": "Outstanding",
    "good": "Good",
    "requires_improvement": "Requires improvement",
    "inadequate": "Inadequate",
}
ASSESSMENT_SPELLING = {**LEGACY_SPELLING, "requires_improvement": "Requires Improvement"}


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class FakeCqc:
    api_key: str = "test-key"
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[tuple[datetime, str]] = field(default_factory=list)
    hard_429: int = 0  # the next N requests get HTTP 429 with Retry-After
    soft_429: int = 0  # the next N requests get HTTP 200 with a 429 body
    server_errors: int = 0  # the next N requests get HTTP 503
    fail_detail_after: int | None = None  # detail requests beyond N fail with 500
    retry_after_seconds: int = 7
    delay_seconds: float = 0.0
    rate_limit_per_minute: int | None = None  # enforce like CQC: excess gets 429
    # location id -> what its detail answers instead of its payload (bytes are sent raw)
    malformed: dict[str, Any] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    throttled: int = 0
    _recent: deque[float] = field(default_factory=deque)
    _details: int = 0

    @classmethod
    def from_fixtures(cls, **options: Any) -> FakeCqc:
        fake = cls(**options)
        for name in (
            "location_1-000000001_rated.json",
            "location_1-000000002_not_yet_rated.json",
            "location_1-000000003_assessment_framework.json",
        ):
            payload = fixture(name)
            fake.locations[payload["locationId"]] = payload
        return fake

    # Shaping the data -------------------------------------------------------------------

    def add_location(
        self,
        location_id: str,
        *,
        name: str | None = None,
        rating: str | None = "good",
        rated_on: str = "2023-05-01",
        region: str = "South West",
        homecare: bool = True,
        registered: bool = True,
    ) -> dict[str, Any]:
        payload = copy.deepcopy(fixture("location_1-000000001_rated.json"))
        payload.update(
            {
                "locationId": location_id,
                "name": name or f"Location {location_id}",
                "region": region,
                "registrationStatus": "Registered" if registered else "Deregistered",
            }
        )
        if not homecare:
            payload["gacServiceTypes"] = [
                {"name": "Residential homes", "description": "Care home service without nursing"}
            ]
        payload.pop("assessment", None)
        self.locations[location_id] = payload
        if rating is None:
            payload.pop("currentRatings", None)
            payload["historicRatings"] = []
        else:
            self.set_rating(location_id, rating, rated_on)
        return payload

    def set_rating(
        self,
        location_id: str,
        rating: str,
        rated_on: str,
        *,
        block: str = "current",
        spelling: dict[str, str] | None = None,
    ) -> None:
        """Publish a rating in the legacy block or (block='assessment') only in the 2024+
        assessment block, leaving currentRatings as it was."""
        payload = self.locations[location_id]
        if block == "assessment":
            text = (spelling or ASSESSMENT_SPELLING)[rating]
            payload["assessment"] = [
                {
                    "assessmentPlanPublishedDateTime": f"{rated_on} 09:30:00",
                    "ratings": {
                        "overall": [],
                        "asgRatings": [
                            {
                                "assessmentPlanId": f"AP-{location_id}",
                                "title": "Homecare Assessment",
                                "assessmentDate": rated_on,
                                "assessmentPlanStatus": "Assessed",
                                "name": "Homecare",
                                "rating": text,
                                "status": "Current",
                                "keyQuestionRatings": [
                                    {
                                        "name": q,
                                        "rating": text,
                                        "status": "Assessed",
                                        "percentageScore": "50",
                                    }
                                    for q in (
                                        "Safe",
                                        "Well-led",
                                        "Caring",
                                        "Responsive",
                                        "Effective",
                                    )
                                ],
                            }
                        ],
                    },
                }
            ]
            return
        text = (spelling or LEGACY_SPELLING).get(rating, rating)
        link = f"00000000-0000-4000-8000-{abs(hash((location_id, rated_on))) % 10**12:012d}"
        payload["currentRatings"] = {
            "overall": {
                "rating": text,
                "reportDate": rated_on,
                "reportLinkId": link,
                "keyQuestionRatings": [
                    {"name": q, "rating": text, "reportDate": rated_on, "reportLinkId": link}
                    for q in ("Safe", "Well-led", "Caring", "Responsive", "Effective")
                ],
            },
            "reportDate": rated_on,
        }
        payload["reports"] = [
            {
                "linkId": link,
                "reportDate": rated_on,
                "reportUri": f"/reports/{link}",
                "reportType": "Location",
            }
        ]

    def re_register(self, old_id: str, new_id: str) -> dict[str, Any]:
        """The service changed owner: a new location id inherits the old ratings."""
        old = self.locations[old_id]
        new = copy.deepcopy(old)
        new["locationId"] = new_id
        new["relationships"] = [
            {
                "relatedLocationId": old_id,
                "relatedLocationName": old.get("name"),
                "type": "HSCA Predecessor",
                "reason": "Location Move",
            }
        ]
        if "currentRatings" in new:
            new["currentRatings"]["overall"]["organisationId"] = old_id
        new["reports"] = []
        old["registrationStatus"] = "Deregistered"
        self.locations[new_id] = new
        return new

    def change(self, location_id: str, at: datetime) -> None:
        self.changes.append((at, location_id))

    # Faults ------------------------------------------------------------------------------

    def malform(self, location_id: str, body: Any) -> None:
        """Answer `body` for this location's detail (any JSON value, or raw bytes) until
        healed; its real payload is kept."""
        self.malformed[location_id] = body

    def malform_with(self, location_id: str, change: Callable[[dict[str, Any]], Any]) -> Any:
        """Answer a changed copy of the location's payload: `change` edits the copy in
        place (returning None) or returns what to answer instead."""
        body = copy.deepcopy(self.locations[location_id])
        replaced = change(body)
        self.malformed[location_id] = body if replaced is None else replaced
        return self.malformed[location_id]

    def heal(self, location_id: str) -> None:
        self.malformed.pop(location_id, None)

    # The HTTP surface -------------------------------------------------------------------

    def _throttle(self) -> JSONResponse | None:
        body = {
            "statusCode": 429,
            "message": f"Rate limit is exceeded. Try again in {self.retry_after_seconds} seconds.",
        }
        if self.hard_429 > 0:
            self.hard_429 -= 1
            self.throttled += 1
            return JSONResponse(body, 429, headers={"Retry-After": str(self.retry_after_seconds)})
        if self.soft_429 > 0:
            self.soft_429 -= 1
            self.throttled += 1
            return JSONResponse(body, 200)
        if self.rate_limit_per_minute is not None:
            now = time.monotonic()
            while self._recent and now - self._recent[0] > 60:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit_per_minute:
                self.throttled += 1
                return JSONResponse(body, 429, headers={"Retry-After": "1"})
            self._recent.append(now)
        if self.server_errors > 0:
            self.server_errors -= 1
            return JSONResponse({"statusCode": 503, "message": "Service unavailable"}, 503)
        return None

    async def _guard(self, request: Request) -> JSONResponse | None:
        self.requests.append((request.url.path.removeprefix(PREFIX), dict(request.query_params)))
        if request.headers.get("Ocp-Apim-Subscription-Key") != self.api_key:
            return JSONResponse(
                {
                    "statusCode": 401,
                    "message": "Access denied due to missing "
                    "subscription key. Make sure to include subscription key when "
                    "making requests to an API.",
                },
                401,
            )
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return self._throttle()

    async def location_detail(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        self._details += 1
        if self.fail_detail_after is not None and self._details > self.fail_detail_after:
            return JSONResponse({"statusCode": 500, "message": "Internal error"}, 500)
        location_id = request.path_params["location_id"]
        if location_id in self.malformed:
            body = self.malformed[location_id]
            if isinstance(body, bytes):
                return Response(body, 200, media_type="application/json")
            return JSONResponse(body)
        payload = self.locations.get(location_id)
        if payload is None:
            return JSONResponse({"statusCode": 404, "message": "Resource not found"}, 404)
        return JSONResponse(payload)

    def _page(
        self, items: list[Any], key: str, path: str, request: Request, extra: dict[str, str]
    ) -> JSONResponse:
        page = max(int(request.query_params.get("page", "1") or 1), 1)
        per_page = max(min(int(request.query_params.get("perPage", "1000") or 1000), 10000), 1)
        total_pages = math.ceil(len(items) / per_page)

        def uri(number: int) -> str:
            return f"{path}?{urlencode({'page': number, 'perPage': per_page, **extra})}"

        body = {
            "total": len(items),
            "firstPageUri": uri(1),
            "page": page,
            "previousPageUri": uri(page - 1) if page > 1 else None,
            "lastPageUri": uri(max(total_pages, 1)),
            "nextPageUri": uri(page + 1) if page < total_pages else None,
            "perPage": per_page,
            "totalPages": total_pages,
            key: items[(page - 1) * per_page : page * per_page],
            "uri": path,
        }
        return JSONResponse(body)

    async def location_list(self, request: Request) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused
        wanted = request.query_params.getlist("gacServiceTypeDescription")  # repeated = OR
        regions = request.query_params.getlist("region")
        items = []
        for location_id, payload in sorted(self.locations.items()):
            services = {s.get("description") for s in payload.get("gacServiceTypes") or []}
            if wanted and not services & set(wanted):
                continue
            if regions and payload.get("region") not in regions:
                continue
            items.append(
                {
                    "locationId": location_id,
                    "locationName": payload.get("name"),
                    "postalCode": payload.get("postalCode"),
                }
            )
        extra = {"gacServiceTypeDescription": wanted[0]} if wanted else {}
        return self._page(items, "locations", "/locations", request, extra)

    async def location_changes(self, request: Request) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused
        start = _timestamp(request.query_params.get("startTimestamp"))
        end = _timestamp(request.query_params.get("endTimestamp"))
        if start is None or end is None:
            return JSONResponse(
                {
                    "statusCode": 400,
                    "message": "startTimestamp and endTimestamp "
                    "are required (YYYY-MM-DDTHH:MM:SSZ)",
                },
                400,
            )
        ids = list(dict.fromkeys(i for at, i in sorted(self.changes) if start <= at < end))
        extra = {
            "startTimestamp": request.query_params["startTimestamp"],
            "endTimestamp": request.query_params["endTimestamp"],
        }
        return self._page(ids, "changes", "/changes/location", request, extra)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"{PREFIX}/locations", self.location_list),
                Route(f"{PREFIX}/locations/{{location_id}}", self.location_detail),
                Route(f"{PREFIX}/changes/location", self.location_changes),
            ]
        )


def demo_fake(api_key: str) -> FakeCqc:
    """The fixtures plus the demo council's locations, so `python -m app demo` can sync offline."""
    from app.demo import PROVIDERS

    fake = FakeCqc.from_fixtures(api_key=api_key)
    for index, (name, *_rest, rating) in enumerate(PROVIDERS):
        fake.add_location(
            f"1-{100000000 + index}",
            name=f"{name} (Plymouth office)",
            rating=rating.value,
            rated_on=date(2024, 6, 1).isoformat(),
        )
    return fake


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="a fake CQC API for offline demos and tests")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--key", default="demo-key")
    parser.add_argument("--demo", action="store_true", help="add the demo council's locations")
    args = parser.parse_args()
    fake = demo_fake(args.key) if args.demo else FakeCqc.from_fixtures(api_key=args.key)
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
