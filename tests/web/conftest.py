"""Web-page fixtures: a signed-in browser-like client per role (its own cookie jar), going
through the real login form with its CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tests.conftest import PASSWORD, World

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

SignIn = Callable[[str], Awaitable[httpx.AsyncClient]]


def date_input(name: str, iso: str) -> dict[str, str]:
    """A date as a GOV.UK date input posts it: `<name>-day`, `<name>-month`, `<name>-year`."""
    year, month, day = iso.split("-")
    return {f"{name}-day": str(int(day)), f"{name}-month": str(int(month)), f"{name}-year": year}


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
    )


@pytest.fixture
async def signed_in(world: World) -> AsyncIterator[SignIn]:
    """signed_in("officer") → a client whose session cookie belongs to that role's user."""
    clients: list[httpx.AsyncClient] = []

    async def make(role: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=world.client._transport, base_url="http://test")
        clients.append(client)
        response = await sign_in(client, world.users[role].email)
        assert response.status_code == 303, response.text
        return client

    yield make
    for client in clients:
        await client.aclose()
