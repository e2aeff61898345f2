"""/metrics: who may scrape it, that every documented metric is there, that domain gauges
agree with the database, and that routes are labelled by template."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.main import create_app
from app.services import Services
from tests.conftest import World

DOCUMENTED = [
    "carewatch_providers",
    "carewatch_providers_by_rating",
    "carewatch_placements_suspended",
    "carewatch_safeguardings_open",
    "carewatch_visits_overdue",
    "carewatch_improvement_actions_overdue",
    "carewatch_deliveries",
    "carewatch_delivery_attempts",
    "carewatch_delivery_latency_seconds",
    "carewatch_events",
    "carewatch_cqc_requests",
    "carewatch_cqc_sync_last_success_timestamp_seconds",
    "carewatch_cqc_unreadable_locations",
    "carewatch_job_runs",
    "carewatch_job_duration_seconds",
    "carewatch_http_requests",
    "carewatch_http_request_duration_seconds",
]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_loopback_scrape_without_a_token_and_the_figures_agree(
    world: World,
    services: Services,
) -> None:
    provider = await world.provider()
    await world.post(
        f"/providers/{provider['id']}/concerns",
        {"raised_on": "2026-11-19", "description": "d", "whole_service": True},
    )
    await world.post(
        f"/providers/{provider['id']}/safeguardings",
        {"raised_on": "2026-11-19", "category": "neglect", "reference": "SG-1"},
    )
    await world.get(f"/providers/{provider['id']}")
    await services.dispatcher.drain()
    response = await world.client.get("/metrics")
    assert response.status_code == 200
    families = {f.name for f in text_string_to_metric_families(response.text)}
    for name in DOCUMENTED:
        assert name in families, name
    samples = _samples(response.text)
    assert samples[("carewatch_providers", (("level", "intensive"),))] == 1
    assert samples[("carewatch_safeguardings_open", ())] == 1
    assert samples[("carewatch_deliveries", (("status", "sent"),))] > 0
    assert samples[("carewatch_events_total", (("type", "monitoring.escalated"),))] == 1
    route = (("method", "GET"), ("route", "/api/v1/providers/{provider_id}"), ("status", "200"))
    assert samples[("carewatch_http_requests_total", route)] == 1
    assert f'/api/v1/providers/{provider["id"]}"' not in response.text  # never the raw path


async def test_with_a_token_configured_the_token_is_required(
    world: World, services: Services
) -> None:
    settings = services.settings.model_copy(update={"metrics_token": SecretStr("scrape-secret")})
    services.settings = settings
    app = create_app(settings, services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200
        officer = await client.get("/metrics", headers=world.headers["officer"])
        assert officer.status_code == 403
        issued = await client.post(
            "/api/v1/auth/tokens",
            headers=world.headers["manager"],
            json={"name": "prometheus", "scope": "metrics"},
        )
        assert issued.status_code == 201, issued.text
        personal = {"Authorization": f"Bearer {issued.json()['token']}"}
        assert (await client.get("/metrics", headers=personal)).status_code == 200
        assert (await client.get("/api/v1/providers", headers=personal)).status_code == 403
        await client.delete(
            f"/api/v1/auth/tokens/{issued.json()['id']}", headers=world.headers["manager"]
        )
        assert (await client.get("/metrics", headers=personal)).status_code == 403


async def test_json_logs_carry_the_request_id(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.logs import configure_logging

    configure_logging("INFO", "json")
    try:
        response = await world.client.get(
            "/api/v1/providers", headers={**world.headers["officer"], "X-Request-ID": "req-12345"}
        )
        assert response.headers["x-request-id"] == "req-12345"
        logging.getLogger("app.test").info("checked %d providers", 0)
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["message"] == "checked 0 providers" and record["level"] == "INFO"
        assert "request_id" in record
    finally:
        logging.getLogger().handlers.clear()
