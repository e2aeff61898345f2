"""Job bodies: plain async functions the scheduler, the CLI and tests call directly."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.auth.audit import purge_expired
from app.cqc.sync import run_market_benchmark, sync_changes
from app.events import Actor
from app.monitoring.escalation import apply_rules
from app.monitoring.overdue import raise_time_based_events
from app.services import Services

log = logging.getLogger(__name__)
TIME_RULES = Actor.job("time_rules")


@dataclass
class TimeRulesResult:
    escalated: list[int] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)


async def evaluate_time_rules(services: Services) -> TimeRulesResult:
    """The scheduled sweep: apply every rule to every provider (signals that changed with
    time alone, such as an expiring window or an overdue visit), then raise the time-based
    follow-up events, each once per occurrence and again weekly while unresolved."""
    now, today = services.clock.now(), services.clock.today()
    async with services.database.transaction() as session:
        escalations = await apply_rules(
            session, policy=services.policy, actor=TIME_RULES, now=now, today=today
        )
        raised = await raise_time_based_events(session, actor=TIME_RULES, now=now, today=today)
    result = TimeRulesResult(escalated=sorted(escalations), events=raised.raised)
    log.info("time rules: %d escalations, events %s", len(result.escalated), result.events)
    return result


async def cqc_sync(services: Services) -> str:
    """The scheduled CQC sync (nothing to do when polling is off)."""
    context = services.cqc_context()
    if context is None:
        return "disabled"
    run = await sync_changes(context)
    return run.status


async def market_benchmark(services: Services) -> str:
    """The weekly national distribution of homecare ratings (resumes if interrupted)."""
    context = services.cqc_context()
    if context is None:
        return "disabled"
    benchmark = await run_market_benchmark(context)
    return benchmark.status


async def purge_audit(services: Services) -> int:
    """Daily: remove safeguarding-access records past CAREWATCH_AUDIT_RETENTION_DAYS."""
    async with services.database.transaction() as session:
        return await purge_expired(
            session, retention_days=services.settings.audit_retention_days, now=services.clock.now()
        )


async def sweep_deliveries(services: Services) -> int:
    """Send anything due that the in-process wake-up missed (another process's commit, an
    expired lease after a crash)."""
    stats = await services.dispatcher.drain()
    return stats.sent
