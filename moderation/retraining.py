"""Retrain from what moderators decided, and promote the candidate only if it is not worse.

The candidate trains on the training part of: the seed corpus, extra labeled files and
the training log. Both it and the active model are then scored on the same held-out set:
the fixed held-out part (classifier.split) of the seed corpus and of the moderators'
decisions. Extra files only ever train: a bulk file nobody has checked must not be able
to move the yardstick it is measured with.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from classifier.corpus import load_seed_corpus
from classifier.data import Example
from classifier.evaluate import evaluate_model, summary_metrics
from classifier.model import SpamModel, train_model, training_data_hash
from classifier.split import split
from moderation.store.models import ModelEntry, ModelRegistry, RegistryError
from moderation.store.training_log import TrainingLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gate:
    """How much worse a candidate may be and still be promoted."""

    f1_margin: float = 0.01  # F1 on spam may drop by at most this much (noise)
    ham_spam_margin: float = 0.0  # the rate of ham marked spam must not rise


@dataclass
class RetrainReport:
    candidate: str | None = None
    current: str | None = None
    promoted: bool = False
    dry_run: bool = False
    reasons: list[str] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)
    candidate_metrics: dict[str, Any] = field(default_factory=dict)
    current_metrics: dict[str, Any] = field(default_factory=dict)
    reference_metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def judge(candidate: dict[str, Any], current: dict[str, Any], gate: Gate) -> list[str]:
    """Why the candidate may not be promoted; an empty list means it may."""
    problems = []
    if candidate["f1"] < current["f1"] - gate.f1_margin:
        problems.append(
            f"F1 on spam fell from {current['f1']:.4f} to {candidate['f1']:.4f} "
            f"(allowed drop {gate.f1_margin})"
        )
    rise = candidate["ham_marked_spam_rate"] - current["ham_marked_spam_rate"]
    if rise > gate.ham_spam_margin:
        problems.append(
            f"ham marked spam rose from {current['ham_marked_spam_rate']:.2%} to "
            f"{candidate['ham_marked_spam_rate']:.2%}"
        )
    return problems


def retrain(
    registry: ModelRegistry,
    training_log: TrainingLog | Sequence[TrainingLog],
    current: SpamModel,
    *,
    extra: Sequence[Example] = (),
    rejected_as: str | None = None,
    gate: Gate = Gate(),
    thresholds: tuple[float, float] = (0.35, 0.9),
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda step: None,
    reference: SpamModel | None = None,
) -> RetrainReport:
    """`reference` (the deployment's first model) is a second yardstick: each step may
    lose at most the margin against the current model, and never more than the margin in
    total against the reference, so small allowed drops cannot add up.

    `training_log` may be several sites' logs: a deployment trains one model on them all.
    """
    started = time.perf_counter()
    report = RetrainReport(current=current.version, dry_run=dry_run)
    progress("gathering labeled comments")
    seed_train, seed_holdout = split(load_seed_corpus())
    logs = [training_log] if isinstance(training_log, TrainingLog) else list(training_log)
    decided = [ex for log_ in logs for ex in log_.labeled_examples(rejected_as)]
    decided_train, decided_holdout = split(decided)
    extra_train = [ex for ex in extra if ex.label is not None]
    training = seed_train + extra_train + decided_train
    holdout = seed_holdout + decided_holdout
    report.training = {
        "examples": len(training),
        "spam": sum(ex.label for ex in training),
        "seed": len(seed_train),
        "extra_files": len(extra_train),
        "training_log": len(decided_train),
    }
    report.holdout = {
        "examples": len(holdout),
        "seed": len(seed_holdout),
        "training_log": len(decided_holdout),
    }
    data_hash = training_data_hash(training)
    report.training["hash"] = data_hash
    tried = [
        e.version
        for e in registry.entries()
        if e.training.get("hash") == data_hash
        or e.metadata.get("training_data", {}).get("hash") == data_hash
    ]
    if current.metadata.get("training_data", {}).get("hash") == data_hash or tried:
        report.reasons = [
            "nothing new to learn: a model was already trained on exactly this data"
            + (f" ({', '.join(tried)})" if tried else "")
        ]
        report.seconds = round(time.perf_counter() - started, 2)
        return report
    progress(f"training a candidate on {len(training)} comments")
    candidate = train_model(training)
    candidate.metadata["training_sources"] = report.training
    report.candidate = candidate.version
    progress(f"evaluating both models on {len(holdout)} held-out comments")
    publish_below, spam_above = thresholds
    report.candidate_metrics = summary_metrics(
        evaluate_model(candidate, holdout, publish_below, spam_above)
    )
    report.current_metrics = summary_metrics(
        evaluate_model(current, holdout, publish_below, spam_above)
    )
    problems = judge(report.candidate_metrics, report.current_metrics, gate)
    if reference is not None and reference.version != current.version:
        report.reference_metrics = summary_metrics(
            evaluate_model(reference, holdout, publish_below, spam_above)
        )
        problems += [
            f"{problem} against the first model {reference.version}"
            for problem in judge(report.candidate_metrics, report.reference_metrics, gate)
        ]
    report.reasons = problems or [
        f"F1 on spam {report.candidate_metrics['f1']:.4f} vs {report.current_metrics['f1']:.4f}"
        f", ham marked spam {report.candidate_metrics['ham_marked_spam_rate']:.2%} vs "
        f"{report.current_metrics['ham_marked_spam_rate']:.2%}: not worse"
    ]
    if not dry_run:
        progress("registering the candidate")
        entry = registry.register(
            candidate,
            metrics=report.candidate_metrics,
            training=report.training,
            status="refused" if problems else "registered",
        )
        if not problems:
            registry.promote(entry.version)
            report.promoted = True
        registry.prune()
    report.seconds = round(time.perf_counter() - started, 2)
    log.info(
        "retrain: candidate %s %s (%s)",
        report.candidate,
        "promoted" if report.promoted else "not promoted",
        "; ".join(report.reasons),
    )
    return report


def retrain_service(
    services: Any,
    *,
    extra: Sequence[Example] = (),
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda step: None,
) -> RetrainReport:
    """`retrain` with a running service's registry, training log, model and settings."""
    settings = services.settings
    entries = services.models.entries()
    reference = None
    if entries and entries[0].version != services.model.version:
        try:
            reference = services.models.load(entries[0].version, settings.data_dir / "models")
        except (RegistryError, ValueError) as err:
            log.warning(
                "cannot load the first model %s as a yardstick: %s", entries[0].version, err
            )
    return retrain(
        services.models,
        services.training_logs(),
        services.model,
        extra=extra,
        rejected_as=settings.rejected_as,
        gate=Gate(
            f1_margin=settings.retrain_f1_margin,
            ham_spam_margin=settings.retrain_ham_spam_margin,
        ),
        thresholds=(settings.publish_below, settings.spam_above),
        dry_run=dry_run,
        progress=progress,
        reference=reference,
    )


def bootstrap_registry(
    registry: ModelRegistry, default: SpamModel, default_file: bytes
) -> ModelEntry | None:
    """On a deployment's first start, the default model becomes version one, active."""
    if registry.active_version() is not None:
        return None
    try:
        entry = registry.entry(default.version)
    except ValueError:
        entry = registry.register_file(
            default,
            default_file,
            metrics=default.metadata.get("holdout_metrics", {}),
            training=default.metadata.get("training_data", {}),
            status="promoted",
        )
    registry.activate_if_none(default.version)
    return entry
