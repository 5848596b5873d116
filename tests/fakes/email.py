"""Fakes of the email ports: the outbox (stored outbound email), the renderer, the sender."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from api.domain.email.messages import (
    Branding,
    ContextValue,
    EmailMessage,
    EmailRenderer,
    EmailSender,
    EmailStatus,
    EmailTemplate,
    OutboundEmail,
    OutboundEmailRepository,
    RenderedEmail,
)
from api.domain.slots import ProviderSlots


class FakeOutbox(OutboundEmailRepository):
    """Outbound email by id (`e1`, `e2`, ...)."""

    def __init__(self) -> None:
        self.emails: dict[str, OutboundEmail] = {}
        self.leases: dict[str, datetime] = {}

    async def add(self, email: OutboundEmail) -> OutboundEmail:
        stored = email.model_copy(update={"id": f"e{len(self.emails) + 1}"})
        self.emails[stored.id or ""] = stored
        return stored

    async def get(self, email_id: str) -> OutboundEmail | None:
        return self.emails.get(email_id)

    async def record_attempt(
        self, email_id: str, error: str | None, status: EmailStatus | None = None
    ) -> None:
        email = self.emails[email_id]
        self.emails[email_id] = email.model_copy(
            update={"attempts": email.attempts + 1, "last_error": error}
        )
        self.leases.pop(email_id, None)
        if status is not None:
            await self.mark(email_id, status)

    async def claim(self, email_id: str, *, now: datetime, until: datetime) -> bool:
        email = self.emails.get(email_id)
        held = self.leases.get(email_id)
        if email is None or email.status is not EmailStatus.QUEUED or (held and held > now):
            return False
        self.leases[email_id] = until
        return True

    async def mark(self, email_id: str, status: EmailStatus) -> None:
        self.emails[email_id] = self.emails[email_id].model_copy(update={"status": status})


class FakeRenderer(EmailRenderer):
    """The subject names the tenant and the template; the bodies are placeholders."""

    def render(
        self, template: EmailTemplate, context: Mapping[str, ContextValue], branding: Branding
    ) -> RenderedEmail:
        return RenderedEmail(subject=f"{branding.tenant_name}: {template}", html="<p/>", text="t")


class FakeSender(EmailSender):
    """Raises the given failures one send at a time, then sends (keeps what it sent)."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


class FakeSlots(ProviderSlots):
    """Slots in memory (no expiry): `limit` holders per key."""

    def __init__(self) -> None:
        self.held: dict[str, set[str]] = {}

    async def acquire(self, key: str, holder: str, *, limit: int, hold_seconds: float) -> bool:
        holders = self.held.setdefault(key, set())
        if holder not in holders and len(holders) >= limit:
            return False
        holders.add(holder)
        return True

    async def release(self, key: str, holder: str) -> None:
        self.held.get(key, set()).discard(holder)
