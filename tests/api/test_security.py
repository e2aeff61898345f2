"""Headers, and no personal data in logs, metrics or emails."""

from __future__ import annotations

import logging

import pytest

from app.services import Services
from tests.conftest import World


async def test_every_answer_carries_the_security_headers(world: World) -> None:
    for path in ("/healthz", "/api/v1/providers", "/nowhere"):
        response = await world.client.get(path, headers=world.headers["viewer"])
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers
    docs = await world.client.get("/docs")
    assert docs.status_code == 200 and "http" not in docs.headers["content-security-policy"]
    behind_tls = await world.client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")


MARKERS = {
    "reference": "REFMARK-91",
    "summary": "SUMMARK-92 Mrs Example fell",
    "notes": "NOTEMARK-93",
    "description": "DESCMARK-94",
    "subject": "SUBJMARK-95",
    "compliment": "COMPMARK-96",
}


async def test_personal_data_stays_out_of_logs_metrics_and_emails(
    world: World,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.fakes.smtp import Recorder, SmtpServer, readable

    recorder = Recorder()
    server = SmtpServer(recorder)
    await server.start()
    from app.alerting.email import SmtpMailer

    services.dispatcher.mailer = SmtpMailer(
        services.settings.model_copy(
            update={"smtp_host": server.host, "smtp_port": server.port, "smtp_starttls": False}
        )
    )
    try:
        with caplog.at_level(logging.DEBUG):
            provider = await world.provider()
            pid = provider["id"]
            await world.post(
                f"/providers/{pid}/safeguardings",
                {
                    "raised_on": "2026-11-18",
                    "category": "neglect",
                    "reference": MARKERS["reference"],
                    "summary": MARKERS["summary"],
                    "whole_service": True,
                },
                role="safeguarding",
            )
            await world.post(
                f"/providers/{pid}/visits",
                {
                    "visited_on": "2026-11-18",
                    "kind": "unannounced",
                    "purpose": "Spot check",
                    "outcome": "serious_concerns",
                    "notes": MARKERS["notes"],
                },
            )
            await world.post(
                f"/providers/{pid}/concerns",
                {
                    "raised_on": "2026-11-18",
                    "description": MARKERS["description"],
                    "whole_service": True,
                },
            )
            await world.post(
                f"/providers/{pid}/complaints",
                {"received_on": "2026-11-18", "subject": MARKERS["subject"], "upheld": "upheld"},
            )
            await world.post(
                f"/providers/{pid}/compliments",
                {"received_on": "2026-11-18", "summary": MARKERS["compliment"]},
            )
            bad = await world.post(
                f"/providers/{pid}/safeguardings",
                {
                    "raised_on": "2099-01-01",
                    "category": "neglect",
                    "reference": MARKERS["reference"],
                    "summary": MARKERS["summary"],
                },
            )
            assert bad.status_code == 422
            assert MARKERS["summary"] not in bad.text  # the error names the field, not the value
            await services.dispatcher.drain()
            metrics = (await world.client.get("/metrics")).text
        assert recorder.inbox, "the flows should have sent alerts"
        emails = "\n".join(readable(message) for _r, message in recorder.inbox)
        for marker in MARKERS.values():
            token = marker.split()[0]
            assert token not in caplog.text, f"{token} leaked into the logs"
            assert token not in metrics, f"{token} leaked into /metrics"
            assert token not in emails, f"{token} leaked into an email"
        assert "Mrs Example" not in emails and "Mrs Example" not in caplog.text
    finally:
        await server.stop()
