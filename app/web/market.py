"""The market's pages: the localities list and each locality (its lead and partner
providers, their figures and levels, who led when, its waiting list), the forms that add
a locality, change its lead and count its waiting list, and a provider's capacity-return
and call-monitoring forms. Every form posts to its own page and writes through the
market's service functions, as the API does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Permission
from app.errors import NotFound
from app.market import queries, schemas
from app.market import service as market
from app.market.kpis import MEASURE_NAMES
from app.records.service import WriteContext
from app.web import forms
from app.web.deps import (
    FormDep,
    MonitoringManager,
    PageError,
    PlanWriter,
    ProviderId,
    Reader,
    ServicesDep,
    Viewer,
    in_range,
    render,
)
from app.web.formpages import Back, form_page, submit
from app.web.forms import Choice, Field, FormSpec
from app.web.sessions import FLASH_COOKIE, codec

router = APIRouter(include_in_schema=False)

LOCALITY_FORM = FormSpec(
    kind="locality",
    title="Add a locality",
    noun="locality",
    schema=schemas.LocalityIn,
    fields=(Field("name", "Name of the locality", width="20"),),
    permission=Permission.manage_monitoring,
)
WAITING_FORM = FormSpec(
    kind="waiting",
    title="Count the waiting list",
    noun="waiting list count",
    schema=schemas.WaitingIn,
    fields=(
        Field("counted_on", "Date of the count", "date", not_future=True),
        Field("people_waiting", "People awaiting a package of care", width="4"),
        Field(
            "hours_waiting",
            "Hours of care a week they wait for",
            hint="The total for everyone waiting",
            width="5",
        ),
    ),
)
CAPACITY_FORM = FormSpec(
    kind="capacity",
    title="Record a capacity return",
    noun="capacity return",
    schema=schemas.CapacityIn,
    fields=(
        Field("period_start", "First day the return covers", "date", not_future=True),
        Field("period_end", "Last day the return covers", "date", not_future=True),
        Field("hours_commissioned", "Hours of care commissioned in the period", width="5"),
        Field("hours_delivered", "Hours of care delivered in the period", width="5"),
        Field("people_supported", "People supported", width="4"),
        Field("packages_accepted", "Packages accepted", required=False, width="3"),
        Field("packages_declined", "Packages declined", required=False, width="3"),
        Field("packages_handed_back", "Packages handed back", required=False, width="3"),
        Field(
            "hours_handed_back",
            "Hours of care a week in the packages handed back",
            required=False,
            width="5",
        ),
        Field(
            "staff_vacancies",
            "Care staff vacancies",
            hint="Leave empty if the provider did not say",
            required=False,
            width="3",
        ),
    ),
)
KPI_FORM = FormSpec(
    kind="kpis",
    title="Record call-monitoring figures",
    noun="call-monitoring figures",
    schema=schemas.KpiIn,
    fields=(
        Field(
            "month",
            "A day in the month the figures cover",
            "date",
            hint="The figures are for the whole month",
            not_future=True,
        ),
        Field("visits_planned", "Visits planned", width="5"),
        Field("visits_missed", "Visits missed", width="5"),
        Field("visits_late", "Visits late", width="5"),
        Field("calls_logged_in_home", "Visits logged from the person's home", width="5"),
        Field("time_critical_visits", "Time-critical visits", required=False, width="5"),
        Field("time_critical_on_time", "Time-critical visits on time", required=False, width="5"),
    ),
)
PROVIDER_FORMS = (CAPACITY_FORM, KPI_FORM)


def _context(viewer: Viewer, services: Any) -> WriteContext:
    return WriteContext(actor=viewer.principal.actor, clock=services.clock, policy=services.policy)


def _take_flash(request: Request, services: Any, response: Response) -> None:
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")


@router.get("/localities")
async def localities_page(request: Request, viewer: Reader, services: ServicesDep) -> Response:
    async with services.database.sessions() as session:
        localities = await queries.list_localities(session)
        tiles = await queries.market_tiles(session, services.clock.today())
    flash = codec(services).load_flash(request.cookies.get(FLASH_COOKIE))
    response = render(
        request,
        "localities.html",
        {"localities": localities, "tiles": tiles, "flash": flash},
        viewer=viewer,
    )
    _take_flash(request, services, response)
    return response


async def _locality(services: Any, locality_id: int) -> dict[str, Any]:
    async with services.database.sessions() as session:
        try:
            return await queries.get_locality(session, in_range(locality_id))
        except NotFound:
            raise PageError(404, "Page not found", "There is no such locality.") from None


@router.get("/localities/{locality_id:int}")
async def locality_page(
    request: Request, locality_id: int, viewer: Reader, services: ServicesDep
) -> Response:
    locality = await _locality(services, locality_id)
    flash = codec(services).load_flash(request.cookies.get(FLASH_COOKIE))
    response = render(
        request, "locality.html", {"locality": locality, "flash": flash}, viewer=viewer
    )
    _take_flash(request, services, response)
    return response


def _lead_form(locality: dict[str, Any]) -> FormSpec:
    """The lead form for this locality: its own providers to choose from."""
    options = tuple(Choice(str(p["id"]), p["name"]) for p in locality["providers"])
    if locality["lead_provider_id"] is not None:
        options += (Choice("", "No lead: end the current lead's term"),)
    return FormSpec(
        kind="lead",
        title="Change the lead provider",
        noun="lead provider",
        schema=schemas.LeadIn,
        fields=(
            Field(
                "provider_id",
                "Lead provider (Locality Partner)",
                "radios",
                options=options,
                hint="Only providers that serve this locality can lead it",
            ),
            Field("from_on", "Leads from", "date", not_future=True),
        ),
        permission=Permission.manage_monitoring,
    )


LOCALITIES_BACK = Back("/localities", "Back to localities")


def _back_to(locality: dict[str, Any]) -> Back:
    return Back(f"/localities/{locality['id']}", f"Back to {locality['name']}", locality["name"])


@router.get("/localities/new")
async def new_locality_form(
    request: Request, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    return await form_page(
        request,
        viewer,
        services,
        LOCALITY_FORM,
        provider_id=None,
        action=request.url.path,
        back=LOCALITIES_BACK,
    )


@router.post("/localities/new")
async def new_locality(
    request: Request, viewer: MonitoringManager, services: ServicesDep, form: FormDep
) -> Response:
    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, schemas.LocalityIn)
        return await market.create_locality(session, data, _context(viewer, services))

    return await submit(
        request,
        viewer,
        services,
        LOCALITY_FORM,
        form,
        provider_id=None,
        write=write,
        done=lambda made: f"{made.name} was added to the localities",
        back=LOCALITIES_BACK,
        done_url=lambda made: f"/localities/{made.id}",
    )


@router.get("/localities/{locality_id:int}/waiting")
async def waiting_form(
    request: Request, locality_id: int, viewer: PlanWriter, services: ServicesDep
) -> Response:
    locality = await _locality(services, locality_id)
    return await form_page(
        request,
        viewer,
        services,
        WAITING_FORM,
        provider_id=None,
        action=request.url.path,
        values=forms.date_values("counted_on", services.clock.today()),
        back=_back_to(locality),
    )


@router.post("/localities/{locality_id:int}/waiting")
async def record_waiting(
    request: Request, locality_id: int, viewer: PlanWriter, services: ServicesDep, form: FormDep
) -> Response:
    locality = await _locality(services, locality_id)

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, schemas.WaitingIn)
        return await market.record_waiting(session, locality_id, data, _context(viewer, services))

    return await submit(
        request,
        viewer,
        services,
        WAITING_FORM,
        form,
        provider_id=None,
        write=write,
        done="The waiting list count was saved",
        back=_back_to(locality),
        done_url=lambda _: f"/localities/{locality_id}",
    )


@router.get("/localities/{locality_id:int}/lead")
async def lead_form(
    request: Request, locality_id: int, viewer: MonitoringManager, services: ServicesDep
) -> Response:
    locality = await _locality(services, locality_id)
    values = forms.date_values("from_on", services.clock.today())
    if locality["lead_provider_id"] is not None:
        values["provider_id"] = str(locality["lead_provider_id"])
    return await form_page(
        request,
        viewer,
        services,
        _lead_form(locality),
        provider_id=None,
        action=request.url.path,
        values=values,
        back=_back_to(locality),
    )


@router.post("/localities/{locality_id:int}/lead")
async def change_lead(
    request: Request,
    locality_id: int,
    viewer: MonitoringManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:
    locality = await _locality(services, locality_id)

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, schemas.LeadIn)
        return await market.set_lead(session, locality_id, data, _context(viewer, services))

    return await submit(
        request,
        viewer,
        services,
        _lead_form(locality),
        form,
        provider_id=None,
        write=write,
        done="The lead provider was changed",
        back=_back_to(locality),
        done_url=lambda _: f"/localities/{locality_id}",
    )


def _register_provider_form(spec: FormSpec) -> None:
    async def show(
        request: Request, provider_id: ProviderId, viewer: PlanWriter, services: ServicesDep
    ) -> Response:
        defaults: dict[str, str] = {}
        for item in spec.fields:
            if item.kind == "date":
                defaults.update(forms.date_values(item.name, services.clock.today()))
        return await form_page(
            request,
            viewer,
            services,
            spec,
            provider_id=provider_id,
            action=request.url.path,
            values=defaults,
        )

    async def save(
        request: Request,
        provider_id: ProviderId,
        viewer: PlanWriter,
        services: ServicesDep,
        form: FormDep,
    ) -> Response:
        context = _context(viewer, services)

        async def write(session: AsyncSession, data: BaseModel) -> Any:
            if isinstance(data, schemas.KpiIn):
                return await market.record_kpis(session, provider_id, data, context, services.kpis)
            assert isinstance(data, schemas.CapacityIn)
            return await market.record_capacity(session, provider_id, data, context)

        return await submit(
            request,
            viewer,
            services,
            spec,
            form,
            provider_id=provider_id,
            write=write,
            done=f"The {spec.noun} {'were' if spec.noun.endswith('s') else 'was'} saved",
        )

    path = f"/providers/{{provider_id:int}}/record/{spec.kind}"
    router.add_api_route(path, show, methods=["GET"], name=f"{spec.kind}_form")
    router.add_api_route(path, save, methods=["POST"], name=f"{spec.kind}_submit")


for _spec in PROVIDER_FORMS:
    _register_provider_form(_spec)


async def provider_market(
    session: AsyncSession, provider_id: int, thresholds: Any
) -> dict[str, Any]:
    """The provider page's market section: its capacity and KPI trend, oldest first."""
    capacity, _ = await queries.capacity_returns(session, provider_id)
    kpis, _ = await queries.kpi_returns(session, provider_id)
    return {
        "capacity": list(reversed(capacity)),
        "kpis": list(reversed(kpis)),
        "measures": [
            (measure, words, getattr(thresholds, measure).describe())
            for measure, words in MEASURE_NAMES.items()
        ],
    }
