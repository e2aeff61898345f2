"""The CQC sync: page through /changes/location from the end of the last successful
window (less a small overlap), fetch only the locations we track (plus any never checked
yet, and any whose last answer could not be read), and write each real rating change
through the write path. An id that 404s is recorded and skipped; an answer we cannot read
(or that contradicts what we hold) changes nothing, is recorded against its location and
is fetched again by every run until it reads, so it never holds the window back. The
window advances only when a run otherwise succeeds, so a failed run is simply covered
again by the next one. Also: fetching one location at once (when it is added to a
contract) and the national market benchmark."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import Clock
from app.config import Settings
from app.cqc.client import CqcClient, CqcError, CqcNotFound, CqcNotJson
from app.cqc.normalise import (
    HeldRating,
    NormalisedLocation,
    Unreadable,
    contradiction,
    normalise_location,
)
from app.db import Database
from app.events import Actor
from app.locks import lock_provider
from app.models import CqcBenchmark, CqcSyncRun, CqcUnreadableLocation, Location
from app.models.base import KEY_QUESTIONS
from app.monitoring.policy import MonitoringPolicy
from app.records import service as records
from app.records.service import WriteContext

log = logging.getLogger(__name__)
CQC_SYNC = Actor.job("cqc_sync")
FIRST_WINDOW = timedelta(days=1)
DOMICILIARY = "gacServiceTypeDescription=Domiciliary+care+service"


def make_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> CqcClient | None:
    """The CQC client, or None when no API key is configured (polling is off)."""
    if not settings.cqc_polling_enabled or settings.cqc_api_key is None:
        return None
    http = httpx.AsyncClient(
        base_url=settings.cqc_base_url,
        transport=transport,
        timeout=httpx.Timeout(settings.cqc_timeout_seconds, connect=10.0),
    )
    return CqcClient(
        http,
        api_key=settings.cqc_api_key.get_secret_value(),
        partner_code=settings.cqc_partner_code,
        requests_per_minute=settings.cqc_requests_per_minute,
    )


def disabled_reason(settings: Settings) -> str | None:
    if not settings.cqc_polling_enabled:
        return "CQC polling is off: set CAREWATCH_CQC_API_KEY to the Syndication subscription key"
    return None


@dataclass
class CqcContext:
    """What a sync needs: the database, the policy for rule evaluation, the client."""

    database: Database
    clock: Clock
    policy: MonitoringPolicy
    client: CqcClient
    overlap: timedelta = timedelta(minutes=60)

    def write_context(self) -> WriteContext:
        return WriteContext(actor=CQC_SYNC, clock=self.clock, policy=self.policy)


def read_answer(payload: Any, cqc_location_id: str) -> NormalisedLocation | Unreadable:
    """A detail answer for `cqc_location_id`, read; an answer about another location is
    as unreadable as a garbled one."""
    found = normalise_location(payload)
    if isinstance(found, NormalisedLocation) and found.cqc_location_id != cqc_location_id:
        return Unreadable("locationId: the answer is about another location")
    return found


async def _mark_unreadable(
    session: AsyncSession, location: Location, reason: str, now: datetime
) -> None:
    """Count one more unreadable answer for a location (the caller holds its provider)."""
    assert location.id is not None
    held = await session.get(CqcUnreadableLocation, location.id)
    if held is None:
        session.add(
            CqcUnreadableLocation(
                location_id=location.id,
                cqc_location_id=location.cqc_location_id,
                first_failed_at=now,
                last_failed_at=now,
                last_error=reason[:300],
            )
        )
    else:
        held.failures += 1
        held.last_failed_at = now
        held.last_error = reason[:300]
    log.warning("CQC answer for location %s not used: %s", location.cqc_location_id, reason)


async def apply_location(
    context: CqcContext, location_id: int, found: NormalisedLocation | Unreadable
) -> str:
    """Store what CQC says about one tracked location: 'updated' when its rating changed,
    'unchanged', or 'unreadable' when the answer could not be read or contradicts what we
    hold (then nothing of it is stored, and the location is recorded as unreadable)."""
    now = context.clock.now()
    async with context.database.transaction() as session:
        location = await session.get(Location, location_id)
        if location is None:
            raise CqcError("the location is no longer tracked")
        # Under the provider's lock, so no other writer moves the rating we weigh it against.
        await lock_provider(session, location.provider_id)
        await session.refresh(location)
        if isinstance(found, Unreadable):
            reason: str | None = found.reason
        else:
            held = HeldRating(
                overall=location.overall_rating,
                rated_on=location.overall_rated_on,
                questions={q: getattr(location, f"{q}_rating") for q in KEY_QUESTIONS},
            )
            reason = contradiction(held, found.rating)
        if reason is not None:
            await _mark_unreadable(session, location, reason, now)
            return "unreadable"
        await records.update_location_details(
            session,
            location_id,
            name=found.name,
            postcode=found.postcode,
            registration_status=found.registration_status,
            checked_at=now,
        )
        rating = found.rating
        result = await records.record_rating(
            session,
            location_id=location_id,
            overall=rating.overall,
            rated_on=rating.rated_on,
            key_questions=rating.key_questions,
            report_url=rating.report_url,
            source="cqc",
            ctx=context.write_context(),
            inherited_from=rating.inherited_from,
        )
        cleared = await session.get(CqcUnreadableLocation, location_id)
        if cleared is not None:
            await session.delete(cleared)
    return "unchanged" if result is None else "updated"


async def fetch_location(context: CqcContext, location_id: int, cqc_location_id: str) -> str:
    """Fetch one location and store what it says: 'updated', 'unchanged', 'unreadable' or
    'not_found'. Transport failures, throttling and 5xx (after retries) raise CqcError."""
    try:
        payload = await context.client.location(cqc_location_id)
    except CqcNotFound:
        return "not_found"
    except CqcNotJson as failure:
        return await apply_location(context, location_id, Unreadable(str(failure)))
    return await apply_location(context, location_id, read_answer(payload, cqc_location_id))


async def refresh_location(context: CqcContext, location_id: int, cqc_location_id: str) -> str:
    """Fetch one location now (when it is added to a contract): 'updated', 'unchanged',
    'not_found', or 'unreadable' (CQC's answer could not be read; nothing was stored and
    the next sync tries again)."""
    return await fetch_location(context, location_id, cqc_location_id)


async def sync_changes(context: CqcContext, run_id: int | None = None) -> CqcSyncRun:
    """One changes-driven sync run, recorded in cqc_sync_runs."""
    client = context.client
    now = context.clock.now().replace(microsecond=0)
    requests_before = client.request_count
    async with context.database.transaction() as session:
        last = (
            await session.execute(
                select(CqcSyncRun)
                .where(CqcSyncRun.kind == "changes", CqcSyncRun.status == "success")
                .order_by(CqcSyncRun.window_end.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        start = (
            (last.window_end - context.overlap) if last and last.window_end else now - FIRST_WINDOW
        )
        run = await session.get(CqcSyncRun, run_id) if run_id else None
        if run is None:
            run = CqcSyncRun(kind="changes", started_at=now)
            session.add(run)
        run.status, run.window_start, run.window_end = "running", start, now
        await session.flush()
        run_id = run.id
        tracked = {
            cqc_id: (location_id, checked)
            for cqc_id, location_id, checked in await session.execute(
                select(Location.cqc_location_id, Location.id, Location.last_checked_at).where(
                    Location.removed_at.is_(None)  # off every contract: no longer followed
                )
            )
        }
        unread = set(
            (await session.execute(select(CqcUnreadableLocation.cqc_location_id))).scalars()
        )
    counts: Counter[str] = Counter()
    not_found: list[str] = []
    unreadable: list[str] = []
    failures: list[str] = []
    error: str | None = None
    try:
        wanted: set[str] = set()

        def page_read() -> None:
            counts["pages"] += 1

        async for changed_id in client.changed_location_ids(start, now, on_page=page_read):
            counts["changes"] += 1
            if changed_id in tracked:
                wanted.add(changed_id)
        # Locations never fetched yet (added while CQC was unreachable) come too, and so
        # does every location whose last answer could not be read, until one reads.
        wanted |= {cqc_id for cqc_id, (_id, checked) in tracked.items() if checked is None}
        wanted |= unread & tracked.keys()
        limit = asyncio.Semaphore(4)

        async def fetch(cqc_id: str) -> None:
            # One location's failure is kept, and the others go on; any failure other than
            # an unreadable answer fails the run, so its window is covered again.
            async with limit:
                try:
                    outcome = await fetch_location(context, tracked[cqc_id][0], cqc_id)
                except (CqcError, httpx.HTTPError) as failure:
                    failures.append(str(failure)[:500])
                    return
                except Exception as failure:
                    failures.append(f"{type(failure).__name__} while storing a location")
                    log.exception("CQC sync: storing location %s failed", cqc_id)
                    return
            if outcome == "not_found":
                not_found.append(cqc_id)
                return
            counts["fetched"] += 1
            if outcome == "unreadable":
                unreadable.append(cqc_id)
            elif outcome == "updated":
                counts["updated"] += 1

        await asyncio.gather(*(fetch(cqc_id) for cqc_id in sorted(wanted)))
        if failures:
            error = (
                failures[0]
                if len(failures) == 1
                else f"{failures[0]} (and {len(failures) - 1} more)"
            )
    except (CqcError, httpx.HTTPError) as failure:
        error = str(failure)[:500]
    except Exception as failure:
        error = f"{type(failure).__name__} during sync"
        log.exception("CQC sync failed")
    async with context.database.transaction() as session:
        run = await session.get(CqcSyncRun, run_id)
        assert run is not None
        run.status = "failed" if error else "success"
        run.finished_at = context.clock.now()
        run.requests = client.request_count - requests_before
        run.change_pages = counts["pages"]
        run.changes_seen = counts["changes"]
        run.locations_fetched = counts["fetched"]
        run.locations_updated = counts["updated"]
        run.not_found = sorted(not_found)
        run.unreadable = sorted(unreadable)
        run.error = error[:1000] if error else None
    log.info(
        "CQC sync %s: %s changes, %s fetched, %s updated, %s not found, %s unreadable",
        "failed" if error else "succeeded",
        counts["changes"],
        counts["fetched"],
        counts["updated"],
        len(not_found),
        len(unreadable),
    )
    return run


async def run_market_benchmark(context: CqcContext, per_page: int = 500) -> CqcBenchmark:
    """Page through every domiciliary care location and count current overall ratings,
    nationally and by region. Progress is saved after each page; an interrupted run is
    resumed from its next page by the next call."""
    client = context.client
    async with context.database.transaction() as session:
        benchmark = (
            await session.execute(
                select(CqcBenchmark)
                .where(CqcBenchmark.status == "running")
                .order_by(CqcBenchmark.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if benchmark is None:
            benchmark = CqcBenchmark(
                started_at=context.clock.now(), distribution={"national": {}, "regions": {}}
            )
            session.add(benchmark)
            await session.flush()
        benchmark_id = benchmark.id
        page = benchmark.next_page
    limit = asyncio.Semaphore(8)
    while True:
        requests_before = client.request_count
        try:
            listing = await client.list_locations(DOMICILIARY, page, per_page)
            ids = [
                str(item.get("locationId"))
                for item in listing.get("locations") or []
                if isinstance(item, dict) and item.get("locationId")
            ]

            async def rate(cqc_id: str) -> NormalisedLocation | Unreadable | None:
                async with limit:
                    try:
                        return read_answer(await client.location(cqc_id), cqc_id)
                    except CqcNotFound:
                        return None
                    except CqcNotJson as failure:
                        return Unreadable(str(failure))

            found = await asyncio.gather(*(rate(cqc_id) for cqc_id in ids))
        except (CqcError, httpx.HTTPError) as failure:
            async with context.database.transaction() as session:
                stored = await session.get(CqcBenchmark, benchmark_id)
                assert stored is not None
                stored.error = str(failure)[:500]
                return stored
        async with context.database.transaction() as session:
            stored = await session.get(CqcBenchmark, benchmark_id)
            assert stored is not None
            distribution: dict[str, Any] = {
                "national": dict(stored.distribution.get("national", {})),
                "regions": {k: dict(v) for k, v in stored.distribution.get("regions", {}).items()},
                "unreadable": int(stored.distribution.get("unreadable", 0)),
            }
            for location in found:
                if isinstance(location, Unreadable):
                    # Not guessed at: counted apart, so the distribution says what it left out.
                    distribution["unreadable"] = distribution.get("unreadable", 0) + 1
                    continue
                if location is None or location.registration_status != "Registered":
                    continue
                rating = location.rating.overall.value
                distribution["national"][rating] = distribution["national"].get(rating, 0) + 1
                region = distribution["regions"].setdefault(location.region or "Unknown", {})
                region[rating] = region.get(rating, 0) + 1
                stored.locations_seen += 1
            stored.distribution = distribution
            stored.requests += client.request_count - requests_before
            stored.total_pages = int(listing.get("totalPages") or 0)
            stored.next_page = page + 1
            done = not ids or page >= (stored.total_pages or 0) or not listing.get("nextPageUri")
            if done:
                stored.status = "complete"
                stored.finished_at = context.clock.now()
                stored.error = None
        if done:
            return stored
        page += 1


async def queue_run(session: AsyncSession, clock: Clock) -> int:
    """Record a requested sync in the caller's transaction, so the caller has its id
    before it runs."""
    run = CqcSyncRun(kind="changes", status="queued", started_at=clock.now())
    session.add(run)
    await session.flush()
    assert run.id is not None
    return run.id


async def sync_status(database: Database, settings: Settings) -> dict[str, Any]:
    """What GET /api/v1/cqc/status shows: on or off (and why), the last success, recent
    runs, the latest market benchmark and the locations whose answer could not be read."""
    async with database.sessions() as session:
        runs = list(
            (
                await session.execute(select(CqcSyncRun).order_by(CqcSyncRun.id.desc()).limit(10))
            ).scalars()
        )
        last_success = (
            await session.execute(
                select(CqcSyncRun)
                .where(CqcSyncRun.status == "success")
                .order_by(CqcSyncRun.finished_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        benchmark = (
            await session.execute(select(CqcBenchmark).order_by(CqcBenchmark.id.desc()).limit(1))
        ).scalar_one_or_none()
        unreadable = await unreadable_locations(session)
    return {
        "enabled": settings.cqc_polling_enabled,
        "reason": disabled_reason(settings),
        "base_url": settings.cqc_base_url,
        "sync_interval_seconds": settings.cqc_sync_interval,
        "last_success_at": last_success.finished_at if last_success else None,
        "last_window_end": last_success.window_end if last_success else None,
        "recent_runs": [run.model_dump() for run in runs],
        "benchmark": None if benchmark is None else benchmark.model_dump(),
        "unreadable_locations": unreadable,
    }


UNREADABLE_SHOWN = 100


async def unreadable_locations(session: AsyncSession) -> dict[str, Any]:
    """How many tracked locations' latest CQC answer could not be read, and the most
    recent of them: which, how often, since when and why."""
    total = await session.scalar(select(func.count()).select_from(CqcUnreadableLocation))
    rows = (
        await session.execute(
            select(CqcUnreadableLocation)
            .order_by(CqcUnreadableLocation.last_failed_at.desc())
            .limit(UNREADABLE_SHOWN)
        )
    ).scalars()
    return {
        "count": total or 0,
        "locations": [
            {
                "location_id": row.location_id,
                "cqc_location_id": row.cqc_location_id,
                "failures": row.failures,
                "first_failed_at": row.first_failed_at,
                "last_failed_at": row.last_failed_at,
                "last_error": row.last_error,
            }
            for row in rows
        ],
    }
