"""Email: the outbox records, the templates and the configured sender."""

from __future__ import annotations

import logging

import punq

from api.config import Settings
from api.domain.email.messages import (
    EmailPolicy,
    EmailRenderer,
    EmailSender,
    MailLinks,
    OutboundEmailRepository,
    StaleEmails,
)
from api.infrastructure.email.outbox import OutboxEmailSender, UnconfiguredEmailSender
from api.infrastructure.email.renderer import JinjaEmailRenderer
from api.infrastructure.email.smtp import SmtpEmailSender
from api.infrastructure.persistence.email.outbound import (
    BeanieOutboundEmailRepository,
    MongoStaleEmails,
)
from api.wiring.clients import Clients

log = logging.getLogger(__name__)


def email_sender(settings: Settings) -> EmailSender:
    """SMTP when configured; else the outbox folder in development, a loud refusal otherwise."""
    if settings.smtp.host:
        return SmtpEmailSender(settings.smtp)
    if settings.is_production:
        log.warning("SMTP_HOST is not set: every email will fail (see failed jobs)")
        return UnconfiguredEmailSender()
    return OutboxEmailSender(
        settings.mail.outbox_dir,
        from_address=settings.smtp.from_address,
        from_name=settings.smtp.from_name,
    )


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(OutboundEmailRepository, BeanieOutboundEmailRepository)
    container.register(StaleEmails, MongoStaleEmails)
    mail = settings.mail
    container.register(
        EmailPolicy,
        instance=EmailPolicy(
            lease_seconds=mail.send_lease_seconds,
            sweep_after_seconds=mail.sweep_after_seconds,
            sweep_batch=mail.sweep_batch,
            max_in_flight=mail.max_in_flight,
            busy_retry_seconds=mail.busy_retry_seconds,
        ),
    )
    container.register(EmailRenderer, instance=JinjaEmailRenderer())
    container.register(
        MailLinks, instance=MailLinks(settings.public_base_url + settings.api_prefix)
    )
    container.register(EmailSender, instance=email_sender(settings))
