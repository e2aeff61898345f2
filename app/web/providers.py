"""A provider's page: its contract, monitoring level and why, CQC locations, improvement
plan, safeguardings (details only for the roles that may read them, every look audited),
monitoring history and timeline, with links to the forms the viewer's role may use."""

from __future__ import annotations

from functools import partial
from math import ceil
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.auth.audit import audit_reads
from app.auth.permissions import Permission
from app.errors import NotFound
from app.models import Provider, Safeguarding
from app.models.base import PlanStatus
from app.monitoring import plans
from app.records import dashboard, queries
from app.web import forms, market
from app.web.deps import PageError, ProviderId, Reader, ServicesDep, int_param, render
from app.web.records import RECORD_FORMS, record_path
from app.web.sessions import FLASH_COOKIE, codec

router = APIRouter(include_in_schema=False)

TIMELINE_PAGE_SIZE = 25


@router.get("/providers/{provider_id:int}")
async def provider_page(
    request: Request, provider_id: ProviderId, viewer: Reader, services: ServicesDep
) -> Response:
    today = services.clock.today()
    timeline_page = int_param(request.query_params.get("timeline"), 1, 1, 100_000)
    detail = viewer.principal.can(Permission.read_safeguarding_detail)
    async with services.database.sessions() as session:
        # Held for the whole page: the session's identity map keeps only the objects
        # somebody references, and each section below looks the provider up again
        # (queries.require_provider), which then finds it there instead of reading it.
        _held_provider = await session.get(Provider, provider_id)
        try:
            provider = await queries.get_provider(session, provider_id)
        except NotFound:
            raise PageError(404, "Page not found", "There is no such provider.") from None
        view = await queries.monitoring_view(session, provider_id, services.policy, today)
        try:
            plan: dict[str, Any] | None = await queries.plan_view(session, provider_id)
        except NotFound:
            plan = None
        past_plans = [
            past
            for past in await plans.plan_history(session, provider_id)
            if past["status"] == PlanStatus.closed
        ]
        locations = await queries.list_locations(session, provider_id)
        removed_locations = await queries.list_locations(session, provider_id, removed=True)
        removed_ratings = await queries.location_ratings(
            session, [place.id for place in removed_locations if place.id is not None]
        )
        events, records_by_event = await queries.timeline(
            session, provider_id, TIMELINE_PAGE_SIZE, (timeline_page - 1) * TIMELINE_PAGE_SIZE
        )
        counts = await dashboard.safeguarding_counts(session, provider_id, today)
        visit_actions = await queries.visit_actions(session, provider_id=provider_id)
        safeguardings: list[Any] = []
        if detail:
            safeguardings = (
                await queries.list_records(session, Safeguarding, provider_id, limit=200, offset=0)
            ).items
        user_ids = {e.actor_user_id for e in events.items if e.actor_user_id}
        user_ids |= {
            int(label[5:])
            for episode in view["episodes"]
            for label in (episode.started_by, episode.ended_by)
            if label and label.startswith("user:") and label[5:].isdigit()
        }
        user_ids |= {
            int(past["closed_by"][5:])
            for past in past_plans
            if (past["closed_by"] or "").startswith("user:") and past["closed_by"][5:].isdigit()
        }
        if provider["contract_officer_id"]:
            user_ids.add(provider["contract_officer_id"])
        names = await dashboard.user_names(session, user_ids)
        market_section = await market.provider_market(session, provider_id, services.kpis)
    shown_ids: list[int | None] = [s.id for s in safeguardings]
    shown_ids += [
        r.id
        for r in records_by_event.values()
        if isinstance(r, Safeguarding) and r.id not in shown_ids
    ]
    await audit_reads(
        request,
        services,
        viewer.principal,
        action="web_page" if detail else "web_page_redacted",
        provider_id=provider_id,
        safeguarding_ids=shown_ids,
    )
    flash = codec(services).load_flash(request.cookies.get(FLASH_COOKIE))
    response = render(
        request,
        "provider.html",
        {
            "provider": provider,
            "officer_name": names.get(provider["contract_officer_id"] or 0),
            "view": view,
            "plan": plan,
            "past_plans": past_plans,
            "locations": locations,
            "removed_locations": removed_locations,
            "removed_ratings": removed_ratings,
            "events": events,
            "records_by_event": records_by_event,
            "timeline_page": timeline_page,
            "timeline_pages": max(1, ceil(events.total / TIMELINE_PAGE_SIZE)),
            "actor_name": partial(_actor_name, names),
            "detail": detail,
            "safeguardings": safeguardings,
            "safeguarding_counts": counts,
            "flash": flash,
            "record_forms": [entry.spec for entry in RECORD_FORMS] + list(market.PROVIDER_FORMS),
            "record_path": record_path,
            "visit_actions": visit_actions,
            "market": market_section,
            "today": today,
            "action_update_form": forms.ACTION_UPDATE_FORM,
            "agree_field": forms.AGREE_FORM.fields[0],
            "agree_values": forms.date_values("agreed_on", today),
        },
        viewer=viewer,
    )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _actor_name(names: dict[int, str], label: str | None) -> str:
    """'user:12' as the user's name; 'job:cqc_sync' as the job it was."""
    if not label:
        return "unknown"
    kind, _, name = label.partition(":")
    if kind == "user" and name.isdigit():
        return names.get(int(name), "a former user")
    if kind == "import":  # an import of the council's tracker (Actor.importer)
        return "the tracker import"
    return f"scheduled job {name.replace('_', ' ')}" if kind == "job" else label
