"""A real SMTP server (aiosmtpd) that records what it receives and fails on demand."""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text body."""
        body = self.message.get_body(("plain",))
        assert body is not None, "no text/plain part"
        return str(body.get_content())


@dataclass
class SmtpCapture:
    """aiosmtpd handler: `fail_next` DATA commands answer 451; `reject` addresses get 550;
    while `hold_rcpt` is set, each RCPT waits (counted in `held`) before it is answered:
    a sender's conversation stays in flight, before any content was sent."""

    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    always_fail: bool = False
    reject: set[str] = field(default_factory=set)
    attempts: int = 0
    hold_rcpt: bool = False
    held: int = 0

    def reset(self) -> None:
        self.received.clear()
        self.fail_next = 0
        self.always_fail = False
        self.reject.clear()
        self.attempts = 0
        self.hold_rcpt = False
        self.held = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.hold_rcpt:
            self.held += 1
            while self.hold_rcpt:  # noqa: ASYNC110 - set from the test's thread and loop
                await asyncio.sleep(0.05)
        if address.lower() in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.attempts += 1
        if self.always_fail or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]

    async def wait_for(self, address: str, timeout: float = 20.0) -> list[Received]:
        """Messages to `address`, waiting until at least one arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.to(address):
            if loop.time() > deadline:
                raise AssertionError(f"no mail to {address} within {timeout}s")
            await asyncio.sleep(0.05)
        return self.to(address)


def start_smtp(port: int) -> tuple[Controller, SmtpCapture]:
    capture = SmtpCapture()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, capture
