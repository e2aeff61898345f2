"""A provider's contract in the browser: onboarding a provider (/providers/new), editing
its contract, giving it to a contract officer, and adding or removing its CQC locations
(showing at once what CQC publishes for a new one). The same service functions and
permission as /api/v1/providers."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Permission
from app.cqc.client import CqcError
from app.cqc.sync import refresh_location
from app.errors import NotFound
from app.models import Location, User
from app.models.base import ContractType, PartnerRole
from app.records import queries, schemas, workload
from app.records import service as records
from app.records.service import WriteContext
from app.services import Services
from app.web.deps import FormDep, PageError, ProviderId, ServicesDep, Viewer, in_range, require
from app.web.formpages import Back, form_page, submit
from app.web.forms import Choice, Field, FormSpec, choices

router = APIRouter(include_in_schema=False)

ProviderManager = Annotated[Viewer, Depends(require(Permission.manage_providers))]

NO_OFFICER = Choice("", "No contract officer yet")

# Chosen from the council's list of localities: each box posts a locality's id, as the
# API takes them; the options are today's list (see _with_choices).
LOCALITIES_FIELD = Field(
    "localities",
    "Localities",
    "checkboxes",
    hint="The council localities the provider serves. Select all that apply",
    required=False,
)

CONTRACT_FIELDS = (
    Field("name", "Provider name"),
    Field(
        "cqc_provider_id",
        "CQC provider ID",
        hint="For example, 1-101728337",
        required=False,
        width="20",
    ),
    Field("contract_type", "Type of contract", "radios", options=choices(ContractType)),
    Field(
        "partner_role",
        "Partner role",
        "select",
        options=(Choice("", "None"), *choices(PartnerRole)),
        required=False,
    ),
    LOCALITIES_FIELD,
    Field("weekly_hours", "Contracted hours a week", width="5"),
    Field("people_supported", "People supported", required=False, width="5"),
)
OFFICER_FIELD = Field(
    "contract_officer_id",
    "Contract officer",
    "select",
    hint="An active officer or manager",
    required=False,
)

NEW_PROVIDER_FORM = FormSpec(
    kind="provider",
    title="Add a provider",
    noun="provider",
    schema=schemas.ProviderIn,
    permission=Permission.manage_providers,
    fields=(*CONTRACT_FIELDS, OFFICER_FIELD),
    submit="Add the provider",
)
EDIT_CONTRACT_FORM = FormSpec(
    kind="contract",
    title="Edit the contract",
    noun="contract",
    schema=schemas.ProviderUpdate,
    permission=Permission.manage_providers,
    fields=CONTRACT_FIELDS,
    submit="Save the contract",
)
OFFICER_FORM = FormSpec(
    kind="officer",
    title="Change the contract officer",
    noun="contract officer",
    schema=schemas.ProviderUpdate,
    permission=Permission.manage_providers,
    fields=(replace(OFFICER_FIELD, required=True),),
    submit="Save the contract officer",
)
LOCATION_FORM = FormSpec(
    kind="location",
    title="Add a CQC location",
    noun="CQC location",
    schema=schemas.LocationIn,
    permission=Permission.manage_providers,
    fields=(
        Field(
            "cqc_location_id",
            "CQC location ID",
            hint="For example, 1-000000001. CQC's current rating is fetched at once",
            width="20",
        ),
    ),
    submit="Add the location",
)


class Confirmation(BaseModel):
    """A form that only confirms (nothing to fill in)."""

    model_config = ConfigDict(extra="forbid")


REMOVE_LOCATION_FORM = FormSpec(
    kind="remove_location",
    title="Remove a CQC location",
    noun="CQC location",
    schema=Confirmation,
    permission=Permission.manage_providers,
    fields=(),
    intro="Its ratings will no longer count for this provider. The timeline keeps its history.",
    submit="Remove the location",
)

# Fields that may be emptied on the edit form: left empty, they become null.
CLEARABLE = ("cqc_provider_id", "partner_role", "people_supported")


def _context(viewer: Viewer, services: Services) -> WriteContext:
    return WriteContext(actor=viewer.principal.actor, clock=services.clock, policy=services.policy)


def _officer_label(user: User) -> str:
    return f"{user.name} ({user.role.replace('_', ' ')})"


async def _with_choices(services: Services, spec: FormSpec, *, optional: bool) -> FormSpec:
    """The form with today's choices in it: the contract officers in its select, the
    council's localities as its checkboxes."""
    async with services.database.sessions() as session:
        people = await workload.contract_officer_choices(session)
        localities = await workload.locality_choices(session)
    officers = tuple(Choice(str(user.id), _officer_label(user)) for user in people)
    if optional:
        officers = (NO_OFFICER, *officers)
    options = {
        "contract_officer_id": officers,
        "localities": tuple(Choice(str(place.id), place.name) for place in localities),
    }
    fields = tuple(
        replace(item, options=options[item.name]) if item.name in options else item
        for item in spec.fields
    )
    return replace(spec, fields=fields)


def _contract_values(provider: dict[str, Any], spec: FormSpec) -> dict[str, str]:
    """A provider's contract as the edit form's strings (its localities as the ids of the
    boxes to tick)."""
    people = provider["people_supported"]
    hours = float(provider["weekly_hours"])
    boxes = spec.field("localities")
    ids = {option.label: option.value for option in boxes.options} if boxes else {}
    return {
        "name": provider["name"],
        "cqc_provider_id": provider["cqc_provider_id"] or "",
        "contract_type": str(provider["contract_type"]),
        "partner_role": str(provider["partner_role"] or ""),
        "localities": "\n".join(ids[name] for name in provider["localities"] if name in ids),
        "weekly_hours": str(int(hours)) if hours.is_integer() else str(hours),
        "people_supported": "" if people is None else str(people),
    }


async def _provider(services: Services, provider_id: int) -> dict[str, Any]:
    async with services.database.sessions() as session:
        try:
            return await queries.get_provider(session, provider_id)
        except NotFound:
            raise PageError(404, "Page not found", "There is no such provider.") from None


NEW_BACK = Back("/", "Back to the dashboard")


@router.get("/providers/new")
async def new_provider_form(
    request: Request, viewer: ProviderManager, services: ServicesDep
) -> Response:
    spec = await _with_choices(services, NEW_PROVIDER_FORM, optional=True)
    return await form_page(
        request,
        viewer,
        services,
        spec,
        provider_id=None,
        action=request.url.path,
        values={"contract_type": ContractType.spot.value},
        back=NEW_BACK,
    )


@router.post("/providers/new")
async def new_provider_submit(
    request: Request, viewer: ProviderManager, services: ServicesDep, form: FormDep
) -> Response:
    spec = await _with_choices(services, NEW_PROVIDER_FORM, optional=True)

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, schemas.ProviderIn)
        return await records.create_provider(session, data, _context(viewer, services))

    return await submit(
        request,
        viewer,
        services,
        spec,
        form,
        provider_id=None,
        write=write,
        done="The provider was added",
        back=NEW_BACK,
        done_url=lambda provider: f"/providers/{provider.id}",
    )


@router.get("/providers/{provider_id:int}/edit")
async def edit_contract_form(
    request: Request, provider_id: ProviderId, viewer: ProviderManager, services: ServicesDep
) -> Response:
    provider = await _provider(services, provider_id)
    spec = await _with_choices(services, EDIT_CONTRACT_FORM, optional=False)
    return await form_page(
        request,
        viewer,
        services,
        spec,
        provider_id=provider_id,
        action=request.url.path,
        values=_contract_values(provider, spec),
    )


@router.post("/providers/{provider_id:int}/edit")
async def edit_contract_submit(
    request: Request,
    provider_id: ProviderId,
    viewer: ProviderManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:
    emptied = {name: None for name in CLEARABLE if not form.get(name, "").strip()}
    spec = await _with_choices(services, EDIT_CONTRACT_FORM, optional=False)

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, schemas.ProviderUpdate)
        changes = schemas.ProviderUpdate.model_validate(
            {**data.model_dump(exclude_unset=True), **emptied}
        )
        return await records.update_provider(
            session, provider_id, changes, _context(viewer, services)
        )

    return await submit(
        request,
        viewer,
        services,
        spec,
        form,
        provider_id=provider_id,
        write=write,
        done="The contract was saved",
    )


@router.get("/providers/{provider_id:int}/officer")
async def officer_form(
    request: Request, provider_id: ProviderId, viewer: ProviderManager, services: ServicesDep
) -> Response:
    provider = await _provider(services, provider_id)
    spec = await _with_choices(services, OFFICER_FORM, optional=False)
    current = str(provider["contract_officer_id"] or "")
    offered = {option.value for option in spec.fields[0].options}
    return await form_page(
        request,
        viewer,
        services,
        spec,
        provider_id=provider_id,
        action=request.url.path,
        values={"contract_officer_id": current if current in offered else ""},
    )


@router.post("/providers/{provider_id:int}/officer")
async def officer_submit(
    request: Request,
    provider_id: ProviderId,
    viewer: ProviderManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:
    spec = await _with_choices(services, OFFICER_FORM, optional=False)

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, schemas.ProviderUpdate)
        return await records.update_provider(session, provider_id, data, _context(viewer, services))

    return await submit(
        request,
        viewer,
        services,
        spec,
        form,
        provider_id=provider_id,
        write=write,
        done="The contract officer was changed",
    )


@router.get("/providers/{provider_id:int}/locations/new")
async def location_form(
    request: Request, provider_id: ProviderId, viewer: ProviderManager, services: ServicesDep
) -> Response:
    return await form_page(
        request, viewer, services, LOCATION_FORM, provider_id=provider_id, action=request.url.path
    )


@router.post("/providers/{provider_id:int}/locations/new")
async def location_add(
    request: Request,
    provider_id: ProviderId,
    viewer: ProviderManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        assert isinstance(data, schemas.LocationIn)
        return await records.add_location(session, provider_id, data, _context(viewer, services))

    async def fetched(location: Any) -> str:
        assert isinstance(location, Location) and location.id is not None
        return await _fetch_message(services, location.id, location.cqc_location_id)

    return await submit(
        request,
        viewer,
        services,
        LOCATION_FORM,
        form,
        provider_id=provider_id,
        write=write,
        done="The CQC location was added",
        after=fetched,
    )


async def _fetch_message(services: Services, location_id: int, cqc_location_id: str) -> str:
    """Fetch the new location from CQC now, as the API does, and say what CQC publishes."""
    context = services.cqc_context()
    if context is None:
        return (
            f"CQC location {cqc_location_id} was added. Its rating will be fetched once "
            "CQC polling is switched on"
        )
    try:
        outcome = await refresh_location(context, location_id, cqc_location_id)
    except CqcError:
        return (
            f"CQC location {cqc_location_id} was added. CQC could not be reached, so its "
            "rating will be fetched by the next sync"
        )
    if outcome == "not_found":
        return (
            f"CQC location {cqc_location_id} was added, but CQC does not know this location "
            "ID. Check the ID, and remove the location if it is wrong"
        )
    if outcome == "unreadable":
        return (
            f"CQC location {cqc_location_id} was added. CQC's answer could not be read, so "
            "the next sync will try again"
        )
    async with services.database.sessions() as session:
        location = await session.get(Location, location_id)
    assert location is not None
    name = location.name or cqc_location_id
    if location.overall_rating is None:
        return f"{name} ({cqc_location_id}) was added. CQC has not rated it yet"
    rating = str(location.overall_rating).replace("_", " ")
    rated = location.overall_rated_on
    when = f", rated on {rated.day} {rated:%B %Y}" if rated else ""
    return f"{name} ({cqc_location_id}) was added. CQC rates it {rating}{when}"


async def _location(services: Services, provider_id: int, location_id: int) -> Location:
    async with services.database.sessions() as session:
        location = await session.get(Location, in_range(location_id))
    if location is None or location.provider_id != provider_id:
        raise PageError(404, "Page not found", "This provider has no such CQC location.")
    return location


def _remove_spec(location: Location) -> FormSpec:
    name = location.name or location.cqc_location_id
    return replace(REMOVE_LOCATION_FORM, title=f"Remove {name} from the contract")


@router.get("/providers/{provider_id:int}/locations/{location_id:int}/remove")
async def remove_location_form(
    request: Request,
    provider_id: ProviderId,
    location_id: int,
    viewer: ProviderManager,
    services: ServicesDep,
) -> Response:
    location = await _location(services, provider_id, location_id)
    return await form_page(
        request,
        viewer,
        services,
        _remove_spec(location),
        provider_id=provider_id,
        action=request.url.path,
    )


@router.post("/providers/{provider_id:int}/locations/{location_id:int}/remove")
async def remove_location_submit(
    request: Request,
    provider_id: ProviderId,
    location_id: int,
    viewer: ProviderManager,
    services: ServicesDep,
    form: FormDep,
) -> Response:
    location = await _location(services, provider_id, location_id)

    async def write(session: AsyncSession, data: BaseModel) -> Any:
        await records.remove_location(session, provider_id, location_id, _context(viewer, services))

    return await submit(
        request,
        viewer,
        services,
        _remove_spec(location),
        form,
        provider_id=provider_id,
        write=write,
        done=f"CQC location {location.cqc_location_id} was removed from the contract",
    )
