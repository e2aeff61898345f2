"""Validated inputs of the write path, shared by the JSON API and the web forms.

Unknown fields are refused (extra="forbid"); text must be storable and dates no earlier
than the floor (app.inputs); an update's fields may be left out but not set to null
unless the column may be empty. Rules that need the clock or the database (dates in the
future, a provider that exists) are checked by the service functions.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from app.inputs import Flag, Numeric, Omissible, RecordDate, Storable, drop_null_defaults, limits
from app.models.base import (
    CaseStatus,
    ComplaintUpheld,
    ContractType,
    FinancialRisk,
    PartnerRole,
    Rating,
    RiskOutcome,
    SafeguardingCategory,
    SafeguardingOutcome,
    SafeguardingStatus,
    VisitKind,
    VisitOutcome,
)

MAX_ID = 2_147_483_647  # ids are 32-bit integers on PostgreSQL
Locality = Storable[Annotated[str, limits(1, 100)]]
_LOCALITY_NAME: TypeAdapter[str] = TypeAdapter(Locality)


def _locality_ref(value: Any) -> int | str:
    """A locality by id (a JSON integer) or by name; one error naming the item, not one
    per branch of a union."""
    if isinstance(value, float) and value.is_integer():
        # JSON's 12.0 is the integer 12: an id, as every other id field takes it.
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_ID:
            raise PydanticCustomError(
                "locality_id", "must be a locality id from 1 to {high}", {"high": MAX_ID}
            )
        return value
    if isinstance(value, str):
        try:
            return _LOCALITY_NAME.validate_python(value)
        except ValidationError as error:
            first = error.errors()[0]
            if first["type"] in ("string_too_long", "string_too_short"):
                # Kept as the string's own error, with its limit, so that a form can say
                # "must be 100 characters or fewer" as it does for any other text.
                raise PydanticCustomError(
                    first["type"], first["msg"], dict(first.get("ctx") or {})
                ) from None
            problem = first["msg"].removeprefix("Value error, ")
            raise PydanticCustomError("locality_name", "{problem}", {"problem": problem}) from None
    raise PydanticCustomError("locality_ref", "must be a locality's id or name")


# A provider's localities are chosen from the council's list, each by id or by name.
LocalityRef = Annotated[
    int | str,
    PlainValidator(_locality_ref),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                _LOCALITY_NAME.json_schema(),
            ],
            "description": "a locality on the council's list, by id or by name",
        }
    ),
]
Localities = Annotated[list[LocalityRef], Field(max_length=20)]
CqcId = Storable[Annotated[str, StringConstraints(pattern=r"^1-\d{1,15}$")]]
ProviderName = Storable[Annotated[str, limits(1, 200)]]
UserId = Numeric[Annotated[int, Field(ge=1, le=MAX_ID)]]
WeeklyHours = Numeric[Annotated[float, Field(ge=0, le=100000)]]
People = Numeric[Annotated[int, Field(ge=0, le=100000)]]
Reference = Storable[Annotated[str, limits(1, 50)]]
Purpose = Storable[Annotated[str, limits(1, 500)]]
Subject = Storable[Annotated[str, limits(1, 500)]]
Description = Storable[Annotated[str, limits(1, 5000)]]
Praise = Storable[Annotated[str, limits(1, 2000)]]
Summary = Storable[Annotated[str, limits(max_length=5000)]]
Notes = Storable[Annotated[str, limits(max_length=10000)]]
Name = Storable[Annotated[str, limits(max_length=200)]]
Postcode = Storable[Annotated[str, limits(max_length=12)]]
Resolution = Storable[Annotated[str, limits(max_length=2000)]]
Reason = Storable[Annotated[str, limits(5, 1000)]]
ActionText = Storable[Annotated[str, limits(1, 2000)]]
Owner = Storable[Annotated[str, limits(1, 200)]]
ReportUrl = Storable[Annotated[str, limits(max_length=300, prefix="https://")]]


class Input(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=drop_null_defaults
    )


class ProviderIn(Input):
    name: ProviderName
    cqc_provider_id: CqcId | None = None
    contract_type: ContractType = ContractType.spot
    partner_role: PartnerRole | None = None
    localities: Localities = Field(default_factory=list)
    contract_officer_id: UserId | None = None
    weekly_hours: WeeklyHours = 0
    people_supported: People | None = None


class ProviderUpdate(Input):
    """Only the fields given change; null empties a field that may be empty."""

    name: Omissible[ProviderName] = None
    cqc_provider_id: CqcId | None = None
    contract_type: Omissible[ContractType] = None
    partner_role: PartnerRole | None = None
    localities: Omissible[Localities] = None
    contract_officer_id: UserId | None = None
    weekly_hours: Omissible[WeeklyHours] = None
    people_supported: People | None = None


class LocationIn(Input):
    cqc_location_id: CqcId
    name: Name | None = None
    postcode: Postcode | None = None


class KeyQuestionRatings(Input):
    safe: Rating | None = None
    effective: Rating | None = None
    caring: Rating | None = None
    responsive: Rating | None = None
    well_led: Rating | None = None


class RatingIn(Input):
    """A CQC rating keyed in by hand (when polling is off or CQC is late)."""

    cqc_location_id: CqcId
    overall: Rating
    rated_on: RecordDate
    key_questions: KeyQuestionRatings = Field(default_factory=KeyQuestionRatings)
    report_url: ReportUrl | None = None


class VisitIn(Input):
    visited_on: RecordDate
    kind: VisitKind
    purpose: Purpose
    outcome: VisitOutcome
    notes: Notes = ""
    follow_up_actions: Summary = ""
    officer_id: UserId | None = None


class VisitUpdate(Input):
    """A correction: only the fields given change."""

    visited_on: Omissible[RecordDate] = None
    kind: Omissible[VisitKind] = None
    purpose: Omissible[Purpose] = None
    outcome: Omissible[VisitOutcome] = None
    notes: Omissible[Notes] = None
    follow_up_actions: Omissible[Summary] = None
    officer_id: Omissible[UserId] = None


class VisitActionIn(Input):
    """A follow-up action agreed at a visit."""

    action: ActionText
    owner: Owner
    due_on: RecordDate
    evidence: Summary = ""


class VisitActionUpdate(Input):
    """Only the fields given change; marking it done without a date dates it today."""

    action: Omissible[ActionText] = None
    owner: Omissible[Owner] = None
    due_on: Omissible[RecordDate] = None
    done: Omissible[Flag] = None
    done_on: RecordDate | None = None
    evidence: Omissible[Summary] = None


class SafeguardingIn(Input):
    raised_on: RecordDate
    category: SafeguardingCategory
    reference: Reference
    summary: Summary = ""
    whole_service: Flag = False
    status: SafeguardingStatus = SafeguardingStatus.open
    enquiry_started_on: RecordDate | None = None


class SafeguardingUpdate(Input):
    """Only the fields given change; null empties an outcome or a date. Moving to
    enquiry dates the Section 42 enquiry today unless a date is given; closing needs the
    outcome, and the risk outcome unless the concern was withdrawn."""

    status: Omissible[SafeguardingStatus] = None
    enquiry_started_on: RecordDate | None = None
    outcome: SafeguardingOutcome | None = None
    risk_outcome: RiskOutcome | None = None
    closed_on: RecordDate | None = None
    category: Omissible[SafeguardingCategory] = None
    reference: Omissible[Reference] = None
    raised_on: Omissible[RecordDate] = None
    summary: Omissible[Summary] = None
    whole_service: Omissible[Flag] = None


class ComplaintIn(Input):
    received_on: RecordDate
    subject: Subject
    upheld: ComplaintUpheld | None = None
    status: CaseStatus = CaseStatus.open
    closed_on: RecordDate | None = None


class ComplaintUpdate(Input):
    """Only the fields given change; null empties the finding or the closing date.
    Closing needs the finding."""

    status: Omissible[CaseStatus] = None
    upheld: ComplaintUpheld | None = None
    closed_on: RecordDate | None = None
    received_on: Omissible[RecordDate] = None
    subject: Omissible[Subject] = None


class ComplimentIn(Input):
    received_on: RecordDate
    summary: Praise


class ComplimentUpdate(Input):
    """A correction: only the fields given change."""

    received_on: Omissible[RecordDate] = None
    summary: Omissible[Praise] = None


class FinancialAssuranceIn(Input):
    assessed_on: RecordDate
    risk: FinancialRisk
    credit_check_passed: Flag | None = None
    accounts_filed_on_time: Flag | None = None
    insurance_expires_on: RecordDate | None = None
    next_review_on: RecordDate | None = None
    notes: Summary = ""


class FinancialAssuranceUpdate(Input):
    """A correction: only the fields given change; null empties an optional field."""

    assessed_on: Omissible[RecordDate] = None
    risk: Omissible[FinancialRisk] = None
    credit_check_passed: Flag | None = None
    accounts_filed_on_time: Flag | None = None
    insurance_expires_on: RecordDate | None = None
    next_review_on: RecordDate | None = None
    notes: Omissible[Summary] = None


class ConcernIn(Input):
    raised_on: RecordDate
    description: Description
    raised_by: Name = ""
    whole_service: Flag = False


class ConcernUpdate(Input):
    """Only the fields given change; null empties the closing date. Resolving (closing)
    needs its outcome: how the concern was resolved."""

    status: Omissible[CaseStatus] = None
    outcome: Omissible[Resolution] = None
    closed_on: RecordDate | None = None
    whole_service: Omissible[Flag] = None
    raised_on: Omissible[RecordDate] = None
    raised_by: Omissible[Name] = None
    description: Omissible[Description] = None


class EnteredInError(Input):
    """Marks a record entered in error: it stays on record and no rule counts it."""

    reason: Reason
