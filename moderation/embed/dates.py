"""Comment dates for people: "3 minutes ago", with the exact time alongside (as the widget does),
in the reader's language and digits.

Babel only has the Gregorian calendar: a Persian reader gets Gregorian months in Persian with
Persian digits here, where the widget (Intl) gives the Solar Hijri calendar.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from babel import Locale
from babel.dates import format_date, format_time, get_relative_name
from flask_babel import gettext as _

from moderation.i18n import localise_digits, number

# (unit, seconds per unit, used below this many seconds ago): the widget's own steps.
_STEPS = (
    ("minute", 60, 3600),
    ("hour", 3600, 86400),
    ("day", 86400, 86400 * 30),
    ("month", 86400 * 30, 86400 * 365),
    ("year", 86400 * 365, math.inf),
)


def parse_time(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ago(unit: str, count: int, locale: Locale) -> str:
    # What Intl.RelativeTimeFormat(lang, {numeric: "auto"}) says: a word where CLDR has one
    # ("yesterday", Persian "پریروز" for two days ago), else the past pattern for the count.
    named = get_relative_name(unit, -count, locale=locale)
    if named:
        return named
    # The CLDR patterns format_timedelta uses; Babel has no public way to fix the unit.
    patterns = locale._data["date_fields"][unit]["past"]
    pattern = patterns.get(locale.plural_form(count)) or patterns["other"]
    return pattern.replace("{0}", number(count, locale))


def relative_time(moment: datetime, locale: Locale, now: datetime | None = None) -> str:
    ago = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    if ago < 45:
        return _("just now")
    for unit, size, below in _STEPS:
        if ago < below:
            return _ago(unit, max(1, math.floor(ago / size + 0.5)), locale)
    return ""  # unreachable: the last step has no upper bound


def exact_time(moment: datetime, locale: Locale) -> str:
    utc = moment.astimezone(UTC)
    # TRANSLATORS: a comment's exact time, e.g. "March 20, 2026 at 14:05 UTC".
    text = _(
        "%(date)s at %(time)s",
        date=format_date(utc, "long", locale=locale),
        time=format_time(utc, "HH:mm z", tzinfo=UTC, locale=locale),
    )
    return localise_digits(text, locale)
