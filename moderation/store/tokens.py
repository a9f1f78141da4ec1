"""Moderator and admin API tokens, stored only as hashes.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to make the stored form
useless to a reader of the database (no slow hash needed: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from moderation.store.client import RedisClient
from moderation.store.keys import Keys

ROLES = ("moderator", "admin")
TOKEN_PREFIX = "mod_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_digest(token: str) -> str:
    """The stored form of a token: what a browser session keeps instead of the token."""
    return _digest(token)


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: str
    created_at: str

    def allows(self, role: str) -> bool:
        # An admin can do everything a moderator can.
        return self.role == "admin" or self.role == role


class TokenStore:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.key = keys.tokens

    def create(self, name: str, role: str) -> tuple[str, TokenInfo]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not name.strip():
            raise ValueError("a token needs a name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = _digest(token)
        info = TokenInfo(
            id=digest[:12],
            name=name.strip(),
            role=role,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.client.hset(self.key, digest, json.dumps(info.__dict__))
        return token, info

    def lookup(self, token: str) -> TokenInfo | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        return self.lookup_digest(_digest(token))

    def lookup_digest(self, digest: str) -> TokenInfo | None:
        """The token stored under this digest; None once it is revoked."""
        raw = self.client.hget(self.key, digest)
        return TokenInfo(**json.loads(raw)) if raw else None

    def list(self) -> list[TokenInfo]:
        infos = [TokenInfo(**json.loads(raw)) for raw in self.client.hvals(self.key)]
        return sorted(infos, key=lambda info: info.created_at)

    def revoke(self, token_id: str) -> bool:
        for digest in self.client.hkeys(self.key):
            if digest.startswith(token_id) and len(token_id) >= 8:
                return bool(self.client.hdel(self.key, digest))
        return False
