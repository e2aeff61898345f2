"""Builders for tests: records made through the real write path, with defaults."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.events import Actor
from app.models import Location, Provider
from app.models.base import Rating
from app.records import schemas
from app.records import service as records
from app.records.service import WriteContext, WriteResult
from app.services import Services

TESTER = Actor.job("tests")


def context(services: Services, actor: Actor = TESTER) -> WriteContext:
    return WriteContext(actor=actor, clock=services.clock, policy=services.policy)


async def provider(services: Services, officer_id: int | None = None, **fields: Any) -> Provider:
    async with services.database.transaction() as session:
        return await records.create_provider(
            session,
            schemas.ProviderIn(
                name=fields.pop("name", "Harbour Home Care"),
                contract_officer_id=officer_id,
                **fields,
            ),
            context(services),
        )


def days_ago(services: Services, days: int) -> date:
    return services.clock.today() - timedelta(days=days)


async def write(services: Services, kind: str, provider_id: int, **fields: Any) -> WriteResult[Any]:
    """Record one thing through the write path in its own transaction."""
    functions: dict[str, tuple[Any, Any, dict[str, Any]]] = {
        "visit": (
            records.record_visit,
            schemas.VisitIn,
            {
                "visited_on": days_ago(services, 1),
                "kind": "virtual",
                "purpose": "Meeting",
                "outcome": "good",
            },
        ),
        "safeguarding": (
            records.record_safeguarding,
            schemas.SafeguardingIn,
            {"raised_on": days_ago(services, 1), "category": "neglect", "reference": "SG-1"},
        ),
        "complaint": (
            records.record_complaint,
            schemas.ComplaintIn,
            {"received_on": days_ago(services, 1), "subject": "Late calls"},
        ),
        "compliment": (
            records.record_compliment,
            schemas.ComplimentIn,
            {"received_on": days_ago(services, 1), "summary": "Thank you"},
        ),
        "financial": (
            records.record_financial_assurance,
            schemas.FinancialAssuranceIn,
            {"assessed_on": days_ago(services, 1), "risk": "green"},
        ),
        "concern": (
            records.record_concern,
            schemas.ConcernIn,
            {"raised_on": days_ago(services, 1), "description": "Staffing gaps"},
        ),
    }
    function, schema, defaults = functions[kind]
    async with services.database.transaction() as session:
        result: WriteResult[Any] = await function(
            session, provider_id, schema(**{**defaults, **fields}), context(services)
        )
    return result


async def location(services: Services, provider_id: int, cqc_id: str = "1-000000001") -> Location:
    async with services.database.transaction() as session:
        return await records.add_location(
            session, provider_id, schemas.LocationIn(cqc_location_id=cqc_id), context(services)
        )


async def rating(
    services: Services, place: Location, overall: Rating, rated_on: date | None = None
) -> WriteResult[Any] | None:
    async with services.database.transaction() as session:
        return await records.record_rating(
            session,
            location_id=place.id,
            overall=overall,
            rated_on=rated_on or days_ago(services, 10),
            key_questions={"safe": {"rating": overall}},
            report_url=None,
            source="cqc",
            ctx=context(services),
        )


async def level_of(services: Services, provider_id: int) -> str:
    async with services.database.sessions() as session:
        found = await session.get(Provider, provider_id)
        assert found is not None
        return str(found.monitoring_level)
