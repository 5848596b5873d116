"""`BreachedPasswords` adapters: Have I Been Pwned's Pwned Passwords range API, and none.

The range API keeps the password private by k-anonymity: only the first five hex
characters of its SHA-1 are sent (`GET /range/{prefix}`); the answer lists the suffixes of
every breached hash with that prefix (`SUFFIX:COUNT` lines), padded with decoys of count 0
(`Add-Padding: true`) so that even the answer's size says nothing. The comparison happens
here. A check that cannot be made (timeout, error status, malformed answer) lets the
password through and logs a warning without it: an outage of the corpus never stops
users from setting passwords.
"""

from __future__ import annotations

import hashlib
import logging

import httpx

log = logging.getLogger(__name__)

PREFIX_LENGTH = 5
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # ~1,000 lines of 40 bytes: far more than any range


class NoBreachCheck:
    """`BREACHED_PASSWORD_CHECK=off`: nothing is checked."""

    async def is_breached(self, password: str) -> bool:
        return False

    async def close(self) -> None:
        return None


class PwnedPasswordsRange:
    """Checks a password against the Pwned Passwords range API at `base_url`."""

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_seconds,
            headers={"Add-Padding": "true", "User-Agent": "Parley"},
            transport=transport,
            follow_redirects=False,
        )

    async def is_breached(self, password: str) -> bool:
        # SHA-1 is the range API's scheme, not a protection of the password here.
        digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest()
        prefix, suffix = digest[:PREFIX_LENGTH].upper(), digest[PREFIX_LENGTH:].upper()
        try:
            response = await self._client.get(f"/range/{prefix}")
            response.raise_for_status()
            if len(response.content) > MAX_ANSWER_BYTES:
                raise ValueError("the answer is too large")
            return _listed(response.text, suffix)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning(
                "the breached-password check could not be made (%s); the password was "
                "accepted without it",
                type(exc).__name__,
            )
            return False

    async def close(self) -> None:
        await self._client.aclose()


def _listed(answer: str, suffix: str) -> bool:
    """Whether `suffix` is among the answer's breached suffixes (count above 0)."""
    for line in answer.splitlines():
        candidate, _, count = line.strip().partition(":")
        if candidate.upper() == suffix:
            return int(count) > 0  # a padding decoy has count 0; ValueError if malformed
    return False
