"""What a person agrees to when they turn care on: shown by GET /v1/me/care before they do,
recorded (version and time) when they do."""

VERSION = "2026-11-30"
PURPOSE = "care-phases"
TEXT = (
    "Tend uses the dates you give here (period starts, weekdays or days you mark) only to "
    "work out the days you may need a bit more care, and, if you choose to share, to tell "
    "your partner that it is a gentle day, never why. They are health data: Tend seals "
    "them with a key of your own, never shows them to a coach, and deletes them when you "
    "turn care off or delete your account."
)
