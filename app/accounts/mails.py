"""What Tend's mails say: plain text and simple HTML, in English for now. They carry a
first name and a link at most: never a note, a bid or anything about a couple."""

from html import escape

from app.outbox.service import MailWords

SIGNATURE = "— Tend"


def _html(paragraphs: list[str], button: str | None = None) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if button is not None:
        # {link} is put in by the dispatcher, already escaped.
        body += f'<p><a href="{{link}}">{escape(button)}</a></p><p>{{link}}</p>'
    return (
        '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">'
        f"{body}<p>{escape(SIGNATURE)}</p></body></html>"
    )


def _text(paragraphs: list[str], with_link: bool) -> str:
    parts = [*paragraphs, *(["{link}"] if with_link else []), SIGNATURE]
    return "\n\n".join(parts) + "\n"


def _words(subject: str, paragraphs: list[str], button: str | None = None) -> MailWords:
    return MailWords(
        subject=subject,
        text=_text(paragraphs, button is not None),
        html=_html(paragraphs, button),
    )


def verify_email(name: str, days: int) -> MailWords:
    return _words(
        "Confirm your email address for Tend",
        [
            f"Hi {name},",
            "Please confirm that this address is yours, so you can always get back into "
            f"Tend. Open this link on your phone within {days} days:",
        ],
        button="Confirm my address",
    )


def confirm_new_email(name: str, days: int) -> MailWords:
    return _words(
        "Confirm your new email address for Tend",
        [
            f"Hi {name},",
            "You asked to use this address for your Tend account. It takes effect when you "
            f"open this link on your phone within {days} days:",
            "If you did not ask for this, ignore this mail and nothing changes.",
        ],
        button="Use this address",
    )


def email_change_requested(name: str) -> MailWords:
    return _words(
        "Your Tend account's email address is about to change",
        [
            f"Hi {name},",
            "Someone signed in to your Tend account asked to move it to another email "
            "address. It changes only once that address is confirmed.",
            "If this was not you, change your password in the app now.",
        ],
    )


def reset_password(name: str, minutes: int) -> MailWords:
    return _words(
        "Reset your Tend password",
        [
            f"Hi {name},",
            f"Open this link on your phone within {minutes} minutes to choose a new "
            "password. It works once.",
            "If you did not ask for this, ignore this mail: your password stays as it is.",
        ],
        button="Choose a new password",
    )


def password_changed(name: str) -> MailWords:
    return _words(
        "Your Tend password was changed",
        [
            f"Hi {name},",
            "The password of your Tend account was just changed, and every other sign-in "
            "was ended.",
            "If this was not you, reset your password from the app's sign-in screen now.",
        ],
    )
