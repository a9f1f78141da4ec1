"""Comment dates for people: "3 minutes ago", with the exact time alongside (as the widget does)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

# (unit, seconds per unit, used below this many seconds ago): the widget's own steps.
_STEPS = (
    ("minute", 60, 3600),
    ("hour", 3600, 86400),
    ("day", 86400, 86400 * 30),
    ("month", 86400 * 30, 86400 * 365),
    ("year", 86400 * 365, math.inf),
)
# What Intl.RelativeTimeFormat("en", {numeric: "auto"}) says for exactly one unit ago.
_ONE_AGO = {"day": "yesterday", "month": "last month", "year": "last year"}


def parse_time(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    ago = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    if ago < 45:
        return "just now"
    for unit, size, below in _STEPS:
        if ago < below:
            count = max(1, math.floor(ago / size + 0.5))
            if count == 1:
                return _ONE_AGO.get(unit, f"1 {unit} ago")
            return f"{count} {unit}s ago"
    return ""  # unreachable: the last step has no upper bound


def exact_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%B} {utc.day}, {utc.year} at {utc:%H:%M} UTC"
