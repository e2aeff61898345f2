"""Schemathesis, with all its default checks, against the app on this run's engine, as
an admin: every answer is documented (status, headers, body), no input gives a 500,
what the schema refuses is refused and what it allows is accepted. Bounded, so that the
suite stays fast; the counts are written at the end of the session."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, settings
from starlette.responses import Response

from app.clock import FakeClock
from app.config import Settings
from app.errors import DomainError
from app.main import create_app
from app.services import build_services
from tests.conftest import ROOT, World

EXAMPLES = 10  # per operation, in the fuzzing phase (the coverage phase adds its own)


def _document() -> dict[str, Any]:
    # The document does not depend on the database: it is read from an app that never
    # opens one, at import, as parametrize needs it to collect one test per operation.
    # (schemathesis.pytest.from_fixture, which would read it from a fixture, does not
    # run under pytest 9.2: it sets the item's private _nodeid.)
    with tempfile.TemporaryDirectory() as folder:
        offline = Settings(
            _env_file=None,
            environment="test",
            database_url=f"sqlite:///{folder}/never-opened.db",
            dispatcher_enabled=False,
            scheduler_enabled=False,
            alerts_dir=ROOT / "alerts",
            outbox_dir=Path(folder),
        )
        return create_app(offline).openapi()


schema = schemathesis.openapi.from_dict(_document())


class Tally:
    """What this run did, written at the end of the session (tests/api/conftest.py)."""

    def __init__(self) -> None:
        self.examples: Counter[str] = Counter()
        self.failed: set[str] = set()
        self.phases: Counter[str] = Counter()
        self.refusals: list[str] = []

    def summary(self) -> str:
        return (
            f"schemathesis: {len(self.examples)} operations, "
            f"{sum(self.examples.values())} examples ({dict(self.phases)}), "
            f"{len(self.failed)} failing operations"
        )


TALLY = Tally()


@pytest.fixture
def tally() -> Tally:
    return TALLY


@pytest.fixture
def served(settings: Settings, clock: FakeClock, world: World, tally: Tally) -> FastAPI:
    """The app on this test's database, with services of its own: schemathesis serves
    it from an event loop of its own, and a connection pool belongs to the loop that
    opened it. The clock is the tests' one, so the admin's token (issued by `world`,
    through the fixtures' app on the same database) is valid."""
    app = create_app(settings, build_services(settings, clock=clock))
    refuse = app.exception_handlers[DomainError]

    async def noted(request: Request, error: Exception) -> Response:
        tally.refusals.append(type(error).__name__)
        response = refuse(request, error)
        assert not isinstance(response, Response)
        return await response

    app.add_exception_handler(DomainError, noted)
    return app


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_documented_promises(
    case: Any, served: FastAPI, world: World, tally: Tally
) -> None:
    label = case.operation.label
    tally.examples[label] += 1
    tally.phases[case.meta.phase.name.value if case.meta else "?"] += 1
    refused_before = len(tally.refusals)
    response = case.call(app=served, headers=world.headers["admin"])
    # A rule that needs the clock or the database (a date in the future, an officer who
    # does not exist, closing before opening) refuses some requests the schema allows,
    # with 422 from the service: that is not the schema lying. Any other refusal of a
    # schema-valid request (by input validation) still fails the positive-data check.
    refused_by_a_rule = response.status_code == 422 and len(tally.refusals) > refused_before
    excluded = [schemathesis.checks.positive_data_acceptance] if refused_by_a_rule else []
    passed = False
    try:
        case.validate_response(
            response,
            headers=world.headers["admin"],
            excluded_checks=excluded,
            transport_kwargs={"app": served, "headers": world.headers["admin"]},
        )
        passed = True
    finally:
        if not passed:
            tally.failed.add(label)
