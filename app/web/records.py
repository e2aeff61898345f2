"""The record forms under a provider (a visit, a safeguarding, a complaint, a compliment, a
financial check, a concern), each registered from the one table below, pairing its form
with the service function that writes it, as app/api/records.py does for the API; and
each record's own page (/visits/{id}, /safeguardings/{id}, ...) with all its fields, who
recorded it, its history of changes and the forms the viewer's role may use on it
(closing, re-opening, correcting, marking entered in error, a visit's follow-up
actions).

This module does not use postponed annotations: the route factory's parameter types
come from its arguments, and FastAPI must see them as real types."""

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.auth.audit import access_context, add_access_rows, audit_reads
from app.auth.permissions import Permission
from app.clock import long_date
from app.models import (
    Complaint,
    Compliment,
    Concern,
    FinancialAssurance,
    Safeguarding,
    Visit,
    VisitAction,
)
from app.records import dashboard, queries
from app.records import service as records
from app.records.service import WriteContext, WriteResult
from app.web import forms
from app.web.deps import (
    FormDep,
    PageError,
    ProviderId,
    Reader,
    RecordId,
    ServicesDep,
    Viewer,
    render,
    require,
)
from app.web.formpages import Back, form_page, submit
from app.web.forms import FormSpec, humanise
from app.web.sessions import FLASH_COOKIE, codec

router = APIRouter(include_in_schema=False)

CreateFn = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[WriteResult[Any]]]


@dataclass(frozen=True)
class RecordForm:
    spec: FormSpec
    create: CreateFn


RECORD_FORMS: tuple[RecordForm, ...] = (
    RecordForm(forms.VISIT_FORM, records.record_visit),
    RecordForm(forms.SAFEGUARDING_FORM, records.record_safeguarding),
    RecordForm(forms.COMPLAINT_FORM, records.record_complaint),
    RecordForm(forms.COMPLIMENT_FORM, records.record_compliment),
    RecordForm(forms.FINANCIAL_FORM, records.record_financial_assurance),
    RecordForm(forms.CONCERN_FORM, records.record_concern),
)


def _register(entry: RecordForm) -> None:
    spec = entry.spec
    Writer = Annotated[Viewer, Depends(require(spec.permission))]

    async def show(
        request: Request, provider_id: ProviderId, viewer: Writer, services: ServicesDep
    ) -> Response:
        today = services.clock.today()
        defaults: dict[str, str] = {}
        for item in spec.fields:
            if item.kind == "date" and item.required:
                defaults.update(forms.date_values(item.name, today))
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
        viewer: Writer,
        services: ServicesDep,
        form: FormDep,
    ) -> Response:
        context = WriteContext(
            actor=viewer.principal.actor, clock=services.clock, policy=services.policy
        )

        async def write(session: AsyncSession, data: BaseModel) -> Any:
            result = await entry.create(session, provider_id, data, context)
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

        return await submit(
            request,
            viewer,
            services,
            spec,
            form,
            provider_id=provider_id,
            write=write,
            done=f"The {spec.noun} was saved",
        )

    path = f"/providers/{{provider_id:int}}/record/{spec.kind}"
    router.add_api_route(path, show, methods=["GET"], name=f"{spec.kind}_form")
    router.add_api_route(path, save, methods=["POST"], name=f"{spec.kind}_submit")


for _entry in RECORD_FORMS:
    _register(_entry)


# A record's own page ------------------------------------------------------------------

UpdateFn = Callable[[AsyncSession, int, Any, WriteContext], Awaitable[WriteResult[Any]]]
Shown = Callable[[Any], bool]


def _always(_record: Any) -> bool:
    return True


@dataclass(frozen=True)
class RecordAction:
    """A form on a record's page: its spec, the service function it calls, and when it
    applies (a complaint is closed only while open)."""

    spec: FormSpec
    update: UpdateFn
    applies: Shown = _always


@dataclass(frozen=True)
class RecordKind:
    kind: str  # the service's name for it: events, change history
    path: str  # its pages: /visits/{id}
    model: type[SQLModel]
    noun: str
    date_field: str
    date_label: str
    permission: Permission  # who writes it, as the API's permission table says
    actions: tuple[RecordAction, ...]
    rows: tuple[tuple[str, str, str], ...]  # (field, label, how to show it)


def _is_open(record: Any) -> bool:
    return str(record.status) == "open"


def _not_closed(record: Any) -> bool:
    return str(record.status) != "closed"


def _closed(record: Any) -> bool:
    return str(record.status) == "closed"


RECORD_KINDS: tuple[RecordKind, ...] = (
    RecordKind(
        kind="visit",
        path="visits",
        model=Visit,
        noun="visit",
        date_field="visited_on",
        date_label="Visit",
        permission=Permission.write_records,
        actions=(RecordAction(forms.VISIT_CORRECT_FORM, records.update_visit),),
        rows=(
            ("visited_on", "Date of the visit", "date"),
            ("kind", "How it took place", "label"),
            ("officer_id", "Visiting officer", "person"),
            ("purpose", "Purpose", "text"),
            ("outcome", "Outcome", "tag"),
            ("notes", "Findings", "text"),
            ("follow_up_actions", "Follow-up notes", "text"),
        ),
    ),
    RecordKind(
        kind="safeguarding",
        path="safeguardings",
        model=Safeguarding,
        noun="safeguarding",
        date_field="raised_on",
        date_label="Safeguarding raised",
        permission=Permission.write_safeguardings,
        actions=(
            RecordAction(
                forms.SAFEGUARDING_ENQUIRY_FORM,
                records.update_safeguarding,
                _is_open,
            ),
            RecordAction(forms.SAFEGUARDING_CLOSE_FORM, records.update_safeguarding, _not_closed),
            RecordAction(forms.SAFEGUARDING_REOPEN_FORM, records.update_safeguarding, _closed),
            RecordAction(forms.SAFEGUARDING_CORRECT_FORM, records.update_safeguarding),
        ),
        rows=(
            ("reference", "Reference in the safeguarding system", "detail"),
            ("raised_on", "Date raised", "date"),
            ("category", "Category", "category"),
            ("summary", "Summary", "detail"),
            ("whole_service", "About the whole service", "yes_no"),
            ("status", "Status", "tag"),
            ("enquiry_started_on", "Section 42 enquiry started", "date"),
            ("outcome", "Outcome", "label"),
            ("risk_outcome", "Risk outcome", "label"),
            ("closed_on", "Date closed", "date"),
        ),
    ),
    RecordKind(
        kind="complaint",
        path="complaints",
        model=Complaint,
        noun="complaint",
        date_field="received_on",
        date_label="Complaint received",
        permission=Permission.write_records,
        actions=(
            RecordAction(forms.COMPLAINT_CLOSE_FORM, records.update_complaint, _is_open),
            RecordAction(forms.COMPLAINT_REOPEN_FORM, records.update_complaint, _closed),
            RecordAction(forms.COMPLAINT_CORRECT_FORM, records.update_complaint),
        ),
        rows=(
            ("received_on", "Date received", "date"),
            ("subject", "Subject", "text"),
            ("status", "Status", "tag"),
            ("upheld", "Finding", "label"),
            ("closed_on", "Date closed", "date"),
        ),
    ),
    RecordKind(
        kind="compliment",
        path="compliments",
        model=Compliment,
        noun="compliment",
        date_field="received_on",
        date_label="Compliment received",
        permission=Permission.write_records,
        actions=(RecordAction(forms.COMPLIMENT_CORRECT_FORM, records.update_compliment),),
        rows=(("received_on", "Date received", "date"), ("summary", "Summary", "text")),
    ),
    RecordKind(
        kind="financial_assurance",
        path="financial-assurances",
        model=FinancialAssurance,
        noun="financial check",
        date_field="assessed_on",
        date_label="Financial check",
        permission=Permission.write_records,
        actions=(RecordAction(forms.FINANCIAL_CORRECT_FORM, records.update_financial_assurance),),
        rows=(
            ("assessed_on", "Date assessed", "date"),
            ("risk", "Financial risk", "tag"),
            ("credit_check_passed", "Credit check passed", "yes_no"),
            ("accounts_filed_on_time", "Accounts filed on time", "yes_no"),
            ("insurance_expires_on", "Insurance expires", "date"),
            ("next_review_on", "Next review due", "date"),
            ("notes", "Notes", "text"),
        ),
    ),
    RecordKind(
        kind="concern",
        path="concerns",
        model=Concern,
        noun="concern",
        date_field="raised_on",
        date_label="Concern raised",
        permission=Permission.write_safeguardings,
        actions=(
            RecordAction(forms.CONCERN_RESOLVE_FORM, records.update_concern, _is_open),
            RecordAction(forms.CONCERN_REOPEN_FORM, records.update_concern, _closed),
            RecordAction(forms.CONCERN_CORRECT_FORM, records.update_concern),
        ),
        rows=(
            ("raised_on", "Date raised", "date"),
            ("raised_by", "Raised by", "text"),
            ("description", "Description", "text"),
            ("whole_service", "A whole-service concern", "yes_no"),
            ("status", "Status", "resolved"),
            ("outcome", "How it was resolved", "text"),
            ("closed_on", "Date resolved", "date"),
        ),
    ),
)
KIND_BY_MODEL: dict[type[SQLModel], RecordKind] = {k.model: k for k in RECORD_KINDS}
# What a viewer without the safeguarding-detail permission never sees.
SAFEGUARDING_DETAIL = {"reference", "summary", "category", "legacy_category"}
CATEGORY_LABELS = {choice.value: choice.label for choice in forms.SAFEGUARDING_CATEGORIES}
FIELD_LABELS: dict[str, str] = {
    "entered_in_error": "Entered in error",
    "legacy_category": "Category as first recorded",
    "done": "Done",
    "done_on": "Date done",
    "action": "What is to be done",
    "owner": "Owner",
    "due_on": "Due",
    "evidence": "Evidence",
}


def record_path(record: Any) -> str | None:
    """The address of a record's own page (None for what has none)."""
    kind = KIND_BY_MODEL.get(type(record))
    return None if kind is None else f"/{kind.path}/{record.id}"


def _shown_value(field: str, text: str | None, detail: bool, record_type: str) -> str:
    """A value of the change history in officers' words: dates as 1 December 2026."""
    if record_type == "safeguarding" and field in SAFEGUARDING_DETAIL and not detail:
        return "Withheld from your role"
    if text is None or text == "":
        return "Empty"
    if text in ("true", "false"):
        return "Yes" if text == "true" else "No"
    if field == "category":
        return CATEGORY_LABELS.get(text, text)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return long_date(date.fromisoformat(text))
        except ValueError:
            return text
    if field in ("status", "outcome", "risk_outcome", "upheld", "kind", "risk") and (
        text.replace("_", "").isalpha()
    ):
        return humanise(text)
    return text


def _may_mark(viewer: Viewer, kind: RecordKind, record: Any) -> bool:
    """Its author or a manager may mark a record entered in error (the service decides;
    the page offers the form only to them)."""
    if record.entered_in_error_at is not None or not viewer.can(kind.permission):
        return False
    author = record.created_by is not None and record.created_by == viewer.principal.user.id
    return author or viewer.can(Permission.manage_monitoring)


async def _load(services: Any, model: type[SQLModel], record_id: int) -> Any:
    async with services.database.sessions() as session:
        record = await session.get(model, record_id)
    if record is None:
        raise PageError(404, "Page not found", "There is no such record.")
    return record


def _record_title(kind: RecordKind, record: Any) -> str:
    return f"{kind.date_label} {long_date(getattr(record, kind.date_field))}"


def _register_page(kind: RecordKind) -> None:
    async def page(
        request: Request, record_id: RecordId, viewer: Reader, services: ServicesDep
    ) -> Response:
        detail = viewer.can(Permission.read_safeguarding_detail)
        async with services.database.sessions() as session:
            record: Any = await session.get(kind.model, record_id)
            if record is None:
                raise PageError(404, "Page not found", "There is no such record.")
            provider = await queries.get_provider(session, record.provider_id)
            changes = await queries.record_changes(session, kind.kind, [record_id])
            actions = (
                await queries.visit_actions(session, visit_id=record_id)
                if kind.model is Visit
                else []
            )
            action_changes = await queries.record_changes(
                session, "visit_action", [a.id for a in actions if a.id is not None]
            )
            people = {
                record.created_by,
                record.entered_in_error_by,
                getattr(record, "officer_id", 0),
            }
            people |= {c.changed_by for c in [*changes, *action_changes]}
            names = await dashboard.user_names(session, {p for p in people if p})
        if kind.model is Safeguarding:
            await audit_reads(
                request,
                services,
                viewer.principal,
                action="web_page" if detail else "web_page_redacted",
                provider_id=record.provider_id,
                safeguarding_ids=[record.id],
            )
        hidden = kind.model is Safeguarding and not detail
        rows = []
        for field, label, how in kind.rows:
            value = getattr(record, field)
            if hidden and field in SAFEGUARDING_DETAIL:
                how = "withheld"
            rows.append({"field": field, "label": label, "how": how, "value": value})
        if kind.model is Safeguarding and record.legacy_category and not hidden:
            rows.insert(
                3,
                {
                    "field": "legacy_category",
                    "label": "Category as first recorded",
                    "how": "text",
                    "value": record.legacy_category,
                },
            )
        labels = {field: label for field, label, _ in kind.rows} | FIELD_LABELS
        history = [
            {
                "what": labels.get(change.field, humanise(change.field)),
                "before": _shown_value(change.field, change.old_value, detail, change.record_type),
                "after": _shown_value(change.field, change.new_value, detail, change.record_type),
                "by": names.get(change.changed_by or 0, "a scheduled job"),
                "at": change.changed_at,
                "action_id": change.record_id if change.record_type == "visit_action" else None,
            }
            for change in sorted([*changes, *action_changes], key=lambda c: (c.changed_at, c.id))
        ]
        writable = viewer.can(kind.permission) and record.entered_in_error_at is None
        forms_here = [
            {"title": action.spec.title, "url": f"/{kind.path}/{record_id}/{action.spec.kind}"}
            for action in kind.actions
            if writable and action.applies(record)
        ]
        flash = codec(services).load_flash(request.cookies.get(FLASH_COOKIE))
        response = render(
            request,
            "record.html",
            {
                "kind": kind,
                "record": record,
                "title": _record_title(kind, record),
                "provider": provider,
                "rows": rows,
                "hidden": hidden,
                "category_labels": CATEGORY_LABELS,
                "names": names,
                "history": history,
                "forms_here": forms_here,
                "may_mark": _may_mark(viewer, kind, record),
                "writable": writable,
                "visit_actions": actions,
                "flash": flash,
                "today": services.clock.today(),
            },
            viewer=viewer,
        )
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    page.__doc__ = f"A {kind.noun}'s own page."
    router.add_api_route(
        f"/{kind.path}/{{record_id:int}}", page, methods=["GET"], name=f"{kind.kind}_page"
    )
    for action in kind.actions:
        _register_action(kind, action.spec, action.update, action.applies)
    _register_entered_in_error(kind)


def _record_values(spec: FormSpec, record: Any, today: date) -> dict[str, str]:
    """A form's starting values: the record's own (a correction), today for a date the
    record has not got yet (closing today)."""
    values: dict[str, str] = {}
    for item in spec.fields:
        current = getattr(record, item.name, None)
        if item.kind == "date":
            if current is not None:
                values.update(forms.date_values(item.name, current))
            elif item.required:
                values.update(forms.date_values(item.name, today))
        elif item.kind == "checkbox":
            values[item.name] = "yes" if current else ""
        elif item.kind == "tristate":
            values[item.name] = "" if current is None else ("yes" if current else "no")
        elif current is not None:
            values[item.name] = str(getattr(current, "value", current))
    return values


def _register_form(
    *,
    path: str,
    spec: FormSpec,
    model: type[SQLModel],
    load_back: Callable[[Any], Back],
    write_one: Callable[[AsyncSession, int, BaseModel, WriteContext, Viewer], Awaitable[Any]],
    prefill: bool,
    applies: Shown = _always,
    name: str,
    done: str,
) -> None:
    """A form page of one record (GET shows it, POST writes it through the service and
    returns to the record's page), for the roles the spec's permission admits."""
    Writer = Annotated[Viewer, Depends(require(spec.permission))]

    async def show(
        request: Request, record_id: RecordId, viewer: Writer, services: ServicesDep
    ) -> Response:
        record = await _load(services, model, record_id)
        if getattr(record, "entered_in_error_at", None) is not None or not applies(record):
            raise PageError(409, "This cannot be done now", "The record has moved on; go back.")
        if spec.audited:
            await audit_reads(
                request,
                services,
                viewer.principal,
                action="web_page",
                provider_id=record.provider_id,
                safeguarding_ids=[record.id],
            )
        today = services.clock.today()
        values = (
            _record_values(spec, record, today)
            if prefill
            else {
                key: value
                for item in spec.fields
                if item.kind == "date" and item.required
                for key, value in forms.date_values(item.name, today).items()
            }
        )
        return await form_page(
            request,
            viewer,
            services,
            spec,
            provider_id=record.provider_id,
            action=request.url.path,
            values=values,
            back=load_back(record),
        )

    async def save(
        request: Request,
        record_id: RecordId,
        viewer: Writer,
        services: ServicesDep,
        form: FormDep,
    ) -> Response:
        record = await _load(services, model, record_id)
        back = load_back(record)
        context = WriteContext(
            actor=viewer.principal.actor, clock=services.clock, policy=services.policy
        )

        async def write(session: AsyncSession, data: BaseModel) -> Any:
            result = await write_one(session, record_id, data, context, viewer)
            if spec.audited:  # in the write's own transaction: no change without its audit row
                add_access_rows(
                    session,
                    principal=viewer.principal,
                    action="update",
                    provider_id=record.provider_id,
                    safeguarding_ids=[record.id],
                    access=access_context(request),
                    at=services.clock.now(),
                )
            return result

        return await submit(
            request,
            viewer,
            services,
            spec,
            form,
            provider_id=record.provider_id,
            write=write,
            done=done,
            back=back,
            done_url=lambda _result: back.url,
        )

    router.add_api_route(path, show, methods=["GET"], name=f"{name}_form")
    router.add_api_route(path, save, methods=["POST"], name=f"{name}_submit")


def _back_to(kind: RecordKind) -> Callable[[Any], Back]:
    def back(record: Any) -> Back:
        return Back(f"/{kind.path}/{record.id}", f"Back to the {kind.noun}")

    return back


def _register_action(kind: RecordKind, spec: FormSpec, update: UpdateFn, applies: Shown) -> None:
    async def write_one(
        session: AsyncSession, record_id: int, data: BaseModel, ctx: WriteContext, _viewer: Viewer
    ) -> Any:
        return await update(session, record_id, data, ctx)

    _register_form(
        path=f"/{kind.path}/{{record_id:int}}/{spec.kind}",
        spec=dataclasses.replace(spec, permission=kind.permission),
        model=kind.model,
        load_back=_back_to(kind),
        write_one=write_one,
        prefill=spec.kind == "correct",
        applies=applies,
        name=f"{kind.kind}_{spec.kind.replace('-', '_')}",
        done=f"The {kind.noun} was saved",
    )


def _register_entered_in_error(kind: RecordKind) -> None:
    async def write_one(
        session: AsyncSession, record_id: int, data: BaseModel, ctx: WriteContext, viewer: Viewer
    ) -> Any:
        return await records.mark_entered_in_error(
            session,
            kind.kind,
            record_id,
            data,  # type: ignore[arg-type]
            ctx,
            may_mark_others=viewer.can(Permission.manage_monitoring),
        )

    _register_form(
        path=f"/{kind.path}/{{record_id:int}}/entered-in-error",
        spec=dataclasses.replace(
            forms.ENTERED_IN_ERROR_FORM,
            title=f"Mark the {kind.noun} as entered in error",
            noun=kind.noun,
            permission=kind.permission,
            audited=kind.model is Safeguarding,
        ),
        model=kind.model,
        load_back=_back_to(kind),
        write_one=write_one,
        prefill=False,
        name=f"{kind.kind}_entered_in_error",
        done=f"The {kind.noun} was marked as entered in error",
    )


def _register_visit_actions() -> None:
    async def add(
        session: AsyncSession, visit_id: int, data: BaseModel, ctx: WriteContext, _viewer: Viewer
    ) -> Any:
        return await records.add_visit_action(session, visit_id, data, ctx)  # type: ignore[arg-type]

    async def update(
        session: AsyncSession, action_id: int, data: BaseModel, ctx: WriteContext, _viewer: Viewer
    ) -> Any:
        return await records.update_visit_action(session, action_id, data, ctx)  # type: ignore[arg-type]

    visit_kind = KIND_BY_MODEL[Visit]
    _register_form(
        path="/visits/{record_id:int}/actions/new",
        spec=forms.VISIT_ACTION_FORM,
        model=Visit,
        load_back=_back_to(visit_kind),
        write_one=add,
        prefill=False,
        name="visit_action_add",
        done="The follow-up action was added",
    )

    def back_to_visit(action: Any) -> Back:
        return Back(f"/visits/{action.visit_id}", "Back to the visit")

    _register_form(
        path="/visit-actions/{record_id:int}",
        spec=forms.VISIT_ACTION_UPDATE_FORM,
        model=VisitAction,
        load_back=back_to_visit,
        write_one=update,
        prefill=True,
        name="visit_action_update",
        done="The follow-up action was saved",
    )


for _kind in RECORD_KINDS:
    _register_page(_kind)
_register_visit_actions()
