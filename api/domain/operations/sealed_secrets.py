"""The secrets stored encrypted (`SecretBox`) across every tenant, for re-encryption under
a new key: the port that finds and replaces them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SealedSecret:
    """One stored ciphertext: the record that holds it (`store` and `record_id`), the
    field, and the ciphertext itself (never the secret)."""

    store: str
    record_id: str
    field: str
    ciphertext: str

    @property
    def where(self) -> str:
        """Where it is, for an operator's report (no value)."""
        return f"{self.store} {self.record_id} {self.field}"


class SealedSecrets(Protocol):
    """Every secret the deployment stores encrypted, in every tenant and the platform plane
    (a platform-level sweep, unscoped on purpose)."""

    def batches(self) -> AsyncIterator[list[SealedSecret]]:
        """All of them, a batch at a time, in a stable order."""
        ...

    async def replace(self, secret: SealedSecret, ciphertext: str) -> bool:
        """Store `ciphertext` where `secret` is, if its ciphertext is still there; False
        when the record or the field changed meanwhile (the newer value is kept)."""
        ...
