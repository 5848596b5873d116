"""Re-encrypting the stored secrets under the current key, after a key rotation."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.domain.identity.auth import SecretBox
from api.domain.operations.sealed_secrets import SealedSecrets

UNREADABLE_LISTED = 100


class ResealReport(BaseModel):
    """What a sweep found and did; `unreadable` names where (never what) up to a limit."""

    checked: int = 0
    resealed: int = 0
    current: int = 0
    changed_meanwhile: int = 0
    unreadable: int = 0
    unreadable_at: list[str] = Field(default_factory=list)
    dry_run: bool = False


class ResealSecrets:
    """Seal every stored secret under the current `ENCRYPTION_KEY`, so that the keys in
    `ENCRYPTION_PREVIOUS_KEYS` can be dropped.

    Rules: a secret already under the current key is left as it is (`current`); one under
    a previous key is re-encrypted and stored only if its ciphertext is still the one read
    (`resealed`; else `changed_meanwhile`: someone saved a newer value, sealed under the
    current key by whoever wrote it); one that no configured key opens is counted and
    named (`unreadable`: store, record id and field), never changed or deleted. Safe to
    run again and while the API serves: each replacement is one conditional update. With
    `dry_run`, nothing is written and `resealed` counts what would be.
    """

    def __init__(self, sealed: SealedSecrets, box: SecretBox) -> None:
        self._sealed = sealed
        self._box = box

    async def execute(self, *, dry_run: bool = False) -> ResealReport:
        report = ResealReport(dry_run=dry_run)
        async for batch in self._sealed.batches():
            for secret in batch:
                report.checked += 1
                try:
                    resealed = self._box.reseal(secret.ciphertext)
                except ValueError:
                    report.unreadable += 1
                    if len(report.unreadable_at) < UNREADABLE_LISTED:
                        report.unreadable_at.append(secret.where)
                    continue
                if resealed is None:
                    report.current += 1
                elif dry_run or await self._sealed.replace(secret, resealed):
                    report.resealed += 1
                else:
                    report.changed_meanwhile += 1
        return report
