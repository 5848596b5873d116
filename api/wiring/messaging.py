"""Messaging: channels, contacts, segments, conversations, messages, teams and campaigns,
their repositories, the contacts' settings (from the tenant's profile), the media sink (on the
files feature's store), and the provider gateways (one client per channel token, closed at
shutdown)."""

from __future__ import annotations

from datetime import timedelta

import punq

from api.config import RealtimeSettings, Settings
from api.domain.clock import Clock
from api.domain.identity.auth import SecretBox
from api.domain.lifecycle import Closeable, Listener, Startable
from api.domain.messaging.campaigns import (
    AudienceContacts,
    CampaignRecipientRepository,
    CampaignRepository,
    CampaignRunRepository,
    CampaignSchedule,
    TenantTimezone,
)
from api.domain.messaging.channels import ChannelRepository, ChannelType
from api.domain.messaging.contact_exports import (
    ContactExportRepository,
    ExpiredExports,
    ExportFiles,
)
from api.domain.messaging.contact_merge import ContactRecords
from api.domain.messaging.contacts import (
    ContactIdentityRepository,
    ContactRepository,
    ContactSettingsSource,
)
from api.domain.messaging.conversations import ConversationRepository, SnoozeAlarms
from api.domain.messaging.data_deletion import DataDeletionRequests
from api.domain.messaging.gateway import ChannelGateways
from api.domain.messaging.inbox_settings import InboxSettingsRepository
from api.domain.messaging.messages import MediaSink, MessageRepository, SendClaims
from api.domain.messaging.outbound import (
    IdempotencyKeys,
    OutboundFiles,
    SendingChannels,
    SendRateLimiter,
    StaleOutbound,
)
from api.domain.messaging.presence import PresenceStore
from api.domain.messaging.realtime import InboxEventLog, InboxEvents, InboxFeed
from api.domain.messaging.routing import AssignmentState, OutOfHoursMarks
from api.domain.messaging.segments import SegmentRepository
from api.domain.messaging.teams import TeamRepository
from api.domain.messaging.templates import TemplateRepository
from api.domain.messaging.webhooks import InboundEventHandlers
from api.domain.slots import ProviderSlots
from api.infrastructure.cache.provider_slots import RedisProviderSlots
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.cache.routing import RedisAssignmentState, RedisOutOfHoursMarks
from api.infrastructure.cache.send_claims import RedisSendClaims
from api.infrastructure.cache.send_rate import RedisSendRateLimiter
from api.infrastructure.cache.sending_channels import CachedSendingChannels
from api.infrastructure.channels.registry import ClientOptions, ProviderGateways
from api.infrastructure.persistence.messaging.campaign_audience import MongoAudienceContacts
from api.infrastructure.persistence.messaging.campaigns import (
    BeanieCampaignRecipientRepository,
    BeanieCampaignRepository,
    BeanieCampaignRunRepository,
    PlatformCampaignSchedule,
)
from api.infrastructure.persistence.messaging.channels import BeanieChannelRepository
from api.infrastructure.persistence.messaging.contact_exports import (
    BeanieContactExportRepository,
    PlatformExpiredExports,
)
from api.infrastructure.persistence.messaging.contact_identities import (
    BeanieContactIdentityRepository,
)
from api.infrastructure.persistence.messaging.contact_records import BeanieContactRecords
from api.infrastructure.persistence.messaging.contacts import BeanieContactRepository
from api.infrastructure.persistence.messaging.conversations import (
    BeanieConversationRepository,
    PlatformSnoozeAlarms,
)
from api.infrastructure.persistence.messaging.data_deletion import BeanieDataDeletionRequests
from api.infrastructure.persistence.messaging.idempotency import MongoIdempotencyKeys
from api.infrastructure.persistence.messaging.inbox_settings import MongoInboxSettingsRepository
from api.infrastructure.persistence.messaging.messages import (
    BeanieMessageRepository,
    MongoStaleOutbound,
)
from api.infrastructure.persistence.messaging.segments import BeanieSegmentRepository
from api.infrastructure.persistence.messaging.teams import BeanieTeamRepository
from api.infrastructure.persistence.messaging.templates import BeanieTemplateRepository
from api.infrastructure.realtime.feed import RedisStreamInboxFeed
from api.infrastructure.realtime.presence import RedisPresenceStore
from api.infrastructure.realtime.streams import RedisStreamInboxEvents
from api.usecases.messaging.campaign_policy import CampaignPolicy
from api.usecases.messaging.export_contacts import ExportPolicy
from api.usecases.messaging.handle_inbox_events import HandleInboxEvents
from api.usecases.messaging.handle_template_events import HandleTemplateEvents
from api.usecases.messaging.inbox_agents import PresencePolicy
from api.usecases.messaging.rules import ChannelPolicy
from api.usecases.messaging.sending_rules import SendPolicy, SentRecords
from api.wiring.clients import Clients
from api.wiring.contact_imports import register_imports
from api.wiring.contact_settings import ProfileContactSettings
from api.wiring.export_files import FileStoreExportFiles
from api.wiring.kernel import OnStart
from api.wiring.media_sink import FileStoreMediaSink
from api.wiring.outbound_files import FileStoreOutboundFiles
from api.wiring.tenant_timezone import ProfileTimezone
from api.wiring.webhooks import register_webhooks


def channel_policy(settings: Settings) -> ChannelPolicy:
    # The deployment's public base URL (PUBLIC_BASE_URL): what Meta calls back.
    public_base_url = settings.public_base_url
    whatsapp = settings.whatsapp
    return ChannelPolicy(
        webhook_base_url=f"{public_base_url}{settings.api_prefix}/webhooks",
        graph_base_url=whatsapp.graph_base_url,
        api_version=whatsapp.api_version,
        messages_per_second=whatsapp.messages_per_second,
        allowed_graph_base_urls=whatsapp.channel_graph_base_urls,
        telegram_api_base_url=settings.telegram.api_base_url,
        allowed_telegram_api_base_urls=settings.telegram.channel_api_base_urls,
        telegram_messages_per_second=settings.telegram.messages_per_second,
    )


def inbox_feed(settings: Settings, clients: Clients) -> RedisStreamInboxFeed:
    """The process's one stream reader, on a connection of its own: its blocking reads
    outlast the shared pool's socket timeout."""
    realtime = settings.realtime
    reader = create_redis(
        settings.redis.resolved_url,
        socket_timeout=realtime.read_block_ms / 1000 + settings.redis.socket_timeout_seconds,
        max_connections=2,
    )
    return RedisStreamInboxFeed(
        clients.redis,
        reader,
        retention_seconds=realtime.retention_seconds,
        block_ms=realtime.read_block_ms,
        batch=realtime.read_batch,
    )


def send_policy(settings: Settings) -> SendPolicy:
    return SendPolicy(
        max_attempts=settings.send_max_attempts,
        backoff_seconds=settings.send_retry_backoff_seconds,
        backoff_max_seconds=settings.send_retry_backoff_max_seconds,
        rate_max_wait_seconds=settings.send_rate_max_wait_seconds,
        lease_seconds=settings.send_rate_max_wait_seconds
        + max(settings.whatsapp.timeout_seconds, settings.telegram.timeout_seconds)
        + 60,
        sweep_after_seconds=settings.send_sweep_after_seconds,
        channel_max_in_flight=settings.send_channel_max_in_flight,
        channel_busy_retry_seconds=settings.send_channel_busy_retry_seconds,
    )


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    box: SecretBox = container.resolve(SecretBox)  # registered by the identity context
    gateways = ProviderGateways(
        box,
        ClientOptions(
            timeout_seconds=settings.whatsapp.timeout_seconds,
            max_connections=settings.whatsapp.max_connections,
        ),
        per_type={
            ChannelType.TELEGRAM: ClientOptions(
                timeout_seconds=settings.telegram.timeout_seconds,
                max_connections=settings.whatsapp.max_connections,
            )
        },
    )
    container.register(ChannelGateways, instance=gateways)
    container.register(Closeable, instance=gateways)
    container.register(ChannelPolicy, instance=channel_policy(settings))
    container.register(ChannelRepository, BeanieChannelRepository)
    register_webhooks(container, settings)
    container.register(ContactRepository, BeanieContactRepository)
    container.register(ContactIdentityRepository, BeanieContactIdentityRepository)
    container.register(ContactRecords, BeanieContactRecords)  # what a merge moves
    container.register(ContactSettingsSource, ProfileContactSettings)  # the tenant's profile
    container.register(SegmentRepository, BeanieSegmentRepository)
    register_exports(container, settings)
    container.register(ConversationRepository, BeanieConversationRepository)
    container.register(MessageRepository, BeanieMessageRepository)
    container.register(DataDeletionRequests, BeanieDataDeletionRequests)
    container.register(StaleOutbound, MongoStaleOutbound)
    container.register(TemplateRepository, BeanieTemplateRepository)
    container.register(TeamRepository, BeanieTeamRepository)
    container.register(SnoozeAlarms, instance=PlatformSnoozeAlarms())
    container.register(MediaSink, FileStoreMediaSink)  # FileStore: discovered later
    events = RedisStreamInboxEvents(
        clients.redis, retention_seconds=settings.realtime.retention_seconds
    )
    container.register(InboxEvents, instance=events)
    container.register(InboxEventLog, instance=events)
    feed = inbox_feed(settings, clients)
    container.register(InboxFeed, instance=feed)
    container.register(Listener, instance=feed)  # the reader runs in the API only
    container.register(Closeable, instance=feed)
    container.register(RealtimeSettings, instance=settings.realtime)  # the socket's limits
    register_sending(container, settings, clients)
    register_routing(container, settings, clients)
    register_campaigns(container, settings)
    register_imports(container, settings)


def register_exports(container: punq.Container, settings: Settings) -> None:
    """Contact exports: their records, their files (on the files feature's store), their
    policy (a run's lease outlasts the job time limit)."""
    container.register(ContactExportRepository, BeanieContactExportRepository)
    container.register(ExpiredExports, instance=PlatformExpiredExports())
    container.register(ExportFiles, FileStoreExportFiles)  # FileStore: discovered later
    policy = ExportPolicy(
        ttl=timedelta(hours=settings.contact_export_ttl_hours),
        lease=timedelta(seconds=settings.jobs.job_time_limit_seconds + 60),
    )
    container.register(ExportPolicy, instance=policy)


def register_sending(container: punq.Container, settings: Settings, clients: Clients) -> None:
    """The sending path: its policy, idempotency keys, the per-number rate bucket, the
    runs' claims on messages (Redis), files."""
    clock: Clock = container.resolve(Clock)  # registered by the kernel
    container.register(SendPolicy, instance=send_policy(settings))
    container.register(SentRecords, instance=SentRecords(settings.jobs.worker_concurrency))
    keys = MongoIdempotencyKeys(timedelta(hours=settings.idempotency_key_ttl_hours), clock)
    container.register(IdempotencyKeys, instance=keys)
    container.register(Startable, instance=OnStart(keys.ensure_retention))
    container.register(SendRateLimiter, instance=RedisSendRateLimiter(clients.redis, clock))
    container.register(ProviderSlots, instance=RedisProviderSlots(clients.redis))
    container.register(SendClaims, instance=RedisSendClaims(clients.redis))
    sending = CachedSendingChannels(
        container.resolve(ChannelRepository), clock, settings.send_channel_cache_seconds
    )
    container.register(SendingChannels, instance=sending)  # one per process: it keeps them
    container.register(OutboundFiles, FileStoreOutboundFiles)  # FileStore: discovered later


def register_campaigns(container: punq.Container, settings: Settings) -> None:
    """Campaigns, their runs and recipient rows, the dispatcher's due-campaign read, the
    audience reader, and the tenant's time zone (from its profile)."""
    container.register(CampaignRepository, BeanieCampaignRepository)
    container.register(CampaignRunRepository, BeanieCampaignRunRepository)
    container.register(CampaignRecipientRepository, BeanieCampaignRecipientRepository)
    container.register(CampaignSchedule, instance=PlatformCampaignSchedule())
    container.register(AudienceContacts, MongoAudienceContacts)
    container.register(TenantTimezone, ProfileTimezone)
    # A snapshot job renews its lease after every batch; one silent for a job's whole time
    # limit (and a minute) was lost with its worker.
    lease = settings.jobs.job_time_limit_seconds + 60
    container.register(CampaignPolicy, instance=CampaignPolicy(snapshot_lease_seconds=lease))


def register_routing(container: punq.Container, settings: Settings, clients: Clients) -> None:
    """Inbox settings, agents' presence, auto-assignment's state, out-of-hours marks."""
    inbox = settings.inbox
    container.register(InboxSettingsRepository, MongoInboxSettingsRepository)
    container.register(PresenceStore, instance=RedisPresenceStore(clients.redis))
    container.register(PresencePolicy, instance=PresencePolicy(inbox.presence_ttl_seconds))
    container.register(
        AssignmentState,
        instance=RedisAssignmentState(clients.redis, lease_seconds=inbox.assign_lock_seconds),
    )
    container.register(OutOfHoursMarks, instance=RedisOutOfHoursMarks(clients.redis))


def add_inbound_handlers(container: punq.Container) -> None:
    """After discovery: the inbox handles received messages and delivery statuses that the
    webhook dispatcher settles (`HandleInboxEvents`); the templates, the provider's
    template status, quality and category updates (`HandleTemplateEvents`)."""
    handlers: InboundEventHandlers = container.resolve(InboundEventHandlers)
    handlers.add(container.resolve(HandleInboxEvents))
    handlers.add(container.resolve(HandleTemplateEvents))
