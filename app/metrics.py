"""Prometheus metrics. Domain gauges are read from the database at scrape time, so every
replica reports the same truth; counters and histograms live in the process (and, with
PROMETHEUS_MULTIPROC_DIR set, in files shared by all worker processes of a replica)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    CqcSyncRun,
    CqcUnreadableLocation,
    Delivery,
)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400)


class ProcessMetrics:
    """Counters and histograms this process updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.delivery_attempts = Counter(
            "carewatch_delivery_attempts",
            "SMTP send attempts by outcome (sent, retried, failed, paused)",
            ["outcome"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "carewatch_delivery_latency_seconds",
            "Time from an event to SMTP acceptance of its message",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.deliveries_resent = Counter(
            "carewatch_deliveries_resent",
            "Deliveries sent again after an attempt that may have reached the mail server "
            "(lease_expired: taken over from a dispatcher that stopped; dropped_after_data: "
            "a connection lost with the message in flight)",
            ["reason"],
            registry=r,
        )
        for reason in ("lease_expired", "dropped_after_data"):
            self.deliveries_resent.labels(reason)  # present at 0 before the first
        self.events = Counter("carewatch_events", "Events appended, by type", ["type"], registry=r)
        self.cqc_requests = Counter(
            "carewatch_cqc_requests",
            "Requests to the CQC API by endpoint template and HTTP "
            "status (soft_429 = a rate limit inside a 200)",
            ["endpoint", "status"],
            registry=r,
        )
        self.job_runs = Counter(
            "carewatch_job_runs", "Scheduled job runs by outcome", ["job", "outcome"], registry=r
        )
        self.job_duration = Histogram(
            "carewatch_job_duration_seconds", "Scheduled job run time", ["job"], registry=r
        )
        self.http_requests = Counter(
            "carewatch_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "carewatch_http_request_duration_seconds",
            "HTTP request time by route template",
            ["method", "route"],
            registry=r,
        )
        self.scheduler_leader = Gauge(
            "carewatch_scheduler_leader",
            "1 while this process runs the scheduler",
            registry=r,
            multiprocess_mode="max",
        )

    def observe_delivery(self, outcome: str, latency: float | None) -> None:
        self.delivery_attempts.labels(outcome).inc()
        if latency is not None:
            self.delivery_latency.observe(latency)

    def observe_resent(self, reason: str) -> None:
        self.deliveries_resent.labels(reason).inc()

    def observe_cqc(self, endpoint: str, status: str) -> None:
        self.cqc_requests.labels(endpoint, status).inc()


async def domain_snapshot(session: AsyncSession, counts: dict[str, Any]) -> dict[str, Any]:
    """Every domain gauge: the dashboard's figures (`counts`, from the same queries as the
    dashboard, which the caller reads because records sit above metrics) plus the age of
    the oldest unsent alert and the last successful CQC sync."""
    oldest_pending = await session.scalar(
        select(func.min(Delivery.created_at)).where(Delivery.status.in_(["pending", "sending"]))
    )
    last_sync = await session.scalar(
        select(func.max(CqcSyncRun.finished_at)).where(CqcSyncRun.status == "success")
    )
    unreadable = await session.scalar(select(func.count()).select_from(CqcUnreadableLocation))
    return {
        "providers": counts["providers_by_level"],
        "placements_suspended": counts["placements_suspended"],
        "visits_overdue": counts["visits_overdue"],
        "providers_by_rating": counts["providers_by_rating"],
        "safeguardings_open": counts["safeguardings_open"],
        "improvement_actions_overdue": counts["improvement_actions_overdue"],
        "deliveries": counts["deliveries_by_status"],
        "oldest_pending_delivery_at": oldest_pending,
        "cqc_last_success": last_sync,
        "cqc_unreadable_locations": unreadable or 0,
        "localities": counts.get("localities"),
    }


class SnapshotCollector(Collector):
    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot

        def labelled(
            name: str, doc: str, label: str, values: dict[str, int], keys: tuple[str, ...]
        ) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=[label])
            for key in keys:
                family.add_metric([key], values.get(key, 0))
            return family

        yield labelled(
            "carewatch_providers",
            "Providers by monitoring level",
            "level",
            s["providers"],
            ("routine", "enhanced", "intensive"),
        )
        yield labelled(
            "carewatch_providers_by_rating",
            "Providers by their worst current CQC overall rating",
            "rating",
            s["providers_by_rating"],
            ("outstanding", "good", "requires_improvement", "inadequate", "not_rated"),
        )
        yield GaugeMetricFamily(
            "carewatch_placements_suspended",
            "Providers with new placements suspended",
            value=s["placements_suspended"],
        )
        yield GaugeMetricFamily(
            "carewatch_safeguardings_open",
            "Safeguardings not closed",
            value=s["safeguardings_open"],
        )
        yield GaugeMetricFamily(
            "carewatch_visits_overdue",
            "Providers whose next visit is overdue",
            value=s["visits_overdue"],
        )
        yield GaugeMetricFamily(
            "carewatch_improvement_actions_overdue",
            "Open improvement actions past their due date",
            value=s["improvement_actions_overdue"],
        )
        yield labelled(
            "carewatch_deliveries",
            "Alert deliveries by status",
            "status",
            s["deliveries"],
            ("pending", "sending", "sent", "failed"),
        )
        oldest = s["oldest_pending_delivery_at"]
        yield GaugeMetricFamily(
            "carewatch_delivery_oldest_pending_age_seconds",
            "Age of the oldest delivery not yet sent (0 when none)",
            value=0 if oldest is None else max(time.time() - oldest.timestamp(), 0),
        )
        last = s["cqc_last_success"]
        yield GaugeMetricFamily(
            "carewatch_cqc_sync_last_success_timestamp_seconds",
            "When the last CQC sync succeeded (Unix time; 0 if never)",
            value=0 if last is None else last.timestamp(),
        )
        yield GaugeMetricFamily(
            "carewatch_cqc_unreadable_locations",
            "Tracked locations whose latest CQC answer could not be read (nothing stored)",
            value=s["cqc_unreadable_locations"],
        )
        yield from _locality_families(s.get("localities") or {})


# Per-locality gauges: name, help, the figures' key in the snapshot.
LOCALITY_GAUGES = (
    (
        "carewatch_locality_hours_commissioned",
        "Hours of care commissioned in the latest capacity returns of the locality's providers",
        "hours_commissioned",
    ),
    (
        "carewatch_locality_hours_delivered",
        "Hours of care delivered in the latest capacity returns of the locality's providers",
        "hours_delivered",
    ),
    (
        "carewatch_locality_people_waiting",
        "People awaiting a package of care in the locality's latest count",
        "people_waiting",
    ),
)


def _locality_families(figures: dict[str, Any]) -> Iterator[Metric]:
    """Gauges labelled by locality name (a place, never a person)."""
    for name, doc, key in LOCALITY_GAUGES:
        family = GaugeMetricFamily(name, doc, labels=["locality"])
        for locality, value in sorted((figures.get(key) or {}).items()):
            family.add_metric([locality], value)
        yield family
    bands = GaugeMetricFamily(
        "carewatch_locality_providers_by_kpi_band",
        "Providers serving the locality by the band of their latest month's call-monitoring "
        "figures, per measure",
        labels=["locality", "measure", "band"],
    )
    for (locality, measure, band), count in sorted((figures.get("kpi_bands") or {}).items()):
        bands.add_metric([locality, measure, band], count)
    yield bands


def render(process: ProcessMetrics, snapshot: dict[str, Any]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # summed across workers
    else:
        registry.register(_Forward(process.registry))
    return generate_latest(registry)


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()
