"""Coach profiles, partners' consents (kept forever) and the coach access log.

Revision ID: c5f9c93042bc
Revises: bfc7d0e9637c
Create Date: 2026-11-24 10:01:40.781259+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5f9c93042bc"
down_revision: str | None = "bfc7d0e9637c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coach_access_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("couple_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=True),
        sa.Column("view", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["users.id"],
            name=op.f("fk_coach_access_log_coach_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_coach_access_log_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coach_access_log")),
    )
    with op.batch_alter_table("coach_access_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_coach_access_log_couple_at", ["couple_id", "at", "id"], unique=False
        )

    op.create_table(
        "coach_consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("couple_id", sa.Uuid(), nullable=False),
        sa.Column("coach_id", sa.Uuid(), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("consent_version", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["users.id"],
            name=op.f("fk_coach_consents_coach_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_coach_consents_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["users.id"],
            name=op.f("fk_coach_consents_partner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["users.id"],
            name=op.f("fk_coach_consents_revoked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coach_consents")),
    )
    with op.batch_alter_table("coach_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coach_consents_coach_id"), ["coach_id"], unique=False)
        batch_op.create_index(
            "ix_coach_consents_couple_coach", ["couple_id", "coach_id"], unique=False
        )

    op.create_table(
        "coach_profiles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_coach_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_coach_profiles")),
        sa.UniqueConstraint("code", name=op.f("uq_coach_profiles_code")),
    )


def downgrade() -> None:
    op.drop_table("coach_profiles")
    with op.batch_alter_table("coach_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_coach_consents_couple_coach")
        batch_op.drop_index(batch_op.f("ix_coach_consents_coach_id"))

    op.drop_table("coach_consents")
    with op.batch_alter_table("coach_access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_coach_access_log_couple_at")

    op.drop_table("coach_access_log")
