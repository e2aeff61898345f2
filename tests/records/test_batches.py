"""The batch form of the write path (records.write_many, what an import writes through):
each item checked as its one-at-a-time form checks it and answered in its place, the
good ones stored with their events dated their own day, the same events the
one-at-a-time form appends, and a record closed in a second batch closed as an officer
closes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select

from app.errors import DomainError
from app.market.schemas import LocalityIn
from app.market.service import create_locality
from app.models import (
    Complaint,
    Compliment,
    Concern,
    Event,
    FinancialAssurance,
    Provider,
    RecordChange,
    Safeguarding,
    Visit,
)
from app.records import schemas
from app.records import service as records
from app.services import Services
from tests import factories


def _visit(services: Services, days: int, **fields: Any) -> schemas.VisitIn:
    return schemas.VisitIn(
        visited_on=factories.days_ago(services, days),
        kind="virtual",
        purpose="Contract review",
        outcome="good",
        **fields,
    )


def _noon(services: Services, days: int) -> datetime:
    day = factories.days_ago(services, days)
    return datetime.combine(day, time(12), tzinfo=UTC)


async def test_each_item_is_answered_in_its_place(services: Services) -> None:
    provider = await factories.provider(services)
    assert provider.id is not None
    ctx = replace(factories.context(services), rules_deferred=True)
    items = [
        records.Batched(provider.id, _visit(services, 30), _noon(services, 30)),
        records.Batched(provider.id, _visit(services, -1)),  # tomorrow
        records.Batched(provider.id, _visit(services, 20, officer_id=999_999)),
        records.Batched(999_999, _visit(services, 5)),
        records.Batched(provider.id, _visit(services, 40), _noon(services, 40)),
        records.Batched(
            provider.id,
            schemas.ComplaintIn(received_on=factories.days_ago(services, 9), subject="Late calls"),
            _noon(services, 9),
        ),
    ]
    async with services.database.transaction() as session:
        answers = await records.write_many(session, items, ctx)
    assert [type(answer).__name__ for answer in answers] == [
        "int",
        "DomainError",
        "DomainError",
        "NotFound",
        "int",
        "int",
    ]
    refusals = [(a.field, a.problem) for a in answers if isinstance(a, DomainError)]
    assert refusals == [
        ("visited_on", "cannot be in the future"),
        ("officer_id", "no active user with id 999999"),
        ("provider_id", "no provider with id 999999"),
    ]

    async with services.database.sessions() as session:
        visits = (
            await session.scalars(select(Visit).where(Visit.provider_id == provider.id))
        ).all()
        stored = await session.get(Provider, provider.id)
        events = (
            await session.scalars(
                select(Event)
                .where(Event.provider_id == provider.id, Event.type != "provider.created")
                .order_by(Event.created_at)
            )
        ).all()
    assert sorted(v.visited_on for v in visits) == [
        factories.days_ago(services, 40),
        factories.days_ago(services, 30),
    ]
    # The older visit, later in the batch, moved neither date.
    assert stored is not None
    assert stored.last_visit_on == factories.days_ago(services, 30)
    assert stored.next_visit_due_on == services.policy.next_visit_due(
        stored.monitoring_level, factories.days_ago(services, 30)
    )
    assert [(e.type, e.created_at.replace(tzinfo=UTC)) for e in events] == [
        ("visit.recorded", _noon(services, 40)),
        ("visit.recorded", _noon(services, 30)),
        ("complaint.received", _noon(services, 9)),
    ]
    assert (
        {e.data["visit_id"] for e in events if e.type == "visit.recorded"}
        == {v.id for v in visits}
        == {answers[0], answers[4]}
    )


async def test_a_batch_appends_the_events_the_one_at_a_time_form_appends(
    services: Services,
) -> None:
    one, many = await factories.provider(services), await factories.provider(services)
    assert one.id is not None and many.id is not None
    inputs: list[schemas.Input] = [
        _visit(services, 3),
        schemas.SafeguardingIn(
            raised_on=factories.days_ago(services, 3), category="neglect", reference="SG-9"
        ),
        schemas.ComplaintIn(received_on=factories.days_ago(services, 3), subject="Late"),
        schemas.ComplimentIn(received_on=factories.days_ago(services, 3), summary="Thanks"),
        schemas.FinancialAssuranceIn(assessed_on=factories.days_ago(services, 3), risk="green"),
        schemas.ConcernIn(raised_on=factories.days_ago(services, 3), description="Rota gaps"),
    ]
    one_at_a_time = (
        records.record_visit,
        records.record_safeguarding,
        records.record_complaint,
        records.record_compliment,
        records.record_financial_assurance,
        records.record_concern,
    )
    ctx = replace(factories.context(services), rules_deferred=True)
    async with services.database.transaction() as session:
        for function, data in zip(one_at_a_time, inputs, strict=True):
            await function(session, one.id, data, ctx)
        await records.write_many(session, [records.Batched(many.id, d) for d in inputs], ctx)

    async def events(provider_id: int) -> list[tuple[str, dict[str, Any]]]:
        async with services.database.sessions() as session:
            events = await session.scalars(
                select(Event)
                .where(Event.provider_id == provider_id, Event.type != "provider.created")
                .order_by(Event.id)
            )
            return [
                (e.type, {k: v for k, v in e.data.items() if not k.endswith("_id")}) for e in events
            ]

    async def stored(provider_id: int) -> list[dict[str, Any]]:
        """Every record of the provider, each column but its id and provider."""
        rows = []
        async with services.database.sessions() as session:
            for model in (Visit, Safeguarding, Complaint, Compliment, FinancialAssurance, Concern):
                for record in await session.scalars(
                    select(model).where(model.provider_id == provider_id)
                ):
                    rows.append(
                        {
                            key: value
                            for key, value in record.model_dump().items()
                            if key not in {"id", "provider_id"}
                        }
                    )
        return rows

    assert await events(many.id) == await events(one.id)
    assert len(await events(many.id)) == len(inputs)
    assert await stored(many.id) == await stored(one.id)
    assert len(await stored(many.id)) == len(inputs)


async def test_a_record_closed_in_a_second_batch_is_closed_as_an_officer_closes_it(
    services: Services,
) -> None:
    provider = await factories.provider(services)
    assert provider.id is not None
    ctx = replace(factories.context(services), rules_deferred=True)
    raised = schemas.SafeguardingIn(
        raised_on=factories.days_ago(services, 60), category="neglect", reference="SG-7"
    )
    closing = schemas.SafeguardingUpdate(
        status="closed",
        outcome="not_substantiated",
        risk_outcome="risk_removed",
        closed_on=factories.days_ago(services, 30),
    )
    no_risk = schemas.SafeguardingUpdate(
        status="closed", outcome="substantiated", closed_on=factories.days_ago(services, 30)
    )
    async with services.database.transaction() as session:
        first, second = await records.write_many(
            session,
            [records.Batched(provider.id, raised), records.Batched(provider.id, raised)],
            ctx,
        )
        closed = await records.write_many(
            session,
            [
                records.Batched(provider.id, closing, _noon(services, 30), record_id=first),
                records.Batched(provider.id, no_risk, record_id=second),
                records.Batched(provider.id, closing, record_id=999_999),
            ],
            ctx,
        )
    assert closed[0] == first
    assert isinstance(closed[1], DomainError) and closed[1].field == "risk_outcome"
    assert isinstance(closed[2], DomainError) and closed[2].field == "id"
    assert isinstance(first, int)
    async with services.database.sessions() as session:
        stored = await session.get(Safeguarding, first)
        changes = (
            await session.scalars(select(RecordChange).where(RecordChange.record_id == first))
        ).all()
        closed_events = (
            await session.scalars(select(Event).where(Event.type == "safeguarding.closed"))
        ).all()
    assert stored is not None and stored.status == "closed"
    assert stored.closed_on == factories.days_ago(services, 30)
    assert {c.field for c in changes} == {"status", "outcome", "risk_outcome", "closed_on"}
    assert [e.data["safeguarding_id"] for e in closed_events] == [first]
    assert closed_events[0].created_at.replace(tzinfo=UTC) == _noon(services, 30)


async def test_providers_of_a_batch_are_checked_as_one_at_a_time(services: Services) -> None:
    held = await factories.provider(services)
    assert held.id is not None
    await factories.location(services, held.id, "1-000000100")
    ctx = replace(factories.context(services), rules_deferred=True)
    async with services.database.transaction() as session:
        await create_locality(session, LocalityIn(name="North"), ctx)

    def new(name: str, *locations: str, **fields: Any) -> records.NewProvider:
        return records.NewProvider(
            schemas.ProviderIn(name=name, **fields),
            [schemas.LocationIn(cqc_location_id=cqc) for cqc in locations],
        )

    async with services.database.transaction() as session:
        answers = await records.create_providers(
            session,
            [
                new("Harbour Care", "1-000000200", "1-000000201", localities=["North"]),
                new("Ghost Care", contract_officer_id=999_999),
                new("Second Harbour", "1-000000201"),  # taken by the first, in this batch
                new("Held Again", "1-000000100"),  # contracted to a provider carewatch holds
                new("Nowhere Care", localities=["Atlantis"]),
                new("Moorland Care"),
            ],
            ctx,
        )
    assert [a.field if isinstance(a, DomainError) else a.name for a in answers] == [
        "Harbour Care",
        "contract_officer_id",
        "cqc_location_id",
        "cqc_location_id",
        "localities.0",
        "Moorland Care",
    ]
    first = answers[0]
    assert isinstance(first, Provider) and first.id is not None
    async with services.database.sessions() as session:
        providers = (await session.scalars(select(Provider.name).order_by(Provider.id))).all()
        events = (
            await session.scalars(
                select(Event).where(Event.provider_id == first.id).order_by(Event.id)
            )
        ).all()
    assert "Ghost Care" not in providers and "Moorland Care" in providers
    assert [(e.type, e.data.get("cqc_location_id")) for e in events] == [
        ("provider.created", None),
        ("location.added", "1-000000200"),
        ("location.added", "1-000000201"),
    ]
