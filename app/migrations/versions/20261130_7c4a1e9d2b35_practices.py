"""Practices: the plans a couple keeps, proposed by a partner or a consenting coach.

Revision ID: 7c4a1e9d2b35
Revises: d704701420d1
Create Date: 2026-11-30 14:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c4a1e9d2b35"
down_revision: str | None = "d704701420d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "couple_practices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("couple_id", sa.Uuid(), nullable=False),
        sa.Column("practice", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("days_of_week", sa.String(length=7), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by_id", sa.Uuid(), nullable=True),
        sa.Column("coach_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'declined', 'ended')",
            name=op.f("ck_couple_practices_status"),
        ),
        sa.CheckConstraint("target BETWEEN 1 AND 14", name=op.f("ck_couple_practices_target")),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_couple_practices_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["users.id"],
            name=op.f("fk_couple_practices_proposed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["users.id"],
            name=op.f("fk_couple_practices_coach_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["users.id"],
            name=op.f("fk_couple_practices_accepted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"],
            ["users.id"],
            name=op.f("fk_couple_practices_ended_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_couple_practices")),
    )
    with op.batch_alter_table("couple_practices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_couple_practices_couple_status", ["couple_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_couple_practices_coach_id"), ["coach_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("couple_practices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_couple_practices_coach_id"))
        batch_op.drop_index("ix_couple_practices_couple_status")
    op.drop_table("couple_practices")
