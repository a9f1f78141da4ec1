"""The one place that builds what the service depends on: Redis, store, vault, model."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import redis

from classifier.model import SpamModel
from moderation.config import Settings
from moderation.model_watch import ModelWatch
from moderation.privacy import EmailVault, derive_secret, load_or_create_dev_secret
from moderation.redis_server import EmbeddedRedis, connect
from moderation.retraining import bootstrap_registry
from moderation.scoring import ensure_model
from moderation.sites import DEFAULT_SITE, Site, SiteRegistry
from moderation.store.client import RedisClient
from moderation.store.comments import CommentStore
from moderation.store.keys import Keys
from moderation.store.migrations import migrate
from moderation.store.models import ModelRegistry
from moderation.store.review import ReviewQueue
from moderation.store.tokens import TokenStore
from moderation.store.training_log import TrainingLog
from moderation.submission import Thresholds

log = logging.getLogger(__name__)


@dataclass
class SiteStores:
    """One site's data: its comments, review queue and the labels its moderators gave."""

    keys: Keys
    comments: CommentStore
    review: ReviewQueue
    training_log: TrainingLog


@dataclass
class Services:
    settings: Settings
    redis: RedisClient
    comments: CommentStore
    review: ReviewQueue
    tokens: TokenStore
    vault: EmailVault
    model: SpamModel
    thresholds: Thresholds
    # Signs Flask's session cookie and other stamps; derived, never the secret itself.
    signing_key: bytes
    models: ModelRegistry
    training_log: TrainingLog
    model_watch: ModelWatch
    sites: SiteRegistry
    embedded: EmbeddedRedis | None = None
    _stores: dict[str, SiteStores] = field(default_factory=dict, repr=False)
    _stores_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stores(self, site: str | Site = DEFAULT_SITE) -> SiteStores:
        """The stores of one site (the default site's are also `comments`, `review`...)."""
        site_id = site if isinstance(site, str) else site.id
        found = self._stores.get(site_id)
        if found is None:
            with self._stores_lock:
                found = self._stores.get(site_id)
                if found is None:
                    keys = Keys(self.settings.key_prefix, site_id)
                    found = SiteStores(
                        keys=keys,
                        comments=CommentStore(self.redis, keys),
                        review=ReviewQueue(self.redis, keys),
                        training_log=TrainingLog(self.redis, keys),
                    )
                    self._stores[site_id] = found
        return found

    def thresholds_for(self, site: Site) -> Thresholds:
        return Thresholds(
            publish_below=site.publish_below,
            spam_above=site.spam_above,
            max_links=site.max_links,
            min_fill_seconds=self.settings.min_fill_seconds,
            word_list=site.moderation_words,
            disallowed_words=site.disallowed_words,
            blocked_networks=site.networks,
        )

    def training_logs(self) -> list[TrainingLog]:
        """Every site's labels: the deployment trains one model on all of them."""
        return [self.stores(site).training_log for site in self.sites.all()]


def build_services(settings: Settings) -> Services:
    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.data_dir).start()
        url = embedded.url
    client = connect(url, timeout=settings.redis_timeout)
    secret = settings.secret_key or load_or_create_dev_secret(settings.data_dir)
    keys = Keys(settings.key_prefix)
    models = ModelRegistry(client, keys)
    try:
        migrate(client, keys)
    except redis.RedisError as err:
        # Redis may be down at start; the next start migrates. New writes index themselves.
        log.warning("Redis unavailable at start (%s): data migration postponed", err)
    default = ensure_model(settings.resolved_model_path)
    default_site = SiteStores(
        keys=keys,
        comments=CommentStore(client, keys),
        review=ReviewQueue(client, keys),
        training_log=TrainingLog(client, keys),
    )
    return Services(
        settings=settings,
        redis=client,
        comments=default_site.comments,
        review=default_site.review,
        tokens=TokenStore(client, keys),
        vault=EmailVault(secret),
        model=active_model(settings, models, default),
        thresholds=Thresholds(
            publish_below=settings.publish_below,
            spam_above=settings.spam_above,
            max_links=settings.max_links,
            min_fill_seconds=settings.min_fill_seconds,
            word_list=settings.word_list,
        ),
        signing_key=derive_secret(secret, "flask signing"),
        models=models,
        training_log=default_site.training_log,
        sites=SiteRegistry(client, settings.key_prefix, settings),
        _stores={DEFAULT_SITE: default_site},
        model_watch=ModelWatch(
            models,
            model_cache(settings),
            settings.model_check_seconds,
            bootstrap=lambda: bootstrap_registry(
                models, default, settings.resolved_model_path.read_bytes()
            ),
        ),
        embedded=embedded,
    )


def model_cache(settings: Settings) -> Path:
    return settings.data_dir / "models"


def active_model(settings: Settings, registry: ModelRegistry, default: SpamModel) -> SpamModel:
    """The registry's active model; on a deployment's first start, the default model
    (`ensure_model`: trained from the seed corpus if this data directory has none)
    becomes it.

    An active version whose file fails its checksum or skops' check stops the start: a
    host must not quietly score with another model than the rest of the deployment. With
    Redis unreachable the default model serves until the watch finds the registry.
    """
    try:
        bootstrap_registry(registry, default, settings.resolved_model_path.read_bytes())
        active = registry.active_version()
    except redis.RedisError as err:
        log.warning("Redis unavailable at start (%s): scoring with the default model", err)
        return default
    if active is None or active == default.version:
        return default
    return registry.load(active, model_cache(settings))
