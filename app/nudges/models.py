import uuid
from datetime import datetime, time

from sqlalchemy import ForeignKey, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class NudgeSettings(Base):
    """When and how a user is nudged; ``next_daily_at`` is the next daily slot, in UTC."""

    __tablename__ = "nudge_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    discreet: Mapped[bool] = mapped_column(default=True)
    daily_time: Mapped[time] = mapped_column(Time)
    quiet_start: Mapped[time] = mapped_column(Time)
    quiet_end: Mapped[time] = mapped_column(Time)
    daily_suggestion: Mapped[bool] = mapped_column(default=True)
    partner_bid: Mapped[bool] = mapped_column(default=True)
    reconnect: Mapped[bool] = mapped_column(default=True)
    weekly_summary: Mapped[bool] = mapped_column(default=True)
    # The scheduler's cursor: the next daily slot not yet planned (None: nothing to plan).
    next_daily_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime]
