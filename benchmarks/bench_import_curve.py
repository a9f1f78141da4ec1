"""Measure the path "install, import your history, retrain": F1 against imported labels.

    pip install -e '.[bench]'   # matplotlib, for the chart
    python benchmarks/bench_import_curve.py [--held-out LMFAO,Psy,KatyPerry]
        [--points 0,25,50,100,200,400,all] [--order shuffled|date] [--seed 0]
        [--data ../shared/data/tubespam/*.csv]

A site that adopts the service already has a history of moderated comments. README's
"Importing a site's history" and "Learning from moderators" promise that this history
can be turned into labels (`moderation import FILE`) and then into a better model
(`moderation retrain`). This measures how much better, and after how many labels.

The data: the three files of the YouTube Spam Collection in ../shared/data/tubespam, read
in place. Each file in turn is held out as the test set; the other two files' comments
are the site's history, shuffled with a fixed seed (`--order date`: oldest first, which
puts one video's comments ahead of the other's, so the curve would also measure a change
of video). For each N of `--points`, a FRESH deployment (its own key prefix on one
redis-server this benchmark starts on a free port, never 127.0.0.1:6379, and its own temp
data directory) whose default model is the one a fresh install trains from the seed
corpus (trained once here and shared through MODERATION_MODEL_PATH, as tests/conftest.py
does) takes the first N history comments through the real path:

1. they are written as a WordPress WXR export (approved comments, wp:comment_approved 1,
   for ham; wp:comment_approved "spam" for spam; one post per video);
2. `python -m moderation import FILE` runs in a subprocess with REDIS_URL,
   MODERATION_KEY_PREFIX, MODERATION_DATA_DIR, MODERATION_SECRET_KEY and
   MODERATION_MODEL_PATH set, exactly as an operator runs it (labels only, no --publish);
3. `python -m moderation retrain --json` runs the same way, and its report says whether
   the gate promoted the candidate or refused it, and why;
4. the deployment's active model (what `build_services` loads, as a worker would) scores
   the held-out file; when the gate refused, the refused candidate (kept in the registry)
   is scored too, to tell whether the gate was right.

N = 0 is the fresh install with nothing imported: the default model (its `retrain` is run
too, and should say there is nothing new to learn). One such deployment serves every
held-out file, since nothing about it depends on which one is held out.

A second baseline in the same run, "history alone": classifier.model.train_model on the
same N comments as the import read them (the importer's own text), without the seed
corpus, as a site that trained its own model from scratch would. Note that the retrain
candidate learns from about 80% of the N imported labels only: the other 20% (fixed by a
hash of the text, classifier.split) join the gate's yardstick.

Figures on the held-out file, all from the model's score alone (no hard rules such as the
link count): F1 on spam at 0.5, ROC AUC, the share of ham the default thresholds would
mark spam (score >= MODERATION_SPAM_ABOVE, 0.9), the share of ham they would hold for
review (0.35 <= score < 0.9), and the share of all comments held for review (the
moderators' workload). The test set is read by classifier.data.read_examples, as the other
benchmarks read these files.

Every `retrain` reads the seed corpus from the source tree afresh, so the run checks the
corpus' hash around each point and warns when it changed under it. To measure one version
of the code while the tree is being edited, run a copy of it (the subprocesses follow
PYTHONPATH and the working directory, ahead of the editable install):
`cp -r classifier moderation benchmarks /tmp/snap/ && cd /tmp/snap &&
PYTHONPATH=. python benchmarks/bench_import_curve.py --data /abs/path/tubespam/*.csv`.
About 8 minutes on two busy cores (a retrain is ~20 s of it per point).

Prints a markdown table and writes benchmarks/out/import_curve.json and
benchmarks/out/import_curve.png (F1 against N, one line per held-out file, dashed for the
history-alone baseline; ham marked spam and the review share below it).
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

# benchmarks/ is this script's folder, hence on sys.path: reuse the learning loop's helper
# that starts a redis-server of our own on a free port (never the machine's Redis).
from bench_learning_loop import start_redis

from classifier.corpus import load_seed_corpus
from classifier.data import Example, read_examples
from classifier.evaluate import metrics
from classifier.exports import read_export
from classifier.model import SpamModel, train_model, training_data_hash
from moderation.bootstrap import build_services
from moderation.config import Settings
from moderation.scoring import ensure_model

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
DEFAULT_DATA = sorted(glob.glob(str(ROOT.parent / "shared" / "data" / "tubespam" / "*.csv")))
DEFAULT_POINTS = "0,25,50,100,200,400,all"
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")

# Characters XML 1.0 cannot carry at all: a real WordPress export would not hold them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- the site's history --------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryComment:
    """One row of a YouTube Spam Collection file, as a site's moderated comment."""

    video: str  # "Psy", "KatyPerry", "LMFAO": the post it was left under
    author: str
    date: datetime | None
    content: str  # CONTENT as YouTube exported it: HTML entities and <br /> tags
    label: int  # 1 spam, 0 ham


def video_name(path: str | Path) -> str:
    # "Youtube03-LMFAO.csv" -> "LMFAO"
    return Path(path).stem.partition("-")[2] or Path(path).stem


def read_history(path: str | Path) -> list[HistoryComment]:
    with Path(path).open(newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.DictReader(fh))
    video = video_name(path)
    comments = []
    for row in rows:
        raw_date = (row.get("DATE") or "").strip()
        comments.append(
            HistoryComment(
                video=video,
                author=row["AUTHOR"],
                date=datetime.fromisoformat(raw_date) if raw_date else None,
                content=row["CONTENT"],
                label=int(row["CLASS"]),
            )
        )
    return comments


def order_history(
    comments: Sequence[HistoryComment], order: str, seed: int
) -> list[HistoryComment]:
    """The order in which the site's history is cut into its first N comments."""
    ordered = list(comments)
    if order == "date":
        # Undated rows (none in the files shipped today) go last, in file order.
        return sorted(ordered, key=lambda c: (c.date is None, c.date or datetime.min))
    random.Random(seed).shuffle(ordered)
    return ordered


def _cdata(text: str) -> str:
    # As WordPress's wxr_cdata writes it: "]]>" cannot occur inside one CDATA section.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _clean(text: str) -> str:
    # YouTube's export ends many comments with U+FEFF: an artefact of that export, not
    # something a site's commenters typed, so it stays out of the site's WXR file.
    return _XML_INVALID.sub("", text.replace("\ufeff", ""))


def write_wxr(path: Path, comments: Sequence[HistoryComment]) -> None:
    """A WordPress (WXR 1.2) export of `comments`: one post per video, ham approved ("1"),
    spam marked "spam" (core WordPress leaves spam out; plugins and other tools keep it,
    and the importer reads it)."""
    posts: dict[str, list[tuple[int, HistoryComment]]] = {}
    for number, comment in enumerate(comments, start=1):
        posts.setdefault(comment.video, []).append((number, comment))
    fallback = datetime(2015, 1, 1)
    parts = [
        '<?xml version="1.0" encoding="UTF-8" ?>',
        '<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:wp="http://wordpress.org/export/1.2/">',
        "<channel>",
        "<title>A site's history</title>",
        "<link>https://site.example</link>",
        "<wp:wxr_version>1.2</wp:wxr_version>",
    ]
    for post_id, (video, entries) in enumerate(sorted(posts.items()), start=1):
        parts += [
            "<item>",
            f"<title>{video}</title>",
            f"<link>https://site.example/videos/{video.lower()}/</link>",
            f"<wp:post_id>{post_id}</wp:post_id>",
            "<wp:post_type>post</wp:post_type>",
            "<wp:status>publish</wp:status>",
        ]
        for number, comment in entries:
            date = f"{comment.date or fallback:%Y-%m-%d %H:%M:%S}"
            parts += [
                "<wp:comment>",
                f"<wp:comment_id>{number}</wp:comment_id>",
                f"<wp:comment_author>{_cdata(_clean(comment.author))}</wp:comment_author>",
                "<wp:comment_author_email></wp:comment_author_email>",
                "<wp:comment_author_url></wp:comment_author_url>",
                "<wp:comment_author_IP></wp:comment_author_IP>",
                f"<wp:comment_date>{date}</wp:comment_date>",
                f"<wp:comment_date_gmt>{date}</wp:comment_date_gmt>",
                f"<wp:comment_content>{_cdata(_clean(comment.content))}</wp:comment_content>",
                f"<wp:comment_approved>{'spam' if comment.label else '1'}</wp:comment_approved>",
                "<wp:comment_type>comment</wp:comment_type>",
                "<wp:comment_parent>0</wp:comment_parent>",
                "</wp:comment>",
            ]
        parts.append("</item>")
    parts += ["</channel>", "</rss>", ""]
    path.write_text("\n".join(parts), encoding="utf-8")


# --- one deployment -------------------------------------------------------------------------


@dataclass
class Deployment:
    """A fresh install: its own key prefix and data directory, the shared default model."""

    name: str
    env: dict[str, str]
    data_dir: Path

    @classmethod
    def fresh(cls, base: Path, name: str, redis_url: str, model_path: Path) -> Deployment:
        data_dir = base / name
        # Only `serve` creates a data directory; every other command refuses a missing one.
        data_dir.mkdir(mode=0o700, parents=True)
        env = {
            "REDIS_URL": redis_url,
            "MODERATION_KEY_PREFIX": f"bench-import-{uuid.uuid4().hex[:8]}-{name}",
            "MODERATION_DATA_DIR": str(data_dir),
            "MODERATION_SECRET_KEY": "bench-import-curve",
            "MODERATION_MODEL_PATH": str(model_path),
            "MODERATION_LOG_LEVEL": "WARNING",
        }
        return cls(name=name, env=env, data_dir=data_dir)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`moderation ARGS` as an operator runs it, in a process of its own."""
        # The caller's own MODERATION_* settings (or REDIS_URL) must not leak in.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MODERATION_") and k != "REDIS_URL"
        }
        env.update(self.env)
        done = subprocess.run(
            [sys.executable, "-m", "moderation", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"moderation {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    def import_file(self, path: Path) -> list[str]:
        return self.run("import", str(path)).stdout.splitlines()

    def retrain(self) -> dict[str, Any]:
        # --json: the report alone, one object on the last line of stdout.
        return json.loads(self.run("retrain", "--json").stdout.strip().splitlines()[-1])

    def registered_model(self, version: str) -> SpamModel:
        """A version from this deployment's registry (a refused candidate stays there)."""
        services = build_services(Settings.from_env(self.env))
        try:
            return services.models.load(version, self.data_dir / "models")
        finally:
            services.redis.close()

    def active_model(self) -> tuple[SpamModel, str | None]:
        """The model a worker of this deployment would score with, and the registry's
        active version (they must agree)."""
        services = build_services(Settings.from_env(self.env))
        try:
            return services.model, services.models.active_version()
        finally:
            services.redis.close()


def score_metrics(model: SpamModel, test: Sequence[Example], settings: Settings) -> dict[str, Any]:
    """classifier.evaluate's figures, plus the share of ham held for review."""
    scores = model.score_many([ex.as_features() for ex in test])
    labels = np.array([ex.label for ex in test])
    found = metrics(labels, scores, settings.publish_below, settings.spam_above)
    ham = scores[labels == 0]
    held = (ham >= settings.publish_below) & (ham < settings.spam_above)
    found["ham_review_rate"] = round(float(held.mean()), 4) if len(ham) else 0.0
    found.pop("reliability")
    return found


def outcome_of(report: Mapping[str, Any]) -> str:
    if report["candidate"] is None:
        return "nothing new"
    return "promoted" if report["promoted"] else "refused"


def brief_report(report: Mapping[str, Any]) -> dict[str, Any]:
    # The gate's verdict and both models' figures on its yardstick; enough to see why.
    keep = ("candidate", "current", "promoted", "reasons", "training", "holdout", "seconds")
    return {
        **{k: report[k] for k in keep},
        "candidate_metrics": report["candidate_metrics"],
        "current_metrics": report["current_metrics"],
    }


def seed_corpus_hash() -> str:
    # Every `retrain` reads the seed corpus from the source tree afresh: an edit to it in
    # the middle of a run would compare points trained on different corpora. Checked
    # around each point, so such a run says so instead of drawing a false curve.
    return training_data_hash(load_seed_corpus())


# --- the curve -------------------------------------------------------------------------------


def parse_points(raw: str) -> list[int | None]:
    """The numbers of labels to import: "0,25,all" -> [0, 25, None], None for all."""
    points: list[int | None] = []
    for item in raw.split(","):
        item = item.strip().lower()
        if item:
            points.append(None if item == "all" else int(item))
    return points


def run_point(
    held_out: str,
    n: int,
    history: Sequence[HistoryComment],
    test: Sequence[Example],
    base: Path,
    redis_url: str,
    model_path: Path,
    settings: Settings,
    corpus: str,
) -> dict[str, Any]:
    """Import the first n history comments into a fresh deployment, retrain, score.
    `corpus`: the hash of the seed corpus the default model was trained on."""
    started = time.perf_counter()
    corpus_before = seed_corpus_hash()
    deployment = Deployment.fresh(base, f"{held_out.lower()}-{n}", redis_url, model_path)
    export = deployment.data_dir / "history.xml"
    write_wxr(export, history[:n])
    t0 = time.perf_counter()
    summary = deployment.import_file(export)
    import_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = deployment.retrain()
    retrain_seconds = time.perf_counter() - t0
    model, active = deployment.active_model()
    if model.version != active:
        raise RuntimeError(f"{deployment.name}: serving {model.version}, registry has {active}")
    result: dict[str, Any] = {
        "held_out": held_out,
        "n": n,
        "spam_imported": sum(c.label for c in history[:n]),
        "import_summary": summary,
        "outcome": outcome_of(report),
        "model_version": model.version,
        "retrain": brief_report(report),
        "metrics": score_metrics(model, test, settings),
        # Was the gate right? What the refused candidate would have done on the test file.
        "refused_candidate": score_metrics(
            deployment.registered_model(report["candidate"]), test, settings
        )
        if outcome_of(report) == "refused"
        else None,
        "import_seconds": round(import_seconds, 1),
        "retrain_seconds": round(retrain_seconds, 1),
    }
    # The baseline: the same comments, as the importer read them, and nothing else.
    examples = [ex for c in read_export(export).comments if (ex := c.as_example()) is not None]
    t0 = time.perf_counter()
    try:
        alone = train_model(examples)
        result["alone"] = score_metrics(alone, test, settings)
    except ValueError as err:  # too few of one class among the first n
        result["alone"] = {"error": str(err)}
    result["alone_seconds"] = round(time.perf_counter() - t0, 1)
    # The candidate must have learned from the corpus the default model learned from.
    result["seed_corpus_stable"] = corpus_before == corpus == seed_corpus_hash()
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if percent else f"{value:.3f}"


def print_table(results: Sequence[Mapping[str, Any]]) -> None:
    print(
        "\n| held out | N | promoted? | F1 | AUC | ham->spam | ham held | held share "
        "| F1 history alone | AUC history alone |"
    )
    print("|---" * 10 + "|")
    for r in results:
        m, alone = r["metrics"], r.get("alone") or {}
        verdict = {"promoted": "yes", "refused": "REFUSED", "nothing new": "- (nothing new)"}
        refused = r.get("refused_candidate")
        if refused:  # what the gate kept out would have scored on the same file
            verdict["refused"] = f"REFUSED (candidate F1 {fmt(refused['f1'])})"
        print(
            f"| {r['held_out']} | {r['n']} | {verdict[r['outcome']]} "
            f"| {fmt(m['f1'])} | {fmt(m['roc_auc'])} "
            f"| {fmt(m['ham_marked_spam_rate'], True)} | {fmt(m['ham_review_rate'], True)} "
            f"| {fmt(m['review_rate'], True)} "
            f"| {fmt(alone.get('f1'))} | {fmt(alone.get('roc_auc'))} |"
        )


def plot(path: Path, results: Sequence[Mapping[str, Any]], order: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    held_outs = list(dict.fromkeys(r["held_out"] for r in results))
    fig, axes = plt.subplots(
        4, 1, sharex=True, figsize=(9, 11.5), gridspec_kw={"height_ratios": [2.4, 1.8, 1.2, 1.2]}
    )
    # The import's curves sit within a few hundredths of each other near the top, where
    # the history-alone curves' range flattens them: the second panel zooms on them.
    panels = (
        ("f1", "F1 on spam (at 0.5)\non the held-out file"),
        ("f1", "the same F1, zoomed:\nseed corpus + import"),
        ("ham_marked_spam_rate", "share of ham\nmarked spam (>= 0.9)"),
        ("review_rate", "share held for\nreview (0.35-0.9)"),
    )
    ns: set[int] = set()
    for index, held_out in enumerate(held_outs):
        color = COLORS[index % len(COLORS)]
        rows = sorted((r for r in results if r["held_out"] == held_out), key=lambda r: r["n"])
        ns.update(r["n"] for r in rows)
        for ax, (key, _) in zip(axes, panels, strict=True):
            x = [r["n"] for r in rows]
            ax.plot(x, [r["metrics"][key] for r in rows], color=color, linewidth=2, zorder=3)
            # The gate's verdict on each point: filled circle promoted, cross refused,
            # square the default model (nothing imported, nothing retrained).
            for r in rows:
                marker = {"promoted": "o", "refused": "X", "nothing new": "s"}[r["outcome"]]
                ax.plot(r["n"], r["metrics"][key], marker=marker, color=color, markersize=7)
            alone = [(r["n"], r["alone"][key]) for r in rows if key in (r.get("alone") or {})]
            if alone and ax is not axes[1]:
                ax.plot(*zip(*alone, strict=True), color=color, linestyle="--", linewidth=1.4)
                ax.plot(*zip(*alone, strict=True), color=color, marker=".", linestyle="none")
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.set_ylabel(label, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.tick_params(axis="y", labelsize=8)
        if key != "f1":
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
            ax.set_ylim(bottom=0)
    lowest = min(
        [r["metrics"]["f1"] for r in results]
        + [r["alone"]["f1"] for r in results if "f1" in (r.get("alone") or {})]
    )
    axes[0].set_ylim(max(0.0, np.floor(lowest * 10) / 10 - 0.05), 1.0)
    top_f1 = [r["metrics"]["f1"] for r in results]
    axes[1].set_ylim(np.floor(min(top_f1) * 100 - 1) / 100, np.ceil(max(top_f1) * 100 + 1) / 100)
    # Labels come in tens to hundreds: a log-like axis shows the first few dozen, and
    # symlog keeps N = 0 (the default model) on it.
    last = axes[-1]
    last.set_xscale("symlog", linthresh=25, linscale=0.6)
    last.set_xlim(-2, max(ns) * 1.15)
    ticks = sorted(ns)
    labels = []
    for i, tick in enumerate(ticks):
        # The whole history is 700 or 788 comments depending on the file held out: two
        # ticks that close would print over each other, so the second goes a line lower.
        crowded = i > 0 and tick < ticks[i - 1] * 1.3 and not labels[-1].startswith("\n")
        labels.append(f"\n{tick}" if crowded else str(tick))
    last.set_xticks(ticks, labels, fontsize=8)
    last.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    last.set_xlabel(
        f"labels imported from the site's history ({order} order; the last point: all of it)"
    )
    handles = [
        Line2D([], [], color=COLORS[i % len(COLORS)], linewidth=2, label=f"{h} held out")
        for i, h in enumerate(held_outs)
    ] + [
        Line2D([], [], color="gray", linewidth=2, label="seed corpus + import, via retrain"),
        Line2D([], [], color="gray", linestyle="--", label="the history alone, no seed corpus"),
        Line2D([], [], color="gray", marker="s", linestyle="none", label="default model (N=0)"),
        Line2D([], [], color="gray", marker="o", linestyle="none", label="gate promoted"),
    ]
    if any(r["outcome"] == "refused" for r in results):
        handles.append(
            Line2D([], [], color="gray", marker="X", linestyle="none", label="gate refused")
        )
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.925), ncol=4, fontsize=8)
    fig.suptitle(
        "Install, import the site's history, retrain: YouTube Spam Collection\n"
        "history = the other two files' comments; test = the held-out file",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.915))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=DEFAULT_DATA)
    parser.add_argument(
        "--held-out", default="LMFAO,Psy,KatyPerry", help="videos to hold out, in turn"
    )
    parser.add_argument("--points", default=DEFAULT_POINTS, help="numbers of labels, or all")
    parser.add_argument("--order", choices=("shuffled", "date"), default="shuffled")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed")
    args = parser.parse_args()
    # A SIGTERM (a killed run) still stops the redis-server and removes the temp folder.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if len(args.data) < 2:
        parser.error("need at least two data files (../shared/data/tubespam/*.csv)")
    files = {video_name(p): p for p in args.data}
    held_outs = [h.strip() for h in args.held_out.split(",") if h.strip()]
    unknown = [h for h in held_outs if h not in files]
    if unknown or not held_outs:
        parser.error(f"--held-out: choose from {','.join(files)}")
    points = parse_points(args.points)
    settings = Settings()  # the default thresholds, as a fresh install has them

    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        base = Path(tmp)
        proc, redis_url = start_redis(tmp)
        try:
            corpus_at_start = seed_corpus_hash()
            t0 = time.perf_counter()
            model_path = base / "default-model" / "model.skops"
            # What a fresh install does on first start; every deployment then loads it.
            ensure_model(model_path)
            default_seconds = time.perf_counter() - t0
            print(f"default model trained from the seed corpus in {default_seconds:.1f} s")

            # N = 0: a fresh install, nothing imported; it is the same for every held-out
            # file, so one deployment (and one `retrain`) serves them all.
            fresh = Deployment.fresh(base, "nothing-imported", redis_url, model_path)
            t0 = time.perf_counter()
            report0 = fresh.retrain()
            model0, active0 = fresh.active_model()
            seconds0 = time.perf_counter() - t0
            stable0 = seed_corpus_hash() == corpus_at_start
            print(f"N=0: retrain says {outcome_of(report0)}: {'; '.join(report0['reasons'])}")

            for held_out in held_outs:
                test = read_examples([files[held_out]])
                history = order_history(
                    [c for v, p in files.items() if v != held_out for c in read_history(p)],
                    args.order,
                    args.seed,
                )
                print(
                    f"\n{held_out} held out: {len(test)} test comments "
                    f"({sum(ex.label for ex in test)} spam); history {len(history)} comments "
                    f"({sum(c.label for c in history)} spam) from "
                    f"{', '.join(v for v in files if v != held_out)}"
                )
                ns = sorted({len(history) if p is None else min(p, len(history)) for p in points})
                for n in ns:
                    if n == 0:
                        results.append(
                            {
                                "held_out": held_out,
                                "n": 0,
                                "spam_imported": 0,
                                "import_summary": [],
                                "outcome": outcome_of(report0),
                                "model_version": model0.version,
                                "registry_active": active0,
                                "retrain": brief_report(report0),
                                "metrics": score_metrics(model0, test, settings),
                                "alone": None,
                                "seconds": round(seconds0, 1),
                                "seed_corpus_stable": stable0,
                            }
                        )
                    else:
                        results.append(
                            run_point(
                                held_out,
                                n,
                                history,
                                test,
                                base,
                                redis_url,
                                model_path,
                                settings,
                                corpus_at_start,
                            )
                        )
                    r = results[-1]
                    m = r["metrics"]
                    print(
                        f"  N={n:4d}: {r['outcome']:11s} F1 {m['f1']:.3f} AUC {m['roc_auc']:.3f} "
                        f"ham->spam {m['ham_marked_spam_rate']:.1%} "
                        f"held {m['review_rate']:.1%}; alone F1 "
                        f"{fmt((r.get('alone') or {}).get('f1'))} ({r['seconds']:.0f} s)"
                        + (f"\n          gate: {'; '.join(r['retrain']['reasons'])}" if n else "")
                    )
                    if r.get("refused_candidate"):
                        c = r["refused_candidate"]
                        print(
                            f"          the refused candidate on {held_out}: F1 {c['f1']:.3f} "
                            f"AUC {c['roc_auc']:.3f} ham->spam {c['ham_marked_spam_rate']:.1%} "
                            f"held {c['review_rate']:.1%}"
                        )
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    total = time.perf_counter() - started
    print_table(results)
    changed = [f"{r['held_out']} N={r['n']}" for r in results if not r["seed_corpus_stable"]]
    corpus_stable = not changed
    if changed:
        print(
            "\nWARNING: the seed corpus (classifier/corpus) changed during the run: these "
            f"points were not trained on the default model's corpus: {', '.join(changed)}. "
            "Run again once it is left alone."
        )
    print(f"\ntotal {total:.0f} s (default model {default_seconds:.0f} s)")

    OUT.mkdir(parents=True, exist_ok=True)
    figure = OUT / "import_curve.png"
    plot(figure, results, args.order)
    report = {
        "config": {
            "data": [Path(p).name for p in args.data],
            "held_out": held_outs,
            "points": args.points,
            "order": args.order,
            "seed": args.seed,
            "thresholds": {
                "publish_below": settings.publish_below,
                "spam_above": settings.spam_above,
            },
            "gate": {
                "f1_margin": settings.retrain_f1_margin,
                "ham_spam_margin": settings.retrain_ham_spam_margin,
            },
        },
        "default_model": model0.version,
        "seed_corpus": {"hash_at_start": corpus_at_start, "stable": corpus_stable},
        "seconds": {"total": round(total, 1), "default_model": round(default_seconds, 1)},
        "results": results,
    }
    (OUT / "import_curve.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {figure} and {OUT / 'import_curve.json'}")


if __name__ == "__main__":
    main()
