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
            float(bool(_PHONE_RE.search(text))),
            float(bool(_EMAIL_RE.search(text))),
            float(bool(_MONEY_RE.search(text))),
            math.log1p(len(text)),
        ]
