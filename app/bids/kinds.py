"""The catalogue of bid kinds: product data, kept in one place and easy to extend.

``weight`` is what a bid turned toward deposits; ``linger_seconds``, where it matters, is
how long the gesture must last to count as lingering (×1.5): a hug held 20 seconds, a
6-second kiss, a 30-second kiss.
"""

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    physical = "physical"
    verbal = "verbal"
    nonverbal = "nonverbal"


@dataclass(frozen=True)
class BidKind:
    kind: str
    label: str
    channel: Channel
    weight: float
    description: str
    linger_seconds: int | None = None


CATALOGUE: tuple[BidKind, ...] = (
    BidKind("hug", "Hug", Channel.physical, 2.0, "A hug, best held until you both relax.", 20),
    BidKind("kiss", "Kiss", Channel.physical, 2.0, "A kiss that lasts at least six seconds.", 6),
    BidKind(
        "long_kiss", "30-second kiss", Channel.physical, 3.0, "A slow kiss of half a minute.", 30
    ),
    BidKind("cuddle", "Cuddle", Channel.physical, 2.0, "Lying or sitting close together.", 300),
    BidKind("caress", "Caress", Channel.physical, 1.0, "A touch on the arm, the back, the face."),
    BidKind("hand_hold", "Holding hands", Channel.physical, 1.0, "Hands held for a while.", 60),
    BidKind("massage", "Massage", Channel.physical, 2.5, "Shoulders, feet, hands.", 300),
    BidKind("check_in", "Check-in", Channel.verbal, 1.0, "How are you, really?"),
    BidKind("question", "Question", Channel.verbal, 1.0, "A curious, open question."),
    BidKind("share", "Sharing", Channel.verbal, 1.5, "Something from your day or your mind."),
    BidKind("compliment", "Compliment", Channel.verbal, 1.0, "Something you admire."),
    BidKind("thanks", "Thanks", Channel.verbal, 1.0, "Gratitude, said out loud."),
    BidKind("help", "Help", Channel.nonverbal, 1.5, "Taking something off their plate."),
    BidKind("smile", "Smile", Channel.nonverbal, 0.5, "A smile meant for them."),
    BidKind("shared_look", "Shared look", Channel.nonverbal, 0.5, "A glance only you two get."),
    BidKind("laugh", "Laugh together", Channel.nonverbal, 1.0, "A joke, a silly moment."),
    BidKind("phone_down", "Phone down", Channel.nonverbal, 1.0, "Putting the phone away for them."),
    BidKind("date", "Date", Channel.verbal, 3.0, "Time set aside for just the two of you."),
    BidKind("other", "Other", Channel.nonverbal, 1.0, "Any other small moment of connection."),
)

BY_KIND: dict[str, BidKind] = {k.kind: k for k in CATALOGUE}
KIND_NAMES: tuple[str, ...] = tuple(BY_KIND)
