"""The spam model: features, training, scoring and persistence. No web framework in here."""

from classifier.data import Example
from classifier.model import SpamModel, train_model

__all__ = ["Example", "SpamModel", "train_model"]
