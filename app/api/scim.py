"""The SCIM 2.0 endpoint the council's directory provisions accounts through:
/scim/v2/Users with the bearer token CAREWATCH_SCIM_TOKEN, answering application/scim+json
and RFC 7644's error bodies (app/auth/scim.py does the work)."""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import ServicesDep, SessionDep
from app.auth.scim import (
    LIST_SCHEMA,
    USER_SCHEMA,
    Directory,
    ScimError,
    changes_from_patch,
    changes_from_resource,
    resource,
)
from app.services import Services

SCIM_MEDIA_TYPE = "application/scim+json"
router = APIRouter(prefix="/scim/v2", include_in_schema=False)


class ScimResponse(JSONResponse):
    media_type = SCIM_MEDIA_TYPE


def _authorised(request: Request, services: Services) -> Directory:
    """The directory, once its bearer token matches (compared in constant time)."""
    expected = services.settings.scim_token
    if expected is None:
        raise ScimError(404, "SCIM provisioning is not configured (CAREWATCH_SCIM_TOKEN)")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.get_secret_value().encode()
    ):
        raise ScimError(401, "a valid bearer token is required")
    settings = services.settings
    return Directory(role_map=settings.oidc_role_map, roles_claim=settings.oidc_roles_claim)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise ScimError(400, "the body is not JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return body


def _positive(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ScimError(400, f"{name} must be a whole number", "invalidValue") from None
    return max(number, 0 if name == "count" else 1)


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request, services: ServicesDep) -> Response:
    _authorised(request, services)
    supported = {"supported": True}
    return ScimResponse(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": supported,
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": 200},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "CAREWATCH_SCIM_TOKEN, sent as Authorization: Bearer",
                }
            ],
        }
    )


@router.get("/Users")
async def list_users(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    directory = _authorised(request, services)
    params = request.query_params
    start = _positive(params.get("startIndex"), "startIndex", 1)
    count = _positive(params.get("count"), "count", 100)
    users, total = await directory.search(session, params.get("filter"), start, count)
    base = services.settings.base_url
    return ScimResponse(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(users),
            "Resources": [resource(user, base) for user in users],
        }
    )


@router.post("/Users")
async def create_user(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    directory = _authorised(request, services)
    body = await _body(request)
    user = await directory.create(session, body, services.clock.now())
    await session.commit()
    created = resource(user, services.settings.base_url)
    return ScimResponse(created, 201, headers={"Location": created["meta"]["location"]})


@router.get("/Users/{user_id}")
async def get_user(
    user_id: str, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    directory = _authorised(request, services)
    user = await directory.get(session, user_id)
    return ScimResponse(resource(user, services.settings.base_url))


@router.patch("/Users/{user_id}")
async def patch_user(
    user_id: str, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    directory = _authorised(request, services)
    body = await _body(request)
    user = await directory.get(session, user_id)
    changes = changes_from_patch(body)
    await directory.change(session, user, changes, services.clock.now())
    await session.commit()
    return ScimResponse(resource(user, services.settings.base_url))


@router.put("/Users/{user_id}")
async def replace_user(
    user_id: str, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    directory = _authorised(request, services)
    body = await _body(request)
    user = await directory.get(session, user_id)
    changes = changes_from_resource(body)
    if changes.user_name is None:
        raise ScimError(400, "userName is required", "invalidValue")
    await directory.change(session, user, changes, services.clock.now())
    await session.commit()
    return ScimResponse(resource(user, services.settings.base_url))


@router.delete("/Users/{user_id}", status_code=204)
async def delete_user(
    user_id: str, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    """Deactivates: the account and everything it recorded stay; it can no longer sign
    in, and its sessions and tokens end now."""
    directory = _authorised(request, services)
    user = await directory.get(session, user_id)
    await directory.deactivate(session, user, services.clock.now())
    await session.commit()
    return Response(status_code=204)


async def _scim_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ScimError)
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if error.status == 401 else None
    return ScimResponse(error.body(), error.status, headers=headers)


def install_scim(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(ScimError, _scim_error)


__all__ = ["SCIM_MEDIA_TYPE", "USER_SCHEMA", "install_scim", "router"]
