"""From a spam probability and the rules that fired to published / pending / spam."""

from __future__ import annotations

from collections.abc import Iterable

from moderation.rules import RuleHit

SEVERITY = {"published": 0, "pending": 1, "spam": 2}


def route(
    score: float,
    hits: Iterable[RuleHit],
    publish_below: float,
    spam_above: float,
    *,
    trusted: bool = False,
) -> str:
    """`trusted`: the commenter had a comment approved before (moderation/trust.py), so the
    classifier's doubt alone does not hold this one; certain spam and rules still do."""
    if score < publish_below or (trusted and score < spam_above):
        status = "published"
    elif score >= spam_above:
        status = "spam"
    else:
        status = "pending"
    for hit in hits:
        # Rules only ever make the outcome stricter, never more lenient.
        if SEVERITY[hit.outcome] > SEVERITY[status]:
            status = hit.outcome
    return status
