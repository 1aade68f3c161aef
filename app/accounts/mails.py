"""What Tend's mails say: plain text and simple HTML, in the recipient's language. They
carry a first name and a link at most: never a note, a bid or anything about a couple."""

from datetime import date
from html import escape

from app.i18n import Words, words
from app.outbox.service import MailWords

SIGNATURE = "— Tend"


def _html(paragraphs: list[str], button: str | None, lang: str) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if button is not None:
        # {link} is put in by the dispatcher, already escaped.
        body += f'<p><a href="{{link}}">{escape(button)}</a></p><p>{{link}}</p>'
    return (
        f'<!doctype html><html lang="{lang}">'
        '<body style="font-family: sans-serif; line-height: 1.5">'
        f"{body}<p>{escape(SIGNATURE)}</p></body></html>"
    )


def _text(paragraphs: list[str], with_link: bool) -> str:
    parts = [*paragraphs, *(["{link}"] if with_link else []), SIGNATURE]
    return "\n\n".join(parts) + "\n"


def _words(t: Words, subject: str, paragraphs: list[str], button: str | None = None) -> MailWords:
    return MailWords(
        subject=subject,
        text=_text(paragraphs, button is not None),
        html=_html(paragraphs, button, t.locale),
    )


def _hi(t: Words, name: str) -> str:
    return t.gettext("Hi %(name)s,", name=name)


def verify_email(name: str, days: int, locale: str) -> MailWords:
    t = words(locale)
    return _words(
        t,
        t.gettext("Confirm your email address for Tend"),
        [
            _hi(t, name),
            t.ngettext(
                "Please confirm that this address is yours, so you can always get back into "
                "Tend. Open this link on your phone within %(count)s day:",
                "Please confirm that this address is yours, so you can always get back into "
                "Tend. Open this link on your phone within %(count)s days:",
                days,
            ),
        ],
        button=t.gettext("Confirm my address"),
    )


def confirm_new_email(name: str, days: int, locale: str) -> MailWords:
    t = words(locale)
    return _words(
        t,
        t.gettext("Confirm your new email address for Tend"),
        [
            _hi(t, name),
            t.ngettext(
                "You asked to use this address for your Tend account. It takes effect when "
                "you open this link on your phone within %(count)s day:",
                "You asked to use this address for your Tend account. It takes effect when "
                "you open this link on your phone within %(count)s days:",
                days,
            ),
            t.gettext("If you did not ask for this, ignore this mail and nothing changes."),
        ],
        button=t.gettext("Use this address"),
    )


def email_change_requested(name: str, locale: str) -> MailWords:
    t = words(locale)
    return _words(
        t,
        t.gettext("Your Tend account's email address is about to change"),
        [
            _hi(t, name),
            t.gettext(
                "Someone signed in to your Tend account asked to move it to another email "
                "address. It changes only once that address is confirmed."
            ),
            t.gettext("If this was not you, change your password in the app now."),
        ],
    )


def reset_password(name: str, minutes: int, locale: str) -> MailWords:
    t = words(locale)
    return _words(
        t,
        t.gettext("Reset your Tend password"),
        [
            _hi(t, name),
            t.ngettext(
                "Open this link on your phone within %(count)s minute to choose a new "
                "password. It works once.",
                "Open this link on your phone within %(count)s minutes to choose a new "
                "password. It works once.",
                minutes,
            ),
            t.gettext(
                "If you did not ask for this, ignore this mail: your password stays as it is."
            ),
        ],
        button=t.gettext("Choose a new password"),
    )


def password_changed(name: str, on: date, locale: str) -> MailWords:
    """``on`` is the day of the change in the user's time zone."""
    t = words(locale)
    return _words(
        t,
        t.gettext("Your Tend password was changed"),
        [
            _hi(t, name),
            t.gettext(
                "The password of your Tend account was changed on %(date)s, and every other "
                "sign-in was ended.",
                date=t.date(on),
            ),
            t.gettext(
                "If this was not you, reset your password from the app's sign-in screen now."
            ),
        ],
    )
