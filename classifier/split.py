"""The fixed held-out split: which labeled comments are kept out of training, for good.

Membership is a hash of the comment's text (case and spacing aside), so it never changes
between runs, hosts or retrains (the comparison of two models stays fair over time), the
same text always lands on the same side whoever posted it (a spam campaign cannot leak
from training into evaluation), and no list of members has to be stored anywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from classifier.data import Example

HOLDOUT_PERCENT = 20
_SALT = b"moderation holdout v2\0"


def in_holdout(example: Example, percent: int = HOLDOUT_PERCENT) -> bool:
    key = " ".join(example.content.lower().split())
    digest = hashlib.sha256(_SALT + key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(training part, held-out part)."""
    train: list[Example] = []
    holdout: list[Example] = []
    for example in examples:
        (holdout if in_holdout(example) else train).append(example)
    return train, holdout
