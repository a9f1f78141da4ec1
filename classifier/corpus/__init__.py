"""The seed corpus this project wrote itself, so a fresh install can train with no outside data."""

from __future__ import annotations

from importlib import resources

from classifier.data import Example, read_examples


def seed_files() -> list[str]:
    folder = resources.files(__name__)
    return sorted(str(entry) for entry in folder.iterdir() if entry.name.endswith(".jsonl"))


def load_seed_corpus() -> list[Example]:
    examples = read_examples(seed_files())
    if not examples:
        raise RuntimeError("the seed corpus is missing: the package was installed without it")
    return examples
