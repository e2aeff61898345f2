"""Users signed in through the council's OpenID Connect provider are matched by the
issuer and subject of their ID token, and the council directory (SCIM) keeps its own
id for the accounts it provisions.

Revision ID: d5e8a1c4b7f3
Revises: 6ce2dbc1e9ab
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "d5e8a1c4b7f3"
down_revision: str | None = "6ce2dbc1e9ab"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("identity_issuer", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("identity_subject", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("directory_id", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_users_identity_issuer_identity_subject"),
            ["identity_issuer", "identity_subject"],
        )
        batch.create_unique_constraint(op.f("uq_users_directory_id"), ["directory_id"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_directory_id"), type_="unique")
        batch.drop_constraint(op.f("uq_users_identity_issuer_identity_subject"), type_="unique")
        batch.drop_column("directory_id")
        batch.drop_column("identity_subject")
        batch.drop_column("identity_issuer")
