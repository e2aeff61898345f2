"""The officers' forms: which fields each record's form has, how a submitted form becomes
the same validated input the JSON API takes, and how a validation or domain error becomes
a GOV.UK error message ("Enter the date of the visit") tied to its field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from app.auth.permissions import Permission
from app.inputs import FORM
from app.models.base import (
    ActionStatus,
    ComplaintUpheld,
    FinancialRisk,
    MonitoringLevel,
    VisitKind,
    VisitOutcome,
)
from app.monitoring.plans import ActionIn, ActionUpdate
from app.monitoring.schemas import DeEscalation, PlacementsChange, PlanAgreement
from app.records import schemas

MAX_FIELD_CHARS = 10_000  # a longer field is refused before validation


def humanise(value: str) -> str:
    return value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    hint: str = ""


def choices(enum: type[StrEnum], labels: Mapping[str, str] | None = None) -> tuple[Choice, ...]:
    labels = labels or {}
    return tuple(Choice(item.value, labels.get(item.value, humanise(item.value))) for item in enum)


YES_NO_UNKNOWN = (Choice("yes", "Yes"), Choice("no", "No"), Choice("", "Not known"))


@dataclass(frozen=True)
class Field:
    """One form field. kind: date, text, textarea, radios, select, checkbox or tristate."""

    name: str
    label: str
    kind: str = "text"
    hint: str = ""
    options: tuple[Choice, ...] = ()
    required: bool = True
    width: str = ""  # a GOV.UK input width class suffix, e.g. "20"

    @property
    def anchor(self) -> str:
        """The id the error summary links to (the first radio for a radio group)."""
        return f"{self.name}-0" if self.kind in ("radios", "tristate") else self.name


@dataclass(frozen=True)
class FormSpec:
    kind: str
    title: str
    noun: str
    schema: type[BaseModel]
    fields: tuple[Field, ...]
    permission: Permission = Permission.write_records
    submit: str = "Save"
    intro: str = ""
    audited: bool = False  # a safeguarding: its creation goes on the access audit trail

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass
class FormErrors:
    """Field name → message, in the order of the form."""

    messages: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def add(self, name: str, message: str) -> None:
        self.messages.setdefault(name, message)


# The record forms; app/web/records.py pairs each with its service function.
VISIT_FORM = FormSpec(
    kind="visit",
    title="Log a visit or contract meeting",
    noun="visit",
    schema=schemas.VisitIn,
    fields=(
        Field("visited_on", "Date of the visit or meeting", "date"),
        Field("kind", "How it took place", "radios", options=choices(VisitKind)),
        Field("purpose", "Purpose", hint="For example, quarterly contract review"),
        Field(
            "outcome",
            "Outcome",
            "radios",
            options=choices(
                VisitOutcome,
                {"serious_concerns": "Serious concerns", "some_concerns": "Some concerns"},
            ),
        ),
        Field("notes", "Findings", "textarea", required=False),
        Field("follow_up_actions", "Follow-up actions", "textarea", required=False),
    ),
)

SAFEGUARDING_FORM = FormSpec(
    kind="safeguarding",
    title="Record a safeguarding concern",
    noun="safeguarding",
    schema=schemas.SafeguardingIn,
    permission=Permission.write_safeguardings,
    audited=True,
    intro="Do not enter the names of the people the service supports.",
    fields=(
        Field("raised_on", "Date raised", "date"),
        Field(
            "reference",
            "Reference in the safeguarding system",
            hint="For example, SG-2026-0412",
            width="20",
        ),
        Field(
            "category",
            "Category",
            hint="For example, neglect, medication, financial abuse",
            width="20",
        ),
        Field(
            "summary",
            "Summary",
            "textarea",
            hint="What happened, without names. Only safeguarding staff and officers can read it.",
            required=False,
        ),
        Field(
            "whole_service",
            "This concerns the whole service, not one person",
            "checkbox",
            required=False,
        ),
    ),
)

COMPLAINT_FORM = FormSpec(
    kind="complaint",
    title="Record a complaint",
    noun="complaint",
    schema=schemas.ComplaintIn,
    fields=(
        Field("received_on", "Date received", "date"),
        Field("subject", "Subject", hint="What the complaint is about, without names"),
        Field(
            "upheld",
            "Finding",
            "select",
            options=(Choice("", "Not yet decided"), *choices(ComplaintUpheld)),
            required=False,
        ),
    ),
)

COMPLIMENT_FORM = FormSpec(
    kind="compliment",
    title="Record a compliment",
    noun="compliment",
    schema=schemas.ComplimentIn,
    fields=(
        Field("received_on", "Date received", "date"),
        Field("summary", "Summary", "textarea", hint="Without names"),
    ),
)

FINANCIAL_FORM = FormSpec(
    kind="financial",
    title="Record a financial check",
    noun="financial check",
    schema=schemas.FinancialAssuranceIn,
    fields=(
        Field("assessed_on", "Date assessed", "date"),
        Field("risk", "Financial risk", "radios", options=choices(FinancialRisk)),
        Field(
            "credit_check_passed",
            "Credit check passed",
            "tristate",
            options=YES_NO_UNKNOWN,
            required=False,
        ),
        Field(
            "accounts_filed_on_time",
            "Accounts filed on time",
            "tristate",
            options=YES_NO_UNKNOWN,
            required=False,
        ),
        Field("insurance_expires_on", "Insurance expires", "date", required=False),
        Field("next_review_on", "Next review due", "date", required=False),
        Field("notes", "Notes", "textarea", required=False),
    ),
)

CONCERN_FORM = FormSpec(
    kind="concern",
    title="Raise a concern",
    noun="concern",
    schema=schemas.ConcernIn,
    fields=(
        Field("raised_on", "Date raised", "date"),
        Field(
            "raised_by",
            "Raised by",
            hint="A role or organisation, for example district nurse",
            required=False,
            width="20",
        ),
        Field("description", "Description", "textarea", hint="Without names"),
        Field(
            "whole_service",
            "This is a whole-service concern",
            "checkbox",
            hint="A whole-service concern puts the provider into intensive monitoring.",
            required=False,
        ),
    ),
)

ACTION_FORM = FormSpec(
    kind="action",
    title="Add an improvement action",
    noun="improvement action",
    schema=ActionIn,
    fields=(
        Field("issue", "Issue", "textarea"),
        Field("action", "Action", "textarea"),
        Field("owner", "Owner", hint="A role at the provider, for example registered manager"),
        Field("due_on", "Due", "date"),
        Field("evidence", "Evidence so far", "textarea", required=False),
    ),
)

ACTION_UPDATE_FORM = FormSpec(
    kind="action_update",
    title="Update an improvement action",
    noun="improvement action",
    schema=ActionUpdate,
    fields=(
        Field("status", "Status", "select", options=choices(ActionStatus)),
        Field("evidence", "Evidence", "textarea", required=False),
    ),
)

AGREE_FORM = FormSpec(
    kind="agree",
    title="Mark the improvement plan agreed",
    noun="plan",
    schema=PlanAgreement,
    fields=(Field("agreed_on", "Date agreed", "date"),),
)

REASON = Field("reason", "Reason", "textarea", hint="At least 5 characters; it is kept on record")

DE_ESCALATE_FORM = FormSpec(
    kind="de_escalate",
    title="Step down monitoring",
    noun="step-down",
    schema=DeEscalation,
    permission=Permission.manage_monitoring,
    fields=(
        Field("to", "New level", "radios", options=choices(MonitoringLevel)),
        REASON,
        Field(
            "override",
            "Step down even though rules still fire",
            "checkbox",
            required=False,
        ),
    ),
)

PLACEMENTS_FORM = FormSpec(
    kind="placements",
    title="Suspend or lift new placements",
    noun="placements decision",
    schema=PlacementsChange,
    permission=Permission.manage_monitoring,
    fields=(
        Field(
            "suspended",
            "New placements",
            "radios",
            options=(Choice("true", "Suspend"), Choice("false", "Lift the suspension")),
        ),
        REASON,
    ),
)


def form_values(spec: FormSpec, form: Mapping[str, Any]) -> dict[str, str]:
    """The submitted strings, for redisplaying the form (CSRF token excluded)."""
    values: dict[str, str] = {}
    for item in spec.fields:
        raw = form.get(item.name)
        values[item.name] = raw.strip()[:MAX_FIELD_CHARS] if isinstance(raw, str) else ""
    return values


def parse(spec: FormSpec, values: Mapping[str, str]) -> tuple[BaseModel | None, FormErrors]:
    """Turn the form's strings into the schema's input, or name what is wrong."""
    data: dict[str, Any] = {}
    for item in spec.fields:
        raw = values.get(item.name, "")
        if item.kind == "checkbox":
            data[item.name] = raw in ("yes", "true", "on")
        elif item.kind == "tristate":
            data[item.name] = {"yes": True, "no": False}.get(raw)
        elif raw != "":
            data[item.name] = raw
        elif item.required:
            data[item.name] = None  # so the schema reports it missing, with the others
    errors = FormErrors()
    try:
        return spec.schema.model_validate(data, context=FORM), errors
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            field_spec = spec.field(name)
            if field_spec is None:
                continue
            errors.add(name, message_for(field_spec, problem, values.get(name, "")))
        return None, errors


def message_for(item: Field, problem: Mapping[str, Any], raw: str) -> str:
    kind = str(problem.get("type", ""))
    label = item.label
    lowered = label[0].lower() + label[1:]
    context = problem.get("ctx") or {}
    if raw == "" and item.kind in ("radios", "select", "tristate"):
        return f"Select {lowered}"
    if raw == "":
        return f"Enter {lowered}"
    if item.kind == "date" or kind.startswith("date"):
        return f"{label} must be a real date, like 2026-11-20"
    if kind == "string_too_long":
        return f"{label} must be {context.get('max_length')} characters or fewer"
    if kind == "string_too_short":
        return f"{label} must be at least {context.get('min_length')} characters"
    if kind in ("enum", "literal_error"):
        return f"Select {lowered} from the list"
    return f"{label}: {problem.get('msg', 'is not valid')}"


def domain_message(spec: FormSpec, field_name: str, message: str) -> tuple[str, str]:
    """A service's refusal (a date in the future, a closed case) against its field."""
    item = spec.field(field_name)
    if item is None:
        return (spec.fields[0].name, message[0].upper() + message[1:])
    return (item.name, f"{item.label} {message}")
