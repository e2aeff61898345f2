"""An improvement plan outlives a step-down: it records when, by whom and why it closed
(its last action complete, or a manager's reason), so closed plans stay readable.

Revision ID: d4b8f2a61c35
Revises: d5e8a1c4b7f3
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "d4b8f2a61c35"
down_revision: str | None = "d5e8a1c4b7f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("improvement_plans") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("close_reason", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("improvement_plans") as batch:
        batch.drop_column("close_reason")
        batch.drop_column("closed_by")
        batch.drop_column("closed_at")
