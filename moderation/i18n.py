"""Languages: one set of gettext catalogues for every word the service shows.

The catalogues are moderation/translations/<lang>/LC_MESSAGES/messages.po. The server's
pages (the no-JavaScript thread page, /moderate) translate through Flask-Babel; the two
scripts get the same catalogues compiled to JavaScript by `js_catalogue`: embed.js has every
language inlined when it is served, /moderate loads its one language from
/moderate/i18n/<lang>.js. The .po files are the source: they are compiled in memory on first
use, so no .mo file is ever built or committed.

Adding a language
-----------------
1. ``python -m moderation.i18n init xx`` writes moderation/translations/xx/LC_MESSAGES/
   messages.po holding every message the service shows (Babel's extractors find them as
   moderation/translations/babel.cfg says: templates, Python, embed.js and moderate.js) and
   the language's CLDR plural rule as its Plural-Forms header.
2. Translate every entry, each plural form too (Arabic has six), keeping the ``%(name)s``
   placeholders; ``%(num)s`` is the count, already in the reader's digits.
3. ``python -m moderation.i18n check`` (and tests/test_i18n.py) fail while an entry is
   missing, empty or fuzzy. Restart the service and the language is there: the widget takes
   it from data-lang="xx", the host page's <html lang> or the browser's languages; the
   no-JS page from ?lang=xx or Accept-Language; /moderate from its language picker.
   Right to left follows from the language (CLDR's character order); so do plural rules,
   digits and, in the browser, the calendar.

After changing wording in the code, ``python -m moderation.i18n update`` extracts the
messages again and merges them into every catalogue: a new message arrives empty (or fuzzy,
from a similar old one) for a translator; English is filled in from the source text.

Digits: Babel formats numbers in a locale's numbering system but prints dates with 0-9, so
`localise_digits` swaps in the locale's own digits (Persian ۰-۹). Calendar: Babel only has
the Gregorian calendar, so the no-JS page dates Persian comments in Gregorian months with
Persian digits; the widget and /moderate use Intl, which gives fa its Solar Hijri calendar.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from functools import cache, cached_property
from io import BytesIO
from pathlib import Path
from typing import Any

import flask_babel
from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal
from babel.plural import to_gettext, to_javascript
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, request
from markupsafe import Markup

from moderation.config import ConfigError

PACKAGE = Path(__file__).parent
TRANSLATIONS = PACKAGE / "translations"
MAPPING = TRANSLATIONS / "babel.cfg"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
COMMENT_TAGS = ("TRANSLATORS:",)
# gettext's plural indices in the order babel.plural.to_gettext numbers them; the JavaScript
# rule (babel.plural.to_javascript) answers a CLDR category, looked up in this order.
PLURAL_TAGS = ("zero", "one", "two", "few", "many", "other")
# The zero of each numbering system our languages use (CLDR numberingSystems): Babel knows
# a locale's system by name but prints 0-9 in dates. A system missing here keeps 0-9.
_ZEROS = {"latn": "0", "arab": "\u0660", "arabext": "\u06f0", "deva": "\u0966", "beng": "\u09e6"}
# Characters that reorder the text around them; a name never needs them to be read.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,5}")


def N_(message: str) -> str:
    """Marks `message` for the catalogues; it is translated where it is shown."""
    return message


# What the API says about a field, shown beside it in the forms. The widget and the no-JS page
# look these up in the catalogue; a message not listed here stays in English.
API_MESSAGES = (
    N_("Not a valid email address."),
    N_("Not a valid http or https URL."),
    N_("Must not be blank."),
    N_("Missing data for required field."),
    N_("Must not contain control characters or line breaks."),
    N_("Must not contain control characters."),
    N_("Must be valid Unicode text (no lone surrogates)."),
    N_("Not a valid string."),
    N_("Length must be between 1 and 245."),
    N_("Length must be between 1 and 254."),
    N_("Longer than maximum length 245."),
    N_("Longer than maximum length 200."),
    # moderation/limits.py: the answers to a duplicate and to a client at its cap.
    N_("Duplicate comment detected; it looks as though you've already said that!"),
    N_(
        "Too many of your comments are waiting for moderation. Nothing was stored: please try "
        "again later."
    ),
)


# --- catalogues --------------------------------------------------------------------------


@cache
def languages() -> tuple[str, ...]:
    """The languages that have a catalogue, the source language first."""
    found = sorted(path.parents[1].name for path in TRANSLATIONS.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple(sorted(found, key=lambda lang: lang != SOURCE_LANGUAGE))


def catalogue_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalogue(lang: str) -> Catalog:
    with catalogue_path(lang).open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


@cache
def translations(lang: str) -> Translations:
    """`lang`'s catalogue compiled in memory; fuzzy entries are left out, as msgfmt does."""
    compiled = BytesIO()
    write_mo(compiled, catalogue(lang))
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def plural_forms(lang: str) -> str:
    """The Plural-Forms header for `lang`, from CLDR, in the order the JavaScript rule uses."""
    return to_gettext(Locale.parse(lang).plural_form)


# --- which language ----------------------------------------------------------------------


def resolve(tag: str | None) -> Locale | None:
    """The locale for a language tag a catalogue serves ("fa-IR" -> fa_IR, "ar_EG" -> ar_EG,
    "fa-XX" -> fa), or None ("xx", "*", junk)."""
    tag = (tag or "").strip().replace("_", "-")
    if not _TAG.fullmatch(tag):
        return None
    language = tag.split("-")[0].lower()
    if language not in languages():
        return None
    try:
        return Locale.parse(tag, sep="-")
    except (ValueError, UnknownLocaleError):
        return Locale.parse(language)  # a region or script Babel does not know


def choose(*candidates: str | None, default: str = SOURCE_LANGUAGE) -> Locale:
    """The first candidate a catalogue serves, else `default`."""
    for tag in candidates:
        locale = resolve(tag)
        if locale is not None:
            return locale
    return resolve(default) or Locale.parse(SOURCE_LANGUAGE)


def language_tag(locale: Locale) -> str:
    """BCP 47, as HTML's lang attribute and Intl want it: fa_IR -> "fa-IR"."""
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


def direction(locale: Locale) -> str:
    return "rtl" if locale.character_order == "right-to-left" else "ltr"


def language_names() -> list[tuple[str, str]]:
    """(code, name in its own language) for a language picker: "fa" -> "فارسی"."""
    return [(lang, Locale.parse(lang).get_display_name(lang) or lang) for lang in languages()]


def default_language() -> str:
    """The request's site's default language (moderation/sites.py), else the deployment's."""
    site = g.get("site")
    if site is not None and site.default_language:
        return site.default_language
    return current_app.extensions["i18n"]["default"]


def prefer(*tags: str | None) -> None:
    """Languages this request asked for itself (?lang=, a cookie): before Accept-Language."""
    g.i18n_preferred = tuple(tag for tag in tags if tag)
    flask_babel.refresh()


def current_locale() -> Locale:
    return flask_babel.get_locale() or Locale.parse(SOURCE_LANGUAGE)


def _select_locale() -> str:
    accepted = [value for value, _quality in request.accept_languages]
    return str(choose(*g.get("i18n_preferred", ()), *accepted, default=default_language()))


class _CatalogueDomain(flask_babel.Domain):
    """Flask-Babel's translations, from the .po catalogues compiled in memory (no .mo files)."""

    def get_translations(self) -> NullTranslations:
        locale = flask_babel.get_locale()
        if locale is None or locale.language not in languages():
            return NullTranslations()
        return translations(locale.language)


class _Babel(flask_babel.Babel):
    @cached_property
    def domain_instance(self) -> flask_babel.Domain:  # type: ignore[override]
        return _CatalogueDomain()


def init_app(app: Flask, settings: Any) -> None:
    """Flask-Babel for the app's templates, with `settings.default_language` as the fallback."""
    default = resolve(settings.default_language)
    if default is None:
        raise ConfigError(
            f"MODERATION_DEFAULT_LANGUAGE: {settings.default_language!r} has no catalogue; "
            f"choose one of {', '.join(languages())}"
        )
    app.extensions["i18n"] = {"default": language_tag(default)}
    _Babel(app, default_locale=str(default), locale_selector=_select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    app.context_processor(_template_globals)


def _template_globals() -> dict[str, Any]:
    locale = current_locale()
    return {
        "lang": language_tag(locale),
        "dir": direction(locale),
        "number": lambda value: number(value, locale),
        "bdi": bdi,
        "tr": translate_api_message,
    }


# --- showing things in a language ----------------------------------------------------------


def localise_digits(text: str, locale: Locale) -> str:
    zero = _ZEROS.get(locale.default_numbering_system, "0")
    if zero == "0":
        return text
    return text.translate({ord("0") + digit: ord(zero) + digit for digit in range(10)})


def number(value: int | float, locale: Locale) -> str:
    """A count as the locale writes it: 1234 -> "۱٬۲۳۴" in Persian."""
    return localise_digits(format_decimal(value, locale=locale, numbering_system="default"), locale)


def display_name(name: str) -> str:
    """A commenter's name without bidi controls: it cannot reorder or disguise itself."""
    return BIDI_CONTROLS.sub("", name)


def bdi(name: str) -> Markup:
    """A name isolated from the text around it, whatever its direction (escaped)."""
    return Markup("<bdi>%s</bdi>") % display_name(name)


def translate_api_message(message: str) -> str:
    """An API field message in the page's language when the catalogue has it (API_MESSAGES)."""
    return flask_babel.gettext(message)


# --- the scripts' catalogues -------------------------------------------------------------


def script_messages(path: Path) -> tuple[str, ...]:
    """The msgids a script passes to _() and ngettext(), found by Babel's JS extractor."""
    with path.open("rb") as source:
        found = extract("javascript", source, keywords=DEFAULT_KEYWORDS, comment_tags=())
        ids = (message if isinstance(message, str) else message[0] for _, message, _, _ in found)
        return tuple(dict.fromkeys(ids))


def _plural_js(lang: str) -> str:
    rule = Locale.parse(lang).plural_form
    order = [tag for tag in PLURAL_TAGS if tag in rule.tags | {"other"}]
    return (
        "(function (rule, order) { return function (n) { return order.indexOf(rule(n)); }; })"
        f"({to_javascript(rule)}, {json.dumps(order)})"
    )


def js_catalogue(lang: str, msgids: Iterable[str]) -> str:
    """`lang`'s translations of `msgids` as a JavaScript object literal: its direction, its
    plural rule (a function from a count to a form's index) and the messages, a plural
    entry's forms in the catalogue's order. Untranslated entries are left out."""
    messages: dict[str, str | list[str]] = {}
    for msgid in msgids:
        message = catalogue(lang).get(msgid)
        if message is None or message.fuzzy:
            continue
        if isinstance(message.string, (tuple, list)):
            if all(message.string):
                messages[msgid] = list(message.string)
        elif message.string:
            messages[msgid] = message.string
    text = json.dumps(messages, ensure_ascii=False, sort_keys=True, indent=0)
    return (
        f'{{"dir": "{direction(Locale.parse(lang))}", "plural": {_plural_js(lang)}, '
        f'"messages": {text}}}'
    )


# --- keeping the catalogues up to date: python -m moderation.i18n init|update|check ---------


def extract_messages() -> Catalog:
    """Every message of the templates, Python and scripts named in babel.cfg."""
    with MAPPING.open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    template = Catalog(project="moderation", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        PACKAGE,
        method_map,
        options_map,
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _save(catalog: Catalog, lang: str) -> None:
    name = Locale.parse(lang).english_name
    catalog.header_comment = (
        f"# {name} words of the moderation service: the source the service compiles when it\n"
        "# starts (see moderation/i18n.py). Edit this file; no .mo file is kept."
    )
    catalog.version, catalog.msgid_bugs_address = "1", ""
    catalog.last_translator = catalog.language_team = f"moderation ({name})"
    catalog.mime_headers = [("Plural-Forms", plural_forms(lang))]
    catalog.fuzzy = False  # the header: it is ours, not a guess
    if lang == SOURCE_LANGUAGE:
        for message in catalog:
            if message.id:
                message.string = message.id
                message.flags.discard("fuzzy")
    path = catalogue_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, ignore_obsolete=True, include_previous=True)


_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def problems(lang: str) -> list[str]:
    """What keeps `lang`'s catalogue from being complete: missing, empty or fuzzy entries."""
    catalog = catalogue(lang)
    found = []
    if catalog.plural_forms != plural_forms(lang):
        found.append(f"Plural-Forms is {catalog.plural_forms!r}, CLDR says {plural_forms(lang)!r}")
    for message in extract_messages():
        if not message.id:
            continue
        own = catalog.get(message.id, message.context)
        strings = () if own is None else own.string
        strings = strings if isinstance(strings, (tuple, list)) else (strings,)
        ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
        if own is None or own.fuzzy or not strings or not all(strings):
            state = "missing" if own is None else "fuzzy" if own.fuzzy else "untranslated"
            found.append(f"{state}: {message.id!r}")
        elif lang != SOURCE_LANGUAGE and any(
            text in ids and _ENGLISH_WORD.search(text) for text in strings
        ):
            # What a merge or a hurried edit leaves: the English source copied as it is.
            found.append(f"still English: {message.id!r}")
    return found


def main(argv: list[str]) -> int:
    command, *rest = argv or ["check"]
    if command == "init" and len(rest) == 1:
        catalog = Catalog(locale=rest[0], project="moderation", domain=DOMAIN)
        catalog.update(extract_messages())
        _save(catalog, rest[0])
    elif command == "update":
        template = extract_messages()
        for lang in languages():
            catalog = catalogue(lang)
            catalog.update(template)
            _save(catalog, lang)
    elif command == "check":
        failures = {lang: problems(lang) for lang in languages()}
        for lang, found in failures.items():
            print(f"{lang}: " + ("complete" if not found else "\n  ".join(["", *found])))
        return 1 if any(failures.values()) else 0
    else:
        print("usage: python -m moderation.i18n init LANG | update | check", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
