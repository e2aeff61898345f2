"""Indexes for "the latest record of a provider": (provider_id, date) on visits and
financial assurances, so that PostgreSQL looks up one provider's newest row instead of
scanning the date index backwards (found by EXPLAIN ANALYZE on the dashboard page).

Revision ID: 5c2d7e1a9b40
Revises: 9257923ac069
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5c2d7e1a9b40"
down_revision: str | None = "9257923ac069"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_visits_provider_id_visited_on", "visits", ["provider_id", "visited_on"])
    op.create_index(
        "ix_financial_assurances_provider_id_assessed_on",
        "financial_assurances",
        ["provider_id", "assessed_on"],
    )


def downgrade() -> None:
    op.drop_index("ix_financial_assurances_provider_id_assessed_on", "financial_assurances")
    op.drop_index("ix_visits_provider_id_visited_on", "visits")
