"""Every language Tend speaks has every message, whole: translated, with the same
placeholders, every plural form, and a compiled catalogue that matches its source.

The messages are extracted from app/ here, as `make i18n` does, so a message added to the
code without its translations fails this test in every language."""

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app import i18n
from app.bids.kinds import CATALOGUE
from app.nudges import texts
from app.planning.catalogue import GESTURES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [locale for locale in i18n.SUPPORTED_LOCALES if locale != i18n.DEFAULT_LOCALE]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


def _source_messages() -> dict[str | tuple[str, ...], str]:
    """What the code asks to translate, by message id (as `make i18n` extracts it)."""
    found: dict[str | tuple[str, ...], str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT / "app", method_map=[("**.py", "python")]
    ):
        found[message] = f"app/{filename}:{lineno}"
    return found


def _catalogue(locale: str, name: str = "tend.po") -> Catalog:
    with open(i18n.LOCALE_DIR / locale / "LC_MESSAGES" / name, "rb") as f:
        return read_po(f, locale=locale) if name.endswith(".po") else read_mo(f)


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _forms(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def test_the_template_holds_what_the_code_asks_for() -> None:
    with open(i18n.LOCALE_DIR / "tend.pot", "rb") as f:
        template = {_key(m.id) for m in read_po(f) if m.id}
    source = {_key(m) for m in _source_messages()}
    assert source - template == set(), "new messages: run `make i18n` and translate them"
    assert template - source == set(), "messages gone from the code: run `make i18n`"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated(locale: str) -> None:
    catalogue = _catalogue(locale)
    source = _source_messages()
    missing = [
        where
        for message_id, where in source.items()
        if (m := catalogue.get(_key(message_id))) is None
        or m.fuzzy
        or not all(_forms(m.string))
        or not _forms(m.string)
    ]
    assert missing == [], f"{locale}: untranslated or fuzzy messages at {missing}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_placeholders_and_plural_forms_are_whole(locale: str) -> None:
    catalogue = _catalogue(locale)
    assert catalogue.plural_forms and catalogue.num_plurals >= 2
    broken = []
    for m in catalogue:
        if not m.id:
            continue
        ids = _forms(m.id)
        wanted = {tuple(sorted(PLACEHOLDER.findall(text))) for text in ids}
        assert len(wanted) == 1, f"singular and plural ids differ in placeholders: {m.id}"
        strings = _forms(m.string)
        if m.pluralizable and len(strings) != catalogue.num_plurals:
            broken.append((m.id, f"{len(strings)} of {catalogue.num_plurals} plural forms"))
        for text in strings:
            if tuple(sorted(PLACEHOLDER.findall(text))) not in wanted:
                broken.append((m.id, text))
    # Babel's own checks too (python-format flags, plural counts).
    broken += [(m.id, str(errors)) for m, errors in catalogue.check()]
    assert broken == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalogue_is_its_source(locale: str) -> None:
    source = {_forms(m.id): _forms(m.string) for m in _catalogue(locale) if m.id}
    compiled = {_forms(m.id): _forms(m.string) for m in _catalogue(locale, "tend.mo") if m.id}
    assert compiled == source, "run `make i18n`: the .mo is older than the .po"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_app_reads_each_language(locale: str) -> None:
    t = i18n.words(locale)
    assert t.locale == locale
    assert t.gettext("Not found") != "Not found"
    assert {t.gettext(k.label) for k in CATALOGUE}.isdisjoint(
        {k.label for k in CATALOGUE}
        - {
            "Massage",
            "Date",
            "Question",
            "Compliment",  # the same word in some languages
        }
    )
    assert t.ngettext("%(count)s moment this week", "%(count)s moments this week", 1) != (
        t.ngettext("%(count)s moment this week", "%(count)s moments this week", 5)
    )


@pytest.mark.parametrize("locale", i18n.SUPPORTED_LOCALES)
def test_discreet_push_names_no_kind_and_no_gesture_in_any_language(locale: str) -> None:
    t = i18n.words(locale)
    kind_words = {t.gettext(k.label).lower() for k in CATALOGUE}
    for kind in CATALOGUE:
        words = texts.partner_bid("Alex", kind.label, discreet=True, locale=locale)
        lock_screen = f"{words.push_title} {words.push_body}".lower()
        assert not any(label in lock_screen for label in kind_words), (locale, lock_screen)
        assert "Alex" in words.push_body
        # The inbox, which only the signed-in partner reads, does name it.
        assert t.in_sentence(t.gettext(kind.label)) in words.title
    gesture = GESTURES[0]
    for words in (
        texts.daily_suggestion(gesture.text, discreet=True, locale=locale),
        texts.reconnect("Alex", gesture.text, discreet=True, locale=locale),
        texts.weekly_summary("Alex", 3, 0.5, 4.2, discreet=True, locale=locale),
    ):
        assert t.gettext(gesture.text) not in words.push_body
        assert words.push_title == "Tend"
        assert not re.search(r"\d", words.push_body), "no figures on a lock screen"


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr-CA", "fr"),
        ("pt-BR,es;q=0.4,en;q=0.3", "es"),
        ("en;q=0.2, fr;q=0.9", "fr"),
        ("es;q=0, de;q=0.1", "de"),
        ("*", "en"),
        ("ja", "en"),
        ("de;q=abc, fr", "fr"),
        ("x" * 5000, "en"),
        ("de-" + "A" * 40, "en"),
        (";;,,q=1,\u00e9\u00e8", "en"),
    ],
)
def test_accept_language_picks_the_best_language_tend_speaks(
    header: str | None, locale: str
) -> None:
    assert i18n.negotiate(header) == locale
