"""Monitoring episodes (why and when a provider was escalated or stepped down) and
service improvement plans with their actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from app.models.base import ActionStatus, MonitoringLevel, PlanStatus, choice, instant, json_field


class MonitoringEpisode(SQLModel, table=True):
    __tablename__ = "monitoring_episodes"
    # At most one open episode per provider, enforced by the database on both engines.
    __table_args__ = (
        Index(
            "uq_monitoring_episodes_one_open",
            "provider_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    level: MonitoringLevel = choice(MonitoringLevel)
    started_at: datetime = instant()
    started_by: str = Field(max_length=100)
    reasons: list[dict[str, Any]] = json_field(list)
    ended_at: datetime | None = instant(nullable=True)
    ended_by: str | None = Field(default=None, max_length=100)
    end_reason: str | None = Field(default=None, max_length=2000)
    overridden: bool = False


class ImprovementPlan(SQLModel, table=True):
    __tablename__ = "improvement_plans"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    episode_id: int = Field(foreign_key="monitoring_episodes.id", index=True)
    status: PlanStatus = choice(PlanStatus, PlanStatus.awaiting_agreement)
    agree_by_on: date
    agreed_on: date | None = None
    agreed_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    # A plan closes when its last action is complete outside intensive monitoring, or
    # when a manager closes it with a reason; closed, it stays readable in the history.
    closed_at: datetime | None = instant(nullable=True)
    closed_by: str | None = Field(default=None, max_length=100)
    close_reason: str | None = Field(default=None, max_length=2000)


class ImprovementAction(SQLModel, table=True):
    __tablename__ = "improvement_actions"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="improvement_plans.id", index=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    issue: str = Field(max_length=2000)
    action: str = Field(max_length=2000)
    owner: str = Field(max_length=200)
    due_on: date = Field(index=True)
    status: ActionStatus = choice(ActionStatus, ActionStatus.open)
    evidence: str = Field(default="", max_length=5000)
    completed_on: date | None = None
    created_at: datetime = instant()
    updated_at: datetime = instant()
