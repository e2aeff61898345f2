"""Validated inputs of the monitoring decisions (step down, embargo, plan agreement), shared
by the JSON API and the web forms."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import Flag, RecordDate, Storable, limits
from app.models.base import MonitoringLevel

Reason = Storable[Annotated[str, limits(5, 2000)]]


class DeEscalation(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    to: MonitoringLevel
    reason: Reason
    override: Flag = Field(default=False, description="step down although rules still fire")


class PlacementsChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    suspended: Flag
    reason: Reason


class PlanAgreement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agreed_on: RecordDate


class PlanClosure(BaseModel):
    """A manager closes an improvement plan outside intensive monitoring, with a reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Reason
