"""The signal catalogue and the rules file (alerts/rules.yaml), validated with pydantic.

Conditions are structured data (`signal`, `op`, `value`, optional `window_days`, nested
under `all` / `any`): nothing is evaluated as code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.config_files import ConfigFileError, describe_errors, load_yaml
from app.models import KpiBand
from app.models.base import FinancialRisk, MonitoringLevel, Rating, VisitOutcome

Kind = Literal["count", "days", "rating", "risk", "outcome", "flag", "band", "percent"]
ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "rating": tuple(r.value for r in Rating),
    "risk": tuple(r.value for r in FinancialRisk),
    "outcome": tuple(o.value for o in VisitOutcome),
    "band": tuple(b.value for b in KpiBand),
}
NUMERIC_OPS = ("==", "!=", ">=", ">", "<=", "<")
CHOICE_OPS = ("==", "!=", "in")


@dataclass(frozen=True)
class SignalSpec:
    name: str
    kind: Kind
    description: str
    windowed: bool = False
    # The evidence in officer words ({value}, and {days} for a windowed signal); the
    # reason's detail names the signal and its value where a signal has none.
    phrase: str | None = None

    def evidence_text(self, value: object, days: int | None) -> str:
        if self.phrase is None:
            return f"{signal_key(self.name, days)} = {value}"
        return self.phrase.format(value=value, days=days)


_SIGNALS = [
    SignalSpec(
        "cqc_worst_overall",
        "rating",
        "Worst current CQC overall rating of the provider's contracted locations.",
    ),
    *(
        SignalSpec(
            f"cqc_worst_{question}",
            "rating",
            f"Worst current CQC '{question.replace('_', '-')}' key-question rating "
            "of the contracted locations.",
        )
        for question in ("safe", "effective", "caring", "responsive", "well_led")
    ),
    SignalSpec(
        "cqc_worst_key_question",
        "rating",
        "Worst rating of any key question at any contracted location.",
    ),
    SignalSpec(
        "cqc_rating_age_days",
        "days",
        "Days since the oldest current overall rating of a contracted location "
        "was published (how stale CQC's view is).",
    ),
    SignalSpec(
        "cqc_downgrades",
        "count",
        "CQC overall ratings that went down, recorded within the window.",
        True,
    ),
    SignalSpec(
        "safeguardings_open", "count", "Safeguardings not yet closed (open or under enquiry)."
    ),
    SignalSpec("safeguardings_raised", "count", "Safeguardings raised within the window.", True),
    SignalSpec(
        "safeguardings_substantiated",
        "count",
        "Safeguardings found substantiated or partly substantiated, concluded "
        "(closed, or raised if no closing date) within the window.",
        True,
    ),
    SignalSpec(
        "whole_service_concerns_open",
        "count",
        "Open concerns plus open safeguardings marked whole-service.",
    ),
    SignalSpec("concerns_open", "count", "Concerns not yet closed."),
    SignalSpec("complaints_received", "count", "Complaints received within the window.", True),
    SignalSpec(
        "complaints_upheld",
        "count",
        "Complaints upheld or partly upheld, received within the window.",
        True,
    ),
    SignalSpec("compliments_received", "count", "Compliments received within the window.", True),
    SignalSpec(
        "financial_risk_latest",
        "risk",
        "Risk of the most recent financial assurance (green, amber, red).",
    ),
    SignalSpec(
        "insurance_expires_in_days",
        "days",
        "Days until the insurance on the latest financial assurance expires "
        "(negative once expired).",
    ),
    SignalSpec(
        "financial_review_overdue",
        "flag",
        "The latest financial assurance's next review date has passed.",
    ),
    SignalSpec(
        "visit_latest_outcome", "outcome", "Outcome of the most recent visit or contract meeting."
    ),
    SignalSpec("days_since_last_visit", "days", "Days since the most recent visit."),
    SignalSpec(
        "visit_overdue",
        "flag",
        "The next visit due for the provider's monitoring level has passed.",
    ),
    SignalSpec(
        "improvement_actions_overdue",
        "count",
        "Improvement-plan actions not complete whose due date has passed.",
    ),
    SignalSpec(
        "improvement_plan_not_agreed",
        "flag",
        "An improvement plan is still awaiting agreement past its agree-by date.",
    ),
    SignalSpec(
        "packages_handed_back",
        "count",
        "Packages of care the provider handed back, in capacity returns whose period "
        "ended within the window.",
        True,
        "{value} packages handed back in {days} days",
    ),
    SignalSpec(
        "hours_delivered_share",
        "percent",
        "Hours delivered as a percentage of hours commissioned, in the latest capacity return.",
        phrase="{value}% of commissioned hours delivered",
    ),
    *(
        spec
        for measure, words in (
            ("missed_visits", "missed visits"),
            ("punctuality", "punctuality (visits on time)"),
            ("calls_logged", "calls logged in the person's home"),
        )
        for spec in (
            SignalSpec(
                f"kpi_{measure}_band",
                "band",
                f"Band (green, amber, red) of {words} in the latest month's "
                "call-monitoring figures (of the last four months).",
                phrase=f"{words} {{value}} in the latest month",
            ),
            SignalSpec(
                f"kpi_{measure}_red_months",
                "count",
                f"Months red on {words} among the latest three months' figures.",
                phrase=f"red on {words} in {{value}} of the last three months",
            ),
            SignalSpec(
                f"kpi_{measure}_red_run",
                "count",
                f"Months in a row red on {words}, ending with the latest month's figures.",
                phrase=f"red on {words} {{value}} months running",
            ),
        )
    ),
]
SIGNALS: dict[str, SignalSpec] = {spec.name: spec for spec in _SIGNALS}


def signal_key(name: str, window_days: int | None) -> str:
    """The key a computed signal is stored under: windowed ones carry their window."""
    return name if window_days is None else f"{name}@{window_days}"


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: str
    op: Literal["==", "!=", ">=", ">", "<=", "<", "in"]
    value: int | float | bool | str | list[str]
    window_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _fits_catalogue(self) -> Comparison:
        spec = SIGNALS.get(self.signal)
        if spec is None:
            raise ValueError(f"unknown signal {self.signal!r}; see docs/SIGNALS.md")
        if spec.windowed and self.window_days is None:
            raise ValueError(f"signal {self.signal!r} needs window_days")
        if not spec.windowed and self.window_days is not None:
            raise ValueError(f"signal {self.signal!r} takes no window_days")
        if spec.kind in ENUM_VALUES:
            if self.op not in CHOICE_OPS:
                raise ValueError(
                    f"op {self.op!r} does not apply to {spec.kind} signal {self.signal!r}"
                )
            values = self.value if isinstance(self.value, list) else [self.value]
            if self.op == "in" and not isinstance(self.value, list):
                raise ValueError("op 'in' needs a list value")
            for value in values:
                if value not in ENUM_VALUES[spec.kind]:
                    raise ValueError(
                        f"value {value!r} is not one of {', '.join(ENUM_VALUES[spec.kind])}"
                    )
        elif spec.kind == "flag":
            if self.op not in ("==", "!=") or not isinstance(self.value, bool):
                raise ValueError(f"flag signal {self.signal!r} compares with == true/false")
        else:
            if self.op not in NUMERIC_OPS or isinstance(self.value, bool | str | list):
                raise ValueError(f"{spec.kind} signal {self.signal!r} compares with a number")
        return self

    @property
    def key(self) -> str:
        return signal_key(self.signal, self.window_days)


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: list[Condition] = Field(min_length=1)


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: list[Condition] = Field(min_length=1)


Condition = Annotated[Comparison | AllOf | AnyOf, Field(union_mode="smart")]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")
    description: str = Field(min_length=5, max_length=500)
    when: Condition
    escalate_to: Literal[MonitoringLevel.enhanced, MonitoringLevel.intensive]
    suspend_placements: bool = False

    def comparisons(self) -> list[Comparison]:
        found: list[Comparison] = []

        def walk(node: Comparison | AllOf | AnyOf) -> None:
            if isinstance(node, Comparison):
                found.append(node)
            else:
                for child in node.all if isinstance(node, AllOf) else node.any:
                    walk(child)

        walk(self.when)
        return found


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    def windows(self) -> dict[str, set[int]]:
        """Which windows each windowed signal is needed at, so SQL computes only those."""
        needed: dict[str, set[int]] = {}
        for rule in self.rules:
            for comparison in rule.comparisons():
                if comparison.window_days is not None:
                    needed.setdefault(comparison.signal, set()).add(comparison.window_days)
        return needed


def load_rules(path: Path) -> RuleSet:
    raw = load_yaml(path)
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as error:
        raise ConfigFileError(describe_errors(path, error, raw, "rules")) from None
