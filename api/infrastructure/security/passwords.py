"""`PasswordHasher` adapter on pwdlib: argon2id for new hashes, bcrypt accepted and upgraded.

Hashing is slow on purpose, so every call runs in a worker thread, never on the event loop.
Passwords are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

log = logging.getLogger(__name__)

_BCRYPT_MAX_BYTES = 72


class _LegacyBcryptHasher(BcryptHasher):
    """bcrypt for verification only. bcrypt >= 5 raises on passwords over 72 bytes where
    older versions (which made the stored hashes) silently truncated; truncate likewise."""

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        raw = password.encode("utf-8") if isinstance(password, str) else password
        return super().verify(raw[:_BCRYPT_MAX_BYTES], hash)


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """A hash of a random secret with the current parameters, made once per process."""
    hasher = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    return hasher.hash(secrets.token_urlsafe(24))


class PwdlibPasswordHasher:
    """argon2id (with the given cost parameters) as the current hash; bcrypt hashes verify
    and are upgraded. `verify(password, None)` spends the same time as a real check."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._params = (time_cost, memory_cost, parallelism)
        self._hash = PasswordHash(
            (
                Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism),
                _LegacyBcryptHasher(),
            )
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        return await asyncio.to_thread(self._verify, password, hashed)

    def _verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        if hashed is None:
            # Unknown account: do the same work against a dummy hash, then refuse.
            self._hash.verify(password, _dummy_hash(*self._params))
            return False, None
        try:
            return self._hash.verify_and_update(password, hashed)
        except UnknownHashError:
            log.warning("stored password hash has an unknown format; refusing")
            self._hash.verify(password, _dummy_hash(*self._params))
            return False, None
