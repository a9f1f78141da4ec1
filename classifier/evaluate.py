"""How good a model is on labeled data: the figures `moderation evaluate` prints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from classifier.data import Example
from classifier.model import SpamModel


def reliability_table(
    labels: np.ndarray, scores: np.ndarray, bins: int = 10
) -> list[dict[str, Any]]:
    """Per score band: how many comments, the mean predicted and the observed spam rate.

    A calibrated model has the two rates close in every band.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        rows.append(
            {
                "band": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": int(mask.sum()),
                "mean_score": round(float(scores[mask].mean()), 4),
                "spam_rate": round(float(labels[mask].mean()), 4),
            }
        )
    return rows


def _rate(mask: np.ndarray) -> float:
    return round(float(mask.mean()), 4) if len(mask) else 0.0


def _mcc(matrix: np.ndarray) -> float:
    """Matthews correlation from the 2x2 confusion matrix, 0 when undefined.

    sklearn's matthews_corrcoef gives the same number but builds its own confusion matrix
    without `labels`, and warns on data with one class (an evaluation file of only ham),
    which `moderation evaluate` would show the operator as a raw library warning.
    """
    (tn, fp), (fn, tp) = matrix.astype(float)
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denominator if denominator else 0.0


def metrics(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    publish_below: float = 0.35,
    spam_above: float = 0.9,
) -> dict[str, Any]:
    """Spam-class metrics at 0.5, and what the routing thresholds do to real comments."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(scores, dtype=float)
    predicted = (p >= 0.5).astype(int)
    ham = y == 0
    spam = y == 1
    both_classes = ham.any() and spam.any()
    matrix = confusion_matrix(y, predicted, labels=[0, 1])
    return {
        "n": int(len(y)),
        "spam": int(spam.sum()),
        "ham": int(ham.sum()),
        "precision": round(float(precision_score(y, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(y, predicted, zero_division=0)), 4),
        "f1": round(float(f1_score(y, predicted, zero_division=0)), 4),
        "mcc": round(_mcc(matrix), 4),
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both_classes else None,
        "accuracy": round(float(accuracy_score(y, predicted)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4) if both_classes else None,
        "confusion_matrix": matrix.tolist(),
        "thresholds": {"publish_below": publish_below, "spam_above": spam_above},
        # The costly mistake: a reader's comment thrown into the spam folder.
        "ham_marked_spam_rate": round(float((p[ham] >= spam_above).mean()), 4)
        if ham.any()
        else 0.0,
        "spam_published_rate": _rate(p[spam] < publish_below),
        "review_rate": _rate((p >= publish_below) & (p < spam_above)),
        "reliability": reliability_table(y, p),
    }


def evaluate_model(
    model: SpamModel,
    examples: Sequence[Example],
    publish_below: float = 0.35,
    spam_above: float = 0.9,
) -> dict[str, Any]:
    labeled = [ex for ex in examples if ex.label is not None]
    if not labeled:
        raise ValueError("no labeled examples to evaluate on")
    scores = model.score_many([ex.as_features() for ex in labeled])
    result = metrics([ex.label for ex in labeled], scores, publish_below, spam_above)
    result["model_version"] = model.version
    return result


SUMMARY_METRICS = (
    "n",
    "spam",
    "ham",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "brier",
    "ham_marked_spam_rate",
    "spam_published_rate",
    "review_rate",
)


def summary_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The figures worth keeping with a model (no curves, no per-band tables)."""
    return {name: result[name] for name in SUMMARY_METRICS if name in result}


def format_report(result: dict[str, Any]) -> str:
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    lines = [
        f"model {result.get('model_version', '?')} on {result['n']} comments "
        f"({result['spam']} spam, {result['ham']} ham)",
        f"  spam precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
        f"F1 {result['f1']:.4f}  MCC {result['mcc']:.4f}",
        f"  ROC AUC {result['roc_auc']}  accuracy {result['accuracy']:.4f}  "
        f"Brier {result['brier']}",
        f"  confusion (rows true ham/spam, cols predicted ham/spam): [[{tn}, {fp}], [{fn}, {tp}]]",
        f"  at thresholds publish<{result['thresholds']['publish_below']} "
        f"spam>={result['thresholds']['spam_above']}: ham marked spam "
        f"{result['ham_marked_spam_rate']:.2%}, "
        f"spam published {result['spam_published_rate']:.2%}, "
        f"sent to review {result['review_rate']:.2%}",
        "  reliability (band: n, mean score -> observed spam rate):",
    ]
    lines.extend(
        f"    {row['band']}: {row['n']:5d}  {row['mean_score']:.3f} -> {row['spam_rate']:.3f}"
        for row in result["reliability"]
    )
    return "\n".join(lines)
