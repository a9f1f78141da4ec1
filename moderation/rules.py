"""Hard rules that can force an outcome whatever the classifier says."""

from __future__ import annotations

from dataclasses import dataclass

from classifier.features import count_links


@dataclass(frozen=True)
class RuleHit:
    name: str
    outcome: str  # the least severe status this rule allows: "pending" or "spam"
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.name, "outcome": self.outcome, "detail": self.detail}


def check_rules(comment: dict[str, str | None], max_links: int) -> list[RuleHit]:
    hits: list[RuleHit] = []
    if comment.get("honeypot"):
        hits.append(RuleHit("honeypot", "spam", "a field hidden from people was filled in"))
    links = count_links(comment.get("content") or "")
    if links >= max_links:
        # As WordPress does: many links is the classic mark of link spam, so a person looks.
        hits.append(RuleHit("too_many_links", "pending", f"{links} links (limit {max_links})"))
    return hits
