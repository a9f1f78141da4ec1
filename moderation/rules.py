"""Hard rules that can force an outcome whatever the classifier says."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from classifier.features import count_links
from moderation.formstamp import stamp_age


@dataclass(frozen=True)
class RuleHit:
    name: str
    outcome: str  # the least severe status this rule allows: "pending" or "spam"
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.name, "outcome": self.outcome, "detail": self.detail}


def check_rules(
    comment: dict[str, str | None],
    max_links: int,
    *,
    word_list: tuple[str, ...] = (),
    min_fill_seconds: float = 0.0,
    stamp_key: str | bytes | None = None,
    now: float | None = None,
) -> list[RuleHit]:
    """The rules `comment` (content, author, url, honeypot, stamp) breaks, mildest allowed."""
    hits: list[RuleHit] = []
    if comment.get("honeypot"):
        hits.append(RuleHit("honeypot", "spam", "a field hidden from people was filled in"))
    links = count_links(comment.get("content") or "")
    if links >= max_links:
        # As WordPress does: many links is the classic mark of link spam, so a person looks.
        hits.append(RuleHit("too_many_links", "pending", f"{links} links (limit {max_links})"))
    stamp = comment.get("stamp")
    if stamp and stamp_key is not None:
        hit = _too_fast(stamp, stamp_key, min_fill_seconds, now)
        if hit:
            hits.append(hit)
    if word_list:
        texts = [comment.get(name) or "" for name in ("author", "url", "content")]
        matched = matching_words(texts, word_list)
        if matched:
            # The moderator page highlights these: the words as listed, after "matched: ".
            hits.append(RuleHit("word_list", "pending", "matched: " + ", ".join(matched)))
    return hits


def _too_fast(
    stamp: str, key: str | bytes, min_fill_seconds: float, now: float | None
) -> RuleHit | None:
    # People need a few seconds to write a comment; scripts post as soon as they get the form.
    age = stamp_age(stamp, key, now)
    if age is None:
        return RuleHit("too_fast", "pending", "the form stamp is invalid or forged")
    if age < min_fill_seconds:
        return RuleHit(
            "too_fast",
            "pending",
            f"sent {max(age, 0.0):.1f} s after the form was shown (minimum {min_fill_seconds:g} s)",
        )
    return None


@lru_cache(maxsize=8)
def _word_patterns(word_list: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # Whole words: no letter, digit or underscore right before or after ("ass" spares "class").
    # One pattern per entry, so overlapping entries ("free", "free money") are all reported.
    return tuple(
        re.compile(
            r"(?<!\w)" + r"\s+".join(re.escape(part) for part in word.split()) + r"(?!\w)",
            re.IGNORECASE,
        )
        for word in word_list
    )


def matching_words(texts: list[str], word_list: tuple[str, ...]) -> list[str]:
    """The entries of `word_list` found in any of `texts`, in list order."""
    patterns = _word_patterns(word_list)
    return [
        word
        for word, pattern in zip(word_list, patterns, strict=True)
        if any(pattern.search(text) for text in texts)
    ]
