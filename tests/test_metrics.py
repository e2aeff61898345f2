"""/metrics: who may scrape it, that every documented metric is there, that domain gauges
agree with the database, and that routes are labelled by template."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

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
    "carewatch_locality_hours_commissioned",
    "carewatch_locality_hours_delivered",
    "carewatch_locality_people_waiting",
    "carewatch_locality_providers_by_kpi_band",
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


async def test_the_market_gauges_count_each_locality(world: World, services: Services) -> None:
    today = services.clock.today()
    west = await world.provider(name="West Care", localities=["West", "North"])
    await world.provider(name="North Care", localities=["North"])
    await world.post(
        f"/providers/{west['id']}/capacity",
        {
            "period_start": (today - timedelta(days=13)).isoformat(),
            "period_end": (today - timedelta(days=7)).isoformat(),
            "hours_commissioned": 500,
            "hours_delivered": 450,
            "people_supported": 40,
        },
    )
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat()
    await world.post(
        f"/providers/{west['id']}/kpis",
        {
            "month": month,
            "visits_planned": 100,
            "visits_missed": 5,
            "visits_late": 3,
            "calls_logged_in_home": 90,
        },
    )
    listed = (await world.get("/localities")).json()["items"]
    north = next(item["id"] for item in listed if item["name"] == "North")
    await world.post(
        f"/localities/{north}/waiting",
        {"counted_on": today.isoformat(), "people_waiting": 7, "hours_waiting": 50},
    )
    samples = _samples((await world.client.get("/metrics")).text)
    for locality in ("North", "West"):  # a provider serving two counts in each
        key = (("locality", locality),)
        assert samples[("carewatch_locality_hours_commissioned", key)] == 500
        assert samples[("carewatch_locality_hours_delivered", key)] == 450
    assert samples[("carewatch_locality_people_waiting", (("locality", "North"),))] == 7
    assert samples[("carewatch_locality_people_waiting", (("locality", "West"),))] == 0
    red = (("band", "red"), ("locality", "West"), ("measure", "missed_visits"))
    assert samples[("carewatch_locality_providers_by_kpi_band", red)] == 1
    green = (("band", "green"), ("locality", "North"), ("measure", "calls_logged"))
    assert samples[("carewatch_locality_providers_by_kpi_band", green)] == 1
    assert "West Care" not in (await world.client.get("/metrics")).text  # places, not names


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
