"""Every record's life to its end: a safeguarding's Section 42 enquiry, risk outcome and
Care Act 2014 category; a concern's resolution; visits' follow-up actions; records
entered in error (kept, never counted); and the history of corrections.

Stored safeguarding categories were free text. Each is mapped to the Care Act type its
words name ("financial abuse" to financial or material, "medication" to neglect and acts
of omission, ...); words that name none are kept in `legacy_category` with the category
left empty for an officer to choose, never guessed.

Revision ID: 6ce2dbc1e9ab
Revises: c3a9e5f17d20
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "6ce2dbc1e9ab"
down_revision: str | None = "c3a9e5f17d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_TABLES = (
    "visits",
    "safeguardings",
    "complaints",
    "compliments",
    "financial_assurances",
    "concerns",
)
CARE_ACT_TYPES = (
    "physical",
    "domestic",
    "sexual",
    "psychological",
    "financial_or_material",
    "modern_slavery",
    "discriminatory",
    "organisational",
    "neglect",
    "self_neglect",
)
# Words of the old free-text categories, most specific first: "self-neglect" before
# "neglect", "domestic" before "physical".
KEYWORDS = (
    ("self", "self_neglect"),
    ("slavery", "modern_slavery"),
    ("trafficking", "modern_slavery"),
    ("domestic", "domestic"),
    ("sexual", "sexual"),
    ("financ", "financial_or_material"),
    ("material", "financial_or_material"),
    ("theft", "financial_or_material"),
    ("psycholog", "psychological"),
    ("emotional", "psychological"),
    ("discrimin", "discriminatory"),
    ("organis", "organisational"),
    ("organiz", "organisational"),
    ("institution", "organisational"),
    ("neglect", "neglect"),
    ("omission", "neglect"),
    ("medication", "neglect"),
    ("physical", "physical"),
)


def care_act_type(words: str) -> str | None:
    """The Care Act type an old free-text category names, or None."""
    plain = words.strip().lower().replace("-", " ").replace("_", " ")
    if plain.replace(" ", "_") in CARE_ACT_TYPES:
        return plain.replace(" ", "_")
    return next((kind for word, kind in KEYWORDS if word in plain), None)


def upgrade() -> None:
    for table in RECORD_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("entered_in_error_at", sa.DateTime(timezone=True), nullable=True)
            )
            batch.add_column(sa.Column("entered_in_error_by", sa.Integer(), nullable=True))
            batch.add_column(
                sa.Column("entered_in_error_reason", sa.String(length=1000), nullable=True)
            )
            batch.create_foreign_key(
                op.f(f"fk_{table}_entered_in_error_by_users"),
                "users",
                ["entered_in_error_by"],
                ["id"],
            )

    with op.batch_alter_table("safeguardings") as batch:
        batch.add_column(sa.Column("legacy_category", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("enquiry_started_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("risk_outcome", sa.String(length=32), nullable=True))
        batch.alter_column(
            "category",
            existing_type=sa.String(length=60),
            type_=sa.String(length=60),
            nullable=True,
        )
    connection = op.get_bind()
    safeguardings = sa.table(
        "safeguardings",
        sa.column("id", sa.Integer()),
        sa.column("category", sa.String()),
        sa.column("legacy_category", sa.String()),
    )
    for record_id, words in connection.execute(
        sa.select(safeguardings.c.id, safeguardings.c.category)
    ).all():
        kind = care_act_type(words or "")
        connection.execute(
            safeguardings.update()
            .where(safeguardings.c.id == record_id)
            .values(
                category=kind,
                legacy_category=None if kind is not None and kind == words else words,
            )
        )
    with op.batch_alter_table("safeguardings") as batch:
        batch.alter_column(
            "category", existing_type=sa.String(length=60), type_=sa.String(length=32)
        )

    with op.batch_alter_table("concerns") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=2000), nullable=True))
    op.execute("UPDATE concerns SET outcome = ''")
    with op.batch_alter_table("concerns") as batch:
        batch.alter_column("outcome", existing_type=sa.String(length=2000), nullable=False)

    op.create_table(
        "visit_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=2000), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("evidence", sa.String(length=5000), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_visit_actions_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_visit_actions_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_actions_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_actions")),
    )
    with op.batch_alter_table("visit_actions") as batch:
        batch.create_index(batch.f("ix_visit_actions_visit_id"), ["visit_id"], unique=False)
        batch.create_index(batch.f("ix_visit_actions_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "record_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("old_value", sa.String(length=10000), nullable=True),
        sa.Column("new_value", sa.String(length=10000), nullable=True),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name=op.f("fk_record_changes_changed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_record_changes_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_changes")),
    )
    with op.batch_alter_table("record_changes") as batch:
        batch.create_index(batch.f("ix_record_changes_provider_id"), ["provider_id"], unique=False)
        batch.create_index("ix_record_changes_record", ["record_type", "record_id"], unique=False)


def downgrade() -> None:
    op.drop_table("record_changes")
    op.drop_table("visit_actions")
    with op.batch_alter_table("concerns") as batch:
        batch.drop_column("outcome")
    op.execute("UPDATE safeguardings SET category = COALESCE(legacy_category, category, 'unknown')")
    with op.batch_alter_table("safeguardings") as batch:
        batch.alter_column(
            "category",
            existing_type=sa.String(length=32),
            type_=sa.String(length=60),
            nullable=False,
        )
        batch.drop_column("risk_outcome")
        batch.drop_column("enquiry_started_on")
        batch.drop_column("legacy_category")
    for table in RECORD_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_entered_in_error_by_users"), type_="foreignkey")
            batch.drop_column("entered_in_error_reason")
            batch.drop_column("entered_in_error_by")
            batch.drop_column("entered_in_error_at")
