"""Hard rules that can force an outcome whatever the classifier says."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from classifier.features import count_links
from classifier.normalize import ZWNJ, normalize
from moderation.formstamp import stamp_age

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RuleHit:
    name: str
    outcome: str  # the least severe status this rule allows: "pending" or "spam"
    detail: str = ""
    # The detail's values, so a page can say it in its reader's language; `detail` is the
    # English sentence for logs, the API and records written before params existed.
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.name,
            "outcome": self.outcome,
            "detail": self.detail,
            "params": self.params,
        }


# WordPress matches its word lists against all of these (the email too: a word list is
# how a WordPress admin blocks one commenter).
WORD_FIELDS = ("author", "email", "url", "content", "ip", "user_agent")


def check_rules(
    comment: dict[str, str | None],
    max_links: int,
    *,
    word_list: tuple[str, ...] = (),
    disallowed_words: tuple[str, ...] = (),
    blocked_networks: tuple[Network, ...] = (),
    min_fill_seconds: float = 0.0,
    stamp_key: str | bytes | None = None,
    now: float | None = None,
) -> list[RuleHit]:
    """The rules `comment` (content, author, url, email, ip, user_agent, honeypot, stamp)
    breaks, each with the mildest outcome it allows."""
    hits: list[RuleHit] = []
    texts = [comment.get(name) or "" for name in WORD_FIELDS]
    blocked = _blocked_network(comment.get("ip"), blocked_networks)
    if blocked is not None:
        hits.append(
            RuleHit("blocked_ip", "spam", f"the address is in {blocked}", {"network": blocked})
        )
    if disallowed_words:
        matched = matching_words(texts, disallowed_words)
        if matched:
            hits.append(
                RuleHit(
                    "disallowed_words",
                    "spam",
                    "matched: " + ", ".join(matched),
                    {"words": matched},
                )
            )
    if comment.get("honeypot"):
        hits.append(RuleHit("honeypot", "spam", "a field hidden from people was filled in"))
    links = count_links(comment.get("content") or "")
    if links >= max_links:
        # As WordPress does: many links is the classic mark of link spam, so a person looks.
        hits.append(
            RuleHit(
                "too_many_links",
                "pending",
                f"{links} links (limit {max_links})",
                {"links": links, "limit": max_links},
            )
        )
    stamp = comment.get("stamp")
    if stamp and stamp_key is not None:
        hit = _too_fast(stamp, stamp_key, min_fill_seconds, now)
        if hit:
            hits.append(hit)
    if word_list:
        matched = matching_words(texts, word_list)
        if matched:
            # The moderator page highlights these: the words as listed, after "matched: ".
            hits.append(
                RuleHit(
                    "word_list", "pending", "matched: " + ", ".join(matched), {"words": matched}
                )
            )
    return hits


def _blocked_network(ip: str | None, networks: tuple[Network, ...]) -> str | None:
    if not ip or not networks:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:203.0.113.9 is 203.0.113.9
    for network in networks:
        if address.version == network.version and address in network:
            return str(network)
    return None


def _too_fast(
    stamp: str, key: str | bytes, min_fill_seconds: float, now: float | None
) -> RuleHit | None:
    # People need a few seconds to write a comment; scripts post as soon as they get the form.
    age = stamp_age(stamp, key, now)
    if age is None:
        return RuleHit(
            "too_fast", "pending", "the form stamp is invalid or forged", {"forged": True}
        )
    if age < min_fill_seconds:
        seconds = round(max(age, 0.0), 1)
        return RuleHit(
            "too_fast",
            "pending",
            f"sent {seconds:.1f} s after the form was shown (minimum {min_fill_seconds:g} s)",
            {"seconds": seconds, "minimum": min_fill_seconds},
        )
    return None


# Both sides are folded with classifier.normalize first: an entry typed with Arabic ي/ك
# matches Persian ی/ک text, digits match in any script, tatweel, diacritics and invisible
# marks cannot hide a word. A ZWNJ is part of a word, not an edge: "روزرسانی" is not a
# word of "به‌روزرسانی" (normalize keeps a ZWNJ only between two word characters).
_BEFORE = r"(?<![\w\u200c])"
_AFTER = r"(?![\w\u200c])"
# A ZWNJ inside an entry also matches its usual stand-ins: nothing, or a space
# ("می‌خواهم", "میخواهم", "می خواهم"). An entry without one matches only without one.
_ZWNJ_IN_ENTRY = r"(?:\u200c|\s+)?"
_NEVER = re.compile(r"(?!)")


def _entry_pattern(word: str) -> re.Pattern[str]:
    parts = normalize(word).split()
    if not parts:
        return _NEVER  # nothing left after folding (a lone tatweel, a bidi mark)
    body = r"\s+".join(
        _ZWNJ_IN_ENTRY.join(re.escape(piece) for piece in part.split(ZWNJ)) for part in parts
    )
    return re.compile(_BEFORE + body + _AFTER, re.IGNORECASE)


@lru_cache(maxsize=8)
def _word_patterns(word_list: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # Whole words: no letter, digit, underscore or ZWNJ right before or after ("ass" spares
    # "class"). One pattern per entry, so overlapping entries ("free", "free money") are all
    # reported.
    return tuple(_entry_pattern(word) for word in word_list)


def matching_words(texts: list[str], word_list: tuple[str, ...]) -> list[str]:
    """The entries of `word_list` found in any of `texts`, in list order, as listed."""
    patterns = _word_patterns(word_list)
    folded = [normalize(text) for text in texts]
    return [
        word
        for word, pattern in zip(word_list, patterns, strict=True)
        if any(pattern.search(text) for text in folded)
    ]
