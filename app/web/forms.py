"""The officers' forms: which fields each record's form has, how a submitted form becomes
the same validated input the JSON API takes, and how a validation or domain error becomes
a GOV.UK error message ("Enter date raised", "Date of the visit must include a month")
tied to its field. Dates are GOV.UK date inputs: `<name>-day`, `<name>-month` and
`<name>-year`. Nothing typed is ever cut short: text over its limit is an error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from app.auth.permissions import Permission
from app.inputs import DATE_FLOOR, FORM
from app.models.base import (
    LEVEL_RANK,
    ActionStatus,
    ComplaintUpheld,
    FinancialRisk,
    MonitoringLevel,
    RiskOutcome,
    SafeguardingCategory,
    SafeguardingOutcome,
    VisitKind,
    VisitOutcome,
)
from app.monitoring.plans import ActionIn, ActionUpdate
from app.monitoring.schemas import DeEscalation, PlacementsChange, PlanAgreement, PlanClosure
from app.records import schemas

DATE_PARTS = ("day", "month", "year")


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
    """One form field. kind: date, text, textarea, lines (a textarea read as a list, one
    item a line), password, radios, select, checkbox, checkboxes (several chosen from
    the options, read as a list) or tristate."""

    name: str
    label: str
    kind: str = "text"
    hint: str = ""
    options: tuple[Choice, ...] = ()
    required: bool = True
    width: str = ""  # a GOV.UK input width class suffix, e.g. "20"
    not_future: bool = False  # a date that must be today or in the past

    @property
    def anchor(self) -> str:
        """The id the error summary links to (the first radio for a radio group, the day
        of a date)."""
        if self.kind in ("radios", "tristate"):
            return f"{self.name}-0"
        return f"{self.name}-day" if self.kind == "date" else self.name

    @property
    def lowered(self) -> str:
        return self.label[0].lower() + self.label[1:]

    def date_example(self, today: date) -> str:
        """The hint's example date: in the past for a date that cannot be in the future."""
        example = today - timedelta(days=23) if self.not_future else today + timedelta(days=23)
        return f"For example, {example.day} {example.month} {example.year}"


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
    # Values the form sends without asking (closing a complaint: status closed).
    fixed: tuple[tuple[str, Any], ...] = ()
    # A correction: an optional field left empty empties it (on a new record it is left out).
    blank_clears: bool = False

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass
class FormErrors:
    """Field name → message, in the order of the form; for a date, which of its day, month
    and year are wrong (all three unless said)."""

    messages: dict[str, str] = field(default_factory=dict)
    date_parts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def add(self, name: str, message: str, parts: tuple[str, ...] = ()) -> None:
        if name in self.messages:
            return
        self.messages[name] = message
        if parts:
            self.date_parts[name] = parts

    def wrong_parts(self, name: str) -> tuple[str, ...]:
        """The parts of a date field to highlight."""
        if name not in self.messages:
            return ()
        return self.date_parts.get(name, DATE_PARTS)

    def target(self, name: str, item: Field | None) -> str:
        """The id the error summary links to: the first input with the error."""
        if item is None:
            return name
        if item.kind == "date":
            return f"{name}-{self.wrong_parts(name)[0]}"
        return item.anchor

    def in_order_of(self, spec: FormSpec) -> None:
        order = {item.name: index for index, item in enumerate(spec.fields)}
        self.messages = dict(
            sorted(self.messages.items(), key=lambda pair: order.get(pair[0], len(order)))
        )


SAFEGUARDING_CATEGORIES = choices(
    SafeguardingCategory,
    {
        "financial_or_material": "Financial or material",
        "neglect": "Neglect and acts of omission",
        "self_neglect": "Self-neglect",
    },
)

# The record forms; app/web/records.py pairs each with its service function.
VISIT_FORM = FormSpec(
    kind="visit",
    title="Log a visit or contract meeting",
    noun="visit",
    schema=schemas.VisitIn,
    fields=(
        Field("visited_on", "Date of the visit", "date", not_future=True),
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
        Field("raised_on", "Date raised", "date", not_future=True),
        Field(
            "reference",
            "Reference in the safeguarding system",
            hint="For example, SG-2026-0412",
            width="20",
        ),
        Field(
            "category",
            "Category",
            "select",
            hint="The type of abuse or neglect, as the Care Act 2014 guidance names them",
            options=(Choice("", "Choose a category"), *SAFEGUARDING_CATEGORIES),
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
        Field("received_on", "Date received", "date", not_future=True),
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
        Field("received_on", "Date received", "date", not_future=True),
        Field("summary", "Summary", "textarea", hint="Without names"),
    ),
)

FINANCIAL_FORM = FormSpec(
    kind="financial",
    title="Record a financial check",
    noun="financial check",
    schema=schemas.FinancialAssuranceIn,
    fields=(
        Field("assessed_on", "Date assessed", "date", not_future=True),
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
    permission=Permission.write_safeguardings,  # as the API's permission table says
    fields=(
        Field("raised_on", "Date raised", "date", not_future=True),
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

# The forms of a record's own page; app/web/records.py pairs each with its service function.
UPHELD_LABELS = {"upheld": "Upheld", "partly_upheld": "Partly upheld", "not_upheld": "Not upheld"}

SAFEGUARDING_ENQUIRY_FORM = FormSpec(
    kind="enquiry",
    title="Record the Section 42 enquiry",
    noun="safeguarding",
    schema=schemas.SafeguardingUpdate,
    permission=Permission.write_safeguardings,
    audited=True,
    fixed=(("status", "enquiry"),),
    submit="Save the enquiry",
    fields=(Field("enquiry_started_on", "Date the enquiry started", "date", not_future=True),),
)

SAFEGUARDING_CLOSE_FORM = FormSpec(
    kind="close",
    title="Close the safeguarding",
    noun="safeguarding",
    schema=schemas.SafeguardingUpdate,
    permission=Permission.write_safeguardings,
    audited=True,
    fixed=(("status", "closed"),),
    submit="Close the safeguarding",
    fields=(
        Field(
            "outcome",
            "Outcome",
            "radios",
            options=choices(SafeguardingOutcome),
        ),
        Field(
            "risk_outcome",
            "Risk outcome",
            "radios",
            hint="What is left of the risk. Not needed when the concern was withdrawn",
            options=choices(RiskOutcome),
            required=False,
        ),
        Field("closed_on", "Date closed", "date", not_future=True),
    ),
)

SAFEGUARDING_CORRECT_FORM = FormSpec(
    kind="correct",
    title="Correct the safeguarding",
    noun="safeguarding",
    schema=schemas.SafeguardingUpdate,
    permission=Permission.write_safeguardings,
    audited=True,
    blank_clears=True,
    intro="Do not enter the names of the people the service supports.",
    submit="Save the correction",
    fields=tuple(
        item
        for item in SAFEGUARDING_FORM.fields
        if item.name in ("raised_on", "reference", "category", "summary", "whole_service")
    ),
)

COMPLAINT_CLOSE_FORM = FormSpec(
    kind="close",
    title="Record the finding and close the complaint",
    noun="complaint",
    schema=schemas.ComplaintUpdate,
    fixed=(("status", "closed"),),
    submit="Close the complaint",
    fields=(
        Field("upheld", "Finding", "radios", options=choices(ComplaintUpheld, UPHELD_LABELS)),
        Field("closed_on", "Date closed", "date", not_future=True),
    ),
)

COMPLAINT_CORRECT_FORM = FormSpec(
    kind="correct",
    title="Correct the complaint",
    noun="complaint",
    schema=schemas.ComplaintUpdate,
    blank_clears=True,
    submit="Save the correction",
    fields=COMPLAINT_FORM.fields[:2],
)

CONCERN_RESOLVE_FORM = FormSpec(
    kind="resolve",
    title="Resolve the concern",
    noun="concern",
    schema=schemas.ConcernUpdate,
    permission=Permission.write_safeguardings,
    fixed=(("status", "closed"),),
    submit="Resolve the concern",
    fields=(
        Field(
            "outcome",
            "How it was resolved",
            "textarea",
            hint="What was done and what was checked, without names",
        ),
        Field("closed_on", "Date resolved", "date", not_future=True),
    ),
)

CONCERN_CORRECT_FORM = FormSpec(
    kind="correct",
    title="Correct the concern",
    noun="concern",
    schema=schemas.ConcernUpdate,
    permission=Permission.write_safeguardings,
    blank_clears=True,
    submit="Save the correction",
    fields=CONCERN_FORM.fields,
)

VISIT_CORRECT_FORM = FormSpec(
    kind="correct",
    title="Correct the visit",
    noun="visit",
    schema=schemas.VisitUpdate,
    blank_clears=True,
    submit="Save the correction",
    fields=tuple(
        Field(item.name, "Follow-up notes", item.kind, required=False)
        if item.name == "follow_up_actions"
        else item
        for item in VISIT_FORM.fields
    ),
)

COMPLIMENT_CORRECT_FORM = FormSpec(
    kind="correct",
    title="Correct the compliment",
    noun="compliment",
    schema=schemas.ComplimentUpdate,
    blank_clears=True,
    submit="Save the correction",
    fields=COMPLIMENT_FORM.fields,
)

FINANCIAL_CORRECT_FORM = FormSpec(
    kind="correct",
    title="Correct the financial check",
    noun="financial check",
    schema=schemas.FinancialAssuranceUpdate,
    blank_clears=True,
    submit="Save the correction",
    fields=FINANCIAL_FORM.fields,
)


def reopen_form(
    noun: str, schema: type[BaseModel], *, permission: Permission, audited: bool = False
) -> FormSpec:
    """Re-open a closed record: its status back to open, through the same update as the
    API's; its closing date (and a safeguarding's outcomes) are cleared by the service."""
    return FormSpec(
        kind="reopen",
        title=f"Re-open the {noun}",
        noun=noun,
        schema=schema,
        permission=permission,
        audited=audited,
        fixed=(("status", "open"),),
        intro=f"The {noun} becomes open again; its closing date and outcome are cleared. "
        "The change history keeps what they were.",
        fields=(),
        submit=f"Re-open the {noun}",
    )


SAFEGUARDING_REOPEN_FORM = reopen_form(
    "safeguarding",
    schemas.SafeguardingUpdate,
    permission=Permission.write_safeguardings,
    audited=True,
)
COMPLAINT_REOPEN_FORM = reopen_form(
    "complaint", schemas.ComplaintUpdate, permission=Permission.write_records
)
CONCERN_REOPEN_FORM = reopen_form(
    "concern", schemas.ConcernUpdate, permission=Permission.write_safeguardings
)

ENTERED_IN_ERROR_FORM = FormSpec(
    kind="entered-in-error",
    title="Mark as entered in error",
    noun="record",
    schema=schemas.EnteredInError,
    submit="Mark as entered in error",
    intro="The record stays on file, struck through, and no rule counts it. It cannot be"
    " changed after.",
    fields=(
        Field(
            "reason",
            "Why it was entered in error",
            "textarea",
            hint="At least 5 characters, for example: logged against the wrong provider",
        ),
    ),
)

VISIT_ACTION_FORM = FormSpec(
    kind="visit-action",
    title="Add a follow-up action",
    noun="follow-up action",
    schema=schemas.VisitActionIn,
    submit="Add the action",
    fields=(
        Field("action", "What is to be done", "textarea"),
        Field("owner", "Owner", hint="A role at the provider, for example registered manager"),
        Field("due_on", "Due", "date"),
        Field("evidence", "Evidence so far", "textarea", required=False),
    ),
)

VISIT_ACTION_UPDATE_FORM = FormSpec(
    kind="visit-action-update",
    title="Update the follow-up action",
    noun="follow-up action",
    schema=schemas.VisitActionUpdate,
    blank_clears=True,
    submit="Save the action",
    fields=(
        Field("action", "What is to be done", "textarea"),
        Field("owner", "Owner", hint="A role at the provider, for example registered manager"),
        Field("due_on", "Due", "date"),
        Field("done", "This action is done", "checkbox", required=False),
        Field("evidence", "Evidence", "textarea", required=False),
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

PLAN_CLOSE_FORM = FormSpec(
    kind="plan_close",
    title="Close the improvement plan",
    noun="plan",
    schema=PlanClosure,
    permission=Permission.manage_monitoring,
    intro="Its actions stay on record with it, in the provider's plan history.",
    fields=(
        Field(
            "reason",
            "Reason",
            "textarea",
            hint="Why the plan can close with actions still open. At least 5 characters",
        ),
    ),
    submit="Close the plan",
)

AGREE_FORM = FormSpec(
    kind="agree",
    title="Mark the improvement plan agreed",
    noun="plan",
    schema=PlanAgreement,
    fields=(
        Field("agreed_on", "Date the plan was agreed with the provider", "date", not_future=True),
    ),
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
        Field(
            "reason",
            "Your reason for stepping down, as the manager",
            "textarea",
            hint="Your decision, kept on record with your name; the evidence stays on the "
            "provider's page. At least 5 characters.",
        ),
        Field(
            "override",
            "Step down although the evidence for closer monitoring still holds",
            "checkbox",
            required=False,
        ),
    ),
)


def de_escalate_form(current: MonitoringLevel) -> FormSpec:
    """The step-down form for a provider at `current`: it offers only the levels below."""
    below = [level for level in MonitoringLevel if LEVEL_RANK[level] < LEVEL_RANK[current]]
    levels = Field(
        "to",
        "New level",
        "radios",
        options=tuple(Choice(level.value, f"{level.value.title()} monitoring") for level in below),
    )
    return replace(DE_ESCALATE_FORM, fields=(levels, *DE_ESCALATE_FORM.fields[1:]))


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


def date_values(name: str, value: date) -> dict[str, str]:
    """A date as the three inputs of its GOV.UK date input."""
    return {
        f"{name}-day": str(value.day),
        f"{name}-month": str(value.month),
        f"{name}-year": str(value.year),
    }


def form_values(spec: FormSpec, form: Mapping[str, Any]) -> dict[str, str]:
    """The submitted strings, whole, for redisplaying the form (CSRF token excluded)."""
    values: dict[str, str] = {}
    for item in spec.fields:
        names = (
            [f"{item.name}-{part}" for part in DATE_PARTS] if item.kind == "date" else [item.name]
        )
        for name in names:
            raw = form.get(name)
            values[name] = raw.strip() if isinstance(raw, str) else ""
    return values


@dataclass(frozen=True)
class DateProblem:
    message: str
    parts: tuple[str, ...] = DATE_PARTS


def parse_date(item: Field, values: Mapping[str, str], today: date) -> date | DateProblem | None:
    """A GOV.UK date input's three parts as a date, or what is wrong with them, in
    GOV.UK's words; None when an optional date is left empty."""
    parts = {part: values.get(f"{item.name}-{part}", "") for part in DATE_PARTS}
    missing = tuple(part for part in DATE_PARTS if not parts[part])
    if len(missing) == len(DATE_PARTS):
        return DateProblem(f"Enter {item.lowered}") if item.required else None
    if missing:
        return DateProblem(f"{item.label} must include a {' and '.join(missing)}", missing)
    numbers = {
        part: int(text) if text.isascii() and text.isdigit() else 0 for part, text in parts.items()
    }
    wrong = tuple(
        part
        for part, low, high in (("day", 1, 31), ("month", 1, 12), ("year", 1000, 9999))
        if not low <= numbers[part] <= high
    )
    if wrong:
        return DateProblem(f"{item.label} must be a real date", wrong)
    try:
        value = date(numbers["year"], numbers["month"], numbers["day"])
    except ValueError:  # 31 April, 29 February outside a leap year
        return DateProblem(f"{item.label} must be a real date")
    if value < DATE_FLOOR:  # the API's floor too: an earlier date is a typing slip
        floor = f"{DATE_FLOOR.day} {DATE_FLOOR:%B %Y}"
        return DateProblem(f"{item.label} must be the same as or after {floor}")
    if item.not_future and value > today:
        return DateProblem(f"{item.label} must be today or in the past")
    return value


def parse(
    spec: FormSpec, values: Mapping[str, str], today: date
) -> tuple[BaseModel | None, FormErrors]:
    """Turn the form's strings into the schema's input, or name everything that is wrong."""
    data: dict[str, Any] = dict(spec.fixed)
    errors = FormErrors()
    for item in spec.fields:
        raw = values.get(item.name, "")
        if item.kind == "date":
            parsed = parse_date(item, values, today)
            if isinstance(parsed, DateProblem):
                errors.add(item.name, parsed.message, parsed.parts)
            elif parsed is not None or spec.blank_clears:
                data[item.name] = parsed
        elif item.kind == "checkbox":
            data[item.name] = raw in ("yes", "true", "on")
        elif item.kind == "tristate":
            data[item.name] = {"yes": True, "no": False}.get(raw)
        elif item.kind == "lines":
            data[item.name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif item.kind == "checkboxes":
            # Each box's value is a record's id; a name (from a client that posts names,
            # as the API accepts) passes through for the schema to check.
            data[item.name] = [
                int(line) if line.isascii() and line.isdigit() else line
                for line in (line.strip() for line in raw.splitlines())
                if line
            ]
        elif raw != "":
            data[item.name] = raw
        elif spec.blank_clears and not item.required and item.kind in ("text", "textarea"):
            data[item.name] = ""
        elif item.required:
            data[item.name] = None  # so the schema reports it missing, with the others
    try:
        validated = spec.schema.model_validate(data, context=FORM)
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            field_spec = spec.field(name)
            if field_spec is None:
                continue
            errors.add(name, message_for(field_spec, problem, values.get(name, "")))
        validated = None
    errors.in_order_of(spec)
    return (None if errors else validated), errors


def message_for(item: Field, problem: Mapping[str, Any], raw: str) -> str:
    kind = str(problem.get("type", ""))
    label = item.label
    context = problem.get("ctx") or {}
    if raw == "" and item.kind in ("radios", "select", "tristate"):
        return f"Select {item.lowered}"
    if raw == "":
        return f"Enter {item.lowered}"
    if kind == "string_too_long":
        return f"{label} must be {context.get('max_length', 0):,} characters or fewer"
    if kind == "string_too_short":
        return f"{label} must be at least {context.get('min_length', 0):,} characters"
    if kind in ("enum", "literal_error"):
        return f"Select {item.lowered} from the list"
    return f"{label}: {problem.get('msg', 'is not valid')}"


def domain_message(spec: FormSpec, field_name: str, message: str) -> tuple[str, str]:
    """A service's refusal (a date in the future, a closed case) against its field."""
    # "localities.2": the third of a list field's values is the field's problem.
    item = spec.field(field_name) or spec.field(field_name.split(".", 1)[0])
    if item is None:
        return (spec.fields[0].name, message[0].upper() + message[1:])
    if message == "cannot be in the future":  # the service's words for the rule GOV.UK words so
        return (item.name, f"{item.label} must be today or in the past")
    choosing = item.kind in ("radios", "select", "tristate", "checkboxes")
    if message == "cannot be null":
        return (item.name, f"{'Select' if choosing else 'Enter'} {item.lowered}")
    if message.startswith("no active user with id"):
        return (item.name, f"Select {item.lowered} from the list: that account is not active")
    if message.startswith("no locality "):
        return (item.name, f"Select {item.lowered} from the council’s list")
    words = _in_form_words(spec, message)
    if words.startswith(_PREDICATES):  # "must be ...": said of the field
        return (item.name, f"{item.label} {words}")
    return (item.name, words[0].upper() + words[1:])  # a sentence of its own


# How a service's refusal that is said of its field begins ("must be an officer").
_PREDICATES = ("must ", "is ", "cannot ", "can ", "needs ")


_FIELD_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _in_form_words(spec: FormSpec, message: str) -> str:
    """A service message with the fields it names ("cannot be more than visits_planned")
    called by the form's labels ("cannot be more than visits planned")."""

    def label(match: re.Match[str]) -> str:
        named = spec.field(match[0])
        return named.lowered if named is not None else match[0].replace("_", " ")

    return _FIELD_NAME.sub(label, message)
