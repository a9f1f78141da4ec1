"""The model the service scores with: trained from the seed corpus at first start, then loaded."""

from __future__ import annotations

import fcntl
import logging
import time
from pathlib import Path

from classifier.corpus import load_seed_corpus
from classifier.evaluate import evaluate_model, summary_metrics
from classifier.model import SpamModel, train_model
from classifier.persistence import load_model, save_model
from classifier.split import split

log = logging.getLogger(__name__)


def ensure_model(path: Path) -> SpamModel:
    """Load the model at `path`, training the default one first if there is none.

    A file lock makes concurrent starters (several workers, several services on one data
    directory) train once and share the result.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return load_model(path)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return load_model(path)
        started = time.perf_counter()
        # The held-out part stays out, so that later candidates are compared fairly.
        examples, holdout = split(load_seed_corpus())
        model = train_model(examples)
        model.metadata["holdout_metrics"] = summary_metrics(evaluate_model(model, holdout))
        save_model(model, path)
        log.info(
            "trained the default model %s on %d seed comments in %.1f s",
            model.version,
            len(examples),
            time.perf_counter() - started,
        )
        return model
