"""The OpenAPI document tells the truth: the error body it documents is the one sent,
every filter a list accepts is documented and an unknown one is refused, a 405 names
every method of its path; and schemathesis, with all its default checks, finds nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import World

LISTS = [
    "/providers",
    "/providers/{pid}/visits",
    "/providers/{pid}/safeguardings",
    "/providers/{pid}/locations",
    "/providers/{pid}/ratings",
    "/providers/{pid}/timeline",
    "/events",
    "/deliveries",
    "/audit",
    "/users",
    "/auth/tokens",
]


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize("path", LISTS)
async def test_an_unknown_query_parameter_on_a_list_is_a_400_naming_it(
    world: World, path: str
) -> None:
    provider = await world.provider()
    url = path.format(pid=provider["id"])
    response = await world.get(url, role="admin", colour="blue", limit=5)
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"field": "colour", "problem": "is not a known query parameter"}
    ]
    assert (await world.get(url, role="admin", limit=5)).status_code == 200


async def test_every_list_answers_one_page_shape_and_documents_its_filters(
    world: World,
) -> None:
    document = await _document(world.client)
    provider = await world.provider()
    for path in LISTS:
        response = await world.get(path.format(pid=provider["id"]), role="admin", limit=7)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        assert set(body) == {"items", "total", "limit", "offset"}, path
        assert (body["limit"], body["offset"]) == (7, 0)
        operation = document["paths"]["/api/v1" + path.replace("{pid}", "{provider_id}")]["get"]
        assert {"limit", "offset"} <= {p["name"] for p in operation["parameters"]}
    filters = document["paths"]["/api/v1/providers"]["get"]["parameters"]
    assert {p["name"] for p in filters} == {
        "officer_id",
        "locality",
        "level",
        "rating",
        "name",
        "limit",
        "offset",
    }
    assert all(p["description"] for p in filters)
    statuses = document["paths"]["/api/v1/providers/{provider_id}/safeguardings"]["get"]
    assert "status" in {p["name"] for p in statuses["parameters"]}
    visits = document["paths"]["/api/v1/providers/{provider_id}/visits"]["get"]
    assert "status" not in {p["name"] for p in visits["parameters"]}


async def test_the_documented_error_body_is_the_one_sent(world: World) -> None:
    document = await _document(world.client)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    problem = schemas["Problem"]
    assert problem["properties"]["detail"]["type"] == "string"
    assert problem["required"] == ["detail", "errors"]
    sent = await world.post("/providers", {"name": ""})
    assert sent.status_code == 422
    assert isinstance(sent.json()["detail"], str)
    assert set(sent.json()) <= set(problem["properties"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path)


async def test_each_operation_documents_the_errors_it_can_answer(world: World) -> None:
    document = await _document(world.client)
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            documented = set(operation["responses"])
            places = {p["in"] for p in operation.get("parameters", [])}
            label = f"{method.upper()} {path}"
            if "path" in places:
                assert {"404", "422"} <= documented, label
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= documented, label
            parameters = {p["name"] for p in operation.get("parameters", [])}
            if method == "get" and "offset" in parameters:
                assert "400" in documented, label
            if path != "/api/v1/auth/token":
                assert {"401", "503"} <= documented, label


async def test_a_405_names_every_method_of_its_path(world: World) -> None:
    response = await world.client.delete("/api/v1/providers", headers=world.headers["admin"])
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["errors"][0]["field"] == "method"
    provider = await world.provider()
    path = f"/api/v1/providers/{provider['id']}"
    response = await world.client.put(path, headers=world.headers["admin"])
    assert response.headers["allow"] == "GET, PATCH"
    # Every method it names is taken, and no other.
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        answer = await world.client.request(method, path, headers=world.headers["admin"])
        assert (answer.status_code != 405) == (method in ("GET", "PATCH")), method


async def test_null_is_refused_where_the_document_does_not_offer_it(world: World) -> None:
    document = await _document(world.client)
    update = document["components"]["schemas"]["ProviderUpdate"]["properties"]
    assert "anyOf" not in update["name"] and "default" not in update["name"]
    assert {"type": "null"} in update["people_supported"]["anyOf"]
    provider = await world.provider(people_supported=12)
    response = await world.patch(f"/providers/{provider['id']}", {"name": None}, role="admin")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    response = await world.patch(
        f"/providers/{provider['id']}", {"people_supported": None}, role="admin"
    )
    assert response.status_code == 200, response.text
    assert response.json()["people_supported"] is None
