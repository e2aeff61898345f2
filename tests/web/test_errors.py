"""Errors a browser meets are pages in the service's look, with a way back; the API and
clients asking for JSON keep the JSON answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy.exc import DBAPIError

from tests.conftest import World
from tests.web.conftest import SignIn, csrf_of

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def assert_page(response: httpx.Response, status: int, title: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert f'<h1 class="govuk-heading-l">{title}</h1>' in response.text
    assert f"<title>{title} – carewatch</title>" in response.text
    assert '<a href="/" class="govuk-link">Go to the dashboard</a>' in response.text
    assert "/static/govuk/govuk-frontend.min.css" in response.text


def assert_json(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["field"] == field


@pytest.fixture
def app(world: World) -> FastAPI:
    served = world.client._transport.app
    assert isinstance(served, FastAPI)
    return served


@pytest.fixture
async def lenient(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 answer instead of the exception re-raised after it."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize("path", ["/nope", "/providers/abc", "/providers/99999999999"])
async def test_a_missing_page_is_a_page(world: World, signed_in: SignIn, path: str) -> None:
    browser = await signed_in("officer")
    assert_page(await browser.get(path, headers=BROWSER), 404, "Page not found")
    # curl and other clients that do not ask for JSON get the page too.
    assert_page(await world.client.get(path), 404, "Page not found")


async def test_the_api_and_json_clients_keep_json(world: World) -> None:
    assert_json(await world.client.get("/api/v1/nope", headers=BROWSER), 404, "path")
    assert_json(await world.client.get("/nope", headers=JSON), 404, "path")
    mixed = {"Accept": "text/html;q=0.5, application/json"}
    assert_json(await world.client.get("/nope", headers=mixed), 404, "path")
    prefers_html = {"Accept": "application/json;q=0.5, text/html"}
    assert_page(await world.client.get("/nope", headers=prefers_html), 404, "Page not found")
    too_large = await world.client.post(
        "/login", content=b"x" * (1024 * 1024 + 1), headers={**JSON, "Content-Type": "text/plain"}
    )
    assert_json(too_large, 413, "body")


async def test_a_method_a_page_does_not_take(world: World) -> None:
    response = await world.client.delete("/login", headers=BROWSER)
    assert_page(response, 405, "This page cannot do that")
    assert "GET" in response.headers["allow"]
    assert_json(await world.client.delete("/login", headers=JSON), 405, "method")


async def test_a_body_over_the_limit(world: World) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded", **BROWSER}
    body = b"email=" + b"x" * (1024 * 1024)
    response = await world.client.post("/login", content=body, headers=form)
    assert_page(response, 413, "What you sent is too large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(20):
            yield b"x" * 65536

    streamed = await world.client.post("/login", content=chunks(), headers=form)
    assert_page(streamed, 413, "What you sent is too large")


async def test_a_form_the_service_cannot_read(world: World) -> None:
    response = await world.client.post(
        "/login", content=b"--x--", headers={"Content-Type": "multipart/form-data", **BROWSER}
    )
    assert_page(response, 400, "There is a problem with what was sent")


async def test_a_refusal_is_a_page(world: World, signed_in: SignIn) -> None:
    provider = await world.provider()
    viewer = await signed_in("viewer")
    response = await viewer.get(f"/providers/{provider['id']}/record/visit", headers=BROWSER)
    assert_page(response, 403, "You cannot do this")
    officer = await signed_in("officer")
    expired = await officer.post(
        f"/providers/{provider['id']}/record/visit", data={"csrf_token": "0" * 64}
    )
    assert_page(expired, 403, "This form has expired")


async def test_too_many_sign_in_attempts(world: World) -> None:
    async with httpx.AsyncClient(
        transport=world.client._transport, base_url="http://test"
    ) as browser:
        statuses = []
        for _ in range(12):
            page = await browser.get("/login")
            response = await browser.post(
                "/login",
                data={
                    "email": "officer@council.gov.uk",
                    "password": "not the password at all",
                    "csrf_token": csrf_of(page.text),
                },
            )
            statuses.append(response.status_code)
    assert statuses[0] == 400 and statuses[-1] == 429
    assert "Too many failed sign-ins for this account" in response.text
    assert int(response.headers["retry-after"]) > 0
    assert '<h1 class="govuk-heading-l">Sign in to carewatch</h1>' in response.text


async def test_an_unexpected_fault_is_a_page_and_the_api_gets_json(
    app: FastAPI, lenient: httpx.AsyncClient
) -> None:
    async def broken() -> Any:
        raise RuntimeError("a bug")

    async def throttled() -> Any:
        raise HTTPException(429, "slow down", headers={"Retry-After": "60"})

    async def database_gone() -> Any:
        raise DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)

    for path, endpoint in (
        ("/test-broken", broken),
        ("/api/v1/test-broken", broken),
        ("/test-throttled", throttled),
        ("/test-database-gone", database_gone),
    ):
        app.add_api_route(path, endpoint)

    assert_page(
        await lenient.get("/test-broken", headers=BROWSER),
        500,
        "Sorry, there is a problem with the service",
    )
    assert_json(await lenient.get("/api/v1/test-broken"), 500, "server")
    throttled_page = await lenient.get("/test-throttled", headers=BROWSER)
    assert_page(throttled_page, 429, "Too many requests")
    assert throttled_page.headers["retry-after"] == "60"
    gone = await lenient.get("/test-database-gone", headers=BROWSER)
    assert_page(gone, 503, "Sorry, the service is unavailable")
    assert gone.headers["retry-after"] == "1"
    assert_json(await lenient.get("/test-database-gone", headers=JSON), 503, "database")
