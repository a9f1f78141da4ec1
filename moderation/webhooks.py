"""A site's webhook: told when a comment waits for a person, so nobody has to poll.

One POST of JSON per comment held for review, from a background thread with a short
timeout: a slow or dead receiver never delays a commenter, and a failed call is logged
and dropped (the queue itself is the record; the webhook is a nudge). The body carries
ids, status and score, never the email, the IP or the text.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhook")
        return _pool


def payload(site: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "comment.pending",
        "site": site,
        "id": record["id"],
        "thread": record["thread"],
        "parent": record.get("parent"),
        "score": record.get("score"),
        "rules": [hit["rule"] for hit in record.get("rules") or []],
        "created_at": record.get("created_at"),
    }


def _send(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "moderation-webhook/1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            answer.read(1024)
    except (OSError, ValueError) as err:
        log.warning("webhook %s failed: %s", url.split("?")[0], err)


def notify_pending(url: str | None, site: str, record: dict[str, Any]) -> None:
    """Tell `url` (if any) that comment `record` waits for review; returns at once."""
    if not url or record.get("status") != "pending":
        return
    body = json.dumps(payload(site, record)).encode()
    _executor().submit(_send, url, body)
