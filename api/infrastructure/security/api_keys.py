"""`ApiKeySecrets` adapter: `pk_<8 hex>_<32 random bytes, URL-safe base64>`, stored as an
HMAC-SHA256 under a server-side secret.

A fast keyed hash is right for keys (unlike passwords): the secret has 256 random bits, so
no dictionary or brute force reaches it, and each request checks one hash on the loop
without slowing down. Without the server's secret, a leaked hash cannot be tested either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from api.domain.identity.api_keys import API_KEY_PREFIX, IssuedKey
from api.infrastructure.security.derived_keys import derived_key

PREFIX_LENGTH = 8
MAX_KEY_LENGTH = 200
_SHAPE = re.compile(r"^pk_([0-9a-f]{8})_([A-Za-z0-9_-]{32,160})$")


class HmacApiKeySecrets:
    """Issues and hashes API keys; `hash_secret` keys the HMAC."""

    def __init__(self, hash_secret: str) -> None:
        self._secret = derived_key(hash_secret, b"parley-api-keys", what="API key")

    def _hash(self, key: str) -> str:
        return hmac.new(self._secret, key.encode("utf-8"), hashlib.sha256).hexdigest()

    def issue(self) -> IssuedKey:
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        return IssuedKey(key=key, prefix=prefix, secret_hash=self._hash(key))

    def parse(self, presented: str) -> tuple[str, str] | None:
        if len(presented) > MAX_KEY_LENGTH:
            return None
        shape = _SHAPE.match(presented)
        if shape is None:
            return None
        return shape.group(1), self._hash(presented)

    def matches(self, presented_hash: str, stored_hash: str) -> bool:
        return hmac.compare_digest(presented_hash, stored_hash)
