"""What a comment's text and metadata tell about spam, as scikit-learn transformers.

Every transformer takes a sequence of dicts with `content`, `author` and `url`, so one
record flows through the whole pipeline and the service never builds arrays by hand.

Every pattern here runs on text a stranger typed, so each one is linear in the length of
the text: a match may only start where a run of its characters starts (a lookbehind),
and runs are consumed possessively (`++`, `*+`), so no position is scanned over and over.
On 100,000 characters of digits, dots or "www." they take milliseconds, not minutes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

LINK_RE = re.compile(
    r"(?:https?://|www\.)\S++"
    # No "<" in the attributes: the scan from one "<a " stops where the next tag starts.
    r"|<a\s[^<>]*href"
    r"|\[url[=\]]"
    r"|(?<![\w-])[\w-]++\s*+(?:\.|\bdot\b)\s*+(?:com|net|org|info|biz|ru|xyz|top|io|co)\b",
    re.IGNORECASE,
)
_URL_HOST_RE = re.compile(r"(?:https?://|www\.)([^/\s\"'<>]++)", re.IGNORECASE)
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++\.[\w.-]+")
_MONEY_RE = re.compile(
    r"[$€£]\s?\d|(?<!\d)\d++\s?(?:usd|dollars|k/month|per day|per week)", re.IGNORECASE
)
_NOT_ALNUM_RE = re.compile(r"[^0-9A-Za-z]++")
# Text the identity vectorizer finds a word in: its tokens are two or more word characters.
_HAS_TOKEN_RE = re.compile(r"\w\w")
# The identity text of a comment whose author and website give no word. Without it, data
# with no authors (a `label,text` file) leaves the identity vectorizer without a
# vocabulary and training fails. It only enters a model trained on such comments.
NO_IDENTITY = "__no_identity__"

# Phone numbers: digit groups with the separators people write between them. `\d` is
# every Unicode decimal digit (category Nd, as str.isdecimal), so Persian ۰۹۱۲ and
# Arabic-Indic ٠٥٠ digits count. A candidate never starts inside a word, a number, a
# path or a query string (the lookbehinds); `_is_phone` then judges its shape.
_PHONE_SEP = r"(?:[ \u00a0]?[-.()][ \u00a0]?|[ \u00a0])"
_PHONE_CANDIDATE_RE = re.compile(
    r"(?<![\w/\\=?&#%@~$€£+.\-])(?<!\d[,:٫٬])"
    rf"(?:\+[ \u00a0]?)?\(?\d++(?:{_PHONE_SEP}\d++)*+"
)
_DIGITS_RE = re.compile(r"\d++")
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 9, 15
# One unbroken run of digits longer than this without a "+" is an id or a millisecond
# timestamp (1733093418000), not a number someone is asked to call.
_MAX_BARE_PHONE_DIGITS = 12
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_DATE_SHAPES = ([4, 2, 2], [2, 2, 4])


def _is_phone(text: str, start: int, end: int) -> bool:
    """Whether the candidate text[start:end] is written as a phone number."""
    after = text[end : end + 2]
    if after:
        first = after[0]
        if first.isalnum() or first in "_=&#%@~\\":  # part of a word, id, hash or query
            return False
        # "22:50", "3,50", "0199.log", "1733093418-slug": it goes on as something else.
        if first in ".,:٫٬-" and len(after) == 2 and (after[1].isalnum() or after[1] == "_"):
            return False
    if text[max(0, start - 2) : start].rstrip()[-1:] in ("$", "€", "£"):  # "$ 1 299 000 000"
        return False
    candidate = text[start:end]
    groups = _DIGITS_RE.findall(candidate)
    digits = sum(len(g) for g in groups)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
        return False
    if len(groups) == 1:
        return candidate.startswith("+") or digits <= _MAX_BARE_PHONE_DIGITS
    if max(len(g) for g in groups) > _MAX_BARE_PHONE_DIGITS:
        return False
    # Lists of small numbers ("1 2 3 4 5 6 7 8 9", "0.5 0.25 0.125") are not phones; a
    # country code ("+1 800 ...") is the one single digit a phone number usually has.
    if sum(len(g) == 1 for g in groups) > 1:
        return False
    lengths = [len(g) for g in groups]
    seps = [s.strip() for s in _DIGITS_RE.split(candidate)[1:-1]]
    if all(_YEAR_RE.fullmatch(g) for g in groups):  # "2012 2013 2014"
        return False
    # Dates: 2026-12-01 and 01.12.2026, whatever follows.
    if len(groups) >= 3 and seps[0] == seps[1] in ("-", ".") and lengths[:3] in _DATE_SHAPES:
        return False
    if "." in seps:
        # Dotted phone numbers are 800.555.0199 or 06.12.34.56.78. A decimal (3.14159),
        # an IP address (192.168.100.200) or a version (10.0.19045.3803) is not.
        if any(s != "." for s in seps) or len(groups) < 3:
            return False
        if any(not 2 <= n <= 4 for n in lengths[1:]) or lengths[0] > 4:
            return False
        if len(groups) == 4 and max(lengths) <= 3:
            return False
    return True


def has_phone_number(text: str) -> bool:
    """Whether `text` gives a phone number (9 to 15 digits written as one)."""
    for match in _PHONE_CANDIDATE_RE.finditer(text):
        start, end = match.span()
        if _is_phone(text, start, end):
            return True
        # "+1 800 930 9800 24x7", "0912 345 6789 12:30": the last group may belong to
        # what follows it; the number before it is judged once more on its own.
        last = end
        while last > start and text[last - 1].isdecimal():
            last -= 1
        if last - 1 > start and text[last - 1] in " \u00a0" and _is_phone(text, start, last - 1):
            return True
    return False


def content_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    return [r.get("content") or "" for r in records]


def _url_words(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # "http://[oops", a netloc NFKC rejects: no words to take from it
        return ""
    return _NOT_ALNUM_RE.sub(" ", f"{host} {parts.path}")


def identity_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    """Author name and website, split into words: keyword names and shop URLs stand out."""
    out = []
    for r in records:
        url = r.get("url") or ""
        text = f"{r.get('author') or ''} {_url_words(url) if url else ''}"
        # Appended, not substituted: a token pattern that finds more than \w\w loses nothing.
        out.append(text if _HAS_TOKEN_RE.search(text) else f"{text} {NO_IDENTITY}")
    return out


def link_hosts(text: str) -> set[str]:
    return {m.lower().removeprefix("www.") for m in _URL_HOST_RE.findall(text)}


def count_links(text: str) -> int:
    return len(LINK_RE.findall(text))


class CommentMetadata(TransformerMixin, BaseEstimator):
    """Numeric signals about what a comment carries: links, contact details, money, length.

    Stateless: `fit` learns nothing. Only payload signals that mean the same thing wherever
    comments come from are kept. Style and author-shape features (capitals, exclamation
    marks, repeated or non-letter characters, digits, author word count or keyword-like
    names, "has a website") were dropped: trained on the seed corpus they described its
    writing style rather than spam and marked ordinary comments from other sites as spam
    (benchmarks/model_comparison.md). The identity branch still reads author and website.
    """

    names = (
        "links",
        "link_domains",
        "url_in_author",
        "phone_number",
        "email_in_text",
        "money",
        "log_length",
    )

    def fit(self, records: Sequence[Mapping[str, str]], y: object = None) -> CommentMetadata:
        self.n_features_in_ = len(self.names)
        return self

    def transform(self, records: Sequence[Mapping[str, str]]) -> np.ndarray:
        return np.array([self.row(r) for r in records], dtype=np.float64).reshape(
            -1, len(self.names)
        )

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(list(self.names), dtype=object)

    @staticmethod
    def row(record: Mapping[str, str]) -> list[float]:
        text = record.get("content") or ""
        author = record.get("author") or ""
        return [
            math.log1p(count_links(text)),
            math.log1p(len(link_hosts(text))),
            float(bool(LINK_RE.search(author))),
            float(has_phone_number(text)),
            float(bool(_EMAIL_RE.search(text))),
            float(bool(_MONEY_RE.search(text))),
            math.log1p(len(text)),
        ]
