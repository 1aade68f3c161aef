"""What a nudge says: in full in the in-app inbox, and on a lock screen only what the user
allows. Discreet (the default) never names a kind of bid, and no push ever carries a note.

Every text is written in the reader's language (``locale``): the caller passes the locale of
the person the nudge goes to, never the author's."""

from app.i18n import words
from app.outbox.service import Texts

APP_NAME = "Tend"


def _push(discreet: bool, title: str, body: str, discreet_body: str) -> tuple[str, str]:
    return (APP_NAME, discreet_body) if discreet else (title, body)


def partner_bid(partner_name: str, kind_label: str, discreet: bool, locale: str) -> Texts:
    """``kind_label`` is the bid kind's English label, the catalogue's message id."""
    t = words(locale)
    kind = t.in_sentence(t.gettext(kind_label))
    title = t.gettext(
        "%(partner)s logged a moment with you: %(kind)s", partner=partner_name, kind=kind
    )
    body = t.gettext("Did you notice? Let %(partner)s know how it landed.", partner=partner_name)
    discreet_body = t.gettext("%(partner)s logged a moment with you", partner=partner_name)
    push_title, push_body = _push(discreet, title, body, discreet_body)
    return Texts(title, body, push_title, push_body)


def daily_suggestion(gesture_text: str, discreet: bool, locale: str) -> Texts:
    """``gesture_text`` is the gesture's English text, the catalogue's message id."""
    t = words(locale)
    title = t.gettext("A small idea for today")
    body = t.gettext(gesture_text)
    push_title, push_body = _push(discreet, title, body, title)
    return Texts(title, body, push_title, push_body)


def practice(nudge_text: str, discreet: bool, locale: str) -> Texts:
    """``nudge_text`` is the practice's English nudge, the catalogue's message id."""
    t = words(locale)
    title = t.gettext("Your practice today")
    body = t.gettext(nudge_text)
    push_title, push_body = _push(discreet, title, body, t.gettext("A small practice for today"))
    return Texts(title, body, push_title, push_body)


def reconnect(partner_name: str, gesture_text: str, discreet: bool, locale: str) -> Texts:
    t = words(locale)
    title = t.gettext("A moment for you and %(partner)s", partner=partner_name)
    body = t.gettext("It has been a quiet few days. %(gesture)s", gesture=t.gettext(gesture_text))
    push_title, push_body = _push(discreet, title, body, t.gettext("A gentle reminder from Tend"))
    return Texts(title, body, push_title, push_body)


def care(partner_name: str, locale: str) -> Texts:
    """A partner's gentle day (app.care): never why, and never on the lock screen at all."""
    t = words(locale)
    title = t.gettext("A gentle day for %(partner)s", partner=partner_name)
    body = t.gettext("A little extra care goes a long way.")
    return Texts(title, body, APP_NAME, t.gettext("A gentle reminder from Tend"))


def weekly_summary(
    partner_name: str,
    bids: int,
    toward_rate: float | None,
    balance: float,
    discreet: bool,
    locale: str,
) -> Texts:
    t = words(locale)
    title = t.gettext("Your week with %(partner)s", partner=partner_name)
    moments = t.ngettext("%(count)s moment this week", "%(count)s moments this week", bids)
    if toward_rate is not None:
        moments = t.gettext(
            "%(moments)s, %(rate)s turned toward",
            moments=moments,
            rate=t.percent(toward_rate),
        )
    body = t.gettext(
        "%(moments)s. Your shared balance is %(balance)s.",
        moments=moments,
        balance=t.decimal(balance),
    )
    push_title, push_body = _push(discreet, title, body, t.gettext("Your week in numbers is ready"))
    return Texts(title, body, push_title, push_body)
