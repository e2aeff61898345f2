"""A record's open/close transition, the same for safeguardings, complaints and concerns:
closed without a date it closes today, re-opened it loses its date, and a closing date
lies between the record's start and today, on a closed record only."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import DomainError
from app.records import schemas
from app.records import service as records
from app.services import Services
from tests import factories

# kind: (update function, update schema, what else closing needs)
KINDS: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    "safeguarding": (
        records.update_safeguarding,
        schemas.SafeguardingUpdate,
        {"outcome": "substantiated", "risk_outcome": "risk_removed"},
    ),
    "complaint": (records.update_complaint, schemas.ComplaintUpdate, {"upheld": "not_upheld"}),
    "concern": (
        records.update_concern,
        schemas.ConcernUpdate,
        {"outcome": "Rota fixed; checked at the next visit"},
    ),
}


async def _update(services: Services, kind: str, record_id: int, **fields: Any) -> Any:
    function, schema, _ = KINDS[kind]
    async with services.database.transaction() as session:
        result = await function(session, record_id, schema(**fields), factories.context(services))
    return result.record


@pytest.mark.parametrize("kind", list(KINDS))
async def test_closing_and_reopening(services: Services, kind: str) -> None:
    provider = await factories.provider(services)
    assert provider.id is not None
    started = factories.days_ago(services, 10)
    start_field = {"complaint": "received_on"}.get(kind, "raised_on")
    written = await factories.write(services, kind, provider.id, **{start_field: started})
    record_id = written.record.id
    closing = KINDS[kind][2]

    closed = await _update(services, kind, record_id, status="closed", **closing)
    assert closed.closed_on == services.clock.today()
    reopened = await _update(services, kind, record_id, status="open")
    assert reopened.closed_on is None

    for bad_date in (factories.days_ago(services, 11), factories.days_ago(services, -1)):
        with pytest.raises(DomainError) as refused:
            await _update(services, kind, record_id, status="closed", closed_on=bad_date, **closing)
        assert refused.value.field == "closed_on"
    with pytest.raises(DomainError) as refused:
        await _update(services, kind, record_id, closed_on=factories.days_ago(services, 2))
    assert refused.value.field == "closed_on"  # an open record has no closing date

    dated = await _update(services, kind, record_id, status="closed", closed_on=started, **closing)
    assert dated.closed_on == started


async def test_a_safeguarding_closes_only_with_an_outcome(services: Services) -> None:
    provider = await factories.provider(services)
    assert provider.id is not None
    written = await factories.write(services, "safeguarding", provider.id)
    with pytest.raises(DomainError) as refused:
        await _update(services, "safeguarding", written.record.id, status="closed")
    assert refused.value.field == "outcome"
