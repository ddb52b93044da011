"""Device tokens: random secrets shown once, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh device token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The hex SHA-256 the hub stores instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
