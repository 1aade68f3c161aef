"""Small gestures to suggest, written for Tend (and translated, app.i18n). Each names the
kind of bid it is, so that suggestions can lean toward what a couple does least."""

from dataclasses import dataclass

from app.i18n import N_


@dataclass(frozen=True)
class Gesture:
    """``text`` is English, the message id of its translations (``app.i18n``)."""

    key: str
    kind: str
    text: str


# On a partner's gentle day (app.care) the daily idea is one of these: calm, close, kind.
SOOTHING_KINDS = frozenset({"hug", "cuddle", "massage", "help", "check_in", "thanks"})

GESTURES: tuple[Gesture, ...] = (
    Gesture("six-second-kiss", "kiss", N_("Kiss for six seconds today: long enough to mean it.")),
    Gesture("goodbye-kiss", "kiss", N_("Make this morning's goodbye kiss a real one.")),
    Gesture("welcome-home-kiss", "kiss", N_("Greet each other at the door with a kiss.")),
    Gesture("half-minute-kiss", "long_kiss", N_("Try a slow, thirty-second kiss tonight.")),
    Gesture("twenty-second-hug", "hug", N_("Hug for twenty seconds, until you both relax.")),
    Gesture("kitchen-hug", "hug", N_("Hug from behind while the other is busy in the kitchen.")),
    Gesture("reunion-hug", "hug", N_("When you see each other later, start with a hug.")),
    Gesture("sofa-cuddle", "cuddle", N_("Sit close on the sofa for ten minutes, nothing else on.")),
    Gesture("morning-cuddle", "cuddle", N_("Stay in bed five minutes longer, together.")),
    Gesture("hand-on-back", "caress", N_("Rest a hand on their back as you pass by.")),
    Gesture("hair-stroke", "caress", N_("Stroke their hair or their arm for a moment.")),
    Gesture("walk-hands", "hand_hold", N_("Hold hands on your next walk, even a short one.")),
    Gesture("table-hands", "hand_hold", N_("Reach for their hand across the table.")),
    Gesture("shoulder-rub", "massage", N_("Offer a five-minute shoulder rub.")),
    Gesture("hand-massage", "massage", N_("Massage their hands while you talk.")),
    Gesture("foot-rub", "massage", N_("A foot rub at the end of the day.")),
    Gesture(
        "real-check-in", "check_in", N_("Ask how they are, then ask again: how are you, really?")
    ),
    Gesture("stress-check-in", "check_in", N_("Ask what is weighing on them this week.")),
    Gesture("midday-message", "check_in", N_("Send a short message in the middle of their day.")),
    Gesture("curious-question", "question", N_("Ask something you have never asked them before.")),
    Gesture("dream-question", "question", N_("Ask what they would do with a free month.")),
    Gesture(
        "memory-question", "question", N_("Ask about a favourite memory from their childhood.")
    ),
    Gesture(
        "day-highlight", "question", N_("Ask for the best and the hardest moment of their day.")
    ),
    Gesture("share-worry", "share", N_("Tell them about something on your mind.")),
    Gesture("share-joy", "share", N_("Share something small that made you happy today.")),
    Gesture("share-song", "share", N_("Play them a song that reminds you of them.")),
    Gesture("specific-compliment", "compliment", N_("Tell them one specific thing you admire.")),
    Gesture(
        "public-compliment", "compliment", N_("Say something kind about them in front of others.")
    ),
    Gesture("note-compliment", "compliment", N_("Leave a note saying what you love about them.")),
    Gesture(
        "thank-small-thing", "thanks", N_("Thank them for something they do that goes unnoticed.")
    ),
    Gesture("thank-out-loud", "thanks", N_("Say thank you for today, out loud.")),
    Gesture("take-a-chore", "help", N_("Take one of their chores without being asked.")),
    Gesture("make-tea", "help", N_("Make them a coffee or tea just how they like it.")),
    Gesture("run-errand", "help", N_("Run an errand that would save them time.")),
    Gesture("smile-across", "smile", N_("Catch their eye across the room and smile.")),
    Gesture("morning-smile", "smile", N_("Start the day with a smile before your phone.")),
    Gesture(
        "knowing-look", "shared_look", N_("Share a knowing look at a moment only you two get.")
    ),
    Gesture("look-in-eyes", "shared_look", N_("Look into each other's eyes for a few seconds.")),
    Gesture("shared-joke", "laugh", N_("Bring back an old joke between the two of you.")),
    Gesture("funny-video", "laugh", N_("Watch something silly together and laugh.")),
    Gesture(
        "phone-free-dinner", "phone_down", N_("Put both phones in another room during dinner.")
    ),
    Gesture("phone-down-listen", "phone_down", N_("When they talk, put the phone face down.")),
    Gesture("evening-walk", "date", N_("Take a twenty-minute walk together tonight.")),
    Gesture("plan-date", "date", N_("Plan a small date for this week, just the two of you.")),
    Gesture("cook-together", "date", N_("Cook something together instead of alone.")),
    Gesture("turn-toward", "other", N_("Notice one bid from them today and turn toward it.")),
)

BY_KEY = {g.key: g for g in GESTURES}
