"""Languages: each user's locale (BCP 47), English for the accounts made before it.

Revision ID: 8c4f1a2e6d37
Revises: 7c4a1e9d2b35
Create Date: 2026-11-30 14:20:11.402731+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c4f1a2e6d37"
down_revision: str | None = "7c4a1e9d2b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sa.String(length=35), server_default="en", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
