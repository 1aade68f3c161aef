"""The catalogue of bid kinds: product data, kept in one place and easy to extend.

``weight`` is what a bid turned toward deposits; ``linger_seconds``, where it matters, is
how long the gesture must last to count as lingering (×1.5): a hug held 20 seconds, a
6-second kiss, a 30-second kiss.
"""

from dataclasses import dataclass
from enum import StrEnum

from app.i18n import N_


class Channel(StrEnum):
    physical = "physical"
    verbal = "verbal"
    nonverbal = "nonverbal"


@dataclass(frozen=True)
class BidKind:
    """``label`` and ``description`` are English, the message ids of their translations
    (``app.i18n``): show them through ``words(locale).gettext``."""

    kind: str
    label: str
    channel: Channel
    weight: float
    description: str
    linger_seconds: int | None = None


CATALOGUE: tuple[BidKind, ...] = (
    BidKind(
        "hug", N_("Hug"), Channel.physical, 2.0, N_("A hug, best held until you both relax."), 20
    ),
    BidKind(
        "kiss", N_("Kiss"), Channel.physical, 2.0, N_("A kiss that lasts at least six seconds."), 6
    ),
    BidKind(
        "long_kiss",
        N_("30-second kiss"),
        Channel.physical,
        3.0,
        N_("A slow kiss of half a minute."),
        30,
    ),
    BidKind(
        "cuddle", N_("Cuddle"), Channel.physical, 2.0, N_("Lying or sitting close together."), 300
    ),
    BidKind(
        "caress", N_("Caress"), Channel.physical, 1.0, N_("A touch on the arm, the back, the face.")
    ),
    BidKind(
        "hand_hold", N_("Holding hands"), Channel.physical, 1.0, N_("Hands held for a while."), 60
    ),
    BidKind("massage", N_("Massage"), Channel.physical, 2.5, N_("Shoulders, feet, hands."), 300),
    BidKind("check_in", N_("Check-in"), Channel.verbal, 1.0, N_("How are you, really?")),
    BidKind("question", N_("Question"), Channel.verbal, 1.0, N_("A curious, open question.")),
    BidKind(
        "share", N_("Sharing"), Channel.verbal, 1.5, N_("Something from your day or your mind.")
    ),
    BidKind("compliment", N_("Compliment"), Channel.verbal, 1.0, N_("Something you admire.")),
    BidKind("thanks", N_("Thanks"), Channel.verbal, 1.0, N_("Gratitude, said out loud.")),
    BidKind("help", N_("Help"), Channel.nonverbal, 1.5, N_("Taking something off their plate.")),
    BidKind("smile", N_("Smile"), Channel.nonverbal, 0.5, N_("A smile meant for them.")),
    BidKind(
        "shared_look", N_("Shared look"), Channel.nonverbal, 0.5, N_("A glance only you two get.")
    ),
    BidKind("laugh", N_("Laugh together"), Channel.nonverbal, 1.0, N_("A joke, a silly moment.")),
    BidKind(
        "phone_down",
        N_("Phone down"),
        Channel.nonverbal,
        1.0,
        N_("Putting the phone away for them."),
    ),
    BidKind("date", N_("Date"), Channel.verbal, 3.0, N_("Time set aside for just the two of you.")),
    BidKind(
        "other", N_("Other"), Channel.nonverbal, 1.0, N_("Any other small moment of connection.")
    ),
)

BY_KIND: dict[str, BidKind] = {k.kind: k for k in CATALOGUE}
KIND_NAMES: tuple[str, ...] = tuple(BY_KIND)
