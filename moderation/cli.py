"""The `moderation` command."""

from __future__ import annotations

import os

import click

from moderation.config import ConfigError, Settings
from moderation.datadir import PRIVATE_UMASK


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Self-hosted comment moderation: serve the API, train and evaluate the spam model."""
    # Comments, keys and models are for the service's user alone: every file any command
    # or the service writes is 0600, every directory 0700, whatever the shell's umask.
    # Restored afterwards for callers that run the command in their own process.
    previous = os.umask(PRIVATE_UMASK)
    ctx.call_on_close(lambda: os.umask(previous))


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
    from moderation.redis_server import DataDirInUse
    from moderation.server import serve as run

    settings = _settings()
    configure_logging(settings.log_level)
    try:
        run(settings, host=host, port=port, workers=workers, threads=threads)
    except DataDirInUse as err:
        raise click.ClickException(str(err)) from None


def _read_data(paths: tuple[str, ...]) -> list:
    from classifier.data import BadRow, read_examples

    bad: list[BadRow] = []
    examples = read_examples(paths, bad)
    for row in bad:
        click.echo(f"skipped {row}", err=True)
    if not examples:
        raise click.UsageError("no usable labeled rows in the given files")
    return examples


DATA_FORMATS = "YouTube-spam CSV, label,text CSV/TSV, or JSON Lines"
data_option = click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help=f"Labeled comments ({DATA_FORMATS}). Repeatable.",
)


@main.command()
@data_option
@click.option("--out", type=click.Path(dir_okay=False), help="Model file to write.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option(
    "--with-seed-corpus", is_flag=True, help="Also train on the project's own seed corpus."
)
def train(data: tuple[str, ...], out: str | None, seed: int, with_seed_corpus: bool) -> None:
    """Train a model, report its held-out quality, and write a versioned model file."""
    import time
    from pathlib import Path

    from sklearn.model_selection import train_test_split

    from classifier.corpus import load_seed_corpus
    from classifier.evaluate import evaluate_model, format_report
    from classifier.model import train_model
    from classifier.persistence import save_model

    settings = _settings()
    examples = _read_data(data)
    if with_seed_corpus:
        examples = load_seed_corpus() + examples
    labels = [ex.label for ex in examples]
    try:
        fit_part, held_out = train_test_split(
            examples, test_size=0.2, random_state=seed, stratify=labels
        )
        started = time.perf_counter()
        holdout = evaluate_model(
            train_model(fit_part, seed=seed), held_out, settings.publish_below, settings.spam_above
        )
        model = train_model(examples, seed=seed)
    except ValueError as err:
        raise click.UsageError(f"cannot train on this data: {err}") from None
    elapsed = time.perf_counter() - started
    holdout.pop("model_version")
    model.metadata["holdout_metrics"] = {k: v for k, v in holdout.items() if k != "reliability"}
    path = Path(out) if out else settings.data_dir / "models" / f"{model.version}.skops"
    save_model(model, path)
    click.echo(f"trained on {len(examples)} comments ({sum(labels)} spam) in {elapsed:.1f} s")
    click.echo("held-out 20% (model fit on the other 80%):")
    click.echo(format_report({**holdout, "model_version": model.version}))
    click.echo(f"wrote {path} (version {model.version})")


@main.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Model file (default: the one the service loads).",
)
@data_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object on one line.")
def evaluate(model_path: str | None, data: tuple[str, ...], as_json: bool) -> None:
    """Score labeled comments with a model and print its quality."""
    import json

    from classifier.evaluate import evaluate_model, format_report
    from classifier.persistence import UntrustedModelError, load_model

    settings = _settings()
    path = model_path or settings.resolved_model_path
    try:
        model = load_model(path)
    except FileNotFoundError:
        raise click.UsageError(f"no model at {path}: start the service once or train one") from None
    except UntrustedModelError as err:
        raise click.ClickException(str(err)) from None
    result = evaluate_model(model, _read_data(data), settings.publish_below, settings.spam_above)
    click.echo(json.dumps(result) if as_json else format_report(result))


def _open_store(settings: Settings | None = None, *, files: bool = True) -> Settings:
    """The settings with the Redis this command uses (the running service's embedded one,
    or one of its own until it exits, when REDIS_URL is unset), said in one line on stderr.

    `files`: the command also reads the data directory's secret and model. A data
    directory that does not exist is refused rather than created (only `serve` creates
    one): run from elsewhere, the command would otherwise work on an empty one.
    """
    from moderation.datadir import MissingDataDir
    from moderation.redis_server import DataDirInUse
    from moderation.redis_target import open_target

    try:
        target = open_target(settings or _settings(), files=files)
    except MissingDataDir as err:
        raise _Refused(str(err)) from None
    except DataDirInUse as err:
        raise click.ClickException(str(err)) from None
    click.get_current_context().call_on_close(target.close)
    click.echo(f"moderation: {target.describe()}", err=True)
    return target.settings


def _token_store():
    """The token store of the configured Redis (the embedded one when REDIS_URL is unset)."""
    from moderation.redis_server import connect
    from moderation.store.keys import Keys
    from moderation.store.tokens import TokenStore

    settings = _open_store(files=False)
    client = connect(settings.redis_url or "", timeout=settings.redis_timeout)
    return TokenStore(client, Keys(settings.key_prefix))


@main.group()
def token() -> None:
    """Create, list and revoke moderator and admin API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice(["moderator", "admin"]), required=True)
@click.option("--name", required=True, help="Who or what uses the token.")
def token_create(role: str, name: str) -> None:
    """Create a token; it is shown once, alone on the last line, and stored only as a hash."""
    try:
        secret, info = _token_store().create(name, role)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(
        f"created {info.role} token {info.id} for {info.name!r}; keep it, it is not shown again:"
    )
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """List tokens (ids, names, roles; never the tokens themselves)."""
    for info in _token_store().list():
        click.echo(f"{info.id}  {info.role:9s}  {info.created_at}  {info.name}")


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke the token with this id (as `token list` shows it)."""
    if not _token_store().revoke(token_id):
        raise click.ClickException(f"no token with id {token_id}")
    click.echo(f"revoked {token_id}")


class _Refused(click.ClickException):
    """A file the import cannot use: one line on stderr, exit code 2 like a usage error."""

    exit_code = 2


def _site_registry():
    """The sites of the configured Redis (the embedded one when REDIS_URL is unset)."""
    from moderation.redis_server import connect
    from moderation.sites import SiteRegistry

    settings = _open_store(files=False)
    client = connect(settings.redis_url or "", timeout=settings.redis_timeout)
    return SiteRegistry(client, settings.key_prefix, settings)


def _site_options(command):
    """The settings `site create` and `site update` share; a list option is given once per
    entry (--origin A --origin B) and replaces the site's list."""
    options = [
        click.option("--name", help="The site's name, as moderators see it."),
        click.option("--origin", "allowed_origins", multiple=True, help="Origin of its pages."),
        click.option("--language", "default_language", help="Default language: en, fa, ar."),
        click.option("--publish-below", type=float, help="Publish below this spam score."),
        click.option("--spam-above", type=float, help="Mark spam from this score."),
        click.option("--max-links", type=int, help="Hold comments with this many links."),
        click.option(
            "--moderation-word",
            "moderation_words",
            multiple=True,
            help="A word that holds a comment for review.",
        ),
        click.option(
            "--disallowed-word",
            "disallowed_words",
            multiple=True,
            help="A word that marks a comment spam.",
        ),
        click.option(
            "--blocked-network",
            "blocked_networks",
            multiple=True,
            help="An IP address or network whose comments are spam.",
        ),
        click.option(
            "--trust-approved-authors/--no-trust-approved-authors",
            default=None,
            help="Publish a commenter with an approved comment without review.",
        ),
        click.option("--webhook-url", help="URL told about new comments ('' for none)."),
        click.option(
            "--moderator",
            "moderators",
            multiple=True,
            help="Name of a moderator token that works on this site.",
        ),
        click.option(
            "--clear",
            "clear",
            multiple=True,
            metavar="SETTING",
            help="Empty a list setting (e.g. --clear moderation_words).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _site_changes(values: dict) -> dict:
    clear = set(values.pop("clear", ()) or ())
    changes = {k: v for k, v in values.items() if v not in (None, ())}
    for name in clear:
        changes[name] = []
    return changes


def _print_site(site) -> None:
    import json

    click.echo(json.dumps(site.as_dict(), ensure_ascii=False, indent=2))


@main.group()
def site() -> None:
    """Create, list and change the sites this deployment serves."""


@site.command("create")
@click.argument("site_id")
@_site_options
def site_create(site_id: str, **values) -> None:
    """Add a site; settings left out follow the deployment's environment."""
    from moderation.sites import SiteError

    try:
        _print_site(_site_registry().create(site_id, _site_changes(values)))
    except SiteError as err:
        raise click.UsageError(str(err)) from None


@site.command("update")
@click.argument("site_id")
@_site_options
def site_update(site_id: str, **values) -> None:
    """Change some settings of a site (the default site too); the rest stay."""
    from moderation.sites import SiteError

    try:
        _print_site(_site_registry().update(site_id, _site_changes(values)))
    except SiteError as err:
        raise click.UsageError(str(err)) from None


@site.command("list")
@click.option("--json", "as_json", is_flag=True, help="Every setting, as JSON lines.")
def site_list(as_json: bool) -> None:
    """The sites: id, origins, language and thresholds."""
    import json

    for item in _site_registry().all(fresh=True):
        if as_json:
            click.echo(json.dumps(item.as_dict(), ensure_ascii=False))
        else:
            origins = ",".join(item.allowed_origins) or "-"
            click.echo(
                f"{item.id}\t{item.name}\t{origins}\t{item.default_language}\t"
                f"{item.publish_below:g}/{item.spam_above:g}"
            )


@main.command("import")
# Not click.Path(exists=True): a missing or unreadable file is refused in one line.
@click.argument("file")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "wxr", "disqus"]),
    default="auto",
    show_default=True,
    help="WordPress (WXR) or Disqus export; auto reads the root element.",
)
@click.option(
    "--deleted-as",
    type=click.Choice(["spam"]),
    default=None,
    help="Label deleted/trashed comments as spam (default: logged as 'rejected', which "
    "training leaves out).",
)
@click.option("--publish", is_flag=True, help="Also publish the approved comments.")
@click.option(
    "--thread-from",
    type=click.Choice(["path", "link"]),
    default="path",
    show_default=True,
    help="Thread id: the page's path (or Disqus identifier), or its full link.",
)
def import_(file: str, fmt: str, deleted_as: str | None, publish: bool, thread_from: str) -> None:
    """Import a site's comment history (WordPress or Disqus export) as training labels."""
    import redis

    from classifier.exports import ExportError, read_export
    from moderation.bootstrap import build_services
    from moderation.importer import import_export

    settings = _settings()
    # The whole file is read before anything is written: a broken file changes nothing.
    try:
        export = read_export(
            file, fmt, thread_from=thread_from, max_comment_chars=settings.max_content_length
        )
    except ExportError as err:
        raise _Refused(str(err)) from None
    try:
        services = build_services(_open_store(settings))
        summary = import_export(
            export,
            store=services.comments,
            vault=services.vault,
            model=services.model,
            publish=publish,
            deleted_as=deleted_as,
        )
    except redis.RedisError as err:
        raise click.ClickException(f"Redis failed during the import: {err}") from None
    for line in summary.lines():
        click.echo(line)


def _services():
    from moderation.bootstrap import build_services

    return build_services(_open_store())


def _print_report(report: dict, as_json: bool) -> None:
    import json

    if as_json:
        click.echo(json.dumps(report))
        return
    training, holdout = report["training"], report["holdout"]
    if report["candidate"] is None:
        click.echo("no candidate: " + "; ".join(report["reasons"]))
        return
    click.echo(
        f"candidate {report['candidate']} trained on {training['examples']} comments "
        f"(seed {training['seed']}, files {training['extra_files']}, "
        f"decisions {training['training_log']}) in {report['seconds']} s"
    )
    click.echo(
        f"held out: {holdout['examples']} comments (seed {holdout['seed']}, "
        f"decisions {holdout['training_log']})"
    )
    for name, metrics in (
        ("candidate", report["candidate_metrics"]),
        ("current  ", report["current_metrics"]),
    ):
        if not metrics:
            continue
        click.echo(
            f"  {name} F1 {metrics['f1']:.4f}  precision {metrics['precision']:.4f}  "
            f"recall {metrics['recall']:.4f}  ham marked spam "
            f"{metrics['ham_marked_spam_rate']:.2%}  sent to review {metrics['review_rate']:.2%}"
        )
    verdict = (
        "dry run: nothing registered"
        if report["dry_run"]
        else "promoted"
        if report["promoted"]
        else "NOT promoted"
    )
    click.echo(f"{verdict}: " + "; ".join(report["reasons"]))


@main.command()
@click.option(
    "--data",
    "data",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help=f"Extra labeled comments for training ({DATA_FORMATS}). Repeatable.",
)
@click.option("--dry-run", is_flag=True, help="Train and compare, register nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
def retrain(data: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Train a candidate on the seed corpus, extra files and moderators' decisions; promote
    it only if it is not worse than the active model on the fixed held-out set."""
    from moderation.retraining import retrain_service

    extra = _read_data(data) if data else ()  # a bad file stops before anything starts
    report = retrain_service(
        _services(),
        extra=extra,
        dry_run=dry_run,
        progress=(lambda step: None) if as_json else (lambda step: click.echo(f"... {step}")),
    )
    _print_report(report.as_dict(), as_json)


@main.group()
def model() -> None:
    """The model registry: list versions, promote one, roll back."""


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of versions.")
def model_list(as_json: bool) -> None:
    """Every registered version, oldest first, with its metrics and whether it is active."""
    import json

    services = _services()
    active = services.models.active_version()
    entries = [e.as_dict(active=e.version == active) for e in services.models.entries()]
    if as_json:
        click.echo(json.dumps(entries))
        return
    for e in entries:
        f1 = e["metrics"].get("f1")
        click.echo(
            f"{'*' if e['active'] else ' '} {e['version']}  {e['created_at']}  {e['status']:10s}"
            f"  F1 {f1 if f1 is None else round(f1, 4)}"
            f"  trained on {e['training'].get('examples', e['training'].get('size', '?'))}"
        )


@model.command("promote")
@click.argument("version")
def model_promote(version: str) -> None:
    """Make VERSION the active model (every worker follows within seconds)."""
    from moderation.store.models import RegistryError

    try:
        outcome = _services().models.promote(version)
    except RegistryError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{version} is {'already ' if outcome == 'already' else 'now '}the active model")


@model.command("rollback")
def model_rollback() -> None:
    """Go back to the model that was active before the current one."""
    from moderation.store.models import RegistryError

    try:
        version = _services().models.rollback()
    except RegistryError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"rolled back: {version} is the active model")
