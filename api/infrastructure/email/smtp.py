"""`EmailSender` adapter over SMTP with fastapi-mail (aiosmtplib underneath).

fastapi-mail 1.6.8 builds the MIME message (`FastMail.get_message`) and opens the
connection (`Connection`: connect, STARTTLS/TLS, login); we send through its aiosmtplib
session so that we see aiosmtplib's own errors and the per-recipient result. Three
things are corrected on the built message, all found in fastapi-mail's `msg.py`:

- `subtype=html` + `alternative_body=text` puts the HTML part first and the text last,
  and the last alternative is the one clients prefer (RFC 2046 5.1.4). So the body is
  the text (`subtype=plain`) and the alternative the HTML: text first, HTML preferred.
- the alternative is wrapped in a one-part `multipart/related` carrying
  `Content-Transfer-Encoding: base64` (not allowed on a multipart, RFC 2045 6.4): the
  `multipart/alternative` is promoted to the top and the bogus header dropped.
- a `message-id` in `headers` is written twice (`Message-ID` and `message-id`); we keep
  one. (We still pass it: without it, `MailMsg` calls `make_msgid()`, which resolves the
  host name with a blocking `socket.getfqdn()`.)

Failures, mapped from the aiosmtplib exception at the root of the chain (fastapi-mail's
`ConnectionErrors` and a failing `QUIT` in `__aexit__` both wrap the original):

- 4xx replies (421, 450, 451, 452, ...): `TemporaryFailure("SMTP 451 ...")`
- 5xx replies (550, 553, 554, ...): `PermanentFailure("SMTP 550 ...")`
- authentication refused (`SMTPAuthenticationError`, 535): `PermanentFailure`
- every recipient refused (`SMTPRecipientsRefused`): permanent if all replies are 5xx
- refused connection, lost connection, timeouts (`SMTPConnectError`,
  `SMTPServerDisconnected`, `SMTPTimeoutError`, `OSError`): `TemporaryFailure`
- an address or option the client refuses (`ValueError`, `SMTPNotSupported`, other
  `SMTPException`s such as "AUTH not supported"): `PermanentFailure`

Messages carry the SMTP code and a short reason, never the password or the body.
"""

from __future__ import annotations

import logging
import re
from email.message import Message
from email.utils import make_msgid
from typing import Protocol

from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPResponse,
    SMTPResponseException,
    SMTPTimeoutError,
)
from fastapi_mail import ConnectionConfig, FastMail, MessageSchema, MessageType
from fastapi_mail.connection import Connection
from fastapi_mail.errors import ConnectionErrors
from fastapi_mail.schemas import MultipartSubtypeEnum
from pydantic import SecretStr, ValidationError

from api.domain.email.messages import EmailMessage
from api.domain.errors import ParleyError, PermanentFailure, TemporaryFailure
from api.infrastructure.email.outbox import sender

log = logging.getLogger(__name__)

_UNUSED_CREDENTIAL = "unused"  # fastapi-mail requires a username and password even without AUTH
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_ENV_NAMES = {"MAIL_FROM": "SMTP_FROM", "MAIL_SERVER": "SMTP_HOST", "MAIL_PORT": "SMTP_PORT"}
_CONTAINER_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})


class SmtpConfig(Protocol):
    """What the sender reads from the settings (`api.config.SmtpSettings` fits)."""

    @property
    def host(self) -> str | None: ...
    @property
    def port(self) -> int: ...
    @property
    def user(self) -> str | None: ...
    @property
    def password(self) -> SecretStr | None: ...
    @property
    def from_address(self) -> str: ...
    @property
    def from_name(self) -> str | None: ...
    @property
    def starttls(self) -> bool: ...
    @property
    def ssl(self) -> bool: ...
    @property
    def validate_certs(self) -> bool: ...
    @property
    def timeout_seconds(self) -> int: ...


class SmtpEmailSender:
    """Sends each message over one SMTP connection (connect, [STARTTLS], [AUTH], send, QUIT)."""

    def __init__(self, settings: SmtpConfig) -> None:
        if not settings.host:
            raise ValueError("SMTP_HOST is required to send mail over SMTP")
        if settings.starttls and settings.ssl:
            raise ValueError("SMTP_STARTTLS and SMTP_SSL cannot both be true")
        use_credentials = bool(settings.user)
        password = settings.password if use_credentials and settings.password else None
        self._secrets = [password.get_secret_value()] if password else []
        try:
            # Every field is given, so no MAIL_* environment variable can leak in.
            self._config = ConnectionConfig(
                MAIL_USERNAME=settings.user if use_credentials else _UNUSED_CREDENTIAL,
                MAIL_PASSWORD=password or SecretStr(_UNUSED_CREDENTIAL),
                MAIL_SERVER=settings.host,
                MAIL_PORT=settings.port,
                MAIL_STARTTLS=settings.starttls,
                MAIL_SSL_TLS=settings.ssl,
                MAIL_DEBUG=0,
                MAIL_FROM=settings.from_address,
                MAIL_FROM_NAME=settings.from_name,
                TEMPLATE_FOLDER=None,
                SUPPRESS_SEND=0,
                USE_CREDENTIALS=use_credentials,
                VALIDATE_CERTS=settings.validate_certs,
                TIMEOUT=settings.timeout_seconds,
                LOCAL_HOSTNAME=None,
                CERT_BUNDLE=None,
            )
        except ValidationError as exc:
            names = sorted(
                {_ENV_NAMES.get(str(e["loc"][0]), str(e["loc"][0])) for e in exc.errors()}
            )
            raise ValueError(f"invalid SMTP settings: {', '.join(names)}") from None
        self._mail = FastMail(self._config)
        self._domain = settings.from_address.rpartition("@")[2]

    async def send(self, message: EmailMessage) -> None:
        mime = await self._build(message)
        connection = Connection(self._config)
        refused: dict[str, SMTPResponse] = {}
        accepted = False
        try:
            async with connection:
                refused, _ = await connection.session.send_message(mime)
                accepted = True
        except (ConnectionErrors, SMTPException, OSError, ValueError) as exc:
            if not accepted:
                raise translate_smtp_error(exc, self._secrets) from exc
            # The server took the message; only QUIT failed. Retrying would send it twice.
            log.warning("SMTP QUIT failed after the message was accepted (%s)", type(exc).__name__)
        finally:
            # fastapi-mail leaves the socket open when login fails; close it ourselves.
            session = getattr(connection, "session", None)
            if session is not None and session.is_connected:
                session.close()
        if refused:
            codes = sorted({str(response.code) for response in refused.values()})
            log.warning(
                "SMTP accepted the message for %d of %d recipients (refused with %s)",
                len(message.to) - len(refused),
                len(message.to),
                ", ".join(codes),
            )

    async def _build(self, message: EmailMessage) -> Message:
        if message.subject.splitlines() != [message.subject]:
            raise PermanentFailure("The subject must be a single non-empty line")
        message_id = self._message_id(message.message_id)
        try:
            schema = MessageSchema(
                recipients=message.to,
                subject=message.subject,
                body=message.text,
                alternative_body=message.html,
                subtype=MessageType.plain,
                multipart_subtype=MultipartSubtypeEnum.alternative,
                headers={"message-id": message_id},
            )
        except ValidationError:
            raise PermanentFailure("Invalid recipient address") from None
        built = await self._mail.get_message(schema)
        if not isinstance(built, Message):  # one schema in, one message out
            raise TypeError("fastapi-mail returned no single message")
        tidy = _tidy(built, message_id)
        if message.sender_name:
            del tidy["From"]
            tidy["From"] = sender(message.sender_name, self._config.MAIL_FROM)
        return tidy

    def _message_id(self, raw: str | None) -> str:
        """A well-formed `<left@right>` id: given ids are kept, bare ones get our domain."""
        if raw is None:
            return make_msgid(domain=self._domain)
        candidate = raw.strip()
        if not _MESSAGE_ID.fullmatch(candidate):
            candidate = f"<{candidate}>" if "@" in candidate else f"<{candidate}@{self._domain}>"
        if not _MESSAGE_ID.fullmatch(candidate):
            raise PermanentFailure("Invalid Message-ID")
        return candidate


def _tidy(built: Message, message_id: str) -> Message:
    """Promote the multipart/alternative to the top and keep exactly one Message-ID."""
    root = built
    parts = built.get_payload()
    if (
        built.get_content_type() == "multipart/related"
        and isinstance(parts, list)
        and len(parts) == 1
        and isinstance(parts[0], Message)
    ):
        root = parts[0]
        for name, value in built.items():
            if name.lower() not in _CONTAINER_HEADERS:
                root[name] = value
    del root["Content-Transfer-Encoding"]
    del root["Message-ID"]
    root["Message-ID"] = message_id
    return root


def translate_smtp_error(exc: BaseException, secrets: list[str] | None = None) -> ParleyError:
    """The port error for a failed send, judged by the original (innermost) failure."""
    chain = _chain(exc)
    hide = secrets or []
    for error in reversed(chain):
        if isinstance(error, SMTPRecipientsRefused) and error.recipients:
            first = error.recipients[0]
            reason = f"SMTP {first.code} recipient refused: {_short(first.message, hide)}"
            if all(refused.code >= 500 for refused in error.recipients):
                return PermanentFailure(reason)
            return TemporaryFailure(reason)
        if isinstance(error, SMTPResponseException):
            return _from_reply(error, hide)
    for error in reversed(chain):
        if isinstance(error, SMTPTimeoutError | TimeoutError):
            return TemporaryFailure("SMTP timeout")
        if isinstance(error, OSError):
            return TemporaryFailure(f"SMTP server unreachable ({type(error).__name__})")
    for error in reversed(chain):
        if isinstance(error, ValueError):
            return PermanentFailure("SMTP refused by the client: invalid address or options")
        if isinstance(error, SMTPException):
            return PermanentFailure(f"SMTP not usable: {_short(error.message, hide)}")
    return TemporaryFailure(f"SMTP failed ({type(exc).__name__})")


def _from_reply(error: SMTPResponseException, hide: list[str]) -> ParleyError:
    code = error.code
    if isinstance(error, SMTPAuthenticationError) or code in (530, 534, 535):
        return PermanentFailure(f"SMTP {code} authentication failed")
    reason = f"SMTP {code} {_short(error.message, hide)}"
    if 500 <= code < 600:
        return PermanentFailure(reason)
    return TemporaryFailure(reason)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and the ones it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _short(text: str, hide: list[str]) -> str:
    """One line of at most 120 characters, with any secret blanked out."""
    line = " ".join(str(text).split())[:120]
    for secret in hide:
        if secret:
            line = line.replace(secret, "***")
    return line or "no reason given"
