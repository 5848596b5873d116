"""Campaigns (`/api/v1/campaigns`): created, read, listed, changed and deleted; read with
`campaigns:read`, managed with `campaigns:manage`.

Rules checked when a campaign is saved (created or changed; 422 with a problem code):
- the channel is one of the tenant's (`unknown_channel`);
- exactly one of `template` and `message` (`invalid_campaign_content`): a template on a
  channel with templates (WhatsApp; elsewhere `templates_not_supported`), a plain message
  on Telegram; a plain message to WhatsApp is `template_required` (outside the 24-hour
  window WhatsApp takes templates only); Messenger and Instagram take no campaigns
  (`campaigns_not_supported`: Meta allows no promotional message outside the 24-hour
  window, and its message tags are not for promotions);
- a plain message has a text (at most 4096 characters; with a file, its caption: at most
  1024) or a file, and its file is one of the tenant's stored files (`unknown_file`); its
  placeholders `{{1}}`, `{{2}}`... are numbered from 1 without gaps, and the variables
  fill each once, by `key` ("1", "2"...) or in order (`template_variables_unmapped`);
- the template is stored for that channel, name and language, `APPROVED` and not
  deactivated (`active` false) (`template_not_usable`);
- the variables fill every template variable exactly once (`template_variables_unmapped`):
  by `key` (`body.1`, `header.1`, `button.0.1`, `body.first_name`), or, when no variable
  names a key, in the template's order (the keys are then stored); a `field` variable names
  a contact field (`name`, `phone`, `email`, `language`);
- the audience names something (`invalid_audience`), and its segments exist
  (`unknown_segment`); tags are normalised like a contact's;
- a schedule is checked by `checked_schedule` (`invalid_schedule`);
- `messages_per_second` is 1-1000 (80 by default).
A campaign is changed or deleted only while `draft` or `scheduled` (a deleted one also
when finished: `completed`, `cancelled`, `failed`); else 409 `campaign_state_conflict`.
Changing a scheduled campaign's schedule moves its next run. Audited: `campaign.created`,
`campaign.updated`, `campaign.deleted`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.domain.clock import Clock
from api.domain.errors import FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.campaigns import (
    CONTACT_FIELDS,
    DEFAULT_MESSAGES_PER_SECOND,
    EDITABLE,
    MAX_CAPTION,
    MAX_MESSAGES_PER_SECOND,
    MAX_TEXT,
    Audience,
    Campaign,
    CampaignPage,
    CampaignRepository,
    CampaignsNotSupported,
    CampaignStateConflict,
    CampaignStatus,
    CampaignVariable,
    InvalidAudience,
    InvalidCampaignContent,
    InvalidSchedule,
    PlainMessage,
    Schedule,
    ScheduleType,
    TemplateNotUsable,
    TemplateRef,
    TemplateRequired,
    TemplatesNotSupported,
    TemplateVariablesUnmapped,
    TenantTimezone,
    UnknownChannel,
    UnknownFile,
    UnknownSegment,
    UrlButton,
    VariableSource,
    ensure_editable,
    placeholders,
)
from api.domain.messaging.channels import (
    Channel,
    ChannelRepository,
    ChannelType,
    supports_templates,
)
from api.domain.messaging.content import MediaKind
from api.domain.messaging.outbound import OutboundFiles
from api.domain.messaging.segments import SegmentRepository
from api.domain.messaging.templates import (
    APPROVED,
    LANGUAGE_PATTERN,
    NAME_PATTERN,
    Template,
    TemplateRepository,
)
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.campaign_schedules import checked_schedule, next_run_at
from api.usecases.messaging.contact_rules import normalised_tags
from api.usecases.messaging.inbox_reads import bounded

CAMPAIGN_NOT_FOUND = "Campaign not found."
MAX_VARIABLES = 50
MAX_AUDIENCE_ITEMS = 50
MAX_CONTACT_IDS = 10_000
DELETABLE = frozenset(
    {
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.COMPLETED,
        CampaignStatus.CANCELLED,
        CampaignStatus.FAILED,
    }
)


class TemplateRefInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    language: str = Field(pattern=LANGUAGE_PATTERN)


class UrlButtonInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1, max_length=64, description="The button's label")
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://\S+$",
                     description="The http(s) link it opens")  # fmt: skip


class PlainMessageInput(BaseModel):
    """A plain message: a text with `{{1}}`, `{{2}}`... placeholders (the caption when a
    file goes with it) and, optionally, one of the tenant's stored files."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(default="", max_length=MAX_TEXT, description=(
        "At most 4096 characters (1024 with a file: the caption); `{{1}}`, `{{2}}`... are "
        "filled per recipient by `variables`"))  # fmt: skip
    file_id: str | None = Field(default=None, min_length=1, max_length=64, description=(
        "One of the tenant's stored files (`/api/v1/files`); sent as a photo, video, "
        "audio or document by its content type"))  # fmt: skip
    button: UrlButtonInput | None = Field(
        default=None, description="A button under the text that opens a link (not with a file)"
    )


class VariableInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str | None = Field(default=None, min_length=1, max_length=100)
    source: VariableSource
    value: str = Field(min_length=1, max_length=1024)
    fallback: str | None = Field(default=None, max_length=1024)


class AudienceInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    segment_ids: list[str] = Field(default_factory=list, max_length=MAX_AUDIENCE_ITEMS)
    tags_any: list[str] = Field(default_factory=list, max_length=MAX_AUDIENCE_ITEMS)
    contact_ids: list[str] = Field(default_factory=list, max_length=MAX_CONTACT_IDS)
    all: bool = False


class ScheduleInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: ScheduleType
    at: datetime | None = None
    cron: str | None = Field(default=None, max_length=120)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)


class CampaignInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=200)
    channel_id: str = Field(min_length=1, max_length=64)
    template: TemplateRefInput | None = None
    message: PlainMessageInput | None = None
    variables: list[VariableInput] = Field(default_factory=list, max_length=MAX_VARIABLES)
    audience: AudienceInput
    schedule: ScheduleInput | None = None
    messages_per_second: int = Field(
        default=DEFAULT_MESSAGES_PER_SECOND, ge=1, le=MAX_MESSAGES_PER_SECOND
    )


class CampaignChanges(BaseModel):
    """Only the fields sent change; `schedule: null` removes the schedule of a draft."""

    model_config = ConfigDict(frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    channel_id: str | None = Field(default=None, min_length=1, max_length=64)
    template: TemplateRefInput | None = None
    message: PlainMessageInput | None = None
    variables: list[VariableInput] | None = Field(default=None, max_length=MAX_VARIABLES)
    audience: AudienceInput | None = None
    schedule: ScheduleInput | None = None
    messages_per_second: int | None = Field(default=None, ge=1, le=MAX_MESSAGES_PER_SECOND)


def template_usable(template: Template) -> bool:
    """Approved by the provider and not deactivated here (`usable_template`'s rules, on a
    template already read)."""
    return template.status == APPROVED and template.active


def mapped_variables(keys: list[str], given: list[VariableInput]) -> list[CampaignVariable]:
    """The variables with their keys (the template's variables, or a plain message's
    placeholders "1", "2"...), each filled once."""
    loc: tuple[str | int, ...] = ("body", "variables")
    for index, variable in enumerate(given):
        if variable.source is VariableSource.FIELD and variable.value not in CONTACT_FIELDS:
            raise InvalidInput(
                "A field variable names a contact field.",
                [FieldProblem((*loc, index, "value"), f"one of {', '.join(CONTACT_FIELDS)}")],
            )
    named = [v.key for v in given if v.key is not None]
    if named and len(named) != len(given):
        raise TemplateVariablesUnmapped(
            "Either every variable names its template key, or none does.", loc, "mixed keys"
        )
    if not named:
        if len(given) != len(keys):
            raise TemplateVariablesUnmapped(
                f"The content has {len(keys)} variables ({', '.join(keys) or 'none'}); "
                f"{len(given)} were given.",
                loc,
                "one value per variable, in order",
            )
        return [CampaignVariable(key=k, **v.model_dump(exclude={"key"})) for k, v in zip(
            keys, given, strict=True)]  # fmt: skip
    unknown = sorted(set(named) - set(keys))
    missing = [k for k in keys if k not in named]
    if unknown or missing or len(set(named)) != len(named):
        parts = []
        if missing:
            parts.append(f"unmapped: {', '.join(missing)}")
        if unknown:
            parts.append(f"not in the content: {', '.join(unknown)}")
        if len(set(named)) != len(named):
            parts.append("a key is mapped twice")
        raise TemplateVariablesUnmapped(
            "The variables must fill every variable once (" + "; ".join(parts) + ").",
            loc,
            "; ".join(parts),
        )
    return [CampaignVariable(**v.model_dump()) for v in given]


class Content(BaseModel):
    """A campaign's content as saved: its template or plain message, and its variables."""

    model_config = ConfigDict(frozen=True)

    template: TemplateRef | None = None
    message: PlainMessage | None = None
    variables: list[CampaignVariable]


def media_kind_of(content_type: str) -> MediaKind:
    """How a stored file is sent, by its content type (anything else: a document)."""
    major = content_type.split("/", 1)[0].lower()
    return {"image": MediaKind.IMAGE, "video": MediaKind.VIDEO,
            "audio": MediaKind.AUDIO}.get(major, MediaKind.DOCUMENT)  # fmt: skip


class CampaignChecks:
    """What a saved campaign must satisfy (see the module's rules): checks the channel,
    template, variables, audience and schedule, and answers them normalised."""

    def __init__(
        self,
        channels: ChannelRepository,
        templates: TemplateRepository,
        segments: SegmentRepository,
        timezone: TenantTimezone,
        clock: Clock,
        files: OutboundFiles,
    ) -> None:
        self._files = files
        self._channels = channels
        self._templates = templates
        self._segments = segments
        self._timezone = timezone
        self._clock = clock

    async def content(
        self,
        channel_id: str,
        template: TemplateRefInput | None,
        message: PlainMessageInput | PlainMessage | None,
        variables: list[VariableInput],
    ) -> Content:
        """The campaign's content checked (see the module's rules) and normalised."""
        channel = await self._channels.get(channel_id)
        if channel is None:
            raise UnknownChannel(
                "No channel of the tenant has this id.", ("body", "channel_id"), "unknown channel"
            )
        if (template is None) == (message is None):
            raise InvalidCampaignContent(
                "Give either a `template` (WhatsApp) or a plain `message` (Telegram), not "
                + ("both." if template else "neither."),
                ("body",),
                "exactly one of template and message",
            )
        if template is not None:
            return await self._template_content(channel, template, variables)
        assert message is not None  # noqa: S101 - one of them, checked above
        return await self._message_content(channel, message, variables)

    async def _template_content(
        self, channel: Channel, template: TemplateRefInput, variables: list[VariableInput]
    ) -> Content:
        if not supports_templates(channel.type):
            raise TemplatesNotSupported(
                f"A {channel.type.value} channel has no templates: send a plain `message`.",
                ("body", "template"),
                "no templates on this channel",
            )
        stored = await self._templates.find(channel.id or "", template.name, template.language)
        why = None
        if stored is None:
            why = "not found on the channel"
        elif stored.status != APPROVED:
            why = f"status {stored.status}, not {APPROVED}"
        elif not template_usable(stored):
            why = "switched off"
        if stored is None or why is not None:
            raise TemplateNotUsable(
                f"The template {template.name} ({template.language}) cannot be sent: {why}.",
                ("body", "template"),
                why or "not usable",
            )
        keys = [v.key for v in stored.variables]
        return Content(
            template=TemplateRef(name=stored.name, language=stored.language),
            variables=mapped_variables(keys, variables),
        )

    async def _message_content(
        self,
        channel: Channel,
        given: PlainMessageInput | PlainMessage,
        variables: list[VariableInput],
    ) -> Content:
        loc: tuple[str | int, ...] = ("body", "message")
        if channel.type is ChannelType.WHATSAPP:
            raise TemplateRequired(
                "WhatsApp allows only approved templates outside the 24-hour customer "
                "service window: a WhatsApp campaign needs a `template`.",
                loc,
                "a template is required on WhatsApp",
            )
        if channel.type is not ChannelType.TELEGRAM:
            raise CampaignsNotSupported(
                f"Campaigns cannot go to {channel.type.value}: Meta allows no promotional "
                "message outside the 24-hour window, and a broadcast reaches customers "
                "outside it. Answer them from the inbox instead.",
                ("body", "channel_id"),
                "no campaigns on this channel",
            )
        text = given.text.strip()
        button = UrlButton(**given.button.model_dump()) if given.button else None
        message = PlainMessage(text=text, button=button)
        if given.file_id is not None and button is not None:
            raise InvalidCampaignContent(
                "A button goes with a text message, not with a file.", (*loc, "button"),
                "a button with a file",
            )  # fmt: skip
        if given.file_id is not None:
            media = await self._files.describe(given.file_id)
            if media is None:
                raise UnknownFile(
                    "No stored file of the tenant has this id.", (*loc, "file_id"),
                    "unknown file",
                )  # fmt: skip
            message = PlainMessage(
                text=text, file_id=media.file_id, filename=media.filename,
                media_kind=media_kind_of(media.content_type).value,
            )  # fmt: skip
            if len(text) > MAX_CAPTION:
                raise InvalidCampaignContent(
                    f"With a file the text is its caption: at most {MAX_CAPTION} characters.",
                    (*loc, "text"),
                    f"at most {MAX_CAPTION} characters with a file",
                )
        elif not text:
            raise InvalidCampaignContent(
                "A plain message needs a text (or a file).", (*loc, "text"), "empty text"
            )
        keys = placeholders(text)
        if keys != [str(n) for n in range(1, len(keys) + 1)]:
            raise InvalidCampaignContent(
                "Number the placeholders {{1}}, {{2}}... from 1 without gaps.",
                (*loc, "text"),
                f"placeholders {', '.join(keys)}",
            )
        return Content(message=message, variables=mapped_variables(keys, variables))

    async def audience(self, given: AudienceInput) -> Audience:
        loc: tuple[str | int, ...] = ("body", "audience")
        audience = Audience(
            segment_ids=list(dict.fromkeys(given.segment_ids)),
            tags_any=normalised_tags(given.tags_any, (*loc, "tags_any")),
            contact_ids=list(dict.fromkeys(given.contact_ids)),
            all=given.all,
        )
        if audience.empty:
            raise InvalidAudience(
                "Name segments, tags, contacts, or all contacts.", loc, "an empty audience"
            )
        for index, segment_id in enumerate(audience.segment_ids):
            if await self._segments.get(segment_id) is None:
                raise UnknownSegment(
                    "No segment of the tenant has this id.",
                    (*loc, "segment_ids", index),
                    "unknown segment",
                )
        return audience

    async def schedule(self, given: ScheduleInput | Schedule) -> Schedule:
        schedule = Schedule(**given.model_dump())
        return checked_schedule(schedule, await self._timezone.current(), self._clock.now())

    def now(self) -> datetime:
        return stored_time(self._clock.now())


async def existing_campaign(campaigns: CampaignRepository, campaign_id: str) -> Campaign:
    found = await campaigns.get(campaign_id)
    if found is None:
        raise NotFound(CAMPAIGN_NOT_FOUND)
    return found


def _audited(campaign: Campaign) -> dict[str, Any]:
    return campaign.model_dump(
        mode="json",
        include={"name", "channel_id", "template", "message", "variables", "audience",
                 "schedule", "messages_per_second"},
    )  # fmt: skip


class CreateCampaign:
    """A new `draft` campaign, owned by its creator (who gets the results emails)."""

    def __init__(
        self, campaigns: CampaignRepository, checks: CampaignChecks, auditor: Auditor
    ) -> None:
        self._campaigns = campaigns
        self._checks = checks
        self._auditor = auditor

    async def execute(self, principal: Principal, given: CampaignInput) -> Campaign:
        require_permission(principal, Permission.CAMPAIGNS_MANAGE)
        content = await self._checks.content(
            given.channel_id, given.template, given.message, given.variables
        )
        audience = await self._checks.audience(given.audience)
        schedule = await self._checks.schedule(given.schedule) if given.schedule else None
        now = self._checks.now()
        campaign = await self._campaigns.add(
            Campaign(
                name=given.name, channel_id=given.channel_id, template=content.template,
                message=content.message, variables=content.variables, audience=audience,
                schedule=schedule,
                messages_per_second=given.messages_per_second, owner_id=principal.user_id,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await self._auditor.record(
            "campaign.created", "campaign", campaign.id, actor_id=principal.user_id,
            changes=audit_extra(principal, _audited(campaign)),
        )  # fmt: skip
        return campaign


class GetCampaign:
    def __init__(self, campaigns: CampaignRepository) -> None:
        self._campaigns = campaigns

    async def execute(self, principal: Principal, campaign_id: str) -> Campaign:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        return await existing_campaign(self._campaigns, campaign_id)


class ListCampaigns:
    def __init__(self, campaigns: CampaignRepository) -> None:
        self._campaigns = campaigns

    async def execute(
        self,
        principal: Principal,
        *,
        status: CampaignStatus | None,
        cursor: str | None,
        limit: int,
    ) -> CampaignPage:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        return await self._campaigns.page(status=status, cursor=cursor, limit=bounded(limit))


class UpdateCampaign:
    """Change a `draft` or `scheduled` campaign (409 otherwise). The whole campaign is
    checked again; a scheduled one keeps a schedule that can run (`at` or `recurring`) and
    its next run moves with it."""

    def __init__(
        self, campaigns: CampaignRepository, checks: CampaignChecks, auditor: Auditor
    ) -> None:
        self._campaigns = campaigns
        self._checks = checks
        self._auditor = auditor

    async def execute(
        self, principal: Principal, campaign_id: str, changes: CampaignChanges
    ) -> Campaign:
        require_permission(principal, Permission.CAMPAIGNS_MANAGE)
        before = await existing_campaign(self._campaigns, campaign_id)
        ensure_editable(before.status)
        sent = changes.model_fields_set
        fields: dict[str, object] = {}
        if changes.name is not None:
            fields["name"] = changes.name
        if changes.messages_per_second is not None:
            fields["messages_per_second"] = changes.messages_per_second
        if sent & {"channel_id", "template", "message", "variables"}:
            channel_id = changes.channel_id or before.channel_id
            template, message = _content_after(before, changes)
            given = changes.variables
            if given is None:  # the stored mapping, checked against the (new) content
                given = [VariableInput(**v.model_dump()) for v in before.variables]
            content = await self._checks.content(channel_id, template, message, given)
            fields.update(channel_id=channel_id, template=content.template,
                          message=content.message, variables=content.variables)  # fmt: skip
        if changes.audience is not None:
            fields["audience"] = await self._checks.audience(changes.audience)
        if "schedule" in sent:
            schedule = await self._checks.schedule(changes.schedule) if changes.schedule else None
            if before.status is CampaignStatus.SCHEDULED:
                upcoming = next_run_at(schedule, self._checks.now())
                if upcoming is None:
                    raise InvalidSchedule(
                        "A scheduled campaign needs an `at` or `recurring` schedule.",
                        ("body", "schedule"),
                        "cannot be scheduled",
                    )
                fields["next_run_at"] = upcoming
            fields["schedule"] = schedule
        if not fields:
            return before
        after = await self._campaigns.update(campaign_id, fields, statuses=EDITABLE)
        if after is None:  # deleted, or started meanwhile
            now = await existing_campaign(self._campaigns, campaign_id)
            ensure_editable(now.status)
            raise CampaignStateConflict("The campaign changed meanwhile; try again.")
        changed = diff(_audited(before), _audited(after))
        if changed:
            await self._auditor.record(
                "campaign.updated", "campaign", campaign_id, actor_id=principal.user_id,
                changes=audit_extra(principal, changed),
            )  # fmt: skip
        return after


def _content_after(
    before: Campaign, changes: CampaignChanges
) -> tuple[TemplateRefInput | None, PlainMessageInput | PlainMessage | None]:
    """The template and message a change leaves: what it sends (a new template replaces
    the message, and the other way round; both at once are refused by the checks), else
    the stored ones."""
    if changes.template is not None or changes.message is not None:
        return changes.template, changes.message
    template = TemplateRefInput(**before.template.model_dump()) if before.template else None
    return template, before.message


class DeleteCampaign:
    """Delete a campaign that is not running or paused (cancel it first: 409)."""

    def __init__(self, campaigns: CampaignRepository, auditor: Auditor) -> None:
        self._campaigns = campaigns
        self._auditor = auditor

    async def execute(self, principal: Principal, campaign_id: str) -> None:
        require_permission(principal, Permission.CAMPAIGNS_MANAGE)
        campaign = await existing_campaign(self._campaigns, campaign_id)
        if not await self._campaigns.delete(campaign_id, statuses=DELETABLE):
            now = await existing_campaign(self._campaigns, campaign_id)
            raise CampaignStateConflict(
                f"A {now.status.value} campaign cannot be deleted; cancel it first."
            )
        await self._auditor.record(
            "campaign.deleted", "campaign", campaign_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": campaign.name}),
        )  # fmt: skip
