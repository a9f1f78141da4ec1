"""Sites: several comment sections, each with its own settings, served by one deployment.

A site is what one news site or blog gets: the origins of its pages, its default language,
thresholds, WordPress-style word lists, link limit, blocked networks, webhook and
moderators. Its data lives under its own Redis hash tag (`{prefix:site}`, see
moderation/store/keys.py), so on Redis Cluster different sites land on different shards.

The deployment's environment settings are every site's defaults: a stored site keeps only
what was set for it, so a value never set follows the environment. The `default` site is
the one a single-site deployment always had; it exists without being created, and its
data keeps the key layout it had (`{prefix}`), so nothing needs moving.

The registry is one Redis hash in the default site's slot, read at most every
`CACHE_SECONDS` per process: sites change rarely, comments arrive all the time.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import redis

from moderation import i18n
from moderation.config import ConfigError, Settings, canonical_origin
from moderation.rules import Network

DEFAULT_SITE = "default"
SITE_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
SITE_ID_RE = re.compile(SITE_ID_PATTERN.replace("$", r"\Z"))
CACHE_SECONDS = 2.0
MAX_LIST = 500  # entries per word list or network list: each is a regex run per comment


class SiteError(ValueError):
    """A site setting that cannot be used, worded for the person who gave it."""


class SiteExists(SiteError):
    pass


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    allowed_origins: tuple[str, ...]
    default_language: str
    publish_below: float
    spam_above: float
    max_links: int
    # WordPress' "Comment Moderation" list: a match holds the comment for review.
    moderation_words: tuple[str, ...] = ()
    # WordPress' "Disallowed Comment Keys": a match marks the comment spam.
    disallowed_words: tuple[str, ...] = ()
    blocked_networks: tuple[str, ...] = ()
    # "Comment author must have a previously approved comment": see moderation/trust.py.
    trust_approved_authors: bool = True
    webhook_url: str | None = None
    # Names of the moderator tokens that may work on this site; admins work on every site.
    moderators: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def admits(self, moderator: str, role: str) -> bool:
        """Whether a moderator's token may work on this site: admins everywhere; a site
        with no list of moderators takes every moderator, as a single site always did."""
        return role == "admin" or not self.moderators or moderator in self.moderators

    @cached_property
    def networks(self) -> tuple[Network, ...]:
        # Parsed once per Site: the registry's cache keeps the object, and every
        # submission checks its IP against these.
        return _parse_networks(self.blocked_networks)


# What `site create|update` and the admin API may set, and how each is checked.
EDITABLE = tuple(f.name for f in fields(Site) if f.name != "id")
_LISTS = (
    "allowed_origins",
    "moderation_words",
    "disallowed_words",
    "blocked_networks",
    "moderators",
)


def _parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _word_list(values: Iterable[str]) -> tuple[str, ...]:
    # Matching ignores case and runs of spaces (moderation/rules.py): store that form once.
    items = (" ".join(str(v).split()).lower() for v in values)
    return tuple(dict.fromkeys(item for item in items if item))


def _check_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SiteError(f"{name} must be a list of strings")
    if len(value) > MAX_LIST:
        raise SiteError(f"{name} holds at most {MAX_LIST} entries")
    if any(len(v) > 200 for v in value):
        raise SiteError(f"{name}: an entry is longer than 200 characters")
    if name in ("moderation_words", "disallowed_words"):
        return _word_list(value)
    items = tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
    if name == "allowed_origins":
        out = []
        for origin in items:
            try:
                out.append(canonical_origin(origin))
            except ConfigError as exc:
                raise SiteError(f"allowed_origins: {exc}") from None
        return tuple(dict.fromkeys(out))
    if name == "blocked_networks":
        try:
            return tuple(dict.fromkeys(str(n) for n in _parse_networks(items)))
        except ValueError as exc:
            raise SiteError(f"blocked_networks: {exc}") from None
    return items


def _is_webhook_url(url: str) -> bool:
    # Unlike a commenter's website, a receiver on an internal address is normal; only an
    # admin sets it.
    if any(c <= " " or c == "\x7f" for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` checked and put in their stored form; SiteError names what is wrong."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise SiteError(f"unknown site settings: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None and name != "webhook_url":
            continue
        if name in _LISTS:
            out[name] = list(_check_list(name, value))
        elif name == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise SiteError("name must be a non-empty string of at most 200 characters")
            out[name] = value.strip()
        elif name == "default_language":
            if not isinstance(value, str) or i18n.resolve(value) is None:
                raise SiteError(f"default_language must be one of {', '.join(i18n.languages())}")
            out[name] = value.strip()
        elif name in ("publish_below", "spam_above"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SiteError(f"{name} must be a number between 0 and 1")
            if not 0.0 <= float(value) <= 1.0:
                raise SiteError(f"{name} must be between 0 and 1")
            out[name] = float(value)
        elif name == "max_links":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise SiteError("max_links must be a whole number from 1 to 1000")
            out[name] = value
        elif name == "trust_approved_authors":
            if not isinstance(value, bool):
                raise SiteError("trust_approved_authors must be true or false")
            out[name] = value
        elif name == "webhook_url":
            if value in (None, ""):
                out[name] = None
                continue
            if not isinstance(value, str) or not _is_webhook_url(value.strip()):
                raise SiteError("webhook_url must be an http(s) URL")
            out[name] = value.strip()
    return out


def defaults_from(settings: Settings, site_id: str) -> Site:
    """The site as the environment alone describes it."""
    return Site(
        id=site_id,
        name=site_id,
        allowed_origins=settings.allowed_origins if site_id == DEFAULT_SITE else (),
        default_language=settings.default_language,
        publish_below=settings.publish_below,
        spam_above=settings.spam_above,
        max_links=settings.max_links,
        moderation_words=settings.word_list if site_id == DEFAULT_SITE else (),
    )


def merge(base: Site, stored: Mapping[str, Any]) -> Site:
    values = {k: tuple(v) if k in _LISTS else v for k, v in stored.items() if k in EDITABLE}
    site = replace(base, **values)
    if not site.publish_below <= site.spam_above:
        raise SiteError(
            f"publish_below ({site.publish_below}) must not be above spam_above ({site.spam_above})"
        )
    return site


@dataclass
class _Cache:
    loaded_at: float = -1e9
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)


class SiteRegistry:
    """The deployment's sites, stored as one hash: site id -> JSON of what was set."""

    def __init__(self, client: redis.Redis, prefix: str, settings: Settings) -> None:
        self.client = client
        self.key = "{" + prefix + "}:sites"
        self.settings = settings
        self._cache = _Cache()
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------

    def _stored(self, fresh: bool = False) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            if fresh or now - self._cache.loaded_at > CACHE_SECONDS:
                raw = self.client.hgetall(self.key)
                self._cache = _Cache(now, {k: json.loads(v) for k, v in raw.items()})
            return self._cache.stored

    def get(self, site_id: str, *, fresh: bool = False) -> Site | None:
        stored = self._stored(fresh)
        if site_id not in stored and site_id != DEFAULT_SITE:
            return None
        return merge(defaults_from(self.settings, site_id), stored.get(site_id, {}))

    def all(self, *, fresh: bool = False) -> list[Site]:
        stored = self._stored(fresh)
        ids = [DEFAULT_SITE, *sorted(i for i in stored if i != DEFAULT_SITE)]
        return [merge(defaults_from(self.settings, i), stored.get(i, {})) for i in ids]

    def for_origin(self, origin: str | None) -> Site | None:
        """The site whose pages are served from `origin`, if one lists it."""
        if not origin:
            return None
        for site in self.all():
            if origin in site.allowed_origins:
                return site
        return None

    def all_origins(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for site in self.all() for o in site.allowed_origins))

    # --- writing ---------------------------------------------------------------------

    def create(self, site_id: str, changes: Mapping[str, Any]) -> Site:
        if not SITE_ID_RE.match(site_id):
            raise SiteError("a site id is 1 to 40 lower-case letters, digits and inner hyphens")
        checked = check_changes(changes)
        merge(defaults_from(self.settings, site_id), checked)  # validates the combination
        if site_id == DEFAULT_SITE or not self.client.hsetnx(
            self.key, site_id, json.dumps(checked)
        ):
            raise SiteExists(f"site {site_id!r} exists already")
        return self._written(site_id)

    def update(self, site_id: str, changes: Mapping[str, Any]) -> Site:
        checked = check_changes(changes)
        # WATCH, so two admins editing different settings of one site both keep theirs.
        # transaction=True: a cluster pipeline is not transactional (and refuses WATCH)
        # unless asked; on one Redis it is the default anyway.
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.key)
                    raw = pipe.hget(self.key, site_id)
                    if raw is None and site_id != DEFAULT_SITE:
                        pipe.unwatch()
                        raise SiteError(f"no site {site_id!r}")
                    stored = {**(json.loads(raw) if raw else {}), **checked}
                    merge(defaults_from(self.settings, site_id), stored)
                    pipe.multi()
                    pipe.hset(self.key, site_id, json.dumps(stored))
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        return self._written(site_id)

    def _written(self, site_id: str) -> Site:
        site = self.get(site_id, fresh=True)
        assert site is not None  # just written
        return site
