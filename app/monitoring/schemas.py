"""Validated inputs of the monitoring decisions (step down, embargo, plan agreement), shared
by the JSON API and the web forms."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import RecordDate, Text
from app.models.base import MonitoringLevel


class DeEscalation(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    to: MonitoringLevel
    reason: Text = Field(min_length=5, max_length=2000)
    override: bool = Field(default=False, description="step down although rules still fire")


class PlacementsChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    suspended: bool
    reason: Text = Field(min_length=5, max_length=2000)


class PlanAgreement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agreed_on: RecordDate
