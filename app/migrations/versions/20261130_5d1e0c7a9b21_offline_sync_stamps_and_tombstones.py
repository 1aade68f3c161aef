"""Offline sync: change stamps on bids, tombstones, couples and notifications; a clock per
couple and per inbox; tombstones for notifications taken back.

Revision ID: 5d1e0c7a9b21
Revises: 3b7e2a9c4d51
Create Date: 2026-11-30 09:45:24.109565+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1e0c7a9b21"
down_revision: str | None = "3b7e2a9c4d51"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_clocks",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("clock", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_inbox_clocks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_inbox_clocks")),
    )
    op.create_table(
        "notification_tombstones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_tombstones_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_tombstones")),
    )
    with op.batch_alter_table("notification_tombstones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_tombstones_deleted_at"), ["deleted_at"], unique=False
        )
        batch_op.create_index(
            "ix_notification_tombstones_user_stamp", ["user_id", "stamp"], unique=False
        )

    with op.batch_alter_table("bid_tombstones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stamp", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_index(
            "ix_bid_tombstones_couple_stamp", ["couple_id", "stamp"], unique=False
        )

    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stamp", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_index("ix_bids_couple_stamp", ["couple_id", "stamp"], unique=False)

    with op.batch_alter_table("couples", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sync_clock", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("created_stamp", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("stamp", sa.BigInteger(), server_default="0", nullable=False))

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stamp", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_index("ix_notifications_user_due", ["user_id", "due_at"], unique=False)
        batch_op.create_index("ix_notifications_user_stamp", ["user_id", "stamp"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_stamp")
        batch_op.drop_index("ix_notifications_user_due")
        batch_op.drop_column("stamp")

    with op.batch_alter_table("couples", schema=None) as batch_op:
        batch_op.drop_column("stamp")
        batch_op.drop_column("created_stamp")
        batch_op.drop_column("sync_clock")

    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.drop_index("ix_bids_couple_stamp")
        batch_op.drop_column("stamp")

    with op.batch_alter_table("bid_tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_bid_tombstones_couple_stamp")
        batch_op.drop_column("stamp")

    with op.batch_alter_table("notification_tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_tombstones_user_stamp")
        batch_op.drop_index(batch_op.f("ix_notification_tombstones_deleted_at"))

    op.drop_table("notification_tombstones")
    op.drop_table("inbox_clocks")
