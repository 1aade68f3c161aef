"""What a nudge says: in full in the in-app inbox, and on a lock screen only what the user
allows. Discreet (the default) never names a kind of bid, and no push ever carries a note."""

from app.outbox.service import Texts

APP_NAME = "Tend"


def _push(discreet: bool, title: str, body: str, discreet_body: str) -> tuple[str, str]:
    return (APP_NAME, discreet_body) if discreet else (title, body)


def partner_bid(partner_name: str, kind_label: str, discreet: bool) -> Texts:
    title = f"{partner_name} logged a moment with you: {kind_label.lower()}"
    body = f"Did you notice? Let {partner_name} know how it landed."
    push_title, push_body = _push(discreet, title, body, f"{partner_name} logged a moment with you")
    return Texts(title, body, push_title, push_body)


def daily_suggestion(gesture_text: str, discreet: bool) -> Texts:
    title = "A small idea for today"
    push_title, push_body = _push(discreet, title, gesture_text, "A small idea for today")
    return Texts(title, gesture_text, push_title, push_body)


def practice(nudge_text: str, discreet: bool) -> Texts:
    title = "Your practice today"
    push_title, push_body = _push(discreet, title, nudge_text, "A small practice for today")
    return Texts(title, nudge_text, push_title, push_body)


def reconnect(partner_name: str, gesture_text: str, discreet: bool) -> Texts:
    title = f"A moment for you and {partner_name}"
    body = f"It has been a quiet few days. {gesture_text}"
    push_title, push_body = _push(discreet, title, body, "A gentle reminder from Tend")
    return Texts(title, body, push_title, push_body)


def care(partner_name: str) -> Texts:
    """A partner's gentle day (app.care): never why, and never on the lock screen at all."""
    title = f"A gentle day for {partner_name}"
    body = "A little extra care goes a long way."
    return Texts(title, body, APP_NAME, "A gentle reminder from Tend")


def weekly_summary(
    partner_name: str, bids: int, toward_rate: float | None, balance: float, discreet: bool
) -> Texts:
    title = f"Your week with {partner_name}"
    rate = "" if toward_rate is None else f", {round(100 * toward_rate)}% turned toward"
    moments = "1 moment" if bids == 1 else f"{bids} moments"
    body = f"{moments} this week{rate}. Your shared balance is {balance:.1f}."
    push_title, push_body = _push(discreet, title, body, "Your week in numbers is ready")
    return Texts(title, body, push_title, push_body)
