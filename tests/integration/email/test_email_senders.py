"""The SMTP sender against a real SMTP server (aiosmtpd), and the development outbox."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from devservers import free_port
from pydantic import SecretStr

from api.config import SmtpSettings
from api.domain.email.messages import EmailMessage
from api.domain.errors import ParleyError, PermanentFailure, TemporaryFailure
from api.infrastructure.email.outbox import OutboxEmailSender, UnconfiguredEmailSender
from api.infrastructure.email.smtp import SmtpEmailSender

SECRET = "s3cret-Passw0rd!"
BODY_MARKER = "BODY-MARKER-7f3a"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that records mail and answers as a test tells it to."""

    received: list[Received] = field(default_factory=list)
    data_failures: int = 0  # answer the next N DATA commands with `data_reply`
    data_reply: str = "451 4.3.0 try again"
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_failures > 0:
            self.data_failures -= 1
            return self.data_reply
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 2.0.0 Message accepted for delivery"


def smtp_settings(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "from_address": "no-reply@example.com",
        "from_name": "Acme Support",
        "starttls": False,
        "ssl": False,
        "validate_certs": False,
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return SmtpSettings(_env_file=None, **values)


def make_message(*to: str, message_id: str | None = "<m-1.tenant-a@example.com>") -> EmailMessage:
    return EmailMessage(
        to=list(to or ["ada@example.com"]),
        subject="Welcome to Acme, héllo",
        html=f"<p>Hi <b>Ada</b> {BODY_MARKER}</p><a href='https://app.example.com/x'>go</a>",
        text=f"Hi Ada {BODY_MARKER}\nhttps://app.example.com/x\n",
        message_id=message_id,
    )


def parse(content: bytes) -> MimeMessage:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, MimeMessage)
    return parsed


def assert_no_secrets(error: BaseException) -> None:
    """Neither the password nor the body in the message of the error or of its causes."""
    current: BaseException | None = error
    while current is not None:
        assert SECRET not in str(current)
        assert BODY_MARKER not in str(current)
        current = current.__cause__ or current.__context__


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def smtp_server(handler: RecordingHandler) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def sender(smtp_server: Controller) -> SmtpEmailSender:
    return SmtpEmailSender(smtp_settings(smtp_server.port))


async def test_a_message_arrives_as_multipart_alternative(
    sender: SmtpEmailSender, handler: RecordingHandler
) -> None:
    await sender.send(make_message("ada@example.com", "bob@example.com"))

    assert len(handler.received) == 1
    got = handler.received[0]
    assert got.mail_from == "no-reply@example.com"
    assert got.rcpt_tos == ["ada@example.com", "bob@example.com"]
    mime = parse(got.content)
    assert mime.get_content_type() == "multipart/alternative"
    assert mime.get_all("Message-ID") == ["<m-1.tenant-a@example.com>"]
    assert mime["Subject"] == "Welcome to Acme, héllo"
    assert getaddresses([str(mime["From"])]) == [("Acme Support", "no-reply@example.com")]
    assert [address for _, address in getaddresses([str(mime["To"])])] == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert mime["Content-Transfer-Encoding"] is None  # never base64 on a multipart
    parts = list(mime.iter_parts())
    # Text first, HTML last: the last alternative is the one clients prefer.
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert isinstance(parts[0], MimeMessage) and isinstance(parts[1], MimeMessage)
    assert "https://app.example.com/x" in parts[0].get_content()
    assert "<b>Ada</b>" in parts[1].get_content()


async def test_a_bare_message_id_gets_brackets_and_the_sender_domain(
    sender: SmtpEmailSender, handler: RecordingHandler
) -> None:
    await sender.send(make_message(message_id="65f0c0ffee.tenant42"))
    await sender.send(make_message(message_id=None))

    first, second = (parse(r.content).get_all("Message-ID") for r in handler.received)
    assert first == ["<65f0c0ffee.tenant42@example.com>"]
    assert second is not None and len(second) == 1 and second[0].endswith("@example.com>")


@pytest.mark.parametrize(
    "reply",
    ["451 4.3.0 try again", "452 4.3.1 insufficient storage", "421 4.3.2 shutting down"],
)
async def test_a_4xx_reply_to_data_is_a_temporary_failure(
    sender: SmtpEmailSender, handler: RecordingHandler, reply: str
) -> None:
    handler.data_failures, handler.data_reply = 1, reply

    with pytest.raises(TemporaryFailure) as caught:
        await sender.send(make_message())

    assert f"SMTP {reply[:3]}" in str(caught.value)
    assert_no_secrets(caught.value)
    assert handler.received == []
    # The server recovers: the retry goes through.
    await sender.send(make_message())
    assert len(handler.received) == 1


@pytest.mark.parametrize(
    ("reply", "stage"),
    [
        ("550 5.1.1 no such user", "rcpt"),
        ("553 5.1.3 bad destination mailbox address", "rcpt"),
        ("554 5.7.1 message rejected as spam", "data"),
    ],
)
async def test_a_5xx_reply_is_a_permanent_failure(
    sender: SmtpEmailSender, handler: RecordingHandler, reply: str, stage: str
) -> None:
    if stage == "rcpt":
        handler.rcpt_replies["ghost@example.com"] = reply
    else:
        handler.data_failures, handler.data_reply = 1, reply

    with pytest.raises(PermanentFailure) as caught:
        await sender.send(make_message("ghost@example.com"))

    assert f"SMTP {reply[:3]}" in str(caught.value)
    assert_no_secrets(caught.value)
    assert handler.received == []


@pytest.mark.parametrize("reply", ["450 4.2.1 mailbox busy", "421 4.7.0 too many connections"])
async def test_a_4xx_recipient_refusal_is_temporary(
    sender: SmtpEmailSender, handler: RecordingHandler, reply: str
) -> None:
    # After a 421 aiosmtplib drops the connection, so fastapi-mail's QUIT fails too
    # (SMTPServerDisconnected): the original refusal decides, not the failed QUIT.
    handler.rcpt_replies["busy@example.com"] = reply
    with pytest.raises(TemporaryFailure, match=f"SMTP {reply[:3]}"):
        await sender.send(make_message("busy@example.com"))


async def test_one_refused_recipient_of_two_still_delivers_to_the_other(
    sender: SmtpEmailSender, handler: RecordingHandler
) -> None:
    handler.rcpt_replies["ghost@example.com"] = "550 5.1.1 no such user"
    await sender.send(make_message("ghost@example.com", "ada@example.com"))
    assert [r.rcpt_tos for r in handler.received] == [["ada@example.com"]]


async def test_a_server_that_is_down_is_a_temporary_failure(handler: RecordingHandler) -> None:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    sender = SmtpEmailSender(smtp_settings(controller.port))
    await sender.send(make_message())  # up: delivered
    assert len(handler.received) == 1
    controller.stop()  # down: connection refused
    with pytest.raises(TemporaryFailure, match="unreachable") as caught:
        await sender.send(make_message())
    assert_no_secrets(caught.value)


async def test_a_server_that_never_answers_is_a_temporary_failure() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = int(silent.getsockname()[1])
        sender = SmtpEmailSender(smtp_settings(port, timeout_seconds=1))
        with pytest.raises(TemporaryFailure, match="timeout"):
            await sender.send(make_message())


class Authenticator:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.seen.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"mailer" and auth_data.password == SECRET.encode()
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def auth_server(handler: RecordingHandler) -> Iterator[tuple[Controller, Authenticator]]:
    authenticator = Authenticator()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller, authenticator
    finally:
        controller.stop()


@AUTH_WITHOUT_TLS
async def test_credentials_are_used_when_a_user_is_set(
    auth_server: tuple[Controller, Authenticator], handler: RecordingHandler
) -> None:
    controller, authenticator = auth_server
    sender = SmtpEmailSender(
        smtp_settings(controller.port, user="mailer", password=SecretStr(SECRET))
    )
    await sender.send(make_message())
    assert authenticator.seen == [(b"mailer", SECRET.encode())]
    assert len(handler.received) == 1


@AUTH_WITHOUT_TLS
async def test_refused_credentials_are_a_permanent_failure_without_the_password(
    auth_server: tuple[Controller, Authenticator], handler: RecordingHandler
) -> None:
    controller, _ = auth_server
    sender = SmtpEmailSender(
        smtp_settings(controller.port, user="mailer", password=SecretStr(SECRET + "-wrong"))
    )
    with pytest.raises(PermanentFailure, match="SMTP 535 authentication failed") as caught:
        await sender.send(make_message())
    assert_no_secrets(caught.value)
    assert handler.received == []


@AUTH_WITHOUT_TLS
async def test_without_a_user_no_credentials_are_sent(
    auth_server: tuple[Controller, Authenticator],
) -> None:
    controller, authenticator = auth_server
    sender = SmtpEmailSender(smtp_settings(controller.port, password=SecretStr(SECRET)))
    # The server insists on AUTH; we never tried it (no SMTP_USER): 530 is permanent.
    with pytest.raises(PermanentFailure, match="SMTP 530"):
        await sender.send(make_message())
    assert authenticator.seen == []


async def test_mail_environment_variables_do_not_leak_into_the_connection(
    monkeypatch: pytest.MonkeyPatch, smtp_server: Controller, handler: RecordingHandler
) -> None:
    monkeypatch.setenv("MAIL_USERNAME", "intruder")
    monkeypatch.setenv("MAIL_SERVER", "192.0.2.1")
    monkeypatch.setenv("MAIL_PORT", "1")
    monkeypatch.setenv("USE_CREDENTIALS", "true")  # would try AUTH on a server without it
    monkeypatch.setenv("MAIL_FROM", "intruder@example.com")
    await SmtpEmailSender(smtp_settings(smtp_server.port)).send(make_message())
    assert [r.mail_from for r in handler.received] == ["no-reply@example.com"]


@pytest.mark.parametrize("bad_to", ["ada@localhost", "not-an-address"])
async def test_an_invalid_recipient_is_a_permanent_failure(
    sender: SmtpEmailSender, handler: RecordingHandler, bad_to: str
) -> None:
    with pytest.raises(PermanentFailure, match="recipient"):
        await sender.send(make_message(bad_to))
    assert handler.received == []


async def test_a_subject_with_a_line_break_is_refused(
    sender: SmtpEmailSender, handler: RecordingHandler
) -> None:
    message = make_message().model_copy(update={"subject": "Hi\r\nBcc: victim@example.com"})
    with pytest.raises(PermanentFailure, match="subject"):
        await sender.send(message)
    assert handler.received == []


def test_no_host_or_a_bad_from_address_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="SMTP_HOST"):
        SmtpEmailSender(SmtpSettings(_env_file=None))
    with pytest.raises(ValueError, match="SMTP_FROM"):
        SmtpEmailSender(smtp_settings(2525, from_address="no-reply@localhost"))
    with pytest.raises(ValueError, match="SMTP_STARTTLS and SMTP_SSL"):
        SmtpEmailSender(smtp_settings(2525, starttls=True, ssl=True))


async def test_the_outbox_writes_a_parseable_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox" / "nested"  # created on first use
    sender = OutboxEmailSender(outbox, "no-reply@example.com", "Acme Support")

    await sender.send(make_message("ada@example.com", "bob@example.com"))
    await sender.send(make_message(message_id=None))

    files = sorted(outbox.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no temporary files left behind
    assert any(f.name.endswith("-m-1.tenant-a@example.com.eml") for f in files)
    mime = parse(next(f for f in files if "m-1.tenant-a" in f.name).read_bytes())
    assert mime.get_content_type() == "multipart/alternative"
    assert mime["Message-ID"] == "<m-1.tenant-a@example.com>"
    assert mime["Subject"] == "Welcome to Acme, héllo"
    assert getaddresses([str(mime["From"])]) == [("Acme Support", "no-reply@example.com")]
    assert "bob@example.com" in str(mime["To"])
    text, html = mime.iter_parts()
    assert isinstance(text, MimeMessage) and isinstance(html, MimeMessage)
    assert text.get_content_type() == "text/plain"
    assert "https://app.example.com/x" in text.get_content()
    assert html.get_content_type() == "text/html"
    assert "<b>Ada</b>" in html.get_content()


async def test_the_outbox_logs_the_path_and_count_but_not_the_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sender = OutboxEmailSender(tmp_path, "no-reply@example.com")
    with caplog.at_level("INFO", logger="api.infrastructure.email.outbox"):
        await sender.send(make_message("ada@example.com", "bob@example.com"))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert str(tmp_path) in lines[0] and "2 recipient" in lines[0]
    assert BODY_MARKER not in lines[0] and "https://" not in lines[0]


async def test_the_outbox_refuses_a_subject_with_a_line_break(tmp_path: Path) -> None:
    sender = OutboxEmailSender(tmp_path, "no-reply@example.com")
    message = make_message().model_copy(update={"subject": "Hi\nBcc: victim@example.com"})
    with pytest.raises(PermanentFailure):
        await sender.send(message)
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test checking its tmp dir


async def test_unconfigured_sender_fails_permanently() -> None:
    with pytest.raises(PermanentFailure, match="SMTP_HOST") as caught:
        await UnconfiguredEmailSender().send(make_message())
    assert isinstance(caught.value, ParleyError)
