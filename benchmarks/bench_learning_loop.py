"""Measure the loop: does learning from moderators' decisions make the service better?

    pip install -e '.[bench]'   # matplotlib, for the chart
    python benchmarks/bench_learning_loop.py [--every 100] [--frequent-every 25]
        [--arms static,retrain,frequent,sgd] [--takedown 0.5] [--window 100]
        [--data ../shared/data/tubespam/*.csv] [--limit N]

Simulates a site's life on the YouTube Spam Collection files in ../shared/data: a fresh
install (the default model, trained from the seed corpus on first start) receives every
real comment of the files, oldest first, through the real submission endpoint
(`POST /api/v1/comments`, Flask test client, a redis-server of its own on a free port), and
a simulated moderator who knows the true label works the queue through the real moderators'
API, so that decisions reach the training log exactly as in production.

The stream. All rows of all files, sorted by DATE (ties: file, then row). A row without a
date keeps its place in its file: it takes the date of the dated row before it in that file
(the files are written in roughly chronological order), or the one after it if it opens the
file; the count is printed (0 in the three files shipped today). Thread = the file name;
author = AUTHOR; email = a synthetic address per author (same author, same commenter hash);
content = CONTENT with `<br />` turned into newlines and HTML entities unescaped, less the
U+FEFF marks of YouTube's export (as classifier.data reads the files). Text longer than the
service's limit is truncated to it; rows the service refuses (422) are skipped; both counted.

The moderator. Every comment not published (held for review, or held as spam) gets the
action of its true label: approve for ham, spam for spam. Confirming a comment already held
as spam changes and teaches nothing (the service answers `already_decided`). Published spam
is taken down ("spam") only when a reader reports it: a deterministic `--takedown` share of
spam comments (a hash of COMMENT_ID, so every arm sees the same reports; default 0.5 —
1.0 is the upper bound where every published spam is noticed). Decisions are immediate.

Arms (each on its own key prefix, all on the same stream):
- static: the default model all along (no retraining), the baseline;
- retrain: every `--every` decisions that reached the training log, `retrain_service()`,
  as `moderation retrain` does (registry, training log, active model, gate and thresholds
  from settings), then `model_watch.poll(services, wait=True)` to score with a promoted model;
- frequent: the same every `--frequent-every` decisions (cost against benefit);
- sgd: online learning. An SGDClassifier(loss="log_loss") over the default model's fitted
  features (build_pipeline's FeatureUnion, vocabulary frozen at the seed corpus), fitted on
  the seed corpus's training part (alpha picked on the seed's held-out part), updated with
  partial_fit after every decision that reached the training log (all of them: there is no
  gate, so no held-out 20%). It stands in for the model inside the running service; its
  probabilities are the SGD's own (not calibrated). "sgd frozen" is the same SGD without
  updates, shadow-scored on the same comments and routed by the same rules and thresholds,
  so that the estimator's effect and the updates' effect can be told apart.

What is measured is prequential (online): each comment is routed by the model in use when
it arrives, before its label is learned; nothing is evaluated on comments a model trained on.
Per window of about `--window` comments: F1 on spam of the routing, where a comment counts as
caught when it is not published (held for review or as spam); the share of ham not published
(false holds); the share sent to review (pending: the moderator's workload); the share held
as spam; ham held as spam; the model version in use. Each retrain's report is kept. Windows
follow the calendar, and the videos do not start together (Psy alone until July 2014), so
compare arms window by window rather than one arm's first window with its last.

Prints the per-window figures, a start/end table per arm, and writes
benchmarks/out/learning_loop.json and benchmarks/out/learning_loop.png.
"""

from __future__ import annotations

import argparse
import copy
import csv
import glob
import hashlib
import html
import json
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import redis
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score
from sklearn.pipeline import FeatureUnion

from classifier.corpus import load_seed_corpus
from classifier.model import SpamModel
from classifier.split import split
from moderation import create_app
from moderation.config import Settings
from moderation.policy import route
from moderation.redis_server import free_port, redis_binary
from moderation.retraining import retrain_service
from moderation.rules import RuleHit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
DEFAULT_DATA = sorted(glob.glob(str(ROOT.parent / "shared" / "data" / "tubespam" / "*.csv")))
ARMS = ("static", "retrain", "frequent", "sgd")
COLORS = {
    "static": "#555555",
    "retrain": "#1f77b4",
    "frequent": "#2ca02c",
    "sgd": "#d62728",
    "sgd frozen": "#d62728",
}
MARKERS = {"static": "o", "retrain": "s", "frequent": "D", "sgd": "v"}
SGD_ALPHAS = (1e-5, 1e-4, 1e-3)

Record = Mapping[str, str]


# --- the stream ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    comment_id: str
    thread: str
    author: str
    date: datetime
    dated: bool
    content: str
    label: int  # 1 spam, 0 ham
    truncated: bool


def clean(text: str) -> str:
    # YouTube's export keeps HTML entities and <br /> tags; U+FEFF marks end many comments.
    text = text.replace("<br />", "\n").replace("<br/>", "\n").replace("<br>", "\n")
    return html.unescape(text).replace("\ufeff", "")


def read_stream(paths: Sequence[str], max_length: int) -> tuple[list[Row], dict[str, int]]:
    """Every row of every file in date order; undated rows keep their place in their file."""
    keyed: list[tuple[datetime, int, int, Row]] = []
    counts = Counter[str]()
    for file_index, raw in enumerate(paths):
        path = Path(raw)
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            rows = list(csv.DictReader(fh))
        dates: list[datetime | None] = [
            datetime.fromisoformat(r["DATE"].strip()) if (r.get("DATE") or "").strip() else None
            for r in rows
        ]
        known = [d for d in dates if d is not None]
        if not known:
            raise SystemExit(f"{path}: no dated rows, cannot place it in time")
        previous: datetime = known[0]  # an undated opening row goes with the first dated one
        for row_index, (r, date) in enumerate(zip(rows, dates, strict=True)):
            counts["rows"] += 1
            if date is None:
                counts["undated"] += 1
            else:
                previous = date
            content = clean(r["CONTENT"])
            truncated = len(content) > max_length
            counts["truncated"] += truncated
            row = Row(
                comment_id=r["COMMENT_ID"],
                thread=path.name,
                author=r["AUTHOR"],
                date=previous,
                dated=date is not None,
                content=content[:max_length],
                label=int(r["CLASS"]),
                truncated=truncated,
            )
            keyed.append((previous, file_index, row_index, row))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed], dict(counts)


def email_for(author: str) -> str:
    return f"c-{hashlib.sha256(author.encode()).hexdigest()[:16]}@readers.example.org"


def reported(row: Row, share: float) -> bool:
    """Whether readers report this comment if it is published: the same in every arm."""
    digest = hashlib.sha256(b"report\0" + row.comment_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# --- the online model --------------------------------------------------------------------


def fitted_features(model: SpamModel) -> FeatureUnion:
    (calibrated,) = model.estimator.calibrated_classifiers_  # ensemble=False: one pipeline
    return calibrated.estimator.named_steps["features"]


def balanced_weights(labels: np.ndarray) -> dict[int, float]:
    # partial_fit refuses class_weight="balanced"; the same weights, fixed from the seed.
    counts = np.bincount(labels, minlength=2)
    return {c: float(len(labels) / (2 * counts[c])) for c in (0, 1)}


def fit_sgd(features: FeatureUnion) -> tuple[SGDClassifier, dict[str, Any]]:
    """An SGD logistic regression on the seed's training part; alpha chosen on its held-out
    part (never on the stream, which would flatter it)."""
    seed_train, seed_holdout = split(load_seed_corpus())
    x_train = features.transform([ex.as_features() for ex in seed_train])
    y_train = np.array([ex.label for ex in seed_train])
    x_hold = features.transform([ex.as_features() for ex in seed_holdout])
    y_hold = np.array([ex.label for ex in seed_holdout])
    choice: dict[str, Any] = {"holdout_f1": {}}
    best: SGDClassifier | None = None
    best_f1 = -1.0
    for alpha in SGD_ALPHAS:
        sgd = SGDClassifier(
            loss="log_loss", alpha=alpha, class_weight=balanced_weights(y_train), random_state=0
        )
        sgd.fit(x_train, y_train)
        f1 = float(f1_score(y_hold, sgd.predict(x_hold)))
        choice["holdout_f1"][str(alpha)] = round(f1, 4)
        if f1 > best_f1:
            best, best_f1, choice["alpha"] = sgd, f1, alpha
    assert best is not None
    return best, choice


class OnlineModel:
    """Stands in for SpamModel inside the service (score, explain, version): the default
    model's fitted features and an SGD on top, updated after each decision."""

    def __init__(self, features: FeatureUnion, sgd: SGDClassifier) -> None:
        self.features = features
        self.sgd = sgd
        self.updates = 0

    @property
    def version(self) -> str:
        return f"sgd+{self.updates}"

    def score(self, record: Record) -> float:
        return float(self.sgd.predict_proba(self.features.transform([record]))[0, 1])

    def explain(self, record: Record, top: int = 5) -> list[tuple[str, float]]:
        return []  # reasons are for people; nobody reads them here

    def score_and_explain(self, record: Record, top: int = 5) -> tuple[float, list]:
        return self.score(record), []

    def learn(self, record: Record, label: int) -> None:
        self.sgd.partial_fit(self.features.transform([record]), [label])
        self.updates += 1


# --- one arm ------------------------------------------------------------------------------


@dataclass
class Outcome:
    position: int  # index in the stream
    label: int
    status: str  # as routed on arrival: published | pending | spam
    model_version: str
    action: str | None = None  # what the moderator did about it, if anything
    logged: bool = False  # the decision reached the training log


@dataclass
class ArmResult:
    name: str
    every: int | None
    outcomes: list[Outcome] = field(default_factory=list)
    shadow: list[Outcome] = field(default_factory=list)  # sgd frozen, same comments
    retrains: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    moderator: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    retrain_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def run_arm(
    name: str,
    every: int | None,
    stream: Sequence[Row],
    base: Path,
    redis_url: str,
    model_path: Path,
    takedown: float,
    online: Callable[[], tuple[OnlineModel, dict[str, Any]]] | None = None,
) -> ArmResult:
    started = time.perf_counter()
    settings = Settings.from_env(
        {},
        data_dir=base / name,
        redis_url=redis_url,
        key_prefix=f"bench-loop-{uuid.uuid4().hex[:8]}-{name}",
        secret_key="bench",
        model_path=model_path,
        log_level="WARNING",  # one JSON line per comment would drown the figures
        # The SGD arm's model is not in the registry: the reload check must not swap it
        # back for the registry's active (default) model.
        model_check_seconds=1e9 if online else 2.0,
    )
    app = create_app(settings)
    services = app.extensions["moderation"]
    client = app.test_client()
    token, _ = services.tokens.create("simulated moderator", "moderator")
    auth = {"Authorization": f"Bearer {token}"}
    result = ArmResult(name=name, every=every)
    learner: OnlineModel | None = None
    frozen: OnlineModel | None = None
    if online:
        services.model_watch.poll(services)  # the one check; the interval is then ~forever
        learner, result.extra["sgd"] = online()
        frozen = copy.deepcopy(learner)
        services.model = learner
    logged_at_last_retrain = logged = 0

    def decide(comment_id: int, action: str) -> bool:
        answer = client.post(
            f"/api/v1/moderation/comments/{comment_id}/decision",
            json={"action": action},
            headers=auth,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"decision on {comment_id}: {answer.status_code} {answer.text}")
        return not answer.get_json()["already_decided"]

    for position, row in enumerate(stream):
        answer = client.post(
            "/api/v1/comments",
            json={
                "thread": row.thread,
                "author": row.author,
                "email": email_for(row.author),
                "content": row.content,
            },
        )
        if answer.status_code == 422:
            fields = answer.get_json()["error"].get("fields", {})
            result.skipped["422: " + ",".join(sorted(fields))] += 1
            continue
        if answer.status_code != 201:
            raise RuntimeError(f"submission of row {position}: {answer.status_code} {answer.text}")
        comment_id = answer.get_json()["id"]
        stored = services.comments.get(comment_id)
        outcome = Outcome(position, row.label, stored["status"], stored["model_version"])
        result.outcomes.append(outcome)
        record = {"content": stored["content"], "author": stored["author"], "url": ""}
        if frozen is not None:
            hits = [RuleHit(h["rule"], h["outcome"], h.get("detail", "")) for h in stored["rules"]]
            shadow_status = route(
                frozen.score(record), hits, settings.publish_below, settings.spam_above
            )
            result.shadow.append(Outcome(position, row.label, shadow_status, frozen.version))

        action = None
        if outcome.status != "published":
            action = "spam" if row.label else "approve"
            result.moderator[f"{outcome.status} looked at"] += 1
        elif row.label and reported(row, takedown):
            action = "spam"
            result.moderator["published spam taken down"] += 1
        if action is None:
            continue
        outcome.action = action
        outcome.logged = decide(comment_id, action)
        result.moderator["decisions logged" if outcome.logged else "decisions already so"] += 1
        if not outcome.logged:
            continue
        logged += 1
        if learner is not None:
            learner.learn(record, row.label)
        if every and logged - logged_at_last_retrain >= every:
            logged_at_last_retrain = logged
            result.retrains.append(retrain_now(services, settings, position, logged))
            result.retrain_seconds += result.retrains[-1]["wall_seconds"]

    result.extra["training_log_entries"] = len(services.training_log)
    result.extra["versions"] = list(dict.fromkeys(o.model_version for o in result.outcomes))
    result.seconds = time.perf_counter() - started
    return result


def retrain_now(services: Any, settings: Settings, position: int, logged: int) -> dict[str, Any]:
    """What `moderation retrain` does, then what every worker does on its next request."""
    started = time.perf_counter()
    before = services.model.version
    report = retrain_service(services)
    services.model_watch.poll(services, wait=True)
    wall = time.perf_counter() - started
    outcome = (
        "promoted" if report.promoted else "nothing new" if report.candidate is None else "refused"
    )
    active = services.models.active_version()
    print(
        f"    after comment {position + 1}, {logged} decisions logged: {outcome} "
        f"({'; '.join(report.reasons)}) in {wall:.1f} s"
    )
    return {
        "after_comment": position + 1,
        "decisions_logged": logged,
        "outcome": outcome,
        "model_before": before,
        "model_after": services.model.version,
        "registry_active": active,
        "serving_active_model": services.model.version == active,
        "wall_seconds": round(wall, 2),
        "report": report.as_dict(),
    }


# --- figures ------------------------------------------------------------------------------


def routing_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Spam is "caught" when it is not published; everything else follows from that."""
    spam = [o for o in outcomes if o.label == 1]
    ham = [o for o in outcomes if o.label == 0]
    caught = sum(o.status != "published" for o in spam)
    ham_held = sum(o.status != "published" for o in ham)
    precision = caught / (caught + ham_held) if caught + ham_held else 0.0
    recall = caught / len(spam) if spam else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n = len(outcomes)

    def share(count: int, of: int) -> float:
        return round(count / of, 4) if of else 0.0

    return {
        "n": n,
        "spam": len(spam),
        "ham": len(ham),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "ham_held_rate": share(ham_held, len(ham)),
        "ham_held_as_spam_rate": share(sum(o.status == "spam" for o in ham), len(ham)),
        "spam_published_rate": share(len(spam) - caught, len(spam)),
        "review_rate": share(sum(o.status == "pending" for o in outcomes), n),
        "spam_folder_rate": share(sum(o.status == "spam" for o in outcomes), n),
        "decisions_logged": sum(o.logged for o in outcomes),
    }


def windows(outcomes: Sequence[Outcome], size: int) -> list[list[Outcome]]:
    # Equal windows of about `size`: a last window of a handful of comments says nothing.
    parts = max(1, round(len(outcomes) / size))
    return [list(part) for part in np.array_split(np.array(outcomes, dtype=object), parts)]


def version_labels(versions: Sequence[str]) -> dict[str, str]:
    # Registry versions are long (timestamp-hash); the order of first use reads better.
    return {v: ("default" if i == 0 else f"v{i}") for i, v in enumerate(versions)}


def window_rows(
    outcomes: Sequence[Outcome], size: int, stream: Sequence[Row]
) -> list[dict[str, Any]]:
    labels = version_labels(list(dict.fromkeys(o.model_version for o in outcomes)))
    rows = []
    for part in windows(outcomes, size):
        in_use = list(dict.fromkeys(o.model_version for o in part))
        rows.append(
            {
                "first": part[0].position,
                "last": part[-1].position,
                "from": stream[part[0].position].date.isoformat(timespec="minutes"),
                "to": stream[part[-1].position].date.isoformat(timespec="minutes"),
                "models": [v if v.startswith("sgd") else labels[v] for v in in_use],
                "model_versions": in_use,
                **routing_metrics(part),
            }
        )
    return rows


def summary(outcomes: Sequence[Outcome], rows: list[dict[str, Any]]) -> dict[str, Any]:
    half = len(outcomes) // 2
    return {
        "first_window": {k: rows[0][k] for k in ("f1", "review_rate", "ham_held_rate")},
        "last_window": {k: rows[-1][k] for k in ("f1", "review_rate", "ham_held_rate")},
        "whole_stream": routing_metrics(outcomes),
        "second_half": routing_metrics(outcomes[half:]),
    }


def print_matrix(
    title: str, key: str, names: Sequence[str], table: Mapping[str, list[dict[str, Any]]]
) -> None:
    print(f"\n{title}")
    print(f"{'window':>7s} {'dates':23s} " + " ".join(f"{n:>10s}" for n in names))
    for i, row in enumerate(table[names[0]]):
        cells = " ".join(
            f"{table[n][i][key]:10.3f}" if i < len(table[n]) else f"{'':10s}" for n in names
        )
        print(f"{i + 1:7d} {row['from'][:10]}..{row['to'][:10]} {cells}")


def plot(
    path: Path,
    names: Sequence[str],
    table: Mapping[str, list[dict[str, Any]]],
    results: Mapping[str, ArmResult],
    stream: Sequence[Row],
    window: int,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    retraining = [n for n in names if n in results and results[n].retrains]
    heights = [3, 2.2, 2.2] + ([0.35 * len(retraining) + 0.5] if retraining else [])
    fig, axes = plt.subplots(
        len(heights),
        1,
        sharex=True,
        figsize=(11, sum(heights) + 2.2),
        gridspec_kw={"height_ratios": heights},
    )
    panels = (
        ("f1", "F1 on spam\n(caught = not published)"),
        ("review_rate", "share sent to review\n(moderator workload)"),
        ("ham_held_rate", "share of ham\nnot published"),
    )
    for ax, (key, label) in zip(axes, panels, strict=False):
        for name in names:
            rows = table[name]
            x = [(r["first"] + r["last"]) / 2 for r in rows]
            frozen = name == "sgd frozen"
            static = name == "static"
            ax.plot(
                x,
                [r[key] for r in rows],
                marker=None if frozen else MARKERS.get(name, "o"),
                markersize=4,
                # The baseline is drawn wide and pale: arms that match it stay visible on it.
                linewidth=1.2 if frozen else 5 if static else 1.8,
                linestyle="--" if frozen else "-",
                color=COLORS.get(name, "black"),
                alpha=0.35 if static else 0.7 if frozen else 1.0,
                zorder=1 if static else 2,
                label=legend_label(name, results),
            )
        ax.set_ylabel(label, fontsize=9)
        ax.grid(True, alpha=0.3)
    lowest = min(r["f1"] for rows in table.values() for r in rows)
    bottom = max(0.0, np.floor((lowest - 0.06) * 20) / 20)
    axes[0].set_ylim(bottom, 1.005)
    # F1 on a window with a dozen spam comments moves a lot on one comment: show how many.
    for r in table[names[0]]:
        axes[0].text(
            (r["first"] + r["last"]) / 2,
            bottom + 0.01,
            f"{r['spam']} spam",
            ha="center",
            va="bottom",
            fontsize=7,
            color="#777777",
        )
    axes[1].set_ylim(bottom=0)
    axes[2].set_ylim(bottom=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.943), ncol=3, fontsize=8)
    if retraining:
        ax = axes[3]
        for row, name in enumerate(retraining):
            events = results[name].retrains
            for outcome, marker, fill in (
                ("promoted", "^", COLORS[name]),
                ("refused", "x", COLORS[name]),
                ("nothing new", "o", "none"),
            ):
                xs = [e["after_comment"] for e in events if e["outcome"] == outcome]
                if xs:
                    ax.plot(
                        xs,
                        [row] * len(xs),
                        linestyle="none",
                        marker=marker,
                        markersize=8,
                        markeredgewidth=2,
                        color=COLORS[name],
                        markerfacecolor=fill,
                    )
        ax.set_yticks(range(len(retraining)), [f"{n} retrains" for n in retraining], fontsize=8)
        ax.set_ylim(-0.6, len(retraining) - 0.4)
        ax.grid(True, axis="x", alpha=0.3)
        ax.text(
            1.0,
            1.02,
            "▲ promoted   ✕ refused by the gate   ○ nothing new",
            transform=ax.transAxes,
            ha="right",
            fontsize=8,
        )
    last = axes[-1]
    ticks = list(range(0, len(stream), 200))
    last.set_xticks(ticks, [f"{t}\n{stream[t].date:%Y-%m}" for t in ticks], fontsize=8)
    last.set_xlabel("comments streamed, oldest first (with the date reached)")
    last.set_xlim(-10, len(stream) + 10)
    fig.suptitle(
        "Learning from moderators: YouTube comments streamed through a fresh install\n"
        f"per window of ~{window} comments, each routed before its label was learned",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.935))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def legend_label(name: str, results: Mapping[str, ArmResult]) -> str:
    if name == "static":
        return "static: default model, no retraining"
    if name == "sgd":
        return "sgd: SGD updated after each decision"
    if name == "sgd frozen":
        return "sgd frozen: the same SGD, never updated"
    return f"{name}: retrain every {results[name].every} decisions"


# --- main ---------------------------------------------------------------------------------


def start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        + ["--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port)
    for _ in range(200):
        try:
            probe.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=DEFAULT_DATA)
    parser.add_argument("--every", type=int, default=100, help="retrain arm: decisions apart")
    parser.add_argument("--frequent-every", type=int, default=25, help="frequent arm")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"any of {','.join(ARMS)}")
    parser.add_argument("--takedown", type=float, default=0.5, help="share of spam reported")
    parser.add_argument("--window", type=int, default=100, help="comments per window")
    parser.add_argument("--limit", type=int, default=None, help="first N comments only")
    args = parser.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = set(arms) - set(ARMS)
    if unknown or not arms:
        parser.error(f"--arms: choose from {','.join(ARMS)}")
    if not args.data:
        parser.error("no data files (../shared/data/tubespam/*.csv)")

    started = time.perf_counter()
    stream, counts = read_stream(args.data, Settings().max_content_length)
    stream = stream[: args.limit] if args.limit else stream
    print(
        f"{len(stream)} comments ({sum(r.label for r in stream)} spam) from "
        f"{len(args.data)} files, {stream[0].date:%Y-%m-%d} to {stream[-1].date:%Y-%m-%d}; "
        f"undated rows placed by file position: {counts.get('undated', 0)}; "
        f"truncated to the length limit: {counts.get('truncated', 0)}"
    )
    results: dict[str, ArmResult] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_redis(tmp)
        try:
            model_path = Path(tmp) / "model.skops"
            t0 = time.perf_counter()
            # What a fresh install does on first start; every arm then loads this file.
            create_app(
                Settings.from_env(
                    {},
                    data_dir=Path(tmp) / "first-start",
                    redis_url=url,
                    key_prefix=f"bench-loop-{uuid.uuid4().hex[:8]}-first",
                    secret_key="bench",
                    model_path=model_path,
                    log_level="WARNING",
                )
            )
            default_seconds = time.perf_counter() - t0
            print(f"default model trained from the seed corpus in {default_seconds:.1f} s")

            def online() -> tuple[OnlineModel, dict[str, Any]]:
                from classifier.persistence import load_model

                features = fitted_features(load_model(model_path))
                sgd, choice = fit_sgd(features)
                print(f"    SGD fitted on the seed corpus: {choice}")
                return OnlineModel(features, sgd), choice

            everies = {"retrain": args.every, "frequent": args.frequent_every}
            for name in arms:
                print(f"arm {name} ...")
                results[name] = run_arm(
                    name,
                    everies.get(name),
                    stream,
                    Path(tmp),
                    url,
                    model_path,
                    args.takedown,
                    online if name == "sgd" else None,
                )
                r = results[name]
                print(
                    f"  {len(r.outcomes)} comments in {r.seconds:.1f} s "
                    f"({r.retrain_seconds:.1f} s retraining); moderator: {dict(r.moderator)}"
                    + (f"; skipped {dict(r.skipped)}" if r.skipped else "")
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    table: dict[str, list[dict[str, Any]]] = {
        name: window_rows(r.outcomes, args.window, stream) for name, r in results.items()
    }
    if "sgd" in results:
        table["sgd frozen"] = window_rows(results["sgd"].shadow, args.window, stream)
    names = list(table)
    print_matrix("F1 on spam per window (caught = not published)", "f1", names, table)
    print_matrix("share sent to review per window (workload)", "review_rate", names, table)
    print_matrix("share of ham not published per window", "ham_held_rate", names, table)
    print("\nmodel in use at the end of each window")
    print(f"{'window':>7s} {'dates':23s} " + " ".join(f"{n:>10s}" for n in names))
    for i, row in enumerate(table[names[0]]):
        cells = " ".join(f"{table[n][i]['models'][-1]:>10s}" for n in names)
        print(f"{i + 1:7d} {row['from'][:10]}..{row['to'][:10]} {cells}")

    summaries = {}
    for name in names:
        outcomes = results["sgd"].shadow if name == "sgd frozen" else results[name].outcomes
        summaries[name] = summary(outcomes, table[name])
    total = time.perf_counter() - started
    print(
        "\n| arm | F1 first -> last | review first -> last | ham held first -> last "
        "| F1 whole | review whole | ham held whole | spam published whole "
        "| retrains | promoted | refused | seconds |"
    )
    print("|---" * 12 + "|")
    for name in names:
        s, arm = summaries[name], results.get(name)
        events = Counter(e["outcome"] for e in arm.retrains) if arm else Counter()
        whole = s["whole_stream"]
        first, last = s["first_window"], s["last_window"]
        print(
            f"| {name} | {first['f1']:.3f} -> {last['f1']:.3f} "
            f"| {first['review_rate']:.1%} -> {last['review_rate']:.1%} "
            f"| {first['ham_held_rate']:.1%} -> {last['ham_held_rate']:.1%} "
            f"| {whole['f1']:.3f} | {whole['review_rate']:.1%} | {whole['ham_held_rate']:.1%} "
            f"| {whole['spam_published_rate']:.1%} "
            f"| {len(arm.retrains) if arm else '-'} | {events['promoted']} "
            f"| {events['refused']} | {arm.seconds if arm else 0:.0f} |"
        )
    print(f"total {total:.0f} s (default model {default_seconds:.0f} s)")

    OUT.mkdir(parents=True, exist_ok=True)
    figure = OUT / "learning_loop.png"
    plot(figure, names, table, results, stream, args.window)
    report = {
        "config": {
            "data": [Path(p).name for p in args.data],
            "every": args.every,
            "frequent_every": args.frequent_every,
            "arms": arms,
            "takedown_share": args.takedown,
            "window": args.window,
            "limit": args.limit,
            "thresholds": {
                "publish_below": Settings().publish_below,
                "spam_above": Settings().spam_above,
            },
        },
        "stream": {
            "comments": len(stream),
            "spam": sum(r.label for r in stream),
            "first": stream[0].date.isoformat(),
            "last": stream[-1].date.isoformat(),
            **counts,
        },
        "seconds": {"total": round(total, 1), "default_model": round(default_seconds, 1)},
        "arms": {
            name: {
                "summary": summaries[name],
                "windows": table[name],
                **(
                    {
                        "every": results[name].every,
                        "retrains": results[name].retrains,
                        "moderator": dict(results[name].moderator),
                        "skipped": dict(results[name].skipped),
                        "seconds": round(results[name].seconds, 1),
                        "retrain_seconds": round(results[name].retrain_seconds, 1),
                        **results[name].extra,
                    }
                    if name in results
                    else {}
                ),
            }
            for name in names
        },
        "outcomes": {name: [asdict(o) for o in r.outcomes] for name, r in results.items()},
    }
    (OUT / "learning_loop.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {figure} and {OUT / 'learning_loop.json'}")


if __name__ == "__main__":
    main()
