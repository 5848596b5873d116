"""Development `EmailSender`s: an outbox of `.eml` files, and a refusal when SMTP is missing.

With no `SMTP_HOST`, development writes each message to `MAIL_OUTBOX_DIR` as an RFC 5322
file (`multipart/alternative`, text then HTML) that any mail client opens. Production
without SMTP uses `UnconfiguredEmailSender`, which fails every send permanently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import uuid
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from api.common.clock import utcnow
from api.domain.email.messages import EmailMessage
from api.domain.errors import PermanentFailure

log = logging.getLogger(__name__)

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._@-]+")


def sender(name: str, address: str) -> str:
    """`From` with a display name: on one line (no header injection), encoded when needed."""
    return formataddr((" ".join(name.split()), address))


def build_mime(
    message: EmailMessage, from_address: str, from_name: str | None = None
) -> MimeMessage:
    """The message as a stdlib `EmailMessage`: multipart/alternative, text first, HTML last.

    Raises `PermanentFailure` on a header that would need a line break (injection).
    """
    domain = from_address.rpartition("@")[2] or "localhost"
    mime = MimeMessage()
    try:
        name = message.sender_name or from_name
        mime["From"] = sender(name, from_address) if name else from_address
        mime["To"] = ", ".join(message.to)
        mime["Subject"] = message.subject
        mime["Date"] = format_datetime(utcnow())
        mime["Message-ID"] = _message_id(message.message_id, domain)
    except ValueError:
        raise PermanentFailure("A header of the message is not a single line") from None
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


class OutboxEmailSender:
    """Writes every message to `<outbox_dir>/<UTC timestamp>-<message id>.eml`, atomically."""

    def __init__(
        self,
        outbox_dir: str | Path,
        from_address: str = "no-reply@example.com",
        from_name: str | None = None,
    ) -> None:
        self._dir = Path(outbox_dir)
        self._from_address = from_address
        self._from_name = from_name

    async def send(self, message: EmailMessage) -> None:
        mime = build_mime(message, self._from_address, self._from_name)
        stem = message.message_id or uuid.uuid4().hex
        name = f"{utcnow():%Y%m%dT%H%M%S%fZ}-{_safe_file_part(stem)}.eml"
        path = await asyncio.to_thread(_write_atomically, self._dir, name, bytes(mime))
        log.info("email written to the outbox: %s (%d recipient(s))", path, len(message.to))


class UnconfiguredEmailSender:
    """For deployments without SMTP: every send fails for good, saying what to set."""

    async def send(self, message: EmailMessage) -> None:
        raise PermanentFailure("SMTP is not configured (SMTP_HOST)")


def _write_atomically(directory: Path, name: str, content: bytes) -> Path:
    """Write to a temporary file in `directory`, then rename it into place."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".eml.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def _message_id(raw: str | None, domain: str) -> str:
    if raw is None:
        return make_msgid(domain=domain)
    candidate = raw.strip()
    if candidate.startswith("<") and candidate.endswith(">"):
        return candidate
    return f"<{candidate}>" if "@" in candidate else f"<{candidate}@{domain}>"


def _safe_file_part(raw: str) -> str:
    return _UNSAFE_FILE_CHARS.sub("_", raw.strip("<> "))[:100] or uuid.uuid4().hex
