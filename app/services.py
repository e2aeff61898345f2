"""The running application's collaborators, built once by create_app and shared by the
API, the web pages, the jobs and the CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from starlette.requests import Request

from app.alerting.channel import Channel
from app.alerting.channels.choice import ChannelSet, MessageRenderer, SmsRenderer
from app.alerting.channels.notify import NotifyChannel
from app.alerting.dispatcher import Dispatcher
from app.alerting.email import EmailRenderer, mailer_for
from app.alerting.outbox import Mailboxes, WakeUp, install_outbox
from app.alerting.routes import RouteTable, load_routes
from app.clock import Clock, SystemClock
from app.config import Settings
from app.cqc.client import CqcClient
from app.cqc.sync import CqcContext, make_client
from app.db import Database
from app.market.kpis import DEFAULT_THRESHOLDS, KpiThresholds, load_kpis
from app.metrics import ProcessMetrics
from app.monitoring.policy import MonitoringPolicy
from app.rules.catalogue import load_rules

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    policy: MonitoringPolicy
    routes: RouteTable
    renderer: EmailRenderer
    dispatcher: Dispatcher
    wake_up: WakeUp
    metrics: ProcessMetrics
    cqc_client: CqcClient | None = None
    notify: NotifyChannel | None = None
    wake_event: asyncio.Event = field(default_factory=asyncio.Event)
    kpis: KpiThresholds = field(default_factory=lambda: DEFAULT_THRESHOLDS)

    def cqc_context(self) -> CqcContext | None:
        if self.cqc_client is None:
            return None
        return CqcContext(
            database=self.database,
            clock=self.clock,
            policy=self.policy,
            client=self.cqc_client,
            overlap=timedelta(minutes=self.settings.cqc_window_overlap_minutes),
        )

    async def close(self) -> None:
        if self.cqc_client is not None:
            await self.cqc_client.http.aclose()
        if self.notify is not None:
            await self.notify.aclose()
        await self.database.dispose()


def channels_for(settings: Settings) -> tuple[Channel, NotifyChannel | None]:
    """The dispatcher's channel: email over SMTP (or files) or Notify, texts over Notify."""
    notify = NotifyChannel(settings) if settings.notify_api_key is not None else None
    email = notify if settings.email_channel == "notify" and notify else mailer_for(settings)
    if not settings.texts_enabled:
        return email, notify  # no routes to sms are followed: email is the only channel
    return ChannelSet(email, notify), notify


def load_policy(settings: Settings) -> tuple[MonitoringPolicy, RouteTable]:
    """Load and validate alerts/rules.yaml and alerts/routes.yaml (raises ConfigFileError)."""
    rules = load_rules(settings.alerts_dir / "rules.yaml")
    routes = load_routes(settings.alerts_dir / "routes.yaml")
    return MonitoringPolicy(rules=rules), routes


def build_services(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    mailer: Channel | None = None,
    cqc_transport: httpx.AsyncBaseTransport | None = None,
) -> Services:
    policy, routes = load_policy(settings)
    kpis = load_kpis(settings.alerts_dir / "kpis.yaml")
    database = database or Database.from_url(settings.database_url)
    clock = clock or SystemClock(settings.timezone)
    wake_up = WakeUp()
    metrics = ProcessMetrics()

    def count_events(types: list[str]) -> None:
        for event_type in types:
            metrics.events.labels(event_type).inc()

    install_outbox(
        database,
        routes,
        Mailboxes(
            safeguarding=str(settings.safeguarding_email),
            named={k: str(v) for k, v in routes.mailboxes.items()},
        ),
        wake_up,
        on_events=count_events,
        texts=settings.texts_enabled,
    )
    renderer = EmailRenderer(TEMPLATES_DIR, settings.timezone)
    notify: NotifyChannel | None = None
    if mailer is None:
        mailer, notify = channels_for(settings)
    dispatcher = Dispatcher(
        database=database,
        mailer=mailer,
        renderer=MessageRenderer(renderer, SmsRenderer(TEMPLATES_DIR, settings.timezone)),
        clock=clock,
        base_url=settings.base_url,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        safeguarding_mailbox=str(settings.safeguarding_email),
    )
    services = Services(
        settings,
        database,
        clock,
        policy,
        routes,
        renderer,
        dispatcher,
        wake_up,
        metrics,
        cqc_client=make_client(settings, cqc_transport),
        notify=notify,
        kpis=kpis,
    )
    dispatcher.observers.append(metrics)
    if services.cqc_client is not None:
        services.cqc_client.observers.append(metrics.observe_cqc)
    wake_up.subscribe(services.wake_event.set)
    return services


async def services_of(request: Request) -> Services:
    """The Services of the app serving this request (a dependency of API and pages).
    Async although it awaits nothing: FastAPI runs a plain function dependency in its
    thread pool, a hand-off to another thread and back on every request."""
    services: Services = request.app.state.services
    return services
