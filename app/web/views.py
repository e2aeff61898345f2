"""The HTML pages: login, the intelligence dashboard, a provider's page with its forms, and
the alerts page. Thin like the API: read through the query functions, write through the
same service functions, and never touch SQL here."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from math import ceil
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerting.retry import retry_delivery
from app.auth.audit import access_context, add_access_rows, audit_reads
from app.auth.permissions import Permission
from app.auth.service import Principal, authenticate
from app.models import Safeguarding
from app.models.base import DeliveryStatus, MonitoringLevel, Rating
from app.monitoring import plans
from app.monitoring import service as monitoring
from app.monitoring.errors import DeEscalationRefused, DomainError, NotFound
from app.monitoring.schemas import DeEscalation, PlacementsChange, PlanAgreement
from app.records import dashboard, queries
from app.records import service as records
from app.records.service import WriteContext, WriteResult
from app.services import Services, services_of
from app.web import forms
from app.web.forms import FormErrors, FormSpec
from app.web.sessions import (
    CSRF_FIELD,
    FLASH_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    codec,
    current_session,
    end_session,
    set_cookie,
    start_session,
)
from app.web.templating import build_templates

router = APIRouter(include_in_schema=False)
templates = build_templates()

MAX_ID = 2_147_483_647
TABLE_PAGE_SIZE = 100
TIMELINE_PAGE_SIZE = 25
DELIVERIES_PAGE_SIZE = 50
GENERIC_LOGIN_ERROR = "Enter a correct email address and password"


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PageError(Exception):
    """An error shown as a page: not found, not allowed, an expired form."""

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status = status
        self.title = title
        self.message = message


ServicesDep = Annotated[Services, Depends(services_of)]


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one page, and the CSRF token their forms carry."""

    principal: Principal
    csrf: str

    def can(self, permission: str) -> bool:
        return self.principal.can(Permission(permission))


async def signed_in(request: Request, services: ServicesDep) -> Viewer:
    found = await current_session(request, services)
    if found is None:
        raise LoginRequired(request.url.path)
    principal, csrf = found
    request.state.principal = principal
    return Viewer(principal, csrf)


ViewerDep = Annotated[Viewer, Depends(signed_in)]


def require(permission: Permission) -> Callable[..., Awaitable[Viewer]]:
    async def check(viewer: ViewerDep) -> Viewer:
        if not viewer.principal.can(permission):
            raise PageError(403, "You cannot do this", "Your role does not allow this page.")
        return viewer

    return check


Reader = Annotated[Viewer, Depends(require(Permission.read))]
PlanWriter = Annotated[Viewer, Depends(require(Permission.write_records))]
MonitoringManager = Annotated[Viewer, Depends(require(Permission.manage_monitoring))]


async def csrf_checked_form(request: Request, viewer: ViewerDep) -> dict[str, str]:
    """The submitted form, once its CSRF token matches the session's."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted, viewer.csrf):
        raise PageError(
            403, "This form has expired", "Go back, reload the page and submit the form again."
        )
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormDep = Annotated[dict[str, str], Depends(csrf_checked_form)]


def _in_range(value: int) -> int:
    """Ids beyond the database's integer range cannot exist: a page, not a 422."""
    if not 1 <= value <= MAX_ID:
        raise PageError(404, "Page not found", "There is no such record.")
    return value


# Async, as every dependency here: FastAPI runs a plain function in its thread pool.
async def _provider_id(provider_id: int) -> int:
    return _in_range(provider_id)


async def _action_id(action_id: int) -> int:
    return _in_range(action_id)


async def _delivery_id(delivery_id: int) -> int:
    return _in_range(delivery_id)


ProviderId = Annotated[int, Depends(_provider_id)]
ActionId = Annotated[int, Depends(_action_id)]
DeliveryId = Annotated[int, Depends(_delivery_id)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    viewer: Viewer | None = None,
    status: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "csrf_field": CSRF_FIELD, **context},
        status_code=status,
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# Login and logout --------------------------------------------------------------------


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _login_page(
    request: Request, services: Services, *, email: str = "", error: str = "", status: int = 200
) -> HTMLResponse:
    csrf_value, cookie = codec(services).new_login_csrf()
    response = render(
        request,
        "login.html",
        {
            "email": email,
            "error": error,
            "login_csrf": csrf_value,
            "next": _safe_next(request.query_params.get("next")),
        },
        status=status,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, cookie, max_age=3600)
    return response


@router.get("/login")
async def login_page(request: Request, services: ServicesDep) -> Response:
    if await current_session(request, services) is not None:
        return redirect("/")
    return _login_page(request, services)


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    email = str(form.get("email") or "").strip()[:254]
    password = str(form.get("password") or "")[:200]
    if not codec(services).login_csrf_matches(
        request.cookies.get(LOGIN_CSRF_COOKIE), str(form.get(CSRF_FIELD) or "")
    ):
        return _login_page(
            request,
            services,
            email=email,
            error="Your sign-in form expired. Enter your details again.",
            status=403,
        )
    if not email or not password:
        return _login_page(request, services, email=email, error=GENERIC_LOGIN_ERROR, status=400)
    address = request.client.host if request.client else "unknown"
    if not request.app.state.login_throttle.allow(email, address):
        return _login_page(
            request,
            services,
            email=email,
            error="Too many sign-in attempts. Wait a few minutes and try again.",
            status=429,
        )
    # The password check (argon2, deliberately slow) runs outside the write transaction.
    async with services.database.sessions() as session:
        user = await authenticate(session, email, password)
    if user is None:
        return _login_page(request, services, email=email, error=GENERIC_LOGIN_ERROR, status=400)
    async with services.database.transaction() as session:
        user = await session.merge(user)
        cookie_value, max_age = await start_session(session, services, user)
    response = redirect(_safe_next(str(form.get("next") or "")))
    set_cookie(request, response, SESSION_COOKIE, cookie_value, max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, _form: FormDep) -> Response:
    await end_session(request, services)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# The dashboard -------------------------------------------------------------------------


def _choice(value: str | None, allowed: set[str]) -> str | None:
    return value if value in allowed else None


def _int_param(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value else default
    except ValueError:
        return default
    return min(max(number, low), high)


@router.get("/")
async def dashboard_page(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    params = request.query_params
    officer_param = params.get("officer")
    if officer_param is None and viewer.principal.user.role == "officer":
        officer_id: int | None = viewer.principal.user.id  # an officer sees their own first
    elif officer_param and officer_param.isdigit() and int(officer_param) <= MAX_ID:
        officer_id = int(officer_param)
    else:
        officer_id = None
    rating = _choice(params.get("rating"), {r.value for r in Rating})
    filters = dashboard.TableFilters(
        officer_id=officer_id,
        locality=(params.get("locality") or None),
        level=_choice(params.get("level"), {m.value for m in MonitoringLevel}),
        rating=Rating(rating) if rating else None,
        sort=_choice(params.get("sort"), set(dashboard.SORT_KEYS)) or "name",
        descending=params.get("order") == "desc",
        limit=TABLE_PAGE_SIZE,
    )
    page_number = _int_param(params.get("page"), 1, 1, 100_000)
    filters.offset = (page_number - 1) * TABLE_PAGE_SIZE
    today = services.clock.today()
    async with services.database.sessions() as session:
        counts = await queries.dashboard_counts(session, today)
        table = await dashboard.provider_table(session, today, filters)
        national = await dashboard.national_distribution(session)
        officers = await dashboard.officers(session)
    selected = {
        "officer": "all" if officer_id is None else str(officer_id),
        "locality": filters.locality or "",
        "level": filters.level or "",
        "rating": rating or "",
    }

    def link(**changes: Any) -> str:
        query = {**selected, "sort": filters.sort, "order": "desc" if filters.descending else ""}
        query.update({key: str(value) for key, value in changes.items()})
        return "/?" + urlencode({key: value for key, value in query.items() if value})

    return render(
        request,
        "dashboard.html",
        {
            "counts": counts,
            "table": table,
            "chart": _rating_chart(counts["providers_by_rating"], national),
            "national": national,
            "officers": officers,
            "selected": selected,
            "filters": filters,
            "page_number": page_number,
            "pages": max(1, ceil(table.total / TABLE_PAGE_SIZE)),
            "link": link,
            "ratings": [r.value for r in Rating],
            "levels": [m.value for m in MonitoringLevel],
        },
        viewer=viewer,
    )


def _rating_chart(council: dict[str, int], national: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each rating's share here and nationally, as rows for the table and its bars."""
    council_total = sum(council.values()) or 1
    national_counts: dict[str, int] = (national or {}).get("national", {}) or {}
    national_total = sum(national_counts.values()) or 1
    rows = []
    for rating in ("outstanding", "good", "requires_improvement", "inadequate", "not_rated"):
        here = council.get(rating, 0)
        there = national_counts.get(rating, 0)
        rows.append(
            {
                "rating": rating,
                "council": here,
                "council_pct": round(100 * here / council_total),
                "national": there if national else None,
                "national_pct": round(100 * there / national_total) if national else None,
            }
        )
    return rows


# A provider's page -------------------------------------------------------------------


@router.get("/providers/{provider_id:int}")
async def provider_page(
    request: Request, provider_id: ProviderId, viewer: Reader, services: ServicesDep
) -> Response:
    today = services.clock.today()
    timeline_page = _int_param(request.query_params.get("timeline"), 1, 1, 100_000)
    detail = viewer.principal.can(Permission.read_safeguarding_detail)
    async with services.database.sessions() as session:
        try:
            provider = await queries.get_provider(session, provider_id)
        except NotFound:
            raise PageError(404, "Page not found", "There is no such provider.") from None
        view = await queries.monitoring_view(session, provider_id, services.policy, today)
        try:
            plan: dict[str, Any] | None = await queries.plan_view(session, provider_id)
        except NotFound:
            plan = None
        locations = await queries.list_locations(session, provider_id)
        events, records_by_event = await queries.timeline(
            session, provider_id, TIMELINE_PAGE_SIZE, (timeline_page - 1) * TIMELINE_PAGE_SIZE
        )
        counts = await dashboard.safeguarding_counts(session, provider_id, today)
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
        if provider["contract_officer_id"]:
            user_ids.add(provider["contract_officer_id"])
        names = await dashboard.user_names(session, user_ids)
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
            "locations": locations,
            "events": events,
            "records_by_event": records_by_event,
            "timeline_page": timeline_page,
            "timeline_pages": max(1, ceil(events.total / TIMELINE_PAGE_SIZE)),
            "actor_name": partial(_actor_name, names),
            "detail": detail,
            "safeguardings": safeguardings,
            "safeguarding_counts": counts,
            "flash": flash,
            "forms": forms.RECORD_FORMS,
            "today": today,
            "action_update_form": forms.ACTION_UPDATE_FORM,
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
    return f"scheduled job {name.replace('_', ' ')}" if kind == "job" else label


def _flash_redirect(
    request: Request, services: Services, provider_id: int, message: str, result: Any = None
) -> Response:
    escalation = getattr(result, "escalation", None)
    # Reasons carry their evidence (dates, counts): made JSON-safe for the signed cookie.
    banner = to_jsonable_python(escalation.summary()) if escalation is not None else None
    response = redirect(f"/providers/{provider_id}")
    set_cookie(
        request,
        response,
        FLASH_COOKIE,
        codec(services).dump_flash({"message": message, "escalation": banner}),
        max_age=120,
    )
    return response


async def _provider_name(services: Services, provider_id: int) -> str:
    async with services.database.sessions() as session:
        try:
            provider = await queries.get_provider(session, provider_id)
        except NotFound:
            raise PageError(404, "Page not found", "There is no such provider.") from None
    return str(provider["name"])


async def _form_page(
    request: Request,
    viewer: Viewer,
    services: Services,
    spec: FormSpec,
    *,
    provider_id: int,
    action: str,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "form.html",
        {
            "spec": spec,
            "provider_id": provider_id,
            "provider_name": await _provider_name(services, provider_id),
            "action": action,
            "values": values or {},
            "errors": errors or FormErrors(),
        },
        viewer=viewer,
        status=status,
    )


RecordWriter = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[WriteResult[Any]]]
RECORD_WRITERS: dict[str, RecordWriter] = {
    "visit": records.record_visit,
    "safeguarding": records.record_safeguarding,
    "complaint": records.record_complaint,
    "compliment": records.record_compliment,
    "financial": records.record_financial_assurance,
    "concern": records.record_concern,
}


def _record_spec(kind: str, viewer: Viewer) -> FormSpec:
    spec = forms.RECORD_FORMS.get(kind)
    if spec is None:
        raise PageError(404, "Page not found", "There is no such form.")
    if not viewer.principal.can(spec.permission):
        raise PageError(403, "You cannot do this", f"Your role cannot record a {spec.noun}.")
    return spec


@router.get("/providers/{provider_id:int}/record/{kind}")
async def record_form(
    request: Request, provider_id: ProviderId, kind: str, viewer: Reader, services: ServicesDep
) -> Response:
    spec = _record_spec(kind, viewer)
    today = services.clock.today().isoformat()
    defaults = {f.name: today for f in spec.fields if f.kind == "date" and f.required}
    return await _form_page(
        request,
        viewer,
        services,
        spec,
        provider_id=provider_id,
        action=request.url.path,
        values=defaults,
    )


async def _submit(
    request: Request,
    viewer: Viewer,
    services: Services,
    spec: FormSpec,
    form: dict[str, str],
    *,
    provider_id: int,
    write: Callable[[AsyncSession, BaseModel], Awaitable[Any]],
    done: str,
) -> Response:
    """Validate, write through the service function and commit; or show the form again
    with the GOV.UK error summary and nothing stored."""
    values = forms.form_values(spec, form)
    data, errors = forms.parse(spec, values)
    result: Any = None
    if data is not None:
        try:
            async with services.database.transaction() as session:
                result = await write(session, data)
        except DeEscalationRefused as refusal:
            errors.add("to", "Cannot step down yet: " + "; ".join(refusal.blockers))
        except DomainError as error:
            errors.add(*forms.domain_message(spec, error.field, error.problem))
    if errors:
        return await _form_page(
            request,
            viewer,
            services,
            spec,
            provider_id=provider_id,
            action=request.url.path,
            values=values,
            errors=errors,
            status=400,
        )
    return _flash_redirect(request, services, provider_id, done, result)


@router.post("/providers/{provider_id:int}/record/{kind}")
async def record_submit(
    request: Request,
    provider_id: ProviderId,
    kind: str,
    viewer: Reader,
    services: ServicesDep,
    form: FormDep,
) -> Response:
    spec = _record_spec(kind, viewer)
    context = WriteContext(
        actor=viewer.principal.actor, clock=services.clock, policy=services.policy
    )

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        result = await RECORD_WRITERS[kind](session, provider_id, data, context)
        if spec.audited:  # in the write's own transaction: no record without its audit row
            add_access_rows(
                session,
                principal=viewer.principal,
                action="create",
                provider_id=provider_id,
                safeguarding_ids=[result.record.id],
                access=access_context(request),
                at=services.clock.now(),
            )
        return result

    return await _submit(
        request,
        viewer,
        services,
        spec,
        form,
        provider_id=provider_id,
        write=write,
        done=f"The {spec.noun} was saved",
    )


@router.get("/providers/{provider_id:int}/plan/actions/new")
async def action_form(
    request: Request, provider_id: ProviderId, viewer: PlanWriter, services: ServicesDep
) -> Response:
    return await _form_page(
        request,
        viewer,
        services,
        forms.ACTION_FORM,
        provider_id=provider_id,
        action=f"/providers/{provider_id}/plan/actions",
    )


@router.post("/providers/{provider_id:int}/plan/actions")
async def action_add(
    request: Request,
    provider_id: ProviderId,
    viewer: PlanWriter,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, plans.ActionIn)
        return await plans.add_action(
            session,
            provider_id=provider_id,
            data=data,
            actor=viewer.principal.actor,
            now=services.clock.now(),
        )

    return await _submit(
        request,
        viewer,
        services,
        forms.ACTION_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The improvement action was added",
    )


@router.post("/providers/{provider_id:int}/plan/actions/{action_id:int}")
async def action_update(
    request: Request,
    provider_id: ProviderId,
    action_id: ActionId,
    viewer: PlanWriter,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, plans.ActionUpdate)
        action = await plans.update_action(
            session,
            action_id=action_id,
            data=data,
            actor=viewer.principal.actor,
            now=services.clock.now(),
        )
        if action.provider_id != provider_id:
            raise NotFound("action_id", "this provider has no such improvement action")
        return action

    return await _submit(
        request,
        viewer,
        services,
        forms.ACTION_UPDATE_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The improvement action was updated",
    )


@router.post("/providers/{provider_id:int}/plan/agree")
async def plan_agree(
    request: Request,
    provider_id: ProviderId,
    viewer: PlanWriter,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, PlanAgreement)
        return await plans.agree_plan(
            session,
            provider_id=provider_id,
            agreed_on=data.agreed_on,
            actor=viewer.principal.actor,
            now=services.clock.now(),
        )

    return await _submit(
        request,
        viewer,
        services,
        forms.AGREE_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The improvement plan was marked agreed",
    )


@router.get("/providers/{provider_id:int}/de-escalate")
async def de_escalate_form(
    request: Request, provider_id: ProviderId, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    return await _form_page(
        request,
        viewer,
        services,
        forms.DE_ESCALATE_FORM,
        provider_id=provider_id,
        action=request.url.path,
    )


@router.post("/providers/{provider_id:int}/de-escalate")
async def de_escalate_submit(
    request: Request,
    provider_id: ProviderId,
    viewer: MonitoringManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, DeEscalation)
        try:
            return await monitoring.de_escalate(
                session,
                provider_id=provider_id,
                to=data.to,
                reason=data.reason,
                override=data.override,
                policy=services.policy,
                actor=viewer.principal.actor,
                now=services.clock.now(),
            )
        except DeEscalationRefused:
            await session.commit()  # the refusal itself is on record, as through the API
            raise

    return await _submit(
        request,
        viewer,
        services,
        forms.DE_ESCALATE_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="Monitoring was stepped down",
    )


@router.get("/providers/{provider_id:int}/placements")
async def placements_form(
    request: Request, provider_id: ProviderId, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    return await _form_page(
        request,
        viewer,
        services,
        forms.PLACEMENTS_FORM,
        provider_id=provider_id,
        action=request.url.path,
    )


@router.post("/providers/{provider_id:int}/placements")
async def placements_submit(
    request: Request,
    provider_id: ProviderId,
    viewer: MonitoringManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, PlacementsChange)
        return await monitoring.set_placements_suspended(
            session,
            provider_id=provider_id,
            suspended=data.suspended,
            reason=data.reason,
            policy=services.policy,
            actor=viewer.principal.actor,
            now=services.clock.now(),
        )

    return await _submit(
        request,
        viewer,
        services,
        forms.PLACEMENTS_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The placements decision was saved",
    )


# Alerts ------------------------------------------------------------------------------


@router.get("/alerts")
async def alerts_page(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    status = _choice(request.query_params.get("status"), {s.value for s in DeliveryStatus})
    page_number = _int_param(request.query_params.get("page"), 1, 1, 100_000)
    async with services.database.sessions() as session:
        page = await queries.list_deliveries(
            session,
            status=status,
            limit=DELIVERIES_PAGE_SIZE,
            offset=(page_number - 1) * DELIVERIES_PAGE_SIZE,
        )
        by_status = await queries.delivery_counts(session)
    return render(
        request,
        "alerts.html",
        {
            "deliveries": page.items,
            "total": page.total,
            "status": status or "",
            "statuses": [s.value for s in DeliveryStatus],
            "by_status": by_status,
            "page_number": page_number,
            "pages": max(1, ceil(page.total / DELIVERIES_PAGE_SIZE)),
            "retried": request.query_params.get("retried"),
        },
        viewer=viewer,
    )


@router.post("/alerts/{delivery_id:int}/retry")
async def alert_retry(
    delivery_id: DeliveryId, viewer: MonitoringManager, services: ServicesDep, _form: FormDep
) -> Response:
    try:
        async with services.database.transaction() as session:
            await retry_delivery(
                session, delivery_id, actor=viewer.principal.actor, now=services.clock.now()
            )
    except DomainError as error:
        raise PageError(error.status_code, "Cannot retry", error.problem) from None
    services.wake_event.set()
    return redirect(f"/alerts?retried={delivery_id}")
