"""A CQC location taken off a contract is kept, marked removed with when and by whom,
with its ratings: nothing is deleted, and its history stays readable.

Revision ID: e1f3a7c9b2d4
Revises: d8e2f4a61c35
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "e1f3a7c9b2d4"
down_revision: str | None = "d8e2f4a61c35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("removed_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_locations_removed_by_users"), "users", ["removed_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        batch.drop_constraint(op.f("fk_locations_removed_by_users"), type_="foreignkey")
        batch.drop_column("removed_by")
        batch.drop_column("removed_at")
