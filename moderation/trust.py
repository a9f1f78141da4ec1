"""WordPress' "comment author must have a previously approved comment", made unforgeable.

WordPress trusts a name and email it has approved before, so typing a regular's email
is enough to skip review. Here trust needs two things: the keyed hash of the email
(moderation/privacy.py) and a token this service signed and handed to the browser that
sent an earlier comment. The token names that comment; trust holds while that comment is
published (approved by a person or by the classifier). Someone who types another reader's
email has no token; someone who copies a token needs the email that goes with it.

Trust only lifts "held because the classifier is unsure" to published: a comment the
classifier is sure is spam, or one a rule holds or marks, goes where it would have gone.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "moderation.trusted-author"


def _serializer(key: str | bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=_SALT)


def issue_trust_token(key: str | bytes, site: str, identity: str, comment_id: int) -> str:
    """The token a commenter's browser keeps after posting comment `comment_id`."""
    return _serializer(key).dumps([site, identity, int(comment_id)])


def vouching_comment(token: str | None, key: str | bytes, site: str, identity: str) -> int | None:
    """The comment id the token vouches with, if it is ours, for this site and this email."""
    if not token or len(token) > 512:
        return None
    try:
        payload: Any = _serializer(key).loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 3
        or payload[0] != site
        or payload[1] != identity
        or not isinstance(payload[2], int)
    ):
        return None
    return payload[2]
