"""The commenter's email: encrypted for moderators, hashed for identity, redacted from logs.

One secret (MODERATION_SECRET_KEY) yields two independent keys through HKDF, so the
identity hash cannot be used to decrypt and rotating one purpose never reuses the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

# Linear on any text (it runs on every log line): a match starts only where a run of
# address characters starts, and each run is consumed possessively.
_EMAIL_RE = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]++@[\w-]++(?:\.[\w-]++)++"
)


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def derive_secret(secret: str, purpose: str) -> bytes:
    """An independent 32-byte key for one purpose (sessions, signed form stamps, ...)."""
    return _derive(secret.encode(), f"moderation {purpose}".encode())


def normalise_email(email: str) -> str:
    """The form that identifies a person: case and surrounding space do not."""
    return email.strip().lower()


class EmailVault:
    """Encrypts addresses for moderators and derives a stable keyed hash per commenter."""

    def __init__(self, secret: str) -> None:
        raw = secret.encode()
        self._fernet = Fernet(
            base64.urlsafe_b64encode(_derive(raw, b"moderation email encryption"))
        )
        self._hmac_key = _derive(raw, b"moderation email identity")

    def encrypt(self, email: str) -> str:
        return self._fernet.encrypt(email.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("email token was not made with this secret key") from exc

    def identity(self, email: str) -> str:
        """Keyed hash: equal for the same address, useless to anyone without the key."""
        digest = hmac.new(self._hmac_key, normalise_email(email).encode(), hashlib.sha256)
        return digest.hexdigest()


def load_or_create_dev_secret(data_dir: Path) -> str:
    """A development secret kept in the data directory, so restarts can still decrypt."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Create with owner-only permissions; never widen an existing file.
    with open(path, "x", opener=lambda p, flags: os.open(p, flags, 0o600)) as fh:
        fh.write(secret)
    log.warning(
        "MODERATION_SECRET_KEY is not set: generated a development key in %s. "
        "Set MODERATION_SECRET_KEY in production; losing this key loses stored emails.",
        path,
    )
    return secret


def redact(text: str) -> str:
    return _EMAIL_RE.sub("[email]", text)
