"""The data directory: where it is, who may read it, and who may create it.

It holds the comments (the embedded Redis' append-only file), the development secret
and the models, so it and everything in it is for the service's own user only.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# What every process of ours creates files with: owner-only, whatever the caller's umask.
PRIVATE_UMASK = 0o077


class MissingDataDir(RuntimeError):
    """A command other than `serve` was about to create a new, empty data directory."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"there is no data directory at {path}: set MODERATION_DATA_DIR to the service's "
            "data directory (only `moderation serve` creates a new one)"
        )
        self.path = path


def ensure_data_dir(path: Path, *, create: bool) -> bool:
    """Make sure `path` exists; True if it was created just now.

    With `create` False a missing directory is refused: a command run from another
    directory would otherwise quietly work on an empty `./var` of its own.
    """
    path = Path(path).absolute()
    if path.is_dir():
        return False
    if not create:
        raise MissingDataDir(path)
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:  # another process made it first
        return False
    # mkdir's mode is cut by the umask, never widened by it: chmod states the intent.
    path.chmod(DIR_MODE)
    return True


def open_private(path: Path, flags: int) -> int:
    """A file descriptor on `path`, owner-only even if the file existed with wider modes."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically (a reader sees the old or the new text, never half)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def tighten(paths: list[Path]) -> None:
    """Owner-only modes for files an earlier version wrote group- or world-readable."""
    for path in paths:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        wanted = DIR_MODE if path.is_dir() else FILE_MODE
        if mode & 0o077:
            path.chmod(wanted)
