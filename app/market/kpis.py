"""The KPI thresholds (alerts/kpis.yaml) and the banding of one month's call-monitoring
figures under them: missed visits, punctuality and calls logged in the home."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.config_files import ConfigFileError, describe_errors, load_yaml
from app.models import KpiBand

MEASURES = ("missed_visits", "punctuality", "calls_logged")
MEASURE_NAMES = {
    "missed_visits": "Missed visits",
    "punctuality": "Visits on time",
    "calls_logged": "Calls logged in the home",
}


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    better: Literal["lower", "higher"]
    green: float = Field(ge=0, le=100)
    amber: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _amber_beyond_green(self) -> Threshold:
        if self.amber is None:
            return self
        if self.better == "lower" and self.amber < self.green:
            raise ValueError("amber must be at or above green when lower is better")
        if self.better == "higher" and self.amber > self.green:
            raise ValueError("amber must be at or below green when higher is better")
        return self

    def band(self, percent: float) -> KpiBand:
        if self.better == "lower":
            if percent <= self.green:
                return KpiBand.green
            return (
                KpiBand.amber if self.amber is not None and percent <= self.amber else KpiBand.red
            )
        if percent >= self.green:
            return KpiBand.green
        return KpiBand.amber if self.amber is not None and percent >= self.amber else KpiBand.red

    def describe(self) -> str:
        """The threshold in words, as pages show it."""
        word = "at most" if self.better == "lower" else "at least"
        text = f"green {word} {self.green:g}%"
        if self.amber is not None:
            text += f", amber {word} {self.amber:g}%"
        return text


class KpiThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    missed_visits: Threshold
    punctuality: Threshold
    calls_logged: Threshold


class KpiFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measures: KpiThresholds


DEFAULT_THRESHOLDS = KpiThresholds(
    missed_visits=Threshold(better="lower", green=2),
    punctuality=Threshold(better="higher", green=90, amber=75),
    calls_logged=Threshold(better="higher", green=85),
)


def load_kpis(path: Path) -> KpiThresholds:
    """The thresholds in the file; ConfigFileError naming the file, measure and field."""
    raw = load_yaml(path)
    try:
        return KpiFile.model_validate(raw).measures
    except ValidationError as error:
        raise ConfigFileError(describe_errors(path, error, raw, "measures")) from None


@dataclass(frozen=True)
class Banded:
    """One month's figures as shares of visits, each with its band."""

    missed_visits_pct: float
    punctuality_pct: float
    calls_logged_pct: float
    missed_visits_band: KpiBand
    punctuality_band: KpiBand
    calls_logged_band: KpiBand


def _share(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def band_month(
    thresholds: KpiThresholds, *, planned: int, missed: int, late: int, logged: int
) -> Banded:
    """The shares and bands of a month with `planned` visits: missed of planned; on time
    and logged in the home of those made. A month with no visits made is all green on
    punctuality and logging, which nothing then contradicts."""
    made = planned - missed
    missed_pct = _share(missed, planned)
    on_time_pct = _share(made - late, made) if made else 100.0
    logged_pct = _share(logged, made) if made else 100.0
    return Banded(
        missed_pct,
        on_time_pct,
        logged_pct,
        thresholds.missed_visits.band(missed_pct),
        thresholds.punctuality.band(on_time_pct),
        thresholds.calls_logged.band(logged_pct),
    )
