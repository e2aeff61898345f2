"""A client for the CQC Syndication API over an injected httpx.AsyncClient.

It sends the subscription key header, a descriptive User-Agent and an optional partner
code; keeps to a client-side rate limit; and retries what is transient: HTTP 429 (waiting
for Retry-After, or the seconds named in the message), the *soft* 429 that CQC returns
inside an HTTP 200 body, 5xx answers and transport errors, with capped backoff. Other
4xx answers are not retried. The key is only ever a header: never logged, never in an
error message.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

log = logging.getLogger(__name__)
USER_AGENT = "carewatch/0.1 (council provider quality monitoring; +https://github.com/carewatch)"
CHANGES_PER_PAGE = 1000


class CqcError(Exception):
    """A CQC request that failed for good; the message names the path, never the key."""


class CqcNotFound(CqcError):
    pass


class CqcRetryable(CqcError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CqcNotJson(CqcRetryable):
    """An answer that is not JSON: retried (a proxy's error page passes), and if it stays,
    the sync records that one location as unreadable rather than failing the run."""


def _seconds_in_message(body: Any) -> float | None:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        found = re.search(r"(\d+(?:\.\d+)?)\s*second", body["message"])
        if found:
            return float(found.group(1))
    return None


def _retry_after(response: httpx.Response, body: Any) -> float | None:
    header = response.headers.get("Retry-After")
    if header:
        try:
            return float(header)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                when = parsedate_to_datetime(header)
                return max((when - datetime.now(when.tzinfo)).total_seconds(), 0.0)
            except (TypeError, ValueError):
                pass
    return _seconds_in_message(body)


def cqc_timestamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


class CqcClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        partner_code: str | None = None,
        requests_per_minute: int = 600,
        max_attempts: int = 6,
        max_wait_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self._headers = {
            "Ocp-Apim-Subscription-Key": api_key,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self.partner_code = partner_code
        # One request per interval, evenly spaced: no burst that CQC would throttle.
        self.limiter = AsyncLimiter(1, 60.0 / requests_per_minute)
        self.max_attempts = max_attempts
        self.max_wait_seconds = max_wait_seconds
        self.sleep = sleep
        self.requests: Counter[tuple[str, str]] = Counter()  # (endpoint, status) -> count
        self.observers: list[Callable[[str, str], None]] = []
        self.waits: list[float] = []

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, CqcRetryable) and error.retry_after is not None:
            wait = error.retry_after
        else:
            wait = 0.5 * 2 ** (state.attempt_number - 1)  # capped exponential backoff
        return min(wait, self.max_wait_seconds)

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self.sleep(seconds)

    def _count(self, endpoint: str, status: str) -> None:
        self.requests[(endpoint, status)] += 1
        for observer in self.observers:
            observer(endpoint, status)

    async def _get_once(self, url: str, endpoint: str) -> Any:
        async with self.limiter:
            try:
                response = await self.http.get(url, headers=self._headers)
            except httpx.TransportError as error:
                self._count(endpoint, "transport_error")
                raise CqcRetryable(f"GET {endpoint}: {type(error).__name__}") from None
        self._count(endpoint, str(response.status_code))
        try:
            body = response.json()
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            body = None
        if response.status_code == 429 or (
            response.status_code == 200 and isinstance(body, dict) and body.get("statusCode") == 429
        ):
            if response.status_code == 200:
                self._count(endpoint, "soft_429")
            raise CqcRetryable(f"GET {endpoint}: rate limited", _retry_after(response, body))
        if response.status_code >= 500:
            raise CqcRetryable(f"GET {endpoint}: HTTP {response.status_code}")
        if response.status_code == 404:
            raise CqcNotFound(f"GET {endpoint}: not found")
        if response.status_code >= 400:
            raise CqcError(f"GET {endpoint}: HTTP {response.status_code}")
        if body is None:
            raise CqcNotJson(f"GET {endpoint}: the answer was not JSON")
        return body

    async def get(self, path_and_query: str, endpoint: str) -> Any:
        """GET a path relative to the base URL (query already in it), with retries."""
        if self.partner_code and "partnerCode=" not in path_and_query:
            separator = "&" if "?" in path_and_query else "?"
            path_and_query += f"{separator}partnerCode={self.partner_code}"
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(CqcRetryable),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._get_once(path_and_query.lstrip("/"), endpoint)
        raise AssertionError("unreachable")

    async def location(self, location_id: str) -> Any:
        """The decoded detail answer, whatever its shape: normalise_location judges it."""
        return await self.get(f"/locations/{location_id}", "/locations/{id}")

    async def changed_location_ids(
        self, start: datetime, end: datetime, on_page: Callable[[], None] | None = None
    ) -> AsyncIterator[str]:
        """Every location id CQC reports changed in [start, end), page by page. The query is
        written by hand: literal colons in the timestamps, and next links followed as given."""
        path: str | None = (
            f"/changes/location?startTimestamp={cqc_timestamp(start)}"
            f"&endTimestamp={cqc_timestamp(end)}&page=1&perPage={CHANGES_PER_PAGE}"
        )
        page = 1
        while path is not None:
            body = await self.get(path, "/changes/location")
            if on_page is not None:
                on_page()
            changes = body.get("changes") if isinstance(body, dict) else None
            total_pages = body.get("totalPages") if isinstance(body, dict) else None
            next_uri = body.get("nextPageUri") if isinstance(body, dict) else None
            if (
                not isinstance(changes, list | None)
                or not isinstance(total_pages, int | None)
                or not isinstance(next_uri, str | None)
            ):
                # Without the page we cannot know what changed: the run fails, its window stays.
                raise CqcError("GET /changes/location: unexpected answer")
            changes = changes or []
            for item in changes:
                # IDs are strings; a few clients have seen {"locationId": ...} objects.
                if isinstance(item, dict):
                    item = item.get("locationId") or item.get("organisationId")
                if isinstance(item, str):
                    yield item
            if not changes or page >= (total_pages or 0) or not next_uri:
                return
            try:
                page = int(parse_qs(urlsplit(next_uri).query).get("page", [page + 1])[0])
            except ValueError:
                raise CqcError("GET /changes/location: unexpected next page link") from None
            path = next_uri

    async def list_locations(self, query: str, page: int, per_page: int) -> dict[str, Any]:
        body = await self.get(f"/locations?{query}&page={page}&perPage={per_page}", "/locations")
        if not isinstance(body, dict):
            raise CqcError("GET /locations: unexpected answer")
        return body
