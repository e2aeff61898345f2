"""Deliveries remember whether the recipient may have them twice: an attempt that may have
reached the mail server was followed by another (a lease taken over after a dispatcher
died, a connection lost with the message in flight).

Revision ID: b7d41e0c2a93
Revises: f66b8e65c0f0
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "b7d41e0c2a93"
down_revision: str | None = "f66b8e65c0f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column(
                "possibly_duplicated", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("possibly_duplicated")
