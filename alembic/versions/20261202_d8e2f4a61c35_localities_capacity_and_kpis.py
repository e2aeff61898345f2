"""The market: localities become records (the free-text names already stored become
locality records, and providers' lists refer to them), their lead-provider history,
capacity returns, waiting lists and monthly call-monitoring KPIs.

Revision ID: d8e2f4a61c35
Revises: d4b8f2a61c35
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "d8e2f4a61c35"
down_revision: str | None = "d4b8f2a61c35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "localities",
        _id(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_localities")),
        sa.UniqueConstraint("name", name=op.f("uq_localities_name")),
    )
    # Every free-text locality already stored becomes a locality record of that name.
    op.execute(
        "INSERT INTO localities (name, created_at) "
        "SELECT DISTINCT locality, CURRENT_TIMESTAMP FROM provider_localities"
    )
    with op.batch_alter_table("provider_localities") as batch:
        batch.create_foreign_key(
            op.f("fk_provider_localities_locality_localities"),
            "localities",
            ["locality"],
            ["name"],
            onupdate="CASCADE",
        )

    op.create_table(
        "locality_leads",
        _id(),
        sa.Column("locality_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["locality_id"],
            ["localities.id"],
            name=op.f("fk_locality_leads_locality_id_localities"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_locality_leads_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locality_leads")),
    )
    op.create_index(
        op.f("ix_locality_leads_locality_id"), "locality_leads", ["locality_id"], unique=False
    )
    op.create_index(
        op.f("ix_locality_leads_provider_id"), "locality_leads", ["provider_id"], unique=False
    )
    op.create_index(
        "uq_locality_leads_one_open",
        "locality_leads",
        ["locality_id"],
        unique=True,
        sqlite_where=sa.text("ended_on IS NULL"),
        postgresql_where=sa.text("ended_on IS NULL"),
    )

    op.create_table(
        "capacity_returns",
        _id(),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("hours_commissioned", sa.Float(), nullable=False),
        sa.Column("hours_delivered", sa.Float(), nullable=False),
        sa.Column("people_supported", sa.Integer(), nullable=False),
        sa.Column("packages_accepted", sa.Integer(), nullable=False),
        sa.Column("packages_declined", sa.Integer(), nullable=False),
        sa.Column("packages_handed_back", sa.Integer(), nullable=False),
        sa.Column("hours_handed_back", sa.Float(), nullable=False),
        sa.Column("staff_vacancies", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_capacity_returns_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_returns")),
        sa.UniqueConstraint(
            "provider_id", "period_start", name=op.f("uq_capacity_returns_provider_id_period_start")
        ),
    )
    op.create_index(
        op.f("ix_capacity_returns_provider_id"), "capacity_returns", ["provider_id"], unique=False
    )
    op.create_index(
        op.f("ix_capacity_returns_period_end"), "capacity_returns", ["period_end"], unique=False
    )

    op.create_table(
        "waiting_lists",
        _id(),
        sa.Column("locality_id", sa.Integer(), nullable=False),
        sa.Column("counted_on", sa.Date(), nullable=False),
        sa.Column("people_waiting", sa.Integer(), nullable=False),
        sa.Column("hours_waiting", sa.Float(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["locality_id"],
            ["localities.id"],
            name=op.f("fk_waiting_lists_locality_id_localities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_lists")),
        sa.UniqueConstraint(
            "locality_id", "counted_on", name=op.f("uq_waiting_lists_locality_id_counted_on")
        ),
    )
    op.create_index(
        op.f("ix_waiting_lists_locality_id"), "waiting_lists", ["locality_id"], unique=False
    )

    op.create_table(
        "kpi_returns",
        _id(),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("visits_planned", sa.Integer(), nullable=False),
        sa.Column("visits_missed", sa.Integer(), nullable=False),
        sa.Column("visits_late", sa.Integer(), nullable=False),
        sa.Column("time_critical_visits", sa.Integer(), nullable=True),
        sa.Column("time_critical_on_time", sa.Integer(), nullable=True),
        sa.Column("calls_logged_in_home", sa.Integer(), nullable=False),
        sa.Column("missed_visits_pct", sa.Float(), nullable=False),
        sa.Column("punctuality_pct", sa.Float(), nullable=False),
        sa.Column("calls_logged_pct", sa.Float(), nullable=False),
        sa.Column("missed_visits_band", sa.String(length=32), nullable=False),
        sa.Column("punctuality_band", sa.String(length=32), nullable=False),
        sa.Column("calls_logged_band", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_kpi_returns_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_returns")),
        sa.UniqueConstraint("provider_id", "month", name=op.f("uq_kpi_returns_provider_id_month")),
    )
    op.create_index(
        op.f("ix_kpi_returns_provider_id"), "kpi_returns", ["provider_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("kpi_returns")
    op.drop_table("waiting_lists")
    op.drop_table("capacity_returns")
    op.drop_table("locality_leads")
    with op.batch_alter_table("provider_localities") as batch:
        batch.drop_constraint(
            op.f("fk_provider_localities_locality_localities"), type_="foreignkey"
        )
    op.drop_table("localities")
