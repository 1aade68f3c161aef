import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class CoupleDay(Base):
    """One of a couple's days: its counts and the balance at its end.

    The rows are the balance's reference points: the current balance is the latest row's
    end balance rolled forward, and a changed bid adjusts its own day and every later row
    by its decayed contribution. Days without bids have no row.
    """

    __tablename__ = "couple_days"

    couple_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("couples.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bids: Mapped[int] = mapped_column(default=0)
    toward: Mapped[int] = mapped_column(default=0)
    away: Mapped[int] = mapped_column(default=0)
    against: Mapped[int] = mapped_column(default=0)
    deposits: Mapped[float] = mapped_column(default=0.0)
    withdrawals: Mapped[float] = mapped_column(default=0.0)
    end_balance: Mapped[float] = mapped_column(default=0.0)
