"""What "open" means for a safeguarding, the same in every count: raised or at a Section 42
enquiry, never closed, never entered in error. The definition is spelt as the statuses an
open safeguarding may have (so an index finds them), so a status left out of it would
silently drop those safeguardings from the dashboard and the rules."""

from __future__ import annotations

from app.records import dashboard, queries
from app.records import service as records
from app.records.schemas import EnteredInError, SafeguardingUpdate
from app.rules.signals import compute_signals
from app.services import Services
from tests import factories


async def test_raised_and_at_enquiry_are_open_closed_and_mistaken_are_not(
    services: Services,
) -> None:
    provider = await factories.provider(services, name="Open Care")
    other = await factories.provider(services, name="Closed Care")
    assert provider.id is not None and other.id is not None
    await factories.write(services, "safeguarding", provider.id, reference="SG-RAISED")
    enquiry = await factories.write(services, "safeguarding", provider.id, reference="SG-S42")
    closed = await factories.write(services, "safeguarding", other.id, reference="SG-CLOSED")
    mistaken = await factories.write(services, "safeguarding", other.id, reference="SG-WRONG")
    today = services.clock.today()
    async with services.database.transaction() as session:
        await records.update_safeguarding(
            session,
            enquiry.record.id,
            SafeguardingUpdate(status="enquiry"),
            factories.context(services),
        )
        await records.update_safeguarding(
            session,
            closed.record.id,
            SafeguardingUpdate(
                status="closed",
                outcome="not_substantiated",
                risk_outcome="risk_removed",
                closed_on=today,
            ),
            factories.context(services),
        )
        await records.mark_entered_in_error(
            session,
            "safeguarding",
            mistaken.record.id,
            EnteredInError(reason="Recorded against the wrong provider"),
            factories.context(services),
            may_mark_others=True,
        )

    async with services.database.sessions() as session:
        figures = await queries.dashboard_counts(session, today)
        tiles = await dashboard.tile_counts(session, today)
        rules = services.policy.rules
        one = await compute_signals(session, rules, today, [provider.id])
        grouped = await compute_signals(session, rules, today, [provider.id, other.id])
    assert figures["safeguardings_open"] == 2  # the raised one and the one at enquiry
    assert tiles["safeguardings_open"] == 1  # one provider has them
    assert one[provider.id]["safeguardings_open"] == 2
    assert grouped[provider.id]["safeguardings_open"] == 2
    assert grouped[other.id]["safeguardings_open"] == 0  # closed, and entered in error
