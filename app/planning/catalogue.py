"""Small gestures to suggest, written for Tend. Each names the kind of bid it is, so that
suggestions can lean toward what a couple does least."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Gesture:
    key: str
    kind: str
    text: str


# On a partner's gentle day (app.care) the daily idea is one of these: calm, close, kind.
SOOTHING_KINDS = frozenset({"hug", "cuddle", "massage", "help", "check_in", "thanks"})

GESTURES: tuple[Gesture, ...] = (
    Gesture("six-second-kiss", "kiss", "Kiss for six seconds today: long enough to mean it."),
    Gesture("goodbye-kiss", "kiss", "Make this morning's goodbye kiss a real one."),
    Gesture("welcome-home-kiss", "kiss", "Greet each other at the door with a kiss."),
    Gesture("half-minute-kiss", "long_kiss", "Try a slow, thirty-second kiss tonight."),
    Gesture("twenty-second-hug", "hug", "Hug for twenty seconds, until you both relax."),
    Gesture("kitchen-hug", "hug", "Hug from behind while the other is busy in the kitchen."),
    Gesture("reunion-hug", "hug", "When you see each other later, start with a hug."),
    Gesture("sofa-cuddle", "cuddle", "Sit close on the sofa for ten minutes, nothing else on."),
    Gesture("morning-cuddle", "cuddle", "Stay in bed five minutes longer, together."),
    Gesture("hand-on-back", "caress", "Rest a hand on their back as you pass by."),
    Gesture("hair-stroke", "caress", "Stroke their hair or their arm for a moment."),
    Gesture("walk-hands", "hand_hold", "Hold hands on your next walk, even a short one."),
    Gesture("table-hands", "hand_hold", "Reach for their hand across the table."),
    Gesture("shoulder-rub", "massage", "Offer a five-minute shoulder rub."),
    Gesture("hand-massage", "massage", "Massage their hands while you talk."),
    Gesture("foot-rub", "massage", "A foot rub at the end of the day."),
    Gesture("real-check-in", "check_in", "Ask how they are, then ask again: how are you, really?"),
    Gesture("stress-check-in", "check_in", "Ask what is weighing on them this week."),
    Gesture("midday-message", "check_in", "Send a short message in the middle of their day."),
    Gesture("curious-question", "question", "Ask something you have never asked them before."),
    Gesture("dream-question", "question", "Ask what they would do with a free month."),
    Gesture("memory-question", "question", "Ask about a favourite memory from their childhood."),
    Gesture("day-highlight", "question", "Ask for the best and the hardest moment of their day."),
    Gesture("share-worry", "share", "Tell them about something on your mind."),
    Gesture("share-joy", "share", "Share something small that made you happy today."),
    Gesture("share-song", "share", "Play them a song that reminds you of them."),
    Gesture("specific-compliment", "compliment", "Tell them one specific thing you admire."),
    Gesture("public-compliment", "compliment", "Say something kind about them in front of others."),
    Gesture("note-compliment", "compliment", "Leave a note saying what you love about them."),
    Gesture("thank-small-thing", "thanks", "Thank them for something they do that goes unnoticed."),
    Gesture("thank-out-loud", "thanks", "Say thank you for today, out loud."),
    Gesture("take-a-chore", "help", "Take one of their chores without being asked."),
    Gesture("make-tea", "help", "Make them a coffee or tea just how they like it."),
    Gesture("run-errand", "help", "Run an errand that would save them time."),
    Gesture("smile-across", "smile", "Catch their eye across the room and smile."),
    Gesture("morning-smile", "smile", "Start the day with a smile before your phone."),
    Gesture("knowing-look", "shared_look", "Share a knowing look at a moment only you two get."),
    Gesture("look-in-eyes", "shared_look", "Look into each other's eyes for a few seconds."),
    Gesture("shared-joke", "laugh", "Bring back an old joke between the two of you."),
    Gesture("funny-video", "laugh", "Watch something silly together and laugh."),
    Gesture("phone-free-dinner", "phone_down", "Put both phones in another room during dinner."),
    Gesture("phone-down-listen", "phone_down", "When they talk, put the phone face down."),
    Gesture("evening-walk", "date", "Take a twenty-minute walk together tonight."),
    Gesture("plan-date", "date", "Plan a small date for this week, just the two of you."),
    Gesture("cook-together", "date", "Cook something together instead of alone."),
    Gesture("turn-toward", "other", "Notice one bid from them today and turn toward it."),
)

BY_KEY = {g.key: g for g in GESTURES}
