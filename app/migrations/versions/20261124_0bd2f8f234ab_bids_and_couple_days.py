"""Bids for connection, tombstones of deleted ones, and the per-day rollups of the balance.

Revision ID: 0bd2f8f234ab
Revises: 397ed3b43d97
Create Date: 2026-11-24 08:59:52.826284+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0bd2f8f234ab"
down_revision: str | None = "397ed3b43d97"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bids",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("couple_id", sa.Uuid(), nullable=False),
        sa.Column("logged_by_id", sa.Uuid(), nullable=False),
        sa.Column("initiator_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("response", sa.String(length=8), nullable=False),
        sa.Column("responded_by_id", sa.Uuid(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deposit", sa.Double(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "response IN ('pending', 'toward', 'away', 'against')", name=op.f("ck_bids_response")
        ),
        sa.CheckConstraint(
            "duration_seconds IS NULL OR duration_seconds BETWEEN 0 AND 43200",
            name=op.f("ck_bids_duration_seconds"),
        ),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_bids_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["initiator_id"],
            ["users.id"],
            name=op.f("fk_bids_initiator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["logged_by_id"],
            ["users.id"],
            name=op.f("fk_bids_logged_by_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["responded_by_id"],
            ["users.id"],
            name=op.f("fk_bids_responded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
    )
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bids_couple_occurred", ["couple_id", "occurred_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bids_logged_by_id"), ["logged_by_id"], unique=False)

    op.create_table(
        "bid_tombstones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("couple_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_bid_tombstones_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_tombstones")),
    )
    with op.batch_alter_table("bid_tombstones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bid_tombstones_couple_id"), ["couple_id"], unique=False
        )

    op.create_table(
        "couple_days",
        sa.Column("couple_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bids", sa.Integer(), nullable=False),
        sa.Column("toward", sa.Integer(), nullable=False),
        sa.Column("away", sa.Integer(), nullable=False),
        sa.Column("against", sa.Integer(), nullable=False),
        sa.Column("deposits", sa.Double(), nullable=False),
        sa.Column("withdrawals", sa.Double(), nullable=False),
        sa.Column("end_balance", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_couple_days_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("couple_id", "day", name=op.f("pk_couple_days")),
    )


def downgrade() -> None:
    op.drop_table("couple_days")
    with op.batch_alter_table("bid_tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bid_tombstones_couple_id"))

    op.drop_table("bid_tombstones")
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bids_logged_by_id"))
        batch_op.drop_index("ix_bids_couple_occurred")

    op.drop_table("bids")
