"""What a comment's text and metadata tell about spam, as scikit-learn transformers.

Every transformer takes a sequence of dicts with `content`, `author` and `url`, so one
record flows through the whole pipeline and the service never builds arrays by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

LINK_RE = re.compile(
    r"(?:https?://|www\.)\S+|<a\s[^>]*href|\[url[=\]]|\b[\w-]+\s*(?:\.|\bdot\b)\s*(?:com|net|org|info|biz|ru|xyz|top|io|co)\b",
    re.IGNORECASE,
)
_URL_HOST_RE = re.compile(r"(?:https?://|www\.)([^/\s\"'<>]+)", re.IGNORECASE)
_PHONE_RE = re.compile(r"(?:\+?\d[\s.()-]?){9,}")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_REPEAT_RE = re.compile(r"(.)\1{3,}")
_MONEY_RE = re.compile(r"[$€£]\s?\d|\d+\s?(?:usd|dollars|k/month|per day|per week)", re.IGNORECASE)


def content_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    return [r.get("content") or "" for r in records]


def identity_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    """Author name and website, split into words: keyword names and shop URLs stand out."""
    out = []
    for r in records:
        url = r.get("url") or ""
        parts = urlsplit(url) if url else None
        url_words = f"{parts.hostname or ''} {parts.path}" if parts else ""
        out.append(f"{r.get('author') or ''} {re.sub(r'[^0-9A-Za-z]+', ' ', url_words)}")
    return out


def link_hosts(text: str) -> set[str]:
    return {m.lower().removeprefix("www.") for m in _URL_HOST_RE.findall(text)}


def count_links(text: str) -> int:
    return len(LINK_RE.findall(text))


class CommentMetadata(TransformerMixin, BaseEstimator):
    """Numeric signals spam betrays beyond its words. Stateless: `fit` learns nothing."""

    names = (
        "links",
        "link_domains",
        "url_in_author",
        "has_website",
        "caps_ratio",
        "repeated_chars",
        "non_letter_ratio",
        "log_length",
        "phone_number",
        "email_in_text",
        "author_words",
        "author_keyword_like",
        "exclamations",
        "money",
        "digit_ratio",
    )

    def fit(self, records: Sequence[Mapping[str, str]], y: object = None) -> CommentMetadata:
        self.n_features_in_ = len(self.names)
        return self

    def transform(self, records: Sequence[Mapping[str, str]]) -> np.ndarray:
        return np.array([self.row(r) for r in records], dtype=np.float64)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(list(self.names), dtype=object)

    @staticmethod
    def row(record: Mapping[str, str]) -> list[float]:
        text = record.get("content") or ""
        author = record.get("author") or ""
        url = record.get("url") or ""
        letters = sum(ch.isalpha() for ch in text)
        upper = sum(ch.isupper() for ch in text)
        length = max(len(text), 1)
        author_words = author.split()
        return [
            math.log1p(count_links(text)),
            math.log1p(len(link_hosts(text))),
            float(bool(LINK_RE.search(author))),
            float(bool(url)),
            upper / letters if letters else 0.0,
            math.log1p(len(_REPEAT_RE.findall(text))),
            1.0 - letters / length,
            math.log1p(len(text)),
            float(bool(_PHONE_RE.search(text))),
            float(bool(_EMAIL_RE.search(text))),
            math.log1p(len(author_words)),
            # "Cheap Flights London": several words, none of them a name-like single token.
            float(len(author_words) >= 3 and not any(w.endswith(".") for w in author_words)),
            math.log1p(text.count("!")),
            float(bool(_MONEY_RE.search(text))),
            sum(ch.isdigit() for ch in text) / length,
        ]
