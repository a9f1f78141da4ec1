"""Settings, read once from the environment with safe defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many


class ConfigError(ValueError):
    """A setting is missing or has a value the service cannot use."""


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def canonical_origin(value: str) -> str:
    """The origin as browsers send it in `Origin`, or ConfigError if `value` is not one."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{value!r} is not an http(s) origin like https://news.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"{value!r} is not an origin: give scheme://host[:port], no path")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{value!r} has an invalid port") from exc
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())


def _words(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    # Matching ignores case and runs of spaces, so the stored form is lower case, single-spaced.
    items = (" ".join(item.split()).lower() for item in (env.get(name) or "").split(","))
    return tuple(dict.fromkeys(item for item in items if item))


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told. Environment names are in `from_env`."""

    data_dir: Path = Path("var")
    redis_url: str | None = None
    key_prefix: str = "moderation"
    secret_key: str | None = None
    production: bool = False
    publish_below: float = 0.35
    spam_above: float = 0.9
    max_links: int = 2
    max_content_length: int = 10_000
    max_body_bytes: int = 64 * 1024
    trusted_proxies: int = 0
    model_path: Path | None = None
    log_level: str = "INFO"
    redis_timeout: float = 2.0
    model_check_seconds: float = 2.0
    retrain_f1_margin: float = 0.01
    retrain_ham_spam_margin: float = 0.0
    rejected_as: str | None = None
    # Exact origins of the pages that embed the comment form (CORS and the POST origin check).
    allowed_origins: tuple[str, ...] = ()
    min_fill_seconds: float = 3.0
    word_list: tuple[str, ...] = ()
    # The language of pages whose reader asks for none we have (see moderation/i18n.py).
    default_language: str = "en"
    # Limits on comment posts per client IP and per commenter (see moderation/limits.py);
    # "" and 0 turn each off.
    rate_limit: str = "10/minute;100/hour"
    flood_interval: float = 15.0
    duplicate_window: int = 86_400
    max_pending_per_client: int = 20
    pending_window: int = 86_400
    # MODERATION_METRICS=0: no /metrics and no per-request bookkeeping (see moderation/metrics.py).
    metrics: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        settings = cls(
            metrics=(env.get("MODERATION_METRICS") or "1").strip().lower()
            not in ("0", "false", "no", "off"),
            data_dir=Path(env.get("MODERATION_DATA_DIR") or "var"),
            redis_url=env.get("REDIS_URL") or None,
            key_prefix=env.get("MODERATION_KEY_PREFIX") or "moderation",
            secret_key=env.get("MODERATION_SECRET_KEY") or None,
            production=(env.get("MODERATION_ENV", "development").lower() == "production"),
            publish_below=_float(env, "MODERATION_PUBLISH_BELOW", cls.publish_below),
            spam_above=_float(env, "MODERATION_SPAM_ABOVE", cls.spam_above),
            max_links=_int(env, "MODERATION_MAX_LINKS", cls.max_links),
            max_content_length=_int(env, "MODERATION_MAX_CONTENT_LENGTH", cls.max_content_length),
            max_body_bytes=_int(env, "MODERATION_MAX_BODY_BYTES", cls.max_body_bytes),
            trusted_proxies=_int(env, "MODERATION_TRUSTED_PROXIES", cls.trusted_proxies),
            model_path=Path(env["MODERATION_MODEL_PATH"])
            if env.get("MODERATION_MODEL_PATH")
            else None,
            log_level=env.get("MODERATION_LOG_LEVEL", "INFO").upper(),
            model_check_seconds=_float(
                env, "MODERATION_MODEL_CHECK_SECONDS", cls.model_check_seconds
            ),
            retrain_f1_margin=_float(env, "MODERATION_RETRAIN_F1_MARGIN", cls.retrain_f1_margin),
            retrain_ham_spam_margin=_float(
                env, "MODERATION_RETRAIN_HAM_SPAM_MARGIN", cls.retrain_ham_spam_margin
            ),
            rejected_as=env.get("MODERATION_REJECTED_AS") or None,
            allowed_origins=_origins(env, "MODERATION_ALLOWED_ORIGINS"),
            min_fill_seconds=_float(env, "MODERATION_MIN_FILL_SECONDS", cls.min_fill_seconds),
            word_list=_words(env, "MODERATION_WORD_LIST"),
            default_language=(env.get("MODERATION_DEFAULT_LANGUAGE") or "en").strip(),
            # Set but empty means "no rate limits", unlike the other settings.
            rate_limit=env.get("MODERATION_RATE_LIMIT", cls.rate_limit).strip(),
            flood_interval=_float(env, "MODERATION_FLOOD_INTERVAL", cls.flood_interval),
            duplicate_window=_int(env, "MODERATION_DUPLICATE_WINDOW", cls.duplicate_window),
            max_pending_per_client=_int(
                env, "MODERATION_MAX_PENDING_PER_CLIENT", cls.max_pending_per_client
            ),
            pending_window=_int(env, "MODERATION_PENDING_WINDOW", cls.pending_window),
        )
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings: {sorted(unknown)}")
        settings = replace(settings, **overrides)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0.0 <= self.publish_below <= self.spam_above <= 1.0:
            raise ConfigError(
                "need 0 <= MODERATION_PUBLISH_BELOW <= MODERATION_SPAM_ABOVE <= 1, got "
                f"{self.publish_below} and {self.spam_above}"
            )
        if self.max_links < 1:
            raise ConfigError("MODERATION_MAX_LINKS must be at least 1")
        if self.max_content_length < 1:
            raise ConfigError("MODERATION_MAX_CONTENT_LENGTH must be at least 1")
        if self.rejected_as not in (None, "spam", "ham"):
            raise ConfigError("MODERATION_REJECTED_AS must be empty, 'spam' or 'ham'")
        for name, margin in (
            ("MODERATION_RETRAIN_F1_MARGIN", self.retrain_f1_margin),
            ("MODERATION_RETRAIN_HAM_SPAM_MARGIN", self.retrain_ham_spam_margin),
        ):
            if not 0.0 <= margin <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1")
        if self.model_check_seconds <= 0:
            raise ConfigError("MODERATION_MODEL_CHECK_SECONDS must be more than 0")
        if self.trusted_proxies < 0:
            raise ConfigError("MODERATION_TRUSTED_PROXIES must be 0 or more")
        if not self.key_prefix or any(c in self.key_prefix for c in "{} "):
            raise ConfigError("MODERATION_KEY_PREFIX must be non-empty, without braces or spaces")
        if self.production and not self.secret_key:
            raise ConfigError("MODERATION_SECRET_KEY is required when MODERATION_ENV=production")
        if not isinstance(self.allowed_origins, tuple):
            raise ConfigError("allowed_origins must be a tuple of origins")
        for origin in self.allowed_origins:
            try:
                canonical = canonical_origin(origin)
            except ConfigError as exc:
                raise ConfigError(f"MODERATION_ALLOWED_ORIGINS: {exc}") from None
            # Compared byte for byte with the browser's Origin header: only the exact form works.
            if canonical != origin:
                raise ConfigError(
                    f"MODERATION_ALLOWED_ORIGINS: write {origin!r} exactly as browsers send it: "
                    f"{canonical!r}"
                )
        if not 0 <= self.min_fill_seconds <= 3600:
            raise ConfigError("MODERATION_MIN_FILL_SECONDS must be between 0 and 3600")
        if self.rate_limit:
            try:
                parse_many(self.rate_limit)
            except ValueError:
                raise ConfigError(
                    "MODERATION_RATE_LIMIT must be empty or limits like '10/minute;100/hour', "
                    f"got {self.rate_limit!r}"
                ) from None
        if not 0 <= self.flood_interval <= 86_400:
            raise ConfigError("MODERATION_FLOOD_INTERVAL must be between 0 and 86400 seconds")
        if self.duplicate_window < 0:
            raise ConfigError("MODERATION_DUPLICATE_WINDOW must be 0 or more seconds")
        if self.max_pending_per_client < 0:
            raise ConfigError("MODERATION_MAX_PENDING_PER_CLIENT must be 0 or more")
        if self.pending_window < 1:
            raise ConfigError("MODERATION_PENDING_WINDOW must be at least 1 second")

    @property
    def resolved_model_path(self) -> Path:
        return self.model_path or self.data_dir / "model.skops"
