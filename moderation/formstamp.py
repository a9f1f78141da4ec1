"""Signed form stamps: when a comment form was handed out, so a too-fast post can be told.

The stamp is itsdangerous-signed with the app's signing key. Its payload is the issue time
in milliseconds: TimestampSigner's own timestamp has whole seconds, too coarse for a
minimum of a few seconds.
"""

from __future__ import annotations

import time

from itsdangerous import BadSignature, TimestampSigner

_SALT = "moderation.form-stamp"


def _signer(key: str | bytes) -> TimestampSigner:
    return TimestampSigner(key, salt=_SALT)


def issue_stamp(key: str | bytes, now: float | None = None) -> str:
    issued_ms = int((time.time() if now is None else now) * 1000)
    return _signer(key).sign(str(issued_ms)).decode()


def stamp_age(stamp: str, key: str | bytes, now: float | None = None) -> float | None:
    """Seconds since the stamp was issued, or None when it is not one of ours."""
    try:
        payload = _signer(key).unsign(stamp.encode())
    except (BadSignature, UnicodeError):
        return None
    if not payload.isdigit():
        return None
    return (time.time() if now is None else now) - int(payload) / 1000
