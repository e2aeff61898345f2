"""cqc unreadable locations

A tracked location whose CQC answer cannot be read is recorded (how often, since when,
why) and fetched again by every sync until it reads; each run lists its unreadable ids.

Revision ID: f66b8e65c0f0
Revises: 5c2d7e1a9b40
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "f66b8e65c0f0"
down_revision: str | None = "5c2d7e1a9b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cqc_unreadable_locations",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("cqc_location_id", sa.String(length=20), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_cqc_unreadable_locations_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_cqc_unreadable_locations")),
    )
    with op.batch_alter_table("cqc_sync_runs", schema=None) as batch_op:
        # Earlier runs had none; the default only fills them in.
        batch_op.add_column(
            sa.Column("unreadable", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("cqc_sync_runs", schema=None) as batch_op:
        batch_op.alter_column("unreadable", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("cqc_sync_runs", schema=None) as batch_op:
        batch_op.drop_column("unreadable")
    op.drop_table("cqc_unreadable_locations")
