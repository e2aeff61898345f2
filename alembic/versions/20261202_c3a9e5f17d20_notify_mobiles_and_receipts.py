"""GOV.UK Notify: users may have a mobile number (for text messages), and a delivery
keeps the final status Notify's delivery receipt reported for it.

Revision ID: c3a9e5f17d20
Revises: b7d41e0c2a93
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "c3a9e5f17d20"
down_revision: str | None = "b7d41e0c2a93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("mobile_number", sa.String(length=16), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("receipt_status", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("receipt_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("receipt_at")
        batch.drop_column("receipt_status")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("mobile_number")
