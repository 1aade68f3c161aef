"""Care phases: each person's sealed care settings, and their wrapped data keys

Revision ID: d704701420d1
Revises: 5d1e0c7a9b21
Create Date: 2026-11-30 13:11:56.855398+00:00

``person_keys`` is made here for the main database; with TEND_KEY_DATABASE_URL the keys
live in that database instead (``tend migrate`` makes the table there) and this one stays
empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d704701420d1"
down_revision: str | None = "5d1e0c7a9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kek_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_person_keys")),
    )
    op.create_table(
        "care_profiles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("sealed_settings", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_days", sa.LargeBinary(), nullable=False),
        sa.Column("consent_version", sa.String(length=32), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_care_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_care_profiles")),
    )


def downgrade() -> None:
    op.drop_table("care_profiles")
    op.drop_table("person_keys")
