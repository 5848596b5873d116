"""Keys derived from one server secret for one purpose each, so that a keyed digest made
for one kind of secret (an API key, a recovery code) is never one of another kind."""

from __future__ import annotations

import hashlib
import hmac


def derived_key(secret: str, purpose: bytes, *, what: str) -> bytes:
    """HMAC-SHA256 of `purpose` under `secret`; `ValueError` naming `what` when it is empty."""
    if not secret:
        raise ValueError(f"the {what} hash secret is empty")
    return hmac.new(secret.encode("utf-8"), purpose, hashlib.sha256).digest()
