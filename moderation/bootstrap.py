"""The one place that builds what the service depends on: Redis, store, vault, model."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from classifier.model import SpamModel
from moderation.config import Settings
from moderation.privacy import EmailVault, derive_secret, load_or_create_dev_secret
from moderation.redis_server import EmbeddedRedis, connect
from moderation.scoring import ensure_model
from moderation.store.comments import CommentStore
from moderation.store.keys import Keys
from moderation.store.review import ReviewQueue
from moderation.store.tokens import TokenStore
from moderation.submission import Thresholds

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis
    comments: CommentStore
    review: ReviewQueue
    tokens: TokenStore
    vault: EmailVault
    model: SpamModel
    thresholds: Thresholds
    # Signs Flask's session cookie and other stamps; derived, never the secret itself.
    signing_key: bytes
    embedded: EmbeddedRedis | None = None


def build_services(settings: Settings) -> Services:
    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.data_dir).start()
        url = embedded.url
    client = connect(url, timeout=settings.redis_timeout)
    secret = settings.secret_key or load_or_create_dev_secret(settings.data_dir)
    return Services(
        settings=settings,
        redis=client,
        comments=CommentStore(client, Keys(settings.key_prefix)),
        review=ReviewQueue(client, Keys(settings.key_prefix)),
        tokens=TokenStore(client, Keys(settings.key_prefix)),
        vault=EmailVault(secret),
        model=ensure_model(settings.resolved_model_path),
        thresholds=Thresholds(
            publish_below=settings.publish_below,
            spam_above=settings.spam_above,
            max_links=settings.max_links,
        ),
        signing_key=derive_secret(secret, "flask signing"),
        embedded=embedded,
    )
