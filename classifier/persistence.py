"""Model files: skops (never pickle) plus a JSON sidecar with the model's metadata.

Loading refuses any type outside an explicit allow-list, so a tampered file cannot
run code: skops only reconstructs the types we name.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.model import SpamModel

# Types beyond skops' defaults that our own pipeline needs. Anything else is refused.
TRUSTED_TYPES = frozenset(
    {
        "classifier.features.CommentMetadata",
        "classifier.features.content_and_identity_text",
        "classifier.features.content_and_site_text",
        "classifier.features.content_text",
        "classifier.features.identity_links_text",
        "classifier.features.identity_text",
        "classifier.normalize.feature_text",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.model_selection._split.StratifiedKFold",  # the calibration's folds
    }
)


class UntrustedModelError(ValueError):
    """The model file holds types we did not put there."""


def metadata_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _vectorizers(estimator: object) -> Iterator[TfidfVectorizer]:
    for calibrated in getattr(estimator, "calibrated_classifiers_", []):
        union = calibrated.estimator.named_steps["features"]
        for _, branch in union.transformer_list:
            step = branch.named_steps.get("tfidf")
            if step is not None:
                yield step


def save_model(model: SpamModel, path: str | Path) -> Path:
    """Write the model; vocabularies go as string arrays.

    skops writes a dict entry by entry: a 50,000-term vocabulary took 67 MB and minutes.
    As one numpy string array per vectorizer it takes well under a megabyte.
    """
    path = Path(path)
    estimator = copy.deepcopy(model.estimator)
    vocabularies = []
    for vectorizer in _vectorizers(estimator):
        vocabularies.append(np.asarray(vectorizer.get_feature_names_out(), dtype=str))
        del vectorizer.vocabulary_
    payload = {"estimator": estimator, "vocabularies": vocabularies}
    # Metadata first: a reader that finds the model file also finds its description.
    _atomic_write(metadata_path(path), json.dumps(model.metadata, indent=2).encode())
    _atomic_write(path, sio.dumps(payload, compression=zipfile.ZIP_DEFLATED))
    return path


def load_model(path: str | Path) -> SpamModel:
    path = Path(path)
    data = path.read_bytes()
    untrusted = set(sio.get_untrusted_types(data=data))
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise UntrustedModelError(f"{path} holds types that are not allowed: {sorted(unexpected)}")
    payload = sio.loads(data, trusted=sorted(untrusted))
    estimator = payload["estimator"]
    for vectorizer, terms in zip(_vectorizers(estimator), payload["vocabularies"], strict=True):
        vectorizer.vocabulary_ = {str(term): i for i, term in enumerate(terms)}
    meta_file = metadata_path(path)
    metadata = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    return SpamModel(estimator=estimator, metadata=metadata)
