"""An index on the safeguardings' status, so that counting the open ones (the dashboard's
tiles and columns, the rules' signals) reads the few open rows, not every closed one.

Revision ID: f2a6c8e1d5b9
Revises: e1f3a7c9b2d4
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "f2a6c8e1d5b9"
down_revision: str | None = "e1f3a7c9b2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_safeguardings_status_provider_id",
        "safeguardings",
        ["status", "entered_in_error_at", "provider_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_safeguardings_status_provider_id", table_name="safeguardings")
