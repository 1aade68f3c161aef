"""Tend's languages: which locales it speaks, and the words, dates and numbers in each.

Infrastructure, like ``app.errors``: it knows no domain. A domain marks its words for
extraction (``N_`` for catalogue data, ``Words.gettext``/``Words.ngettext`` for sentences) and
asks ``words(locale)`` for the reader's language where it writes to them. The catalogues are
gettext files built with Babel under ``locale/<language>/LC_MESSAGES/tend.po`` (README,
"Languages"); English is the source language and the fallback, so it needs none.
"""

import re
from datetime import date
from functools import cache
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

DOMAIN = "tend"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en"
# The languages Tend speaks; each but English has a catalogue in LOCALE_DIR.
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "de", "fr", "es")

# BCP 47 in the shape Tend meets it: a language of 2-3 letters, then subtags of 1-8 letters
# or digits (script, region, variants). Anything else is not a language tag.
_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_MAX_ACCEPT_LANGUAGE = 1000  # longer headers are read no further
_MAX_RANGES = 20


def N_(message: str) -> str:
    """Marks catalogue data (a label, a title) for extraction; it is translated where shown."""
    return message


def supported(tag: str) -> str | None:
    """The supported locale a BCP 47 tag asks for (``de-AT`` → ``de``), or None."""
    if len(tag) > 35 or not _TAG.fullmatch(tag):
        return None
    language = re.split(r"[-_]", tag, maxsplit=1)[0].lower()
    return language if language in SUPPORTED_LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """The best supported match for an ``Accept-Language`` header (RFC 9110 §12.5.4): the
    highest weight wins, then the earliest; English when nothing matches."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language[:_MAX_ACCEPT_LANGUAGE].split(",")):
        if position >= _MAX_RANGES:
            break
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if not 0 < weight <= 1:
            continue  # q=0 means "not this one"; a malformed weight counts for nothing
        tag = tag.strip()
        locale = DEFAULT_LOCALE if tag == "*" else supported(tag)
        if locale is not None:
            ranges.append((-weight, position, locale))
    return min(ranges)[2] if ranges else DEFAULT_LOCALE


class Words:
    """One language's words, dates and numbers. Messages use ``%(name)s`` placeholders, so
    gettext tools (and tests/i18n) can check that every translation keeps them."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._translations = _translations(locale)

    def gettext(self, message: str, **params: object) -> str:
        text = self._translations.gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, count: int, **params: object) -> str:
        """A message with a count: ``%(count)s`` is the count, written for the locale."""
        text = self._translations.ngettext(singular, plural, count)
        return text % {"count": self.integer(count), **params}

    def in_sentence(self, label: str) -> str:
        """A catalogue label inside a sentence: German keeps its nouns capitalised."""
        return label if self.locale == "de" else label.lower()

    def date(self, day: date, format: str = "long") -> str:
        return format_date(day, format=format, locale=self.locale)

    def integer(self, number: int) -> str:
        return format_decimal(number, locale=self.locale)

    def decimal(self, number: float, places: int = 1) -> str:
        return format_decimal(number, format="#,##0." + "0" * places, locale=self.locale)

    def percent(self, fraction: float) -> str:
        return format_percent(fraction, locale=self.locale)


@cache
def _translations(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)


@cache
def words(locale: str | None) -> Words:
    """The words of a locale, or English for an unknown or missing one."""
    return Words(supported(locale or "") or DEFAULT_LOCALE)
