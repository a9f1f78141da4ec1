"""The `moderation` command."""

from __future__ import annotations

import click

from moderation.config import ConfigError, Settings


@click.group()
def main() -> None:
    """Self-hosted comment moderation: serve the API, train and evaluate the spam model."""


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as err:
        raise click.UsageError(str(err)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads per worker (more than 1 uses gunicorn's gthread worker).",
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the service under gunicorn (starts an embedded Redis if REDIS_URL is unset)."""
    from moderation.logs import configure_logging
    from moderation.server import serve as run

    settings = _settings()
    configure_logging(settings.log_level)
    run(settings, host=host, port=port, workers=workers, threads=threads)
