"""Web-page fixtures: a signed-in browser-like client per role (its own cookie jar), going
through the real login form with its CSRF token."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from tests.conftest import PASSWORD, World
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider

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


ROLE_MAP = {
    "Carewatch.Admin": "admin",
    "Carewatch.Manager": "manager",
    "Carewatch.Officer": "officer",
    "Carewatch.Safeguarding": "safeguarding",
    "Carewatch.Viewer": "viewer",
}
SCIM_TOKEN = "scim-token-for-tests-0123456789abcdef"


@pytest.fixture
async def oidc_provider() -> AsyncIterator[FakeOidcProvider]:
    """The council's OpenID Connect provider, served by uvicorn on loopback."""
    provider = FakeOidcProvider()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider.issuer = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no started event)
        await asyncio.sleep(0.01)
    yield provider
    server.should_exit = True
    await task


def council_settings(settings: Settings, provider: FakeOidcProvider, **changes: Any) -> Settings:
    """The test settings with sign-in through the provider (and SCIM) switched on."""
    return Settings(
        _env_file=None,
        **{
            **settings.model_dump(),
            "oidc_issuer": provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_role_map": ROLE_MAP,
            "oidc_access_contact": "the commissioning team's systems lead",
            "scim_token": SCIM_TOKEN,
            **changes,
        },
    )


async def sign_in_with_council(client: httpx.AsyncClient, next_path: str = "/") -> httpx.Response:
    """Through the provider as a browser would: carewatch sends us there, the provider
    sends us back with a code, carewatch answers the callback."""
    start = await client.get("/login/oidc", params={"next": next_path})
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient() as at_provider:
        back = await at_provider.get(start.headers["location"])
    assert back.status_code == 302, back.text
    return await client.get(back.headers["location"])
