"""Text folding for features and word-list matching (never for display).

Persian and Arabic readers type the same word many ways: Arabic or Persian keyboards
(ي/ی, ك/ک), with or without hamza and madda on alef, with diacritics or tatweel for
emphasis, digits in three scripts, the zero-width non-joiner (ZWNJ, U+200C) used, omitted
or doubled, and invisible bidi marks pasted along with the text. Without folding, each
spelling is a separate feature the seed corpus may never have seen, and a word-list
entry misses the same word typed on another keyboard.

What `normalize` does, in order:

1. NFKC: Arabic presentation forms (ﻻ, ﺑ ...) become ordinary letters, full-width Latin
   becomes ASCII, a decomposed alef + hamza becomes one letter (so step 2 folds it).
2. One character table: Arabic yeh and alef maksura (ي ى) -> Persian yeh ی, Arabic kaf
   ك -> Persian keheh ک, heh with yeh above ۀ -> ه (the ezafe is a diacritic in effect);
   by default alef variants (أ إ آ ٱ) -> ا and teh marbuta ة -> ه; Persian and
   Arabic-Indic digits -> ASCII digits, with the Arabic decimal and thousands separators
   and percent sign; tatweel, Arabic diacritics (harakat U+064B-U+065F, superscript alef
   U+0670, Quranic marks) removed; bidi controls and the other invisible joiners/spaces
   (U+200B, U+2060, U+FEFF, soft hyphen) removed, since spammers hide them inside words.
3. ZWNJ kept only where it joins two word characters (inside "می‌خواهم"), one at a time:
   at a word's edge it means nothing and would only split one spelling into two.
4. NFKC again: step 2 can remove a mark or control that kept two characters apart.

The folds go toward the Persian letters because the Persian letters are what Persian text
should hold, and for Arabic text the mapping is one-to-one, so nothing is lost to the
classifier. Folding alef and teh marbuta merges a few real pairs ("كتابة" writing /
"كتابه" his book) but users write them interchangeably, hamza on alef especially, and
for spam the merged spellings matter far more than the rare pair.

The result is idempotent: normalize(normalize(t)) == normalize(t) (there is a property
test). Case is left alone; `feature_text` lowercases for the vectorizers.
"""

from __future__ import annotations

import re
import unicodedata

ZWNJ = "\u200c"

# A word for the vectorizer: two or more word characters, a ZWNJ allowed between two of
# them, so "به‌روزرسانی" stays one token. On text without a ZWNJ this finds exactly what
# scikit-learn's default r"(?u)\b\w\w+\b" finds.
WORD_TOKEN_PATTERN = r"\w(?:\u200c?\w)+"

_ALEF_VARIANTS = "\u0623\u0625\u0622\u0671"  # أ إ آ ٱ
_TEH_MARBUTA = "\u0629"  # ة

_ALWAYS: dict[int, str | None] = {
    0x064A: "\u06cc",  # ي Arabic yeh -> ی
    0x0649: "\u06cc",  # ى alef maksura -> ی (Egyptian and Persian typing mix it with yeh)
    0x0643: "\u06a9",  # ك Arabic kaf -> ک
    0x06C0: "\u0647",  # ۀ heh with yeh above -> ه
    0x066B: ".",  # ٫ Arabic decimal separator
    0x066C: ",",  # ٬ Arabic thousands separator
    0x066A: "%",  # ٪ Arabic percent sign
    0x0640: None,  # tatweel: stretches a word for emphasis ("جمـــیل")
    0x0670: None,  # superscript alef
    0x00AD: None,  # soft hyphen
    0x200B: None,  # zero-width space
    0x2060: None,  # word joiner
    0xFEFF: None,  # zero-width no-break space / BOM
    0x061C: None,  # Arabic letter mark
    0x200E: None,  # left-to-right mark
    0x200F: None,  # right-to-left mark
}
_ALWAYS.update({cp: str(cp - 0x0660) for cp in range(0x0660, 0x066A)})  # ٠-٩
_ALWAYS.update({cp: str(cp - 0x06F0) for cp in range(0x06F0, 0x06FA)})  # ۰-۹
for _first, _last in (
    (0x064B, 0x065F),  # harakat, shadda, sukun, hamza and madda marks
    (0x0610, 0x061A),  # honorifics and small high marks
    (0x06D6, 0x06DC),  # Quranic annotation marks
    (0x06DF, 0x06E4),
    (0x06E7, 0x06E8),
    (0x06EA, 0x06ED),
    (0x08D3, 0x08E1),  # extended Arabic marks
    (0x08E3, 0x08FF),
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2066, 0x2069),  # bidi isolates
):
    _ALWAYS.update(dict.fromkeys(range(_first, _last + 1)))


def _table(fold_alef: bool, fold_teh_marbuta: bool) -> dict[int, str | None]:
    table = dict(_ALWAYS)
    if fold_alef:
        table.update({ord(c): "\u0627" for c in _ALEF_VARIANTS})
    if fold_teh_marbuta:
        table[ord(_TEH_MARBUTA)] = "\u0647"
    return table


_TABLES = {(a, t): _table(a, t) for a in (False, True) for t in (False, True)}

# Runs collapse first, so a lone ZWNJ's neighbours are what decides whether it joins letters.
# Written to start with the ZWNJ itself, so the engine jumps from one to the next.
_LOOSE_ZWNJ = re.compile(r"\u200c(?:(?<!\w\u200c)|(?!\w))")
_ZWNJ_RUN = re.compile(r"\u200c{2,}")


def normalize(text: str, *, fold_alef: bool = True, fold_teh_marbuta: bool = True) -> str:
    """`text` folded for comparison: see the module docstring. Not for display."""
    if text.isascii():  # most comments: nothing here can change them
        return text
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_TABLES[fold_alef, fold_teh_marbuta])
    if ZWNJ in text:
        text = _LOOSE_ZWNJ.sub("", _ZWNJ_RUN.sub(ZWNJ, text))
    return unicodedata.normalize("NFKC", text)


def feature_text(text: str) -> str:
    """The vectorizers' preprocessor: normalized and lowercased.

    A custom preprocessor replaces scikit-learn's own, which only lowercased, so the
    lowercasing is done here. The lean scorer reads the same function from the fitted
    vectorizer, so scoring and training cannot drift apart.
    """
    return normalize(text).lower()
