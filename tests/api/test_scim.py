"""SCIM 2.0 as Entra ID's provisioning sends it: the bearer token, the userName filter
it probes with, create, the PATCH shapes it uses (string booleans, value objects,
attributes carewatch does not keep), PUT, delete as deactivation, and RFC 7644's errors.
A deactivation revokes every session and token of the account in the same request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.models import Event, User
from app.models.base import Role
from app.services import Services
from tests.conftest import HeadersFor, UserMaker

TOKEN = "scim-token-for-tests-0123456789abcdef"
SCIM = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# What Entra's default attribute mappings send for a new user.
ENTRA_CREATE = {
    "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "4f6c7b1e-9c1a-4d2b-8f39-1a2b3c4d5e6f",
    "userName": "Jo.Bloggs@council.gov.uk",
    "active": True,
    "displayName": "Jo Bloggs",
    "emails": [{"primary": True, "type": "work", "value": "jo.bloggs@council.gov.uk"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Jo Bloggs", "familyName": "Bloggs", "givenName": "Jo"},
    "title": "Contract Officer",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "ASC"},
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return Settings(_env_file=None, **{**settings.model_dump(), "scim_token": TOKEN})


def _scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    if scim_type:
        assert body["scimType"] == scim_type


async def _create(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/scim/v2/Users", headers=SCIM, json={**ENTRA_CREATE, **changes})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _count(services: Services) -> int:
    async with services.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def test_no_token_or_a_wrong_one_is_refused(client: httpx.AsyncClient) -> None:
    _scim_error(await client.get("/scim/v2/Users"), 401)
    wrong = {"Authorization": "Bearer not-the-token"}
    answer = await client.get("/scim/v2/Users", headers=wrong)
    _scim_error(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    # A carewatch API token is not the directory's.
    _scim_error(await client.post("/scim/v2/Users", headers=wrong, json=ENTRA_CREATE), 401)


async def test_scim_is_off_without_a_token(services: Services, settings: Settings) -> None:
    from app.main import create_app
    from app.services import build_services

    off = settings.model_copy(update={"scim_token": None})
    built = build_services(off, clock=services.clock)
    app = create_app(off, built)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        _scim_error(await http.get("/scim/v2/Users", headers=SCIM), 404)
    await built.database.dispose()


async def test_entra_provisions_a_user(client: httpx.AsyncClient, services: Services) -> None:
    probe = await client.get(
        "/scim/v2/Users", headers=SCIM, params={"filter": 'userName eq "Jo.Bloggs@council.gov.uk"'}
    )
    assert probe.status_code == 200
    assert probe.headers["content-type"].startswith("application/scim+json")
    assert probe.json()["totalResults"] == 0 and probe.json()["Resources"] == []

    made = await _create(client)
    assert made["userName"] == "jo.bloggs@council.gov.uk" and made["active"] is True
    assert made["externalId"] == ENTRA_CREATE["externalId"]
    assert made["displayName"] == "Jo Bloggs"
    assert made["meta"]["location"].endswith(f"/scim/v2/Users/{made['id']}")

    found = await client.get(
        "/scim/v2/Users", headers=SCIM, params={"filter": 'userName eq "jo.bloggs@council.gov.uk"'}
    )
    assert [user["id"] for user in found.json()["Resources"]] == [made["id"]]
    by_external = await client.get(
        "/scim/v2/Users",
        headers=SCIM,
        params={"filter": f'externalId eq "{ENTRA_CREATE["externalId"]}"'},
    )
    assert by_external.json()["totalResults"] == 1
    fetched = await client.get(f"/scim/v2/Users/{made['id']}", headers=SCIM)
    assert fetched.status_code == 200 and fetched.json() == made

    async with services.database.sessions() as session:
        user = await session.get(User, int(made["id"]))
        events = (await session.execute(select(Event).where(Event.type == "user.created"))).all()
    assert user is not None and user.role == Role.viewer and user.source == "directory"
    [(event,)] = events
    assert event.actor == "scim:directory"


async def test_a_role_the_directory_sends_is_mapped(
    client: httpx.AsyncClient, services: Services, settings: Settings
) -> None:
    made = await _create(client, roles=[{"primary": True, "value": "officer"}])
    async with services.database.sessions() as session:
        user = await session.get(User, int(made["id"]))
    assert user is not None and user.role == Role.officer


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "Replace", "path": "active", "value": "False"}],
        [{"op": "replace", "value": {"active": False}}],
        [{"op": "replace", "value": {"active": "false", "displayName": "Jo Bloggs"}}],
    ],
    ids=["path-and-string", "value-object", "value-object-string"],
)
async def test_a_deactivation_ends_every_session_and_token_at_once(
    client: httpx.AsyncClient,
    make_user: UserMaker,
    headers_for: HeadersFor,
    operations: list[dict[str, Any]],
) -> None:
    user = await make_user(Role.officer, email="leaver@council.gov.uk")
    first, second = await headers_for(user), await headers_for(user)
    assert (await client.get("/api/v1/auth/me", headers=first)).status_code == 200
    found = await client.get(
        "/scim/v2/Users", headers=SCIM, params={"filter": 'userName eq "leaver@council.gov.uk"'}
    )
    [resource] = found.json()["Resources"]
    answer = await client.patch(
        f"/scim/v2/Users/{resource['id']}",
        headers=SCIM,
        json={"schemas": [PATCH], "Operations": operations},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    for headers in (first, second):
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_patch_renames_and_ignores_what_carewatch_does_not_keep(
    client: httpx.AsyncClient, services: Services
) -> None:
    made = await _create(client)
    answer = await client.patch(
        f"/scim/v2/Users/{made['id']}",
        headers=SCIM,
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Jo Bloggs-Smith"},
                {"op": "Replace", "path": "userName", "value": "jo.smith@council.gov.uk"},
                {
                    "op": "Add",
                    "path": 'emails[type eq "work"].value',
                    "value": "jo.smith@council.gov.uk",
                },
                {"op": "Replace", "path": "title", "value": "Senior Officer"},
                {"op": "Remove", "path": "title"},
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["userName"] == "jo.smith@council.gov.uk"
    assert answer.json()["displayName"] == "Jo Bloggs-Smith"
    async with services.database.sessions() as session:
        updates = (
            (await session.execute(select(Event).where(Event.type == "user.updated")))
            .scalars()
            .all()
        )
    assert {event.actor for event in updates} == {"scim:directory"}


async def test_put_replaces_and_delete_deactivates_keeping_the_account(
    client: httpx.AsyncClient, services: Services
) -> None:
    made = await _create(client)
    replaced = await client.put(
        f"/scim/v2/Users/{made['id']}",
        headers=SCIM,
        json={**ENTRA_CREATE, "displayName": "Joanne Bloggs", "active": True},
    )
    assert replaced.status_code == 200 and replaced.json()["displayName"] == "Joanne Bloggs"
    gone = await client.delete(f"/scim/v2/Users/{made['id']}", headers=SCIM)
    assert gone.status_code == 204
    kept = await client.get(f"/scim/v2/Users/{made['id']}", headers=SCIM)
    assert kept.status_code == 200 and kept.json()["active"] is False
    assert await _count(services) == 1


async def test_bad_requests_get_rfc_7644_errors_and_store_nothing(
    client: httpx.AsyncClient, services: Services
) -> None:
    made = await _create(client)
    _scim_error(
        await client.post("/scim/v2/Users", headers=SCIM, json=ENTRA_CREATE), 409, "uniqueness"
    )
    _scim_error(
        await client.post("/scim/v2/Users", headers=SCIM, content=b"{not json"),
        400,
        "invalidSyntax",
    )
    _scim_error(
        await client.post("/scim/v2/Users", headers=SCIM, json={**ENTRA_CREATE, "userName": "jo"}),
        400,
        "invalidValue",
    )
    _scim_error(
        await client.post("/scim/v2/Users", headers=SCIM, json={"schemas": [USER]}),
        400,
        "invalidValue",
    )
    _scim_error(
        await client.get("/scim/v2/Users", headers=SCIM, params={"filter": 'title co "x"'}),
        400,
        "invalidFilter",
    )
    _scim_error(await client.get("/scim/v2/Users/999999", headers=SCIM), 404)
    _scim_error(await client.get("/scim/v2/Users/not-a-number", headers=SCIM), 404)
    maybe = await client.patch(
        f"/scim/v2/Users/{made['id']}",
        headers=SCIM,
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Changed"},
                {"op": "Replace", "path": "active", "value": "maybe"},
            ],
        },
    )
    _scim_error(maybe, 400, "invalidValue")
    _scim_error(
        await client.patch(f"/scim/v2/Users/{made['id']}", headers=SCIM, json={"Operations": []}),
        400,
        "invalidSyntax",
    )
    _scim_error(
        await client.patch(
            f"/scim/v2/Users/{made['id']}",
            headers=SCIM,
            json={"Operations": [{"op": "Remove", "path": "active"}]},
        ),
        400,
        "mutability",
    )
    assert await _count(services) == 1
    fetched = await client.get(f"/scim/v2/Users/{made['id']}", headers=SCIM)
    assert fetched.json()["displayName"] == "Jo Bloggs" and fetched.json()["active"] is True


async def test_the_list_pages(client: httpx.AsyncClient) -> None:
    for number in range(3):
        await _create(
            client, userName=f"person{number}@council.gov.uk", externalId=f"object-{number}"
        )
    page = await client.get("/scim/v2/Users", headers=SCIM, params={"startIndex": 2, "count": 1})
    body = page.json()
    assert body["totalResults"] == 3 and body["startIndex"] == 2 and body["itemsPerPage"] == 1
    assert body["Resources"][0]["userName"] == "person1@council.gov.uk"
    config = await client.get("/scim/v2/ServiceProviderConfig", headers=SCIM)
    assert config.status_code == 200 and config.json()["patch"]["supported"] is True
